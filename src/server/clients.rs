//! One client of the server as the loop sees it: the two tasks that serve
//! its connection (a reader feeding the loop's inbox, a writer draining a
//! bounded queue of ready-made lines), its flow state (live, behind,
//! asking for a snapshot), and the lines it is sent (a welcome snapshot
//! and changes, serialised from borrowed state).
//!
//! Never blocks the loop: the loop only `try_send`s into a client's queue;
//! a full one (by lines, or by bytes not yet written) marks the client
//! behind until its writer catches up. Never
//! reads or writes `State`; it serialises what the loop hands it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use super::protocol::{Reply, TaskEvent};
use crate::core::TaskId;
use crate::core::event::AgentEvent;
use crate::core::event::{Question, Usage};
use crate::core::task::Task;
use crate::core::task::TaskStatus;
use crate::store::TaskRecord;
use crate::store::proc::ProcessId;
use crate::store::record::StoredLimits;

/// Lines a client may be behind by before it is resynchronised.
pub const CLIENT_QUEUE: usize = 256;
/// Bytes a client may be behind by before it is resynchronised: a batch of
/// a flooding agent's events is tens of KiB, so the line count alone would
/// let a stuck client pin many MiB.
pub const CLIENT_QUEUE_BYTES: usize = 4 << 20;
/// The longest request line a client may send.
const MAX_REQUEST: u64 = 4 << 20;

/// A client's writer: sending normally.
const LIVE: u8 = 0;
/// The loop found its queue full and sends nothing more.
const BEHIND: u8 = 1;
/// Its writer emptied the queue and asked for a snapshot.
const RESYNC_ASKED: u8 = 2;

/// What reaches the loop from the client tasks.
pub(super) enum Inbox {
    Line {
        client: u64,
        line: String,
    },
    /// The client's writer caught up after falling behind.
    Resync {
        client: u64,
    },
    Gone {
        client: u64,
    },
}

/// A connected client: its queue, its flow state and what it asked for.
pub(super) struct Client {
    tx: mpsc::Sender<Arc<str>>,
    flow: Arc<AtomicU8>,
    /// Bytes queued and not yet written.
    queued: Arc<AtomicUsize>,
    pub(super) welcomed: bool,
    pub(super) window: usize,
    pub(super) focus: Option<String>,
    pub(super) raw: Option<TaskId>,
    /// It draws process costs ([`super::protocol::Request::WatchCosts`]).
    pub(super) costs: bool,
    pub(super) reader: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Starts the reader and writer tasks of client number `client` on
    /// `stream`; both report to `inbox`.
    pub(super) fn connect(client: u64, stream: UnixStream, inbox: &mpsc::Sender<Inbox>) -> Client {
        let (read, write) = stream.into_split();
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        let flow = Arc::new(AtomicU8::new(LIVE));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            flow: flow.clone(),
            queued: queued.clone(),
        };
        tokio::spawn(write_client(client, write, rx, writer, inbox.clone()));
        let reader = tokio::spawn(read_client(client, read, inbox.clone()));
        Client {
            tx,
            flow,
            queued,
            welcomed: false,
            window: 0,
            focus: None,
            raw: None,
            costs: false,
            reader,
        }
    }

    /// Queues `line` unless the client is behind; a full queue marks it
    /// behind (it will ask for a snapshot once its writer caught up).
    pub(super) fn send(&mut self, line: Arc<str>) {
        if self.flow.load(Ordering::Acquire) != LIVE {
            return;
        }
        let len = line.len();
        // The first line always goes: a snapshot larger than the budget
        // must still reach a client that is not behind.
        let queued = self.queued.load(Ordering::Acquire);
        if queued > 0 && queued + len > CLIENT_QUEUE_BYTES {
            self.flow.store(BEHIND, Ordering::Release);
            return;
        }
        // Counted before the writer can take it (it subtracts once written).
        self.queued.fetch_add(len, Ordering::AcqRel);
        if let Err(err) = self.tx.try_send(line) {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            if let mpsc::error::TrySendError::Full(_) = err {
                self.flow.store(BEHIND, Ordering::Release);
            }
        }
    }

    /// Sends `snapshot` to a client that caught up, and makes it live again.
    pub(super) fn resync(&mut self, snapshot: Arc<str>) {
        self.flow.store(LIVE, Ordering::Release);
        self.send(snapshot);
    }
}

/// What a task looked like when the clients last heard of it: its id and
/// a hash of everything a client shows except the transcript (which
/// travels as events), so finding what changed allocates nothing.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Seen {
    pub(super) id: String,
    pub(super) print: u64,
}

pub(super) fn fingerprint(t: &Task) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.status.hash(&mut h);
    t.runs.hash(&mut h);
    t.archived.hash(&mut h);
    t.pending_question.as_ref().map(|q| &q.id).hash(&mut h);
    t.process_alive.hash(&mut h);
    t.stdin_open.hash(&mut h);
    t.usage.total_tokens().hash(&mut h);
    t.usage.cost_usd.map(f64::to_bits).hash(&mut h);
    t.changes
        .map(|c| (c.files, c.added, c.deleted))
        .hash(&mut h);
    t.worktree.as_ref().map(|w| &w.branch).hash(&mut h);
    t.worktree_pending.hash(&mut h);
    t.session_id.hash(&mut h);
    t.model.hash(&mut h);
    t.started_ms.hash(&mut h);
    t.finished_ms.hash(&mut h);
    t.finish_reason.hash(&mut h);
    t.last_turn
        .as_ref()
        .map(|l| (l.is_error, &l.result))
        .hash(&mut h);
    t.kill_reason.is_some().hash(&mut h);
    t.queue_seq.hash(&mut h);
    t.retries.hash(&mut h);
    t.retry_at_ms.hash(&mut h);
    t.run_turns.hash(&mut h);
    t.recent_errors.len().hash(&mut h);
    t.recent_raw.len().hash(&mut h);
    t.allow_rules.len().hash(&mut h);
    t.exit.as_ref().map(|e| (e.code, &e.signal)).hash(&mut h);
    t.cost.hash(&mut h);
    h.finish()
}

pub(super) fn seen(t: &Task) -> Seen {
    Seen {
        id: wire_id(t),
        print: fingerprint(t),
    }
}

/// The id clients know a task by: its store id (`t<n>` without a store).
pub fn wire_id(t: &Task) -> String {
    t.short_id.clone().unwrap_or_else(|| format!("t{}", t.id))
}

/// [`Reply::Welcome`] as it is written: the tasks borrowed from the state,
/// so a snapshot copies no transcript before it is serialised.
#[derive(serde::Serialize)]
pub(super) struct WelcomeLine<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) protocol: u32,
    pub(super) corral: &'static str,
    pub(super) pid: u32,
    pub(super) tasks: Vec<TaskViewLine<'a>>,
    pub(super) resync: bool,
    /// The server's clock as it wrote the welcome (ms since the epoch).
    pub(super) now_ms: u64,
}

/// A task's record as a welcome lists it ([`TaskRecord::summary`]), left
/// out what is empty: read back as a [`TaskRecord`] (whose other fields
/// default), it is the summary again.
#[derive(serde::Serialize)]
pub(super) struct SummaryLine<'a> {
    version: u32,
    id: &'a str,
    title: &'a str,
    prompt: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: &'a Option<String>,
    agent: &'a str,
    cwd: &'a std::path::Path,
    #[serde(skip_serializing_if = "is_default")]
    limits: StoredLimits,
    status: TaskStatus,
    created_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_ms: Option<u64>,
    updated_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: &'a Option<String>,
    #[serde(skip_serializing_if = "is_default_ref")]
    usage: &'a Usage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_question: &'a Option<Question>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit: &'a Option<crate::core::ExitInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: &'a Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    runs: u32,
    #[serde(skip_serializing_if = "is_default")]
    archived: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: &'a Option<ProcessId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_group: &'a Option<ProcessId>,
    #[serde(skip_serializing_if = "is_default")]
    use_worktree: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    worktree: &'a Option<crate::worktree::Worktree>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_default_ref<T: Default + PartialEq>(value: &&T) -> bool {
    **value == T::default()
}

impl<'a> SummaryLine<'a> {
    /// The summary of `r` (see [`TaskRecord::summary`]: the prompt's first
    /// line, no options, questions or result).
    pub(super) fn of(r: &'a TaskRecord) -> SummaryLine<'a> {
        SummaryLine {
            version: r.version,
            id: &r.id,
            title: &r.title,
            prompt: r.summary_prompt(),
            profile: &r.profile,
            agent: &r.agent,
            cwd: &r.cwd,
            limits: r.limits,
            status: r.status,
            created_ms: r.created_ms,
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
            updated_ms: r.updated_ms,
            session_id: &r.session_id,
            model: &r.model,
            usage: &r.usage,
            pending_question: &r.pending_question,
            exit: &r.exit,
            finish_reason: &r.finish_reason,
            runs: r.runs,
            archived: r.archived,
            owner: &r.owner,
            agent_group: &r.agent_group,
            use_worktree: r.use_worktree,
            worktree: &r.worktree,
        }
    }
}

/// A task's record in a line: whole (opened), or as a summary (welcome).
/// Lives only while its line is encoded, so the sizes do not matter.
#[derive(serde::Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)]
pub(super) enum RecordLine<'a> {
    Whole(TaskRecord),
    Summary(SummaryLine<'a>),
}

/// [`super::protocol::TaskView`] as it is written (borrowed).
#[derive(serde::Serialize)]
pub(super) struct TaskViewLine<'a> {
    pub(super) task: RecordLine<'a>,
    pub(super) n: TaskId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) core: Option<&'a Task>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) events: Vec<&'a AgentEvent>,
    #[serde(skip_serializing_if = "is_zero")]
    pub(super) omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// [`super::protocol::Reply::Opened`] as it is written.
#[derive(serde::Serialize)]
pub(super) struct OpenedLine<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) seq: u64,
    pub(super) view: TaskViewLine<'a>,
}

/// [`Reply::Changed`] as it is written (the tasks borrowed).
#[derive(serde::Serialize)]
pub(super) struct ChangedLine<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) tasks: Vec<TaskRecord>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) cores: Vec<&'a Task>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) events: Vec<TaskEvent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) deleted: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) reviews: Vec<crate::core::review::ReviewReport>,
}

pub(super) fn encode_line(value: &impl serde::Serialize) -> Arc<str> {
    let mut line = serde_json::to_string(value).unwrap_or_else(|err| {
        format!(r#"{{"type":"bye","message":"the server cannot encode a reply: {err}"}}"#)
    });
    line.push('\n');
    Arc::from(line)
}

pub(super) fn encode(reply: &Reply) -> Arc<str> {
    let mut line = serde_json::to_string(reply).unwrap_or_else(|err| {
        format!(r#"{{"type":"bye","message":"the server cannot encode a reply: {err}"}}"#)
    });
    line.push('\n');
    Arc::from(line)
}
/// Reads a client's request lines into the loop's inbox.
async fn read_client(
    client: u64,
    read: tokio::net::unix::OwnedReadHalf,
    inbox: mpsc::Sender<Inbox>,
) {
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader)
            .take(MAX_REQUEST)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 || (buf.last() != Some(&b'\n') && n as u64 >= MAX_REQUEST) {
            break;
        }
        let line = String::from_utf8_lossy(&buf).trim().to_string();
        if line.is_empty() {
            continue;
        }
        if inbox.send(Inbox::Line { client, line }).await.is_err() {
            return;
        }
    }
    let _ = inbox.send(Inbox::Gone { client }).await;
}

/// Writes queued lines to a client; asks for a snapshot once it caught up
/// after falling behind.
/// What a client's writer shares with the loop.
struct Writer {
    flow: Arc<AtomicU8>,
    queued: Arc<AtomicUsize>,
}

async fn write_client(
    client: u64,
    mut write: tokio::net::unix::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Arc<str>>,
    writer: Writer,
    inbox: mpsc::Sender<Inbox>,
) {
    let Writer { flow, queued } = writer;
    while let Some(line) = rx.recv().await {
        if write.write_all(line.as_bytes()).await.is_err() {
            let _ = inbox.send(Inbox::Gone { client }).await;
            return;
        }
        queued.fetch_sub(line.len(), Ordering::AcqRel);
        if rx.is_empty()
            && flow
                .compare_exchange(BEHIND, RESYNC_ASKED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            && inbox.send(Inbox::Resync { client }).await.is_err()
        {
            return;
        }
    }
    let _ = write.shutdown().await;
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::core::test_step::spec_of;
    use crate::logging::Redactor;
    use crate::server::protocol::{CORRAL_VERSION, PROTOCOL};
    use crate::store::record::{RecordMeta, record_of};

    #[test]
    fn the_borrowed_lines_read_back_as_replies_with_the_core_task() {
        let spec = spec_of(AgentKind::Claude, "p");
        let mut task = Task::new(3, spec, 10);
        task.short_id = Some("abcd0123".into());
        task.transcript.push(AgentEvent::Raw { line: "x".into() });
        let meta = RecordMeta {
            id: "abcd0123".into(),
            created_ms: 1,
            questions: Vec::new(),
            owner: None,
        };
        let record = record_of(&task, &meta, 2, &Redactor::from_env(&[]));
        let line = encode_line(&ChangedLine {
            kind: "changed",
            tasks: vec![record.clone()],
            cores: vec![&task],
            events: vec![],
            deleted: vec!["gone".into()],
            reviews: vec![],
        });
        let Reply::Changed {
            tasks,
            cores,
            deleted,
            ..
        } = serde_json::from_str(&line).unwrap()
        else {
            panic!("not a change: {line}");
        };
        assert_eq!(tasks, vec![record.clone()]);
        assert_eq!(deleted, vec!["gone".to_string()]);
        assert_eq!(cores[0].id, 3);
        assert!(
            cores[0].transcript.is_empty(),
            "the transcript travels as events"
        );
        let welcome = encode_line(&WelcomeLine {
            kind: "welcome",
            protocol: PROTOCOL,
            corral: CORRAL_VERSION,
            pid: 1,
            tasks: vec![TaskViewLine {
                task: RecordLine::Summary(SummaryLine::of(&tasks[0])),
                n: task.id,
                core: Some(&task),
                events: task.transcript.entries().collect(),
                omitted: 0,
            }],
            resync: false,
            now_ms: 1_234,
        });
        let Reply::Welcome { tasks, now_ms, .. } = serde_json::from_str(&welcome).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!(now_ms, Some(1_234), "the server's clock travels");
        assert_eq!(tasks[0].n, 3);
        // The compact summary reads back as the record's summary.
        assert_eq!(tasks[0].task, record.summary());
        let value: serde_json::Value = serde_json::from_str(&welcome).unwrap();
        let summary = value["tasks"][0]["task"].as_object().unwrap();
        for left_out in ["options", "questions", "result", "usage", "session_id"] {
            assert!(!summary.contains_key(left_out), "{summary:?}");
        }
        assert_eq!(tasks[0].core.as_ref().map(|t| t.id), Some(3));
        assert_eq!(tasks[0].events, vec![AgentEvent::Raw { line: "x".into() }]);
    }
}
