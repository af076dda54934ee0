//! Tests of the claude adapter: argv, answers and stream-json parsing,
//! pure (no process).

use std::path::PathBuf;

use super::*;

fn parse_all(lines: &[&str]) -> Vec<AgentEvent> {
    let mut parser = ClaudeParser::default();
    lines.iter().flat_map(|l| parser.parse_line(l)).collect()
}

fn approval(input: Value) -> Question {
    Question {
        id: "req-1".to_string(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".to_string()),
        input,
        tool_use_id: Some("toolu_1".to_string()),
        questions: Vec::new(),
    }
}

#[test]
fn launch_defaults_speak_the_stdio_protocol_with_the_prompt_on_stdin() {
    let spec = launch(&AgentOptions::default(), Path::new("/tmp/w"), "do it");
    assert_eq!(spec.program, "claude");
    assert_eq!(
        spec.args,
        [
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--include-hook-events",
            "--permission-prompt-tool",
            "stdio"
        ]
    );
    assert_eq!(spec.cwd, PathBuf::from("/tmp/w"));
    let StdinMode::Pipe { initial_lines } = &spec.stdin else {
        panic!("claude needs a stdin pipe, got {:?}", spec.stdin);
    };
    assert_eq!(initial_lines.len(), 2);
    let init: Value = serde_json::from_str(&initial_lines[0]).unwrap();
    assert_eq!(
        init,
        json!({"type":"control_request","request_id":"init-1",
               "request":{"subtype":"initialize","hooks":null}})
    );
    let user: Value = serde_json::from_str(&initial_lines[1]).unwrap();
    assert_eq!(
        user,
        json!({"type":"user","message":{"role":"user","content":"do it"},
               "parent_tool_use_id":null,"session_id":"default"})
    );
}

#[test]
fn launch_passes_every_option_through() {
    let opts = AgentOptions {
        binary: Some("/opt/claude".to_string()),
        model: Some("opus".to_string()),
        permission_mode: Some("acceptEdits".to_string()),
        allowed_tools: vec!["Bash(git *)".to_string(), "Edit".to_string()],
        disallowed_tools: vec!["WebFetch".to_string()],
        append_system_prompt: Some("- be brief".to_string()),
        add_dirs: vec![PathBuf::from("/data")],
        max_budget_usd: Some(0.5),
        session_id: Some("6f0c".to_string()),
        resume: Some("abcd".to_string()),
        extra_args: vec!["--effort".to_string(), "low".to_string()],
        env: vec![("IS_SANDBOX".to_string(), "1".to_string())],
        ..AgentOptions::default()
    };
    let spec = launch(&opts, Path::new("/w"), "hi");
    assert_eq!(spec.program, "/opt/claude");
    assert_eq!(
        spec.args[10..],
        [
            "--model",
            "opus",
            "--permission-mode",
            "acceptEdits",
            "--append-system-prompt",
            "- be brief",
            "--max-budget-usd",
            "0.5",
            "--session-id",
            "6f0c",
            "--resume",
            "abcd",
            "--allowedTools=Bash(git *)",
            "--allowedTools=Edit",
            "--disallowedTools=WebFetch",
            "--add-dir=/data",
            "--effort",
            "low",
        ]
    );
    assert_eq!(spec.env, opts.env);
}

#[test]
fn permission_modes_reach_claude_in_a_spelling_every_release_takes() {
    let mode_flag = |mode: &str| {
        let opts = AgentOptions {
            permission_mode: Some(mode.to_string()),
            ..AgentOptions::default()
        };
        let spec = launch(&opts, Path::new("/w"), "hi");
        let at = spec.args.iter().position(|a| a == "--permission-mode");
        at.map(|i| spec.args[i + 1].clone())
    };
    // 2.1.332 calls it `manual`; 2.1.197 only knows `default`.
    assert_eq!(mode_flag("manual").as_deref(), Some("default"));
    assert_eq!(mode_flag("accept-edits").as_deref(), Some("acceptEdits"));
    // A mode corral does not know is claude's to accept or refuse.
    assert_eq!(mode_flag("dontAsk").as_deref(), Some("dontAsk"));
}

#[test]
fn allow_echoes_the_original_input_unless_edited() {
    let q = approval(json!({"command": "ls"}));
    let line = Claude::encode_answer(
        &q,
        &Answer::Allow {
            updated_input: None,
        },
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v,
        json!({"type":"control_response","response":{"subtype":"success",
            "request_id":"req-1","response":{"behavior":"allow",
            "updatedInput":{"command":"ls"}}}})
    );
    let edited = Claude::encode_answer(
        &q,
        &Answer::Allow {
            updated_input: Some(json!({"command": "ls -a"})),
        },
    );
    let v: Value = serde_json::from_str(&edited).unwrap();
    assert_eq!(
        v["response"]["response"]["updatedInput"],
        json!({"command": "ls -a"})
    );
}

#[test]
fn deny_carries_the_message() {
    let line = Claude::encode_answer(
        &approval(json!({})),
        &Answer::Deny {
            message: "no \"way\"".to_string(),
        },
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v["response"]["response"],
        json!({"behavior":"deny","message":"no \"way\""})
    );
    assert!(!line.contains('\n'), "one stdin line: {line}");
}

#[test]
fn answers_are_added_to_the_question_input() {
    let mut q = approval(json!({"questions": [{"question": "Colour?"}]}));
    q.tool = Some(ASK_USER_QUESTION.to_string());
    q.kind = QuestionKind::Question;
    let line = Claude::encode_answer(
        &q,
        &Answer::Answer {
            answers: vec![("Colour?".to_string(), "Blue".to_string())],
        },
    );
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        v["response"]["response"],
        json!({"behavior":"allow","updatedInput":{
            "questions":[{"question":"Colour?"}],"answers":{"Colour?":"Blue"}}})
    );
}

#[test]
fn streamed_text_is_not_repeated_by_the_full_block() {
    let events = parse_all(&[
        r#"{"type":"stream_event","event":{"type":"message_start","message":{"id":"m1"}}}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hm"}}}"#,
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"thinking","thinking":"hm"}]}}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hel"}}}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"lo"}}}"#,
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Hello"}]}}"#,
        r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Not streamed"}]}}"#,
    ]);
    assert_eq!(
        events,
        vec![
            AgentEvent::Thinking {
                text: "hm".into(),
                delta: true
            },
            AgentEvent::Text {
                text: "Hel".into(),
                delta: true
            },
            AgentEvent::Text {
                text: "lo".into(),
                delta: true
            },
            AgentEvent::Text {
                text: "Not streamed".into(),
                delta: false
            },
        ]
    );
}

#[test]
fn tool_result_content_blocks_are_joined() {
    let events = parse_all(&[
        r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"a"},{"type":"image"},{"type":"text","text":"b"}],"is_error":true}]}}"#,
        r#"{"type":"user","message":{"role":"user","content":"just the prompt echoed"}}"#,
    ]);
    assert_eq!(
        events,
        vec![AgentEvent::ToolResult {
            id: "t1".into(),
            output: "a\nb".into(),
            is_error: true
        }]
    );
}

#[test]
fn result_without_is_error_falls_back_to_the_subtype() {
    let events = parse_all(&[r#"{"type":"result","subtype":"error_max_turns"}"#]);
    assert_eq!(
        events,
        vec![AgentEvent::TurnEnd {
            is_error: true,
            result: None,
            api_error_status: None,
            num_turns: None,
            permission_denials: Vec::new(),
            terminal_reason: None,
            api_error_type: None,
        }]
    );
}

#[test]
fn escape_sequences_glued_to_a_json_line_do_not_hide_it() {
    let events =
        parse_all(&["\u{1b}[?25l{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s\"}"]);
    assert_eq!(
        events,
        vec![AgentEvent::Session {
            session_id: "s".into(),
            model: None,
            cwd: None,
            agent: "claude".into()
        }]
    );
}

#[test]
fn garbage_never_panics_and_stays_visible_as_clean_raw_lines() {
    let garbage = [
        "",
        "   ",
        "\u{1b}[2J\u{1b}]0;x\u{7}",
        "{",
        r#"{"type":"assistant","message":{"content":[{"type":"te"#,
        "null",
        "[1,2,3]",
        "\"just a string\"",
        "12345678901234567890123456789",
        "1e400",
        r#"{"no_type":1}"#,
        r#"{"type":42}"#,
        r#"{"type":"wat","x":1}"#,
        r#"{"type":"result","usage":"x"}"#,
        r#"{"type":"result","usage":{"input_tokens":-5,"output_tokens":1.5},"total_cost_usd":"free","num_turns":99999999999999999999,"api_error_status":70000,"permission_denials":[1,{"tool_name":3},{"tool_name":"Bash"}]}"#,
        r#"{"type":"system"}"#,
        r#"{"type":"system","subtype":"init"}"#,
        r#"{"type":"system","subtype":"api_retry","attempt":"1","retry_delay_ms":-3,"error_status":99999}"#,
        r#"{"type":"system","subtype":"api_retry","attempt":4294967296,"retry_delay_ms":1e300}"#,
        r#"{"type":"assistant"}"#,
        r#"{"type":"assistant","message":[]}"#,
        r#"{"type":"assistant","message":{"content":{"type":"text"}}}"#,
        r#"{"type":"assistant","message":{"id":7,"model":null,"content":[null,1,{"type":"text","text":5},{"type":"tool_use","id":"t"},{"type":"text","text":"ok"}]}}"#,
        r#"{"type":"assistant","message":{"model":"<synthetic>","content":[{"type":"text"}]}}"#,
        r#"{"type":"user","message":{"content":[{"type":"tool_result"},{"type":"tool_result","tool_use_id":"t","content":{"a":[]}}]}}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"d"}}}"#,
        r#"{"type":"stream_event","event":{"type":"content_block_delta","delta":"x"}}"#,
        r#"{"type":"stream_event","event":{"type":"message_start","message":{"id":{"deep":[[[]]]}}}}"#,
        r#"{"type":"stream_event","event":null}"#,
        r#"{"type":"control_request","request":{"subtype":"can_use_tool"}}"#,
        r#"{"type":"control_request","request_id":"r","request":{"subtype":"can_use_tool","input":{"questions":[{"question":1},{"question":"Q?","options":[{"label":"A"},{"description":"no label"}],"multiSelect":"yes"}]}}}"#,
        r#"{"type":"control_request","request_id":"r2","request":{"subtype":"hook_callback"}}"#,
        r#"{"type":"control_response","response":"ok"}"#,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "\u{0}\u{1}binary\u{fffd}junk\u{9b}2J",
    ];
    let mut parser = ClaudeParser::default();
    let events: Vec<AgentEvent> = garbage.iter().flat_map(|l| parser.parse_line(l)).collect();

    // Everything the user sees as raw text is clean.
    for e in &events {
        if let AgentEvent::Raw { line } = e {
            assert_eq!(&sanitize_line(line), line);
            assert!(!line.trim().is_empty());
        }
    }
    let raws: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Raw { line } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert!(raws.contains(&"{"));
    assert!(raws.contains(&"binary\u{fffd}junk"), "{raws:?}");
    assert!(raws.contains(&r#"{"type":"wat","x":1}"#));
    // Malformed but recognisable objects still give what they can.
    assert!(events.contains(&AgentEvent::Text {
        text: "ok".into(),
        delta: false
    }));
    assert!(events.contains(&AgentEvent::Text {
        text: "d".into(),
        delta: true
    }));
    assert!(events.contains(&AgentEvent::ToolResult {
        id: "t".into(),
        output: String::new(),
        is_error: false
    }));
    assert!(events.contains(&AgentEvent::Retry {
        attempt: 0,
        max_attempts: None,
        delay_ms: None,
        status: None,
        reason: "API error".into()
    }));
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::TurnEnd {
            api_error_status: None,
            num_turns: None,
            permission_denials,
            ..
        } if permission_denials.len() == 1 && permission_denials[0].tool == "Bash"
    )));
    let question = events.iter().find_map(|e| match e {
        AgentEvent::Question(q) => Some(q),
        _ => None,
    });
    let question = question.expect("the can_use_tool request with an id");
    assert_eq!(question.id, "r");
    assert_eq!(question.questions.len(), 1);
    assert_eq!(question.questions[0].options.len(), 1);
    assert!(!question.questions[0].multi_select);
    // A result with usage "x" still ends the turn.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, AgentEvent::TurnEnd { .. }))
            .count(),
        2
    );
}

#[test]
fn cost_is_reported_as_increments_of_the_cumulative_total() {
    let mut parser = ClaudeParser::default();
    let mut costs = Vec::new();
    for total in ["0.25", "0.75", "0.75", "0.5"] {
        let line = format!(r#"{{"type":"result","is_error":false,"total_cost_usd":{total}}}"#);
        for e in parser.parse_line(&line) {
            if let AgentEvent::Usage(u) = e {
                costs.push(u.cost_usd);
            }
        }
    }
    assert_eq!(costs, [Some(0.25), Some(0.5), Some(0.0), Some(0.0)]);
}

#[test]
fn the_delta_fast_path_gives_what_the_json_tree_gives() {
    let mut lines: Vec<String> = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for file in &files {
        lines.extend(
            std::fs::read_to_string(file)
                .unwrap()
                .lines()
                .map(String::from),
        );
    }
    let delta = |extra: &str| {
        format!(
            r#"{{"type":"stream_event",{extra}"event":{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"a\n\"b\" é"}}}}}}"#
        )
    };
    lines.extend([
        r#"{"type":"stream_event","event":{"type":"message_start","message":{"id":"m9"}}}"#.to_string(),
        delta(""),
        delta(r#""parent_tool_use_id":"toolu_9","#),
        delta(r#""parent_tool_use_id":null,"session_id":"s","#),
        delta(r#""parent_tool_use_id":7,"#),
        delta(r#""type":"assistant","#),
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":-1,"delta":{"type":"thinking_delta","thinking":"hm"}}}"#.to_string(),
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":5}}}"#.to_string(),
        r#"{"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}}"#.to_string(),
        r#"{"type":"stream_event","event":{"type":"content_block_delta","index":1,"delta":{"type":"text_delta"}}}"#.to_string(),
        format!("\x1b[0m{}", delta("")),
        "not json at all".to_string(),
    ]);
    let mut fast = ClaudeParser::default();
    let mut tree = ClaudeParser::default();
    let mut fast_taken = 0;
    for line in &lines {
        if ClaudeParser::default().fast_delta(line).is_some() {
            fast_taken += 1;
        }
        assert_eq!(fast.parse_line(line), tree.parse_tree(line), "{line}");
    }
    assert!(
        fast_taken >= 3,
        "the fast path was taken {fast_taken} times"
    );
}
