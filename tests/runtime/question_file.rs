//! The question-file protocol end to end through the real runtime: a fake
//! codex asks by writing the file and exiting, the task blocks on the
//! question, the answer resumes the same session; and a resume that fails
//! falls back to a fresh start with the original prompt plus the answer.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use corral::agent::{AgentKind, AgentOptions, Answer};
use corral::core::event::AgentEvent;
use corral::core::task::{TaskSpec, TaskStatus};
use corral::core::{Command, Event, Limits, Settings, State, TaskId};
use corral::driver::Driver as CoreDriver;
use corral::runtime::{Runtime, RuntimeConfig};
use tokio::sync::mpsc;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

struct Harness {
    core: CoreDriver<Runtime>,
    events: mpsc::Receiver<Event>,
}

impl Harness {
    fn new(question_dir: &Path) -> Harness {
        let (tx, events) = mpsc::channel(256);
        Harness {
            core: CoreDriver::new(
                State::new(Settings {
                    question_dir: Some(question_dir.to_path_buf()),
                    ..Settings::default()
                }),
                None,
                Runtime::new(tx, RuntimeConfig::default()),
            ),
            events,
        }
    }

    fn send(&mut self, event: Event) {
        self.core.step(now(), event);
    }

    /// Feeds runtime events into the core until `done` holds.
    async fn until(&mut self, what: &str, done: impl Fn(&State) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(self.core.state()) {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.send(event),
                _ => panic!(
                    "timed out waiting until {what}; transcript: {:#?}",
                    self.core.state().tasks[0]
                        .transcript
                        .entries()
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    fn texts(&self, task: TaskId) -> Vec<String> {
        self.core
            .state()
            .task(task)
            .unwrap()
            .transcript
            .entries()
            .filter_map(|e| match e {
                AgentEvent::Text { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

fn asker(env: Vec<(String, String)>) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Codex,
        prompt: "Set up the storage layer".into(),
        title: None,
        cwd: std::env::temp_dir(),
        options: AgentOptions {
            binary: Some(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/agents/fake_codex_asker.py")
                    .to_string_lossy()
                    .into_owned(),
            ),
            env,
            // The question file is codex's one-shot `exec` protocol.
            protocol: Some("exec".into()),
            ..AgentOptions::default()
        },
        limits: Limits::default(),
        profile: None,
        budget: Default::default(),
        worktree: false,
    }
}

fn blocked_after_exit(s: &State) -> bool {
    let t = &s.tasks[0];
    t.status == TaskStatus::Blocked && !t.process_alive
}

fn answer_sqlite() -> Command {
    Command::Answer {
        task: 1,
        answer: Answer::Answer {
            answers: vec![("Which database?".into(), "sqlite".into())],
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_asks_by_file_and_is_resumed_with_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path());
    h.send(Event::Command(Command::launch(asker(vec![]))));
    h.until("the question blocks the task", blocked_after_exit)
        .await;

    let t = &h.core.state().tasks[0];
    let q = t.pending_question.as_ref().unwrap();
    assert_eq!(q.questions[0].question, "Which database?");
    let labels: Vec<_> = q.questions[0]
        .options
        .iter()
        .map(|o| o.label.as_str())
        .collect();
    assert_eq!(labels, ["postgres", "sqlite"]);
    assert_eq!(t.session_id.as_deref(), Some("thread-fake-1"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "the file was consumed"
    );

    h.send(Event::Command(answer_sqlite()));
    h.until("the resumed run finishes", |s| s.tasks[0].status.is_final())
        .await;
    let t = &h.core.state().tasks[0];
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert_eq!(
        t.session_id.as_deref(),
        Some("thread-fake-1"),
        "same session"
    );
    let last = h.texts(1).pop().unwrap();
    assert!(
        last.starts_with("Resumed with: You asked: Which database?\nThe user answered: sqlite"),
        "{last}"
    );
    assert!(
        last.contains("CORRAL_QUESTION_FILE"),
        "a resumed agent may ask again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resume_falls_back_to_a_fresh_start_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(dir.path());
    let env = vec![("FAKE_RESUME_FAILS".to_string(), "1".to_string())];
    h.send(Event::Command(Command::launch(asker(env))));
    h.until("the question blocks the task", blocked_after_exit)
        .await;
    h.send(Event::Command(answer_sqlite()));
    h.until("the fallback run finishes", |s| {
        s.tasks[0].status.is_final()
    })
    .await;

    let t = &h.core.state().tasks[0];
    assert_eq!(t.status, TaskStatus::Succeeded);
    assert_eq!(t.runs, 3, "ask, failed resume, fresh start");
    assert!(t.transcript.entries().any(|e| matches!(
        e,
        AgentEvent::Error { message } if message.contains("starting afresh")
    )));
    let last = h.texts(1).pop().unwrap();
    assert!(
        last.starts_with("Fresh with: Set up the storage layer"),
        "{last}"
    );
    assert!(last.contains("The user answered: sqlite"), "{last}");
}
