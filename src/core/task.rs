//! Tasks: one agent run the user asked for, its status and what it produced.
//!
//! Pure data and the status transition table; `update` is the only writer.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::event::{Question, Usage};
use super::transcript::Transcript;
use super::{ExitInfo, Limit, Limits, TaskId};
use crate::agent::openai::ChatMessage;
use crate::agent::{AgentKind, AgentOptions, Wire};
use crate::worktree::types::Worktree;

/// Output within this many milliseconds makes a task look busy.
pub const BUSY_WINDOW_MS: u64 = 2_000;

/// Whether an agent whose last output was at `last_output_ms` looks busy at
/// `now_ms`: it wrote something within [`BUSY_WINDOW_MS`]. This is how
/// corral tells busy from idle for a program with no structured protocol.
pub fn is_busy(last_output_ms: Option<u64>, now_ms: u64) -> bool {
    last_output_ms.is_some_and(|at| now_ms.saturating_sub(at) < BUSY_WINDOW_MS)
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for its turn to start.
    Queued,
    /// The agent is working.
    Running,
    /// The agent waits for the user (a question or a tool approval).
    Blocked,
    Succeeded,
    Failed,
    Killed,
    TimedOut,
    /// The corral that ran it is gone (crash, `kill -9`, reboot); it can be
    /// resumed from the agent's session.
    Interrupted,
}

impl TaskStatus {
    /// The name shown to users and written in JSON.
    pub fn name(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Killed => "killed",
            TaskStatus::TimedOut => "timed_out",
            TaskStatus::Interrupted => "interrupted",
        }
    }

    /// True once the task can no longer change by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded
                | TaskStatus::Failed
                | TaskStatus::Killed
                | TaskStatus::TimedOut
                | TaskStatus::Interrupted
        )
    }

    /// True while an agent process runs (or is being started) for it.
    pub fn is_active(self) -> bool {
        matches!(self, TaskStatus::Running | TaskStatus::Blocked)
    }

    /// Parses a status from its [`TaskStatus::name`].
    pub fn from_name(name: &str) -> Option<TaskStatus> {
        use TaskStatus::*;
        [
            Queued,
            Running,
            Blocked,
            Succeeded,
            Failed,
            Killed,
            TimedOut,
            Interrupted,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// The transition table: may a task go from `self` to `to`?
    ///
    /// A finished task may start again (a follow-up, a retry or a resume)
    /// but never jumps straight to another final status. Any unfinished
    /// task becomes `Interrupted` when its corral is found gone.
    pub fn can_become(self, to: TaskStatus) -> bool {
        use TaskStatus::*;
        match (self, to) {
            (a, b) if a == b => false,
            (Queued, Running | Killed | Failed) => true,
            (Running, Blocked) => true,
            // A rate-limited run waits for its retry.
            (Running | Blocked, Queued) => true,
            (Blocked, Running) => true,
            (Running | Blocked, Succeeded | Failed | Killed | TimedOut) => true,
            (Queued | Running | Blocked, Interrupted) => true,
            (Succeeded | Failed | Killed | TimedOut | Interrupted, Queued | Running) => true,
            _ => false,
        }
    }
}

/// What the user asked to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub agent: AgentKind,
    pub prompt: String,
    /// A name for the task list; the prompt's first line when absent.
    pub title: Option<String>,
    pub cwd: PathBuf,
    pub options: AgentOptions,
    pub limits: Limits,
    /// The config profile it was launched with (`None`: named by kind).
    pub profile: Option<String>,
    /// Cost and turn limits, enforced by `update`.
    pub budget: Budget,
    /// Run in a git worktree of its own (created on first start under
    /// `Settings::worktree_root`, on a new branch `corral/<id>-<slug>`);
    /// `cwd` is then the repository it is created from.
    pub worktree: bool,
}

impl TaskSpec {
    /// The protocol corral speaks with this task's agent.
    pub fn wire(&self) -> Wire {
        self.agent.wire(&self.options)
    }
}

/// How much a worktree task has changed against its base, as last polled
/// (for the task row: `3 files +40 -7`, see [`crate::present::change_count`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCount {
    /// Changed files (added, modified, deleted, renamed, untracked).
    pub files: usize,
    /// Lines added over all text files.
    pub added: u64,
    /// Lines deleted over all text files.
    pub deleted: u64,
}

/// What the agent's whole process tree costs the machine, as last sampled
/// (the runtime reads `/proc` once a second while a cockpit watches, see
/// [`crate::core::Command::WatchCosts`]): for the task row and pane header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcCost {
    /// CPU over the last sample interval, in percent of one core (a tree
    /// busy on two cores shows 200).
    pub cpu_percent: u32,
    /// Resident memory of every process of the tree, in KiB.
    pub rss_kib: u64,
    /// Live processes in the tree, the agent included.
    pub processes: u32,
}

/// Per-run cost and turn limits, and the price used when the agent reports
/// no cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// Kill the run once it has spent more than this.
    pub max_cost_usd: Option<f64>,
    /// Kill the run once it has taken more than this many turns (as the
    /// agent counts them at the end of each turn).
    pub max_turns: Option<u32>,
    /// USD per million input tokens, for agents that report no cost.
    pub price_input_per_mtok: Option<f64>,
    /// USD per million output tokens.
    pub price_output_per_mtok: Option<f64>,
}

/// How the next run of a task starts (set by a retry or a resume).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The message the run starts with.
    pub prompt: String,
    /// The agent session to resume, if any.
    pub resume: Option<String>,
}

/// Why corral asked for a kill, so the finish can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KillReason {
    /// The user pressed the kill key or Ctrl-C.
    User,
    /// A limit ran out.
    Limit(Limit),
}

impl Task {
    /// A task that has not run yet, for `spec`.
    pub fn new(id: TaskId, spec: TaskSpec, transcript_cap: usize) -> Task {
        Task {
            id,
            spec,
            status: TaskStatus::Queued,
            started_ms: None,
            finished_ms: None,
            session_id: None,
            model: None,
            usage: Usage::default(),
            pending_question: None,
            transcript: Transcript::with_cap(transcript_cap),
            kill_reason: None,
            last_turn: None,
            recent_raw: Vec::new(),
            recent_errors: Vec::new(),
            exit: None,
            stdin_open: false,
            finish_reason: None,
            archived: false,
            process_alive: false,
            runs: 0,
            allow_rules: Vec::new(),
            fallback_prompt: None,
            run_usage: Usage::default(),
            run_turns: 0,
            cost: None,
            queue_seq: 0,
            next_run: None,
            conversation: Vec::new(),
            last_output_ms: None,
            retries: 0,
            retry_at_ms: None,
            attempts_started_ms: None,
            short_id: None,
            worktree: None,
            worktree_pending: false,
            changes: None,
            transcript_stored: None,
            host: None,
            live: LiveTurns::default(),
            plan: Vec::new(),
            idle_close_at_ms: None,
            session_closed: None,
        }
    }
}

/// What the core keeps for a live protocol that needs it (ACP): the prompt
/// waiting for the agent's session, a counter for request ids, and a
/// denial's message waiting for the turn to end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveTurns {
    /// Sent as the first turn when the agent announces its session.
    pub first_prompt: Option<String>,
    /// Turns sent so far in this process (request ids).
    pub sent: u64,
    /// Sent as the next message when the current turn ends.
    pub after_turn: Option<String>,
    /// The running turn, where the protocol names turns (codex).
    pub turn_id: Option<String>,
}

/// One agent run and everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub spec: TaskSpec,
    pub status: TaskStatus,
    /// When the agent was started (ms since the epoch).
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Running totals over the whole task.
    pub usage: Usage,
    /// The question the agent waits on, if blocked.
    pub pending_question: Option<Question>,
    /// The conversation as it streamed, a bounded window. Not serialised:
    /// a task on the wire (the server's headers) travels without it, its
    /// events follow separately.
    #[serde(skip)]
    pub transcript: Transcript,
    /// Set when corral asked for a kill.
    pub kill_reason: Option<KillReason>,
    /// The last turn's outcome, from the agent's own report.
    pub last_turn: Option<TurnOutcome>,
    /// The last few raw output lines, to explain a failure.
    pub recent_raw: Vec<String>,
    /// The last error messages the agent reported.
    pub recent_errors: Vec<String>,
    pub exit: Option<ExitInfo>,
    /// Whether the agent's stdin is still open for more messages.
    pub stdin_open: bool,
    /// Why it failed, was killed or timed out (from the last finish).
    pub finish_reason: Option<String>,
    /// Hidden from lists (finished tasks only).
    pub archived: bool,
    /// Usage of the current run only (the limits apply per run).
    pub run_usage: Usage,
    /// Turns of the current run, as the agent reported them.
    pub run_turns: u32,
    /// Position in the queue: lower starts first.
    pub queue_seq: u64,
    /// Set by a retry or a resume; used by the next start.
    pub next_run: Option<RunPlan>,
    /// Whether an agent process of this task is running now.
    pub process_alive: bool,
    /// How many times an agent process was started for this task.
    pub runs: u32,
    /// Tools (for Bash: `Bash:<command>`) the user allowed for the rest of
    /// the task.
    pub allow_rules: Vec<String>,
    /// Per-process state of a live protocol (ACP).
    pub live: LiveTurns,
    /// The prompt to start afresh with if the current resume fails.
    pub fallback_prompt: Option<String>,
    /// The conversation corral keeps for agents whose history is its own
    /// (the OpenAI kind): system, user and assistant messages.
    #[serde(skip)]
    pub conversation: Vec<ChatMessage>,
    /// When the agent last wrote anything (ms since the epoch).
    pub last_output_ms: Option<u64>,
    /// Rate-limit retries used by the current run.
    pub retries: u32,
    /// While cooling down after a rate limit: when the retry starts.
    pub retry_at_ms: Option<u64>,
    /// When the current run's first attempt started: the wall timeout
    /// counts from here across rate-limit retries.
    pub attempts_started_ms: Option<u64>,
    /// The task store's id for it, once the store knows it (it names the
    /// task's worktree branch).
    pub short_id: Option<String>,
    /// The task's own git worktree, once created: every run of the task
    /// works there (its `cwd` stays the repository it came from).
    pub worktree: Option<Worktree>,
    /// Its worktree is being created; the agent starts when it is ready.
    pub worktree_pending: bool,
    /// The worktree's changes against its base, as last polled.
    pub changes: Option<ChangeCount>,
    /// The agent's current plan (the last `plan` event), empty when none.
    pub plan: Vec<crate::core::event::PlanItem>,
    /// The run whose events are in the store and not read yet (a task
    /// brought back after a restart): a front end reads them when the task
    /// is opened ([`crate::core::Command::LoadTranscript`]), so a start with
    /// thousands of stored tasks reads none. In a mirror (the cockpit as
    /// a client): the server's transcript was not fetched yet (the welcome
    /// carries none); opening the task asks for it.
    pub transcript_stored: Option<u32>,
    /// The process tree's CPU, memory and process count while the agent
    /// runs and a cockpit watches; `None` once it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<ProcCost>,
    /// The host whose corral server runs it, in a mirror (the cockpit as a
    /// client; `local` for this machine's). `None` in the corral that runs
    /// it. Never on the wire: each server's tasks are its own.
    #[serde(skip)]
    pub host: Option<String>,
    /// While a live session idles after its turn: when it is closed (ms
    /// since the epoch) unless something happens first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_close_at_ms: Option<u64>,
    /// The live session of the finished task was closed (idle, or by the
    /// user); the next follow-up resumes it from the session id and says
    /// why it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_closed: Option<SessionClosed>,
}

/// Why the live session of a finished task was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionClosed {
    /// It was idle this long (ms).
    Idle { after_ms: u64 },
    /// The user stopped it: a kill of the finished task, quitting with
    /// `Q`, or `corral server stop`.
    ByUser,
}

/// How the agent judged its last turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnOutcome {
    pub is_error: bool,
    pub result: Option<String>,
    pub api_error_status: Option<u16>,
    /// Why the agent stopped and the kind of API error, in its words.
    pub terminal_reason: Option<String>,
    pub api_error_type: Option<String>,
}

impl Task {
    /// The title shown in lists: the given name or the prompt's first line.
    pub fn title(&self) -> String {
        match &self.spec.title {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => self
                .spec
                .prompt
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("(empty prompt)")
                .to_string(),
        }
    }

    /// Whether the agent looks busy: running and wrote output recently.
    pub fn is_busy(&self, now_ms: u64) -> bool {
        self.status == TaskStatus::Running && is_busy(self.last_output_ms, now_ms)
    }

    /// Milliseconds the agent has run (until now while running).
    pub fn elapsed_ms(&self, now_ms: u64) -> u64 {
        match (self.started_ms, self.finished_ms) {
            (Some(s), Some(f)) => f.saturating_sub(s),
            (Some(s), None) => now_ms.saturating_sub(s),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;

    #[test]
    fn final_statuses_do_not_jump_to_each_other() {
        for a in [Succeeded, Failed, Killed, TimedOut, Interrupted] {
            for b in [Succeeded, Failed, Killed, TimedOut, Interrupted] {
                assert!(!a.can_become(b), "{a:?} -> {b:?}");
            }
            assert!(a.can_become(Running), "{a:?} can take a follow-up");
        }
    }

    #[test]
    fn unfinished_tasks_can_be_interrupted_and_interrupted_ones_resumed() {
        for a in [Queued, Running, Blocked] {
            assert!(a.can_become(Interrupted), "{a:?}");
        }
        for a in [Succeeded, Failed, Killed, TimedOut] {
            assert!(!a.can_become(Interrupted), "{a:?}");
        }
        assert!(Interrupted.can_become(Queued));
        assert!(Interrupted.can_become(Running));
        assert!(!Interrupted.can_become(Failed));
        assert!(Interrupted.is_final());
    }

    #[test]
    fn names_round_trip() {
        for s in [
            Queued,
            Running,
            Blocked,
            Succeeded,
            Failed,
            Killed,
            TimedOut,
            Interrupted,
        ] {
            assert_eq!(super::TaskStatus::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn busy_means_output_within_the_window() {
        use super::{BUSY_WINDOW_MS, is_busy};
        assert!(!is_busy(None, 10_000));
        assert!(is_busy(Some(10_000), 10_000));
        assert!(is_busy(Some(10_000), 10_000 + BUSY_WINDOW_MS - 1));
        assert!(!is_busy(Some(10_000), 10_000 + BUSY_WINDOW_MS));
        assert!(
            is_busy(Some(10_000), 9_000),
            "a clock step back is not idle"
        );
    }

    #[test]
    fn blocked_is_only_reached_from_running() {
        assert!(Running.can_become(Blocked));
        assert!(!Queued.can_become(Blocked));
        assert!(!Succeeded.can_become(Blocked));
        assert!(Blocked.can_become(Running));
        assert!(Blocked.can_become(Killed));
    }
}
