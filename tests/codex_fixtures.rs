//! Real `codex exec --json` transcripts (codex-cli 0.169.0, copied from
//! `shared/transcripts/codex`, see `tests/fixtures/codex/README.md`) through
//! the Codex parser: a snapshot per transcript plus what a user would notice.

use corral::agent::codex::{CodexParser, PATCH_TOOL, SHELL_TOOL};
use corral::agent::codex_app::CodexAppParser;
use corral::core::event::{AgentEvent, Usage};

#[path = "support/fixtures.rs"]
mod fixtures;

use fixtures::{HELLO, Transcripts, assert_plain_answer, texts, turn_end};

const CODEX: Transcripts<CodexParser> = Transcripts {
    dir: "codex",
    agent: "codex",
    parser: CodexParser::default,
};
const APP: Transcripts<CodexAppParser> = Transcripts {
    dir: "codex_app_server",
    agent: "codex",
    parser: CodexAppParser::default,
};

#[test]
fn every_transcript_matches_its_snapshot() {
    let names = CODEX.names(true, 16);
    for name in names {
        let events = CODEX.parse(&name);
        insta::assert_yaml_snapshot!(name.replace('.', "_"), events);
    }
}

#[test]
fn text_answer_is_exact_with_usage() {
    for name in ["text.jsonl", "text_pty.jsonl"] {
        let events = CODEX.parse(name);
        assert!(CODEX.session_id(&events).is_some(), "{name}");
        assert_eq!(texts(&events), HELLO, "{name}");
        assert_eq!(
            turn_end(&events),
            (false, Some(HELLO.to_string())),
            "{name}"
        );
        assert!(
            events.contains(&AgentEvent::Usage(Usage {
                input_tokens: 42,
                output_tokens: 17,
                ..Usage::default()
            })),
            "{name}"
        );
        assert!(
            !events.iter().any(|e| matches!(e, AgentEvent::Raw { .. })),
            "{name}: a \\r\\n line end must not make a line raw"
        );
    }
}

#[test]
fn tool_run_shows_the_command_then_its_output() {
    let events = CODEX.parse("tool.jsonl");
    let call = events
        .iter()
        .position(|e| {
            matches!(e, AgentEvent::ToolCall { name, input, .. }
                if name == SHELL_TOOL
                && input["command"].as_str().is_some_and(|c| c.contains("echo hi")))
        })
        .expect("a shell call running echo hi");
    let AgentEvent::ToolCall { id, .. } = &events[call] else {
        unreachable!()
    };
    let result = events
        .iter()
        .position(|e| matches!(e, AgentEvent::ToolResult { id: rid, .. } if rid == id))
        .expect("its result");
    assert!(result > call, "the result comes after the call");
    assert_eq!(
        events[result],
        AgentEvent::ToolResult {
            id: id.clone(),
            output: "hi\n".into(),
            is_error: false,
        }
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AgentEvent::ToolCall { .. }))
            .count(),
        1,
        "started + completed is one call"
    );
    assert!(events.iter().any(
        |e| matches!(e, AgentEvent::Thinking { text, .. } if text.contains("Planning the step"))
    ));
    let (is_error, result) = turn_end(&events);
    assert!(!is_error);
    assert!(
        result
            .as_deref()
            .is_some_and(|r| r.starts_with("The tool finished.")),
        "the turn's result is its last message: {result:?}"
    );
}

#[test]
fn write_shows_the_file_change() {
    let events = CODEX.parse("write.jsonl");
    let (id, input) = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolCall { id, name, input } if name == PATCH_TOOL => Some((id, input)),
            _ => None,
        })
        .expect("an apply_patch call");
    assert_eq!(
        input["changes"],
        serde_json::json!([{"path": "/home/dev/sandbox/work/hello.txt", "kind": "add"}])
    );
    assert!(events.contains(&AgentEvent::ToolResult {
        id: id.clone(),
        output: "add /home/dev/sandbox/work/hello.txt".into(),
        is_error: false,
    }));
}

#[test]
fn rejected_write_in_the_default_sandbox_has_no_tool_event_but_stderr_shows_why() {
    let events = CODEX.parse("write_default_sandbox.jsonl");
    assert!(!events.iter().any(|e| matches!(
        e,
        AgentEvent::ToolCall { .. } | AgentEvent::ToolResult { .. }
    )));
    assert!(texts(&events).contains("patch rejected"));
    let stderr = CODEX.parse("write_default_sandbox.stderr.txt");
    assert!(stderr.iter().any(
        |e| matches!(e, AgentEvent::Notice { line } if line.contains("blocked by read-only sandbox"))
    ));
}

#[test]
fn errors_are_five_retries_then_one_error_and_a_failed_turn() {
    let events = CODEX.parse("errors.jsonl");
    let retries: Vec<(u32, Option<u32>)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Retry {
                attempt,
                max_attempts,
                ..
            } => Some((*attempt, *max_attempts)),
            _ => None,
        })
        .collect();
    assert_eq!(retries, (1..=5).map(|n| (n, Some(5))).collect::<Vec<_>>());
    assert!(matches!(
        events.iter().find(|e| matches!(e, AgentEvent::Retry { .. })),
        Some(AgentEvent::Retry { status: Some(429), reason, .. }) if reason.contains("429 Too Many Requests")
    ));
    let errors: Vec<&AgentEvent> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::Error { .. }))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(matches!(errors[0], AgentEvent::Error { message } if message.contains("high demand")));
    let last_retry = events
        .iter()
        .rposition(|e| matches!(e, AgentEvent::Retry { .. }))
        .unwrap();
    let error_at = events
        .iter()
        .position(|e| matches!(e, AgentEvent::Error { .. }))
        .unwrap();
    assert!(error_at > last_retry);
    let (is_error, result) = turn_end(&events);
    assert!(is_error);
    assert!(result.is_some_and(|r| r.contains("high demand")));
    assert!(!events.iter().any(|e| matches!(e, AgentEvent::Usage(_))));
}

#[test]
fn resumed_turn_keeps_the_thread_id() {
    let first = CODEX
        .session_id(&CODEX.parse("resume_turn1.jsonl"))
        .expect("turn 1 session");
    let second = CODEX
        .session_id(&CODEX.parse("resume_turn2.jsonl"))
        .expect("turn 2 session");
    assert_eq!(first, "01a1fee7-f502-7a20-abb8-db0173de4cfe");
    assert_eq!(first, second);
    assert!(texts(&CODEX.parse("resume_turn2.jsonl")).contains("6 message(s) of history"));
}

#[test]
fn stderr_lines_are_notices_and_human_output_raw_lines() {
    for name in [
        "text.stderr.txt",
        "text_human.stderr.txt",
        "text_human.jsonl",
        "errors.stderr.txt",
    ] {
        let input = CODEX.lines(name);
        let events = CODEX.parse(name);
        let expected: Vec<AgentEvent> = input
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                if name.ends_with(".stderr.txt") {
                    AgentEvent::Notice { line: l.clone() }
                } else {
                    AgentEvent::Raw { line: l.clone() }
                }
            })
            .collect();
        assert_eq!(events, expected, "{name}");
    }
}

#[test]
fn stderr_between_the_events_does_not_disturb_the_answer() {
    let mut both: Vec<(bool, String)> = CODEX
        .lines("text.stderr.txt")
        .into_iter()
        .map(|l| (true, l))
        .collect();
    both.extend(CODEX.lines("text.jsonl").into_iter().map(|l| (false, l)));
    let events = CODEX.parse_streams(&both);
    assert_eq!(
        events[0],
        AgentEvent::Notice {
            line: "Reading additional input from stdin...".into()
        }
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::Raw { .. } | AgentEvent::Error { .. }))
    );
    assert_eq!(texts(&events), HELLO);
}

#[test]
fn todo_list_becomes_the_plan_each_time_it_changes() {
    let events = CODEX.parse("todo_list.jsonl");
    let plans: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Plan { items, .. } => Some(corral::core::event::plan_progress(items)),
            _ => None,
        })
        .collect();
    // Started, updated twice; the completed item repeats the last update.
    assert_eq!(plans, [(0, 3), (1, 3), (2, 3)]);
}

#[test]
fn mcp_tool_call_names_server_and_tool_and_web_search_its_query() {
    let events = CODEX.parse("mcp.jsonl");
    assert!(
        events.iter().any(|e| matches!(e,
            AgentEvent::McpCall { server, tool, .. } if server == "adder" && tool == "add")),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| matches!(e,
        AgentEvent::ToolResult { output, is_error: false, .. } if output == "5")));
    let events = CODEX.parse("web_search.jsonl");
    let searches: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::WebSearch { query, .. } => Some(query.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(searches, ["rust terminal multiplexer"]);
    // A search has no result of its own to show.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolResult { .. }))
    );
}

// ---------------------------------------------------------------------------
// codex app-server (tests/fixtures/codex_app_server): the app-server parser.
// ---------------------------------------------------------------------------

#[test]
fn every_app_server_transcript_matches_its_snapshot() {
    let names = APP.names(false, 10);
    for name in names {
        let events = APP.parse(&name);
        insta::assert_yaml_snapshot!(format!("app_{}", name.replace('.', "_")), events);
    }
}

#[test]
fn app_server_text_is_a_thread_streamed_text_usage_and_a_successful_turn() {
    let events = APP.parse("text.jsonl");
    let session = CODEX.session_id(&events);
    assert_plain_answer(&events, session, "Hello over app-server.", 42);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::TurnStarted { .. }))
    );
}

#[test]
fn app_server_command_approval_names_the_command_as_the_model_wrote_it() {
    let events = APP.parse("shell_allow.jsonl");
    let q = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Question(q) => Some(q),
            _ => None,
        })
        .expect("an approval");
    assert_eq!(q.tool.as_deref(), Some("shell"));
    assert_eq!(q.input["command"], "touch allowed.marker");
    assert_eq!(q.input["requestId"], 0);
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::ToolResult {
            is_error: false,
            ..
        }
    )));
    let events = APP.parse("shell_deny.jsonl");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::ToolResult { is_error: true, output, .. } if output == "declined"))
    );
}

#[test]
fn app_server_file_change_approval_names_the_files() {
    let events = APP.parse("write.jsonl");
    let q = events
        .iter()
        .find_map(|e| match e {
            AgentEvent::Question(q) => Some(q),
            _ => None,
        })
        .expect("an approval");
    assert_eq!(q.tool.as_deref(), Some("apply_patch"));
    assert_eq!(
        q.input["changes"][0]["path"],
        "/home/dev/sandbox/work/notes.txt"
    );
    assert_eq!(q.input["kind"], "edit");
}

#[test]
fn app_server_errors_retry_then_fail_and_an_interrupt_fails_the_turn() {
    let events = APP.parse("errors.jsonl");
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::Retry {
            status: Some(429),
            ..
        }
    )));
    assert!(turn_end(&events).0);
    let events = APP.parse("interrupt.jsonl");
    assert_eq!(
        turn_end(&events),
        (true, Some("the turn was interrupted".to_string()))
    );
}

#[test]
fn app_server_plan_updates_are_the_plan_with_the_step_in_progress() {
    use corral::core::event::PlanStatus;
    let events = APP.parse("todo_list.jsonl");
    let plans: Vec<((usize, usize), Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Plan { items, .. } => Some((
                corral::core::event::plan_progress(items),
                items
                    .iter()
                    .find(|i| i.status == PlanStatus::InProgress)
                    .map(|i| i.text.clone()),
            )),
            _ => None,
        })
        .collect();
    // codex 0.169.0 says `inProgress`.
    assert_eq!(
        plans,
        [
            ((0, 3), Some("Read the code".to_string())),
            ((1, 3), Some("Write the fix".to_string())),
            ((2, 3), Some("Run the tests".to_string())),
        ]
    );
}

#[test]
fn app_server_web_search_names_its_query_once() {
    let events = APP.parse("web_search.jsonl");
    let searches: Vec<&AgentEvent> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::WebSearch { .. }))
        .collect();
    assert_eq!(
        searches,
        [&AgentEvent::WebSearch {
            id: "ws_mock_1".into(),
            query: "rust terminal multiplexer".into()
        }]
    );
    assert_eq!(texts(&events), "Zellij and tmux came up.");
}

#[test]
fn app_server_mcp_call_names_server_and_tool_as_exec_does_and_its_approval_the_tool() {
    // Without approvals (`never`): the same canonical events as exec's.
    let app: Vec<AgentEvent> = APP
        .parse("mcp.jsonl")
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                AgentEvent::McpCall { .. } | AgentEvent::ToolResult { .. }
            )
        })
        .collect();
    let exec: Vec<AgentEvent> = CODEX
        .parse("mcp.jsonl")
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                AgentEvent::McpCall { .. } | AgentEvent::ToolResult { .. }
            )
        })
        .collect();
    let shape = |events: &[AgentEvent]| -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                AgentEvent::McpCall {
                    server,
                    tool,
                    input,
                    ..
                } => format!("call {server} {tool} {input}"),
                AgentEvent::ToolResult {
                    output, is_error, ..
                } => format!("result {output} {is_error}"),
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(
        shape(&app),
        ["call adder add {\"a\":2,\"b\":3}", "result 5 false"]
    );
    assert_eq!(shape(&app), shape(&exec));

    // Under `untrusted` codex asks first: an approval of `mcp__adder__add`
    // tied to the started call, with the tool's arguments.
    for (name, result) in [
        ("mcp_allow.jsonl", ("5", false)),
        ("mcp_deny.jsonl", ("user rejected MCP tool call", true)),
    ] {
        let events = APP.parse(name);
        let call = events
            .iter()
            .find_map(|e| match e {
                AgentEvent::McpCall { id, .. } => Some(id.clone()),
                _ => None,
            })
            .expect("the MCP call");
        let q = events
            .iter()
            .find_map(|e| match e {
                AgentEvent::Question(q) => Some(q),
                _ => None,
            })
            .expect("an approval");
        assert_eq!(q.tool.as_deref(), Some("mcp__adder__add"), "{name}");
        assert_eq!(q.tool_use_id.as_deref(), Some(call.as_str()), "{name}");
        assert_eq!(q.input, serde_json::json!({"a": 2, "b": 3}), "{name}");
        assert!(
            events.iter().any(|e| matches!(e,
                AgentEvent::ToolResult { id, output, is_error }
                    if *id == call && output == result.0 && *is_error == result.1)),
            "{name}: {events:#?}"
        );
    }

    // The tool's own error (`isError`) fails the call with its text.
    let events = APP.parse("mcp_tool_error.jsonl");
    assert!(events.iter().any(|e| matches!(e,
        AgentEvent::ToolResult { output, is_error: true, .. } if output == "a and b must be numbers")));
}

#[test]
fn app_server_thinking_and_text_show_once_whether_streamed_or_sent_whole() {
    let thinking = |events: &[AgentEvent]| -> String {
        events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Thinking { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    };
    let want = "**Weighing the options**\n\nThe user wants one word.";
    for name in ["thinking.jsonl", "thinking_whole.jsonl"] {
        let events = APP.parse(name);
        assert_eq!(thinking(&events), want, "{name}");
        assert_eq!(texts(&events), "Ready.", "{name}");
    }
    let events = APP.parse("text_whole.jsonl");
    assert_eq!(texts(&events), "Whole at once.");
    assert_eq!(
        turn_end(&events),
        (false, Some("Whole at once.".to_string()))
    );
}

#[test]
fn app_server_an_mcp_server_that_fails_to_start_is_an_error_naming_it() {
    let errors: Vec<String> = APP
        .parse("mcp_startup_failed.jsonl")
        .into_iter()
        .filter_map(|e| match e {
            AgentEvent::Error { message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("`broken` failed to start") && errors[0].contains("No such file"),
        "{errors:?}"
    );
    // A server that starts says nothing.
    assert!(
        !APP.parse("mcp.jsonl")
            .iter()
            .any(|e| matches!(e, AgentEvent::Error { .. }))
    );
}
