//! What every scripted model API mock shares (Anthropic, OpenAI Responses,
//! OpenAI chat completions, Gemini): the replies still to give, in order;
//! every request received, its body parsed as JSON; a request counter;
//! logging to stderr; waiting for requests; and the server
//! ([`super::http`]) under it.
//!
//! Each mock is an [`Api`]: it only says what its replies are and how it
//! answers one request, and adds readers for its own request shape as
//! methods of `RecordedRequest<ItsApi>`. Test support: it must never listen
//! beyond loopback (the server refuses to) and never panic on what a client
//! sends.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{HttpRequest, HttpServer, Responder, lock, path_only};

/// The model answer every mock's default rule gives to a tool result.
pub fn tool_finished_text(result: &str) -> String {
    format!("The tool finished. It returned: {result} -- done.")
}

/// One step of a scripted API's script: an answer made of the API's own
/// parts (`P`: content blocks, output items, ...), or what every API can do
/// instead.
#[derive(Debug, Clone, PartialEq)]
pub enum Step<P> {
    /// An answer with these parts, streamed the API's way; text arrives in
    /// several chunks `chunk_delay` apart.
    Stream {
        parts: Vec<P>,
        chunk_delay: Duration,
    },
    /// An HTTP error with the API's error body; `retry_after` is said the
    /// API's way (a `retry-after` header in seconds, or Gemini's retry
    /// delay in the body).
    Error {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    /// Starts the stream, then sends nothing more until the mock is
    /// dropped (for timeout tests).
    Stall,
    /// The API's default rule: a tool result echoed, or its default text.
    Auto,
}

impl<P> Step<P> {
    /// An HTTP error (500, 529, 400, ...) with the API's error body.
    pub fn error(status: u16, message: &str) -> Step<P> {
        Step::Error {
            status,
            message: message.to_string(),
            retry_after: None,
        }
    }

    /// A 429 saying when to retry.
    pub fn limited(message: &str, retry_after: String) -> Step<P> {
        Step::Error {
            status: 429,
            message: message.to_string(),
            retry_after: Some(retry_after),
        }
    }

    /// A stream that starts and then never continues.
    pub fn stall() -> Step<P> {
        Step::Stall
    }

    /// The default rule, as a script step.
    pub fn auto() -> Step<P> {
        Step::Auto
    }
}

/// Declares a scripted API: its marker type `$api` (with `$doc`), its
/// `RecordedRequest` (to which the API adds readers of its body) and its
/// mock `$mock`.
macro_rules! declare_api {
    ($doc:literal, $api:ident, $mock:ident) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $api;

        /// One HTTP request the mock received.
        pub type RecordedRequest = super::scripted::RecordedRequest<$api>;

        /// A running mock. Dropping it stops the server and joins its threads.
        pub type $mock = super::scripted::ScriptedMock<$api>;
    };
}
pub(crate) use declare_api;

/// One model API a mock speaks.
pub trait Api: Sized + 'static {
    /// One step of the script.
    type Reply: Send + 'static;
    /// What the mock keeps beyond the script.
    type Extra: Send + Sync + 'static;
    /// Prefixes log lines and thread names (`mock-anthropic`).
    const NAME: &'static str;
    /// Whether a step asks for the default answer (`Reply::Auto`).
    fn is_auto(_reply: &Self::Reply) -> bool {
        false
    }
    /// Answers `request`, already recorded as the `n`th; `Ok(true)` when
    /// the connection may serve another.
    fn answer(
        responder: &mut Responder<'_>,
        script: &Script<Self>,
        request: &RecordedRequest<Self>,
        n: u64,
    ) -> io::Result<bool>;
}

/// One request a mock received. Each API adds methods that read its body.
pub struct RecordedRequest<A> {
    pub method: String,
    /// Path with query, as sent (`/v1/messages?beta=true`).
    pub path: String,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty or not JSON.
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    api: PhantomData<fn() -> A>,
}

impl<A> Clone for RecordedRequest<A> {
    fn clone(&self) -> Self {
        RecordedRequest {
            method: self.method.clone(),
            path: self.path.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            at: self.at,
            api: PhantomData,
        }
    }
}

impl<A> fmt::Debug for RecordedRequest<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.method, self.path, self.body)
    }
}

impl<A> RecordedRequest<A> {
    fn of(request: &HttpRequest) -> RecordedRequest<A> {
        RecordedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            headers: request.headers.clone(),
            body: request.json(),
            at: Instant::now(),
            api: PhantomData,
        }
    }

    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    pub fn route(&self) -> &str {
        path_only(&self.path)
    }

    /// Whether this is a `POST` to `route` (any query).
    pub fn is_post(&self, route: &str) -> bool {
        self.method == "POST" && self.route() == route
    }

    /// `body[key]` as a string, if it is one.
    pub fn body_str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// `body[key]` as an array (empty when missing).
    pub fn body_list(&self, key: &str) -> &[Value] {
        self.body
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// A mock's memory, shared with its connection threads.
pub struct Script<A: Api> {
    replies: Mutex<VecDeque<A::Reply>>,
    requests: Mutex<Vec<RecordedRequest<A>>>,
    counter: AtomicU64,
    log: AtomicBool,
    pub extra: A::Extra,
}

impl<A: Api> Script<A> {
    /// The next scripted reply, if any is left.
    pub fn next_reply(&self) -> Option<A::Reply> {
        lock(&self.replies).pop_front()
    }

    /// The next scripted reply, or `default()` when the script is used up
    /// or the step asks for the default answer.
    pub fn next_or(&self, default: impl FnOnce() -> A::Reply) -> A::Reply {
        match self.next_reply() {
            Some(reply) if !A::is_auto(&reply) => reply,
            _ => default(),
        }
    }

    /// The replies left, to change (a looping mock refills them).
    pub fn replies(&self) -> MutexGuard<'_, VecDeque<A::Reply>> {
        lock(&self.replies)
    }

    /// Whether requests are logged to stderr.
    pub fn logging(&self) -> bool {
        self.log.load(Ordering::Relaxed)
    }

    /// Logs `what` about the `n`th request when logging is on.
    pub fn log(&self, n: u64, request: &RecordedRequest<A>, what: &str) {
        if self.logging() {
            eprintln!(
                "{}: #{n} {} {} -> {what}",
                A::NAME,
                request.method,
                request.path
            );
        }
    }
}

/// A running mock. Dropping it stops the server and joins its threads.
pub struct ScriptedMock<A: Api> {
    script: Arc<Script<A>>,
    server: HttpServer,
}

impl<A: Api> ScriptedMock<A> {
    /// Serves `A` on 127.0.0.1 (a free port) with these replies; logging
    /// is on with `CORRAL_MOCK_LOG`.
    pub fn serve(replies: Vec<A::Reply>, extra: A::Extra) -> io::Result<ScriptedMock<A>> {
        let script = Arc::new(Script {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
            log: AtomicBool::new(std::env::var_os("CORRAL_MOCK_LOG").is_some()),
            extra,
        });
        let shared = Arc::clone(&script);
        let server = HttpServer::start(
            A::NAME,
            Box::new(move |responder, request| {
                let recorded = RecordedRequest::of(&request);
                lock(&shared.requests).push(recorded.clone());
                let n = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
                A::answer(responder, &shared, &recorded, n)
            }),
        )?;
        Ok(ScriptedMock { script, server })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn server_url(&self) -> String {
        self.server.base_url()
    }

    /// Appends a step to the script.
    pub fn push(&self, reply: A::Reply) {
        self.script.replies().push_back(reply);
    }

    /// Script steps not used yet.
    pub fn remaining(&self) -> usize {
        self.script.replies().len()
    }

    /// Prints one line per request to stderr (also on with `CORRAL_MOCK_LOG`).
    pub fn set_logging(&self, on: bool) {
        self.script.log.store(on, Ordering::Relaxed);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest<A>> {
        lock(&self.script.requests).clone()
    }

    /// The requests so far for which `keep` holds, in order.
    pub fn requests_where(
        &self,
        keep: impl Fn(&RecordedRequest<A>) -> bool,
    ) -> Vec<RecordedRequest<A>> {
        let requests = lock(&self.script.requests);
        requests.iter().filter(|r| keep(r)).cloned().collect()
    }

    /// Waits until `check` holds, looking every 20 ms, at most `timeout`;
    /// whether it did.
    pub fn wait_for(&self, timeout: Duration, check: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Proxy requests refused (an agent's attempts to reach public hosts).
    pub fn proxy_attempts(&self) -> Vec<String> {
        self.server.proxy_attempts()
    }

    /// What the mock keeps beyond the script.
    pub fn extra(&self) -> &A::Extra {
        &self.script.extra
    }
}
