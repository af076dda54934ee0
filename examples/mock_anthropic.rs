//! A scripted loopback Anthropic Messages API for manual runs (tmux demos).
//!
//! `cargo run --example mock_anthropic -- --scenario tool` prints `PORT=<n>`
//! and serves on 127.0.0.1 until killed. Point claude (or corral) at it with
//! `ANTHROPIC_BASE_URL=http://127.0.0.1:<n> ANTHROPIC_API_KEY=dummy`. Each
//! new conversation replays the scenario. It never listens beyond loopback.

#[path = "../tests/support/anthropic_mock.rs"]
mod anthropic_mock;
// The mock's HTTP server, shared with the other mock model APIs.
#[path = "../tests/support/http.rs"]
mod http;
#[path = "../tests/support/scripted.rs"]
mod scripted;

use std::io::Write;
use std::time::Duration;

use anthropic_mock::{Block, MockAnthropic, Reply};

const SCENARIOS: &str = "text, tool, approval, question, slow, errors, stall, answer, subagent";

/// The prompt of the `subagent` scenario's subagent: the mock knows the
/// subagent's conversation by it.
const SUBAGENT_PROMPT: &str = "Run the slow check and report what it printed.";

const USAGE: &str = "usage: mock_anthropic [--scenario NAME] [--quiet]
scenarios:
  text      a short streamed answer
  tool      Bash `echo hi`, then echoes the tool result
  approval  Bash `touch corral-approval-marker.txt` (needs permission), then echoes the result
  question  AskUserQuestion (pick a colour), then echoes the answer
  slow      a long answer streamed over about 20 seconds
  errors    a 429 (retry-after 1), a 500, then a text answer
  stall     starts a stream and never finishes it
  answer    a tour of answering: two questions (one multi-select), then Read and
            Edit `notes.txt` (create it first; the edit needs approval), then
            Bash `touch corral-approval-marker.txt` (needs approval)
  subagent  a plan of three tasks (TaskCreate, TaskUpdate), a Task subagent that
            runs `sleep 6; echo from-subagent` (allow Task, Bash and the task
            tools), then the plan moves on and a slow answer closes it";

fn scenario(name: &str) -> Option<Vec<Reply>> {
    Some(match name {
        "text" => vec![Reply::text(anthropic_mock::DEFAULT_TEXT)],
        "tool" => vec![Reply::bash("echo hi", "Let me run a command.")],
        "approval" => vec![Reply::bash(
            "touch corral-approval-marker.txt && echo created",
            "Let me create a marker file.",
        )],
        "question" => vec![Reply::ask_user_question(
            "Which colour should the widget be?",
            "Colour",
            &[("Red", "A red widget"), ("Blue", "A blue widget")],
            false,
        )],
        "slow" => vec![Reply::slow_text(
            "This is a slow answer from the loopback mock model. It arrives a few \
             words at a time so that you can watch the live view update while the \
             agent is still working. Nothing here is real: the model is a script \
             on 127.0.0.1, the words are fixed, and the timing is made up. When \
             the last words arrive, the turn ends and the agent reports its usage \
             and cost like any other run.",
            Duration::from_secs(20),
        )],
        "errors" => vec![
            Reply::rate_limited(1),
            Reply::error(500, "Internal server error (mock)"),
            Reply::text("Recovered after a rate limit and a server error."),
        ],
        "stall" => vec![Reply::stall()],
        "answer" => vec![
            Reply::tool_use(
                "AskUserQuestion",
                serde_json::json!({"questions": [
                    {"question": "Which platforms should the release build for?",
                     "header": "Targets", "multiSelect": true, "options": [
                        {"label": "linux", "description": "x86_64 and aarch64"},
                        {"label": "macos", "description": "universal binary"},
                        {"label": "windows", "description": "MSVC toolchain"}]},
                    {"question": "Which colour should the widget be?",
                     "header": "Colour", "multiSelect": false, "options": [
                        {"label": "Red", "description": "A red widget"},
                        {"label": "Blue", "description": "A blue widget"}]}
                ]}),
                "Two questions before I start.",
            ),
            Reply::tool_use(
                "Read",
                serde_json::json!({"file_path": "notes.txt"}),
                "Let me read the notes.",
            ),
            Reply::tool_use(
                "Edit",
                serde_json::json!({
                    "file_path": "notes.txt",
                    "old_string": "colour: unknown",
                    "new_string": "colour: chosen by the user"
                }),
                "Now I update them.",
            ),
            Reply::bash(
                "touch corral-approval-marker.txt && echo created",
                "And a marker file.",
            ),
        ],
        "subagent" => {
            let create = |subject: &str, active: &str| Block::ToolUse {
                name: "TaskCreate".into(),
                input: serde_json::json!({"subject": subject, "description": subject,
                                          "activeForm": active}),
            };
            let update = |id: &str, status: &str| Block::ToolUse {
                name: "TaskUpdate".into(),
                input: serde_json::json!({"taskId": id, "status": status}),
            };
            let message = |blocks: Vec<Block>| Reply::Stream {
                parts: blocks,
                chunk_delay: Duration::from_millis(40),
            };
            vec![
                message(vec![
                    Block::Text("I will plan this first.".into()),
                    create("Survey the code", "Surveying the code"),
                    create("Run the slow check", "Running the slow check"),
                    create("Write the summary", "Writing the summary"),
                ]),
                message(vec![update("1", "completed"), update("2", "in_progress")]),
                Reply::tool_use(
                    "Task",
                    serde_json::json!({"description": "Run the slow check",
                                       "prompt": SUBAGENT_PROMPT,
                                       "subagent_type": "general-purpose"}),
                    "A subagent takes the slow check.",
                ),
                message(vec![update("2", "completed"), update("3", "in_progress")]),
                Reply::slow_text(
                    "The subagent ran the slow check and it printed from-subagent. \
                     Everything else is in order; this summary closes the plan.",
                    Duration::from_secs(6),
                ),
            ]
        }
        _ => return None,
    })
}

/// The subagent's own conversation in the `subagent` scenario.
fn subagent_script() -> Vec<Reply> {
    vec![
        Reply::bash("sleep 6; echo from-subagent", "Running the slow check."),
        Reply::text("The slow check printed from-subagent."),
    ]
}

fn main() {
    let mut name = "text".to_string();
    let mut quiet = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--scenario" | "-s" => match args.next() {
                Some(value) => name = value,
                None => exit_usage("--scenario needs a name"),
            },
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return;
            }
            other => match other.strip_prefix("--scenario=") {
                Some(value) => name = value.to_string(),
                None => exit_usage(&format!("unknown argument {other:?}")),
            },
        }
    }
    let Some(script) = scenario(&name) else {
        exit_usage(&format!("unknown scenario {name:?} (one of: {SCENARIOS})"));
    };
    let mock = MockAnthropic::start_looping(script);
    if name == "subagent" {
        for _ in 0..64 {
            // One subagent conversation per run the demo serves.
            mock.route(SUBAGENT_PROMPT, subagent_script());
        }
    }
    mock.set_logging(!quiet);
    println!("PORT={}", mock.port());
    let _ = std::io::stdout().flush();
    eprintln!(
        "mock_anthropic: scenario {name:?} on {} (Ctrl-C to stop)",
        mock.base_url()
    );
    loop {
        std::thread::park();
    }
}

fn exit_usage(message: &str) -> ! {
    eprintln!("mock_anthropic: {message}\n{USAGE}");
    std::process::exit(2);
}
