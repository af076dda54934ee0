//! A blocking client of the corral server for the command-line front ends:
//! connects (starting a server on demand), says hello, sends requests and
//! reads replies, one JSON line each.
//!
//! A server is started as `corral server` in a session of its own, with no
//! terminal; the starter waits for its ready line (no polling), so the
//! first request never races the bind. Never hangs on a server of another
//! version: the first line it gets back says which version that is.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::place::Place;
use super::protocol::{
    CORRAL_VERSION, ClientMessage, PROTOCOL, Reply, Request, TaskView, mismatch_message,
};
use crate::paths::{Paths, open_private_append};

/// How long a started server may take to come up.
const START_WAIT: Duration = Duration::from_secs(10);

/// Why there is no connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nobody listens (no socket, or a stale one).
    #[error("no corral server runs")]
    NoServer,
    /// The server is another user's, or speaks another protocol: the
    /// message is the one line to show.
    #[error("{0}")]
    Refused(String),
    #[error("cannot talk to the corral server: {0}")]
    Io(#[from] io::Error),
}

/// What the server said in its welcome.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub corral: String,
    pub pid: u32,
    pub tasks: Vec<TaskView>,
}

/// A connection that said hello.
pub struct Connection {
    reader: Option<BufReader<UnixStream>>,
    writer: UnixStream,
    next_seq: u64,
    pub welcome: Welcome,
}

/// The hello this build sends.
fn hello(window: usize, focus: Option<&str>) -> ClientMessage {
    ClientMessage {
        seq: 0,
        request: Request::Hello {
            protocol: PROTOCOL,
            corral: CORRAL_VERSION.into(),
            window,
            focus: focus.map(str::to_string),
        },
    }
}

/// Connects to the running server of `place` (never starts one).
pub fn connect(
    place: &Place,
    window: usize,
    focus: Option<&str>,
) -> Result<Connection, ConnectError> {
    let stream = match UnixStream::connect(&place.socket) {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ConnectError::NoServer);
        }
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            return Err(ConnectError::Refused(format!(
                "{} is not yours: another user's corral server (permission denied)",
                place.socket.display()
            )));
        }
        Err(err) => return Err(err.into()),
    };
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = serde_json::to_string(&hello(window, focus)).map_err(io::Error::other)?;
    line.push('\n');
    // A refusing server may have closed already: its reply still waits.
    let _ = writer.write_all(line.as_bytes());
    let mut first = String::new();
    reader.read_line(&mut first)?;
    if first.trim().is_empty() {
        return Err(ConnectError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection without a word",
        )));
    }
    // Read loosely first: a server of another version may send a welcome
    // this build cannot parse, but its type and version are always there.
    let value: serde_json::Value = serde_json::from_str(&first).map_err(io::Error::other)?;
    let kind = value["type"].as_str().unwrap_or_default();
    let server_protocol = value["protocol"].as_u64().unwrap_or(0) as u32;
    let server_version = value["corral"].as_str().unwrap_or("unknown").to_string();
    match kind {
        "refused" => Err(ConnectError::Refused(
            value["message"]
                .as_str()
                .unwrap_or("the server refused this client")
                .to_string(),
        )),
        "mismatch" => Err(ConnectError::Refused(
            value["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| mismatch_message(&server_version, server_protocol)),
        )),
        "welcome" if server_protocol != PROTOCOL => Err(ConnectError::Refused(mismatch_message(
            &server_version,
            server_protocol,
        ))),
        "welcome" => match serde_json::from_value::<Reply>(value) {
            Ok(Reply::Welcome {
                corral, pid, tasks, ..
            }) => Ok(Connection {
                reader: Some(reader),
                writer,
                next_seq: 1,
                welcome: Welcome { corral, pid, tasks },
            }),
            _ => Err(ConnectError::Refused(mismatch_message(
                &server_version,
                server_protocol,
            ))),
        },
        other => Err(ConnectError::Io(io::Error::other(format!(
            "the server answered `{other}` to hello"
        )))),
    }
}

/// Connects to the server, starting one when none runs.
pub fn connect_or_start(
    paths: &Paths,
    config_file: Option<&Path>,
    window: usize,
    focus: Option<&str>,
) -> Result<Connection> {
    let place = Place::of(paths);
    match connect(&place, window, focus) {
        Ok(conn) => return Ok(conn),
        Err(ConnectError::NoServer) => {}
        Err(err) => bail!(err),
    }
    start(paths, config_file)?;
    // A server that lost a start race to another exits at once; the
    // winner may need a moment more to listen.
    let deadline = Instant::now() + START_WAIT;
    loop {
        match connect(&place, window, focus) {
            Ok(conn) => return Ok(conn),
            Err(ConnectError::NoServer) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => bail!(err),
        }
    }
}

/// Starts a background server for `paths` and waits until it listens.
/// Returns its ready line.
pub fn start(paths: &Paths, config_file: Option<&Path>) -> Result<String> {
    let place = Place::of(paths);
    let exe = std::env::current_exe().context("cannot find the corral binary")?;
    let log = place
        .log
        .parent()
        .map(crate::paths::ensure_private_dir)
        .transpose()
        .and_then(|_| open_private_append(&place.log))
        .with_context(|| format!("cannot open {}", place.log.display()))?;
    let mut command = Command::new(exe);
    if let Some(file) = config_file {
        command.arg("--config").arg(file);
    }
    command
        .arg("server")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; it only detaches the child from
    // this terminal and process group, so a closed terminal or Ctrl-C here
    // never reaches the server.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
    let mut child = command.spawn().context("cannot start the corral server")?;
    let stdout = child.stdout.take().context("no pipe from the server")?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    // Reap it whenever it ends, without holding anybody up.
    std::thread::spawn(move || child.wait());
    read.context("cannot read from the starting server")?;
    if line.starts_with(super::READY_PREFIX) {
        Ok(line.trim().to_string())
    } else {
        // Lost a start race (another server runs) or failed: its reason is
        // in the log; the caller connects to whichever server runs.
        Ok(String::new())
    }
}

impl Connection {
    /// Sends a request without waiting; returns its number.
    pub fn send(&mut self, request: Request) -> Result<u64> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut line = serde_json::to_string(&ClientMessage { seq, request })?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .context("the server is gone")?;
        Ok(seq)
    }

    /// The next reply; `None` when the server closed the connection.
    pub fn next_reply(&mut self) -> Result<Option<Reply>> {
        let reader = self
            .reader
            .as_mut()
            .ok_or_else(|| anyhow!("the reader was taken"))?;
        read_reply(reader)
    }

    /// Sends `request` and waits for its answer, passing everything else
    /// that arrives meanwhile to `seen`. `Ok` carries the task id the
    /// server named; a refusal is an error with the server's words.
    pub fn call_with(
        &mut self,
        request: Request,
        mut seen: impl FnMut(&Reply),
    ) -> Result<Option<String>> {
        let seq = self.send(request)?;
        loop {
            match self.next_reply()? {
                Some(Reply::Done { seq: s, id }) if s == seq => return Ok(id),
                Some(Reply::Failed { seq: s, message }) if s == seq || s == 0 => bail!(message),
                Some(Reply::Bye { message }) => bail!(message),
                Some(other) => seen(&other),
                None => bail!("the server closed the connection"),
            }
        }
    }

    /// [`Connection::call_with`], ignoring what else arrives.
    pub fn call(&mut self, request: Request) -> Result<Option<String>> {
        self.call_with(request, |_| {})
    }

    /// The reading half (if not taken), the writing half and the next
    /// request number, for a front end that drives the socket itself.
    pub fn into_parts(self) -> (Option<BufReader<UnixStream>>, UnixStream, u64) {
        (self.reader, self.writer, self.next_seq)
    }

    /// Takes the reading half (for a thread that reads while the caller
    /// writes).
    pub fn take_reader(&mut self) -> Option<BufReader<UnixStream>> {
        self.reader.take()
    }
}

/// Reads one reply line; `None` at the end of the stream.
pub fn read_reply(reader: &mut impl BufRead) -> Result<Option<Reply>> {
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if line.trim().is_empty() {
            continue;
        }
        return serde_json::from_str(&line)
            .map(Some)
            .with_context(|| format!("the server sent something unreadable: {}", line.trim()));
    }
}
