//! The byte streams a client of a corral server talks over: this machine's
//! Unix socket, or an `ssh -T HOST corral server --stdio` child whose
//! stdin and stdout carry the same JSON lines to that host's server.
//!
//! Both are a [`Link`] (a reader, a writer, and for ssh the child), so
//! every client speaks the protocol with the same code whatever the host.
//! OpenSSH does the authentication, encryption, jump hosts and the rest:
//! corral opens no port of its own. ssh runs with `BatchMode=yes` (a key
//! it cannot use fails at once instead of prompting behind a full-screen
//! cockpit) and a connect timeout; what ssh says on stderr is kept, so a
//! host that cannot be reached is shown in ssh's own words.
//!
//! Never sends anything of this machine's config or environment to the
//! other host: the remote command is `corral server --stdio` and nothing
//! more, and the remote server uses its own config and environment.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use crate::config::Host;

/// How long ssh may take to reach a host (ssh's own `ConnectTimeout`,
/// unless the host's `ssh_args` set one).
pub const SSH_CONNECT_TIMEOUT_S: u32 = 10;
/// The most of ssh's stderr kept for a message.
const STDERR_CAP: usize = 16 * 1024;

/// The reading half of a link.
pub type LinkReader = Box<dyn Read + Send>;
/// The writing half of a link.
pub type LinkWriter = Box<dyn Write + Send>;

/// One open byte stream to a server.
pub struct Link {
    pub reader: LinkReader,
    pub writer: LinkWriter,
    /// The ssh child, for a remote host.
    pub ssh: Option<SshChild>,
    /// The socket itself, for a Unix socket link (to set its options).
    pub socket: Option<UnixStream>,
}

impl Link {
    /// A link over a connected Unix socket.
    pub fn unix(stream: UnixStream) -> io::Result<Link> {
        let writer = stream.try_clone()?;
        let socket = stream.try_clone()?;
        Ok(Link {
            reader: Box::new(stream),
            writer: Box::new(writer),
            ssh: None,
            socket: Some(socket),
        })
    }
}

/// The ssh arguments that run `corral server --stdio` on `host`: the
/// host's own `ssh_args` first (ssh keeps the first value of an option,
/// so theirs win), then corral's defaults, then the destination after
/// `--` (so it can never be read as an option) and the remote command.
pub fn ssh_args(host: &Host) -> Vec<String> {
    let mut args = vec!["-T".to_string()];
    args.extend(host.ssh_args.iter().cloned());
    for option in [
        "BatchMode=yes".to_string(),
        format!("ConnectTimeout={SSH_CONNECT_TIMEOUT_S}"),
        "ServerAliveInterval=15".to_string(),
        "ServerAliveCountMax=3".to_string(),
    ] {
        args.push("-o".into());
        args.push(option);
    }
    args.push("--".into());
    args.push(host.ssh.clone());
    // The remote shell reads this line: `corral` may be `~/bin/corral` or
    // a wrapper; the arguments are corral's own.
    args.push(format!("{} server --stdio", host.corral));
    args
}

/// A running `ssh ... corral server --stdio`, and what it said on stderr.
pub struct SshChild {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_closed: Option<mpsc::Receiver<()>>,
    host: Host,
}

impl SshChild {
    /// Starts ssh for `host`; returns the child and the link over its pipes.
    pub fn spawn(host: &Host) -> io::Result<Link> {
        let mut child = Command::new("ssh")
            .args(ssh_args(host))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| io::Error::new(err.kind(), format!("cannot run ssh: {err}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("no stderr"))?;
        let kept = Arc::new(Mutex::new(Vec::new()));
        let (closed_tx, closed_rx) = mpsc::sync_channel(1);
        let sink = kept.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut kept) = sink.lock()
                    && kept.len() < STDERR_CAP
                {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
            let _ = closed_tx.send(());
        });
        Ok(Link {
            reader: Box::new(stdout),
            writer: Box::new(stdin),
            ssh: Some(SshChild {
                child,
                stderr: kept,
                stderr_closed: Some(closed_rx),
                host: host.clone(),
            }),
            socket: None,
        })
    }

    /// The ssh process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Why the link ended, once ssh closed its stdout: waits (briefly) for
    /// ssh to finish saying so, then puts its words in one message.
    pub fn failure(&mut self) -> String {
        if let Some(closed) = self.stderr_closed.take() {
            // ssh ends its stderr when it exits; one that lingers is ended.
            if closed.recv_timeout(Duration::from_secs(3)).is_err() {
                let _ = self.child.kill();
            }
        }
        let status = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => {
                let _ = self.child.kill();
                self.child.wait().ok()
            }
        };
        let stderr = self
            .stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        failure_message(&self.host, status, &stderr)
    }
}

/// A writer that keeps its ssh child alive as long as it is (for a front
/// end that takes a connection apart).
pub struct KeepingSsh {
    pub writer: LinkWriter,
    pub ssh: Option<SshChild>,
}

impl Write for KeepingSsh {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for SshChild {
    fn drop(&mut self) {
        // Closing our end of its stdin already ends the remote bridge;
        // ssh itself goes now, and is reaped.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The message for a link that ended before or after a welcome: ssh's own
/// words (its noise about known hosts left out), with what they mean for
/// corral when ssh ran but corral did not.
pub fn failure_message(host: &Host, status: Option<ExitStatus>, stderr: &str) -> String {
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect();
    let said = said.join("; ");
    let code = status.and_then(|s| s.code());
    let name = &host.name;
    match code {
        // The remote shell found no such command.
        Some(127) => format!(
            "host {name}: no corral there (`{}` not found; set `corral = \"/path/to/corral\"` in [hosts.{name}]): {said}",
            host.corral
        ),
        // ssh's own failure: unreachable, refused key, unknown host key.
        Some(255) if !said.is_empty() => format!("host {name}: {said}"),
        Some(255) => format!("host {name}: ssh failed (exit 255)"),
        _ if !said.is_empty() => format!("host {name}: {said}"),
        Some(code) => format!("host {name}: `{}` ended (exit {code})", host.corral),
        None => format!("host {name}: the connection ended"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn host() -> Host {
        Host {
            name: "box".into(),
            ssh: "me@box".into(),
            ssh_args: vec![
                "-p".into(),
                "2222".into(),
                "-o".into(),
                "ConnectTimeout=3".into(),
            ],
            corral: "~/bin/corral".into(),
        }
    }

    #[test]
    fn the_host_args_come_first_and_the_destination_after_a_double_dash() {
        let args = ssh_args(&host());
        assert_eq!(&args[..5], ["-T", "-p", "2222", "-o", "ConnectTimeout=3"]);
        assert!(args.contains(&"BatchMode=yes".to_string()));
        let n = args.len();
        assert_eq!(
            &args[n - 3..],
            ["--", "me@box", "~/bin/corral server --stdio"]
        );
    }

    #[test]
    fn failures_are_told_in_ssh_words_without_its_noise() {
        let exit = |code: i32| Some(ExitStatus::from_raw(code << 8));
        let msg = failure_message(
            &host(),
            exit(255),
            "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\r\n\
             root@127.0.0.1: Permission denied (publickey).\n",
        );
        assert_eq!(
            msg,
            "host box: root@127.0.0.1: Permission denied (publickey)."
        );
        let msg = failure_message(
            &host(),
            exit(127),
            "bash: line 1: ~/bin/corral: No such file\n",
        );
        assert!(msg.starts_with("host box: no corral there (`~/bin/corral` not found"));
        assert!(msg.ends_with("No such file"));
        assert_eq!(
            failure_message(&host(), exit(1), ""),
            "host box: `~/bin/corral` ended (exit 1)"
        );
    }
}
