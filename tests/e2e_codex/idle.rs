//! Issue 16 with the real codex through the corral server: an app-server
//! session idle past `idle_session_close` is closed, and the next
//! `corral send` resumes its thread (`thread/resume`) with the history.

use serde_json::Value;

use super::support::responses_mock::Reply;
use super::support::served::{self, Served};

#[test]
fn an_idle_closed_codex_thread_resumes_on_the_next_message_with_its_history() {
    let first_prompt = "Remember the codeword PINEAPPLE.";
    let first_answer = "Noted: the codeword is PINEAPPLE.";
    let second_prompt = "What was the codeword?";
    let second_answer = "The codeword was PINEAPPLE.";
    let Some((sandbox, mock)) = super::setup(
        "codex_idle_close_resume",
        vec![Reply::text(first_answer), Reply::text(second_answer)],
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
    let corral = Served::new(
        &sandbox,
        sandbox.codex_env(mock.port()),
        "[defaults]\nidle_session_close = 1\n",
        &saw,
    );
    let app_servers = || {
        sandbox
            .leftover_processes()
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains("app-server"))
            .count()
    };

    let id = corral.detach(&["--agent", "codex"], first_prompt);
    let log = corral.wait_events(&id, "the idle close", |events| {
        served::notices(events)
            .iter()
            .any(|n| n == "idle for 1s: session closed, a follow-up resumes it")
    });
    assert!(
        served::wait_for(|| app_servers() == 0),
        "codex app-server still runs after the close: {:?}",
        sandbox.leftover_processes()
    );
    assert_eq!(
        corral.status(&id),
        "succeeded",
        "an idle session is not running"
    );
    let thread = served::session_of(&log);

    corral.ok(&["send", &id, second_prompt]);
    let log = corral.wait_events(&id, "the answer to the follow-up", |events| {
        served::count(events, "finished") >= 2
    });
    let resumed = format!("session was closed after 1s idle; resumed from session {thread}");
    assert!(served::notices(&log).contains(&resumed), "{log:#?}");
    let finished: Vec<&Value> = log.iter().filter(|e| e["type"] == "finished").collect();
    assert_eq!(finished[1]["status"], "succeeded", "{log:#?}");
    assert_eq!(finished[1]["result"], second_answer, "{log:#?}");
    assert_eq!(
        finished[1]["session_id"],
        thread.as_str(),
        "the same thread"
    );

    let requests = mock.model_requests();
    assert_eq!(requests.len(), 2, "one model call per turn");
    let history = &requests[1];
    assert!(history.last_user_text().contains(second_prompt));
    assert!(
        history
            .texts_of("user")
            .iter()
            .any(|t| t.contains(first_prompt)),
        "the first prompt is in the resumed history: {:?}",
        history.texts_of("user")
    );
    assert!(
        history
            .texts_of("assistant")
            .iter()
            .any(|t| t.contains(first_answer)),
        "the first answer is in the resumed history: {:?}",
        history.texts_of("assistant")
    );
}
