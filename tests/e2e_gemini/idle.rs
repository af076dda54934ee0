//! Issue 16 with the real gemini through the corral server: an ACP session
//! idle past `idle_session_close` is closed, and the next `corral send`
//! resumes it (gemini 0.61.0's `session/load` finds no stored session, so
//! over `--resume` in one-shot mode, which the transcript says) with the
//! history.

use super::support::gemini_mock::Reply;
use super::support::served;
use super::support::walks::{CODEWORD, assert_resumed_history};

#[test]
fn an_idle_closed_gemini_session_resumes_on_the_next_message_with_its_history() {
    let turns = CODEWORD;
    let Some((sandbox, mock)) = super::setup(
        "gemini_idle_close_resume",
        vec![
            Reply::text(turns.first_answer),
            Reply::text(turns.second_answer),
        ],
        None,
    ) else {
        return;
    };
    let saw = || {
        format!(
            "the mock saw {} chat requests",
            mock.stream_requests().len()
        )
    };
    served::idle_close_and_resume(
        &sandbox,
        sandbox.gemini_env(mock.port()),
        &saw,
        &["--agent", "gemini"],
        "--acp",
        &turns,
    );

    let turns_seen = mock.stream_requests();
    assert_eq!(turns_seen.len(), 2, "one model call per turn");
    let history = &turns_seen[1];
    assert_resumed_history(
        &history.texts_of("user"),
        &history.texts_of("model"),
        &turns,
    );
}
