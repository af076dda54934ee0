//! A scripted JSON-RPC client over a child's stdin/stdout that records both
//! directions, for capturing transcripts of live agent protocols (ACP,
//! codex app-server) from the real CLIs.
//!
//! Every line written and every stdout line read is kept, in order, as
//! `{"dir":"stdin"|"stdout","line":<the line's own bytes when it is
//! JSON, else the line as a JSON string>}`. Waiting is bounded by a timeout; it never panics on
//! what the agent prints (a wait that times out returns `None`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One live child speaking JSON lines, with its recorded session.
pub struct StdioSession {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Everything seen so far, both directions, in order.
    log: Arc<Mutex<Vec<(String, String)>>>,
    /// Stdout lines read but not yet consumed by a wait.
    pending: Vec<Value>,
    stderr: Arc<Mutex<String>>,
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
}

fn record(log: &Mutex<Vec<(String, String)>>, dir: &str, line: &str) {
    if let Ok(mut log) = log.lock() {
        log.push((dir.to_string(), line.to_string()));
    }
}

impl StdioSession {
    /// Starts `command` with piped stdin, stdout and stderr.
    pub fn start(mut command: Command) -> StdioSession {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the agent");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, lines) = channel();
        let reader_log = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                record(&reader_log, "stdout", &line);
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let err_sink = stderr_text.clone();
        let err_reader = std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = stderr.read_to_string(&mut buf);
            if let Ok(mut sink) = err_sink.lock() {
                sink.push_str(&buf);
            }
        });
        StdioSession {
            stdin: child.stdin.take(),
            child,
            lines,
            log,
            pending: Vec::new(),
            stderr: stderr_text,
            threads: vec![reader, err_reader],
            next_id: 0,
        }
    }

    /// Writes one JSON line to the agent's stdin and records it.
    pub fn send(&mut self, message: &Value) {
        let line = message.to_string();
        record(&self.log, "stdin", &line);
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(format!("{line}\n").as_bytes());
            let _ = stdin.flush();
        }
    }

    /// Writes one line exactly as given (it must be one JSON object).
    pub fn send_line(&mut self, line: &str) {
        record(&self.log, "stdin", line);
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(format!("{line}\n").as_bytes());
            let _ = stdin.flush();
        }
    }

    /// Waits for the response to the request with this (string) id.
    pub fn wait_response_to(&mut self, id: &str, timeout: Duration) -> Option<Value> {
        self.wait_for(timeout, |m| {
            m.get("id").and_then(Value::as_str) == Some(id) && m.get("method").is_none()
        })
    }

    /// Sends a request with the next numeric id; returns the id.
    pub fn request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Answers the agent's request `id` with `result`.
    pub fn respond(&mut self, id: &Value, result: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    /// Waits for the first stdout message (not yet consumed) that `matches`,
    /// consuming it and every message before it. `None` on timeout or EOF.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.pending.iter().position(&matches) {
                let found = self.pending.remove(at);
                self.pending.drain(..at);
                return Some(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Ok(value) = serde_json::from_str::<Value>(&line) {
                        self.pending.push(value);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None;
                }
            }
        }
    }

    /// Waits for the response to request `id`.
    pub fn wait_response(&mut self, id: u64, timeout: Duration) -> Option<Value> {
        self.wait_for(timeout, |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        })
    }

    /// Waits for a request or notification named `method` from the agent.
    pub fn wait_method(&mut self, method: &str, timeout: Duration) -> Option<Value> {
        self.wait_for(timeout, |m| {
            m.get("method").and_then(Value::as_str) == Some(method)
        })
    }

    /// Closes stdin and waits (bounded) for the child to exit, killing it
    /// if it does not; returns the exit code.
    pub fn finish(&mut self, timeout: Duration) -> Option<i32> {
        self.stdin.take();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                for t in self.threads.drain(..) {
                    let _ = t.join();
                }
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                for t in self.threads.drain(..) {
                    let _ = t.join();
                }
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything recorded so far: (direction, the line as it was).
    pub fn log(&self) -> Vec<(String, String)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The agent's stderr (complete after [`StdioSession::finish`]).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Writes `<dir>/<name>.session.jsonl` (both directions) and
    /// `<dir>/<name>.jsonl` (the agent's stdout only), replacing `sandbox`
    /// (the temp root) by `/home/dev/sandbox` and this checkout by `<repo>`, so
    /// fixtures stay stable and name no machine's paths.
    pub fn save(&self, dir: &Path, name: &str, sandbox: &Path) {
        std::fs::create_dir_all(dir).expect("create the fixture dir");
        let root = sandbox.display().to_string();
        let repo = env!("CARGO_MANIFEST_DIR");
        let fix = |text: String| {
            text.replace(&root, "/home/dev/sandbox")
                .replace(repo, "<repo>")
        };
        let mut both = String::new();
        let mut stdout = String::new();
        for (direction, line) in self.log() {
            let line = fix(line);
            // The line itself, unchanged, when it is JSON; else as a string.
            let embedded = match serde_json::from_str::<Value>(&line) {
                Ok(_) => line.clone(),
                Err(_) => Value::String(line.clone()).to_string(),
            };
            both.push_str(&format!(
                "{{\"dir\":\"{direction}\",\"line\":{embedded}}}\n"
            ));
            if direction == "stdout" {
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
        std::fs::write(dir.join(format!("{name}.session.jsonl")), both).expect("write");
        std::fs::write(dir.join(format!("{name}.jsonl")), stdout).expect("write");
        let stderr = fix(self.stderr());
        if !stderr.trim().is_empty() {
            std::fs::write(dir.join(format!("{name}.stderr.txt")), stderr).expect("write");
        }
    }
}

impl Drop for StdioSession {
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
