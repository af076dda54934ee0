//! Issue 16 with the real codex through the corral server: an app-server
//! session idle past `idle_session_close` is closed, and the next
//! `corral send` resumes its thread (`thread/resume`) with the history.

use super::support::responses_mock::Reply;
use super::support::served;
use super::support::walks::{CODEWORD, assert_resumed_history};

#[test]
fn an_idle_closed_codex_thread_resumes_on_the_next_message_with_its_history() {
    let turns = CODEWORD;
    let Some((sandbox, mock)) = super::setup(
        "codex_idle_close_resume",
        vec![
            Reply::text(turns.first_answer),
            Reply::text(turns.second_answer),
        ],
        &[],
    ) else {
        return;
    };
    let saw = || {
        format!(
            "the mock saw {} model requests",
            mock.model_requests().len()
        )
    };
    served::idle_close_and_resume(
        &sandbox,
        sandbox.codex_env(mock.port()),
        &saw,
        &["--agent", "codex"],
        "app-server",
        &turns,
    );

    let requests = mock.model_requests();
    assert_eq!(requests.len(), 2, "one model call per turn");
    let history = &requests[1];
    assert_resumed_history(
        &history.texts_of("user"),
        &history.texts_of("assistant"),
        &turns,
    );
}
