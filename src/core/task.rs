//! Tasks: one agent run the user asked for, its status and what it produced.
//!
//! Pure data and the status transition table; `update` is the only writer.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::event::{Question, Usage};
use super::transcript::Transcript;
use super::{ExitInfo, Limit, Limits, TaskId};
use crate::agent::openai::ChatMessage;
use crate::agent::{AgentKind, AgentOptions};

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
        }
    }

    /// True once the task can no longer change by itself.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Killed | TaskStatus::TimedOut
        )
    }

    /// The transition table: may a task go from `self` to `to`?
    ///
    /// A finished task may start again (a follow-up or a retry) but never
    /// jumps straight to another final status.
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
            (Succeeded | Failed | Killed | TimedOut, Queued | Running) => true,
            _ => false,
        }
    }
}

/// What the user asked to run.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    pub agent: AgentKind,
    pub prompt: String,
    /// A name for the task list; the prompt's first line when absent.
    pub title: Option<String>,
    pub cwd: PathBuf,
    pub options: AgentOptions,
    pub limits: Limits,
}

/// Why corral asked for a kill, so the finish can say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillReason {
    /// The user pressed the kill key or Ctrl-C.
    User,
    /// A limit ran out.
    Limit(Limit),
}

/// One agent run and everything known about it.
#[derive(Debug, Clone)]
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
    /// The conversation as it streamed, a bounded window.
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
    /// The conversation corral keeps for agents whose history is its own
    /// (the OpenAI kind): system, user and assistant messages.
    pub conversation: Vec<ChatMessage>,
    /// When the agent last wrote anything (ms since the epoch).
    pub last_output_ms: Option<u64>,
    /// Rate-limit retries used by the current run.
    pub retries: u32,
    /// While cooling down after a rate limit: when the retry starts.
    pub retry_at_ms: Option<u64>,
}

/// How the agent judged its last turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub is_error: bool,
    pub result: Option<String>,
    pub api_error_status: Option<u16>,
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
        for a in [Succeeded, Failed, Killed, TimedOut] {
            for b in [Succeeded, Failed, Killed, TimedOut] {
                assert!(!a.can_become(b), "{a:?} -> {b:?}");
            }
            assert!(a.can_become(Running), "{a:?} can take a follow-up");
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
