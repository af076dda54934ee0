//! corral's state and what one step of `update` produces.
//!
//! [`State`] is every task and the front end's settings; only `update`
//! (in `update.rs` and its child modules) changes it: everything else gets
//! `&State`. [`Step`] is the whole result of one `update`: the effects for
//! the runtime, the events to publish, the tasks deleted and the answers to
//! review commands. `State` holds no outbox: what a step publishes lives
//! in the [`Stepper`] of that one step and leaves with its `Step`.
//!
//! Pure: no IO, no clock.

use std::path::PathBuf;

use super::event::AgentEvent;
use super::task::{Task, TaskStatus};
use super::{Effect, TaskId};
use crate::agent::AgentKind;

/// Everything one call of `update` produced.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    /// What the runtime must do, in order.
    pub effects: Vec<Effect>,
    /// Events for front ends and the store (everything an agent said, plus
    /// what corral decided: answers, the finish), in order.
    pub published: Vec<(TaskId, AgentEvent)>,
    /// Tasks that [`super::Command::Delete`] removed (the store deletes
    /// their files).
    pub deleted: Vec<TaskId>,
    /// Answers to [`super::Command::Review`] for the front end that asked.
    pub reviews: Vec<super::review::ReviewReport>,
}

/// The part of a [`Step`] that accumulates while `update` runs (the
/// effects are returned by the functions themselves).
#[derive(Debug, Default)]
pub(super) struct Outbox {
    pub(super) published: Vec<(TaskId, AgentEvent)>,
    pub(super) deleted: Vec<TaskId>,
    pub(super) reviews: Vec<super::review::ReviewReport>,
}

/// One step of `update` in progress: the state it changes and the outbox
/// it fills, which `update` turns into the [`Step`] it returns. It lives
/// for that one call; reading `State` through it is plain deref.
pub(super) struct Stepper<'a> {
    pub(super) state: &'a mut State,
    pub(super) out: Outbox,
}

impl<'a> Stepper<'a> {
    /// A step over `state` that has produced nothing yet.
    pub(super) fn new(state: &'a mut State) -> Stepper<'a> {
        Stepper {
            state,
            out: Outbox::default(),
        }
    }

    /// The step's result, with `effects` for the runtime.
    pub(super) fn finish(self, effects: Vec<Effect>) -> Step {
        Step {
            effects,
            published: self.out.published,
            deleted: self.out.deleted,
            reviews: self.out.reviews,
        }
    }
}

impl std::ops::Deref for Stepper<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        self.state
    }
}

impl std::ops::DerefMut for Stepper<'_> {
    fn deref_mut(&mut self) -> &mut State {
        self.state
    }
}

/// How a task that ended on a rate limit or an overload is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries per run (0 turns retrying off).
    pub max_attempts: u32,
    /// The wait before retry 1, 2, ...; the last one repeats.
    pub delays_ms: Vec<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            delays_ms: vec![5_000, 10_000, 20_000],
        }
    }
}

impl RetryPolicy {
    /// The wait before retry `attempt` (counting from 1).
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let index = (attempt.max(1) - 1) as usize;
        self.delays_ms
            .get(index)
            .or(self.delays_ms.last())
            .copied()
            .unwrap_or(5_000)
    }
}

/// Who answers questions when no person is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalPolicy {
    /// Block the task until the user answers.
    Ask,
    /// Allow every tool; questions are declined (nobody can answer them).
    Allow,
    /// Deny every tool and decline every question.
    Deny,
}

/// Behaviour chosen by the front end.
#[derive(Debug, Clone)]
pub struct Settings {
    pub approval: ApprovalPolicy,
    /// Close the agent's stdin after its first turn ends (headless runs end
    /// there; the TUI keeps the session open for follow-ups).
    pub end_after_turn: bool,
    /// Entries kept in memory per task transcript.
    pub transcript_cap: usize,
    /// Where agents without a live channel write their questions; `None`
    /// turns the question-file protocol off.
    pub question_dir: Option<PathBuf>,
    /// Tasks running at once over all agents (`None`: no limit).
    pub concurrency: Option<usize>,
    /// Tasks running at once per agent kind.
    pub per_agent_concurrency: Vec<(AgentKind, usize)>,
    /// Retries after rate limits and overloads.
    pub retry: RetryPolicy,
    /// Where worktree tasks get their worktrees; `None` makes a worktree
    /// task fail with a message (the front end offers no place for them).
    pub worktree_root: Option<PathBuf>,
    /// A shell command run in every new worktree (for example `npm ci`).
    pub worktree_setup: Option<String>,
    /// A live session (claude, codex app-server, ACP) idle this long after
    /// its turn ended is closed; the next follow-up resumes it from its
    /// session id. `None`: sessions stay open until the task is killed.
    pub idle_close_ms: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approval: ApprovalPolicy::Ask,
            end_after_turn: false,
            transcript_cap: super::transcript::DEFAULT_TRANSCRIPT_CAP,
            question_dir: None,
            concurrency: None,
            per_agent_concurrency: Vec::new(),
            retry: RetryPolicy::default(),
            worktree_root: None,
            worktree_setup: None,
            idle_close_ms: None,
        }
    }
}

/// How a mirror's link to one corral server is (the cockpit over several
/// hosts shows it as a row when it is not live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStatus {
    /// Not connected yet (ssh is on its way).
    Connecting,
    /// Connected: its tasks are live.
    Live,
    /// Lost or never reached; the message says why in ssh's (or that
    /// corral's) words. `retry_in_ms`: when the next attempt is made.
    Down {
        message: String,
        retry_in_ms: Option<u64>,
    },
}

/// One server a mirror follows and how its link is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLink {
    pub name: String,
    pub status: LinkStatus,
    /// Its server's clock minus this one's (ms), as last measured: its
    /// tasks' times are moved by it onto this clock.
    pub clock_offset_ms: i64,
}

/// Everything corral knows.
#[derive(Debug, Default)]
pub struct State {
    pub tasks: Vec<Task>,
    pub settings: Settings,
    /// The servers a mirror follows, in the order they were first heard
    /// of (empty in the corral that runs the agents).
    pub hosts: Vec<HostLink>,
    /// A mirror's own id of each (host, server id) it shows.
    pub(super) mirror_ids: std::collections::HashMap<(Option<String>, TaskId), TaskId>,
    next_id: TaskId,
    next_seq: u64,
}

impl State {
    /// A state with no tasks.
    pub fn new(settings: Settings) -> State {
        State {
            tasks: Vec::new(),
            settings,
            hosts: Vec::new(),
            mirror_ids: Default::default(),
            next_id: 1,
            next_seq: 1,
        }
    }

    /// The task with this id.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(self.position(id)?)
    }

    pub(super) fn task_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        let at = self.position(id)?;
        self.tasks.get_mut(at)
    }

    /// Where task `id` is in the list. Ids only grow and tasks are only
    /// appended or removed, so the list is sorted by id and a lookup stays
    /// cheap with thousands stored; a list built out of order (tests) is
    /// still searched whole.
    fn position(&self, id: TaskId) -> Option<usize> {
        match self.tasks.binary_search_by_key(&id, |t| t.id) {
            Ok(at) => Some(at),
            Err(_) => self.tasks.iter().position(|t| t.id == id),
        }
    }

    /// The id the next launched task will get.
    pub fn next_task_id(&self) -> TaskId {
        self.next_id.max(1)
    }

    pub(super) fn take_id(&mut self) -> TaskId {
        let id = self.next_task_id();
        self.next_id = id + 1;
        id
    }

    pub(super) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq.max(1);
        self.next_seq = seq + 1;
        seq
    }

    /// Adds a task known from elsewhere (the store, after a restart) under a
    /// new id and returns that id. An unfinished status is made
    /// `Interrupted`: no agent of this corral runs it.
    pub(super) fn adopt(&mut self, mut task: Task) -> TaskId {
        let id = self.take_id();
        task.id = id;
        if !task.status.is_final() {
            task.status = TaskStatus::Interrupted;
        }
        task.stdin_open = false;
        task.process_alive = false;
        task.cost = None;
        task.next_run = None;
        task.worktree_pending = false;
        task.idle_close_at_ms = None;
        self.tasks.push(task);
        id
    }

    /// Queued tasks in the order they will start.
    pub fn queue(&self) -> Vec<TaskId> {
        let mut queued: Vec<&Task> = self
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Queued)
            .collect();
        queued.sort_by_key(|t| t.queue_seq);
        queued.into_iter().map(|t| t.id).collect()
    }

    /// How many tasks are at work (of `kind`, or of any kind). A live
    /// session idling after its turn, waiting for a follow-up, holds no
    /// slot: it spends nothing until the user writes again.
    pub fn active_count(&self, kind: Option<AgentKind>) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.status.is_active())
            .filter(|t| kind.is_none_or(|k| t.spec.agent == k))
            .count()
    }

    /// Whether a task of `agent` waits out a rate limit at `now_ms`: the
    /// queue starts no other task of that agent meanwhile.
    pub fn cooling_down(&self, agent: AgentKind, now_ms: u64) -> bool {
        self.tasks.iter().any(|t| {
            t.spec.agent == agent
                && t.status == TaskStatus::Queued
                && t.retry_at_ms.is_some_and(|at| at > now_ms)
        })
    }

    pub(super) fn has_slot(&self, kind: AgentKind) -> bool {
        if self
            .settings
            .concurrency
            .is_some_and(|max| self.active_count(None) >= max)
        {
            return false;
        }
        let per_kind = self
            .settings
            .per_agent_concurrency
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, max)| *max);
        per_kind.is_none_or(|max| self.active_count(Some(kind)) < max)
    }
}
