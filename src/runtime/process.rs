//! Starting one agent process: a PTY for its output, a pipe (or `/dev/null`)
//! for its input, its own session and process group.
//!
//! portable-pty's `spawn_command` would make stdin the terminal too, and
//! claude refuses stream-json input from a terminal, so the child is spawned
//! here with `std::process::Command`: stdout is the PTY slave (opened by
//! name with `O_NOCTTY`), stdin a pipe (or the slave too, for an
//! interactive program: `StdinMode::Terminal`). A structured agent's
//! stderr is a pipe of its own, so what it logs there (warnings, notes)
//! never splits one of its event lines and is told apart from its events;
//! an interactive program's stderr is the terminal too. Before `exec` the
//! child resets its signals, calls `setsid()` and takes the slave as its
//! controlling terminal. This module never reads or writes agent data and
//! never panics: every failure is a message for `SpawnFailed`.
//!
//! If corral dies (even by SIGKILL) its agents must not run on: the child
//! asks for SIGKILL when its parent dies (`PR_SET_PDEATHSIG`), and the PTY
//! hang-up signals the rest of its session. The parent-death signal fires
//! when the *thread* that forked the child exits, not the process: the
//! spawn happens on the agent's supervisor thread, which lives until it has
//! reaped the leader, so the signal can only fire early if that thread
//! dies, and then it should. After arming it the child checks that its
//! parent is still corral, closing the race with a corral that died
//! between fork and `prctl`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use portable_pty::{MasterPty, PtySize, native_pty_system};

use crate::agent::{LaunchSpec, StdinMode};

/// A started agent. The master must stay open until the agent has exited.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    /// The leader's pid, which is also its session and process group id.
    pub(crate) pid: i32,
    pub(crate) master: Box<dyn MasterPty + Send>,
    /// A duplicate of the master for the reader thread.
    pub(crate) reader_fd: OwnedFd,
    /// Where the agent's input goes: our end of the stdin pipe, or for
    /// [`StdinMode::Terminal`] a duplicate of the master (`None` for
    /// [`StdinMode::Null`]).
    pub(crate) stdin: Option<File>,
    /// A duplicate of the master for resizing the terminal.
    pub(crate) control: Arc<OwnedFd>,
    /// Our end of the agent's stderr pipe (`None`: stderr is the terminal).
    pub(crate) stderr: Option<OwnedFd>,
}

/// Spawns the agent described by `spec` on a new PTY of `size` (rows, cols).
/// The error is a message for the user naming what is missing.
/// `tag` goes into its environment as [`super::contain::TAG_VAR`]; its
/// descendants inherit it. With `cgroup_procs` (the task cgroup's
/// `cgroup.procs`, see [`super::cgroup`]) the child moves into that cgroup
/// before exec.
pub(crate) fn spawn(
    spec: &LaunchSpec,
    size: (u16, u16),
    tag: &str,
    cgroup_procs: Option<RawFd>,
) -> Result<Spawned, String> {
    let has_cwd = !spec.cwd.as_os_str().is_empty();
    if has_cwd {
        check_cwd(&spec.cwd)?;
    }

    let pair = native_pty_system()
        .openpty(PtySize {
            rows: size.0,
            cols: size.1,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|err| format!("could not open a pseudo-terminal: {err}"))?;
    let tty = pair
        .master
        .tty_name()
        .ok_or_else(|| "could not open a pseudo-terminal: it has no name".to_string())?;
    // O_NOCTTY: the slave must not become corral's controlling terminal.
    // std opens with O_CLOEXEC, so no other child inherits it.
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&tty)
        .map_err(|err| format!("could not open the terminal {}: {err}", tty.display()))?;
    let reader_fd = dup_master(pair.master.as_ref())
        .map_err(|err| format!("could not read the pseudo-terminal: {err}"))?;
    let terminal_mode = matches!(spec.stdin, StdinMode::Terminal { .. });
    let stderr_mode = if terminal_mode {
        Stdio::from(
            slave
                .try_clone()
                .map_err(|err| format!("could not open the terminal {}: {err}", tty.display()))?,
        )
    } else {
        Stdio::piped()
    };
    let control = dup_master(pair.master.as_ref())
        .map_err(|err| format!("could not control the pseudo-terminal: {err}"))?;
    let (stdin_mode, terminal_input) = match spec.stdin {
        StdinMode::Null => (Stdio::null(), None),
        StdinMode::Pipe { .. } => (Stdio::piped(), None),
        StdinMode::Terminal { .. } => {
            let open_error =
                |err: io::Error| format!("could not open the terminal {}: {err}", tty.display());
            let slave_for_stdin = slave.try_clone().map_err(open_error)?;
            let input = dup_master(pair.master.as_ref())
                .map_err(|err| format!("could not write to the pseudo-terminal: {err}"))?;
            (Stdio::from(slave_for_stdin), Some(File::from(input)))
        }
    };

    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(super::contain::TAG_VAR, tag)
        .stdout(Stdio::from(slave))
        .stderr(stderr_mode)
        .stdin(stdin_mode);
    if has_cwd {
        command.current_dir(&spec.cwd);
    }
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (write, signal, sigprocmask, prctl, getppid,
    // setsid, ioctl, _exit); it does not allocate or take locks.
    unsafe {
        command.pre_exec(move || {
            if let Some(fd) = cgroup_procs {
                super::cgroup::join(fd);
            }
            child_setup(parent)
        });
    }
    let spawned = command.spawn();
    // The Command holds the parent's copies of the slave: drop them now, or
    // the reader would never see EOF.
    drop(command);
    drop(pair.slave);
    let mut child = spawned.map_err(|err| spawn_error(spec, has_cwd, &err))?;
    let stdin = match child.stdin.take() {
        Some(pipe) => Some(File::from(OwnedFd::from(pipe))),
        None => terminal_input,
    };
    let stderr = child.stderr.take().map(OwnedFd::from);
    let pid = child.id() as i32;
    Ok(Spawned {
        child,
        pid,
        master: pair.master,
        reader_fd,
        stdin,
        control: Arc::new(control),
        stderr,
    })
}

/// Runs in the child between fork and exec; `parent` is corral's pid.
fn child_setup(parent: libc::pid_t) -> io::Result<()> {
    // SAFETY: plain libc calls on valid arguments; all async-signal-safe.
    unsafe {
        // Die with corral (see the module header for why the thread matters).
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) == -1
        {
            return Err(io::Error::last_os_error());
        }
        // corral died before the signal was armed: the child was reparented.
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        // Ignored signals stay ignored across exec: give the agent defaults
        // (SIGKILL and SIGSTOP simply fail, which is fine).
        for signal in 1..=64 {
            libc::signal(signal, libc::SIG_DFL);
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // The agent leads its own session and process group: pgid == pid.
        if libc::setsid() == -1 {
            return Err(io::Error::last_os_error());
        }
        // fd 1 is the slave by now; make it the controlling terminal.
        if libc::ioctl(1, libc::TIOCSCTTY, 0) == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A close-on-exec duplicate of the master for the reader thread.
fn dup_master(master: &(dyn MasterPty + Send)) -> io::Result<OwnedFd> {
    let raw = master
        .as_raw_fd()
        .ok_or_else(|| io::Error::other("the pseudo-terminal has no file descriptor"))?;
    // SAFETY: `raw` belongs to `master`, which outlives this borrow.
    let borrowed = unsafe { BorrowedFd::borrow_raw(raw) };
    borrowed.try_clone_to_owned()
}

fn check_cwd(cwd: &Path) -> Result<(), String> {
    match std::fs::metadata(cwd) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(format!(
            "working directory `{}` is not a directory",
            cwd.display()
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(format!(
            "working directory `{}` does not exist",
            cwd.display()
        )),
        Err(err) => Err(format!(
            "working directory `{}` cannot be used: {err}",
            cwd.display()
        )),
    }
}

/// A message naming what was missing when `Command::spawn` failed.
fn spawn_error(spec: &LaunchSpec, has_cwd: bool, err: &io::Error) -> String {
    let program = &spec.program;
    if has_cwd {
        // The directory may have vanished since it was checked.
        if let Err(message) = check_cwd(&spec.cwd) {
            return message;
        }
    }
    let is_path = program.contains('/');
    match err.kind() {
        io::ErrorKind::NotFound if !is_path => {
            format!("agent binary `{program}` not found on PATH")
        }
        io::ErrorKind::NotFound => {
            let path = if has_cwd {
                spec.cwd.join(program)
            } else {
                program.into()
            };
            if File::open(&path).is_ok() {
                // The file is there: its `#!` interpreter is what is missing.
                format!(
                    "could not start agent binary `{program}`: {err} (is its interpreter installed?)"
                )
            } else {
                format!("agent binary `{program}` not found")
            }
        }
        io::ErrorKind::PermissionDenied => {
            format!("agent binary `{program}` cannot be executed: {err}")
        }
        _ => format!("could not start agent binary `{program}`: {err}"),
    }
}
