use serde_json::{Value, json};

use super::{
    AgentEvent, CodexAppParser, OutputParser, Question, QuestionKind, answer_line, unwrap_shell,
};

#[test]
fn the_shell_wrapper_comes_off_quoted_and_single_word_commands() {
    assert_eq!(unwrap_shell("/bin/bash -lc 'touch a b'"), "touch a b");
    assert_eq!(unwrap_shell("/bin/bash -lc ls"), "ls");
    // Quotes inside: shown as codex sent it.
    let nested = r#"/bin/bash -lc 'echo '"'"'hi'"'"''"#;
    assert_eq!(unwrap_shell(nested), nested);
    assert_eq!(unwrap_shell("ls -la"), "ls -la");
}

/// Parses `lines` with one parser, all events in order.
fn parse(lines: &[&str]) -> Vec<AgentEvent> {
    let mut parser = CodexAppParser::default();
    lines.iter().flat_map(|l| parser.parse_line(l)).collect()
}

const MCP_STARTED: &str = r#"{"method":"item/started","params":{"item":{"type":"mcpToolCall","id":"call_1","server":"docs","tool":"search","status":"inProgress","arguments":{"q":"ratatui"},"result":null,"error":null}}}"#;

#[test]
fn an_mcp_tool_call_names_server_tool_and_arguments_then_its_result() {
    let done = r#"{"method":"item/completed","params":{"item":{"type":"mcpToolCall","id":"call_1","server":"docs","tool":"search","status":"completed","arguments":{"q":"ratatui"},"result":{"content":[{"type":"text","text":"found 3"},{"type":"text","text":"pages"}],"structuredContent":null},"error":null}}}"#;
    assert_eq!(
        parse(&[MCP_STARTED, done]),
        [
            AgentEvent::McpCall {
                id: "call_1".into(),
                server: "docs".into(),
                tool: "search".into(),
                input: json!({"q": "ratatui"}),
            },
            AgentEvent::ToolResult {
                id: "call_1".into(),
                output: "found 3\npages".into(),
                is_error: false,
            },
        ]
    );
}

#[test]
fn a_failed_mcp_call_is_an_error_result_with_its_message_or_the_tools_text() {
    let rejected = r#"{"method":"item/completed","params":{"item":{"type":"mcpToolCall","id":"call_1","server":"docs","tool":"search","status":"failed","result":null,"error":{"message":"user rejected MCP tool call"}}}}"#;
    let refused = r#"{"method":"item/completed","params":{"item":{"type":"mcpToolCall","id":"call_1","server":"docs","tool":"search","status":"failed","result":{"content":[{"type":"text","text":"bad query"}]},"error":null}}}"#;
    for (line, output) in [
        (rejected, "user rejected MCP tool call"),
        (refused, "bad query"),
    ] {
        let events = parse(&[MCP_STARTED, line]);
        assert_eq!(
            events.last(),
            Some(&AgentEvent::ToolResult {
                id: "call_1".into(),
                output: output.into(),
                is_error: true,
            }),
            "{events:?}"
        );
    }
}

#[test]
fn an_mcp_call_completed_without_a_start_is_still_named_and_odd_items_never_panic() {
    let done = r#"{"method":"item/completed","params":{"item":{"type":"mcpToolCall","id":"x","server":"s","tool":"t","status":"completed","result":{"content":[]}}}}"#;
    let events = parse(&[done]);
    assert!(
        matches!(&events[..], [AgentEvent::McpCall { server, tool, .. }, AgentEvent::ToolResult { is_error: false, .. }] if server == "s" && tool == "t"),
        "{events:?}"
    );
    for odd in [
        r#"{"method":"item/started","params":{"item":{"type":"mcpToolCall","id":"y"}}}"#,
        r#"{"method":"item/completed","params":{"item":{"type":"mcpToolCall","id":"y","result":7,"error":"no"}}}"#,
        r#"{"method":"mcpServer/elicitation/request","id":3,"params":null}"#,
        r#"{"method":"mcpServer/elicitation/request","id":4,"params":{"_meta":{"codex_approval_kind":"mcp_tool_call","tool_params":[1]}}}"#,
    ] {
        let _ = parse(&[odd]);
    }
}

#[test]
fn codex_asking_before_an_mcp_tool_is_an_approval_of_that_tool_answered_as_an_elicitation() {
    use crate::agent::Answer;
    let ask = r#"{"method":"mcpServer/elicitation/request","id":0,"params":{"threadId":"t","turnId":"u","serverName":"docs","mode":"form","_meta":{"codex_approval_kind":"mcp_tool_call","persist":["session","always"],"tool_name":"search","tool_params":{"q":"ratatui"}},"message":"Allow the docs MCP server to run tool \"search\"?","requestedSchema":{"type":"object","properties":{}}}}"#;
    let events = parse(&[MCP_STARTED, ask]);
    let Some(AgentEvent::Question(q)) = events.last() else {
        panic!("no question: {events:?}");
    };
    assert_eq!(q.kind, QuestionKind::Approval);
    assert_eq!(q.tool.as_deref(), Some("mcp__docs__search"));
    assert_eq!(q.tool_use_id.as_deref(), Some("call_1"));
    assert_eq!(q.input, json!({"q": "ratatui"}));
    let reply =
        |answer: &Answer| -> Value { serde_json::from_str(&answer_line(q, answer)).expect("JSON") };
    let allow = reply(&Answer::Allow {
        updated_input: None,
    });
    assert_eq!(allow["id"], 0);
    assert_eq!(allow["result"]["action"], "accept");
    let deny = reply(&Answer::Deny {
        message: "no".into(),
    });
    assert_eq!(deny["result"]["action"], "decline");
    assert!(deny["result"].get("decision").is_none());
}

#[test]
fn an_mcp_servers_own_form_is_declined_with_an_error_shown() {
    let form = r#"{"method":"mcpServer/elicitation/request","id":5,"params":{"serverName":"docs","mode":"form","message":"Your name?","requestedSchema":{"type":"object","properties":{"name":{"type":"string"}}}}}"#;
    let events = parse(&[form]);
    let [
        AgentEvent::Error { message },
        AgentEvent::ProtocolReply { line },
    ] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert!(
        message.contains("docs") && message.contains("Your name?"),
        "{message}"
    );
    let reply: Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(reply["id"], 5);
    assert_eq!(reply["result"]["action"], "decline");
}

#[test]
fn an_approval_without_its_request_id_in_the_input_answers_the_question_id() {
    use crate::agent::Answer;
    let q = |id: &str| Question {
        id: id.into(),
        kind: QuestionKind::Approval,
        tool: Some("mcp__a__b".into()),
        input: json!({}),
        tool_use_id: None,
        questions: Vec::new(),
    };
    let allow = Answer::Allow {
        updated_input: None,
    };
    let id = |line: String| serde_json::from_str::<Value>(&line).expect("JSON")["id"].clone();
    assert_eq!(id(answer_line(&q("7"), &allow)), json!(7));
    assert_eq!(id(answer_line(&q("req-a"), &allow)), json!("req-a"));
}

#[test]
fn text_and_thinking_sent_whole_show_once_and_streamed_ones_are_not_repeated() {
    let done = |kind: &str, body: &str| {
        format!(
            r#"{{"method":"item/completed","params":{{"item":{{"type":"{kind}","id":"i1",{body}}}}}}}"#
        )
    };
    let message = done("agentMessage", r#""text":"Hello.""#);
    let reasoning = done(
        "reasoning",
        r#""summary":["First.","Second."],"content":[]"#,
    );
    let raw = done("reasoning", r#""summary":[],"content":["Raw thought."]"#);
    assert_eq!(
        parse(&[&message, &reasoning, &raw]),
        [
            AgentEvent::Text {
                text: "Hello.".into(),
                delta: false
            },
            AgentEvent::Thinking {
                text: "First.\n\nSecond.".into(),
                delta: false
            },
            AgentEvent::Thinking {
                text: "Raw thought.".into(),
                delta: false
            },
        ]
    );
    let text_delta =
        r#"{"method":"item/agentMessage/delta","params":{"itemId":"i1","delta":"Hello."}}"#;
    assert_eq!(
        parse(&[text_delta, &message]),
        [AgentEvent::Text {
            text: "Hello.".into(),
            delta: true
        }]
    );
    let part = |n: u64| {
        format!(
            r#"{{"method":"item/reasoning/summaryPartAdded","params":{{"itemId":"i1","summaryIndex":{n}}}}}"#
        )
    };
    let thought = |t: &str| {
        format!(
            r#"{{"method":"item/reasoning/summaryTextDelta","params":{{"itemId":"i1","delta":"{t}","summaryIndex":0}}}}"#
        )
    };
    let thinking: String = parse(&[
        &part(0),
        &thought("First."),
        &part(1),
        &thought("Second."),
        &reasoning,
    ])
    .iter()
    .map(|e| match e {
        AgentEvent::Thinking { text, delta: true } => text.as_str(),
        other => panic!("{other:?}"),
    })
    .collect();
    assert_eq!(thinking, "First.\n\nSecond.");
}

#[test]
fn codex_logging_a_declined_command_is_not_shown_other_log_lines_are() {
    let log = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/codex_app_server/shell_deny.stderr.txt"
    ))
    .expect("the captured stderr");
    let mut parser = CodexAppParser::default();
    let shown: Vec<_> = log
        .lines()
        .flat_map(|l| parser.parse_stderr_line(l))
        .collect();
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert!(format!("{shown:?}").contains("bubblewrap"), "{shown:?}");
}
