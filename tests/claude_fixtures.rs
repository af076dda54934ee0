//! The Claude Code adapter against real CLI transcripts.
//!
//! Every fixture in `tests/fixtures/claude/` (byte-exact stdout of claude
//! 2.1.197, copied from `shared/transcripts/claude`, see the README there) is
//! fed line by line through `ClaudeParser`, the way the runtime does it, and
//! the events are snapshotted. On top of that, explicit checks of what a user
//! would notice, and of the stdio control protocol in both directions.

use std::fs;
use std::path::{Path, PathBuf};

use corral::agent::claude::{self, Claude, ClaudeParser, INITIALIZE_REQUEST};
use corral::agent::{AgentOptions, Answer, LiveProtocol, OutputParser, StdinMode};
use corral::core::event::{AgentEvent, Question, QuestionKind};
use serde::Serialize;
use serde_json::{Value, json};

const TEXT_ANSWER: &str = "Hello from the loopback mock model. This answer was streamed in several chunks so the parser sees deltas.";

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude")
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Splits output bytes the way the runtime does: on `\n`, trailing `\r`
/// stripped, invalid UTF-8 replaced, the final unterminated chunk included.
fn split_lines(bytes: &[u8]) -> Vec<String> {
    let mut chunks: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if chunks.last().is_some_and(|c| c.is_empty()) {
        chunks.pop();
    }
    chunks
        .into_iter()
        .map(|c| {
            let c = c.strip_suffix(b"\r").unwrap_or(c);
            String::from_utf8_lossy(c).into_owned()
        })
        .collect()
}

fn parse_lines<S: AsRef<str>>(lines: &[S]) -> Vec<AgentEvent> {
    let mut parser = ClaudeParser::default();
    lines
        .iter()
        .flat_map(|l| parser.parse_line(l.as_ref()))
        .collect()
}

/// One recorded line of a `*.session.jsonl`: what the client wrote to
/// claude's stdin, or what claude printed on stdout.
enum SessionLine {
    Stdin(Value),
    Stdout(String),
}

fn read_session(name: &str) -> Vec<SessionLine> {
    split_lines(&read_fixture(name))
        .iter()
        .map(|l| {
            let entry: Value = serde_json::from_str(l).expect("session lines are JSON");
            let line = entry["line"].clone();
            match entry["dir"].as_str() {
                Some("stdin") => SessionLine::Stdin(line),
                Some("stdout") => SessionLine::Stdout(line.to_string()),
                other => panic!("unexpected dir {other:?} in {name}"),
            }
        })
        .collect()
}

/// What the parser made of a session, with the client's lines in between.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum SessionStep {
    Sent(Value),
    Got(Vec<AgentEvent>),
}

fn session_steps(name: &str) -> Vec<SessionStep> {
    let mut parser = ClaudeParser::default();
    let mut steps = Vec::new();
    for line in read_session(name) {
        match line {
            SessionLine::Stdin(v) => steps.push(SessionStep::Sent(v)),
            SessionLine::Stdout(l) => {
                let events = parser.parse_line(&l);
                if !events.is_empty() {
                    steps.push(SessionStep::Got(events));
                }
            }
        }
    }
    steps
}

fn session_stdout_events(name: &str) -> Vec<AgentEvent> {
    let lines: Vec<String> = read_session(name)
        .into_iter()
        .filter_map(|l| match l {
            SessionLine::Stdout(s) => Some(s),
            SessionLine::Stdin(_) => None,
        })
        .collect();
    parse_lines(&lines)
}

fn events(name: &str) -> Vec<AgentEvent> {
    parse_lines(&split_lines(&read_fixture(name)))
}

fn all_fixtures() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    names
}

fn texts(events: &[AgentEvent]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Text { text, delta } => Some((text.clone(), *delta)),
            _ => None,
        })
        .collect()
}

fn turn_ends(events: &[AgentEvent]) -> Vec<&AgentEvent> {
    events
        .iter()
        .filter(|e| matches!(e, AgentEvent::TurnEnd { .. }))
        .collect()
}

fn costs(events: &[AgentEvent]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage(u) => u.cost_usd,
            _ => None,
        })
        .collect()
}

#[test]
fn every_fixture_matches_its_snapshot() {
    let names = all_fixtures();
    assert!(names.len() >= 23, "fixtures missing: {names:?}");
    for name in names {
        let snapshot = name.trim_end_matches(".jsonl").replace('.', "_");
        if name.ends_with(".session.jsonl") {
            insta::assert_json_snapshot!(snapshot, session_steps(&name));
        } else {
            insta::assert_json_snapshot!(snapshot, events(&name));
        }
    }
}

#[test]
fn no_fixture_yields_raw_output_and_every_run_ends_a_turn() {
    for name in all_fixtures() {
        let events = if name.ends_with(".session.jsonl") {
            session_stdout_events(&name)
        } else {
            events(&name)
        };
        assert!(
            !events.iter().any(|e| matches!(e, AgentEvent::Raw { .. })),
            "{name}: claude's own lines must all be understood: {events:#?}"
        );
        assert!(
            matches!(events.last(), Some(AgentEvent::TurnEnd { .. })),
            "{name}: last event {:?}",
            events.last()
        );
    }
}

#[test]
fn text_gives_the_answer_exactly_once() {
    let events = events("text.jsonl");
    assert!(matches!(
        &events[0],
        AgentEvent::Session { session_id, agent, model, .. }
            if session_id == "65da5536-843f-4f34-b1ea-1e00ccd459f4"
                && agent == "claude"
                && model.as_deref() == Some("claude-opus-4-8[1m]")
    ));
    assert_eq!(texts(&events), [(TEXT_ANSWER.to_string(), false)]);
    let ends = turn_ends(&events);
    assert_eq!(ends.len(), 1);
    assert!(matches!(
        ends[0],
        AgentEvent::TurnEnd { is_error: false, result: Some(r), num_turns: Some(1), .. }
            if r == TEXT_ANSWER
    ));
    let usage = events.iter().find_map(|e| match e {
        AgentEvent::Usage(u) => Some(u),
        _ => None,
    });
    let usage = usage.expect("a usage event");
    assert_eq!((usage.input_tokens, usage.output_tokens), (42, 17));
    assert_eq!(usage.cost_usd, Some(0.0006349999999999999));
}

#[test]
fn text_under_a_pty_gives_the_same_events_and_no_escape_bytes() {
    let bytes = read_fixture("text_pty.jsonl");
    // The fixture really has what makes it hard.
    assert!(bytes.windows(2).any(|w| w == b"\r\n"));
    assert!(!bytes.ends_with(b"\n") && bytes.contains(&0x1b));

    let normalize = |events: Vec<AgentEvent>| -> Vec<AgentEvent> {
        events
            .into_iter()
            .map(|e| match e {
                AgentEvent::Session {
                    model, cwd, agent, ..
                } => AgentEvent::Session {
                    session_id: "<id>".to_string(),
                    model,
                    cwd,
                    agent,
                },
                e => e,
            })
            .collect()
    };
    let pty = events("text_pty.jsonl");
    for e in &pty {
        let json = serde_json::to_string(e).unwrap();
        assert!(!json.contains("\\u001b"), "escape byte leaked: {json}");
    }
    assert_eq!(normalize(pty), normalize(events("text.jsonl")));
}

#[test]
fn partial_messages_stream_text_without_repeating_it() {
    let events = events("partial.jsonl");
    let texts = texts(&events);
    assert!(!texts.is_empty());
    assert!(
        texts.iter().all(|(_, delta)| *delta),
        "a full block repeated streamed text: {texts:?}"
    );
    let all: String = texts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        all,
        "Let me run a command.The tool finished. It returned: hi -- done. "
    );
    // The text after the last tool result is the final answer.
    let after_tool = events
        .iter()
        .rposition(|e| matches!(e, AgentEvent::ToolResult { .. }))
        .expect("a tool result");
    let final_text: String = events[after_tool..]
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let Some(AgentEvent::TurnEnd { result, .. }) = events.last() else {
        panic!("no turn end");
    };
    assert_eq!(result.as_deref(), Some(final_text.as_str()));
    // The tool call is reported once, from the full block (not the deltas).
    let calls: Vec<&AgentEvent> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolCall { .. }))
        .collect();
    assert_eq!(calls.len(), 1);
    assert!(matches!(
        calls[0],
        AgentEvent::ToolCall { name, input, .. }
            if name == "Bash" && input["command"] == "echo hi"
    ));
}

#[test]
fn tool_run_shows_the_call_then_its_output() {
    let events = events("tool.jsonl");
    let call = events
        .iter()
        .position(|e| matches!(e, AgentEvent::ToolCall { .. }))
        .expect("a tool call");
    let AgentEvent::ToolCall { id, name, input } = &events[call] else {
        unreachable!()
    };
    assert_eq!(name, "Bash");
    assert_eq!(input["command"], "echo hi");
    assert_eq!(
        events[call + 1],
        AgentEvent::ToolResult {
            id: id.clone(),
            output: "hi".to_string(),
            is_error: false
        }
    );
}

#[test]
fn api_errors_show_each_retry_then_the_error_and_a_failed_turn() {
    let events = events("errors.jsonl");
    // (attempt, max_attempts, status, delay_ms)
    type RetrySummary = (u32, Option<u32>, Option<u16>, Option<u64>);
    let retries: Vec<RetrySummary> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Retry {
                attempt,
                max_attempts,
                status,
                delay_ms,
                ..
            } => Some((*attempt, *max_attempts, *status, *delay_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(retries.len(), 10);
    assert_eq!(
        retries.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=10).collect::<Vec<_>>()
    );
    assert!(retries.iter().all(|r| r.1 == Some(10)));
    assert_eq!(retries[0].2, Some(429));
    assert!(retries[1..].iter().all(|r| r.2 == Some(500)));
    // 1000 ms, then 1246.677... rounded.
    assert_eq!(retries[0].3, Some(1000));
    assert_eq!(retries[1].3, Some(1247));

    let errors: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Error { message } => Some(message.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("API Error: 500"), "{}", errors[0]);
    // The synthetic error text is not the agent's answer.
    assert!(texts(&events).is_empty());
    assert!(matches!(
        events.last(),
        Some(AgentEvent::TurnEnd {
            is_error: true,
            api_error_status: Some(500),
            ..
        })
    ));

    let capped = events_of_kind(&self::events("errors_max_retries_2.jsonl"), "retry");
    assert_eq!(capped, 2);
}

fn events_of_kind(events: &[AgentEvent], kind: &str) -> usize {
    events
        .iter()
        .filter(|e| serde_json::to_value(e).unwrap()["type"] == kind)
        .count()
}

#[test]
fn refused_tools_are_listed_as_denials() {
    for name in [
        "permission_denied.jsonl",
        "permission_prompt_tool_deny.jsonl",
    ] {
        let events = events(name);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, AgentEvent::ToolResult { is_error: true, .. })),
            "{name}"
        );
        let Some(AgentEvent::TurnEnd {
            is_error: false,
            permission_denials,
            ..
        }) = events.last()
        else {
            panic!("{name}: no successful turn end");
        };
        assert_eq!(permission_denials.len(), 1, "{name}");
        assert_eq!(permission_denials[0].tool, "Bash");
        assert_eq!(
            permission_denials[0].input["command"],
            "touch perm_marker.txt && echo created"
        );
    }
    let allowed = events("permission_prompt_tool_allow.jsonl");
    assert!(matches!(
        allowed.last(),
        Some(AgentEvent::TurnEnd { permission_denials, .. }) if permission_denials.is_empty()
    ));
}

#[test]
fn resume_keeps_the_session_id() {
    let id = |name| {
        events(name).into_iter().find_map(|e| match e {
            AgentEvent::Session { session_id, .. } => Some(session_id),
            _ => None,
        })
    };
    let first = id("resume_turn1.jsonl").expect("a session");
    assert_eq!(Some(first), id("resume_turn2.jsonl"));
}

#[test]
fn live_session_cost_increments_add_up_to_the_cumulative_total() {
    let events = session_stdout_events("stdio_two_turns.session.jsonl");
    assert_eq!(turn_ends(&events).len(), 2);
    let costs = costs(&events);
    assert_eq!(costs.len(), 2);
    // claude's total_cost_usd after the second turn is cumulative.
    let total = 0.0025399999999999997;
    let sum: f64 = costs.iter().sum();
    assert!((sum - total).abs() < 1e-12, "{costs:?}");
    // Each turn cost the same here, so no turn is counted twice.
    assert!((costs[0] - costs[1]).abs() < 1e-12, "{costs:?}");
    // Same events from the plain stdout capture of that run.
    assert_eq!(events, self::events("stdio_two_turns.jsonl"));
}

/// The answer the transcript's client gave to each question, in order.
fn client_answers(scenario: &str) -> Vec<Answer> {
    let allow = Answer::Allow {
        updated_input: None,
    };
    match scenario {
        "stdio_permission_allow" => vec![allow],
        "stdio_two_turns" => vec![allow.clone(), allow],
        "stdio_permission_deny" => vec![Answer::Deny {
            message: "The user declined this action from the orchestrator.".to_string(),
        }],
        "stdio_ask_user_question" => vec![Answer::Answer {
            answers: vec![(
                "Which colour should the widget be?".to_string(),
                "Blue".to_string(),
            )],
        }],
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn stdio_control_protocol_round_trips_both_directions() {
    let scenarios = [
        "stdio_permission_allow",
        "stdio_permission_deny",
        "stdio_ask_user_question",
        "stdio_two_turns",
    ];
    for scenario in scenarios {
        let name = format!("{scenario}.session.jsonl");
        let mut answers = client_answers(scenario).into_iter();
        let mut parser = ClaudeParser::default();
        let mut pending: Option<Question> = None;
        let mut sent_user_lines = 0;
        let mut sent_answers = 0;
        let lines = read_session(&name);

        // What the launch spec writes first is what the client wrote first.
        let spec = claude::launch(&AgentOptions::default(), Path::new("."), "please do it");
        let StdinMode::Pipe { initial_lines } = &spec.stdin else {
            panic!("claude needs a stdin pipe");
        };
        let recorded_start: Vec<&Value> = lines
            .iter()
            .take(2)
            .filter_map(|l| match l {
                SessionLine::Stdin(v) => Some(v),
                SessionLine::Stdout(_) => None,
            })
            .collect();
        let ours: Vec<Value> = initial_lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(ours.iter().collect::<Vec<_>>(), recorded_start, "{name}");
        assert_eq!(
            serde_json::from_str::<Value>(INITIALIZE_REQUEST).unwrap(),
            *recorded_start[0]
        );

        for line in &lines {
            match line {
                SessionLine::Stdout(l) => {
                    for event in parser.parse_line(l) {
                        if let AgentEvent::Question(q) = event {
                            assert!(pending.is_none(), "{name}: two open questions");
                            pending = Some(q);
                        }
                    }
                }
                SessionLine::Stdin(recorded) => match recorded["type"].as_str() {
                    Some("control_response") => {
                        let question = pending.take().expect("an answer to a question");
                        let answer = answers.next().expect("the client's answer");
                        let ours: Value =
                            serde_json::from_str(&Claude::encode_answer(&question, &answer))
                                .unwrap();
                        assert_eq!(&ours, recorded, "{name}");
                        sent_answers += 1;
                    }
                    Some("user") => {
                        let text = recorded["message"]["content"].as_str().unwrap();
                        let ours: Value =
                            serde_json::from_str(&Claude::encode_user_message(text)).unwrap();
                        assert_eq!(&ours, recorded, "{name}");
                        sent_user_lines += 1;
                    }
                    Some("control_request") => {
                        assert_eq!(recorded["request"]["subtype"], "initialize")
                    }
                    other => panic!("{name}: unexpected stdin line type {other:?}"),
                },
            }
        }
        assert!(pending.is_none(), "{name}: question left unanswered");
        assert!(
            answers.next().is_none(),
            "{name}: fewer questions than answers"
        );
        assert!(sent_answers >= 1);
        let turns = if scenario == "stdio_two_turns" { 2 } else { 1 };
        assert_eq!(sent_user_lines, turns, "{name}");
    }
}

#[test]
fn stdio_questions_are_approvals_or_questions_with_their_choices() {
    let question = |name: &str| {
        session_stdout_events(name)
            .into_iter()
            .find_map(|e| match e {
                AgentEvent::Question(q) => Some(q),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no question"))
    };
    let approval = question("stdio_permission_allow.session.jsonl");
    assert_eq!(approval.kind, QuestionKind::Approval);
    assert_eq!(approval.tool.as_deref(), Some("Bash"));
    assert_eq!(
        approval.input,
        json!({"command": "touch perm_marker.txt && echo created",
               "description": "Create a marker file"})
    );
    assert_eq!(
        approval.tool_use_id.as_deref(),
        Some("toolu_mock_ed1ea5de03")
    );
    assert!(approval.questions.is_empty());

    let ask = question("stdio_ask_user_question.session.jsonl");
    assert_eq!(ask.kind, QuestionKind::Question);
    assert_eq!(ask.tool.as_deref(), Some("AskUserQuestion"));
    assert_eq!(ask.questions.len(), 1);
    let item = &ask.questions[0];
    assert_eq!(item.question, "Which colour should the widget be?");
    assert_eq!(item.header.as_deref(), Some("Colour"));
    assert!(!item.multi_select);
    let labels: Vec<(&str, Option<&str>)> = item
        .options
        .iter()
        .map(|o| (o.label.as_str(), o.description.as_deref()))
        .collect();
    assert_eq!(
        labels,
        [
            ("Red", Some("A red widget")),
            ("Blue", Some("A blue widget"))
        ]
    );
}

#[test]
fn session_captures_match_the_plain_stdout_captures() {
    for scenario in [
        "stdio_permission_allow",
        "stdio_permission_deny",
        "stdio_ask_user_question",
    ] {
        assert_eq!(
            session_stdout_events(&format!("{scenario}.session.jsonl")),
            events(&format!("{scenario}.jsonl")),
            "{scenario}"
        );
    }
}
