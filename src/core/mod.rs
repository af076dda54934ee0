//! The pure core: state, facts (`Event`), user intents (`Command`), things to
//! do (`Effect`), and `update`, which turns one into the others.
//!
//! Never does IO, never reads the clock, never touches the terminal: time
//! arrives inside events, so every transition is a plain, repeatable test.

pub mod event;
pub mod review;
mod state;
pub mod task;
#[cfg(test)]
pub(crate) mod test_step;
pub mod transcript;
mod update;

pub use state::{ApprovalPolicy, HostLink, LinkStatus, RetryPolicy, Settings, State, Step};
pub use update::update;

use serde::{Deserialize, Serialize};

use crate::agent::openai::ChatRequest;
use crate::agent::{AgentKind, Answer, LaunchSpec};
use crate::worktree::types as worktree;
use event::AgentEvent;

/// Identifies a task for the lifetime of a corral process.
pub type TaskId = u64;

/// How an agent process ended, as the OS reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal name (`SIGKILL`), when a signal ended it.
    pub signal: Option<String>,
    /// Processes the agent started that had left its process group (a
    /// `setsid` daemon, a double fork, a `setpgid` grandchild) and that
    /// corral signalled to end them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub killed_outside_group: u64,
}

impl ExitInfo {
    /// [`ExitInfo::killed_outside_group`], `None` when there were none.
    pub fn killed_outside(&self) -> Option<u64> {
        (self.killed_outside_group > 0).then_some(self.killed_outside_group)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Which limit ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// No output for the idle timeout.
    Idle,
    /// The wall-clock timeout.
    Wall,
    /// The run spent more than its maximum cost.
    Cost,
    /// The run took more than its maximum number of turns.
    Turns,
}

/// Timeouts the runtime enforces for one agent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub idle_timeout_ms: Option<u64>,
    pub wall_timeout_ms: Option<u64>,
}

/// A fact from the outside world, delivered to `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The agent of `task` produced a canonical event.
    Agent { task: TaskId, event: AgentEvent },
    /// Canonical events of `task`'s agent, in the order it produced them
    /// (what one read of its output held): applied in one step, so a
    /// stream costs per read what one event costs, not per line.
    Agents {
        task: TaskId,
        events: Vec<AgentEvent>,
    },
    /// The agent process could not be started.
    SpawnFailed { task: TaskId, message: String },
    /// The agent process exited and its output is fully read.
    Exited { task: TaskId, exit: ExitInfo },
    /// A limit of `task` ran out; the runtime has not killed anything yet.
    LimitReached { task: TaskId, limit: Limit },
    /// The kill ladder finished; `survivors` processes of the group were
    /// still there after SIGKILL (0 is the expected answer).
    KillDone { task: TaskId, survivors: usize },
    /// Raw bytes the agent wrote to its terminal, in order, for front ends
    /// that show the terminal itself (the TUI's raw view). `update` ignores
    /// it: the parsed lines arrive as `Agent` events.
    Output { task: TaskId, bytes: Vec<u8> },
    /// A timer set with `Effect::Timer` ran out.
    TimerFired { task: TaskId, kind: TimerKind },
    /// The worktree asked for with [`Effect::CreateWorktree`] was created,
    /// or could not be (the error in words).
    WorktreeReady {
        task: TaskId,
        result: Result<Box<worktree::Created>, String>,
    },
    /// The latest change counts of a worktree task (polled while its agent
    /// runs, see [`Effect::WatchWorktree`]).
    WorktreeChanges {
        task: TaskId,
        files: usize,
        added: u64,
        deleted: u64,
    },
    /// One sample of what the live agents' process trees cost (see
    /// [`Effect::WatchCosts`]): every live task the runtime could read.
    ProcCosts(Vec<(TaskId, task::ProcCost)>),
    /// A review op asked for with [`Effect::Review`] finished (the error in
    /// words).
    Reviewed {
        task: TaskId,
        op: review::ReviewOp,
        result: Result<review::ReviewOutcome, String>,
    },
    /// The user (or a front end) wants something.
    Command(Command),
    /// What a corral server says changed, for a front end whose state
    /// mirrors the server's (the cockpit as a client): see [`Mirror`].
    Mirror(Box<Mirror>),
}

/// A batch of a corral server's changes, applied to a mirror by `update`
/// (so `update` stays the only writer of the mirror's state too). Task ids
/// are the server's; a mirror of several servers (hosts) gives each task
/// an id of its own (the server's when no other host's task has it), so
/// the tasks of every host live in one list. A mirror step never has
/// effects and starts nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mirror {
    /// Which server this batch is from (`None`: the only one).
    pub host: Option<String>,
    /// How the link to that server is now, when it changed.
    pub link: Option<LinkStatus>,
    /// A fresh snapshot of that server: every task of it not in `tasks` is
    /// gone (other hosts' tasks stay).
    pub reset: bool,
    /// Tasks as the server has them now, without transcripts (a known task
    /// keeps the transcript the mirror built from the events).
    pub tasks: Vec<task::Task>,
    /// Events published since, in order: appended to the transcripts and
    /// published again by the mirror's step.
    pub events: Vec<(TaskId, AgentEvent)>,
    /// Tasks deleted on the server.
    pub deleted: Vec<TaskId>,
    /// Whole transcripts of tasks this mirror opened (their entries, and
    /// how many earlier ones the server dropped): each replaces what the
    /// mirror has of that task's (the events it followed since it
    /// attached are in it), so the task counts as read.
    pub transcripts: Vec<(TaskId, Vec<AgentEvent>, u64)>,
    /// Answers to review ops.
    pub reviews: Vec<review::ReviewReport>,
    /// The server's clock minus this one's (ms), measured when its welcome
    /// arrived: the times of that host's tasks, in this batch and every
    /// later one, are moved onto this clock (hosts' clocks may differ).
    pub clock_offset_ms: Option<i64>,
}

/// What a user can ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a new task. `store_id` is the id the store will know it by
    /// (made by the front end without IO, see `crate::store::new_task_id`);
    /// it names the task's worktree. `None`: not stored, named `t<id>`.
    Launch {
        spec: Box<task::TaskSpec>,
        store_id: Option<String>,
    },
    /// Add a task known from elsewhere (the store, after a restart) under a
    /// new id; an unfinished one becomes `interrupted`.
    Adopt { task: Box<task::Task> },
    /// The stored events of an adopted task's last run, read when it was
    /// opened: they go in front of its transcript.
    LoadTranscript {
        task: TaskId,
        events: Vec<event::AgentEvent>,
    },
    /// Kill a task's agent and every process it started.
    Kill { task: TaskId },
    /// Answer the pending question of a task.
    Answer { task: TaskId, answer: Answer },
    /// Run a finished task again from its original prompt, as a new
    /// session (queued like a launch).
    Retry { task: TaskId },
    /// Continue a finished (typically interrupted) task: resume the agent's
    /// session with `message` (a default "continue" message when `None`),
    /// or start over with the original prompt when there is no session.
    Resume {
        task: TaskId,
        message: Option<String>,
    },
    /// Hide (or show again) a finished task in lists.
    Archive { task: TaskId, archived: bool },
    /// Forget a finished task (the store deletes its files).
    Delete { task: TaskId },
    /// Allow the pending tool approval, and every later request for the
    /// same tool (for Bash: the same command) for the rest of the task.
    AllowAlways { task: TaskId },
    /// Send the user's next message: live over stdin where the agent keeps
    /// its session open, otherwise by resuming the session.
    FollowUp { task: TaskId, text: String },
    /// Keystrokes for an interactive command's terminal, as bytes.
    Input { task: TaskId, bytes: Vec<u8> },
    /// The task's terminal changed size.
    Resize { task: TaskId, rows: u16, cols: u16 },
    /// A front end that draws the cost of process trees starts (`on`) or
    /// stops watching: the runtime samples them only while one watches.
    WatchCosts { on: bool },
    /// Review a worktree task's work (diff, commit, merge, discard). The
    /// answer comes back in [`Step::reviews`]: refused at once (the agent
    /// is busy, there is no worktree) or after the runtime ran it.
    Review { task: TaskId, op: review::ReviewOp },
}

impl Command {
    /// A launch of `spec` without a store id.
    pub fn launch(spec: task::TaskSpec) -> Command {
        Command::Launch {
            spec: Box::new(spec),
            store_id: None,
        }
    }
}

/// What a timer is for; it comes back in `Event::TimerFired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    /// Start retry number `attempt` of a task that hit a rate limit.
    Retry { attempt: u32 },
    /// A live session idle since its turn ended may be closed now: the
    /// deadline (ms since the epoch) it was armed with, so a timer of an
    /// earlier arming is known stale.
    IdleClose { at_ms: u64 },
    /// A session closed (stdin closed: idle, or by the user) is still
    /// running after a grace: run `run` of the task gets the kill ladder.
    ClosedKill { run: u32 },
}

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start an agent process for `task`.
    Spawn {
        task: TaskId,
        /// Chooses the output parser, with `wire`.
        agent: AgentKind,
        /// The protocol spoken with it.
        wire: crate::agent::Wire,
        spec: LaunchSpec,
        limits: Limits,
    },
    /// Write one line (a `\n` is appended) to the agent's stdin.
    WriteStdin { task: TaskId, line: String },
    /// Close the agent's stdin (end of conversation).
    CloseStdin { task: TaskId },
    /// Run the kill ladder on the agent's process group (for an HTTP
    /// agent: abort its request at once).
    Kill { task: TaskId },
    /// Send a chat completions request for `task` (the OpenAI kind) and
    /// stream its answer; reports like a process: `Agent` events,
    /// `LimitReached`, `KillDone`, and `Exited` last.
    Chat {
        task: TaskId,
        request: Box<ChatRequest>,
        limits: Limits,
    },
    /// Write bytes to the terminal of an agent whose stdin is the terminal.
    WriteInput { task: TaskId, bytes: Vec<u8> },
    /// Resize the agent's terminal.
    Resize { task: TaskId, rows: u16, cols: u16 },
    /// Send `Event::TimerFired { task, kind }` after `after_ms`.
    Timer {
        task: TaskId,
        after_ms: u64,
        kind: TimerKind,
    },
    /// Create the task's git worktree (off the UI thread) and report
    /// `Event::WorktreeReady`.
    CreateWorktree {
        task: TaskId,
        request: worktree::WorktreeRequest,
    },
    /// Poll the worktree's change counts while the task's agent (just
    /// spawned) runs, reporting `Event::WorktreeChanges`; one last poll
    /// after it exits.
    WatchWorktree {
        task: TaskId,
        worktree: worktree::Worktree,
    },
    /// Run a review op on the task's worktree (off the UI thread, one op at
    /// a time) and report `Event::Reviewed`. Commit and merge messages are
    /// filled in.
    Review {
        task: TaskId,
        worktree: worktree::Worktree,
        op: review::ReviewOp,
    },
    /// Sample the process trees of the live agents once a second and
    /// report `Event::ProcCosts` (`on`), or stop. The sampler sleeps while
    /// no agent is alive: nothing polls then.
    WatchCosts { on: bool },
}
