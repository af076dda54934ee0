//! Answering a real claude from the cockpit, in a real terminal: the real
//! `corral` binary in tmux drives the real Claude Code CLI against the
//! scripted loopback model. The model asks a multiple-choice question
//! (answered with the arrow keys and Enter), then asks to run a `touch`
//! that needs approval (denied with `n` and a message: the file must not
//! appear); a follow-up typed with `m` continues the same live session,
//! the model asks again and `y` allows it (the file appears). The mock's
//! recorded requests prove what the model received.
//!
//! Skipped loudly when tmux or the real claude is missing (a failure with
//! `CORRAL_REQUIRE_E2E=1`). Every wait is bounded.

mod support;
#[path = "support/tmux.rs"]
mod tmux;

use support::anthropic_mock::{MockAnthropic, Reply};
use support::{Sandbox, claude_or_skip};
use tmux::Tmux;

/// Quotes `s` for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn question_denial_follow_up_and_approval_with_the_real_claude() {
    if !Tmux::available() {
        assert!(
            std::env::var("CORRAL_REQUIRE_E2E").as_deref() != Ok("1"),
            "tmux is required"
        );
        eprintln!("SKIPPED: tmux is not installed");
        return;
    }
    let Some(claude) =
        claude_or_skip("question_denial_follow_up_and_approval_with_the_real_claude")
    else {
        return;
    };
    let touch = "touch corral-answer-marker.txt && echo created";
    let mock = MockAnthropic::start(vec![
        Reply::ask_user_question(
            "Which colour should the widget be?",
            "Colour",
            &[("Red", "A red widget"), ("Blue", "A blue widget")],
            false,
        ),
        // After the answer: the tool that needs approval.
        Reply::bash(touch, "Let me create a marker file."),
        // After the denial: the turn ends, echoing the tool result.
        Reply::auto(),
        // The follow-up: the same tool again.
        Reply::bash(touch, "Trying again."),
        Reply::auto(),
    ]);
    let sandbox = Sandbox::new(&claude);
    let marker = sandbox.work.join("corral-answer-marker.txt");
    let mut env = sandbox.env(mock.port());
    let state = sandbox.root().join("corral");
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
    ] {
        env.push((var.into(), state.join(dir).display().to_string()));
    }
    let assignments: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k}={}", sh_quote(v)))
        .collect();
    let command = format!(
        "env -i {} {} --cwd {}",
        assignments.join(" "),
        sh_quote(env!("CARGO_BIN_EXE_corral")),
        sh_quote(&sandbox.work.display().to_string())
    );
    let tmux = Tmux::start(&command, 120, 36);
    tmux.wait_for("the cockpit", |s| s.contains("no tasks yet"));

    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("Ctrl-S"));
    tmux.text("build the widget");
    tmux.keys(&["C-s"]);

    // The question, as a list: the second option, Enter.
    tmux.wait_for("the question", |s| {
        s.contains("Which colour should the widget be?") && s.contains("2. Blue")
    });
    tmux.keys(&["Down"]);
    tmux.keys(&["Enter"]);

    // The approval: deny, with a message for the agent.
    tmux.wait_for("the approval", |s| s.contains("y allow once"));
    tmux.keys(&["n"]);
    tmux.wait_for("the message field", |s| s.contains("optional message"));
    tmux.text("not in this directory");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the turn to end", |s| s.contains("✓ succeeded"));
    assert!(!marker.exists(), "a denied tool must not run");

    // A follow-up in the same live session; this time allow.
    tmux.keys(&["m"]);
    tmux.wait_for("the message line", |s| s.contains("message to #"));
    tmux.text("please try again");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the second approval", |s| {
        s.contains("Trying again.") && s.contains("y allow once")
    });
    tmux.keys(&["y"]);
    tmux.wait_for("the allowed tool's result", |s| s.contains("← created"));
    assert!(marker.exists(), "an allowed tool runs");
    // The model's answer quotes the result: by then the mock has it.
    tmux.wait_for("the turn to end", |s| {
        s.contains("It returned: created -- done.")
    });

    let requests = mock.message_requests();
    let results: Vec<String> = requests
        .iter()
        .flat_map(|r| r.tool_results())
        .map(|t| t.content)
        .collect();
    assert!(
        results
            .iter()
            .any(|r| r.contains("\"Which colour should the widget be?\"=\"Blue\"")),
        "the model got the chosen answer: {results:?}"
    );
    assert!(
        results.iter().any(|r| r.contains("not in this directory")),
        "the model got the denial message: {results:?}"
    );
    assert!(
        results.iter().any(|r| r == "created"),
        "the model got the allowed tool's output: {results:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.last_user_text().contains("please try again")),
        "the follow-up reached the model in the same conversation"
    );

    tmux.keys(&["q"]);
    let end = std::time::Instant::now() + tmux::WAIT;
    while tmux.alive() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!tmux.alive(), "corral quit; screen:\n{}", tmux.capture());
}
