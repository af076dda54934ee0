//! Issue 16 with the real gemini through the corral server: an ACP session
//! idle past `idle_session_close` is closed, and the next `corral send`
//! resumes it (gemini 0.61.0's `session/load` finds no stored session, so
//! over `--resume` in one-shot mode, which the transcript says) with the
//! history.

use serde_json::Value;

use super::support::gemini_mock::Reply;
use super::support::served::{self, Served};

#[test]
fn an_idle_closed_gemini_session_resumes_on_the_next_message_with_its_history() {
    let first_prompt = "Remember the codeword PINEAPPLE.";
    let first_answer = "Noted: the codeword is PINEAPPLE.";
    let second_prompt = "What was the codeword?";
    let second_answer = "The codeword was PINEAPPLE.";
    let Some((sandbox, mock)) = super::setup(
        "gemini_idle_close_resume",
        vec![Reply::text(first_answer), Reply::text(second_answer)],
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
    let corral = Served::new(
        &sandbox,
        sandbox.gemini_env(mock.port()),
        "[defaults]\nidle_session_close = 1\n",
        &saw,
    );
    let acp_agents = || {
        sandbox
            .leftover_processes()
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains("--acp"))
            .count()
    };

    let id = corral.detach(&["--agent", "gemini"], first_prompt);
    let log = corral.wait_events(&id, "the idle close", |events| {
        served::notices(events)
            .iter()
            .any(|n| n == "idle for 1s: session closed, a follow-up resumes it")
    });
    assert!(
        served::wait_for(|| acp_agents() == 0),
        "gemini --acp still runs after the close: {:?}",
        sandbox.leftover_processes()
    );
    assert_eq!(
        corral.status(&id),
        "succeeded",
        "an idle session is not running"
    );
    let session = served::session_of(&log);

    corral.ok(&["send", &id, second_prompt]);
    let log = corral.wait_events(&id, "the answer to the follow-up", |events| {
        served::count(events, "finished") >= 2
    });
    let resumed = format!("session was closed after 1s idle; resumed from session {session}");
    assert!(served::notices(&log).contains(&resumed), "{log:#?}");
    let finished: Vec<&Value> = log.iter().filter(|e| e["type"] == "finished").collect();
    assert_eq!(finished[1]["status"], "succeeded", "{log:#?}");
    assert_eq!(finished[1]["result"], second_answer, "{log:#?}");

    let turns = mock.stream_requests();
    assert_eq!(turns.len(), 2, "one model call per turn");
    let users = turns[1].texts_of("user");
    assert!(
        users.iter().any(|t| t.contains(first_prompt)),
        "the first prompt is in the resumed history: {users:?}"
    );
    assert!(
        users.last().is_some_and(|t| t.contains(second_prompt)),
        "{users:?}"
    );
    assert_eq!(
        turns[1].texts_of("model"),
        [first_answer],
        "the first answer is in the resumed history"
    );
}
