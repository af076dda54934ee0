use serde_json::json;

use super::*;
use crate::core::event::QuestionKind;

fn parse(lines: &[&str]) -> Vec<AgentEvent> {
    let mut parser = AcpParser::new("acp");
    lines.iter().flat_map(|l| parser.parse_line(l)).collect()
}

#[test]
fn opening_lines_initialize_then_start_or_load_a_session() {
    let opts = AgentOptions::default();
    let spec = launch_generic(&opts, Path::new("/w"), "hi");
    let StdinMode::Pipe { initial_lines } = spec.stdin else {
        panic!("a pipe");
    };
    let first: Value = serde_json::from_str(&initial_lines[0]).unwrap();
    assert_eq!(first["method"], "initialize");
    assert_eq!(first["params"]["clientCapabilities"]["terminal"], false);
    let second: Value = serde_json::from_str(&initial_lines[1]).unwrap();
    assert_eq!(second["method"], "session/new");
    assert_eq!(second["params"]["cwd"], "/w");
    // The prompt waits for the session id.
    assert!(!initial_lines.iter().any(|l| l.contains("hi")));

    let opts = AgentOptions {
        resume: Some("s-1".into()),
        ..AgentOptions::default()
    };
    let StdinMode::Pipe { initial_lines } = launch_generic(&opts, Path::new("/w"), "hi").stdin
    else {
        panic!("a pipe");
    };
    let load: Value = serde_json::from_str(&initial_lines[1]).unwrap();
    assert_eq!(load["method"], "session/load");
    assert_eq!(load["params"]["sessionId"], "s-1");
}

#[test]
fn gemini_over_acp_maps_permission_modes_to_its_approval_flag() {
    let opts = AgentOptions {
        permission_mode: Some("acceptEdits".into()),
        model: Some("m".into()),
        ..AgentOptions::default()
    };
    let spec = launch_gemini(&opts, Path::new("/w"), "p");
    assert_eq!(spec.program, "gemini");
    assert_eq!(
        spec.args,
        [
            "--acp",
            "--skip-trust",
            "--model=m",
            "--approval-mode",
            "auto_edit"
        ]
    );
}

#[test]
fn the_session_answer_is_a_session_event_and_a_load_keeps_its_id() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","id":"corral-session-new","result":{"sessionId":"abc","models":{"currentModelId":"auto"}}}"#,
    ]);
    assert_eq!(
        events,
        [AgentEvent::Session {
            session_id: "abc".into(),
            model: Some("auto".into()),
            cwd: None,
            agent: "acp".into()
        }]
    );
    let events = parse(&[r#"{"jsonrpc":"2.0","id":"corral-session-load:xyz","result":null}"#]);
    assert!(matches!(&events[..], [AgentEvent::Session { session_id, .. }] if session_id == "xyz"));
}

#[test]
fn a_failed_load_is_an_error_and_a_failed_turn() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","id":"corral-session-load:xyz","error":{"code":-32603,"message":"Internal error","data":{"details":"No previous sessions found for this project."}}}"#,
    ]);
    assert!(
        matches!(&events[0], AgentEvent::Error { message } if message.contains("could not resume session xyz: Internal error: No previous sessions"))
    );
    assert!(matches!(
        &events[1],
        AgentEvent::TurnEnd { is_error: true, .. }
    ));
}

#[test]
fn a_permission_request_is_a_tool_call_and_an_approval_answered_with_the_agents_options() {
    let request = r#"{"jsonrpc":"2.0","id":7,"method":"session/request_permission","params":{"sessionId":"s","options":[{"optionId":"always","name":"Always","kind":"allow_always"},{"optionId":"once","name":"Allow","kind":"allow_once"},{"optionId":"no","name":"Reject","kind":"reject_once"}],"toolCall":{"toolCallId":"t1","status":"pending","title":"touch x","kind":"execute"}}}"#;
    let events = parse(&[request]);
    assert!(
        matches!(&events[0], AgentEvent::ToolCall { id, name, .. } if id == "t1" && name == "execute")
    );
    let AgentEvent::Question(q) = &events[1] else {
        panic!("a question: {events:?}");
    };
    assert_eq!(q.kind, QuestionKind::Approval);
    assert_eq!(q.tool.as_deref(), Some("execute"));
    assert_eq!(q.input["command"], "touch x");
    let allow: Value = serde_json::from_str(&answer_line(
        q,
        &Answer::Allow {
            updated_input: None,
        },
    ))
    .unwrap();
    assert_eq!(
        allow,
        json!({"jsonrpc":"2.0","id":7,"result":{"outcome":{"outcome":"selected","optionId":"once"}}})
    );
    let deny: Value = serde_json::from_str(&answer_line(
        q,
        &Answer::Deny {
            message: "no".into(),
        },
    ))
    .unwrap();
    assert_eq!(deny["result"]["outcome"]["optionId"], "no");
    assert_eq!(deny["id"], 7);
}

#[test]
fn an_approval_without_a_matching_option_is_cancelled() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","id":"r","method":"session/request_permission","params":{"options":[{"optionId":"ok","kind":"allow_once"}],"toolCall":{"toolCallId":"t"}}}"#,
    ]);
    let AgentEvent::Question(q) = &events[1] else {
        panic!("{events:?}")
    };
    let deny: Value = serde_json::from_str(&answer_line(
        q,
        &Answer::Deny {
            message: String::new(),
        },
    ))
    .unwrap();
    assert_eq!(deny["result"]["outcome"], json!({"outcome": "cancelled"}));
    assert_eq!(deny["id"], "r");
}

#[test]
fn an_unsupported_request_is_refused_with_an_error_reply_and_told_to_the_user() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","id":3,"method":"fs/read_text_file","params":{"path":"/etc/passwd"}}"#,
    ]);
    assert!(
        matches!(&events[0], AgentEvent::Error { message } if message.contains("fs/read_text_file"))
    );
    let AgentEvent::ProtocolReply { line } = &events[1] else {
        panic!("{events:?}")
    };
    let reply: Value = serde_json::from_str(line).unwrap();
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["error"]["code"], -32601);
}

#[test]
fn malformed_lines_are_raw_or_clear_errors_never_panics() {
    let events = parse(&[
        "not json at all",
        "[1,2,3]",
        r#"{"jsonrpc":"2.0"}"#,
        r#"{"jsonrpc":"2.0","method":42}"#,
        r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"tool_call","toolCallId":5}}}"#,
        r#"{"jsonrpc":"2.0","method":"session/update","params":{"update":{"sessionUpdate":"agent_message_chunk","content":{"type":"image","data":"x"}}}}"#,
        "\u{1b}[2J",
    ]);
    assert!(matches!(&events[0], AgentEvent::Raw { line } if line == "not json at all"));
    assert!(matches!(&events[1], AgentEvent::Raw { .. }));
    assert!(
        matches!(&events[2], AgentEvent::Error { message } if message.contains("neither a request"))
    );
    assert!(
        matches!(&events[3], AgentEvent::Error { message } if message.contains("malformed ACP message"))
    );
    assert!(matches!(&events[4], AgentEvent::Text { text, .. } if text == "[image]"));
    assert_eq!(events.len(), 5);
}

#[test]
fn a_prompt_error_fails_the_turn_with_the_api_status() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","id":"corral-prompt-0","error":{"code":500,"message":"{\"error\":{\"code\":500,\"message\":\"mock failure\",\"status\":\"INTERNAL\"}}"}}"#,
    ]);
    assert!(matches!(&events[0], AgentEvent::Error { .. }));
    assert!(matches!(
        &events[1],
        AgentEvent::TurnEnd {
            is_error: true,
            api_error_status: Some(500),
            ..
        }
    ));
}

#[test]
fn a_plan_update_is_the_whole_plan() {
    let events = parse(&[
        r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"plan","entries":[{"content":"read","priority":"high","status":"completed"},{"content":"write","priority":"low","status":"pending"}]}}}"#,
    ]);
    assert_eq!(
        events,
        [AgentEvent::Plan {
            items: vec![
                PlanItem::new("read", "completed"),
                PlanItem::new("write", "pending"),
            ],
            explanation: None,
        }]
    );
}

#[test]
fn prompt_and_cancel_lines_name_the_session() {
    let prompt: Value = serde_json::from_str(&prompt_line("s", 3, "go")).unwrap();
    assert_eq!(prompt["id"], "corral-prompt-3");
    assert_eq!(prompt["params"]["prompt"][0]["text"], "go");
    assert_eq!(prompt["params"]["sessionId"], "s");
    let cancel: Value = serde_json::from_str(&cancel_line("s")).unwrap();
    assert_eq!(cancel["method"], "session/cancel");
    assert!(cancel.get("id").is_none());
}
