//! The HTTP runtime of the OpenAI kind: one streamed chat completions
//! request per `Effect::Chat`, reported exactly like a process so `core`
//! and the front ends need no special case: `Agent` events as the answer
//! streams, at most one `LimitReached`, `KillDone` after a kill, `Exited`
//! last (with no exit code or signal: there is no process).
//!
//! Connection errors, retryable HTTP statuses (408, 409, 425, 429, 5xx) and
//! streams that break off before any output are retried with bounded
//! exponential backoff, honouring `Retry-After`; each retry is a `retry`
//! event. After the last attempt the turn ends with `is_error` and the
//! server's message. A kill (or a limit, through `core`'s kill) drops the
//! request future at once, which closes the connection.
//!
//! The API key is read from the environment when the request is sent and
//! is never logged or put into an event. This module decides nothing about
//! the task and never panics on what a server sends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc::Sender;
use tokio::sync::oneshot;

use crate::agent::openai::{
    self, BASE_URL_ENV, ChatRequest, ChatStream, DEFAULT_BASE_URL, DEFAULT_MODEL, MODEL_ENV,
};
use crate::agent::sse::SseParser;
use crate::core::event::AgentEvent;
use crate::core::{Event, ExitInfo, Limit, Limits, TaskId};

/// The most of an error response body that is read.
const ERROR_BODY_CAP: usize = 64 * 1024;

/// How the HTTP runtime retries failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRetry {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay_ms: u64,
    /// The longest backoff (a server's `Retry-After` is capped separately).
    pub max_delay_ms: u64,
    /// How long connecting may take.
    pub connect_timeout_ms: u64,
}

impl Default for HttpRetry {
    fn default() -> Self {
        HttpRetry {
            max_retries: 3,
            base_delay_ms: 1_000,
            max_delay_ms: 8_000,
            connect_timeout_ms: 30_000,
        }
    }
}

/// What the runtime keeps per running request.
pub(crate) struct ChatSlot {
    /// Sending (or dropping) it aborts the request.
    kill: Option<oneshot::Sender<()>>,
}

/// Running requests, shared with their tasks (which remove themselves
/// before `Exited` goes out, so the task id is free again at once).
pub(crate) type ChatRegistry = Arc<Mutex<HashMap<TaskId, ChatSlot>>>;

fn slots(registry: &ChatRegistry) -> MutexGuard<'_, HashMap<TaskId, ChatSlot>> {
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Registers a request for `task`; `None` if one is already running.
pub(crate) fn register(registry: &ChatRegistry, task: TaskId) -> Option<oneshot::Receiver<()>> {
    let mut slots = slots(registry);
    if slots.contains_key(&task) {
        return None;
    }
    let (tx, rx) = oneshot::channel();
    slots.insert(task, ChatSlot { kill: Some(tx) });
    Some(rx)
}

/// Aborts the request of `task`; false when there is none.
pub(crate) fn kill(registry: &ChatRegistry, task: TaskId) -> bool {
    match slots(registry).get_mut(&task) {
        Some(slot) => {
            if let Some(kill) = slot.kill.take() {
                let _ = kill.send(());
            }
            true
        }
        None => false,
    }
}

/// Aborts every running request.
pub(crate) fn kill_all(registry: &ChatRegistry) {
    for slot in slots(registry).values_mut() {
        if let Some(kill) = slot.kill.take() {
            let _ = kill.send(());
        }
    }
}

/// Everything one request task needs.
pub(crate) struct ChatJob {
    pub(crate) task: TaskId,
    pub(crate) request: ChatRequest,
    pub(crate) limits: Limits,
    pub(crate) retry: HttpRetry,
    pub(crate) client: reqwest::Client,
    pub(crate) events: Sender<Event>,
    pub(crate) registry: ChatRegistry,
    pub(crate) kill: oneshot::Receiver<()>,
}

/// A client for chat requests (no overall timeout: answers stream).
pub(crate) fn client(retry: &HttpRetry) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(retry.connect_timeout_ms))
        .build()
        .map_err(|err| format!("could not set up the HTTP client: {err}"))
}

/// Milliseconds since the epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// When the request last showed life, as milliseconds after its start (a
/// backoff wait counts as life until it ends).
struct Activity {
    started: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.touch_until(Duration::ZERO);
    }

    /// Counts the time up to `ahead` from now as activity.
    fn touch_until(&self, ahead: Duration) {
        let at = (self.started.elapsed() + ahead).as_millis() as u64;
        self.last_ms.fetch_max(at, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Runs one request to its end; sends `Exited` last.
pub(crate) async fn run(job: ChatJob) {
    let ChatJob {
        task,
        request,
        limits,
        retry,
        client,
        events,
        registry,
        mut kill,
    } = job;
    let activity = Activity {
        started: Instant::now(),
        last_ms: AtomicU64::new(0),
    };
    let out = Out {
        task,
        events: events.clone(),
        activity: &activity,
    };
    // Boxed so it can be dropped (and the connection closed) before the
    // last events go out.
    let mut work = Box::pin(converse(&out, &client, &request, retry));
    let mut limit_sent = false;
    let killed = loop {
        let deadline = if limit_sent {
            None
        } else {
            next_deadline(&limits, &activity)
        };
        tokio::select! {
            biased;
            _ = &mut kill => break true,
            () = &mut work => break false,
            () = sleep_until(deadline) => {
                if let Some(limit) = expired(&limits, &activity, Instant::now()) {
                    limit_sent = true;
                    let _ = events.send(Event::LimitReached { task, limit }).await;
                }
            }
        }
    };
    // Dropping the request future closes the connection at once.
    drop(work);
    if killed {
        let _ = events.send(Event::KillDone { task, survivors: 0 }).await;
    }
    slots(&registry).remove(&task);
    let exit = ExitInfo {
        code: None,
        signal: None,
        killed_outside_group: 0,
    };
    let _ = events.send(Event::Exited { task, exit }).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn deadlines(limits: &Limits, activity: &Activity) -> [(Limit, Option<Instant>); 2] {
    let after = |from: Instant, ms: Option<u64>| ms.map(|ms| from + Duration::from_millis(ms));
    [
        (Limit::Wall, after(activity.started, limits.wall_timeout_ms)),
        (Limit::Idle, after(activity.last(), limits.idle_timeout_ms)),
    ]
}

fn next_deadline(limits: &Limits, activity: &Activity) -> Option<Instant> {
    deadlines(limits, activity)
        .iter()
        .filter_map(|(_, at)| *at)
        .min()
}

fn expired(limits: &Limits, activity: &Activity, now: Instant) -> Option<Limit> {
    deadlines(limits, activity)
        .iter()
        .find(|(_, at)| at.is_some_and(|at| now >= at))
        .map(|(limit, _)| *limit)
}

/// Sends events of one task.
struct Out<'a> {
    task: TaskId,
    events: Sender<Event>,
    activity: &'a Activity,
}

impl Out<'_> {
    async fn send(&self, event: AgentEvent) {
        self.activity.touch();
        let _ = self
            .events
            .send(Event::Agent {
                task: self.task,
                event,
            })
            .await;
    }
}

/// Why one attempt failed.
struct Failure {
    message: String,
    status: Option<u16>,
    retryable: bool,
    retry_after_ms: Option<u64>,
    /// The message was already sent as an `error` event.
    shown: bool,
}

impl Failure {
    fn new(message: String, retryable: bool) -> Failure {
        Failure {
            message,
            status: None,
            retryable,
            retry_after_ms: None,
            shown: false,
        }
    }
}

/// The whole turn: attempts and retries, ending with `turn_end`.
async fn converse(
    out: &Out<'_>,
    client: &reqwest::Client,
    request: &ChatRequest,
    retry: HttpRetry,
) {
    let env = |name: &str| {
        request
            .task_env(name)
            .map(str::to_string)
            .or_else(|| std::env::var(name).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let base = request
        .base_url
        .clone()
        .or_else(|| env(BASE_URL_ENV))
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let url = openai::completions_url(&base);
    let key = env(&request.api_key_env);
    let mut body = request.body.clone();
    if let Value::Object(map) = &mut body
        && !map.contains_key("model")
    {
        let model = env(MODEL_ENV).unwrap_or_else(|| DEFAULT_MODEL.to_string());
        map.insert("model".into(), json!(model));
    }
    let body = body.to_string();

    let mut attempt = 0u32;
    loop {
        let failure = match attempt_once(out, client, &url, key.as_deref(), &body, request).await {
            Ok(()) => return,
            Err(failure) => failure,
        };
        if failure.retryable && attempt < retry.max_retries {
            attempt += 1;
            let delay = openai::backoff_ms(
                attempt,
                retry.base_delay_ms,
                retry.max_delay_ms,
                failure.retry_after_ms,
            );
            out.send(AgentEvent::Retry {
                attempt,
                max_attempts: Some(retry.max_retries),
                delay_ms: Some(delay),
                status: failure.status,
                reason: failure.message,
            })
            .await;
            let wait = Duration::from_millis(delay);
            out.activity.touch_until(wait);
            tokio::time::sleep(wait).await;
            continue;
        }
        let message = if attempt > 0 {
            format!("{} (after {attempt} retries)", failure.message)
        } else {
            failure.message
        };
        if !failure.shown {
            out.send(AgentEvent::Error {
                message: message.clone(),
            })
            .await;
        }
        out.send(AgentEvent::TurnEnd {
            is_error: true,
            result: Some(message),
            api_error_status: failure.status,
            num_turns: None,
            permission_denials: Vec::new(),
            terminal_reason: None,
            api_error_type: None,
        })
        .await;
        return;
    }
}

/// The message for a request that failed before any answer: the innermost
/// cause (`Connection refused`), with the URL.
fn transport_error(url: &str, err: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if err.is_connect() {
        "could not connect to"
    } else if err.is_timeout() {
        "timed out talking to"
    } else {
        "request failed for"
    };
    format!("{what} {url}: {cause}")
}

/// One request; `Ok` once the turn's last events are sent.
async fn attempt_once(
    out: &Out<'_>,
    client: &reqwest::Client,
    url: &str,
    key: Option<&str>,
    body: &str,
    request: &ChatRequest,
) -> Result<(), Failure> {
    let mut builder = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(body.to_string());
    if let Some(key) = key {
        builder = builder.bearer_auth(key);
    }
    let mut response = builder
        .send()
        .await
        .map_err(|err| Failure::new(transport_error(url, &err), true))?;
    out.activity.touch();
    let status = response.status();
    if !status.is_success() {
        let retry_after_ms = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| openai::retry_after_ms(v, now_ms()));
        let mut bytes = Vec::new();
        while bytes.len() < ERROR_BODY_CAP {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        bytes.truncate(ERROR_BODY_CAP);
        let code = status.as_u16();
        return Err(Failure {
            message: openai::error_message(
                code,
                status.canonical_reason().unwrap_or_default(),
                &bytes,
            ),
            status: Some(code),
            retryable: openai::is_retryable_status(code),
            retry_after_ms,
            shown: false,
        });
    }

    let mut sse = SseParser::default();
    let mut stream = ChatStream::new(request.prices);
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(err) => {
                let message = format!(
                    "the connection broke off mid-answer: {}",
                    transport_error(url, &err)
                );
                return Err(Failure::new(message, !stream.produced_output()));
            }
        };
        out.activity.touch();
        for frame in sse.push(&chunk) {
            for event in stream.frame(frame) {
                out.send(event).await;
            }
        }
        if stream.is_done() {
            break;
        }
    }
    for frame in sse.finish() {
        for event in stream.frame(frame) {
            out.send(event).await;
        }
    }
    if let Some(error) = stream.error() {
        return Err(Failure {
            shown: true,
            ..Failure::new(error.to_string(), !stream.produced_output())
        });
    }
    match stream.end() {
        Some(events) => {
            for event in events {
                out.send(event).await;
            }
            Ok(())
        }
        None => Err(Failure::new(
            "the answer stream ended before the answer was complete".into(),
            !stream.produced_output(),
        )),
    }
}
