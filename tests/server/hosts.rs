//! corral over ssh, as users meet it: a private sshd on 127.0.0.1 (its own
//! config, host key and user key, made here in a temp dir; no system file
//! touched) stands in for the way to another machine, and a second corral
//! home stands in for that machine (the `corral` setting of the host is a
//! wrapper script that points the real binary at it).
//!
//! Local and remote tasks side by side from one command line; answering and
//! killing (with its process tree) a remote task; an unreachable host, a
//! refused key, no corral and another protocol version each in their own
//! words while this machine stays usable; an ssh connection dropped under
//! `corral attach`, the remote agent going on, the client reconnecting and
//! showing the end it missed. `cockpit`: the same through the cockpit.

use super::*;

#[path = "cockpit_hosts.rs"]
mod cockpit;

use std::io::Read;
use std::sync::{Arc, Mutex};

/// A free port on 127.0.0.1 (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|err| {
        panic!("cannot run {cmd} (CI installs openssh-server and openssh-client): {err}")
    });
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private sshd in the foreground (`-D`), killed with its sessions on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<std::process::Child>,
}

impl Sshd {
    fn new() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name).display().to_string();
        for key in ["host_key", "user_key", "stranger_key"] {
            sh(
                "ssh-keygen",
                &["-q", "-t", "ed25519", "-N", "", "-f", &p(key)],
            );
        }
        std::fs::copy(p("user_key.pub"), p("authorized_keys")).unwrap();
        // Privilege separation needs it (it exists on a running system).
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile {}\nStrictModes no\nUsePAM no\nPermitRootLogin yes\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            p("host_key"),
            p("authorized_keys"),
            p("sshd.pid")
        );
        std::fs::write(p("sshd_config"), config).unwrap();
        let mut sshd = Sshd {
            dir,
            port,
            child: None,
        };
        sshd.start();
        sshd
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Starts sshd and waits until it accepts connections.
    fn start(&mut self) {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("sshd is installed (CI installs openssh-server)");
        let child = Command::new(sshd)
            .args([
                "-D",
                "-f",
                &self.path("sshd_config"),
                "-E",
                &self.path("sshd.log"),
            ])
            .stdin(Stdio::null())
            .spawn()
            .expect("sshd starts");
        self.child = Some(child);
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "sshd did not listen: {}",
            std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
        );
    }

    /// Kills sshd and every session it serves (the connections drop).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as i32;
            for session in children_of(pid) {
                unsafe { libc::kill(session, libc::SIGKILL) };
            }
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = child.wait();
        }
    }

    /// The per-connection sshd processes.
    fn sessions(&self) -> Vec<i32> {
        self.child
            .as_ref()
            .map(|c| children_of(c.id() as i32))
            .unwrap_or_default()
    }

    /// ssh arguments for this sshd with `key`.
    fn ssh_args(&self, key: &str) -> String {
        format!(
            "[\"-p\", \"{}\", \"-i\", \"{}\", \"-o\", \"StrictHostKeyChecking=no\", \
             \"-o\", \"UserKnownHostsFile=/dev/null\", \"-o\", \"IdentitiesOnly=yes\"]",
            self.port,
            self.path(key)
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// This machine's home, the "remote" one, and the sshd between them. The
/// local config knows `box` (the remote home), `nowhere` (a closed port),
/// `stranger` (a key sshd refuses), `nocorral` and `old` (a corral of
/// protocol 7).
struct Hosts {
    local: Home,
    remote: Home,
    sshd: Sshd,
}

impl Hosts {
    fn new() -> Hosts {
        let local = Home::new();
        let remote = Home::new();
        let sshd = Sshd::new();
        let bin = assert_cmd::cargo::cargo_bin("corral");
        let wrapper = remote.path().join("remote-corral");
        let mut script = String::from("#!/bin/sh\nexec env");
        for (var, dir) in [
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            script.push_str(&format!(" {var}={}", remote.path().join(dir).display()));
        }
        script.push_str(&format!(" {} \"$@\"\n", bin.display()));
        std::fs::write(&wrapper, script).unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another corral: answers any hello with protocol 7's welcome.
        let old = remote.path().join("old-corral");
        std::fs::write(
            &old,
            "#!/bin/sh\nread hello\necho '{\"type\":\"welcome\",\"protocol\":7,\"corral\":\"0.0.7\",\"pid\":1,\"tasks\":[]}'\n",
        )
        .unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let me = format!("{}@127.0.0.1", user());
        let good = sshd.ssh_args("user_key");
        let config = format!(
            "[hosts.box]\nssh = \"{me}\"\nssh_args = {good}\ncorral = \"{}\"\n\n\
             [hosts.nowhere]\nssh = \"{me}\"\nssh_args = [\"-p\", \"{}\", \"-o\", \"StrictHostKeyChecking=no\"]\n\n\
             [hosts.stranger]\nssh = \"{me}\"\nssh_args = {}\ncorral = \"{}\"\n\n\
             [hosts.nocorral]\nssh = \"{me}\"\nssh_args = {good}\ncorral = \"{}\"\n\n\
             [hosts.old]\nssh = \"{me}\"\nssh_args = {good}\ncorral = \"{}\"\n",
            wrapper.display(),
            free_port(),
            sshd.ssh_args("stranger_key"),
            wrapper.display(),
            remote.path().join("no-such-corral").display(),
            old.display(),
        );
        std::fs::create_dir_all(local.path().join("config/corral")).unwrap();
        std::fs::write(local.path().join("config/corral/config.toml"), config).unwrap();
        Hosts {
            local,
            remote,
            sshd,
        }
    }

    /// Hands an asker to `host`'s server (`None`: this machine's); returns
    /// its id as the local corral names it.
    fn detach_asker(&self, host: Option<&str>, prompt: &str, env: &[(&str, String)]) -> String {
        let bin = fixtures().join("fake_claude.sh");
        let work = match host {
            Some(_) => self.remote.path().join("work"),
            None => self.local.path().join("work"),
        };
        let mut args = vec![
            "run".to_string(),
            "--detach".into(),
            "--cwd".into(),
            work.display().to_string(),
            "--agent-bin".into(),
            bin.display().to_string(),
            "--env".into(),
            "FAKE_AGENT=ask_and_wait.py".into(),
        ];
        if let Some(host) = host {
            args.push("--host".into());
            args.push(host.into());
        }
        for (k, v) in env {
            args.push("--env".into());
            args.push(format!("{k}={v}"));
        }
        args.push("--".into());
        args.push(prompt.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.local.ok(&args).trim().to_string()
    }

    /// The task `id` (`HOST:ID` for the remote) in `corral ls --host box`.
    fn task(&self, id: &str) -> Value {
        let (host, bare) = id.split_once(':').unwrap_or(("local", id));
        let text = self.local.ok(&["ls", "--json", "--all", "--host", "box"]);
        let list: Value = serde_json::from_str(&text).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == bare && t["host"] == host)
            .cloned()
            .unwrap_or_else(|| panic!("no task {id} in {list}"))
    }

    fn wait_status(&self, id: &str, status: &str) {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(30), || {
            last = self.task(id)["status"].as_str().unwrap_or("").to_string();
            last == status
        });
        assert!(ok, "task {id} stayed {last}, never {status}");
    }
}

fn pid_in(file: &Path) -> i32 {
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(file)
            .is_ok_and(|t| !t.trim().is_empty())),
        "no pid in {}",
        file.display()
    );
    std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tasks_on_two_hosts_are_launched_answered_and_killed_from_one_command_line() {
    let hosts = Hosts::new();
    let agent_pid = hosts.remote.path().join("agent.pid");
    let child_pid = hosts.remote.path().join("child.pid");
    let remote = hosts.detach_asker(
        Some("box"),
        "remote work",
        &[
            ("ASK_PID_FILE", agent_pid.display().to_string()),
            ("ASK_CHILD_PID_FILE", child_pid.display().to_string()),
        ],
    );
    assert!(remote.starts_with("box:") && remote.len() == 12, "{remote}");
    let local = hosts.detach_asker(None, "local work", &[]);
    assert_eq!(local.len(), 8, "{local}");
    hosts.wait_status(&remote, "blocked");
    hosts.wait_status(&local, "blocked");
    // The remote task lives in the remote home only.
    let bare = &remote[4..];
    assert_eq!(hosts.remote.status_of(bare), "blocked");
    let table = hosts.local.ok(&["ls", "--host", "box"]);
    assert!(table.contains(&remote) && table.contains(&local), "{table}");

    assert_eq!(
        hosts.local.ok(&["answer", &remote, "allow"]).trim(),
        format!("answered {remote}")
    );
    hosts.wait_status(&remote, "succeeded");
    let logs = hosts.local.ok(&["logs", &remote]);
    assert!(logs.contains("the tool was allow"), "{logs}");
    // The local one still waits, untouched.
    assert_eq!(hosts.task(&local)["status"], "blocked");

    // Killed from here with its whole process tree there.
    hosts.local.ok(&["send", &remote, "once more"]);
    hosts.wait_status(&remote, "blocked");
    let (agent, child) = (pid_in(&agent_pid), pid_in(&child_pid));
    assert!(alive(agent) && alive(child));
    assert_eq!(
        hosts.local.ok(&["kill", &remote]).trim(),
        format!("killed {remote}")
    );
    assert!(
        wait_until(Duration::from_secs(10), || !alive(agent) && !alive(child)),
        "the remote agent ({agent}) or its child ({child}) outlived the kill"
    );
    hosts.local.ok(&["answer", &local, "deny", "not", "now"]);
    hosts.wait_status(&local, "succeeded");
    assert_eq!(hosts.task(&remote)["status"], "killed");
    let logs = hosts.local.ok(&["logs", &local]);
    assert!(logs.contains("the tool was deny: not now"), "{logs}");
}

#[test]
fn a_host_that_fails_says_why_in_its_own_words_and_this_machine_stays_usable() {
    let hosts = Hosts::new();
    let local = hosts.detach_asker(None, "here", &[]);
    let cases = [
        (
            "nowhere",
            "host nowhere: ssh: connect to host 127.0.0.1 port",
        ),
        ("stranger", "host stranger: "),
        ("nocorral", "host nocorral: no corral there ("),
        (
            "old",
            "host old: server is 0.0.7 (protocol 7), this corral is ",
        ),
    ];
    for (host, start) in cases {
        let started = Instant::now();
        let out = hosts.local.run(&["ls", "--host", host]);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{host} took {:?}",
            started.elapsed()
        );
        assert!(!out.status.success());
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains(&format!("corral: {start}")),
            "{host}: {stderr}"
        );
        // This machine's tasks are listed all the same.
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&local),
            "{host}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let refused = stderr_of(&hosts.local.run(&["ls", "--host", "stranger"]));
    assert!(
        refused.contains("Permission denied (publickey)"),
        "{refused}"
    );
    let out = hosts.local.run(&["kill", "old:abcd1234"]);
    assert!(stderr_of(&out).contains("host old: server is 0.0.7 (protocol 7)"));
    let out = hosts.local.run(&["kill", "atlantis:abcd1234"]);
    assert!(
        stderr_of(&out).contains("no host `atlantis` in the config"),
        "{}",
        stderr_of(&out)
    );
    hosts.local.ok(&["answer", &local, "allow"]);
    hosts.wait_status(&local, "succeeded");
}

/// A child process whose stderr is collected as it comes.
struct Watched {
    child: std::process::Child,
    stderr: Arc<Mutex<String>>,
}

impl Watched {
    fn spawn(mut cmd: Command) -> Watched {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Watched { child, stderr }
    }

    fn said(&self, text: &str) -> bool {
        self.stderr.lock().unwrap().contains(text)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_dropped_connection_reconnects_and_shows_what_happened_meanwhile() {
    let mut hosts = Hosts::new();
    let agent_pid = hosts.remote.path().join("agent.pid");
    let remote = hosts.detach_asker(
        Some("box"),
        "far away",
        &[("ASK_PID_FILE", agent_pid.display().to_string())],
    );
    hosts.wait_status(&remote, "blocked");
    let agent = pid_in(&agent_pid);
    let mut attach = Watched::spawn(hosts.local.corral(&["attach", &remote]));
    assert!(
        wait_until(Duration::from_secs(20), || attach.said("attached to")),
        "{}",
        attach.stderr.lock().unwrap()
    );
    assert!(!hosts.sshd.sessions().is_empty());
    // The connection drops (and the way back stays shut for a while).
    hosts.sshd.stop();
    assert!(
        wait_until(Duration::from_secs(20), || attach
            .said("lost the connection")),
        "{}",
        attach.stderr.lock().unwrap()
    );
    // The remote agent never noticed; its task is answered there and ends.
    assert!(alive(agent), "the remote agent died with the connection");
    let bare = &remote[4..];
    hosts.remote.ok(&["answer", bare, "allow"]);
    hosts.remote.wait_status(bare, "succeeded");
    assert!(attach.child.try_wait().unwrap().is_none(), "attach gave up");
    hosts.sshd.start();
    let ended = wait_until(Duration::from_secs(30), || {
        attach.child.try_wait().unwrap().is_some()
    });
    assert!(ended, "{}", attach.stderr.lock().unwrap());
    let status = attach.child.wait().unwrap();
    let mut stdout = String::new();
    attach
        .child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let stderr = attach.stderr.lock().unwrap().clone();
    assert!(stderr.contains("reconnected to box"), "{stderr}");
    assert!(
        stderr.contains(&format!("task {remote} is succeeded")),
        "{stderr}"
    );
    assert!(status.success(), "{stderr}");
    // What happened while it was away is shown once.
    assert_eq!(stdout.matches("the tool was allow").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("Bash wants to run").count(), 1, "{stdout}");
}
