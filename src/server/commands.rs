//! The command-line front ends of the server: `corral server start|stop|
//! restart|status`, `corral kill|answer|send|attach`, `corral run
//! --detach`, and the live paths of `corral ls` and `corral logs --follow`.
//!
//! Each one is a short client session ([`super::client`]); the ones that
//! act on tasks start a server when none runs, the ones that only look
//! (`ls`, `logs`, `status`) never do and fall back to the store. Agent
//! text reaches the terminal only through the describer's printer.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::client::{ConnectError, Connection, Welcome, connect, read_reply};
use super::hosts::Target;
use super::place::{self, Place};
use super::protocol::{Reply, Request, TaskView, WireSpec};
use crate::cli::{RunArgs, ServerAction};
use crate::config::Config;
use crate::core::event::AgentEvent;
use crate::core::transcript::DEFAULT_TRANSCRIPT_CAP;
use crate::describe::printer::Printer;
use crate::headless::ask::{Asker, Decision};
use crate::paths::Paths;
use crate::store::{Store, TaskRecord, commands as store_cmd};

/// How long `corral server stop` waits for the server to go.
const STOP_WAIT: Duration = Duration::from_secs(20);
/// How long `corral kill` waits for the agent's end.
const KILL_WAIT: Duration = Duration::from_secs(20);

/// The task of `welcome` that `prefix` names (exact id, else a unique
/// prefix).
pub fn resolve<'a>(welcome: &'a Welcome, prefix: &str) -> Result<&'a TaskView> {
    if let Some(view) = welcome.tasks.iter().find(|v| v.task.id == prefix) {
        return Ok(view);
    }
    let matches: Vec<&TaskView> = welcome
        .tasks
        .iter()
        .filter(|v| !prefix.is_empty() && v.task.id.starts_with(prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => bail!("no task `{prefix}` on the corral server (see `corral ls`)"),
        many => bail!(
            "`{prefix}` matches several tasks: {}",
            many.iter()
                .map(|v| v.task.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `corral server start|stop|restart|status`. Returns the exit code.
pub fn server(action: ServerAction, paths: &Paths, config_file: Option<&Path>) -> Result<i32> {
    let place = Place::of(paths);
    match action {
        ServerAction::Start => start(&place, paths, config_file),
        ServerAction::Stop { kill } => stop(&place, kill),
        ServerAction::Restart { kill } => {
            let code = stop(&place, kill)?;
            if code != 0 {
                return Ok(code);
            }
            start(&place, paths, config_file)
        }
        ServerAction::Status => status(&place),
    }
}

fn start(place: &Place, paths: &Paths, config_file: Option<&Path>) -> Result<i32> {
    if let Some(pid) = place::holder(place) {
        println!(
            "corral server already runs (pid {pid}, socket {})",
            place.socket.display()
        );
        return Ok(0);
    }
    super::client::start(paths, config_file)?;
    match place::holder(place) {
        Some(pid) => {
            println!(
                "corral server started (pid {pid}, socket {})",
                place.socket.display()
            );
            Ok(0)
        }
        None => bail!(
            "the corral server did not start; see {}",
            place.log.display()
        ),
    }
}

fn stop(place: &Place, kill: bool) -> Result<i32> {
    let Some(pid) = place::holder(place) else {
        println!("no corral server runs");
        return Ok(0);
    };
    match connect(place, 0, None) {
        Ok(mut conn) => {
            let live = conn
                .welcome
                .tasks
                .iter()
                .filter(|v| !v.task.status.is_final())
                .count();
            let mut kill = kill;
            if live > 0 && !kill && std::io::stdin().is_terminal() {
                eprint!("{live} task(s) are not finished; stop them all? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                kill = matches!(answer.trim(), "y" | "Y" | "yes");
                if !kill {
                    println!("the corral server goes on");
                    return Ok(1);
                }
            }
            if let Err(err) = conn.call(Request::Stop { kill }) {
                eprintln!("corral: {err}");
                return Ok(1);
            }
        }
        // Another version: it cannot be asked, only told (SIGTERM stops
        // it the same way, agents killed).
        Err(ConnectError::Refused(message)) if message.contains("corral server restart") => {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .with_context(|| format!("cannot signal the server (pid {pid})"))?;
        }
        Err(err) => bail!(err),
    }
    if place::wait_released(place, STOP_WAIT) {
        println!("corral server stopped (pid {pid})");
        Ok(0)
    } else {
        bail!("the corral server (pid {pid}) did not stop within {STOP_WAIT:?}")
    }
}

fn status(place: &Place) -> Result<i32> {
    match connect(place, 0, None) {
        Ok(conn) => {
            let w = &conn.welcome;
            let live = w.tasks.iter().filter(|v| !v.task.status.is_final()).count();
            let waiting = w
                .tasks
                .iter()
                .filter(|v| v.task.pending_question.is_some())
                .count();
            println!(
                "corral server {} runs (pid {}, socket {}): {} task(s), {live} unfinished, {waiting} waiting for you",
                w.corral,
                w.pid,
                place.socket.display(),
                w.tasks.len()
            );
            Ok(0)
        }
        Err(ConnectError::NoServer) => {
            println!(
                "no corral server runs (its socket would be {})",
                place.socket.display()
            );
            Ok(3)
        }
        Err(err) => bail!(err),
    }
}

/// `corral ls`: the store's records, with what the running server knows
/// (live status, tokens, questions) in place of its tasks' records.
pub fn ls(paths: &Paths, store: &Store, json: bool, all: bool) -> Result<()> {
    let records = local_records(paths, store);
    store_cmd::print_ls(&records, json, all, &mut std::io::stdout().lock())
}

/// `corral ls --host NAME...`: the tasks of each chosen server, this
/// machine's as plain `corral ls` shows them, another host's from its
/// server (ids as `HOST:ID`; in JSON a `host` field). A host that cannot
/// be reached is reported with ssh's words and the others still listed;
/// the error says how many failed.
pub fn ls_hosts(
    paths: &Paths,
    store: &Store,
    targets: &[Target],
    json: bool,
    all: bool,
) -> Result<()> {
    let mut table = Vec::new();
    let mut items = Vec::new();
    let mut failed = 0;
    for target in targets {
        let mut records = match target {
            Target::Local => local_records(paths, store),
            Target::Remote(_) => match target.connect(paths, None, 0, None, false) {
                Ok(conn) => {
                    // Its ages and durations on this machine's clock.
                    let offset = conn.welcome.clock_offset_ms().unwrap_or(0);
                    let mut records: Vec<TaskRecord> =
                        conn.welcome.tasks.into_iter().map(|v| v.task).collect();
                    for record in &mut records {
                        record.onto_this_clock(offset);
                    }
                    records
                }
                Err(err) => {
                    eprintln!("corral: {err}");
                    failed += 1;
                    continue;
                }
            },
        };
        if json {
            let listed = store_cmd::ls_json(&records, all);
            for mut item in listed.as_array().cloned().unwrap_or_default() {
                item["host"] = serde_json::Value::from(target.name());
                items.push(item);
            }
        } else {
            for record in &mut records {
                record.id = target.task_ref(&record.id);
            }
            table.extend(records);
        }
    }
    let mut out = std::io::stdout().lock();
    if json {
        let text = serde_json::to_string_pretty(&serde_json::Value::Array(items))?;
        writeln!(out, "{}", crate::agent::sanitize::escape_json_output(text))?;
    } else {
        store_cmd::print_ls(&table, false, all, &mut out)?;
    }
    out.flush()?;
    if failed > 0 {
        bail!("{failed} host(s) could not be listed");
    }
    Ok(())
}

/// The store's records with the running server's view of its tasks.
fn local_records(paths: &Paths, store: &Store) -> Vec<TaskRecord> {
    let (mut records, problems) = store.list();
    for problem in problems {
        eprintln!("corral: skipping a damaged task: {problem}");
    }
    if let Ok(conn) = connect(&Place::of(paths), 0, None) {
        for view in conn.welcome.tasks {
            match records.iter_mut().find(|r| r.id == view.task.id) {
                Some(record) => *record = view.task,
                None => records.push(view.task),
            }
        }
        records.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
    }
    records
}

/// `corral logs [HOST:]ID --follow` for a task a server runs: its
/// transcript, then its events as they happen, until it finishes.
/// `Ok(false)`: this machine's server does not run it (the caller reads
/// the store). Another host's task is always read from its server, and
/// without `follow` only its transcript is printed.
pub fn follow_live(
    reach: &Reach,
    prefix: &str,
    follow: bool,
    json: bool,
    color: bool,
) -> Result<bool> {
    let remote = reach.target.is_remote();
    let mut conn = match reach.target.connect(
        reach.paths,
        reach.config_file,
        DEFAULT_TRANSCRIPT_CAP,
        Some(prefix),
        false,
    ) {
        Ok(conn) => conn,
        Err(err) if remote => bail!(err),
        Err(_) => return Ok(false),
    };
    let view = match resolve(&conn.welcome, prefix) {
        Ok(view) => view.clone(),
        Err(err) if remote => bail!(err),
        Err(_) => return Ok(false),
    };
    if !remote && view.task.status.is_final() {
        return Ok(false);
    }
    let id = view.task.id.clone();
    let mut printer = Printer::new(color);
    let mut out = std::io::stdout().lock();
    let mut print = |event: &AgentEvent, out: &mut dyn Write| -> Result<()> {
        if json {
            let line = serde_json::to_string(event)?;
            writeln!(out, "{}", crate::agent::sanitize::escape_json_output(line))?;
        } else {
            out.write_all(printer.render(event).as_bytes())?;
        }
        out.flush()?;
        Ok(())
    };
    for event in &view.events {
        print(event, &mut out)?;
    }
    if !follow || view.task.status.is_final() {
        return Ok(true);
    }
    while let Some(reply) = conn.next_reply()? {
        match reply {
            Reply::Changed { events, .. } => {
                for e in events.iter().filter(|e| e.id == id) {
                    print(&e.event, &mut out)?;
                    if matches!(e.event, AgentEvent::Finished(_)) {
                        return Ok(true);
                    }
                }
            }
            Reply::Bye { message } => bail!(message),
            _ => {}
        }
    }
    bail!("the corral server went away")
}

/// Which server a task command talks to, and how to start this machine's.
pub struct Reach<'a> {
    pub paths: &'a Paths,
    pub config_file: Option<&'a Path>,
    pub target: Target,
}

impl Reach<'_> {
    /// Connects for a command that acts on a task (starting this
    /// machine's server when none runs).
    pub fn open(&self, window: usize, focus: Option<&str>) -> Result<Connection> {
        Ok(self
            .target
            .connect(self.paths, self.config_file, window, focus, true)?)
    }

    /// How the user names task `id` here (`HOST:ID` on another host).
    pub fn task_ref(&self, id: &str) -> String {
        self.target.task_ref(id)
    }
}

/// `corral kill [HOST:]ID`: kills the agent and waits for its end. A
/// finished task whose session is still open (kept for a follow-up) keeps
/// its status: its session is closed, and this waits for its agent to go.
pub fn kill(reach: &Reach, prefix: &str) -> Result<()> {
    let mut conn = reach.open(0, None)?;
    let view = resolve(&conn.welcome, prefix)?;
    let id = view.task.id.clone();
    let session = view.task.status.is_final();
    let ends = move |reply: &Reply, id: &str| {
        if session {
            agent_gone(reply, id)
        } else {
            finished(reply, id)
        }
    };
    let mut ended = false;
    conn.call_with(Request::Kill { id: id.clone() }, |r| ended |= ends(r, &id))?;
    let (tx, rx) = mpsc::sync_channel(1);
    if !ended && let Some(mut reader) = conn.take_reader() {
        let watched = id.clone();
        std::thread::spawn(move || {
            while let Ok(Some(reply)) = read_reply(&mut reader) {
                if ends(&reply, &watched) {
                    let _ = tx.send(());
                    return;
                }
            }
        });
        if rx.recv_timeout(KILL_WAIT).is_err() {
            let what = if session {
                "close the session of"
            } else {
                "kill"
            };
            bail!(
                "asked to {what} {}, but it has not ended within {KILL_WAIT:?}",
                reach.task_ref(&id)
            );
        }
    }
    if session {
        println!("closed the session of {}", reach.task_ref(&id));
    } else {
        println!("killed {}", reach.task_ref(&id));
    }
    Ok(())
}

/// Whether `reply` tells that task `id` finished.
fn finished(reply: &Reply, id: &str) -> bool {
    match reply {
        Reply::Changed { events, .. } => events
            .iter()
            .any(|e| e.id == id && matches!(e.event, AgentEvent::Finished(_))),
        _ => false,
    }
}

/// Whether `reply` tells that the agent of task `id` is gone.
fn agent_gone(reply: &Reply, id: &str) -> bool {
    match reply {
        Reply::Changed { cores, .. } => cores
            .iter()
            .any(|t| super::wire_id(t) == id && !t.process_alive),
        _ => false,
    }
}

/// The request that answers `question` the way `words` say (each word is
/// one line typed at `corral run`'s prompt; `allow`, `always` and `deny`
/// stand for its y, a and n).
pub fn answer_request(
    id: &str,
    question: crate::core::event::Question,
    words: &[String],
) -> Result<Request> {
    let approval = question.kind == crate::core::event::QuestionKind::Approval;
    let parts = question.questions.len();
    let mut asker = Asker::new(question);
    let mut lines: Vec<String> = words.to_vec();
    if approval {
        let first = lines.first().map(|w| w.to_ascii_lowercase());
        let mapped = match first.as_deref() {
            Some("allow" | "y" | "yes") => "y",
            Some("always" | "a") => "a",
            Some("deny" | "n" | "no") => "n",
            _ => bail!("answer an approval with `allow`, `always` or `deny [MESSAGE]`"),
        };
        let message = lines[1..].join(" ");
        lines = vec![mapped.to_string(), message];
    }
    for line in &lines {
        match asker.feed(line) {
            Ok(Some(Decision::Answer(answer))) => {
                return Ok(Request::Answer {
                    id: id.to_string(),
                    answer,
                });
            }
            Ok(Some(Decision::AllowAlways)) => return Ok(Request::AllowAlways { id: id.into() }),
            Ok(None) => {}
            Err(complaint) => bail!(complaint),
        }
    }
    bail!("this question has {parts} part(s): give one answer for each")
}

/// `corral answer [HOST:]ID ANSWER...`.
pub fn answer(reach: &Reach, prefix: &str, words: &[String]) -> Result<()> {
    let mut conn = reach.open(0, None)?;
    let view = resolve(&conn.welcome, prefix)?;
    let id = view.task.id.clone();
    let Some(question) = view.task.pending_question.clone() else {
        bail!("task {} is not waiting for an answer", reach.task_ref(&id));
    };
    let request = answer_request(&id, question, words)?;
    conn.call(request)?;
    println!("answered {}", reach.task_ref(&id));
    Ok(())
}

/// `corral send [HOST:]ID MESSAGE`.
pub fn send(reach: &Reach, prefix: &str, message: &str) -> Result<()> {
    let mut conn = reach.open(0, None)?;
    let id = resolve(&conn.welcome, prefix)?.task.id.clone();
    conn.call(Request::FollowUp {
        id: id.clone(),
        text: message.to_string(),
    })?;
    println!("sent to {}", reach.task_ref(&id));
    Ok(())
}

/// `corral run --detach [--host NAME]`: hands the task to the server and
/// prints its id (`HOST:ID` on another host).
pub fn run_detached(args: &RunArgs, config: &Config, reach: &Reach) -> Result<()> {
    let spec = match &reach.target {
        Target::Local => crate::headless::run_spec(args, config)?,
        Target::Remote(host) => remote_spec(args, config, &host.name)?,
    };
    let mut conn = reach.open(0, None)?;
    let id = conn
        .call(Request::Launch {
            spec: Box::new(WireSpec::of(&spec)),
        })?
        .context("the server did not name the task")?;
    let id = reach.task_ref(&id);
    if args.json {
        println!("{}", serde_json::json!({ "id": id }));
    } else {
        println!("{id}");
        if std::io::stderr().is_terminal() {
            eprintln!(
                "corral: task {id} runs in the corral server: `corral attach {id}` follows it"
            );
        }
    }
    Ok(())
}

/// The spec of a task for another host: its directory is one there
/// (`--cwd`, absolute, not checked here), and of the environment only what
/// was given on this command line goes: the local profile's `env` and
/// `binary` stay here (the remote server's own environment has its keys).
fn remote_spec(args: &RunArgs, config: &Config, host: &str) -> Result<crate::core::task::TaskSpec> {
    let Some(cwd) = args.agent.cwd.clone().filter(|dir| dir.is_absolute()) else {
        bail!("a task on host {host} needs `--cwd DIR`, an absolute path on {host}");
    };
    let mut here = args.clone();
    here.agent.cwd = None;
    let mut spec = crate::headless::run_spec(&here, config)?;
    spec.cwd = cwd;
    spec.options.env = args.agent.env.clone();
    spec.options.binary = args.agent.agent_bin.clone();
    Ok(spec)
}
