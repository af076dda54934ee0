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

use super::client::{ConnectError, Connection, Welcome, connect, connect_or_start, read_reply};
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
    store_cmd::print_ls(&records, json, all, &mut std::io::stdout().lock())
}

/// `corral logs ID --follow` for a task the server runs: its transcript,
/// then its events as they happen, until it finishes. `Ok(false)`: no
/// server runs it (the caller reads the store).
pub fn follow_live(paths: &Paths, prefix: &str, json: bool, color: bool) -> Result<bool> {
    let Ok(mut conn) = connect(&Place::of(paths), DEFAULT_TRANSCRIPT_CAP, Some(prefix)) else {
        return Ok(false);
    };
    let Ok(view) = resolve(&conn.welcome, prefix) else {
        return Ok(false);
    };
    if view.task.status.is_final() {
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

/// Connects for a command that acts on a task (starting the server).
fn open(paths: &Paths, config_file: Option<&Path>) -> Result<Connection> {
    connect_or_start(paths, config_file, 0, None)
}

/// `corral kill ID`: kills the agent and waits for its end.
pub fn kill(paths: &Paths, config_file: Option<&Path>, prefix: &str) -> Result<()> {
    let mut conn = open(paths, config_file)?;
    let view = resolve(&conn.welcome, prefix)?;
    let id = view.task.id.clone();
    // A finished task whose session is still open (waiting for a
    // follow-up) has nothing more to finish: its session just closes.
    let mut ended = view.task.status.is_final();
    conn.call_with(Request::Kill { id: id.clone() }, |r| {
        watch_finished(r, &id, &mut ended)
    })?;
    let (tx, rx) = mpsc::channel();
    if !ended && let Some(mut reader) = conn.take_reader() {
        let watched = id.clone();
        std::thread::spawn(move || {
            while let Ok(Some(reply)) = read_reply(&mut reader) {
                let mut done = false;
                watch_finished(&reply, &watched, &mut done);
                if done {
                    let _ = tx.send(());
                    return;
                }
            }
        });
        if rx.recv_timeout(KILL_WAIT).is_err() {
            bail!("asked to kill {id}, but it has not ended within {KILL_WAIT:?}");
        }
    }
    println!("killed {id}");
    Ok(())
}

fn watch_finished(reply: &Reply, id: &str, ended: &mut bool) {
    if let Reply::Changed { events, .. } = reply {
        *ended |= events
            .iter()
            .any(|e| e.id == id && matches!(e.event, AgentEvent::Finished(_)));
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

/// `corral answer ID ANSWER...`.
pub fn answer(
    paths: &Paths,
    config_file: Option<&Path>,
    prefix: &str,
    words: &[String],
) -> Result<()> {
    let mut conn = open(paths, config_file)?;
    let view = resolve(&conn.welcome, prefix)?;
    let id = view.task.id.clone();
    let Some(question) = view.task.pending_question.clone() else {
        bail!("task {id} is not waiting for an answer");
    };
    let request = answer_request(&id, question, words)?;
    conn.call(request)?;
    println!("answered {id}");
    Ok(())
}

/// `corral send ID MESSAGE`.
pub fn send(paths: &Paths, config_file: Option<&Path>, prefix: &str, message: &str) -> Result<()> {
    let mut conn = open(paths, config_file)?;
    let id = resolve(&conn.welcome, prefix)?.task.id.clone();
    conn.call(Request::FollowUp {
        id: id.clone(),
        text: message.to_string(),
    })?;
    println!("sent to {id}");
    Ok(())
}

/// `corral run --detach`: hands the task to the server and prints its id.
pub fn run_detached(
    args: &RunArgs,
    config: &Config,
    paths: &Paths,
    config_file: Option<&Path>,
) -> Result<()> {
    let spec = crate::headless::run_spec(args, config)?;
    let mut conn = open(paths, config_file)?;
    let id = conn
        .call(Request::Launch {
            spec: Box::new(WireSpec::of(&spec)),
        })?
        .context("the server did not name the task")?;
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

/// What the attach loop waits for.
enum Input {
    Reply(Option<Reply>),
    Line(Option<String>),
}

/// `corral attach ID`: prints the task's transcript and live events, asks
/// its questions at this terminal. Ctrl-C detaches; the agent goes on.
/// Returns the exit code (0 when the task succeeded).
pub fn attach(paths: &Paths, config_file: Option<&Path>, prefix: &str) -> Result<i32> {
    let mut conn = connect_or_start(paths, config_file, DEFAULT_TRANSCRIPT_CAP, Some(prefix))?;
    let view = resolve(&conn.welcome, prefix)?.clone();
    let id = view.task.id.clone();
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut printer = Printer::new(color);
    let mut out = std::io::stdout().lock();
    for event in &view.events {
        out.write_all(printer.render(event).as_bytes())?;
    }
    out.flush()?;
    let interactive = std::io::stdin().is_terminal();
    if view.task.status.is_final() && view.task.pending_question.is_none() {
        eprintln!("corral: task {id} is {}", view.task.status.name());
        return Ok(exit_code(&view.task));
    }
    eprintln!("corral: attached to {id} (Ctrl-C detaches; the agent goes on)");
    let (tx, rx) = mpsc::channel();
    if let Some(mut reader) = conn.take_reader() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            loop {
                let reply = read_reply(&mut reader).ok().flatten();
                let end = reply.is_none();
                if tx.send(Input::Reply(reply)).is_err() || end {
                    return;
                }
            }
        });
    }
    if interactive {
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                if tx.send(Input::Line(line.ok())).is_err() {
                    return;
                }
            }
            let _ = tx.send(Input::Line(None));
        });
    }
    let mut header = view.task;
    let mut asking = Asking::default();
    asking.update(&header, interactive);
    while let Ok(input) = rx.recv() {
        match input {
            Input::Reply(None) => bail!("the corral server went away"),
            Input::Reply(Some(Reply::Bye { message })) => bail!(message),
            Input::Reply(Some(Reply::Changed { tasks, events, .. })) => {
                let mut finished = false;
                for e in events.iter().filter(|e| e.id == id) {
                    out.write_all(printer.render(&e.event).as_bytes())?;
                    finished |= matches!(e.event, AgentEvent::Finished(_));
                }
                out.flush()?;
                if let Some(new) = tasks.into_iter().find(|t| t.id == id) {
                    header = new;
                }
                if finished {
                    return Ok(exit_code(&header));
                }
                asking.update(&header, interactive);
            }
            Input::Reply(Some(Reply::Welcome { tasks, .. })) => {
                // Resynchronised after falling behind: take the header.
                if let Some(v) = tasks.into_iter().find(|v| v.task.id == id) {
                    header = v.task;
                }
                asking.update(&header, interactive);
            }
            Input::Reply(Some(Reply::Failed { message, .. })) => {
                eprintln!("corral: {message}");
                asking = Asking::default();
                asking.update(&header, interactive);
            }
            Input::Reply(Some(_)) => {}
            Input::Line(None) => {}
            Input::Line(Some(text)) => {
                let Some(a) = asking.asker.as_mut() else {
                    continue;
                };
                match a.feed(&text) {
                    Err(complaint) => eprint!("  {complaint}\n{}", a.prompt()),
                    Ok(None) => eprint!("{}", a.prompt()),
                    Ok(Some(decision)) => {
                        let request = match decision {
                            Decision::AllowAlways => Request::AllowAlways { id: id.clone() },
                            Decision::Answer(answer) => Request::Answer {
                                id: id.clone(),
                                answer,
                            },
                        };
                        conn.send(request)?;
                        asking.asker = None;
                    }
                }
            }
        }
    }
    Ok(1)
}

/// The question `corral attach` is asking, and which one it last asked.
#[derive(Default)]
struct Asking {
    asker: Option<Asker>,
    /// The id of the question last prompted for (answered or not).
    asked: Option<String>,
}

impl Asking {
    /// Prompts for a new pending question; says so when the one being
    /// asked was answered somewhere else.
    fn update(&mut self, header: &TaskRecord, interactive: bool) {
        match &header.pending_question {
            Some(q) if interactive && self.asked.as_deref() != Some(q.id.as_str()) => {
                let asker = Asker::new(q.clone());
                eprint!("{}", asker.prompt());
                self.asker = Some(asker);
                self.asked = Some(q.id.clone());
            }
            Some(_) => {}
            None => {
                if self.asker.take().is_some() {
                    eprintln!("\n  (answered elsewhere)");
                }
            }
        }
    }
}

fn exit_code(record: &TaskRecord) -> i32 {
    match record.status {
        crate::core::task::TaskStatus::Succeeded => 0,
        _ => 1,
    }
}
