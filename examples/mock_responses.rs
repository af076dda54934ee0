//! A scripted loopback OpenAI Responses API for manual runs of codex (tmux
//! demos).
//!
//! `cargo run --example mock_responses -- --scenario todo_list` prints
//! `PORT=<n>` and serves on 127.0.0.1 until killed; each scenario serves one
//! run. Point codex at it with a `CODEX_HOME` whose `config.toml` names a
//! provider with `base_url = "http://127.0.0.1:<n>/v1"` and `wire_api =
//! "responses"` (see the transcripts README); for `todo_list` add
//! `[tools.update_plan] enabled = true`, or codex does not offer the model
//! its plan tool; for `mcp` add the adder MCP server of `tests/fixtures/mcp`
//! (`[mcp_servers.adder] command = "python3" args = ["<path>/adder_mcp.py"]`).
//! It never listens beyond loopback.

#[path = "../tests/support/http.rs"]
mod http;
#[path = "../tests/support/responses_mock.rs"]
mod responses_mock;
#[path = "../tests/support/scripted.rs"]
mod scripted;

use std::io::Write;
use std::time::Duration;

use responses_mock::{MockResponses, Reply, adder_script, fix_plan};
use serde_json::json;

const USAGE: &str = "usage: mock_responses [--scenario NAME]
scenarios:
  text       a short streamed answer
  todo_list  codex's plan tool three times (a step done each time, a few
             seconds apart), then `sleep 4` in the shell, then an answer
  mcp        the adder MCP server's `add` tool with a=2, b=3 (found by a
             tool search first, as codex defers MCP tools), then an answer";

fn scenario(name: &str) -> Option<Vec<Reply>> {
    // Slow enough to watch the plan move in the cockpit.
    let plan = |a: &str, b: &str, c: &str| fix_plan(a, b, c).paced(Duration::from_millis(1500));
    Some(match name {
        "text" => vec![Reply::text("Hello from the loopback mock model.")],
        "todo_list" => vec![
            plan("in_progress", "pending", "pending"),
            plan("completed", "in_progress", "pending"),
            plan("completed", "completed", "in_progress"),
            Reply::shell("sleep 4; echo tests passed", "Running the tests."),
            Reply::text("All three steps are done: the tests passed."),
        ],
        "mcp" => adder_script(json!({"a": 2, "b": 3}), "The adder says 2 + 3 = 5."),
        _ => return None,
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut name = "text".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scenario" | "-s" => match args.next() {
                Some(value) => name = value,
                None => exit_usage("--scenario needs a name"),
            },
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => exit_usage(&format!("unknown argument {other:?}")),
        }
    }
    let Some(script) = scenario(&name) else {
        exit_usage(&format!("unknown scenario {name:?}"));
    };
    let mock = MockResponses::start(script);
    println!("PORT={}", mock.port());
    let _ = std::io::stdout().flush();
    eprintln!(
        "mock_responses: scenario {name:?} on {} (Ctrl-C to stop)",
        mock.base_url()
    );
    loop {
        std::thread::park();
    }
}

fn exit_usage(message: &str) -> ! {
    eprintln!("mock_responses: {message}\n{USAGE}");
    std::process::exit(2);
}
