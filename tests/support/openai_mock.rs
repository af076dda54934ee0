//! A scripted OpenAI-compatible chat completions server on 127.0.0.1, for
//! tests of corral's HTTP agent.
//!
//! Every `POST .../chat/completions` takes the next [`Reply`] of the script
//! (when it is used up, a plain [`DEFAULT_TEXT`] answer) and is recorded
//! (path, headers, JSON body) so a test can check what corral sent. Streamed
//! answers are SSE bodies delimited by closing the connection; errors are
//! JSON bodies with a Content-Length on a kept-alive connection.
//!
//! std only (plus serde_json), one thread per connection, request bodies
//! with Content-Length (what corral's client sends). It must never listen
//! beyond loopback and never panic on what a client sends; dropping it
//! stops the server and joins its threads.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The answer when the script has nothing left.
pub const DEFAULT_TEXT: &str = "Hello from the mock chat server.";

/// How the mock answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A streamed answer: one content chunk per entry, then a finish chunk,
    /// a usage chunk (prompt, completion tokens) and `[DONE]`.
    Text {
        chunks: Vec<String>,
        usage: (u64, u64),
        chunk_delay: Duration,
    },
    /// An HTTP error with this JSON body and optional `Retry-After` value.
    Error {
        status: u16,
        body: String,
        retry_after: Option<String>,
    },
    /// A 200 `text/event-stream` response with exactly this body.
    Sse(String),
    /// Sends the head and one content chunk, then nothing until the client
    /// goes away or the mock is dropped.
    Stall,
}

impl Reply {
    /// `text` streamed in chunks of about three words, 10 ms apart.
    pub fn text(text: &str) -> Reply {
        let mut chunks = Vec::new();
        let mut current = String::new();
        for (i, word) in text.split_inclusive(' ').enumerate() {
            current.push_str(word);
            if i % 3 == 2 {
                chunks.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        Reply::Text {
            chunks,
            usage: (21, 7),
            chunk_delay: Duration::from_millis(10),
        }
    }

    /// An error in OpenAI's format: `{"error": {"message", "type"}}`.
    pub fn error(status: u16, message: &str) -> Reply {
        Reply::Error {
            status,
            body: json!({"error": {"message": message, "type": "mock_error", "code": null}})
                .to_string(),
            retry_after: None,
        }
    }

    /// A 429 with `Retry-After` (seconds or an HTTP date).
    pub fn rate_limited(retry_after: &str) -> Reply {
        Reply::Error {
            status: 429,
            body: json!({"error": {"message": "Rate limit reached (mock)", "type": "requests"}})
                .to_string(),
            retry_after: Some(retry_after.to_string()),
        }
    }
}

/// One request the mock received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
}

impl Recorded {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `messages` of the request as (role, content) pairs.
    pub fn messages(&self) -> Vec<(String, String)> {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .map(|m| {
                        let field = |k: &str| {
                            m.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string()
                        };
                        (field("role"), field("content"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct Shared {
    stop: AtomicBool,
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    /// Stalled responses whose client closed the connection.
    abandoned: AtomicUsize,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running mock server.
pub struct MockOpenAi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl MockOpenAi {
    /// Starts a mock on a free loopback port with this script.
    pub fn start(script: Vec<Reply>) -> MockOpenAi {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            script: Mutex::new(script.into()),
            requests: Mutex::new(Vec::new()),
            abandoned: AtomicUsize::new(0),
            connections: Mutex::new(Vec::new()),
        });
        let for_thread = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name("mock-openai-accept".into())
            .spawn(move || accept_loop(listener, for_thread))
            .expect("start the acceptor");
        MockOpenAi {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the value for `OPENAI_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.addr.port())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many stalled responses the client walked away from.
    pub fn abandoned(&self) -> usize {
        self.shared.abandoned.load(Ordering::SeqCst)
    }

    /// Waits until `check` holds, at most `timeout`; returns whether it did.
    pub fn wait_for(&self, timeout: Duration, check: impl Fn(&MockOpenAi) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        check(self)
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for handle in std::mem::take(&mut *lock(&self.shared.connections)) {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let Ok((stream, _)) = listener.accept() else {
            thread::sleep(Duration::from_millis(5));
            continue;
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("mock-openai-conn".into())
            .spawn(move || serve(stream, &for_thread));
        let mut connections = lock(&shared.connections);
        connections.retain(|h| !h.is_finished());
        if let Ok(handle) = spawned {
            connections.push(handle);
        }
    }
}

const POLL: Duration = Duration::from_millis(50);
const MAX_REQUEST: usize = 16 << 20;

/// Reads one request; `None` when the client closed or the mock stops.
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> Option<Recorded> {
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_REQUEST || !fill(stream, buf, &mut chunk, shared) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let body_start = head_end + 4;
    while buf.len() < body_start + length {
        if !fill(stream, buf, &mut chunk, shared) {
            return None;
        }
    }
    let body = serde_json::from_slice(&buf[body_start..body_start + length]).unwrap_or(Value::Null);
    buf.drain(..body_start + length);
    Some(Recorded {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    })
}

/// Reads more bytes; false at end of stream, on error or when stopping.
fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>, chunk: &mut [u8], shared: &Shared) -> bool {
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        match stream.read(chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buf, shared) {
        let is_chat = request.method == "POST" && request.path.ends_with("/chat/completions");
        lock(&shared.requests).push(request);
        let keep_going = if is_chat {
            let reply = lock(&shared.script)
                .pop_front()
                .unwrap_or_else(|| Reply::text(DEFAULT_TEXT));
            respond(&mut stream, shared, reply)
        } else {
            let body = json!({"error": {"message": "not part of the mock"}}).to_string();
            send_plain(&mut stream, 404, &body, None)
        };
        if !matches!(keep_going, Ok(true)) {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A whole response with a Content-Length; the connection stays open.
fn send_plain(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    retry_after: Option<&str>,
) -> io::Result<bool> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        reason(status),
        body.len()
    );
    if let Some(value) = retry_after {
        head.push_str(&format!("retry-after: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    Ok(true)
}

fn sse_head(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )?;
    stream.flush()
}

fn chunk(id: &str, delta: Value, finish: Option<&str>) -> String {
    let data = json!({
        "id": id, "object": "chat.completion.chunk", "model": "mock-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    });
    format!("data: {data}\n\n")
}

/// Answers one chat request; `Ok(true)` when the connection may go on.
fn respond(stream: &mut TcpStream, shared: &Shared, reply: Reply) -> io::Result<bool> {
    match reply {
        Reply::Error {
            status,
            body,
            retry_after,
        } => send_plain(stream, status, &body, retry_after.as_deref()),
        Reply::Sse(body) => {
            sse_head(stream)?;
            stream.write_all(body.as_bytes())?;
            stream.flush()?;
            Ok(false)
        }
        Reply::Text {
            chunks,
            usage,
            chunk_delay,
        } => {
            sse_head(stream)?;
            let id = "chatcmpl-mock";
            stream.write_all(
                chunk(id, json!({"role": "assistant", "content": ""}), None).as_bytes(),
            )?;
            // Keep-alive comments, as some servers send.
            stream.write_all(b": ping\n\n")?;
            for text in chunks {
                thread::sleep(chunk_delay);
                stream.write_all(chunk(id, json!({"content": text}), None).as_bytes())?;
                stream.flush()?;
            }
            stream.write_all(chunk(id, json!({}), Some("stop")).as_bytes())?;
            let usage = json!({"id": id, "object": "chat.completion.chunk", "choices": [],
                "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
                          "total_tokens": usage.0 + usage.1}});
            stream.write_all(format!("data: {usage}\n\ndata: [DONE]\n\n").as_bytes())?;
            stream.flush()?;
            Ok(false)
        }
        Reply::Stall => {
            sse_head(stream)?;
            stream.write_all(
                chunk("chatcmpl-stall", json!({"content": "thinking"}), None).as_bytes(),
            )?;
            stream.flush()?;
            let mut byte = [0u8; 64];
            while !shared.stop.load(Ordering::SeqCst) {
                match stream.read(&mut byte) {
                    Ok(0) => {
                        shared.abandoned.fetch_add(1, Ordering::SeqCst);
                        return Ok(false);
                    }
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => {
                        shared.abandoned.fetch_add(1, Ordering::SeqCst);
                        return Ok(false);
                    }
                }
            }
            Ok(false)
        }
    }
}
