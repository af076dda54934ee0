//! `corral attach [HOST:]ID`: one task's transcript and live events at
//! this terminal, its questions asked and answered here. Ctrl-C detaches;
//! the agent goes on.
//!
//! On another host the link is an ssh connection, which can drop while
//! the agent there goes on: attach then reconnects with backoff and
//! resynchronises from the new welcome's snapshot (printing what it had
//! not shown yet), so a dropped connection costs a pause, never the task.
//! Never kills or answers anything by itself.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::client::{ConnectError, Connection, read_reply};
use super::commands::{Reach, resolve};
use super::protocol::{Reply, Request, TaskView};
use crate::core::event::AgentEvent;
use crate::core::transcript::DEFAULT_TRANSCRIPT_CAP;
use crate::describe::printer::Printer;
use crate::headless::ask::{Asker, Decision};
use crate::store::TaskRecord;

/// The first wait before reconnecting; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// How long attach keeps trying to reach a host that dropped.
const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// Replies and typed lines waiting for the attach loop; a full queue
/// holds the socket reader back (the server then resynchronises us).
const INPUT_QUEUE: usize = 256;

/// What the attach loop waits for.
enum Input {
    /// A reply (`None`: the link ended) of connection number `.0`.
    Reply(u64, Option<Reply>),
    Line(Option<String>),
}

/// The last event shown that a snapshot keeps as it was (deltas are
/// merged there), to find where to go on after a reconnect.
#[derive(Default)]
struct Shown {
    last_whole: Option<AgentEvent>,
}

impl Shown {
    fn note(&mut self, event: &AgentEvent) {
        if !matches!(
            event,
            AgentEvent::Text { delta: true, .. } | AgentEvent::Thinking { delta: true, .. }
        ) {
            self.last_whole = Some(event.clone());
        }
    }

    /// The events of `view` not shown yet.
    fn unseen<'a>(&self, view: &'a TaskView) -> &'a [AgentEvent] {
        match &self.last_whole {
            None => &view.events,
            Some(last) => match view.events.iter().rposition(|e| e == last) {
                Some(at) => &view.events[at + 1..],
                None => &view.events,
            },
        }
    }
}

/// Reads replies of connection `generation` into the loop.
fn spawn_reader(conn: &mut Connection, generation: u64, tx: mpsc::SyncSender<Input>) {
    if let Some(mut reader) = conn.take_reader() {
        std::thread::spawn(move || {
            loop {
                let reply = read_reply(&mut reader).ok().flatten();
                let end = reply.is_none();
                if tx.send(Input::Reply(generation, reply)).is_err() || end {
                    return;
                }
            }
        });
    }
}

/// Connects again to a host whose link dropped, waiting longer after each
/// failure; a server that refuses us (another version) is not retried.
fn reconnect(reach: &Reach, id: &str) -> Result<Connection> {
    let host = reach.target.name().to_string();
    let deadline = Instant::now() + RECONNECT_FOR;
    let mut wait = BACKOFF_FIRST;
    loop {
        std::thread::sleep(wait);
        match reach.target.connect(
            reach.paths,
            reach.config_file,
            DEFAULT_TRANSCRIPT_CAP,
            Some(id),
            false,
        ) {
            Ok(conn) => {
                eprintln!("corral: reconnected to {host}");
                return Ok(conn);
            }
            Err(ConnectError::Refused(message)) => bail!(message),
            Err(err) if Instant::now() >= deadline => {
                bail!("gave up reconnecting to {host} after {RECONNECT_FOR:?}: {err}")
            }
            Err(err) => {
                eprintln!("corral: {err}; trying again");
                wait = (wait * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// `corral attach [HOST:]ID`: prints the task's transcript and live
/// events, asks its questions at this terminal. Ctrl-C detaches; the agent
/// goes on. Returns the exit code (0 when the task succeeded).
pub fn attach(reach: &Reach, prefix: &str) -> Result<i32> {
    let mut conn = reach.open(DEFAULT_TRANSCRIPT_CAP, Some(prefix))?;
    let view = resolve(&conn.welcome, prefix)?.clone();
    let id = view.task.id.clone();
    let shown_id = reach.task_ref(&id);
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut printer = Printer::new(color);
    let mut out = std::io::stdout().lock();
    let mut shown = Shown::default();
    let interactive = std::io::stdin().is_terminal();
    // At a terminal the waiting question is asked (its prompt shows it),
    // so its transcript line would say it twice, as `corral run` avoids.
    let asked_here = |event: &AgentEvent, pending: Option<&str>| {
        interactive && matches!(event, AgentEvent::Question(q) if Some(q.id.as_str()) == pending)
    };
    let pending = view.task.pending_question.as_ref().map(|q| q.id.clone());
    for event in &view.events {
        if !asked_here(event, pending.as_deref()) {
            out.write_all(printer.render(event).as_bytes())?;
        }
        shown.note(event);
    }
    out.flush()?;
    if view.task.status.is_final() && view.task.pending_question.is_none() {
        eprintln!("corral: task {shown_id} is {}", view.task.status.name());
        return Ok(exit_code(&view.task));
    }
    eprintln!("corral: attached to {shown_id} (Ctrl-C detaches; the agent goes on)");
    let (tx, rx) = mpsc::sync_channel(INPUT_QUEUE);
    let mut generation = 0;
    spawn_reader(&mut conn, generation, tx.clone());
    if interactive {
        let tx = tx.clone();
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
            Input::Reply(g, _) if g != generation => {}
            Input::Reply(_, None) if reach.target.is_remote() => {
                let why = conn.ssh_failure().unwrap_or_default();
                eprintln!("\ncorral: lost the connection ({why}); reconnecting");
                conn = reconnect(reach, &id)?;
                generation += 1;
                let Some(view) = conn.welcome.tasks.iter().find(|v| v.task.id == id).cloned()
                else {
                    bail!("task {shown_id} is gone from {}", reach.target.name());
                };
                let pending = view.task.pending_question.as_ref().map(|q| q.id.as_str());
                for event in shown.unseen(&view) {
                    if !asked_here(event, pending) {
                        out.write_all(printer.render(event).as_bytes())?;
                    }
                }
                if let Some(last) = view.events.last() {
                    shown.note(last);
                }
                out.flush()?;
                header = view.task;
                if header.status.is_final() && header.pending_question.is_none() {
                    eprintln!("corral: task {shown_id} is {}", header.status.name());
                    return Ok(exit_code(&header));
                }
                spawn_reader(&mut conn, generation, tx.clone());
                asking.update(&header, interactive);
            }
            Input::Reply(_, None) => bail!("the corral server went away"),
            Input::Reply(_, Some(Reply::Bye { message })) => bail!(message),
            Input::Reply(_, Some(Reply::Changed { tasks, events, .. })) => {
                let mut finished = false;
                let pending = tasks
                    .iter()
                    .find(|t| t.id == id)
                    .unwrap_or(&header)
                    .pending_question
                    .as_ref()
                    .map(|q| q.id.clone());
                for e in events.iter().filter(|e| e.id == id) {
                    if !asked_here(&e.event, pending.as_deref()) {
                        out.write_all(printer.render(&e.event).as_bytes())?;
                    }
                    shown.note(&e.event);
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
            Input::Reply(_, Some(Reply::Welcome { tasks, .. })) => {
                // Resynchronised after falling behind: take the header.
                if let Some(v) = tasks.into_iter().find(|v| v.task.id == id) {
                    header = v.task;
                }
                asking.update(&header, interactive);
            }
            Input::Reply(_, Some(Reply::Failed { message, .. })) => {
                eprintln!("corral: {message}");
                asking = Asking::default();
                asking.update(&header, interactive);
            }
            Input::Reply(_, Some(_)) => {}
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
