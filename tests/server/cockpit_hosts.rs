//! The cockpit over several hosts, in a real terminal (tmux): attached to
//! this machine's server and the "remote" one through the private sshd,
//! it launches a fake agent on each from the form, answers and kills the
//! remote one (its whole process tree), and shows both results; it rides
//! out a dropped ssh connection (the remote agent goes on, the cockpit
//! reconnects and shows how it ended); and a host that cannot be reached
//! or speaks another protocol is a row with its message while this
//! machine's tasks stay usable.

use super::*;
use crate::tmux::Tmux;

/// The cockpit of `home` as a shell command for tmux, started in its
/// `work` directory with `args`.
fn cockpit(home: &Home, args: &[&str]) -> String {
    home.terminal_line(&[], args)
}

/// The screen line of the task titled `title`.
fn row<'a>(screen: &'a str, title: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(title) && !l.contains('─'))
        .unwrap_or("")
}

/// Stops this machine's server of `home` (the cockpit only detaches).
struct StopServer<'a>(&'a Home);

impl Drop for StopServer<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["server", "stop", "--kill"]);
    }
}

#[test]
fn one_cockpit_launches_answers_and_kills_on_two_hosts() {
    if !crate::tmux::Tmux::available_or_skip("cockpit over hosts") {
        return;
    }
    let hosts = Hosts::new();
    let _stop = StopServer(&hosts.local);
    let bin = fixtures().join("fake_claude.sh").display().to_string();
    // Relative pid files: each agent writes them in its own directory.
    let t = Tmux::start(
        &cockpit(
            &hosts.local,
            &[
                "--host",
                "box",
                "--agent-bin",
                &bin,
                "--env",
                "FAKE_AGENT=ask_and_wait.py",
                "--env",
                "ASK_PID_FILE=agent.pid",
                "--env",
                "ASK_CHILD_PID_FILE=child.pid",
            ],
        ),
        120,
        36,
    );
    t.wait_for("the cockpit attached to both hosts", |s| {
        s.contains("no tasks yet") && s.contains("host") && !s.contains("connecting")
    });

    // A task on box: the form's host field, a directory there.
    let remote_work = hosts.remote.path().join("work").display().to_string();
    t.keys(&["n"]);
    t.wait_for("the form with a host field", |s| {
        s.contains("Ctrl-S") && s.contains("‹ local ›")
    });
    t.text("remote work");
    t.keys(&["Tab", "Right", "Tab", "Tab"]);
    t.wait_for("box chosen", |s| s.contains("‹ box ›"));
    for _ in 0..(hosts.local.path().join("work").display().to_string().len() + 2) {
        t.keys(&["BSpace"]);
    }
    t.text(&remote_work);
    t.keys(&["C-s"]);
    let screen = t.wait_for("the remote agent asking", |s| {
        row(s, "remote work").contains("blocked") && s.contains("allow Bash?")
    });
    assert!(row(&screen, "remote work").contains("box"), "{screen}");
    assert!(screen.contains("#1 box · claude · remote work"), "{screen}");
    // Answered here, carried out there.
    t.keys(&["y"]);
    t.wait_for("the remote answer", |s| {
        s.contains("the tool was allow") && row(s, "remote work").contains("succeeded")
    });
    assert!(hosts.remote.path().join("work/agent.pid").exists());
    assert!(!hosts.local.path().join("work/agent.pid").exists());
    // A follow-up goes to box too; the agent asks again.
    t.keys(&["m"]);
    t.text("once more");
    t.keys(&["Enter"]);
    t.wait_for("the second question", |s| {
        row(s, "remote work").contains("blocked") && s.contains("marker-2")
    });
    let agent = pid_in(&hosts.remote.path().join("work/agent.pid"));
    let child = pid_in(&hosts.remote.path().join("work/child.pid"));
    assert!(alive(agent) && alive(child));

    // A task on this machine (the form starts on `local` again); the
    // question is put aside first (`n` would deny).
    t.keys(&["Escape"]);
    t.keys(&["n"]);
    t.wait_for("the form", |s| s.contains("‹ local ›"));
    t.text("local work");
    t.keys(&["C-s"]);
    let screen = t.wait_for("both waiting", |s| {
        row(s, "local work").contains("blocked") && s.contains("2 waiting for you")
    });
    assert!(row(&screen, "local work").contains("local"), "{screen}");
    assert!(hosts.local.path().join("work/agent.pid").exists());

    // The remote one is killed from here with its whole tree there.
    t.keys(&["b"]);
    t.wait_for("the remote task selected", |s| {
        s.contains("#1 box · claude")
    });
    t.keys(&["x"]);
    t.wait_for("the kill question", |s| s.contains("Kill #1 on box claude"));
    t.keys(&["y"]);
    t.wait_for("the remote task killed", |s| {
        row(s, "remote work").contains("killed")
    });
    assert!(
        wait_until(Duration::from_secs(10), || !alive(agent) && !alive(child)),
        "the remote agent ({agent}) or its child ({child}) outlived the kill"
    );
    // The local one still waits; answered, it ends.
    t.keys(&["b"]);
    t.wait_for("the local task selected", |s| {
        s.contains("local · claude · local work")
    });
    t.keys(&["y"]);
    let screen = t.wait_for("both results", |s| {
        row(s, "local work").contains("succeeded") && row(s, "remote work").contains("killed")
    });
    assert!(!screen.contains("waiting for you"), "{screen}");
    // The servers agree.
    let list = hosts.local.ok(&["ls", "--json", "--all", "--host", "box"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    let status = |host: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["host"] == host)
            .map(|t| t["status"].clone())
    };
    assert_eq!(status("box"), Some(json!("killed")), "{list}");
    assert_eq!(status("local"), Some(json!("succeeded")), "{list}");
}

#[test]
fn the_cockpit_reconnects_after_the_ssh_connection_drops() {
    if !crate::tmux::Tmux::available_or_skip("cockpit over hosts") {
        return;
    }
    let mut hosts = Hosts::new();
    let _stop = StopServer(&hosts.local);
    let agent_pid = hosts.remote.path().join("agent.pid");
    // (Each test's terminal has its own width: it names the tmux server.)
    let t = Tmux::start(&cockpit(&hosts.local, &["--host", "box"]), 121, 30);
    t.wait_for("the cockpit attached", |s| {
        s.contains("no tasks yet") && s.contains("host") && !s.contains("connecting")
    });
    // The agent works a while before it asks.
    let remote = hosts.detach_asker(
        Some("box"),
        "far away",
        &[
            ("ASK_PID_FILE", agent_pid.display().to_string()),
            ("ASK_DELAY", "3".into()),
        ],
    );
    t.wait_for("the remote task running", |s| {
        row(s, "far away").contains("running")
    });
    let agent = pid_in(&agent_pid);
    // The connection drops mid-stream (and the way back stays shut).
    hosts.sshd.stop();
    let screen = t.wait_for("box down", |s| s.contains("down"));
    assert!(screen.contains("1 host down"), "{screen}");
    // The remote agent goes on: it asks, and is answered there.
    let bare = &remote[4..];
    hosts.remote.wait_status(bare, "blocked");
    assert!(alive(agent), "the remote agent died with the connection");
    hosts.remote.ok(&["answer", bare, "allow"]);
    hosts.remote.wait_status(bare, "succeeded");
    hosts.sshd.start();
    // Backoff is at most 8 s; the fresh snapshot shows the end.
    let screen = t.wait_for("the cockpit back with the result", |s| {
        row(s, "far away").contains("succeeded") && !s.contains("down")
    });
    assert!(!screen.contains("waiting for you"), "{screen}");
    assert!(t.alive());
}

#[test]
fn unreachable_and_other_version_hosts_are_rows_and_this_machine_stays_usable() {
    if !crate::tmux::Tmux::available_or_skip("cockpit over hosts") {
        return;
    }
    let hosts = Hosts::new();
    let _stop = StopServer(&hosts.local);
    let local = hosts.detach_asker(None, "here and now", &[]);
    hosts.wait_status(&local, "blocked");
    let t = Tmux::start(
        &cockpit(
            &hosts.local,
            &["--host", "nowhere", "--host", "old", "--host", "stranger"],
        ),
        139,
        36,
    );
    let screen = t.wait_for("every host's state", |s| {
        row(s, "nowhere").contains("down")
            && row(s, "old").contains("down")
            && row(s, "stranger").contains("down")
    });
    assert!(
        row(&screen, "nowhere").contains("ssh: connect to host 127.0.0.1 port"),
        "{screen}"
    );
    assert!(
        row(&screen, "old").contains("server is 0.0.7 (protocol 7), this corral is"),
        "{screen}"
    );
    assert!(
        row(&screen, "stranger").contains("Permission denied (publickey)"),
        "{screen}"
    );
    assert!(screen.contains("3 hosts down"), "{screen}");
    // This machine's task is there and answered as ever.
    assert!(row(&screen, "here and now").contains("blocked"), "{screen}");
    t.keys(&["b"]);
    t.wait_for("the approval", |s| s.contains("allow Bash?"));
    t.keys(&["y"]);
    t.wait_for("the local task done", |s| {
        row(s, "here and now").contains("succeeded")
    });
    hosts.wait_status(&local, "succeeded");
    // q detaches at once, whatever the hosts do.
    t.keys(&["q"]);
    assert!(wait_until(Duration::from_secs(5), || !t.alive()));
}
