//! One thread per host the cockpit is attached to: it connects (this
//! machine's server through its socket, another host's through ssh),
//! turns the server's snapshot (task summaries), changes and opened tasks
//! into [`Event::Mirror`] batches named by the host, and, when another host's connection drops or cannot
//! be made, says so as the host's link state and tries again with backoff
//! (0.25 s doubling to 8 s; a refusal such as another protocol version
//! waits up to a minute), taking a fresh snapshot each time.
//!
//! Keeps only what the wire needs (the server's ids of its tasks' wire
//! names) and measures, at each welcome, how far the host's clock is from
//! this one's (the batch carries it; `update` translates the host's
//! times): the cockpit's list is built by `update` from the batches, so
//! the threads never make `update` impure. Never blocks the cockpit: the
//! loop gets a host's writer only once it said hello, its requests go
//! through a bounded queue that a thread writes into ssh (a stuck host
//! refuses at once), and a host that hangs is cut off by the connect
//! timeout. The loss of this machine's
//! server ends the cockpit, as with one host.

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::time::Duration;

use tokio::sync::mpsc::Sender;

use super::remote::Note;
use crate::config::Host;
use crate::core::task::Task;
use crate::core::transcript::DEFAULT_TRANSCRIPT_CAP;
use crate::core::{Event, LinkStatus, Mirror, TaskId};
use crate::server::client::{ConnectError, Connection, clock_offset_ms, connect_host, read_reply};
use crate::server::protocol::{Reply, TaskView};
use crate::server::transport::{LinkReader, LinkWriter};
use crate::server::wire_id;

/// The first wait before reconnecting, and the longest.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(250);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// The longest wait after a refusal (another protocol, another user's
/// server): trying often would not change it.
pub const BACKOFF_REFUSED: Duration = Duration::from_secs(60);

/// The mirror batch of a welcome's tasks: a fresh snapshot of `host`.
/// A finished task comes as a summary of its record and is rebuilt from
/// it, an unfinished one in the core's form; none has its transcript yet
/// (the cockpit opens a task to read it).
/// `clock_offset_ms`: the host's clock minus this one's, as its welcome
/// showed it.
pub fn snapshot(
    host: &str,
    tasks: Vec<TaskView>,
    clock_offset_ms: Option<i64>,
    ids: &mut HashMap<String, TaskId>,
) -> Mirror {
    let mut mirror = Mirror {
        host: Some(host.to_string()),
        link: Some(LinkStatus::Live),
        reset: true,
        clock_offset_ms,
        ..Mirror::default()
    };
    ids.clear();
    for view in tasks {
        let Some(mut task) = mirror_task(&view) else {
            continue;
        };
        task.transcript_stored = Some(task.runs);
        ids.insert(view.task.id.clone(), task.id);
        mirror
            .events
            .extend(view.events.into_iter().map(|e| (task.id, e)));
        mirror.tasks.push(task);
    }
    mirror
}

/// The task a mirror keeps for `view`: its core form when sent, else the
/// one its record makes (`None` for an agent kind this build lacks).
pub fn mirror_task(view: &TaskView) -> Option<Task> {
    if let Some(core) = &view.core {
        return Some(core.clone());
    }
    // The cap is the mirror's own; redacted values stay out.
    let mut task = view.task.to_task(DEFAULT_TRANSCRIPT_CAP, |_| None)?;
    task.id = view.n;
    Some(task)
}

/// The mirror batch of an opened task: it whole, with its transcript.
fn opened(host: &str, view: TaskView, ids: &mut HashMap<String, TaskId>) -> Option<Mirror> {
    let task = mirror_task(&view)?;
    ids.insert(view.task.id.clone(), task.id);
    Some(Mirror {
        host: Some(host.to_string()),
        transcripts: vec![(task.id, view.events, view.omitted)],
        tasks: vec![task],
        ..Mirror::default()
    })
}

/// A link-state batch for `host`.
fn link(host: &str, status: LinkStatus) -> Event {
    Event::Mirror(Box::new(Mirror {
        host: Some(host.to_string()),
        link: Some(status),
        ..Mirror::default()
    }))
}

/// The next wait after `delay`: doubled, at most `cap`.
pub fn next_backoff(delay: Duration, cap: Duration) -> Duration {
    (delay * 2).min(cap)
}

/// Why a connection's reading ended.
enum Ended {
    /// The server or the way to it went; its words.
    Lost(String),
    /// The cockpit is gone: nobody to tell.
    Closed,
}

/// Follows this machine's server through `reader` (connected, its
/// snapshot applied and its writer handed to the loop by the caller)
/// until it goes, then tells the loop to end.
pub fn spawn_local(
    host: usize,
    reader: BufReader<LinkReader>,
    ids: HashMap<String, TaskId>,
    events: Sender<Event>,
    notes: Sender<Note>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("corral-link-local".into())
        .spawn(move || {
            let name = crate::config::LOCAL_HOST;
            if let Ended::Lost(message) = read_server(host, name, reader, ids, &events, &notes) {
                let _ = notes.blocking_send(Note::Gone(message));
            }
        })?;
    Ok(())
}

/// Connects to `remote` (another host, through ssh) and follows its
/// server, reconnecting with backoff whenever the link is lost, until the
/// cockpit is gone.
pub fn spawn_remote(
    host: usize,
    remote: Host,
    window: usize,
    events: Sender<Event>,
    notes: Sender<Note>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(format!("corral-link-{}", remote.name))
        .spawn(move || {
            let name = remote.name.clone();
            let mut delay = BACKOFF_FIRST;
            loop {
                let (message, cap) = match connect_host(&remote, window, None) {
                    Ok(mut conn) => {
                        delay = BACKOFF_FIRST;
                        let mut ids = HashMap::new();
                        let tasks = std::mem::take(&mut conn.welcome.tasks);
                        let offset = conn.welcome.clock_offset_ms();
                        let first = snapshot(&name, tasks, offset, &mut ids);
                        if events
                            .blocking_send(Event::Mirror(Box::new(first)))
                            .is_err()
                        {
                            return;
                        }
                        let mut ssh = conn.take_ssh();
                        match follow(host, &name, conn, ids, &events, &notes) {
                            Ended::Closed => return,
                            Ended::Lost(said) => {
                                // ssh's own words say more than the end of a pipe.
                                let why = ssh
                                    .as_mut()
                                    .map(|s| s.failure())
                                    .filter(|m| !m.ends_with("the connection ended"))
                                    .unwrap_or_else(|| format!("host {name}: {said}"));
                                (why, BACKOFF_MAX)
                            }
                        }
                    }
                    Err(ConnectError::Refused(message)) => (message, BACKOFF_REFUSED),
                    Err(err) => (err.to_string(), BACKOFF_MAX),
                };
                let down = LinkStatus::Down {
                    message,
                    retry_in_ms: Some(delay.as_millis() as u64),
                };
                if events.blocking_send(link(&name, down)).is_err() {
                    return;
                }
                std::thread::sleep(delay);
                if events.is_closed() {
                    return;
                }
                delay = next_backoff(delay, cap);
            }
        })?;
    Ok(())
}

/// Hands the connection's writer to the loop and reads the server's news
/// until it ends: one mirror batch or note per message.
fn follow(
    host: usize,
    name: &str,
    conn: Connection,
    ids: HashMap<String, TaskId>,
    events: &Sender<Event>,
    notes: &Sender<Note>,
) -> Ended {
    let (reader, writer, next_seq) = conn.into_parts();
    let Some(reader) = reader else {
        return Ended::Lost("the connection has no reader".into());
    };
    let writer = match QueuedWriter::spawn(name, writer) {
        Ok(writer) => writer,
        Err(err) => return Ended::Lost(format!("cannot start a writer: {err}")),
    };
    if notes
        .blocking_send(Note::Linked {
            host,
            writer: Box::new(writer),
            next_seq,
        })
        .is_err()
    {
        return Ended::Closed;
    }
    read_server(host, name, reader, ids, events, notes)
}

/// Requests queued at most for one host before it counts as stuck.
const WRITE_QUEUE: usize = 64;

/// The loop's writer for another host: each request line goes into a
/// bounded queue that a thread of its own writes into ssh's stdin, so a
/// host whose connection stalls (ssh stops taking input) refuses new
/// requests at once instead of blocking the cockpit.
struct QueuedWriter {
    lines: std::sync::mpsc::SyncSender<Vec<u8>>,
    name: String,
}

impl QueuedWriter {
    fn spawn(name: &str, mut writer: LinkWriter) -> std::io::Result<QueuedWriter> {
        let (lines, queue) = std::sync::mpsc::sync_channel::<Vec<u8>>(WRITE_QUEUE);
        std::thread::Builder::new()
            .name(format!("corral-write-{name}"))
            .spawn(move || {
                // Ends when the loop drops its writer (ssh's stdin closes
                // with this one) or the pipe breaks.
                for line in queue {
                    if writer
                        .write_all(&line)
                        .and_then(|()| writer.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            })?;
        Ok(QueuedWriter {
            lines,
            name: name.to_string(),
        })
    }
}

impl Write for QueuedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use std::sync::mpsc::TrySendError;
        match self.lines.try_send(buf.to_vec()) {
            Ok(()) => Ok(buf.len()),
            Err(TrySendError::Full(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "host {} takes no more requests (its connection is stuck)",
                    self.name
                ),
            )),
            Err(TrySendError::Disconnected(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                format!("the connection to host {} is closed", self.name),
            )),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading loop of one connection.
fn read_server(
    host: usize,
    name: &str,
    mut reader: BufReader<LinkReader>,
    mut ids: HashMap<String, TaskId>,
    events: &Sender<Event>,
    notes: &Sender<Note>,
) -> Ended {
    loop {
        let reply = match read_reply(&mut reader) {
            Ok(Some(reply)) => reply,
            Ok(None) => return Ended::Lost("the corral server went away".into()),
            Err(err) => return Ended::Lost(format!("{err:#}")),
        };
        let sent = match reply {
            Reply::Welcome { tasks, now_ms, .. } => {
                let offset = clock_offset_ms(now_ms, crate::headless::now_ms());
                let mirror = snapshot(name, tasks, offset, &mut ids);
                events
                    .blocking_send(Event::Mirror(Box::new(mirror)))
                    .is_ok()
            }
            Reply::Changed {
                cores,
                events: published,
                deleted,
                reviews,
                ..
            } => {
                for core in &cores {
                    ids.insert(wire_id(core), core.id);
                }
                let mirror = Mirror {
                    host: Some(name.to_string()),
                    tasks: cores,
                    events: published
                        .into_iter()
                        .filter_map(|e| Some((*ids.get(&e.id)?, e.event)))
                        .collect(),
                    deleted: deleted.iter().filter_map(|id| ids.remove(id)).collect(),
                    reviews,
                    ..Mirror::default()
                };
                events
                    .blocking_send(Event::Mirror(Box::new(mirror)))
                    .is_ok()
            }
            Reply::Opened { view, .. } => match opened(name, *view, &mut ids) {
                Some(mirror) => events
                    .blocking_send(Event::Mirror(Box::new(mirror)))
                    .is_ok(),
                None => true,
            },
            Reply::Raw { id, bytes } => notes.blocking_send(Note::Raw { host, id, bytes }).is_ok(),
            Reply::Done { seq, id } => notes.blocking_send(Note::Done { host, seq, id }).is_ok(),
            Reply::Failed { message, .. } => {
                notes.blocking_send(Note::Failed { host, message }).is_ok()
            }
            Reply::Bye { message }
            | Reply::Mismatch { message, .. }
            | Reply::Refused { message } => {
                return Ended::Lost(message);
            }
        };
        if !sent {
            return Ended::Closed;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let mut d = BACKOFF_FIRST;
        let mut waits = vec![d];
        for _ in 0..7 {
            d = next_backoff(d, BACKOFF_MAX);
            waits.push(d);
        }
        let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(
            next_backoff(Duration::from_secs(40), BACKOFF_REFUSED),
            BACKOFF_REFUSED
        );
    }
}
