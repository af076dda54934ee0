//! The OpenAI-compatible agent end to end through `core::update` and the
//! runtime, against the scripted loopback chat server in
//! `tests/support/openai_mock.rs`. Waits have generous guards against a
//! hang; the only timing assertions are lower bounds (a Retry-After was
//! honoured) or "well before the guard" (a kill or timeout aborted).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::openai_mock::{MockOpenAi, Reply};
use corral::agent::{AgentKind, AgentOptions};
use corral::core::event::{AgentEvent, FinishStatus, Finished};
use corral::core::task::TaskSpec;
use corral::core::{Command, Event, Limits, Settings, State, TaskId};
use corral::driver::Driver as CoreDriver;
use corral::runtime::{HttpRetry, Runtime, RuntimeConfig};
use tokio::sync::mpsc;

const HANG_GUARD: Duration = Duration::from_secs(30);

fn now_ms() -> u64 {
    corral::headless::now_ms()
}

fn options(base_url: &str) -> AgentOptions {
    AgentOptions {
        base_url: Some(base_url.to_string()),
        model: Some("mock-model".into()),
        system_prompt: Some("You are terse.".into()),
        api_key_env: Some("CORRAL_TEST_OPENAI_KEY".into()),
        env: vec![("CORRAL_TEST_OPENAI_KEY".into(), "sk-test-123".into())],
        temperature: Some(0.5),
        max_tokens: Some(100),
        ..AgentOptions::default()
    }
}

fn spec(options: AgentOptions, limits: Limits) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::OpenAi,
        prompt: "Say hello.".into(),
        title: None,
        cwd: std::env::temp_dir(),
        options,
        limits,
        profile: None,
        budget: Default::default(),
        worktree: false,
    }
}

/// The core and the runtime, driven like a front end drives them.
struct Driver {
    core: CoreDriver<Runtime>,
    events: mpsc::Receiver<Event>,
    /// Everything published, in order.
    published: Vec<AgentEvent>,
}

impl Driver {
    fn new(retry: HttpRetry) -> Driver {
        let (tx, events) = mpsc::channel(256);
        Driver {
            core: CoreDriver::new(
                State::new(Settings {
                    end_after_turn: true,
                    ..Settings::default()
                }),
                None,
                Runtime::new(
                    tx,
                    RuntimeConfig {
                        http_retry: retry,
                        ..RuntimeConfig::default()
                    },
                ),
            ),
            events,
            published: Vec::new(),
        }
    }

    /// Applies an event; returns a `Finished` if one was published.
    fn step(&mut self, event: Event) -> Option<Finished> {
        let step = self.core.step(now_ms(), event);
        let mut finished = None;
        for (_, event) in step.published {
            if let AgentEvent::Finished(f) = &event {
                finished = Some(f.clone());
            }
            self.published.push(event);
        }
        finished
    }

    fn launch(&mut self, spec: TaskSpec) -> TaskId {
        let id = self.core.state().next_task_id();
        assert!(self.step(Event::Command(Command::launch(spec))).is_none());
        id
    }

    async fn until_finished(&mut self) -> Finished {
        loop {
            let event = match tokio::time::timeout(HANG_GUARD, self.events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => panic!("event channel closed"),
                Err(_) => panic!("not finished within {HANG_GUARD:?}: {:?}", self.published),
            };
            if let Some(finished) = self.step(event) {
                return finished;
            }
        }
    }

    fn text(&self) -> String {
        self.published
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    fn retries(&self) -> Vec<(u32, Option<u64>, Option<u16>, String)> {
        self.published
            .iter()
            .filter_map(|e| match e {
                AgentEvent::Retry {
                    attempt,
                    delay_ms,
                    status,
                    reason,
                    ..
                } => Some((*attempt, *delay_ms, *status, reason.clone())),
                _ => None,
            })
            .collect()
    }
}

fn quick_retries(max_retries: u32) -> HttpRetry {
    HttpRetry {
        max_retries,
        base_delay_ms: 20,
        max_delay_ms: 100,
        ..HttpRetry::default()
    }
}

#[tokio::test]
async fn a_streamed_answer_succeeds_with_text_usage_and_the_options_sent() {
    let mock = MockOpenAi::start(vec![Reply::text("Hello there, I am a streamed answer.")]);
    let mut d = Driver::new(HttpRetry::default());
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded, "{:?}", d.published);
    assert_eq!(
        f.result.as_deref(),
        Some("Hello there, I am a streamed answer.")
    );
    assert_eq!(d.text(), "Hello there, I am a streamed answer.");
    assert!(
        d.published
            .iter()
            .filter(|e| matches!(e, AgentEvent::Text { delta: true, .. }))
            .count()
            > 1,
        "the answer streamed in several deltas"
    );
    assert_eq!((f.usage.input_tokens, f.usage.output_tokens), (21, 7));
    assert_eq!(f.usage.cost_usd, None, "no price configured, no cost");

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(r.body["model"], "mock-model");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"]["include_usage"], true);
    assert_eq!(r.body["temperature"], 0.5);
    assert_eq!(r.body["max_tokens"], 100);
    assert_eq!(
        r.messages(),
        [
            ("system".to_string(), "You are terse.".to_string()),
            ("user".to_string(), "Say hello.".to_string()),
        ]
    );
}

#[tokio::test]
async fn configured_prices_give_a_cost() {
    let mock = MockOpenAi::start(vec![Reply::text("priced")]);
    let mut d = Driver::new(HttpRetry::default());
    let opts = AgentOptions {
        input_price_per_mtok: Some(2.0),
        output_price_per_mtok: Some(10.0),
        ..options(&mock.base_url())
    };
    d.launch(spec(opts, Limits::default()));
    let f = d.until_finished().await;
    let expected = (21.0 * 2.0 + 7.0 * 10.0) / 1_000_000.0;
    assert!(
        f.usage
            .cost_usd
            .is_some_and(|c| (c - expected).abs() < 1e-12),
        "{:?}",
        f.usage
    );
}

#[tokio::test]
async fn a_follow_up_sends_the_whole_conversation() {
    let mock = MockOpenAi::start(vec![
        Reply::text("The first answer."),
        Reply::text("The second answer."),
    ]);
    let mut d = Driver::new(HttpRetry::default());
    let task = d.launch(spec(options(&mock.base_url()), Limits::default()));
    assert_eq!(d.until_finished().await.status, FinishStatus::Succeeded);

    assert!(
        d.step(Event::Command(Command::FollowUp {
            task,
            text: "And now?".into(),
        }))
        .is_none()
    );
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded);
    assert_eq!(f.result.as_deref(), Some("The second answer."));
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].messages(),
        [
            ("system".to_string(), "You are terse.".to_string()),
            ("user".to_string(), "Say hello.".to_string()),
            ("assistant".to_string(), "The first answer.".to_string()),
            ("user".to_string(), "And now?".to_string()),
        ]
    );
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let mock = MockOpenAi::start(vec![Reply::rate_limited("1"), Reply::text("Made it.")]);
    let mut d = Driver::new(HttpRetry::default());
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded, "{:?}", d.published);
    assert_eq!(d.text(), "Made it.");
    let retries = d.retries();
    assert_eq!(retries.len(), 1, "{retries:?}");
    let (attempt, delay, status, reason) = &retries[0];
    assert_eq!((*attempt, *delay, *status), (1, Some(1_000), Some(429)));
    assert!(reason.contains("Rate limit reached (mock)"), "{reason}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.duration_since(requests[0].at);
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?}"
    );
}

#[tokio::test]
async fn a_server_error_forever_fails_with_its_message_after_the_retries() {
    let mock = MockOpenAi::start(vec![Reply::error(500, "the model exploded"); 10]);
    let mut d = Driver::new(quick_retries(2));
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Failed);
    let reason = f.reason.unwrap_or_default();
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(reason.contains("the model exploded"), "{reason}");
    let retries = d.retries();
    assert_eq!(
        retries
            .iter()
            .map(|(a, _, s, _)| (*a, *s))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(500))]
    );
    assert_eq!(mock.requests().len(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let mock = MockOpenAi::start(vec![Reply::error(401, "Incorrect API key provided")]);
    let mut d = Driver::new(quick_retries(3));
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Failed);
    assert_eq!(
        f.reason.as_deref(),
        Some("HTTP 401 Unauthorized: Incorrect API key provided")
    );
    assert!(d.retries().is_empty());
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_malformed_chunk_is_reported_and_the_answer_still_arrives() {
    let body = concat!(
        "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Good \"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"broken\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"answer\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let mock = MockOpenAi::start(vec![Reply::Sse(body.into())]);
    let mut d = Driver::new(HttpRetry::default());
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded);
    assert_eq!(f.result.as_deref(), Some("Good answer"));
    assert!(d.published.iter().any(
        |e| matches!(e, AgentEvent::Error { message } if message.contains("malformed chunk"))
    ));
}

#[tokio::test]
async fn a_stream_that_breaks_off_before_any_output_is_retried() {
    let cut = "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n";
    let mock = MockOpenAi::start(vec![Reply::Sse(cut.into()), Reply::text("Second try.")]);
    let mut d = Driver::new(quick_retries(2));
    d.launch(spec(options(&mock.base_url()), Limits::default()));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Succeeded, "{:?}", d.published);
    assert_eq!(d.text(), "Second try.");
    assert_eq!(d.retries().len(), 1);
}

#[tokio::test]
async fn a_stalled_server_times_out_quickly_and_the_connection_is_dropped() {
    let mock = MockOpenAi::start(vec![Reply::Stall]);
    let mut d = Driver::new(HttpRetry::default());
    let started = Instant::now();
    d.launch(spec(
        options(&mock.base_url()),
        Limits {
            idle_timeout_ms: None,
            wall_timeout_ms: Some(800),
        },
    ));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::TimedOut, "{:?}", d.published);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        d.text(),
        "thinking",
        "what streamed before the stall is kept"
    );
    assert!(
        mock.wait_for(Duration::from_secs(5), |m| m.abandoned() == 1),
        "the request was aborted: the server saw the connection close"
    );
}

#[tokio::test]
async fn an_idle_timeout_fires_when_the_stream_goes_quiet() {
    let mock = MockOpenAi::start(vec![Reply::Stall]);
    let mut d = Driver::new(HttpRetry::default());
    d.launch(spec(
        options(&mock.base_url()),
        Limits {
            idle_timeout_ms: Some(500),
            wall_timeout_ms: None,
        },
    ));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::TimedOut);
    assert!(
        f.reason.as_deref().unwrap_or_default().contains("idle"),
        "{:?}",
        f.reason
    );
}

#[tokio::test]
async fn a_kill_aborts_the_request_at_once() {
    let mock = MockOpenAi::start(vec![Reply::Stall]);
    let mut d = Driver::new(HttpRetry::default());
    let task = d.launch(spec(options(&mock.base_url()), Limits::default()));
    // Wait until the stalled answer started streaming.
    while d.text().is_empty() {
        let event = tokio::time::timeout(HANG_GUARD, d.events.recv())
            .await
            .expect("some output")
            .expect("channel open");
        assert!(d.step(event).is_none());
    }
    let killed_at = Instant::now();
    assert!(d.step(Event::Command(Command::Kill { task })).is_none());
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Killed);
    assert!(
        killed_at.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed_at.elapsed()
    );
    assert!(mock.wait_for(Duration::from_secs(5), |m| m.abandoned() == 1));
}

#[tokio::test]
async fn connection_refused_is_retried_then_fails_saying_so() {
    let port = {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut d = Driver::new(quick_retries(1));
    d.launch(spec(
        options(&format!("http://127.0.0.1:{port}/v1")),
        Limits::default(),
    ));
    let f = d.until_finished().await;
    assert_eq!(f.status, FinishStatus::Failed);
    let reason = f.reason.unwrap_or_default().to_lowercase();
    assert!(reason.contains("could not connect"), "{reason}");
    assert!(reason.contains("refused"), "{reason}");
    assert_eq!(d.retries().len(), 1);
}
