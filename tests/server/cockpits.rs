//! The cockpit as a client of the server, in real terminals (tmux): two
//! cockpits at once see one task list, launch from either, and an
//! approval answered in one closes in the other; typing into a `command`
//! task and its raw view go through the server; the server's desktop
//! notifications while nobody is attached, and only one notification per
//! waiting task while a cockpit is; `corral attach` answering at a terminal;
//! stored tasks listed at once and their transcripts read when opened.

use super::*;

impl Home {
    /// A shell command line for tmux: `corral ARGS` (the cockpit without
    /// any) in this home, with `env` added (and no desktop bus unless `env`
    /// names one).
    pub(crate) fn terminal_line(&self, env: &[(&str, &str)], args: &[&str]) -> String {
        let mut words = vec![
            "env".to_string(),
            "-u".into(),
            "DBUS_SESSION_BUS_ADDRESS".into(),
        ];
        for (var, dir) in [
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_RUNTIME_DIR", "run"),
        ] {
            words.push(format!(
                "{var}={}",
                sh_quote(&self.path().join(dir).display().to_string())
            ));
        }
        words.push("NO_COLOR=1".into());
        for (k, v) in env {
            words.push(format!("{k}={}", sh_quote(v)));
        }
        words.push(sh_quote(
            &assert_cmd::cargo::cargo_bin("corral").display().to_string(),
        ));
        words.extend(args.iter().map(|a| sh_quote(a)));
        format!(
            "cd {} && {}",
            sh_quote(&self.path().join("work").display().to_string()),
            words.join(" ")
        )
    }

    /// Starts the server with `env` (its agents inherit it).
    fn start_server(&self, env: &[(&str, &str)]) {
        let mut cmd = self.corral(&["server", "start"]);
        cmd.envs(env.iter().copied());
        let out = run_bounded(cmd);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The task rows of a cockpit screen (status and title), in order.
fn rows(screen: &str, titles: &[&str]) -> Vec<(String, String)> {
    screen
        .lines()
        .take_while(|l| !l.starts_with('─'))
        .filter_map(|l| {
            let title = titles.iter().find(|t| l.contains(*t))?;
            let status = l.split_whitespace().nth(2)?.to_string();
            Some((status, title.to_string()))
        })
        .collect()
}

fn available() -> bool {
    tmux::Tmux::available_or_skip("server cockpits")
}

#[test]
fn two_cockpits_share_one_list_and_an_answer_in_one_closes_it_in_the_other() {
    if !available() {
        return;
    }
    let home = Home::new();
    home.start_server(&[("FAKE_AGENT", "ask_and_wait.py")]);
    let bin = fixtures().join("fake_claude.sh");
    let line = home.terminal_line(&[], &["--agent-bin", bin.to_str().unwrap()]);
    // Distinct widths: distinct private tmux servers.
    let a = tmux::Tmux::start(&line, 100, 30);
    let b = tmux::Tmux::start(&line, 101, 30);
    for t in [&a, &b] {
        t.wait_for("an empty cockpit", |s| s.contains("no tasks yet"));
    }
    // B's form is open while A launches: news from the server never takes
    // the keys from a form being filled in.
    b.keys(&["n"]);
    b.wait_for("B's form", |s| s.contains("Ctrl-S"));
    a.keys(&["n"]);
    a.wait_for("A's form", |s| s.contains("Ctrl-S"));
    a.text("from cockpit A");
    a.keys(&["C-s"]);
    b.text("from cockpit B");
    b.keys(&["C-s"]);
    let titles = ["from cockpit A", "from cockpit B"];
    let both = |s: &str| s.contains("2 waiting for you") && rows(s, &titles).len() == 2;
    let seen_a = a.wait_for("both tasks waiting in A", both);
    let seen_b = b.wait_for("both tasks waiting in B", both);
    assert_eq!(rows(&seen_a, &titles), rows(&seen_b, &titles));

    // B looks at A's task: its approval box is open there too.
    let on_a_in_b = |s: &str| s.contains("· from cockpit A · blocked") && s.contains("allow Bash?");
    for _ in 0..2 {
        if on_a_in_b(&b.capture()) {
            break;
        }
        b.keys(&["b"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    b.wait_for("A's approval in B", on_a_in_b);
    a.wait_for("A's approval in A", |s| {
        s.contains("· from cockpit A · blocked") && s.contains("allow Bash?")
    });
    a.keys(&["y"]);
    a.wait_for("the agent going on in A", |s| {
        s.contains("the tool was allow")
    });
    let after = b.wait_for("the box closed in B", |s| {
        s.contains("the tool was allow") && !s.contains("allow Bash?")
    });
    assert!(after.contains("1 waiting for you"), "{after}");
    let seen_a = a.wait_for("A's list", |s| {
        rows(s, &titles).contains(&("succeeded".into(), "from cockpit A".into()))
    });
    let seen_b = b.wait_for("B's list", |s| {
        rows(s, &titles).contains(&("succeeded".into(), "from cockpit A".into()))
    });
    assert_eq!(rows(&seen_a, &titles), rows(&seen_b, &titles));

    // Both detach; B's task still waits in the server.
    a.keys(&["q"]);
    b.keys(&["q"]);
    assert!(wait_until(Duration::from_secs(10), || !a.alive() && !b.alive()));
    let list = home.ok(&["ls"]);
    assert!(
        list.lines()
            .any(|l| l.contains("from cockpit B") && l.contains("blocked")),
        "{list}"
    );
}

#[test]
fn a_command_task_is_typed_into_and_shown_raw_in_a_cockpit_of_the_server() {
    if !available() {
        return;
    }
    let home = Home::new();
    let bin = fixtures().join("echo_stdin.sh");
    let line = home.terminal_line(
        &[],
        &["--agent", "command", "--agent-bin", bin.to_str().unwrap()],
    );
    let t = tmux::Tmux::start(&line, 102, 30);
    t.wait_for("the cockpit of the server", |s| {
        s.contains("agents run in the corral server")
    });
    t.keys(&["n"]);
    t.wait_for("the form", |s| s.contains("Ctrl-S"));
    t.text("first words");
    t.keys(&["C-s"]);
    t.wait_for("the command's echo", |s| s.contains("echo: first words"));
    // `i` gives the keys to the task's terminal (its raw view, through the
    // server), Ctrl-] takes them back.
    t.keys(&["i"]);
    t.wait_for("the keys given to the program", |s| {
        s.contains("typing into the program")
    });
    t.text("typed in the cockpit");
    t.keys(&["Enter"]);
    t.wait_for("the typed line echoed", |s| {
        s.contains("echo: typed in the cockpit")
    });
    t.keys(&["C-]"]);
    let raw = t.wait_for("the raw view with the keys back", |s| {
        s.contains("raw output") && !s.contains("typing into the program")
    });
    assert!(raw.contains("echo: typed in the cockpit"), "{raw}");
    t.keys(&["r"]);
    t.wait_for("the transcript again", |s| {
        s.contains("following") && s.contains("│ echo: typed in the cockpit")
    });
    t.keys(&["q"]);
    assert!(wait_until(Duration::from_secs(10), || !t.alive()));
    // It runs on in the server, and the store has what was typed.
    let list = home.ok(&["ls"]);
    assert!(
        list.lines()
            .any(|l| l.contains("first words") && l.contains("running")),
        "{list}"
    );
    let logs = home.ok(&["logs", &list.lines().nth(1).unwrap()[..8]]);
    assert!(logs.contains("echo: typed in the cockpit"), "{logs}");
}

#[test]
fn the_server_rings_the_desktop_while_nobody_is_attached_and_once_while_a_cockpit_is() {
    if !available() {
        return;
    }
    let Some(bus) = dbus::Bus::start() else {
        return;
    };
    let home = Home::new();
    home.start_server(&[("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())]);
    let id = home.detach_asker("ring me while away", &[]);
    home.wait_status(&id, "blocked");
    let waiting = bus
        .wait_for("ring me while away — allow Bash?", Duration::from_secs(10))
        .expect("a notification that the task waits");
    assert!(
        waiting.contains("corral: a task is waiting for you"),
        "{waiting}"
    );
    home.ok(&["answer", &id, "allow"]);
    let finished = bus
        .wait_for(
            &format!("#{id} ring me while away — succeeded"),
            Duration::from_secs(10),
        )
        .expect("a notification that the task finished");
    assert!(finished.contains("corral: a task finished"), "{finished}");

    // With a cockpit attached (on the same bus), a waiting task still makes
    // one desktop notification, from the server, not one per front end.
    let bin = fixtures().join("fake_claude.sh");
    let line = home.terminal_line(
        &[("DBUS_SESSION_BUS_ADDRESS", bus.address.as_str())],
        &["--agent-bin", bin.to_str().unwrap()],
    );
    let t = tmux::Tmux::start(&line, 103, 30);
    t.wait_for("the cockpit", |s| s.contains("ring me while away"));
    let second = home.detach_asker("ring me once", &[]);
    t.wait_for("the second task waiting", |s| {
        s.contains("1 waiting for you")
    });
    home.ok(&["answer", &second, "allow"]);
    bus.wait_for(
        &format!("#{second} ring me once — succeeded"),
        Duration::from_secs(10),
    )
    .expect("the second task's finish");
    let seen = bus.seen();
    assert_eq!(
        seen.matches("corral: a task is waiting for you").count(),
        2,
        "one notification per waiting task: {seen}"
    );
    t.keys(&["q"]);
}

#[test]
fn attach_at_a_terminal_asks_the_waiting_question_once_and_sends_the_answer() {
    if !available() {
        return;
    }
    let home = Home::new();
    let id = home.detach_asker("answer me here", &[]);
    home.wait_status(&id, "blocked");
    // The pane stays after attach ends, to be read.
    let line = home.terminal_line(&[], &["attach", &id]) + "; sleep 60";
    let t = tmux::Tmux::start(&line, 104, 30);
    let asked = t.wait_for("the prompt", |s| s.contains("[y] allow once"));
    assert_eq!(
        asked.matches("Bash wants to run").count(),
        1,
        "the question once, as its prompt: {asked}"
    );
    t.keys(&["y", "Enter"]);
    let end = t.wait_for("the agent going on", |s| s.contains("the tool was allow"));
    assert!(end.contains("✓ allowed"), "{end}");
    home.wait_status(&id, "succeeded");
}

#[test]
fn a_cockpit_lists_every_stored_task_at_once_and_reads_a_transcript_when_opened() {
    if !available() {
        return;
    }
    let home = Home::new();
    // Three tasks from earlier, stored by `corral run` (no server yet). The
    // second line of each prompt is in its transcript only: the list's
    // summaries carry the first.
    let titles = ["stored task one", "stored task two", "stored task three"];
    for (n, title) in titles.iter().enumerate() {
        let mut run = home.corral(&[
            "run",
            "--agent-bin",
            fixtures().join("fake_claude.sh").to_str().unwrap(),
            "--",
            &format!("{title}\nsecret word pelican-{n}"),
        ]);
        run.env("FAKE_AGENT", "replay.sh").env(
            "FAKE_AGENT_ARGS",
            fixtures().join("claude_tool.jsonl").to_str().unwrap(),
        );
        let out = run_bounded(run);
        assert!(out.status.success(), "{out:?}");
    }
    home.start_server(&[]);
    let t = tmux::Tmux::start(&home.terminal_line(&[], &[]), 103, 30);
    let listed = t.wait_for("every stored task listed", |s| rows(s, &titles).len() == 3);
    assert!(
        rows(&listed, &titles)
            .iter()
            .all(|(status, _)| status == "succeeded"),
        "{listed}"
    );
    // The selected task's transcript came from the server on demand, and
    // so does the next one's when it is selected.
    let pelican = |s: &str| (0..3).find(|n| s.contains(&format!("pelican-{n}")));
    let first = t.wait_for("the selected task's transcript", |s| {
        pelican(s).is_some() && s.contains("The tool finished")
    });
    let was = pelican(&first).unwrap();
    let key = if was == 0 { "j" } else { "k" };
    t.keys(&[key]);
    let next = t.wait_for("another task's transcript", |s| {
        pelican(s).is_some_and(|n| n != was) && s.contains("The tool finished")
    });
    assert!(!next.contains(&format!("pelican-{was}")), "{next}");
    t.keys(&["q"]);
    assert!(wait_until(Duration::from_secs(10), || !t.alive()));
}
