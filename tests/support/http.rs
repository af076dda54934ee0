//! The HTTP/1.1 server under the scripted model APIs (Anthropic, OpenAI
//! Responses, Gemini): loopback listener, request parsing, plain and
//! chunked SSE responses, stalls, and a clean stop.
//!
//! std only. Keep-alive, Content-Length or chunked request bodies, one
//! thread per connection. The mocks also serve as the agents' HTTP proxy
//! (`HTTPS_PROXY`): every proxy request (`CONNECT host:443`, or an absolute
//! URI) is refused with 403 and recorded, so a CLI that phones home learns
//! at once that it cannot, and a test can see that it tried. It must never
//! listen beyond loopback, never forward anything, never panic on what a
//! client sends, and it stops (all threads joined) when dropped.

#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Requests larger than this are refused (memory stays bounded).
const MAX_BODY: usize = 64 << 20;
const MAX_HEAD: usize = 256 << 10;
/// How often blocked reads and stalls look at the stop flag.
pub const POLL: Duration = Duration::from_millis(100);

/// Locks a mutex, ignoring poisoning (a panicked test thread must not
/// take the mock down with it).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The path without its query (`/v1/messages?beta=true` → `/v1/messages`).
pub fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// One parsed HTTP request.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// Path with query, as sent.
    pub path: String,
    pub version: String,
    /// Header names as sent, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client wants the connection kept open.
    pub fn keep_alive(&self) -> bool {
        match self.header("connection").map(str::to_ascii_lowercase) {
            Some(c) if c.contains("close") => false,
            Some(c) if c.contains("keep-alive") => true,
            _ => self.version != "HTTP/1.0",
        }
    }

    /// The body as JSON; `Value::Null` when empty or not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A request meant for a proxy: `CONNECT host:port` or an absolute URI.
    pub fn is_proxy_request(&self) -> bool {
        self.method.eq_ignore_ascii_case("CONNECT")
            || self.path.starts_with("http://")
            || self.path.starts_with("https://")
    }
}

/// Answers one request. Returns `Ok(true)` when the connection may serve
/// another request.
pub type Handler = dyn Fn(&mut Responder<'_>, HttpRequest) -> io::Result<bool> + Send + Sync;

/// State shared by the acceptor and connection threads.
struct Shared {
    stop: AtomicBool,
    handler: Box<Handler>,
    proxy_attempts: Mutex<Vec<String>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    name: String,
}

/// A running server. Dropping it stops it and joins its threads.
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listens on 127.0.0.1 (a free port); `name` prefixes log lines and
    /// thread names.
    pub fn start(name: &str, handler: Box<Handler>) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            handler,
            proxy_attempts: Mutex::new(Vec::new()),
            connections: Mutex::new(Vec::new()),
            name: name.to_string(),
        });
        let for_thread = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(listener, for_thread))?;
        Ok(HttpServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// The targets of the proxy requests refused so far (`github.com:443`).
    pub fn proxy_attempts(&self) -> Vec<String> {
        lock(&self.shared.proxy_attempts).clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let connections = std::mem::take(&mut *lock(&self.shared.connections));
        for c in connections {
            let _ = c.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Non-blocking accept, polled, so the stop flag is seen promptly.
    if listener.set_nonblocking(true).is_err() {
        return;
    }
    while !shared.stop.load(Ordering::SeqCst) {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            // WouldBlock (nobody waiting) or a transient error: poll again.
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if stream.set_nonblocking(false).is_err() {
            continue;
        }
        let for_thread = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("{}-conn", shared.name))
            .spawn(move || serve_connection(stream, &for_thread));
        let mut connections = lock(&shared.connections);
        connections.retain(|h| !h.is_finished());
        if let Ok(handle) = spawned {
            connections.push(handle);
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        stop: &shared.stop,
    };
    while let Ok(Some(request)) = conn.read_request() {
        let keep_alive = request.keep_alive();
        let mut responder = Responder {
            stream: &mut conn.stream,
            stop: &shared.stop,
            keep_alive,
        };
        let outcome = if request.is_proxy_request() {
            lock(&shared.proxy_attempts).push(request.path.clone());
            if std::env::var_os("CORRAL_MOCK_LOG").is_some() {
                eprintln!(
                    "{}: refused proxy {} {}",
                    shared.name, request.method, request.path
                );
            }
            // Never tunnel: close after the refusal.
            responder.keep_alive = false;
            responder.plain(403, "text/plain", &[], "no proxying from the mock\n")
        } else {
            (shared.handler)(&mut responder, request)
        };
        if !matches!(outcome, Ok(true)) || !keep_alive {
            break;
        }
    }
}

/// A connection with its read buffer; reads wake up to check the stop flag.
struct Conn<'a> {
    stream: TcpStream,
    buf: Vec<u8>,
    stop: &'a AtomicBool,
}

impl Conn<'_> {
    /// Reads more bytes into the buffer; `Ok(false)` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(io::Error::other("mock stopped"));
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if waiting(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One line without its `\r\n`; `None` at a clean end of stream.
    fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..pos]).into_owned();
                self.buf.drain(..pos + 2);
                return Ok(Some(line));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(io::Error::other("header line too long"));
            }
            if !self.fill()? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    /// Exactly `n` bytes.
    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        if n > MAX_BODY {
            return Err(io::Error::other("body too large"));
        }
        while self.buf.len() < n {
            if !self.fill()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// The next request; `None` when the client closed the connection.
    fn read_request(&mut self) -> io::Result<Option<HttpRequest>> {
        let request_line = loop {
            match self.line()? {
                None => return Ok(None),
                Some(l) if l.is_empty() => continue, // stray CRLF between requests
                Some(l) => break l,
            }
        };
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or("/").to_string();
        let version = parts.next().unwrap_or("HTTP/1.1").to_string();
        let mut headers = Vec::new();
        loop {
            let Some(line) = self.line()? else {
                return Err(io::ErrorKind::UnexpectedEof.into());
            };
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            if headers.len() > 1000 {
                return Err(io::Error::other("too many headers"));
            }
        }
        let mut request = HttpRequest {
            method,
            path,
            version,
            headers,
            body: Vec::new(),
        };
        if request
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let chunked = request
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        if chunked {
            loop {
                let size_line = self.line()?.ok_or(io::ErrorKind::UnexpectedEof)?;
                let hex = size_line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(hex, 16)
                    .map_err(|_| io::Error::other("bad chunk size"))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.line()?.ok_or(io::ErrorKind::UnexpectedEof)?.is_empty() {}
                    break;
                }
                if request.body.len() + size > MAX_BODY {
                    return Err(io::Error::other("body too large"));
                }
                let data = self.take(size)?;
                request.body.extend_from_slice(&data);
                self.take(2)?; // CRLF after the chunk
            }
        } else if let Some(len) = request.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| io::Error::other("bad content-length"))?;
            request.body = self.take(len)?;
        }
        Ok(Some(request))
    }
}

/// Writes the response to one request.
pub struct Responder<'a> {
    stream: &'a mut TcpStream,
    stop: &'a AtomicBool,
    keep_alive: bool,
}

impl Responder<'_> {
    /// Whether the connection stays open after this response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Whether the server is being dropped.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// A whole response with a Content-Length body. `Ok(keep_alive)`.
    pub fn plain(
        &mut self,
        status: u16,
        content_type: &str,
        extra_headers: &[(String, String)],
        body: &str,
    ) -> io::Result<bool> {
        self.head_and_body(status, content_type, extra_headers, body, true)
    }

    /// Like [`Responder::plain`] but with the head only (for `HEAD`).
    pub fn head_only(
        &mut self,
        status: u16,
        content_type: &str,
        body_len_of: &str,
    ) -> io::Result<bool> {
        self.head_and_body(status, content_type, &[], body_len_of, false)
    }

    /// A JSON response.
    pub fn json(
        &mut self,
        status: u16,
        extra_headers: &[(String, String)],
        body: &Value,
    ) -> io::Result<bool> {
        self.plain(status, "application/json", extra_headers, &body.to_string())
    }

    /// Writes the status line and headers: `fields`, `connection`, then
    /// `extra_headers`.
    fn head(
        &mut self,
        status: u16,
        fields: &[(&str, &str)],
        extra_headers: &[(String, String)],
    ) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
        let connection = if self.keep_alive {
            "keep-alive"
        } else {
            "close"
        };
        for (k, v) in fields.iter().chain(&[("connection", connection)]) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        for (k, v) in extra_headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes())?;
        self.stream.flush()
    }

    fn head_and_body(
        &mut self,
        status: u16,
        content_type: &str,
        extra_headers: &[(String, String)],
        body: &str,
        with_body: bool,
    ) -> io::Result<bool> {
        let length = body.len().to_string();
        let fields = [("content-type", content_type), ("content-length", &length)];
        self.head(status, &fields, extra_headers)?;
        if with_body {
            self.stream.write_all(body.as_bytes())?;
        }
        self.stream.flush()?;
        Ok(self.keep_alive)
    }

    /// Starts a chunked `text/event-stream` response.
    pub fn sse(&mut self, extra_headers: &[(String, String)]) -> io::Result<Sse<'_>> {
        let fields = [
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("transfer-encoding", "chunked"),
        ];
        self.head(200, &fields, extra_headers)?;
        Ok(Sse {
            stream: self.stream,
            stop: self.stop,
            keep_alive: self.keep_alive,
        })
    }

    /// Starts a `text/event-stream` response whose end is the closing of
    /// the connection (no chunked encoding), as some OpenAI-compatible
    /// servers send it.
    pub fn sse_until_close(&mut self) -> io::Result<UntilClose<'_>> {
        self.keep_alive = false;
        let fields = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ];
        self.head(200, &fields, &[])?;
        Ok(UntilClose {
            stream: self.stream,
            stop: self.stop,
        })
    }

    /// Sleeps in short steps; false when the server is stopping.
    pub fn sleep(&self, total: Duration) -> bool {
        sleep_unless(self.stop, total)
    }
}

/// A chunked `text/event-stream` response in progress.
pub struct Sse<'a> {
    stream: &'a mut TcpStream,
    stop: &'a AtomicBool,
    keep_alive: bool,
}

impl Sse<'_> {
    /// `event: NAME` and `data: JSON`, then a blank line.
    pub fn event(&mut self, name: &str, data: &Value) -> io::Result<()> {
        self.chunk(&format!("event: {name}\ndata: {data}\n\n"))
    }

    /// `data: JSON` alone, then a blank line (`\r\n` line ends, as Google's
    /// API sends them).
    pub fn data(&mut self, data: &Value) -> io::Result<()> {
        self.chunk(&format!("data: {data}\r\n\r\n"))
    }

    /// Raw bytes of the event stream, as one HTTP chunk.
    pub fn chunk(&mut self, payload: &str) -> io::Result<()> {
        if payload.is_empty() {
            return Ok(());
        }
        write!(self.stream, "{:x}\r\n", payload.len())?;
        self.stream.write_all(payload.as_bytes())?;
        self.stream.write_all(b"\r\n")?;
        self.stream.flush()
    }

    /// Sleeps in short steps; false when the server is stopping.
    pub fn sleep(&self, total: Duration) -> bool {
        sleep_unless(self.stop, total)
    }

    /// Ends the response; `Ok(keep_alive)`.
    pub fn finish(self) -> io::Result<bool> {
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()?;
        Ok(self.keep_alive)
    }

    /// Sends nothing more until the server is dropped, then closes the
    /// connection (for timeout tests).
    pub fn stall(self) -> io::Result<bool> {
        while !self.stop.load(Ordering::SeqCst) {
            thread::sleep(POLL);
        }
        Ok(false)
    }
}

/// A response body that ends when the server closes the connection.
pub struct UntilClose<'a> {
    stream: &'a mut TcpStream,
    stop: &'a AtomicBool,
}

impl UntilClose<'_> {
    /// Sends these bytes as they are.
    pub fn send(&mut self, payload: &str) -> io::Result<()> {
        self.stream.write_all(payload.as_bytes())?;
        self.stream.flush()
    }

    /// Sleeps in short steps; false when the server is stopping.
    pub fn sleep(&self, total: Duration) -> bool {
        sleep_unless(self.stop, total)
    }

    /// Sends nothing more until the client goes away (true) or the server
    /// is dropped (false).
    pub fn until_client_leaves(self) -> bool {
        let mut byte = [0u8; 64];
        while !self.stop.load(Ordering::SeqCst) {
            match self.stream.read(&mut byte) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if waiting(&e) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

/// A read that timed out or was interrupted: nothing came yet, look again.
fn waiting(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

fn sleep_unless(stop: &AtomicBool, total: Duration) -> bool {
    let deadline = Instant::now() + total;
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(POLL));
    }
}

/// The reason phrase of a status line.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Splits text into chunks of up to three words (whitespace kept), so a
/// client sees several deltas that concatenate to the text.
pub fn text_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        current.push_str(piece);
        if !piece.trim().is_empty() {
            words += 1;
        }
        if words == 3 {
            chunks.push(std::mem::take(&mut current));
            words = 0;
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A short suffix that tells ids apart across mock instances and runs
/// (agents resume sessions, so ids must not repeat).
pub fn unique_suffix() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:x}{:06x}{n:x}",
        std::process::id() & 0xffff,
        nanos & 0xff_ffff
    )
}

/// A response read by [`post_json`] or [`parse_responses`]: status,
/// headers (lowercase names) and the decoded body.
#[derive(Debug)]
pub struct ClientResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ClientResponse {
    /// The first header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON of every `data:` line of an SSE body, in order.
    pub fn sse_data(&self) -> Vec<Value> {
        self.sse_events()
            .into_iter()
            .map(|(_, data)| data)
            .collect()
    }

    /// Every SSE event of the body as (event name, data JSON); the name is
    /// empty for a `data:` line alone.
    pub fn sse_events(&self) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        let mut name = String::new();
        for line in self.body.lines().map(|l| l.trim_end_matches('\r')) {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                let data = serde_json::from_str(d).unwrap_or(Value::Null);
                events.push((std::mem::take(&mut name), data));
            }
        }
        events
    }

    /// The body as JSON (`Value::Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends raw bytes to 127.0.0.1:`port` and reads until the server closes
/// (10 s read timeout): a minimal client for the mocks' own tests.
pub fn raw_exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the mock");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    stream.write_all(request).expect("send the request");
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read the response");
    out
}

/// `POST path` with a JSON body on a closed-after connection; the one
/// response, chunked bodies decoded.
pub fn post_json(port: u16, path: &str, body: &Value) -> ClientResponse {
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    parse_response(&raw_exchange(port, request.as_bytes()))
}

/// Parses the first HTTP response in `bytes`.
pub fn parse_response(bytes: &[u8]) -> ClientResponse {
    parse_responses(bytes)
        .into_iter()
        .next()
        .expect("a response")
}

/// Parses every HTTP response in `bytes` (several when a connection was
/// reused); the test client's side, it panics on garbage. A body without
/// a length runs to the end; a chunked stream cut off by the server (a
/// stall ended by dropping the mock) keeps the chunks that arrived.
pub fn parse_responses(mut bytes: &[u8]) -> Vec<ClientResponse> {
    let mut responses = Vec::new();
    while !bytes.is_empty() {
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete response head");
        let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
        bytes = &bytes[head_end + 4..];
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let mut response = ClientResponse {
            status,
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect(),
            body: String::new(),
        };
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"));
        let length = response
            .header("content-length")
            .and_then(|l| l.parse::<usize>().ok());
        let mut body = Vec::new();
        if chunked {
            bytes = dechunk(bytes, &mut body);
        } else {
            let len = length.unwrap_or(bytes.len()).min(bytes.len());
            body.extend_from_slice(&bytes[..len]);
            bytes = &bytes[len..];
        }
        response.body = String::from_utf8(body).expect("a UTF-8 body");
        responses.push(response);
    }
    responses
}

/// Decodes a chunked body into `body`; what follows it.
fn dechunk<'a>(mut bytes: &'a [u8], body: &mut Vec<u8>) -> &'a [u8] {
    while let Some(line_end) = bytes.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&bytes[..line_end])
            .ok()
            .and_then(|hex| usize::from_str_radix(hex, 16).ok())
            .expect("chunk size is hex");
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            return bytes.get(2..).unwrap_or_default();
        }
        if bytes.len() < size {
            return &[];
        }
        body.extend_from_slice(&bytes[..size]);
        bytes = bytes.get(size + 2..).unwrap_or_default();
    }
    &[]
}
