//! Answering a real claude from the cockpit, in a real terminal: the real
//! `corral` binary in tmux drives the real Claude Code CLI against the
//! scripted loopback model, and every answer is given with the cockpit's
//! keys, as a user would.
//!
//! One conversation: the model asks two questions at once (a single
//! choice, answered by moving to an option and Enter; a multi-select,
//! answered with Space and Enter), then asks to run a `touch` that needs
//! approval (denied with `n` and a message: the file must not appear),
//! asks again (allowed with `y`: the file appears), and ends its turn. A
//! follow-up typed with `m` continues the same live session: the model
//! asks for another command (allowed always with `a`) and then runs the
//! same command again without asking. The mock's recorded requests prove
//! what the model received; a tmux hook proves the bell rang once per
//! question, not on every redraw.
//!
//! The same with the real gemini over ACP and the real codex over its app
//! server (a denial's message follows as the next prompt or turn of the
//! same session), each ending with a kill mid-turn that must leave no agent
//! process.
//!
//! And `corral run --agent codex|gemini` at a terminal asks on the terminal
//! as it does for claude: `n` with a message, then `y`; and a codex thread
//! resumes live (`thread/resume`) after the cockpit restarts.
//!
//! Skipped loudly when tmux or the real claude is missing (a failure with
//! `CORRAL_REQUIRE_E2E=1`). Every wait is bounded.

mod support;
#[path = "support/tmux.rs"]
mod tmux;

use serde_json::json;
use support::anthropic_mock::{MockAnthropic, Reply};
use support::{Sandbox, claude_or_skip};
use tmux::Tmux;

/// The shell line that starts the test's corral with exactly `env`.
fn corral_line(env: &[(String, String)], args: &[&str]) -> String {
    support::shell_line(
        env,
        std::path::Path::new(env!("CARGO_BIN_EXE_corral")),
        args,
    )
}

/// How long the first question may take: the agent starts, then asks
/// (gemini needs several seconds to start when the machine is busy).
const AGENT_START: std::time::Duration = std::time::Duration::from_secs(60);

const MARKER: &str = "corral-answer-marker.txt";
const OTHER: &str = "corral-answer-other.txt";

/// The cockpit's answer to a tool approval, as every agent gets it: `n`
/// with a message on the approval of `tool` (showing `command`; waited for
/// up to `first_wait`), then `y` when the agent asks again ("Trying
/// again."). `marker` appears only after `y`; the turn ends with `done`.
fn deny_with_a_message_then_allow(
    tmux: &Tmux,
    first_wait: std::time::Duration,
    tool: &str,
    command: &str,
    marker: &std::path::Path,
    done: &str,
) {
    let screen = tmux.wait_up_to(first_wait, "the approval", |s| {
        s.contains(&format!("allow {tool}?")) && s.contains("y allow once")
    });
    assert!(screen.contains(command), "{screen}");
    tmux.keys(&["n"]);
    tmux.wait_for("the message field", |s| {
        s.contains("A message for the agent")
    });
    tmux.text("not in this directory");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the second approval", |s| {
        s.contains("Trying again.") && s.contains("y allow once")
    });
    assert!(!marker.exists(), "a denied command must not run");
    tmux.keys(&["y"]);
    tmux.wait_for("the turn to end", |s| {
        s.contains(done) && s.contains("succeeded")
    });
    assert!(marker.exists(), "an allowed command runs");
}

fn two_questions() -> Reply {
    Reply::tool_use(
        "AskUserQuestion",
        json!({"questions": [
            {"question": "Which colour should the widget be?", "header": "Colour",
             "multiSelect": false, "options": [
                {"label": "Red", "description": "A red widget"},
                {"label": "Blue", "description": "A blue widget"}]},
            {"question": "Which platforms should it ship for?", "header": "Targets",
             "multiSelect": true, "options": [
                {"label": "linux", "description": "x86_64"},
                {"label": "macos", "description": "universal"},
                {"label": "windows", "description": "MSVC"}]}
        ]}),
        "I need to ask you something first.",
    )
}

#[test]
fn questions_denial_approval_follow_up_and_allow_always_with_the_real_claude() {
    if !Tmux::available_or_skip("tui_answer_e2e") {
        return;
    }
    let Some(claude) = claude_or_skip("tui_answer_e2e") else {
        return;
    };
    let touch = format!("touch {MARKER} && echo created");
    let other = format!("touch {OTHER} && echo other");
    let mock = MockAnthropic::start(vec![
        two_questions(),
        // After the answers: the tool that needs approval, denied...
        Reply::bash(&touch, "Let me create a marker file."),
        // ...then asked again in the same turn, allowed.
        Reply::bash(&touch, "Trying again."),
        // The turn ends, echoing the tool result.
        Reply::auto(),
        // The follow-up: a command allowed always, then the same again.
        Reply::bash(&other, "Another file."),
        Reply::bash(&other, "Once more, same command."),
        Reply::auto(),
    ]);
    let sandbox = Sandbox::new(&claude);
    let marker = sandbox.work.join(MARKER);
    let env = sandbox.with_corral_dirs(sandbox.env(mock.port()));
    let command = corral_line(
        &env,
        &["--local", "--cwd", &sandbox.work.display().to_string()],
    );
    let tmux = Tmux::start(&command, 120, 36);
    // Every bell corral rings leaves a line in this file.
    let bells = sandbox.root().join("bells");
    let hook = format!("run-shell 'echo bell >> {}'", bells.display());
    tmux.cmd(&["set-option", "-g", "monitor-bell", "on"]);
    tmux.cmd(&["set-option", "-g", "bell-action", "any"]);
    tmux.cmd(&["set-hook", "-g", "alert-bell", &hook]);
    let rings = || {
        std::fs::read_to_string(&bells)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    tmux.wait_for("the cockpit", |s| s.contains("no tasks yet"));

    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("Ctrl-S"));
    tmux.text("build the widget");
    tmux.keys(&["C-s"]);

    // Two questions in one request: move to Blue, Enter; then tick linux
    // and windows, Enter.
    tmux.wait_for("the first question", |s| {
        s.contains("[Colour] Which colour should the widget be?") && s.contains("2. Blue")
    });
    tmux.wait_for("the waiting count", |s| s.contains("1 waiting for you"));
    tmux.keys(&["Down"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("the second question", |s| {
        s.contains("✓ Which colour should the widget be? → Blue") && s.contains("[ ] 3. windows")
    });
    tmux.keys(&["Space"]);
    tmux.keys(&["Down"]);
    tmux.keys(&["Down"]);
    tmux.keys(&["Space"]);
    tmux.wait_for("two ticks", |s| {
        s.contains("[x] 1. linux") && s.contains("[x] 3. windows")
    });
    tmux.keys(&["Enter"]);

    // The approval: deny, with a message for the agent; asked again in
    // the same turn: allow once.
    deny_with_a_message_then_allow(
        &tmux,
        tmux::WAIT,
        "Bash",
        &format!("$ {touch}"),
        &marker,
        "It returned: created -- done.",
    );

    // A follow-up in the same live session; allow the next command always.
    tmux.keys(&["m"]);
    tmux.wait_for("the message line", |s| {
        s.contains("message to #1 claude (live, same session)")
    });
    tmux.text("now the other file");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the third approval", |s| {
        s.contains("Another file.") && s.contains("a always: this command")
    });
    tmux.keys(&["a"]);
    let screen = tmux.wait_for("the second turn to end", |s| {
        s.contains("It returned: other -- done.")
    });
    assert!(
        screen.contains("you allowed it always for this task"),
        "the repeat was allowed by the rule, without asking:\n{screen}"
    );
    assert!(sandbox.work.join(OTHER).exists());

    // What the model received.
    let requests = mock.message_requests();
    let results: Vec<(String, bool)> = requests
        .last()
        .map(|r| r.tool_results())
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.content, t.is_error))
        .collect();
    let answer = results
        .iter()
        .find(|(c, _)| c.contains("Which colour should the widget be?"))
        .unwrap_or_else(|| panic!("no answer reached the model: {results:?}"));
    assert!(
        answer
            .0
            .contains("\"Which colour should the widget be?\"=\"Blue\"")
            && answer
                .0
                .contains("\"Which platforms should it ship for?\"=\"linux, windows\""),
        "the model got both chosen answers: {answer:?}"
    );
    assert!(
        results
            .iter()
            .any(|(c, e)| *e && c.contains("not in this directory")),
        "the model got the denial and its message: {results:?}"
    );
    assert!(
        results.iter().any(|(c, e)| !e && c.trim() == "created"),
        "the model got the allowed tool's output: {results:?}"
    );
    assert_eq!(
        results
            .iter()
            .filter(|(c, e)| !e && c.trim() == "other")
            .count(),
        2,
        "allowed always: the command ran twice: {results:?}"
    );
    let follow_up = requests
        .iter()
        .find(|r| r.last_user_text().contains("now the other file"))
        .expect("the follow-up reached the model");
    assert!(
        follow_up
            .messages()
            .iter()
            .any(|m| m.to_string().contains("build the widget")),
        "the follow-up carries the whole conversation"
    );

    // One bell per question or approval the user had to answer (the
    // questions, the two touch approvals, the first `other`), none for
    // the repeat that the rule allowed and none for redraws.
    let end = std::time::Instant::now() + tmux::WAIT;
    while rings() < 4 && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(rings(), 4, "one bell per wait");

    tmux.keys(&["q"]);
    let end = std::time::Instant::now() + tmux::WAIT;
    while tmux.alive() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!tmux.alive(), "corral quit; screen:\n{}", tmux.capture());
}

/// The same answers to the real gemini over ACP: `n` with a message (the
/// command does not run; the message reaches the model as the next prompt
/// of the same session), `y` (it runs), a follow-up with `m` into the same
/// process, `a` (the same command runs again without asking), then a kill
/// mid-turn that leaves no process behind.
#[test]
fn denial_approval_follow_up_allow_always_and_kill_with_the_real_gemini_over_acp() {
    use support::gemini_mock::{MockGemini, Reply as GeminiReply};
    if !Tmux::available_or_skip("tui_answer_e2e") {
        return;
    }
    let Some(gemini) = support::gemini_or_skip("tui_answer_e2e_gemini") else {
        return;
    };
    let mock = MockGemini::start(walk_script(
        GeminiReply::shell,
        GeminiReply::text,
        GeminiReply::stall(),
    ));
    let sandbox = Sandbox::for_agent("gemini", &gemini);
    sandbox.write_gemini_settings(None);
    let env = sandbox.with_corral_dirs(sandbox.gemini_env(mock.port()));
    let tmux = launch_make_the_marker(&env, &sandbox, "gemini", 122);

    deny_allow_follow_up_always_and_kill(
        &tmux,
        &sandbox,
        "run_shell_command",
        AGENT_START,
        || {
            mock.stream_requests()
                .iter()
                .map(|r| r.texts_of("user"))
                .collect()
        },
        |n| mock.wait_for_stream_requests(n, tmux::WAIT),
    );
}

/// The same answers to the real codex over `codex app-server`: `n` with a
/// message (the command does not run; the message reaches the model as the
/// next turn of the same thread), `y` (it runs), a follow-up with `m` into
/// the same process, `a` (the same command runs again without asking), then
/// a kill mid-turn (turn/interrupt, then signals) that leaves no process.
#[test]
fn denial_approval_follow_up_allow_always_and_kill_with_the_real_codex_app_server() {
    use support::responses_mock::{MockResponses, Reply as CodexReply};
    if !Tmux::available_or_skip("tui_answer_e2e") {
        return;
    }
    let Some(codex) = support::codex_or_skip("tui_answer_e2e_codex") else {
        return;
    };
    let mock = MockResponses::start(walk_script(
        CodexReply::shell,
        CodexReply::text,
        CodexReply::stall(),
    ));
    let sandbox = Sandbox::for_agent("codex", &codex);
    sandbox.write_codex_config(mock.port(), &[]);
    let env = sandbox.with_corral_dirs(sandbox.codex_env(mock.port()));
    let tmux = launch_make_the_marker(&env, &sandbox, "codex", 124);

    deny_allow_follow_up_always_and_kill(
        &tmux,
        &sandbox,
        "shell",
        tmux::WAIT,
        || {
            mock.model_requests()
                .iter()
                .map(|r| r.texts_of("user"))
                .collect()
        },
        |n| mock.wait_for_model_requests(n, tmux::WAIT),
    );
}

/// What the model says in [`deny_allow_follow_up_always_and_kill`], in
/// the mock's own replies (`shell(command, preface)`, `text`, a stall):
/// asks to touch the marker, hears the denial and ends the turn, tries
/// again when the denial's message arrives, then in the follow-up asks
/// for another command, runs it again without asking, and in the second
/// follow-up stalls until killed.
fn walk_script<R>(shell: fn(&str, &str) -> R, text: fn(&str) -> R, stall: R) -> Vec<R> {
    vec![
        shell(&format!("touch {MARKER}"), "Let me create a marker file."),
        text("Understood, I did not create it."),
        shell(&format!("touch {MARKER}"), "Trying again."),
        text("Created the marker."),
        shell(&format!("touch {OTHER}"), "Another file."),
        shell(&format!("touch {OTHER}"), "Once more, same command."),
        text("Both done."),
        stall,
    ]
}

/// The cockpit (`--local --agent AGENT`) in tmux at `width` columns (its
/// own: the tmux server's socket is named by pid and width, and the tests
/// run side by side), with the task "make the marker" launched from the
/// form.
fn launch_make_the_marker(
    env: &[(String, String)],
    sandbox: &Sandbox,
    agent: &str,
    width: u16,
) -> Tmux {
    let work = sandbox.work.display().to_string();
    let command = corral_line(env, &["--local", "--agent", agent, "--cwd", &work]);
    let tmux = Tmux::start(&command, width, 36);
    tmux.wait_for("the cockpit", |s| s.contains("no tasks yet"));
    tmux.keys(&["n"]);
    tmux.wait_for("the form", |s| s.contains("Ctrl-S"));
    tmux.text("make the marker");
    tmux.keys(&["C-s"]);
    tmux
}

/// The cockpit's answers to a live agent that asks before `touch MARKER`
/// (the approval box titled `allow TOOL?`, within `first_wait`): `n` with a
/// message (the command does not run; the message reaches the model), `y`
/// (it runs), a follow-up with `m` into the same process, `a` (the same
/// command runs again without asking), then a kill mid-turn that leaves no
/// process, and `q`. `user_texts` gives the user texts of each model
/// request so far; `wait_for_requests(n)` waits until the model had `n`.
fn deny_allow_follow_up_always_and_kill(
    tmux: &Tmux,
    sandbox: &Sandbox,
    tool: &str,
    first_wait: std::time::Duration,
    user_texts: impl Fn() -> Vec<Vec<String>>,
    wait_for_requests: impl Fn(usize) -> bool,
) {
    let marker = sandbox.work.join(MARKER);
    deny_with_a_message_then_allow(
        tmux,
        first_wait,
        tool,
        &format!("touch {MARKER}"),
        &marker,
        "Created the marker.",
    );

    tmux.keys(&["m"]);
    tmux.wait_for("the message line", |s| s.contains("(live, same session)"));
    tmux.text("now the other file");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the third approval", |s| {
        s.contains("Another file.") && s.contains("a always: this command")
    });
    tmux.keys(&["a"]);
    let screen = tmux.wait_for("the second turn to end", |s| s.contains("Both done."));
    assert!(
        screen.contains("you allowed it always for this task"),
        "the repeat was allowed by the rule, without asking:\n{screen}"
    );
    assert!(sandbox.work.join(OTHER).exists());

    // What the model received: the denial's message as a user turn, and
    // one live session for the whole conversation (one history).
    let turns = user_texts();
    assert!(
        turns
            .iter()
            .any(|texts| texts.iter().any(|t| t.contains("not in this directory"))),
        "the denial's message reached the model"
    );
    let last = turns.last().expect("requests");
    assert!(
        last.iter().any(|t| t.contains("make the marker")),
        "the follow-up carries the whole conversation"
    );

    // A turn that stalls, killed with x then y: nothing is left.
    tmux.keys(&["m"]);
    tmux.wait_for("the message line", |s| s.contains("(live, same session)"));
    tmux.text("one more thing");
    tmux.keys(&["Enter"]);
    assert!(wait_for_requests(turns.len() + 1));
    tmux.keys(&["x"]);
    tmux.keys(&["y"]);
    tmux.wait_for("the kill", |s| s.contains("killed"));
    // corral itself (and its watchdog) carry the sandbox's marker too.
    let agent_left = || {
        let mut left = sandbox.leftover_processes();
        left.retain(|(_, cmd)| {
            !cmd.contains(env!("CARGO_BIN_EXE_corral")) && !cmd.contains("__corral-watchdog")
        });
        left
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !agent_left().is_empty() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        agent_left().is_empty(),
        "processes left after the kill: {:?}",
        agent_left()
    );

    tmux.keys(&["q"]);
    let end = std::time::Instant::now() + tmux::WAIT;
    while tmux.alive() && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!tmux.alive(), "corral quit; screen:\n{}", tmux.capture());
}

/// Runs `corral run --agent AGENT -- 'make the marker'` in tmux with `env`
/// and answers at the terminal: `n` with a message, then `y`. Returns the
/// last screen, which ends with corral's exit code.
fn answer_corral_run_at_the_terminal(
    agent: &str,
    env: Vec<(String, String)>,
    sandbox: &Sandbox,
    width: u16,
) -> String {
    let marker = sandbox.work.join(MARKER);
    // The shell stays to show corral's exit code.
    let work = sandbox.work.display().to_string();
    let run = corral_line(
        &env,
        &[
            "run",
            "--agent",
            agent,
            "--cwd",
            &work,
            "--",
            "make the marker",
        ],
    );
    let command = format!("{run}; echo corral-exit=$?; sleep 600");
    let tmux = Tmux::start(&command, width, 36);
    let screen = tmux.wait_up_to(AGENT_START, "the question", |s| {
        s.contains("[y] allow once")
    });
    assert!(screen.contains(&format!("touch {MARKER}")), "{screen}");
    tmux.text("n");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the message prompt", |s| {
        s.contains("message for the agent")
    });
    tmux.text("not in this directory");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the second question", |s| {
        s.contains("Trying again.") && s.matches("[y] allow once").count() == 2
    });
    assert!(!marker.exists(), "a denied command must not run");
    tmux.text("y");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the end", |s| s.contains("corral-exit="));
    assert!(screen.contains("corral-exit=0"), "{screen}");
    assert!(screen.contains("Created the marker."), "{screen}");
    assert!(marker.exists(), "an allowed command runs");
    screen
}

/// `corral run --agent codex|gemini` at a terminal asks like it does for
/// claude: `n` with a message (nothing runs; the message reaches the model
/// as the next turn or prompt), then `y` (the command runs), and the run
/// ends succeeded.
#[test]
fn corral_run_with_the_real_codex_and_gemini_asks_at_the_terminal() {
    use support::gemini_mock::{MockGemini, Reply as GeminiReply};
    use support::responses_mock::{MockResponses, Reply as CodexReply};
    if !Tmux::available_or_skip("tui_answer_e2e") {
        return;
    }
    if let Some(codex) = support::codex_or_skip("tui_answer_e2e_codex_run") {
        let mock = MockResponses::start(vec![
            CodexReply::shell(&format!("touch {MARKER}"), "Let me create a marker file."),
            CodexReply::text("Understood, I did not create it."),
            CodexReply::shell(&format!("touch {MARKER}"), "Trying again."),
            CodexReply::text("Created the marker."),
        ]);
        let sandbox = Sandbox::for_agent("codex", &codex);
        sandbox.write_codex_config(mock.port(), &[]);
        let env = sandbox.with_corral_dirs(sandbox.codex_env(mock.port()));
        answer_corral_run_at_the_terminal("codex", env, &sandbox, 126);
        assert!(
            mock.model_requests()
                .iter()
                .any(|r| r.last_user_text().contains("not in this directory")),
            "the denial's message reached codex's model"
        );
    }
    if let Some(gemini) = support::gemini_or_skip("tui_answer_e2e_gemini_run") {
        let mock = MockGemini::start(vec![
            GeminiReply::shell(&format!("touch {MARKER}"), "Let me create a marker file."),
            GeminiReply::text("Understood, I did not create it."),
            GeminiReply::shell(&format!("touch {MARKER}"), "Trying again."),
            GeminiReply::text("Created the marker."),
        ]);
        let sandbox = Sandbox::for_agent("gemini", &gemini);
        sandbox.write_gemini_settings(None);
        let env = sandbox.with_corral_dirs(sandbox.gemini_env(mock.port()));
        answer_corral_run_at_the_terminal("gemini", env, &sandbox, 128);
        assert!(
            mock.stream_requests().iter().any(|r| r
                .texts_of("user")
                .iter()
                .any(|t| t.contains("not in this directory"))),
            "the denial's message reached gemini's model"
        );
    }
}

/// A codex task resumed after the cockpit restarted: the stored thread
/// comes back in a new `codex app-server` process (`thread/resume`), the
/// model gets the whole history, and the resumed session is live again (a
/// command is asked and allowed with `y`).
#[test]
fn a_codex_thread_resumes_live_after_the_cockpit_restarts() {
    use support::responses_mock::{MockResponses, Reply as CodexReply};
    if !Tmux::available_or_skip("tui_answer_e2e") {
        return;
    }
    let Some(codex) = support::codex_or_skip("tui_answer_e2e_codex_restart") else {
        return;
    };
    let mock = MockResponses::start(vec![
        CodexReply::text("Noted: the codeword is PINEAPPLE."),
        CodexReply::shell(&format!("touch {MARKER}"), "The codeword was PINEAPPLE."),
        CodexReply::text("Marked."),
    ]);
    let sandbox = Sandbox::for_agent("codex", &codex);
    sandbox.write_codex_config(mock.port(), &[]);
    let env = sandbox.with_corral_dirs(sandbox.codex_env(mock.port()));
    let command = corral_line(
        &env,
        &[
            "--local",
            "--agent",
            "codex",
            "--cwd",
            &sandbox.work.display().to_string(),
        ],
    );
    let quit = |tmux: &Tmux| {
        tmux.keys(&["q"]);
        let end = std::time::Instant::now() + tmux::WAIT;
        while tmux.alive() && std::time::Instant::now() < end {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!tmux.alive(), "corral quit; screen:\n{}", tmux.capture());
    };
    {
        let tmux = Tmux::start(&command, 130, 36);
        tmux.wait_for("the cockpit", |s| s.contains("no tasks yet"));
        tmux.keys(&["n"]);
        tmux.wait_for("the form", |s| s.contains("Ctrl-S"));
        tmux.text("remember the codeword PINEAPPLE");
        tmux.keys(&["C-s"]);
        tmux.wait_for("the answer", |s| {
            s.contains("Noted: the codeword is PINEAPPLE.") && s.contains("succeeded")
        });
        quit(&tmux);
    }
    let tmux = Tmux::start(&command, 130, 36);
    tmux.wait_for("the stored task", |s| {
        s.contains("remember the codeword") && s.contains("succeeded")
    });
    tmux.keys(&["m"]);
    tmux.wait_for("the message line", |s| s.contains("message to #1"));
    tmux.text("and touch the marker");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the approval", |s| {
        s.contains("allow shell?") && s.contains("y allow once")
    });
    assert!(screen.contains("The codeword was PINEAPPLE."), "{screen}");
    tmux.keys(&["y"]);
    // The row says so once the turn has ended (the text comes first).
    tmux.wait_for("the turn to end", |s| {
        s.contains("Marked.")
            && s.lines()
                .any(|l| l.starts_with("✓ 1") && l.contains("succeeded"))
    });
    assert!(
        sandbox.work.join(MARKER).exists(),
        "the resumed session ran it"
    );
    let requests = mock.model_requests();
    let resumed = requests
        .iter()
        .find(|r| r.last_user_text().contains("and touch the marker"))
        .expect("the message reached the model");
    assert!(
        resumed
            .texts_of("assistant")
            .iter()
            .any(|t| t.contains("Noted: the codeword is PINEAPPLE.")),
        "the resumed thread carries the first turn"
    );
    quit(&tmux);
}
