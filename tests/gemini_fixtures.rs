//! Real `gemini --output-format stream-json` transcripts (gemini-cli 0.61.0,
//! copied from `shared/transcripts/gemini`, see
//! `tests/fixtures/gemini/README.md`) through the Gemini parser: a snapshot
//! per transcript plus what a user would notice.

use corral::agent::acp::AcpParser;
use corral::agent::gemini::GeminiParser;
use corral::core::event::{AgentEvent, Usage};

#[path = "support/fixtures.rs"]
mod fixtures;

use fixtures::{HELLO, Transcripts, assert_plain_answer, texts, turn_end};

const GEMINI: Transcripts<GeminiParser> = Transcripts {
    dir: "gemini",
    agent: "gemini",
    parser: GeminiParser::default,
};
const ACP: Transcripts<AcpParser> = Transcripts {
    dir: "gemini_acp",
    agent: "gemini",
    parser: gemini_acp_parser,
};

fn gemini_acp_parser() -> AcpParser {
    AcpParser::new("gemini")
}

/// stdout and stderr of the `errors` run in the order they were written
/// (`true`: stderr): the early warnings, the first stdout lines, every
/// retry on stderr, then the final `result`.
fn errors_merged() -> Vec<(bool, String)> {
    let out: Vec<(bool, String)> = GEMINI
        .lines("errors.jsonl")
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| (false, l))
        .collect();
    let err: Vec<(bool, String)> = GEMINI
        .lines("errors.stderr.txt")
        .into_iter()
        .map(|l| (true, l))
        .collect();
    assert_eq!(out.len(), 3, "init, user message, result");
    let mut merged = err[..3].to_vec();
    merged.extend(out[..2].iter().cloned());
    merged.extend(err[3..].iter().cloned());
    merged.push(out[2].clone());
    merged
}

fn parse_merged() -> Vec<AgentEvent> {
    GEMINI.parse_streams(&errors_merged())
}

#[test]
fn every_transcript_matches_its_snapshot() {
    let names = GEMINI.names(true, 19);
    for name in names {
        let events = GEMINI.parse(&name);
        insta::assert_yaml_snapshot!(name.replace('.', "_"), events);
    }
    insta::assert_yaml_snapshot!("errors_merged", parse_merged());
}

#[test]
fn streamed_deltas_concatenate_to_the_answer_and_the_prompt_is_not_text() {
    for name in ["text.jsonl", "text_pty.jsonl"] {
        let events = GEMINI.parse(name);
        assert!(GEMINI.session_id(&events).is_some(), "{name}");
        assert!(
            events
                .iter()
                .filter(|e| matches!(e, AgentEvent::Text { .. }))
                .all(|e| matches!(e, AgentEvent::Text { delta: true, .. })),
            "{name}"
        );
        let text = texts(&events);
        assert_eq!(text, HELLO, "{name}");
        assert!(!text.contains("Say hello in a few words."), "{name}");
        assert_eq!(
            turn_end(&events),
            (false, Some(HELLO.to_string())),
            "{name}"
        );
        assert!(
            events.contains(&AgentEvent::Usage(Usage {
                input_tokens: 84,
                output_tokens: 34,
                ..Usage::default()
            })),
            "{name}"
        );
    }
}

#[test]
fn pty_warnings_are_raw_lines_before_the_session() {
    let events = GEMINI.parse("text_pty.jsonl");
    assert!(
        matches!(&events[0], AgentEvent::Raw { line } if line.starts_with("Warning: True color"))
    );
    assert!(
        matches!(&events[1], AgentEvent::Raw { line } if line.starts_with("Ripgrep is not available"))
    );
    assert!(matches!(&events[2], AgentEvent::Session { model: Some(m), .. } if m == "auto"));
}

#[test]
fn tool_run_shows_the_command_then_its_output() {
    let events = GEMINI.parse("tool.jsonl");
    let id = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolCall { id, name, input }
                if name == "run_shell_command" && input["command"] == "echo hi" =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .expect("a run_shell_command call for echo hi");
    assert!(events.contains(&AgentEvent::ToolResult {
        id,
        output: "hi".into(),
        is_error: false,
    }));
    let (is_error, result) = turn_end(&events);
    assert!(!is_error);
    assert!(
        result
            .as_deref()
            .is_some_and(|r| r.starts_with("The tool finished.") && r.ends_with("done.")),
        "the result is the answer after the tool: {result:?}"
    );
}

#[test]
fn tool_not_offered_without_yolo_is_a_failed_result() {
    let events = GEMINI.parse("tool_not_yolo.jsonl");
    let result = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolResult {
                output, is_error, ..
            } => Some((output.clone(), *is_error)),
            _ => None,
        })
        .expect("a tool result");
    assert!(result.1, "is_error");
    assert!(result.0.contains("tool_not_registered"), "{}", result.0);
    assert!(
        result.0.contains("\"run_shell_command\" not found"),
        "{}",
        result.0
    );
    // The turn itself succeeded: the model carried on.
    assert!(!turn_end(&events).0);
}

#[test]
fn write_shows_the_file_and_its_success() {
    let events = GEMINI.parse("write.jsonl");
    let id = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolCall { id, name, input }
                if name == "write_file" && input["file_path"] == "hello.txt" =>
            {
                Some(id.clone())
            }
            _ => None,
        })
        .expect("a write_file call");
    assert!(events.contains(&AgentEvent::ToolResult {
        id,
        output: String::new(),
        is_error: false,
    }));
}

#[test]
fn resumed_turns_keep_the_session_id() {
    let ids: Vec<String> = [
        "resume_turn1.jsonl",
        "resume_turn2.jsonl",
        "resume_turn3_latest.jsonl",
    ]
    .iter()
    .map(|n| GEMINI.session_id(&GEMINI.parse(n)).expect("session"))
    .collect();
    assert_eq!(ids[0], "25537b3f-9333-4e68-b665-e11ec6141d73");
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert!(texts(&GEMINI.parse("resume_turn2.jsonl")).contains("3 message(s) of history"));
}

#[test]
fn errors_on_stdout_alone_give_an_error_and_a_failed_turn() {
    let events = GEMINI.parse("errors.jsonl");
    assert!(events.iter().any(
        |e| matches!(e, AgentEvent::Error { message } if message.contains("mock 500 (call 15)"))
    ));
    let end = events
        .iter()
        .find(|e| matches!(e, AgentEvent::TurnEnd { .. }))
        .expect("turn end");
    assert!(matches!(
        end,
        AgentEvent::TurnEnd {
            is_error: true,
            api_error_status: Some(500),
            ..
        }
    ));
    assert!(texts(&events).is_empty(), "the echoed prompt is not text");
}

#[test]
fn errors_merged_with_stderr_show_every_retry_then_fail() {
    let events = parse_merged();
    let retries: Vec<(u32, Option<u16>)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Retry {
                attempt, status, ..
            } => Some((*attempt, *status)),
            _ => None,
        })
        .collect();
    // The router call: 429 then 500s, four retries before it gives up at 5;
    // then the main call: nine retries before it gives up at 10.
    let mut expected = vec![
        (1, Some(429)),
        (2, Some(500)),
        (3, Some(500)),
        (4, Some(500)),
    ];
    expected.extend((1..=9).map(|n| (n, Some(500))));
    assert_eq!(retries, expected);
    assert!(matches!(
        events.iter().find(|e| matches!(e, AgentEvent::Retry { .. })),
        Some(AgentEvent::Retry { reason, .. }) if reason == "mock 429 (call 1)"
    ));
    let last_retry = events
        .iter()
        .rposition(|e| matches!(e, AgentEvent::Retry { .. }))
        .unwrap();
    let end = events
        .iter()
        .position(|e| matches!(e, AgentEvent::TurnEnd { is_error: true, .. }))
        .expect("a failed turn end");
    assert!(end > last_retry);
    assert!(
        events.iter().any(
            |e| matches!(e, AgentEvent::Notice { line } if line.contains("Max attempts reached"))
        ),
        "the giving-up lines stay visible"
    );
}

#[test]
fn stderr_of_good_runs_is_notices() {
    for name in [
        "text.stderr.txt",
        "tool.stderr.txt",
        "tool_not_yolo.stderr.txt",
        "write.stderr.txt",
    ] {
        let input = GEMINI.lines(name);
        let events = GEMINI.parse(name);
        let expected: Vec<AgentEvent> = input
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| AgentEvent::Notice { line: l.clone() })
            .collect();
        assert_eq!(events, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------
// gemini --acp (tests/fixtures/gemini_acp): the ACP parser.
// ---------------------------------------------------------------------------

#[test]
fn every_acp_transcript_matches_its_snapshot() {
    let names = ACP.names(false, 10);
    for name in names {
        let events = ACP.parse(&name);
        insta::assert_yaml_snapshot!(format!("acp_{}", name.replace('.', "_")), events);
    }
}

#[test]
fn acp_text_is_a_session_streamed_text_usage_and_a_successful_turn() {
    let events = ACP.parse("text.jsonl");
    let session = GEMINI.session_id(&events);
    assert_plain_answer(&events, session, "Hello from the mock over ACP.", 42);
}

#[test]
fn acp_shell_approval_is_announced_asked_and_then_completed() {
    let events = ACP.parse("shell_allow.jsonl");
    let call = events
        .iter()
        .position(
            |e| matches!(e, AgentEvent::ToolCall { name, input, .. } if name == "run_shell_command" && input["command"] == "touch allowed.marker"),
        )
        .expect("the tool call");
    let AgentEvent::Question(q) = &events[call + 1] else {
        panic!("the approval follows the call: {events:#?}");
    };
    assert_eq!(q.input["command"], "touch allowed.marker");
    assert_eq!(q.input["options"].as_array().map(Vec::len), Some(3));
    assert!(events[call..].iter().any(|e| matches!(
        e,
        AgentEvent::ToolResult {
            is_error: false,
            ..
        }
    )));
    assert!(!turn_end(&events).0);
}

#[test]
fn acp_api_errors_and_cancel_fail_the_turn() {
    let events = ACP.parse("errors.jsonl");
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::TurnEnd {
            is_error: true,
            api_error_status: Some(500),
            ..
        }
    )));
    let events = ACP.parse("cancel.jsonl");
    assert_eq!(
        turn_end(&events),
        (true, Some("the turn ended: cancelled".to_string()))
    );
}

#[test]
fn acp_two_turns_are_two_turn_ends_in_one_session() {
    let events = ACP.parse("two_turns.jsonl");
    let ends = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                AgentEvent::TurnEnd {
                    is_error: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(ends, 2);
    assert_eq!(texts(&events), "First answer.Second answer.");
}

#[test]
fn acp_stderr_is_notices_with_the_retries_as_retry_events() {
    let events = ACP.parse("errors.stderr.txt");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Retry { attempt: 1, .. })),
        "{events:#?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, AgentEvent::Notice { line } if line.starts_with("Ripgrep is not available"))
    ));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::Raw { .. } | AgentEvent::Error { .. })),
        "{events:#?}"
    );
}
