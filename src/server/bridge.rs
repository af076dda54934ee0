//! `corral server --stdio`: one client connection carried over stdin and
//! stdout to this machine's server (started when none runs), so that
//! `ssh -T HOST corral server --stdio` is a client connection to HOST's
//! server, for a corral on another machine.
//!
//! Only copies bytes: the client's hello reaches the server as it was
//! sent, so the server itself answers a client of another protocol. Ends
//! when either side ends (stdin closed: ssh went; socket closed: the
//! server went or dropped us). Never reads or writes anything else on
//! stdout (it is the protocol's), never runs an agent itself.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::paths::Paths;

/// Runs the bridge until one side ends; returns the exit code.
pub fn run(config_file: Option<&Path>) -> i32 {
    let paths = match Paths::resolve(config_file) {
        Ok(paths) => paths,
        Err(err) => {
            eprintln!("corral: {err:#}");
            return 2;
        }
    };
    let stream = match super::client::socket_or_start(&paths, config_file) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("corral: {err:#}");
            return 1;
        }
    };
    let to_server = match stream.try_clone() {
        Ok(s) => s,
        Err(err) => {
            eprintln!("corral: {err}");
            return 1;
        }
    };
    std::thread::spawn(move || pump_stdin(to_server));
    pump_stdout(stream)
}

/// stdin to the server; at its end, tells the server this client is done.
fn pump_stdin(mut to_server: UnixStream) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to_server.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_server.shutdown(Shutdown::Write);
}

/// The server to stdout, flushed as it comes; returns when either ends.
fn pump_stdout(mut from_server: UnixStream) -> i32 {
    let mut stdout = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from_server.read(&mut buf) {
            Ok(0) => return 0,
            Ok(n) => {
                if stdout
                    .write_all(&buf[..n])
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    // The other end (ssh) is gone: so is this client.
                    return 0;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => {
                eprintln!("corral: the server connection failed: {err}");
                return 1;
            }
        }
    }
}
