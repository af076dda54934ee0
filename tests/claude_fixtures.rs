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
    assert!(names.len() >= 30, "fixtures missing: {names:?}");
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

// ---------------------------------------------------------------------------
// Subagents, plans, thinking, MCP and web tools (issue 14 transcripts).
// ---------------------------------------------------------------------------

/// The id of the first call of tool `name`.
fn call_id(events: &[AgentEvent], name: &str) -> String {
    events
        .iter()
        .find_map(|e| match e {
            AgentEvent::ToolCall { id, name: n, .. } if n == name => Some(id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {name} call in {events:#?}"))
}

#[test]
fn subagent_work_is_nested_under_its_task_call_never_flat() {
    let events = events("subagent.jsonl");
    let task = call_id(&events, "Task");
    // The subagent's Bash call and its result come wrapped, naming the Task.
    let nested: Vec<&AgentEvent> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Subagent {
                parent_tool_id,
                event,
            } => {
                assert_eq!(parent_tool_id, &task);
                Some(event.as_ref())
            }
            _ => None,
        })
        .collect();
    assert!(
        matches!(nested.as_slice(),
            [AgentEvent::ToolCall { name, input, .. }, AgentEvent::ToolResult { output, .. }]
            if name == "Bash" && input["command"] == "echo from-subagent" && output == "from-subagent"),
        "{nested:#?}"
    );
    // Nothing of the subagent's leaks out flat.
    assert!(!events.iter().any(|e| matches!(e,
        AgentEvent::ToolCall { name, .. } if name == "Bash")));
    // Its lifecycle: started, running on Bash, completed; all under the Task.
    let states: Vec<(String, Option<String>)> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::SubagentStatus(s) => {
                assert_eq!(s.parent_tool_id, task);
                Some((s.state.clone(), s.last_tool.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            ("started".to_string(), None),
            ("running".to_string(), Some("Bash".to_string())),
            ("completed".to_string(), None),
        ]
    );
}

#[test]
fn subagent_tokens_count_in_the_run_totals() {
    // Two requests of the parent and two of the subagent, 42 input tokens
    // each: `modelUsage` counts all four, `usage` only the parent's.
    let events = events("subagent.jsonl");
    let input: u64 = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage(u) => Some(u.input_tokens),
            _ => None,
        })
        .sum();
    assert_eq!(input, 4 * 42);
}

fn plans(events: &[AgentEvent]) -> Vec<Vec<(String, String)>> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Plan { items, .. } => Some(
                items
                    .iter()
                    .map(|i| {
                        let status = serde_json::to_value(i.status).expect("status");
                        (i.text.clone(), status.as_str().unwrap_or("").to_string())
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[test]
fn task_tools_become_one_plan_updated_as_the_tasks_move() {
    let events = events("plan.jsonl");
    let plans = plans(&events);
    let s = |t: &str, st: &str| (t.to_string(), st.to_string());
    assert_eq!(plans.len(), 6, "three creates, three updates: {plans:#?}");
    assert_eq!(
        plans.last().expect("a plan"),
        &vec![
            s("Read the code", "completed"),
            s("Write the fix", "in_progress"),
            s("Run the tests", "pending"),
        ]
    );
    // The plan tools themselves are not shown as tool calls.
    assert!(!events.iter().any(|e| matches!(e,
        AgentEvent::ToolCall { name, .. } if name.starts_with("Task"))));
    let Some(AgentEvent::Plan { items, .. }) = events
        .iter()
        .rev()
        .find(|e| matches!(e, AgentEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert_eq!(corral::core::event::plan_progress(items), (1, 3));
    assert_eq!(
        corral::describe::insight::plan_summary(items, 40),
        "1/3 Writing the fix"
    );
}

#[test]
fn a_refused_todo_write_shows_the_call_and_its_error_not_a_plan() {
    // 2.1.197 no longer enables TodoWrite: the plan must not pretend.
    let events = events("todo_write.jsonl");
    assert!(plans(&events).is_empty());
    let errors = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolResult { is_error: true, .. }))
        .count();
    assert_eq!(errors, 2);
}

#[test]
fn an_accepted_todo_write_replaces_the_plan() {
    // The same transcript with the refusals turned into successes, as older
    // releases answer.
    let lines: Vec<String> = split_lines(&read_fixture("todo_write.jsonl"))
        .into_iter()
        .map(|l| l.replace(r#""is_error":true"#, r#""is_error":false"#))
        .collect();
    let plans = plans(&parse_lines(&lines));
    let s = |t: &str, st: &str| (t.to_string(), st.to_string());
    assert_eq!(
        plans,
        [
            vec![
                s("Read the code", "in_progress"),
                s("Write the fix", "pending")
            ],
            vec![
                s("Read the code", "completed"),
                s("Write the fix", "in_progress")
            ],
        ]
    );
}

#[test]
fn thinking_comes_before_the_answer_once_whether_streamed_or_not() {
    for name in ["thinking.jsonl", "thinking_partial.jsonl"] {
        let events = events(name);
        let thinking: String = events
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Thinking { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            thinking, "The user wants a greeting. A short friendly answer is enough here.",
            "{name}"
        );
        let first_thinking = events
            .iter()
            .position(|e| matches!(e, AgentEvent::Thinking { .. }));
        let first_text = events
            .iter()
            .position(|e| matches!(e, AgentEvent::Text { .. }));
        assert!(first_thinking < first_text, "{name}: {events:#?}");
    }
}

#[test]
fn mcp_and_web_tools_are_named_for_what_they_are() {
    let mcp = events("mcp.jsonl");
    assert!(
        mcp.iter().any(|e| matches!(e,
            AgentEvent::McpCall { server, tool, input, .. }
            if server == "adder" && tool == "add" && input["a"] == 2)),
        "{mcp:#?}"
    );
    assert!(mcp.iter().any(|e| matches!(e,
        AgentEvent::ToolResult { output, is_error: false, .. } if output == "5")));
    let search = events("web_search.jsonl");
    assert!(
        search.iter().any(|e| matches!(e,
            AgentEvent::WebSearch { query, .. } if query == "rust terminal multiplexer")),
        "{search:#?}"
    );
}

/// Events of a transcript of claude 2.1.332 (`tests/fixtures/claude/2.1.332`).
fn latest_events(name: &str) -> Vec<AgentEvent> {
    parse_lines(&split_lines(&read_fixture(&format!("2.1.332/{name}"))))
}

#[test]
fn newest_claude_transcripts_match_their_snapshots_and_are_all_understood() {
    let mut names: Vec<String> = fs::read_dir(fixtures_dir().join("2.1.332"))
        .expect("the 2.1.332 fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        let events = latest_events(&name);
        assert!(
            !events.iter().any(|e| matches!(e, AgentEvent::Raw { .. })),
            "{name}: {events:#?}"
        );
        assert!(
            matches!(events.last(), Some(AgentEvent::TurnEnd { .. })),
            "{name}"
        );
        let snapshot = format!("latest_{}", name.trim_end_matches(".jsonl"));
        insta::assert_json_snapshot!(snapshot, events);
    }
}

#[test]
fn newest_claude_runs_subagents_in_the_background_still_nested() {
    // 2.1.332 answers the Task call at once ("Async agent launched") and
    // the subagent works on while the parent talks; its lines still name
    // the Task call.
    let events = latest_events("subagent.jsonl");
    let task = call_id(&events, "Task");
    let nested = events
        .iter()
        .filter(
            |e| matches!(e, AgentEvent::Subagent { parent_tool_id, .. } if *parent_tool_id == task),
        )
        .count();
    assert!(nested >= 4, "{events:#?}");
    assert!(!events.iter().any(|e| matches!(e,
        AgentEvent::ToolCall { name, .. } if name == "Bash")));
    let plan = latest_events("plan.jsonl");
    let Some(AgentEvent::Plan { items, .. }) = plan
        .iter()
        .rev()
        .find(|e| matches!(e, AgentEvent::Plan { .. }))
    else {
        panic!("no plan")
    };
    assert_eq!(corral::core::event::plan_progress(items), (1, 3));
}

#[test]
fn refusals_hooks_compaction_and_api_errors_are_events() {
    let denied = latest_events("permission_denied.jsonl");
    assert!(
        denied.iter().any(|e| matches!(e,
            AgentEvent::PermissionDenied { tool, message: Some(m), .. }
            if tool == "Bash" && m.contains("needs approval"))),
        "{denied:#?}"
    );
    for hooks in [events("hooks.jsonl"), latest_events("hooks.jsonl")] {
        let names: Vec<(String, Option<String>)> = hooks
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Hook { name, outcome, .. } => Some((name.clone(), outcome.clone())),
                _ => None,
            })
            .collect();
        let ok = Some("success".to_string());
        assert_eq!(
            names,
            [
                ("PreToolUse:Bash".to_string(), ok.clone()),
                ("PostToolUse:Bash".to_string(), ok)
            ]
        );
    }
    let compacted = latest_events("compact.jsonl");
    assert!(
        compacted.iter().any(|e| matches!(e,
            AgentEvent::Compaction { trigger: Some(t), tokens_before: Some(_), error: None, .. }
            if t == "manual")),
        "{compacted:#?}"
    );
    // 2.1.197 found nothing to compact and says so.
    let refused = events("compact.jsonl");
    assert!(refused.iter().any(|e| matches!(e,
        AgentEvent::Compaction { error: Some(m), .. } if m.contains("Not enough messages"))));
    let failed = latest_events("errors.jsonl");
    assert!(
        failed.iter().any(|e| matches!(e,
            AgentEvent::TurnEnd { is_error: true, terminal_reason: Some(r), api_error_type: Some(k), .. }
            if r == "api_error" && k == "api_error")),
        "{failed:#?}"
    );
}

#[test]
fn a_long_bash_command_tracked_as_a_task_is_no_subagent() {
    let events = events("subagent_slow.jsonl");
    let task = call_id(&events, "Task");
    let parents: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::SubagentStatus(s) => Some(s.parent_tool_id.as_str()),
            _ => None,
        })
        .collect();
    assert!(!parents.is_empty());
    assert!(parents.iter().all(|p| *p == task), "{parents:?} vs {task}");
}

#[test]
fn plans_right_after_each_other_are_one_transcript_entry() {
    let mut transcript = corral::core::transcript::Transcript::default();
    for ev in events("plan.jsonl") {
        transcript.push(ev);
    }
    let plans = transcript
        .entries()
        .filter(|e| matches!(e, AgentEvent::Plan { .. }))
        .count();
    // Three creates and two updates in a row, then the text: one entry
    // holding the last plan (the published events keep every one).
    assert_eq!(plans, 1);
}
