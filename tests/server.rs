//! The corral server as users meet it: the real binary, real sockets, real
//! signals, fake agents from tests/fixtures/agents speaking claude's
//! stream-json. Starting on demand, `corral run --detach`, answering and
//! following up from the command line, permissions and the peer check,
//! the version line, `kill -9` of the server, a stuck client beside a live
//! one, two clients seeing one answer, and the idle exit.
//!
//! Every wait is bounded; every server is stopped (or killed) by the
//! test's `Home` when it ends. `hosts` (tests/server/hosts.rs): the same
//! over ssh, through a private sshd. `cockpits` (tests/server/cockpits.rs):
//! cockpits of the server in tmux, two at once, typing into a command task,
//! and the server's desktop notifications. `contain`
//! (tests/server/contain.rs): every kill path of a server task, escaped
//! processes included, and commands racing the server.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sh_quote;

#[path = "server/cockpits.rs"]
mod cockpits;
#[path = "server/contain.rs"]
mod contain;
#[path = "support/dbus.rs"]
mod dbus;
#[path = "server/hosts.rs"]
mod hosts;
mod support;
#[path = "support/tmux.rs"]
mod tmux;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agents")
}

/// A private home: config, data, state and runtime directories.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("run")).unwrap();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `corral ARGS` in this home.
    fn corral(&self, args: &[&str]) -> Command {
        self.corral_of(&assert_cmd::cargo::cargo_bin("corral"), args)
    }

    /// `BIN ARGS` (a copy of corral) in this home.
    fn corral_of(&self, bin: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        for (var, dir) in [
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            cmd.env(var, self.path().join(dir));
        }
        cmd.env("NO_COLOR", "1")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .current_dir(self.path().join("work"))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `corral ARGS` to its end (at most a minute).
    fn run(&self, args: &[&str]) -> Output {
        run_bounded(self.corral(args))
    }

    /// Runs `corral ARGS`, which must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "corral {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Hands an `ask_and_wait.py` task to the server; returns its id.
    fn detach_asker(&self, prompt: &str, extra_env: &[(&str, &str)]) -> String {
        self.detach_fake("ask_and_wait.py", extra_env, &[], prompt)
    }

    /// `corral run --detach` of the fake agent `agent` (a script in
    /// tests/fixtures/agents, through fake_claude.sh) with `env` and the
    /// further run options `args`; returns the task's id.
    fn detach_fake(
        &self,
        agent: &str,
        env: &[(&str, &str)],
        args: &[&str],
        prompt: &str,
    ) -> String {
        let bin = fixtures().join("fake_claude.sh");
        let mut words = vec![
            "run".to_string(),
            "--detach".into(),
            "--agent-bin".into(),
            bin.display().to_string(),
            "--env".into(),
            format!("FAKE_AGENT={agent}"),
        ];
        for (k, v) in env {
            words.push("--env".into());
            words.push(format!("{k}={v}"));
        }
        words.extend(args.iter().map(|a| a.to_string()));
        words.push("--".into());
        words.push(prompt.into());
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let id = self.ok(&words).trim().to_string();
        assert_eq!(id.len(), 8, "an id, got {id:?}");
        id
    }

    /// The task `id` as `corral ls --json --all` shows it.
    fn task(&self, id: &str) -> Value {
        let list: Value = serde_json::from_str(&self.ok(&["ls", "--json", "--all"])).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no task {id} in {list}"))
    }

    fn status_of(&self, id: &str) -> String {
        self.task(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (bounded) until task `id` has `status`.
    fn wait_status(&self, id: &str, status: &str) {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(20), || {
            last = self.status_of(id);
            last == status
        });
        assert!(ok, "task {id} stayed {last}, never {status}");
    }

    /// The socket path `corral server status` names.
    fn socket(&self) -> PathBuf {
        let out = self.run(&["server", "status"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let start = text.find('/').expect("a socket path");
        let end = text[start..]
            .find(".sock")
            .map(|i| start + i + 5)
            .expect("a .sock path");
        PathBuf::from(&text[start..end])
    }

    /// The pid of the running server, from its lock file.
    fn server_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.path().join("data/corral/server.lock")).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        alive(pid).then_some(pid)
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.run(&["server", "stop", "--kill"]);
        if let Some(pid) = self.server_pid() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn run_bounded(mut cmd: Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("corral starts");
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output().expect("corral ran");
    let _ = tx.send(());
    let _ = guard.join();
    out
}

fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for this purpose.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|r| r.trim().to_string()))
        .is_some_and(|rest| !rest.starts_with('Z'))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A raw protocol client, the way a script or an editor plugin talks.
struct Raw {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Raw {
    fn connect(socket: &Path, hello: Value) -> (Raw, Value) {
        let stream = UnixStream::connect(socket).expect("the server listens");
        let writer = stream.try_clone().unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
        };
        raw.send(&hello);
        let first = raw.next(Duration::from_secs(10)).expect("an answer");
        (raw, first)
    }

    fn send(&mut self, msg: &Value) {
        writeln!(self.writer, "{msg}").unwrap();
    }

    fn next(&mut self, limit: Duration) -> Option<Value> {
        self.reader.get_ref().set_read_timeout(Some(limit)).unwrap();
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("a JSON line")),
        }
    }

    /// Reads until `pred` holds for a message (bounded).
    fn until(&mut self, limit: Duration, mut pred: impl FnMut(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let msg = self.next(left.max(Duration::from_millis(1)))?;
            if pred(&msg) {
                return Some(msg);
            }
        }
        None
    }
}

fn hello(window: usize) -> Value {
    json!({"type": "hello", "protocol": 2, "corral": "test", "window": window})
}

#[test]
fn a_detached_task_is_answered_followed_up_and_killed_from_the_command_line() {
    let home = Home::new();
    let id = home.detach_asker("make a marker", &[]);
    // The first command started the server; the task asks and waits.
    home.wait_status(&id, "blocked");
    assert!(home.task(&id)["pending_question"].as_bool().unwrap());
    let out = home.run(&["answer", &id, "maybe"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`allow`, `always` or `deny"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        home.ok(&["answer", &id, "deny", "not", "today"]).trim(),
        format!("answered {id}")
    );
    let logs_have = |text: &str| {
        wait_until(Duration::from_secs(10), || {
            String::from_utf8_lossy(&home.run(&["logs", &id]).stdout).contains(text)
        })
    };
    assert!(logs_have("the tool was deny: not today"));
    home.wait_status(&id, "succeeded");
    // The session stays open: a follow-up goes to the same agent, which asks again.
    assert_eq!(
        home.ok(&["send", &id, "hello?"]).trim(),
        format!("sent to {id}")
    );
    home.wait_status(&id, "blocked");
    let out = home.run(&["answer", &id, "allow"]);
    assert!(out.status.success());
    assert!(logs_have("the tool was allow"));
    let out = home.run(&["answer", &id, "allow"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not waiting for an answer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    home.ok(&["send", &id, "one more"]);
    home.wait_status(&id, "blocked");
    assert_eq!(home.ok(&["kill", &id]).trim(), format!("killed {id}"));
    assert_eq!(home.status_of(&id), "killed");
    let logs = String::from_utf8_lossy(&home.run(&["logs", &id]).stdout).into_owned();
    assert!(logs.contains("one more"), "{logs}");
}

#[test]
fn the_socket_is_private_one_server_runs_and_kill_9_leaves_nothing_behind() {
    let home = Home::new();
    let out = home.ok(&["server", "start"]);
    assert!(out.starts_with("corral server started (pid "), "{out}");
    let socket = home.socket();
    assert!(socket.starts_with(home.path().join("run/corral")));
    assert_eq!(mode(socket.parent().unwrap()), 0o700);
    assert_eq!(mode(&socket), 0o600);
    let out = home.ok(&["server", "start"]);
    assert!(out.starts_with("corral server already runs"), "{out}");
    let second = home.run(&["server"]);
    assert_eq!(second.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&second.stderr).contains("a server already runs"));

    let pid_file = home.path().join("agent.pid");
    let id = home.detach_asker(
        "wait for me",
        &[
            ("ASK_DELAY", "600"),
            ("ASK_PID_FILE", pid_file.to_str().unwrap()),
        ],
    );
    // The file is created before the pid is written into it.
    let read_pid =
        || -> Option<i32> { std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok() };
    assert!(wait_until(Duration::from_secs(10), || read_pid().is_some()));
    let agent = read_pid().unwrap();
    assert!(alive(agent));
    let server = home.server_pid().expect("a server runs");
    unsafe { libc::kill(server, libc::SIGKILL) };
    assert!(
        wait_until(Duration::from_secs(10), || !alive(agent)),
        "the agent (pid {agent}) outlived the server"
    );
    assert!(socket.exists(), "kill -9 leaves the socket file");
    // The next command recovers: the task is interrupted, the stale socket
    // and lock are no obstacle.
    assert_eq!(home.status_of(&id), "interrupted");
    home.ok(&["send", &id, "go on"]);
    home.wait_status(&id, "running");
    assert_ne!(home.server_pid(), Some(server));
    assert!(home.server_pid().is_some());
    assert_eq!(mode(&home.socket()), 0o600);
    let out = home.ok(&["server", "stop", "--kill"]);
    assert!(out.starts_with("corral server stopped"), "{out}");
    assert!(!socket.exists(), "a stopped server removes its socket");
    assert_eq!(home.status_of(&id), "killed");
}

#[test]
fn stop_refuses_while_tasks_run_and_an_idle_server_exits_by_itself() {
    let home = Home::new();
    let id = home.detach_asker("block", &[]);
    home.wait_status(&id, "blocked");
    let out = home.run(&["server", "stop"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`corral server stop --kill`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    home.ok(&["server", "stop", "--kill"]);
    // A foreground server with a short idle time and nothing to do goes.
    let started = Instant::now();
    let out = run_bounded(home.corral(&["server", "--idle-timeout", "0.5"]));
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("corral server listening on "));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_waiting_task_keeps_an_idle_server_alive() {
    let home = Home::new();
    std::fs::create_dir_all(home.path().join("config/corral")).unwrap();
    std::fs::write(
        home.path().join("config/corral/config.toml"),
        "[defaults]\nserver_idle_timeout = 1\n",
    )
    .unwrap();
    let id = home.detach_asker("block", &[]);
    home.wait_status(&id, "blocked");
    let server = home.server_pid().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        alive(server),
        "a task waiting for an answer keeps the server"
    );
    home.ok(&["answer", &id, "allow"]);
    // Succeeded, nobody attached: the idle second runs out.
    assert!(wait_until(Duration::from_secs(15), || !alive(server)));
    assert_eq!(home.status_of(&id), "succeeded");
}

#[test]
fn another_protocol_version_gets_one_clear_line() {
    let home = Home::new();
    // This server speaks protocol 2; a client of protocol 999 is told so.
    home.ok(&["server", "start"]);
    let (_raw, first) = Raw::connect(
        &home.socket(),
        json!({"type": "hello", "protocol": 999, "corral": "9.9.9"}),
    );
    assert_eq!(first["type"], "mismatch");
    let message = first["message"].as_str().unwrap();
    assert!(
        message.starts_with("server is ") && message.ends_with("run `corral server restart`"),
        "{message}"
    );
    home.ok(&["server", "stop"]);

    // A server of another version (played by this test) answers hello
    // with its own version: the client prints one line and exits.
    let socket = home.socket();
    let listener = UnixListener::bind(&socket).unwrap();
    let fake = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut hello = String::new();
        reader.read_line(&mut hello).unwrap();
        let mut stream = stream;
        writeln!(
            stream,
            "{}",
            json!({"type": "welcome", "protocol": 7, "corral": "0.0.7", "pid": 1,
                   "tasks": [{"unknown": "shape"}]})
        )
        .unwrap();
        hello
    });
    let out = home.run(&["kill", "abcd"]);
    let hello: Value = serde_json::from_str(&fake.join().unwrap()).unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 2);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "corral: server is 0.0.7 (protocol 7), this corral is {} (protocol 2): run `corral server restart`",
            env!("CARGO_PKG_VERSION")
        )
    );
    std::fs::remove_file(&socket).unwrap();
}

#[test]
fn a_client_of_another_user_is_refused() {
    if unsafe { libc::geteuid() } != 0 {
        // Changing uid needs root (CI runs as root).
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: not root, cannot test another uid"
        );
        return;
    }
    const OTHER: u32 = 4242;
    let home = Home::new();
    for dir in ["config", "data", "state", "run", "work"] {
        let path = home.path().join(dir);
        std::fs::create_dir_all(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(OTHER), Some(OTHER)).unwrap();
    }
    std::os::unix::fs::chown(home.path(), Some(OTHER), Some(OTHER)).unwrap();
    // The server runs as the other user, from a copy of the binary it can
    // reach wherever the checkout is.
    let bin = home.path().join("corral");
    std::fs::copy(assert_cmd::cargo::cargo_bin("corral"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut server = home.corral_of(&bin, &["server", "--idle-timeout", "60"]);
    server.uid(OTHER).gid(OTHER).env("HOME", home.path());
    let mut server = server
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(
        ready.starts_with("corral server listening on "),
        "{ready:?}"
    );
    // ... and root, who can open any socket, is refused by the peer check.
    let out = home.run(&["server", "status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("belongs to uid {OTHER}; uid 0 may not use it")),
        "{stderr}"
    );
    let out = home.run(&["run", "--detach", "--", "x"]);
    assert!(!out.status.success(), "no task is started for another user");
    unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    let _ = server.wait();

    // A server of root's: the other user cannot even reach the socket.
    let root = Home::new();
    root.ok(&["server", "start"]);
    std::os::unix::fs::chown(root.path(), Some(OTHER), Some(OTHER)).unwrap();
    let bin = root.path().join("corral");
    std::fs::copy(assert_cmd::cargo::cargo_bin("corral"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut client = root.corral_of(&bin, &["server", "status"]);
    client.uid(OTHER).gid(OTHER).env("HOME", root.path());
    let out = run_bounded(client);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not yours") || stderr.contains("ermission denied"),
        "{stderr}"
    );
    std::os::unix::fs::chown(root.path(), Some(0), Some(0)).unwrap();
}

#[test]
fn an_answer_from_one_client_closes_the_question_in_the_other() {
    let home = Home::new();
    let id = home.detach_asker("ask both", &[]);
    home.wait_status(&id, "blocked");
    let socket = home.socket();
    let (mut a, welcome_a) = Raw::connect(&socket, hello(10));
    let (mut b, welcome_b) = Raw::connect(&socket, hello(10));
    for welcome in [&welcome_a, &welcome_b] {
        assert_eq!(welcome["type"], "welcome");
        let task = welcome["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"]["id"] == id.as_str())
            .expect("the task in the snapshot");
        assert_eq!(task["task"]["pending_question"]["kind"], "approval");
        assert!(task["events"].is_null(), "a summary has no transcript");
    }
    // Its transcript comes when a client opens it.
    b.send(&json!({"type": "open", "seq": 2, "id": id}));
    let opened = b
        .until(Duration::from_secs(10), |m| m["type"] == "opened")
        .expect("the opened task");
    assert_eq!(opened["seq"], 2);
    assert_eq!(opened["view"]["task"]["id"], id.as_str());
    let events = opened["view"]["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["type"] == "question"), "{events:?}");
    a.send(&json!({"type": "answer", "seq": 5, "id": id,
                   "answer": {"decision": "allow"}}));
    let done = a.until(Duration::from_secs(10), |m| {
        m["type"] == "done" || m["type"] == "failed"
    });
    assert_eq!(done.unwrap(), json!({"type": "done", "seq": 5, "id": id}));
    // B hears that the question is gone and what the agent did next.
    let closed = b.until(Duration::from_secs(10), |m| {
        m["type"] == "changed"
            && m["tasks"].as_array().is_some_and(|ts| {
                ts.iter()
                    .any(|t| t["id"] == id.as_str() && t["pending_question"].is_null())
            })
    });
    assert!(
        closed.is_some(),
        "the other client still shows the question"
    );
    let told = b.until(Duration::from_secs(10), |m| {
        m["events"].as_array().is_some_and(|es| {
            es.iter()
                .any(|e| e["event"]["type"] == "text" && e["event"]["text"] == "the tool was allow")
        })
    });
    assert!(told.is_some());
}

#[test]
fn a_command_task_is_typed_into_and_watched_through_the_server() {
    let home = Home::new();
    let bin = fixtures().join("echo_stdin.sh");
    let id = home
        .ok(&[
            "run",
            "--detach",
            "--agent",
            "command",
            "--agent-bin",
            bin.to_str().unwrap(),
            "--",
            "first line",
        ])
        .trim()
        .to_string();
    home.wait_status(&id, "running");
    let (mut raw, _) = Raw::connect(&home.socket(), hello(0));
    raw.send(&json!({"type": "watch_raw", "seq": 1, "id": id}));
    raw.until(Duration::from_secs(10), |m| {
        m["type"] == "done" && m["seq"] == 1
    })
    .expect("watching");
    raw.send(&json!({"type": "input", "id": id, "bytes": b"typed remotely\r".to_vec()}));
    let mut terminal = Vec::new();
    let echoed = raw.until(Duration::from_secs(10), |m| {
        if m["type"] == "raw" && m["id"] == id.as_str() {
            for b in m["bytes"].as_array().unwrap() {
                terminal.push(b.as_u64().unwrap() as u8);
            }
        }
        String::from_utf8_lossy(&terminal).contains("echo: typed remotely")
    });
    assert!(
        echoed.is_some(),
        "no echo in the raw output: {:?}",
        String::from_utf8_lossy(&terminal)
    );
    // Ctrl-D ends its stdin: it exits 7, as a command task does.
    raw.send(&json!({"type": "input", "id": id, "bytes": [4]}));
    home.wait_status(&id, "failed");
    let logs = String::from_utf8_lossy(&home.run(&["logs", &id]).stdout).into_owned();
    assert!(logs.contains("echo: first line"), "{logs}");
    assert!(logs.contains("echo: typed remotely"), "{logs}");
}

#[test]
fn a_client_that_watches_costs_sees_a_runaway_child_until_it_is_killed() {
    let home = Home::new();
    let bin = fixtures().join("burn_child.py");
    let id = home
        .ok(&[
            "run",
            "--detach",
            "--agent",
            "command",
            "--agent-bin",
            bin.to_str().unwrap(),
            "--",
            "burn",
        ])
        .trim()
        .to_string();
    home.wait_status(&id, "running");
    let (mut raw, _) = Raw::connect(&home.socket(), hello(0));
    raw.send(&json!({"type": "watch_costs", "seq": 1, "on": true}));
    // The task's core form carries its tree's cost, once a second: the
    // agent and its spinning child (a low bar: the machine may be busy).
    let mut costs = Vec::new();
    let busy = raw.until(Duration::from_secs(30), |m| {
        let Some(cores) = m["cores"].as_array() else {
            return false;
        };
        cores.iter().any(|t| {
            let cost = &t["cost"];
            if !cost.is_null() {
                costs.push(cost.clone());
            }
            cost["processes"] == 2 && cost["cpu_percent"].as_u64().unwrap_or(0) >= 15
        })
    });
    assert!(busy.is_some(), "no busy sample: {costs:?}");
    // The child is killed: the agent exits and its cost is gone.
    let burner = String::from_utf8_lossy(&home.run(&["logs", &id]).stdout)
        .lines()
        .find_map(|l| {
            l.trim_start_matches("│ ")
                .strip_prefix("burner ")
                .map(str::to_string)
        })
        .expect("the burner's pid in the log");
    let burner: i32 = burner.trim().parse().expect("a pid");
    // SAFETY: kill(2) on the child the fixture announced.
    assert_eq!(unsafe { libc::kill(burner, libc::SIGKILL) }, 0);
    home.wait_status(&id, "succeeded");
    let (mut raw, _) = Raw::connect(&home.socket(), hello(0));
    raw.send(&json!({"type": "open", "seq": 1, "id": id}));
    let opened = raw
        .until(Duration::from_secs(10), |m| m["type"] == "opened")
        .expect("the opened task");
    let task = &opened["view"]["core"];
    assert_eq!(task["status"], "succeeded", "{task}");
    assert!(task["cost"].is_null(), "{task}");
}

#[test]
fn attach_follows_a_task_live_until_it_finishes() {
    let home = Home::new();
    let id = home.detach_asker("attach to me", &[]);
    home.wait_status(&id, "blocked");
    // Not a terminal: attach only follows (nobody can answer there).
    let mut attach = home.corral(&["attach", &id]);
    let child = attach
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    home.ok(&["answer", &id, "deny", "not", "now"]);
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("› attach to me"),
        "the transcript so far: {text}"
    );
    assert!(
        text.contains("the tool was deny: not now"),
        "then live: {text}"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("attached to {id}")));
}

fn rss_kb(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_stuck_client_neither_holds_up_another_nor_grows_the_server() {
    let home = Home::new();
    home.ok(&["server", "start"]);
    let socket = home.socket();
    let server = home.server_pid().unwrap();
    // Connects, says hello, never reads.
    let (mut stuck, _) = Raw::connect(&socket, hello(0));
    let (mut live, _) = Raw::connect(&socket, hello(0));
    let id = home.detach_fake("spam.sh", &[], &[], "flood");
    let before = rss_kb(server);
    let mut seen = 0usize;
    let mut peak = before;
    let flood = Instant::now();
    while flood.elapsed() < Duration::from_secs(4) {
        let msg = live
            .next(Duration::from_secs(5))
            .expect("the live client keeps hearing");
        seen += msg["events"].as_array().map_or(0, |e| e.len());
        peak = peak.max(rss_kb(server));
    }
    assert!(seen > 1000, "the live client got only {seen} events");
    assert!(
        peak < before + 100 * 1024,
        "the server grew from {before} kB to {peak} kB with a stuck client"
    );
    home.ok(&["kill", &id]);
    // Once the stuck client reads again, it is resynchronised with a fresh
    // snapshot instead of everything it missed.
    let resync = stuck.until(Duration::from_secs(30), |m| {
        m["type"] == "welcome" && m["resync"] == true
    });
    assert!(
        resync.is_some(),
        "no resync for the client that fell behind"
    );
}

/// `corral ARGS` with exactly `env` (a sandbox's agent environment and
/// corral home), from the sandbox's work directory, bounded like every
/// command here.
fn corral_in<'a>(
    sandbox: &'a support::Sandbox,
    env: &'a [(String, String)],
) -> impl Fn(&[&str]) -> Output + 'a {
    move |args| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
        cmd.env_clear()
            .envs(env.iter().cloned())
            .current_dir(&sandbox.work)
            .args(args)
            .stdin(Stdio::null());
        run_bounded(cmd)
    }
}

/// The cockpit as a client, end to end with the real claude against the
/// loopback mock: a task started in a cockpit finishes after its terminal
/// is gone; a task that blocks while nobody is attached waits, and is
/// answered from a new cockpit; the agent goes on.
#[test]
fn agents_outlive_the_cockpit_with_the_real_claude() {
    use support::anthropic_mock::{MockAnthropic, Reply};
    if !tmux::Tmux::available_or_skip("server e2e") {
        return;
    }
    let Some(claude) = support::claude_or_skip("server e2e") else {
        return;
    };
    let mock = MockAnthropic::start(vec![
        Reply::slow_text(
            "Working on it. Step one, step two, step three, all done building the widget.",
            Duration::from_secs(4),
        ),
        Reply::bash(
            "touch detached-marker.txt && echo created",
            "Let me create a marker file.",
        ),
        Reply::auto(),
    ]);
    let sandbox = support::Sandbox::new(&claude);
    let env = sandbox.with_corral_dirs(sandbox.env(mock.port()));
    let work = sandbox.work.display().to_string();
    let corral = corral_in(&sandbox, &env);
    struct StopServer<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for StopServer<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["server", "stop", "--kill"]);
        }
    }
    let _stop = StopServer(&corral);
    let cockpit = support::shell_line(
        &env,
        Path::new(env!("CARGO_BIN_EXE_corral")),
        &["--cwd", &work],
    );
    let first = tmux::Tmux::start(&cockpit, 110, 30);
    first.wait_for("the cockpit", |s| s.contains("no tasks yet"));
    first.keys(&["n"]);
    first.wait_for("the form", |s| s.contains("Ctrl-S"));
    first.text("build the widget");
    first.keys(&["C-s"]);
    first.wait_for("the answer streaming", |s| s.contains("Working on it"));
    // The terminal is gone (a closed window, a dropped ssh connection).
    drop(first);
    let list = |all: bool| -> Vec<Value> {
        let out = corral(if all {
            &["ls", "--json", "--all"]
        } else {
            &["ls", "--json"]
        });
        serde_json::from_slice::<Value>(&out.stdout)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    let finished = wait_until(Duration::from_secs(30), || {
        list(false)
            .iter()
            .any(|t| t["status"] == "succeeded" && t["title"] == "build the widget")
    });
    assert!(
        finished,
        "the agent did not finish without its cockpit: {:?}",
        list(true)
    );
    assert_eq!(mock.message_requests().len(), 1);
    let id = list(false)[0]["id"].as_str().unwrap().to_string();
    let logs = String::from_utf8_lossy(&corral(&["logs", &id]).stdout).into_owned();
    assert!(logs.contains("all done building the widget"), "{logs}");

    // Nobody attached: a task that asks waits for an answer.
    let out = corral(&["run", "--detach", "--cwd", &work, "--", "make the marker"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(wait_until(Duration::from_secs(30), || {
        list(false)
            .iter()
            .any(|t| t["id"] == second.as_str() && t["status"] == "blocked")
    }));

    // A new cockpit shows the finished result and the waiting question.
    let again = tmux::Tmux::start(&cockpit, 110, 30);
    again.wait_for("both tasks", |s| {
        s.contains("build the widget")
            && s.contains("make the marker")
            && s.contains("1 waiting for you")
    });
    // The task that began waiting while nobody was attached is the first
    // row, blocked.
    let screen = again.capture();
    let first_row = screen.lines().nth(1).unwrap_or_default();
    assert!(
        first_row.contains("blocked") && first_row.contains("make the marker"),
        "{screen}"
    );
    again.keys(&["b"]);
    again.wait_for("the approval", |s| {
        s.contains("allow Bash?") && s.contains("y allow once")
    });
    again.keys(&["y"]);
    again.wait_for("the agent going on", |s| s.contains("It returned: created"));
    assert!(sandbox.work.join("detached-marker.txt").exists());
    let screen = again.capture();
    assert!(screen.contains("succeeded"), "{screen}");
    // The task that finished while nobody was attached shows its result.
    again.keys(&["k"]);
    again.wait_for("the first task's whole answer", |s| {
        s.contains("· build the widget · succeeded") && s.contains("all done building the widget")
    });
    // q detaches: the server and its record stay.
    again.keys(&["q"]);
    assert!(wait_until(Duration::from_secs(5), || !again.alive()));
    let status = String::from_utf8_lossy(&corral(&["server", "status"]).stdout).into_owned();
    assert!(status.contains("runs (pid"), "{status}");
}
