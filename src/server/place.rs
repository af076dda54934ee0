//! Where a corral server lives and who may talk to it: its socket, its
//! lock file, its log, and the peer check.
//!
//! One server per user and data directory. The lock file
//! (`<data>/server.lock`, an exclusive `flock` held for the server's life,
//! its pid written inside) decides which server is the one; the kernel drops
//! it however the server dies, so a lock is never stale. The socket lives in
//! `$XDG_RUNTIME_DIR/corral/` (else the state directory), in a directory
//! made 0700, the socket itself 0600, named after the data directory so two
//! data directories get two servers. A socket file left by a killed server
//! is removed by the next server, which holds the lock while it binds.
//!
//! Never opens a TCP port; never removes a socket while another server
//! holds the lock.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::paths::{Paths, ensure_private_dir};

/// The files of the server of one data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The Unix socket clients connect to.
    pub socket: PathBuf,
    /// The lock file (holds the server's pid).
    pub lock: PathBuf,
    /// The server's log.
    pub log: PathBuf,
}

impl Place {
    /// The place for `paths`, from this process's environment.
    pub fn of(paths: &Paths) -> Place {
        Place::from_env(paths, std::env::var_os("XDG_RUNTIME_DIR"))
    }

    /// The place for `paths` given `$XDG_RUNTIME_DIR` (ignored when it is
    /// not an absolute path, as the spec says).
    pub fn from_env(paths: &Paths, runtime_dir: Option<OsString>) -> Place {
        let dir = runtime_dir
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|p| p.join("corral"))
            .unwrap_or_else(|| paths.state_dir.clone());
        let name = format!(
            "server-{:016x}.sock",
            fnv1a(paths.data_dir.as_os_str().as_encoded_bytes())
        );
        Place {
            socket: dir.join(name),
            lock: paths.data_dir.join("server.lock"),
            log: paths.state_dir.join("server.log"),
        }
    }
}

/// FNV-1a, 64 bits: a hash that is the same in every build and Rust
/// version (std's `DefaultHasher` promises neither), so an old and a new
/// corral find the same socket and can tell each other their versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The held server lock; dropping it (or dying) releases it.
#[derive(Debug)]
pub struct ServerLock {
    _lock: Flock<File>,
}

fn open_lock(place: &Place) -> io::Result<File> {
    if let Some(dir) = place.lock.parent() {
        ensure_private_dir(dir)?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(&place.lock)
}

/// Takes the server lock and writes this process's pid into it; `Ok(None)`
/// when another live server holds it.
pub fn try_lock(place: &Place) -> io::Result<Option<ServerLock>> {
    let file = open_lock(place)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => return Ok(None),
        Err((_, errno)) => return Err(io::Error::from(errno)),
    };
    lock.set_len(0)?;
    lock.rewind()?;
    writeln!(lock, "{}", std::process::id())?;
    lock.sync_all()?;
    Ok(Some(ServerLock { _lock: lock }))
}

/// The pid of the live server holding the lock, if one does.
pub fn holder(place: &Place) -> Option<i32> {
    let file = OpenOptions::new().read(true).open(&place.lock).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Free: nobody serves.
        Ok(_free) => None,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            file.read_to_string(&mut text).ok()?;
            text.trim().parse().ok()
        }
        Err(_) => None,
    }
}

/// Waits (up to `wait`) until no server holds the lock; true when free.
pub fn wait_released(place: &Place, wait: std::time::Duration) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(&place.lock) else {
        return true;
    };
    // A blocking flock wakes the moment the server's lock goes, without
    // polling; a thread bounds the wait.
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let _ = tx.send(Flock::lock(file, FlockArg::LockShared).is_ok());
    });
    rx.recv_timeout(wait).unwrap_or(false)
}

/// Makes the socket's directory private (0700, ours) and binds the socket
/// (0600), removing a stale one first. Call with the lock held.
pub fn bind(place: &Place) -> io::Result<std::os::unix::net::UnixListener> {
    let dir = place.socket.parent().unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != nix::unistd::getuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to uid {}, not to you: corral will not put its socket there",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    match std::fs::remove_file(&place.socket) {
        Ok(()) => tracing::info!(socket = %place.socket.display(), "removed a stale socket"),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let listener = std::os::unix::net::UnixListener::bind(&place.socket)?;
    std::fs::set_permissions(&place.socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The uid of the process at the other end of a Unix socket (SO_PEERCRED).
pub fn peer_uid(socket: &impl AsFd) -> io::Result<u32> {
    let creds = nix::sys::socket::getsockopt(socket, nix::sys::socket::sockopt::PeerCredentials)
        .map_err(io::Error::from)?;
    Ok(creds.uid())
}

/// This process's uid.
pub fn my_uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> Paths {
        Paths {
            config_file: dir.join("config.toml"),
            config_explicit: false,
            data_dir: dir.join("data"),
            state_dir: dir.join("state"),
        }
    }

    #[test]
    fn the_socket_is_in_the_runtime_dir_named_after_the_data_dir() {
        let p = paths(Path::new("/home/u"));
        let place = Place::from_env(&p, Some("/run/user/1000".into()));
        assert!(place.socket.starts_with("/run/user/1000/corral"));
        assert_eq!(place.lock, PathBuf::from("/home/u/data/server.lock"));
        // FNV-1a of "/home/u/data" (checked with another implementation):
        // stable across builds, as the name is part of how versions meet.
        assert_eq!(
            place.socket.file_name().unwrap(),
            "server-5feb3113f65dc856.sock"
        );
        let other = Place::from_env(&paths(Path::new("/home/v")), Some("/run/user/1000".into()));
        assert_ne!(place.socket, other.socket);
        let fallback = Place::from_env(&p, Some("relative".into()));
        assert!(fallback.socket.starts_with("/home/u/state"));
    }

    #[test]
    fn one_lock_holder_and_its_pid_is_readable() {
        let tmp = tempfile::tempdir().unwrap();
        let place = Place::from_env(&paths(tmp.path()), None);
        assert_eq!(holder(&place), None);
        let held = try_lock(&place).unwrap().expect("free");
        assert!(try_lock(&place).unwrap().is_none());
        assert_eq!(holder(&place), Some(std::process::id() as i32));
        drop(held);
        assert!(wait_released(&place, std::time::Duration::from_secs(1)));
        assert_eq!(holder(&place), None);
    }

    #[test]
    fn bind_makes_the_dir_and_socket_private_and_replaces_a_stale_socket() {
        let tmp = tempfile::tempdir().unwrap();
        let place = Place::from_env(&paths(tmp.path()), Some(tmp.path().join("run").into()));
        let first = bind(&place).unwrap();
        drop(first);
        // The file stays behind, like after kill -9.
        assert!(place.socket.exists());
        let dir = place.socket.parent().unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let _second = bind(&place).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir), 0o700);
        assert_eq!(mode(&place.socket), 0o600);
    }
}
