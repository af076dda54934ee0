//! The corral server protocol: what a client and the server say to each
//! other over the server's Unix socket.
//!
//! Framing is JSON lines: one serde-serialised message per `\n`-terminated
//! line, in each direction. It needs no hand-written parser (serde_json on
//! each line), it is readable with `socat` when debugging, a script in any
//! language can speak it, and the store already keeps canonical events in
//! the same form (`events-N.jsonl`), so an event reads the same in a file,
//! in `corral run --json` and on the socket.
//!
//! A session: the client sends [`Request::Hello`] first; the server answers
//! [`Reply::Welcome`] (its version and a summary of every task: each task
//! once, small, no transcripts) or [`Reply::Mismatch`] /
//! [`Reply::Refused`] and closes. Then the server streams
//! [`Reply::Changed`] (the changed tasks' headers and the events published
//! since) and answers each numbered request with [`Reply::Done`] or
//! [`Reply::Failed`]; [`Request::Open`] is answered with
//! [`Reply::Opened`], one task whole with its transcript. A client that
//! fell behind gets a fresh `Welcome` with `resync: true` instead of what
//! it missed.
//!
//! Pure data: no IO. Type names are the contract; fields may be added
//! (readers ignore unknown fields), a change of meaning bumps [`PROTOCOL`].

use serde::{Deserialize, Serialize};

use crate::agent::{AgentKind, AgentOptions, Answer};
use crate::core::event::AgentEvent;
use crate::core::review::{ReviewOp, ReviewReport};
use crate::core::task::{Budget, Task, TaskSpec};
use crate::core::{Limits, TaskId};
use crate::store::TaskRecord;
use crate::store::record::StoredLimits;

/// The protocol version this build speaks. Client and server must agree.
/// 2: the welcome carries summaries, transcripts come with `open`.
pub const PROTOCOL: u32 = 2;

/// This build's version, for messages.
pub const CORRAL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One message from a client: a request and the number the reply echoes
/// (0 for messages that get no reply, like `hello`, `input`, `resize`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    #[serde(default)]
    pub seq: u64,
    #[serde(flatten)]
    pub request: Request,
}

/// What a client asks for. Tasks are named by their store id (`corral ls`
/// shows it); a unique prefix is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Must come first. `focus`: the snapshot carries that task's newest
    /// `window` transcript entries (every other task's come with `open`).
    Hello {
        protocol: u32,
        corral: String,
        #[serde(default)]
        window: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        focus: Option<String>,
    },
    /// The client draws what the agents' process trees cost (`on`) or
    /// stops: the server samples them (once a second, live agents only)
    /// while some client does, and the tasks' `cost` changes reach it.
    WatchCosts {
        on: bool,
    },
    /// The whole task and its transcript, answered with
    /// [`Reply::Opened`] (the server reads a stored one from disk first).
    Open {
        id: String,
    },
    /// Start a task; `Done` carries its id.
    Launch {
        spec: Box<WireSpec>,
    },
    Kill {
        id: String,
    },
    Answer {
        id: String,
        answer: Answer,
    },
    AllowAlways {
        id: String,
    },
    FollowUp {
        id: String,
        text: String,
    },
    Resume {
        id: String,
        #[serde(default)]
        message: Option<String>,
    },
    Retry {
        id: String,
    },
    Archive {
        id: String,
        archived: bool,
    },
    Delete {
        id: String,
    },
    /// Keystrokes for a `command` task's terminal.
    Input {
        id: String,
        bytes: Vec<u8>,
    },
    Resize {
        id: String,
        rows: u16,
        cols: u16,
    },
    /// Receive [`Reply::Raw`] for this task's terminal output (`None`:
    /// stop). One task at a time per client.
    WatchRaw {
        #[serde(default)]
        id: Option<String>,
    },
    /// A worktree review op (diff, commit, merge, discard); the report
    /// comes in a later `changed`.
    Review {
        id: String,
        op: ReviewOp,
    },
    /// Stop the server. Without `kill` it refuses while tasks are live.
    Stop {
        #[serde(default)]
        kill: bool,
    },
}

/// What the server says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The answer to `hello`, or a fresh snapshot for a client that fell
    /// behind (`resync`): every task once, oldest first, as a summary.
    Welcome {
        protocol: u32,
        corral: String,
        pid: u32,
        tasks: Vec<TaskView>,
        #[serde(default)]
        resync: bool,
        /// The server's clock as it wrote the welcome (ms since the
        /// epoch): a client measures how far the host's clock is from its
        /// own with it.
        #[serde(default)]
        now_ms: Option<u64>,
    },
    /// The client speaks another protocol; the connection closes.
    Mismatch {
        protocol: u32,
        corral: String,
        message: String,
    },
    /// The client may not use this server (another user); it closes.
    Refused { message: String },
    /// What changed in one batch of steps: the new headers of the tasks
    /// that changed, then the events they published, in order.
    Changed {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tasks: Vec<TaskRecord>,
        /// The same tasks in the core's own form (what a mirror needs).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cores: Vec<Task>,
        /// Reports of review ops, for the client that asked.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reviews: Vec<ReviewReport>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        events: Vec<TaskEvent>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deleted: Vec<String>,
    },
    /// Terminal output of the watched task.
    Raw { id: String, bytes: Vec<u8> },
    /// The answer to `open`: the task whole (its full record, its core
    /// form) with its transcript as the server holds it.
    Opened { seq: u64, view: Box<TaskView> },
    /// Request `seq` was carried out; `id` names the task it concerned.
    Done {
        seq: u64,
        #[serde(default)]
        id: Option<String>,
    },
    /// Request `seq` was refused; the message says why, in words.
    Failed { seq: u64, message: String },
    /// The server is going away.
    Bye { message: String },
}

/// One task in a snapshot (a summary) or opened (whole).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// Its record (`task.json` form). In a welcome a summary
    /// ([`TaskRecord::summary`]): the prompt's first line only, no options,
    /// questions or result.
    pub task: TaskRecord,
    /// The core's number for it (review reports name tasks by it).
    #[serde(default)]
    pub n: TaskId,
    /// The task in the core's own form, without its transcript: in a
    /// welcome only while it is unfinished or its session open (its live
    /// state), always when opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core: Option<Task>,
    /// The newest transcript entries, oldest first: an opened task's, or
    /// in a welcome the `focus` task's last `window`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<AgentEvent>,
    /// Entries before these that are left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An event a task published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub id: String,
    pub event: AgentEvent,
}

/// A task to launch, as sent over the socket: the core's `TaskSpec` in
/// serialisable form (secrets included: the socket is the user's own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireSpec {
    pub agent: String,
    pub prompt: String,
    #[serde(default)]
    pub title: Option<String>,
    pub cwd: std::path::PathBuf,
    #[serde(default)]
    pub options: AgentOptions,
    #[serde(default)]
    pub limits: StoredLimits,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub worktree: bool,
}

impl WireSpec {
    /// The wire form of `spec`.
    pub fn of(spec: &TaskSpec) -> WireSpec {
        let b = spec.budget;
        WireSpec {
            agent: spec.agent.name().to_string(),
            prompt: spec.prompt.clone(),
            title: spec.title.clone(),
            cwd: spec.cwd.clone(),
            options: spec.options.clone(),
            limits: StoredLimits {
                idle_timeout_ms: spec.limits.idle_timeout_ms,
                wall_timeout_ms: spec.limits.wall_timeout_ms,
                max_cost_usd: b.max_cost_usd,
                max_turns: b.max_turns,
                price_input_per_mtok: b.price_input_per_mtok,
                price_output_per_mtok: b.price_output_per_mtok,
            },
            profile: spec.profile.clone(),
            worktree: spec.worktree,
        }
    }

    /// The core's spec, or why there is none.
    pub fn to_spec(&self) -> Result<TaskSpec, String> {
        let agent = AgentKind::from_name(&self.agent)
            .ok_or_else(|| format!("this server cannot run `{}` agents", self.agent))?;
        if self.prompt.trim().is_empty() {
            return Err("the prompt is empty".into());
        }
        if !self.cwd.is_absolute() {
            return Err(format!("`{}` is not an absolute path", self.cwd.display()));
        }
        let l = self.limits;
        Ok(TaskSpec {
            agent,
            prompt: self.prompt.clone(),
            title: self.title.clone(),
            cwd: self.cwd.clone(),
            options: self.options.clone(),
            limits: Limits {
                idle_timeout_ms: l.idle_timeout_ms,
                wall_timeout_ms: l.wall_timeout_ms,
            },
            profile: self.profile.clone(),
            budget: Budget {
                max_cost_usd: l.max_cost_usd,
                max_turns: l.max_turns,
                price_input_per_mtok: l.price_input_per_mtok,
                price_output_per_mtok: l.price_output_per_mtok,
            },
            worktree: self.worktree,
        })
    }
}

/// The one line a client of another protocol version gets.
pub fn mismatch_message(server: &str, server_protocol: u32) -> String {
    format!(
        "server is {server} (protocol {server_protocol}), this corral is {CORRAL_VERSION} \
         (protocol {PROTOCOL}): run `corral server restart`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_object_with_a_type_and_a_seq() {
        let msg = ClientMessage {
            seq: 7,
            request: Request::Answer {
                id: "ab12cd34".into(),
                answer: Answer::Deny {
                    message: "not there".into(),
                },
            },
        };
        let line = serde_json::to_string(&msg).unwrap();
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["type"], "answer");
        assert_eq!(value["seq"], 7);
        assert_eq!(value["id"], "ab12cd34");
        let back: ClientMessage = serde_json::from_str(&line).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn a_hello_from_a_script_needs_only_the_versions() {
        let msg: ClientMessage =
            serde_json::from_str(r#"{"type":"hello","protocol":2,"corral":"9.9"}"#).unwrap();
        assert_eq!(msg.seq, 0);
        assert_eq!(
            msg.request,
            Request::Hello {
                protocol: 2,
                corral: "9.9".into(),
                window: 0,
                focus: None,
            }
        );
    }

    #[test]
    fn a_spec_survives_the_wire_and_a_bad_one_says_why() {
        let spec = TaskSpec {
            agent: AgentKind::Codex,
            prompt: "fix it".into(),
            title: Some("fix".into()),
            cwd: "/src".into(),
            options: AgentOptions {
                model: Some("m".into()),
                env: vec![("TOKEN".into(), "secret".into())],
                ..AgentOptions::default()
            },
            limits: Limits {
                idle_timeout_ms: Some(5),
                wall_timeout_ms: None,
            },
            profile: Some("codex".into()),
            budget: Budget {
                max_turns: Some(3),
                ..Budget::default()
            },
            worktree: true,
        };
        let line = serde_json::to_string(&WireSpec::of(&spec)).unwrap();
        let wire: WireSpec = serde_json::from_str(&line).unwrap();
        assert_eq!(wire.to_spec().unwrap(), spec);
        let bad = WireSpec {
            agent: "nope".into(),
            ..wire.clone()
        };
        assert!(bad.to_spec().unwrap_err().contains("`nope`"));
        let relative = WireSpec {
            cwd: "src".into(),
            ..wire
        };
        assert!(relative.to_spec().is_err());
    }

    #[test]
    fn review_ops_read_as_the_readme_documents_them() {
        use crate::worktree::types::MergeStrategy;
        let line = |op: ReviewOp| {
            serde_json::to_value(ClientMessage {
                seq: 3,
                request: Request::Review {
                    id: "ab12cd34".into(),
                    op,
                },
            })
            .unwrap()
        };
        assert_eq!(
            line(ReviewOp::Refresh),
            serde_json::json!({"type": "review", "seq": 3, "id": "ab12cd34", "op": "Refresh"})
        );
        assert_eq!(
            line(ReviewOp::Commit { message: None })["op"],
            serde_json::json!({"Commit": {"message": null}})
        );
        assert_eq!(
            line(ReviewOp::Merge {
                strategy: MergeStrategy::FastForwardOrMerge,
                message: None
            })["op"],
            serde_json::json!({"Merge": {"strategy": "FastForwardOrMerge", "message": null}})
        );
        assert_eq!(line(ReviewOp::ListUnmerged)["op"], "ListUnmerged");
        let report = ReviewReport {
            task: 4,
            op: ReviewOp::Refresh,
            result: Err("no worktree".into()),
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({"task": 4, "op": "Refresh", "result": {"Err": "no worktree"}})
        );
    }

    #[test]
    fn the_mismatch_line_names_both_versions_and_the_way_out() {
        let line = mismatch_message("0.3.0", 9);
        assert!(line.starts_with("server is 0.3.0 (protocol 9), this corral is "));
        assert!(line.ends_with("run `corral server restart`"));
    }
}
