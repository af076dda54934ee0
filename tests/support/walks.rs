//! The walks the real-CLI tests of several agents share: the same steps
//! and the same checks, each agent bringing its own `corral run` (its
//! sandbox, its mock) and its own reading of what the mock saw.
//!
//! Each walk is said once here; a test file keeps what only its agent does
//! (its mock's script, its extra checks). Every run inside is bounded by
//! the `run` the caller gives.

use std::time::Duration;

use super::Sandbox;
use super::run::Run;

/// `corral run --agent A ARGS -- PROMPT` of one agent against its mock.
pub type AgentRun<'a> = &'a dyn Fn(&[&str], &str) -> Run;

/// The marker files of [`approve_policy`]: the mock's script must have the
/// agent `touch` the first under `--approve allow`, then the second under
/// `--approve deny`.
pub const APPROVED_MARKER: &str = "approved.marker";
pub const DENIED_MARKER: &str = "denied.marker";

/// Without a terminal, approvals follow `--approve`: `allow` runs the
/// command (answered by the policy); `deny` does not, and the policy's
/// reason reaches the model (`reason_reached` reads the mock) while the
/// run still succeeds.
pub fn approve_policy(sandbox: &Sandbox, run: AgentRun<'_>, reason_reached: &dyn Fn() -> bool) {
    let allowed = run(&["--approve", "allow"], "touch it");
    assert_eq!(allowed.code, Some(0), "{}", allowed.dump());
    assert!(
        sandbox.work.join(APPROVED_MARKER).exists(),
        "{}",
        allowed.dump()
    );
    assert_answered_by_policy(&allowed, "allow");

    let denied = run(&["--approve", "deny"], "touch the other");
    assert_eq!(denied.code, Some(0), "{}", denied.dump());
    assert!(!sandbox.work.join(DENIED_MARKER).exists());
    assert!(
        reason_reached(),
        "the policy's reason reached the model\n{}",
        denied.dump()
    );
    assert_eq!(
        denied.finished()["status"],
        "succeeded",
        "{}",
        denied.dump()
    );
}

/// The run's approval was answered `decision` by the policy.
pub fn assert_answered_by_policy(run: &Run, decision: &str) {
    assert!(
        run.of_type("answered")
            .iter()
            .any(|a| a["decision"] == decision && a["by"] == "policy"),
        "{}",
        run.dump()
    );
}

/// A model that never answers: the run with `--timeout SECS` ends
/// `timed_out` after the timeout (and well within `SECS + slack`), having
/// made one model request (`requests` reads the mock), and leaves no
/// process behind.
pub fn timed_out(
    sandbox: &Sandbox,
    run: AgentRun<'_>,
    secs: u64,
    slack: Duration,
    requests: &dyn Fn() -> usize,
) {
    let timeout = secs.to_string();
    let done = run(&["--timeout", &timeout], "Say something.");
    let limit = Duration::from_secs(secs);
    assert!(
        done.elapsed >= limit && done.elapsed < limit + slack,
        "a {secs} s timeout took {:?}\n{}",
        done.elapsed,
        done.dump()
    );
    assert_eq!(done.code, Some(1), "{}", done.dump());
    assert_eq!(done.finished()["status"], "timed_out", "{}", done.dump());
    assert_eq!(requests(), 1, "{}", done.dump());
    let left = sandbox.wait_no_leftovers(Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "processes left behind after the timeout: {left:?}"
    );
}

/// The prompts and answers of the resume walks (the mock's script answers
/// `first_answer`, then `second_answer`).
pub struct TwoTurns<'a> {
    pub first_prompt: &'a str,
    pub first_answer: &'a str,
    pub second_prompt: &'a str,
    pub second_answer: &'a str,
}

/// The codeword conversation the resume tests have.
pub const CODEWORD: TwoTurns<'static> = TwoTurns {
    first_prompt: "Remember the codeword PINEAPPLE.",
    first_answer: "Noted: the codeword is PINEAPPLE.",
    second_prompt: "What was the codeword?",
    second_answer: "The codeword was PINEAPPLE.",
};

/// `--resume` of the first run's session: the same session comes back
/// and answers the second prompt. Returns the session id.
pub fn resume(run: AgentRun<'_>, turns: &TwoTurns<'_>) -> String {
    let first = run(&[], turns.first_prompt);
    assert_eq!(first.finished()["status"], "succeeded", "{}", first.dump());
    let session = first.session_id();

    let second = run(&["--resume", &session], turns.second_prompt);
    assert_eq!(second.code, Some(0), "{}", second.dump());
    assert_eq!(second.session_id(), session, "the same session comes back");
    assert_eq!(second.text(), turns.second_answer);
    assert_eq!(second.finished()["session_id"], session.as_str());
    session
}

/// The model's request for the second turn of a resumed session carries
/// the first: `users` and `answers` are its user and model texts, oldest
/// first; the last user text is the second prompt.
pub fn assert_resumed_history(users: &[String], answers: &[String], turns: &TwoTurns<'_>) {
    assert!(
        users.iter().any(|t| t.contains(turns.first_prompt)),
        "the first prompt is in the resumed history: {users:?}"
    );
    assert!(
        users
            .last()
            .is_some_and(|t| t.contains(turns.second_prompt)),
        "the second prompt comes last: {users:?}"
    );
    assert!(
        answers.iter().any(|t| t.contains(turns.first_answer)),
        "the first answer is in the resumed history: {answers:?}"
    );
}
