//! A blocking client of the corral server for the command-line front ends:
//! connects (starting a server on demand) to this machine's server or,
//! through ssh, to another host's ([`super::transport`]), says hello,
//! sends requests and reads replies, one JSON line each.
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
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::place::Place;
use super::protocol::{
    CORRAL_VERSION, ClientMessage, PROTOCOL, Reply, Request, TaskView, mismatch_message,
};
use super::transport::{KeepingSsh, Link, LinkReader, LinkWriter, SshChild};
use crate::config::Host;
use crate::paths::{Paths, open_private_append};

/// How long a started server may take to come up.
const START_WAIT: Duration = Duration::from_secs(10);
/// How long another host may take to welcome us (ssh's connect, the
/// remote server's start, the snapshot).
pub const HOST_HELLO_WAIT: Duration = Duration::from_secs(30);

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
    /// Another host could not be reached or has no usable corral: the
    /// message names the host and says why in ssh's words.
    #[error("{0}")]
    Host(String),
    #[error("cannot talk to the corral server: {0}")]
    Io(#[from] io::Error),
}

/// What the server said in its welcome (read from the `welcome` line
/// directly, its other fields ignored).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Welcome {
    pub corral: String,
    pub pid: u32,
    pub tasks: Vec<TaskView>,
    /// The server's clock as it wrote the welcome.
    #[serde(default)]
    pub now_ms: Option<u64>,
    /// This machine's clock as the welcome arrived.
    #[serde(skip)]
    pub received_ms: u64,
}

impl Welcome {
    /// The server's clock minus this one's (ms), from the welcome (the
    /// time the line took to arrive counts as skew); `None` from a server
    /// that does not say its time.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        clock_offset_ms(self.now_ms, self.received_ms)
    }
}

/// The clock offset of a server that said `server_ms` in a welcome this
/// machine received at `received_ms`.
pub fn clock_offset_ms(server_ms: Option<u64>, received_ms: u64) -> Option<i64> {
    server_ms.map(|at| at as i64 - received_ms as i64)
}

/// The first line of a server's answer, read loosely: what every
/// version's answer has.
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    protocol: u32,
    #[serde(default)]
    corral: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// A connection that said hello.
pub struct Connection {
    reader: Option<BufReader<LinkReader>>,
    writer: LinkWriter,
    next_seq: u64,
    pub welcome: Welcome,
    /// The ssh child of a remote host's connection (ended on drop).
    ssh: Option<SshChild>,
    /// The Unix socket of a local connection (for its options).
    socket: Option<UnixStream>,
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

/// Opens the socket of the running server of `place` (no hello).
pub fn open_socket(place: &Place) -> Result<UnixStream, ConnectError> {
    match UnixStream::connect(&place.socket) {
        Ok(stream) => Ok(stream),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Err(ConnectError::NoServer)
        }
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            Err(ConnectError::Refused(format!(
                "{} is not yours: another user's corral server (permission denied)",
                place.socket.display()
            )))
        }
        Err(err) => Err(err.into()),
    }
}

/// Connects to the running server of `place` (never starts one).
pub fn connect(
    place: &Place,
    window: usize,
    focus: Option<&str>,
) -> Result<Connection, ConnectError> {
    handshake(Link::unix(open_socket(place)?)?, window, focus)
}

/// Connects to the server of `host` through ssh (its bridge starts the
/// server there when none runs). Every failure is one message naming the
/// host, in ssh's words when ssh is what failed; it never waits longer
/// than [`HOST_HELLO_WAIT`] for the welcome.
pub fn connect_host(
    host: &Host,
    window: usize,
    focus: Option<&str>,
) -> Result<Connection, ConnectError> {
    let link = SshChild::spawn(host)
        .map_err(|err| ConnectError::Host(format!("host {}: {err}", host.name)))?;
    let pid = link.ssh.as_ref().map(SshChild::pid);
    // A host that takes too long is ended: its stdout closes, the read
    // below returns, and ssh's words (if any) say why.
    let (done, wait) = mpsc::channel::<()>();
    if let Some(pid) = pid {
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(HOST_HELLO_WAIT) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        });
    }
    let mut ssh = None;
    let result = handshake_keeping(link, window, focus, &mut ssh);
    drop(done);
    let name = &host.name;
    match result {
        Ok(conn) => Ok(conn),
        Err(ConnectError::Refused(message)) => {
            Err(ConnectError::Refused(format!("host {name}: {message}")))
        }
        Err(_) => {
            let message = ssh
                .as_mut()
                .map(SshChild::failure)
                .unwrap_or_else(|| format!("host {name}: the connection ended"));
            Err(ConnectError::Host(message))
        }
    }
}

/// Says hello over `link` and reads the answer.
fn handshake(link: Link, window: usize, focus: Option<&str>) -> Result<Connection, ConnectError> {
    let mut ssh = None;
    handshake_keeping(link, window, focus, &mut ssh)
}

/// [`handshake`]; on failure the link's ssh child is left in `ssh` (so
/// its words can be read).
fn handshake_keeping(
    link: Link,
    window: usize,
    focus: Option<&str>,
    ssh: &mut Option<SshChild>,
) -> Result<Connection, ConnectError> {
    let Link {
        reader,
        mut writer,
        ssh: child,
        socket,
    } = link;
    *ssh = child;
    let mut reader = BufReader::new(reader);
    let mut line = serde_json::to_string(&hello(window, focus)).map_err(io::Error::other)?;
    line.push('\n');
    // A refusing server may have closed already: its reply still waits.
    let _ = writer.write_all(line.as_bytes());
    let _ = writer.flush();
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let received_ms = crate::headless::now_ms();
    if first.trim().is_empty() {
        return Err(ConnectError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection without a word",
        )));
    }
    // Read loosely first: a server of another version may send a welcome
    // this build cannot parse, but its type and version are always there
    // (the tasks are skipped, not built, and read once, into their types,
    // when the versions agree).
    let value: Head = serde_json::from_str(&first).map_err(|_| {
        ConnectError::Refused(format!(
            "not a corral server: it said `{}`",
            crate::present::truncate(first.trim(), 120)
        ))
    })?;
    let kind = value.kind.as_str();
    let server_protocol = value.protocol;
    let server_version = value.corral.unwrap_or_else(|| "unknown".into());
    match kind {
        "refused" => Err(ConnectError::Refused(
            value
                .message
                .unwrap_or_else(|| "the server refused this client".into()),
        )),
        "mismatch" => {
            Err(ConnectError::Refused(value.message.unwrap_or_else(|| {
                mismatch_message(&server_version, server_protocol)
            })))
        }
        "welcome" if server_protocol != PROTOCOL => Err(ConnectError::Refused(mismatch_message(
            &server_version,
            server_protocol,
        ))),
        "welcome" => match serde_json::from_str::<Welcome>(&first) {
            Ok(welcome) => Ok(Connection {
                reader: Some(reader),
                writer,
                next_seq: 1,
                welcome: Welcome {
                    received_ms,
                    ..welcome
                },
                ssh: ssh.take(),
                socket,
            }),
            _ => Err(ConnectError::Refused(mismatch_message(
                &server_version,
                server_protocol,
            ))),
        },
        other => Err(ConnectError::Refused(format!(
            "the server answered `{other}` to hello"
        ))),
    }
}

/// The socket of the server of `paths`, starting a server when none runs
/// (no hello said yet).
pub fn socket_or_start(paths: &Paths, config_file: Option<&Path>) -> Result<UnixStream> {
    let place = Place::of(paths);
    match open_socket(&place) {
        Ok(stream) => return Ok(stream),
        Err(ConnectError::NoServer) => {}
        Err(err) => bail!(err),
    }
    start(paths, config_file)?;
    // A server that lost a start race to another exits at once; the
    // winner may need a moment more to listen.
    let deadline = Instant::now() + START_WAIT;
    loop {
        match open_socket(&place) {
            Ok(stream) => return Ok(stream),
            Err(ConnectError::NoServer) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => bail!(err),
        }
    }
}

/// Connects to the server, starting one when none runs.
pub fn connect_or_start(
    paths: &Paths,
    config_file: Option<&Path>,
    window: usize,
    focus: Option<&str>,
) -> Result<Connection> {
    let stream = socket_or_start(paths, config_file)?;
    Ok(handshake(Link::unix(stream)?, window, focus)?)
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
            .and_then(|()| self.writer.flush())
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
    /// For another host the writer keeps the ssh child (ending it when
    /// dropped).
    pub fn into_parts(self) -> (Option<BufReader<LinkReader>>, LinkWriter, u64) {
        let writer: LinkWriter = match self.ssh {
            Some(ssh) => Box::new(KeepingSsh {
                writer: self.writer,
                ssh: Some(ssh),
            }),
            None => self.writer,
        };
        (self.reader, writer, self.next_seq)
    }

    /// Bounds how long a write may wait for room (a Unix socket; an ssh
    /// pipe is drained by ssh and has no such option).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.socket {
            Some(socket) => socket.set_write_timeout(timeout),
            None => Ok(()),
        }
    }

    /// Takes the reading half (for a thread that reads while the caller
    /// writes).
    pub fn take_reader(&mut self) -> Option<BufReader<LinkReader>> {
        self.reader.take()
    }

    /// Takes the ssh child of a remote host's connection (for a caller
    /// that reads ssh's words itself once the connection ended; then
    /// [`Connection::into_parts`] leaves it out).
    pub fn take_ssh(&mut self) -> Option<SshChild> {
        self.ssh.take()
    }

    /// Why a remote host's connection ended (ssh's words), once it has.
    pub fn ssh_failure(&mut self) -> Option<String> {
        self.ssh.as_mut().map(SshChild::failure)
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
