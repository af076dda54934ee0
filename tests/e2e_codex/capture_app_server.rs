//! Captures `codex app-server` transcripts from the real codex against the
//! Responses mock (run by hand; writes tests/fixtures/codex_app_server):
//! `cargo test --test e2e_codex capture_app_server -- --ignored --test-threads 1`.
//!
//! Each capture is an ignored test that overwrites its scenario's files;
//! the fixtures' README says what each scenario shows. It must never run
//! in the normal suite (it rewrites checked-in files).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::support::Sandbox;
use super::support::responses_mock::{MockResponses, Reply, adder_config, adder_script, fix_plan};
use super::support::stdio_session::StdioSession;

const WAIT: Duration = Duration::from_secs(60);

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex_app_server")
}

fn start(
    test: &str,
    script: Vec<Reply>,
    provider: &[(&str, &str)],
) -> Option<(Sandbox, MockResponses, StdioSession)> {
    start_with(test, script, provider, "")
}

/// As [`start`], with `config` appended to codex's `config.toml`.
fn start_with(
    test: &str,
    script: Vec<Reply>,
    provider: &[(&str, &str)],
    config: &str,
) -> Option<(Sandbox, MockResponses, StdioSession)> {
    let (sandbox, mock) = super::setup(test, script, provider)?;
    let path = sandbox.config_dir.join("config.toml");
    let mut toml = std::fs::read_to_string(&path).expect("read the codex config");
    toml.push_str(config);
    std::fs::write(&path, toml).expect("write the codex config");
    let mut command = Command::new(&sandbox.agent);
    command
        .arg("app-server")
        .current_dir(&sandbox.work)
        .env_clear()
        .envs(sandbox.codex_env(mock.port()));
    let session = StdioSession::start(command);
    Some((sandbox, mock, session))
}

/// initialize, initialized, thread/start; returns the thread id.
fn open(s: &mut StdioSession, sandbox: &Sandbox) -> String {
    open_with(s, sandbox, "untrusted", "workspace-write")
}

/// As [`open`], with this approval policy and sandbox.
fn open_with(s: &mut StdioSession, sandbox: &Sandbox, approval: &str, mode: &str) -> String {
    let id = s.request(
        "initialize",
        json!({"clientInfo": {"name": "corral", "title": "corral", "version": "0.1.0"}}),
    );
    s.wait_response(id, WAIT).expect("initialize answered");
    s.notify("initialized", json!({}));
    let id = s.request(
        "thread/start",
        json!({"cwd": sandbox.work.display().to_string(), "approvalPolicy": approval, "sandbox": mode}),
    );
    let answer = s.wait_response(id, WAIT).expect("thread/start answered");
    answer["result"]["thread"]["id"]
        .as_str()
        .expect("a thread id")
        .to_string()
}

/// Starts a turn; returns the turn id.
fn turn(s: &mut StdioSession, thread: &str, text: &str) -> String {
    let id = s.request(
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
    );
    let answer = s.wait_response(id, WAIT).expect("turn/start answered");
    answer["result"]["turn"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn completed(s: &mut StdioSession) -> Value {
    s.wait_method("turn/completed", Duration::from_secs(120))
        .expect("turn/completed")
}

fn approve(s: &mut StdioSession, method: &str, decision: &str) -> Value {
    let request = s.wait_method(method, WAIT).expect("an approval request");
    s.respond(&request["id"], json!({"decision": decision}));
    request
}

fn done(mut s: StdioSession, sandbox: &Sandbox, name: &str) {
    let code = s.finish(Duration::from_secs(20));
    eprintln!("[capture] {name}: exit {code:?}");
    s.save(&fixture_dir(), name, sandbox.root());
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_todo_list() {
    let script = vec![
        fix_plan("in_progress", "pending", "pending"),
        fix_plan("completed", "in_progress", "pending"),
        fix_plan("completed", "completed", "in_progress"),
        Reply::text("All three steps are under way."),
    ];
    // codex offers `update_plan` only when the config asks for it.
    let Some((sandbox, _mock, mut s)) = start_with(
        "capture_app_server_todo_list",
        script,
        &[],
        "\n[tools.update_plan]\nenabled = true\n",
    ) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "Fix the bug and run the tests.");
    completed(&mut s);
    done(s, &sandbox, "todo_list");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_web_search() {
    use super::support::responses_mock::Item;
    // The Responses API runs web search itself: one output item.
    let script = vec![Reply::Stream {
        parts: vec![
            Item::Whole(json!({
                "type": "web_search_call", "id": "ws_mock_1", "status": "completed",
                "action": {"type": "search", "query": "rust terminal multiplexer"}})),
            Item::Text("Zellij and tmux came up.".into()),
        ],
        chunk_delay: Duration::from_millis(10),
    }];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_web_search", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(
        &mut s,
        &thread,
        "Search the web for a rust terminal multiplexer.",
    );
    completed(&mut s);
    done(s, &sandbox, "web_search");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_mcp() {
    let Some((sandbox, _mock, mut s)) = start_with(
        "capture_app_server_mcp",
        super::adder_script(),
        &[],
        &adder_config(),
    ) else {
        return;
    };
    let thread = open_with(&mut s, &sandbox, "never", "danger-full-access");
    turn(&mut s, &thread, "Add 2 and 3 with the adder tool.");
    completed(&mut s);
    done(s, &sandbox, "mcp");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_mcp_startup_failed() {
    // A configured MCP server whose command does not exist.
    let config = "\n[mcp_servers.broken]\ncommand = \"corral-no-such-mcp-server\"\n";
    let Some((sandbox, _mock, mut s)) = start_with(
        "capture_app_server_mcp_startup_failed",
        vec![Reply::text("No tools needed.")],
        &[],
        config,
    ) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "say hello");
    completed(&mut s);
    done(s, &sandbox, "mcp_startup_failed");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_mcp_tool_error() {
    // The adder answers `isError: true` when an addend is no number.
    let script = adder_script(json!({"a": "two", "b": 3}), "The adder refused.");
    let Some((sandbox, _mock, mut s)) = start_with(
        "capture_app_server_mcp_tool_error",
        script,
        &[],
        &adder_config(),
    ) else {
        return;
    };
    let thread = open_with(&mut s, &sandbox, "never", "danger-full-access");
    turn(&mut s, &thread, "Add two and 3 with the adder tool.");
    completed(&mut s);
    done(s, &sandbox, "mcp_tool_error");
}

/// Under `untrusted`, codex asks before an MCP tool runs, as an
/// `mcpServer/elicitation/request` marked `codex_approval_kind:
/// "mcp_tool_call"`; answered as MCP elicitations are.
fn mcp_asked(name: &str, action: &str) {
    let test = format!("capture_app_server_{name}");
    let Some((sandbox, _mock, mut s)) =
        start_with(&test, super::adder_script(), &[], &adder_config())
    else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "Add 2 and 3 with the adder tool.");
    let request = s
        .wait_method("mcpServer/elicitation/request", WAIT)
        .expect("an MCP approval request");
    s.respond(
        &request["id"],
        json!({"action": action, "content": null, "_meta": null}),
    );
    completed(&mut s);
    done(s, &sandbox, name);
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_mcp_allow() {
    mcp_asked("mcp_allow", "accept");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_mcp_deny() {
    mcp_asked("mcp_deny", "decline");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_thinking() {
    use super::support::responses_mock::Item;
    let script = vec![Reply::Stream {
        parts: vec![
            Item::Reasoning("**Weighing the options**\n\nThe user wants one word.".into()),
            Item::Text("Ready.".into()),
        ],
        chunk_delay: Duration::from_millis(10),
    }];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_thinking", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "Think, then say one word.");
    completed(&mut s);
    done(s, &sandbox, "thinking");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_thinking_whole() {
    use super::support::responses_mock::Item;
    // A reasoning item the API sends only whole, with no deltas.
    let script = vec![Reply::Stream {
        parts: vec![
            Item::Whole(json!({"type": "reasoning", "id": "rs_mock_whole",
                "summary": [{"type": "summary_text",
                             "text": "**Weighing the options**\n\nThe user wants one word."}]})),
            Item::Text("Ready.".into()),
        ],
        chunk_delay: Duration::from_millis(10),
    }];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_thinking_whole", script, &[])
    else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "Think, then say one word.");
    completed(&mut s);
    done(s, &sandbox, "thinking_whole");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_text_whole() {
    use super::support::responses_mock::Item;
    // An answer the API sends only whole, with no text deltas.
    let script = vec![Reply::Stream {
        parts: vec![Item::Whole(
            json!({"type": "message", "id": "msg_mock_whole",
            "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": "Whole at once.", "annotations": []}]}),
        )],
        chunk_delay: Duration::from_millis(10),
    }];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_text_whole", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "say hello");
    completed(&mut s);
    done(s, &sandbox, "text_whole");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_text() {
    let Some((sandbox, _mock, mut s)) = start(
        "capture_app_server_text",
        vec![Reply::text("Hello over app-server.")],
        &[],
    ) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "say hello");
    completed(&mut s);
    done(s, &sandbox, "text");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_shell_allow() {
    let script = vec![Reply::shell("touch allowed.marker", "I will touch a file.")];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_shell_allow", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "touch the marker");
    approve(&mut s, "item/commandExecution/requestApproval", "accept");
    completed(&mut s);
    assert!(sandbox.work.join("allowed.marker").exists());
    done(s, &sandbox, "shell_allow");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_shell_always() {
    let script = vec![
        Reply::shell("touch always.marker", ""),
        Reply::shell("touch always.marker", "Once more."),
    ];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_shell_always", script, &[])
    else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "touch the marker twice");
    approve(
        &mut s,
        "item/commandExecution/requestApproval",
        "acceptForSession",
    );
    completed(&mut s);
    done(s, &sandbox, "shell_always");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_shell_deny() {
    let Some((sandbox, _mock, mut s)) = start(
        "capture_app_server_shell_deny",
        vec![Reply::shell("touch denied.marker", "")],
        &[],
    ) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "touch the marker");
    approve(&mut s, "item/commandExecution/requestApproval", "decline");
    completed(&mut s);
    assert!(!sandbox.work.join("denied.marker").exists());
    turn(
        &mut s,
        &thread,
        "I denied that: do not touch files, just say ok.",
    );
    completed(&mut s);
    done(s, &sandbox, "shell_deny");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_write() {
    let script = vec![Reply::add_file("notes.txt", "hello from the mock")];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_write", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "write notes.txt");
    approve(&mut s, "item/fileChange/requestApproval", "accept");
    completed(&mut s);
    assert!(sandbox.work.join("notes.txt").exists());
    done(s, &sandbox, "write");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_two_turns() {
    let script = vec![Reply::text("First answer."), Reply::text("Second answer.")];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_two_turns", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "first");
    completed(&mut s);
    turn(&mut s, &thread, "second");
    completed(&mut s);
    done(s, &sandbox, "two_turns");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_errors() {
    let script = vec![
        Reply::rate_limited(1),
        Reply::error(500, "mock failure"),
        Reply::error(500, "mock failure"),
        Reply::error(500, "mock failure"),
        Reply::error(500, "mock failure"),
    ];
    let provider = [("stream_max_retries", "1"), ("request_max_retries", "1")];
    let Some((sandbox, _mock, mut s)) = start("capture_app_server_errors", script, &provider)
    else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "fail please");
    completed(&mut s);
    done(s, &sandbox, "errors");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_interrupt() {
    let Some((sandbox, mock, mut s)) =
        start("capture_app_server_interrupt", vec![Reply::stall()], &[])
    else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    let turn_id = turn(&mut s, &thread, "take forever");
    assert!(mock.wait_for_model_requests(1, WAIT));
    std::thread::sleep(Duration::from_millis(500));
    let id = s.request(
        "turn/interrupt",
        json!({"threadId": thread, "turnId": turn_id}),
    );
    s.wait_response(id, WAIT).expect("interrupt answered");
    completed(&mut s);
    done(s, &sandbox, "interrupt");
}

#[test]
#[ignore = "captures fixtures from the real codex"]
fn capture_app_server_resume() {
    let script = vec![
        Reply::text("Remember apple."),
        Reply::text("The word was apple."),
    ];
    let Some((sandbox, mock, mut s)) = start("capture_app_server_resume", script, &[]) else {
        return;
    };
    let thread = open(&mut s, &sandbox);
    turn(&mut s, &thread, "remember apple");
    completed(&mut s);
    done(s, &sandbox, "resume_turn1");
    let mut command = Command::new(&sandbox.agent);
    command
        .arg("app-server")
        .current_dir(&sandbox.work)
        .env_clear()
        .envs(sandbox.codex_env(mock.port()));
    let mut s = StdioSession::start(command);
    let id = s.request(
        "initialize",
        json!({"clientInfo": {"name": "corral", "title": "corral", "version": "0.1.0"}}),
    );
    s.wait_response(id, WAIT).expect("initialize answered");
    s.notify("initialized", json!({}));
    let id = s.request(
        "thread/resume",
        json!({"threadId": thread, "cwd": sandbox.work.display().to_string(), "approvalPolicy": "untrusted", "sandbox": "workspace-write"}),
    );
    s.wait_response(id, WAIT).expect("thread/resume answered");
    turn(&mut s, &thread, "which word?");
    completed(&mut s);
    done(s, &sandbox, "resume_turn2");
}
