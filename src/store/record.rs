//! The stored form of a task (`task.json`) and its conversion to and from
//! the core's [`Task`].
//!
//! Pure data: no IO. Secrets never reach a record: options pass through a
//! [`Redactor`] on the way in; on the way back, redacted values are filled
//! from the caller (the environment or the config), or dropped.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::proc::ProcessId;
use crate::agent::{AgentKind, AgentOptions};
use crate::core::event::{Question, Usage};
use crate::core::task::{Budget, Task, TaskSpec, TaskStatus, TurnOutcome};
use crate::core::{ExitInfo, Limits};
use crate::logging::{REDACTED, Redactor, is_secret_name, redact_args};
use crate::worktree::Worktree;

/// The record format version written by this build.
pub const RECORD_VERSION: u32 = 1;

/// The most of a prompt a summary keeps (its first line).
pub const SUMMARY_PROMPT: usize = 200;

/// A question the agent asked and, once given, its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionEntry {
    pub question: Question,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerEntry>,
}

/// How a question was answered (from the `answered` event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerEntry {
    /// `allow`, `deny` or `answer`.
    pub decision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<(String, String)>,
    /// `user` or `policy`.
    pub by: String,
}

/// The limits a task runs under, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_input_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_output_per_mtok: Option<f64>,
}

/// Everything stored about one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub version: u32,
    /// Short unique id (8 hex digits), the task's directory name.
    pub id: String,
    pub title: String,
    pub prompt: String,
    /// The config profile, when one was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The agent kind (`claude`, `codex`, ...).
    pub agent: String,
    pub cwd: PathBuf,
    /// The agent options, secrets redacted (a summary leaves them out).
    #[serde(default)]
    pub options: AgentOptions,
    #[serde(default)]
    pub limits: StoredLimits,
    pub status: TaskStatus,
    pub created_ms: u64,
    #[serde(default)]
    pub started_ms: Option<u64>,
    #[serde(default)]
    pub finished_ms: Option<u64>,
    pub updated_ms: u64,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    /// Every question asked, with its answer once given.
    #[serde(default)]
    pub questions: Vec<QuestionEntry>,
    /// The question the task waits on.
    #[serde(default)]
    pub pending_question: Option<Question>,
    #[serde(default)]
    pub exit: Option<ExitInfo>,
    /// Why it failed, was killed or timed out.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The agent's final answer of the last turn.
    #[serde(default)]
    pub result: Option<String>,
    /// How many runs were started (run N writes `events-N.jsonl`).
    #[serde(default)]
    pub runs: u32,
    #[serde(default)]
    pub archived: bool,
    /// The corral process that runs (or ran) it.
    #[serde(default)]
    pub owner: Option<ProcessId>,
    /// The agent's process group (pgid == the leader's pid) of the current run.
    #[serde(default)]
    pub agent_group: Option<ProcessId>,
    /// The task runs in a git worktree of its own (`cwd` is the repository
    /// it is created from).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_worktree: bool,
    /// The task's worktree, once created (until discarded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<Worktree>,
    /// Not stored: whether the task's ownership lock was held when the
    /// store listed it (see `Store::list`); `None` when not checked.
    #[serde(skip)]
    pub owner_seen_live: Option<bool>,
}

impl TaskRecord {
    /// The status a reader should show: an unfinished task whose owning
    /// corral is gone is `interrupted`. The owner's lock decides when the
    /// store checked it; otherwise the recorded owner pid does.
    pub fn effective_status(&self) -> TaskStatus {
        // A finished task's owner is not looked for (a look into /proc).
        let live = || match self.owner_seen_live {
            Some(live) => live,
            None => self.owner.as_ref().is_some_and(ProcessId::is_alive),
        };
        if self.status.is_final() || live() {
            self.status
        } else {
            TaskStatus::Interrupted
        }
    }

    /// Total tokens used.
    pub fn tokens(&self) -> u64 {
        self.usage.total_tokens()
    }

    /// This record's times, read on a clock `offset_ms` ahead of this
    /// machine's (another host's), moved onto this machine's clock.
    pub fn onto_this_clock(&mut self, offset_ms: i64) {
        let shift = |ms: u64| ms.saturating_add_signed(-offset_ms);
        self.created_ms = shift(self.created_ms);
        self.updated_ms = shift(self.updated_ms);
        self.started_ms = self.started_ms.map(shift);
        self.finished_ms = self.finished_ms.map(shift);
    }

    /// Milliseconds it ran (until `now_ms` while running; until the last
    /// write of its corral when that corral is gone).
    pub fn duration_ms(&self, now_ms: u64) -> Option<u64> {
        let start = self.started_ms?;
        let end = match self.finished_ms {
            Some(end) => end,
            None if self.effective_status() == TaskStatus::Interrupted => self.updated_ms,
            None => now_ms,
        };
        Some(end.saturating_sub(start))
    }

    /// This record made small for a list (a server's welcome): the
    /// prompt's first line only (at most [`SUMMARY_PROMPT`] characters),
    /// no agent options, questions or result. What a row shows (status,
    /// title, agent, times, usage, the waiting question, the worktree)
    /// stays.
    pub fn summary(&self) -> TaskRecord {
        TaskRecord {
            version: self.version,
            id: self.id.clone(),
            title: self.title.clone(),
            prompt: self.summary_prompt().to_string(),
            profile: self.profile.clone(),
            agent: self.agent.clone(),
            cwd: self.cwd.clone(),
            options: AgentOptions::default(),
            limits: self.limits,
            status: self.status,
            created_ms: self.created_ms,
            started_ms: self.started_ms,
            finished_ms: self.finished_ms,
            updated_ms: self.updated_ms,
            session_id: self.session_id.clone(),
            model: self.model.clone(),
            usage: self.usage.clone(),
            questions: Vec::new(),
            pending_question: self.pending_question.clone(),
            exit: self.exit.clone(),
            finish_reason: self.finish_reason.clone(),
            result: None,
            runs: self.runs,
            archived: self.archived,
            owner: self.owner.clone(),
            agent_group: self.agent_group.clone(),
            use_worktree: self.use_worktree,
            worktree: self.worktree.clone(),
            owner_seen_live: self.owner_seen_live,
        }
    }

    /// What a summary keeps of the prompt: its first line, at most
    /// [`SUMMARY_PROMPT`] characters.
    pub fn summary_prompt(&self) -> &str {
        let first = self
            .prompt
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        match first.char_indices().nth(SUMMARY_PROMPT) {
            Some((end, _)) => &first[..end],
            None => first,
        }
    }

    /// The core task for this record (for a restarted front end), with
    /// redacted environment values filled by `fill(name)` or dropped.
    /// `None` when this build has no adapter for the record's agent kind.
    pub fn to_task(
        &self,
        transcript_cap: usize,
        fill: impl Fn(&str) -> Option<String>,
    ) -> Option<Task> {
        let agent = AgentKind::from_name(&self.agent)?;
        let mut options = self.options.clone();
        options.env = options
            .env
            .into_iter()
            .filter_map(|(k, v)| {
                if v.contains(REDACTED) {
                    fill(&k).map(|v| (k, v))
                } else {
                    Some((k, v))
                }
            })
            .collect();
        let spec = TaskSpec {
            agent,
            prompt: self.prompt.clone(),
            title: Some(self.title.clone()),
            cwd: self.cwd.clone(),
            options,
            limits: Limits {
                idle_timeout_ms: self.limits.idle_timeout_ms,
                wall_timeout_ms: self.limits.wall_timeout_ms,
            },
            profile: self.profile.clone(),
            budget: Budget {
                max_cost_usd: self.limits.max_cost_usd,
                max_turns: self.limits.max_turns,
                price_input_per_mtok: self.limits.price_input_per_mtok,
                price_output_per_mtok: self.limits.price_output_per_mtok,
            },
            worktree: self.use_worktree || self.worktree.is_some(),
        };
        let mut task = Task::new(0, spec, transcript_cap);
        task.status = self.effective_status();
        task.started_ms = self.started_ms;
        task.finished_ms = self.finished_ms;
        task.session_id = self.session_id.clone();
        task.model = self.model.clone();
        task.usage = self.usage.clone();
        task.pending_question = self.pending_question.clone();
        task.exit = self.exit.clone();
        task.finish_reason = self.finish_reason.clone();
        task.archived = self.archived;
        task.runs = self.runs;
        task.short_id = Some(self.id.clone());
        task.worktree = self.worktree.clone();
        task.last_turn = self.result.as_ref().map(|r| TurnOutcome {
            is_error: false,
            result: Some(r.clone()),
            api_error_status: None,
            terminal_reason: None,
            api_error_type: None,
        });
        Some(task)
    }
}

/// What the store knows about a task beyond the core's [`Task`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMeta {
    pub id: String,
    pub created_ms: u64,
    pub questions: Vec<QuestionEntry>,
    pub owner: Option<ProcessId>,
}

/// What is secret for task `t`: `base` (corral's own environment) and the
/// task's `--env` secrets, URL passwords and secret-looking agent arguments.
/// The store writes its record, events and raw output through it.
pub fn task_redactor(t: &Task, base: &Redactor) -> Redactor {
    let options = &t.spec.options;
    let overrides: Vec<(String, String)> = options
        .config_overrides
        .iter()
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    base.with_extra(&options.env)
        .with_extra(&overrides)
        .with_args(&options.extra_args)
}

/// The record of core task `t`.
pub fn record_of(t: &Task, meta: &RecordMeta, now_ms: u64, redactor: &Redactor) -> TaskRecord {
    let mut options = t.spec.options.clone();
    let redactor = &task_redactor(t, redactor);
    options.env = redactor.env(&options.env);
    options.extra_args = redact_args(&options.extra_args)
        .iter()
        .map(|a| redactor.text(a))
        .collect();
    options.config_overrides = options
        .config_overrides
        .iter()
        .map(|a| match a.split_once('=') {
            Some((key, _)) if is_secret_name(key) => format!("{key}={REDACTED}"),
            _ => redactor.text(a),
        })
        .collect();
    options.append_system_prompt = options.append_system_prompt.map(|p| redactor.text(&p));
    let b = t.spec.budget;
    TaskRecord {
        version: RECORD_VERSION,
        id: meta.id.clone(),
        title: redactor.text(&t.title()),
        prompt: redactor.text(&t.spec.prompt),
        profile: t.spec.profile.clone(),
        agent: t.spec.agent.name().to_string(),
        cwd: t.spec.cwd.clone(),
        options,
        limits: StoredLimits {
            idle_timeout_ms: t.spec.limits.idle_timeout_ms,
            wall_timeout_ms: t.spec.limits.wall_timeout_ms,
            max_cost_usd: b.max_cost_usd,
            max_turns: b.max_turns,
            price_input_per_mtok: b.price_input_per_mtok,
            price_output_per_mtok: b.price_output_per_mtok,
        },
        status: t.status,
        created_ms: meta.created_ms,
        started_ms: t.started_ms,
        finished_ms: t.finished_ms,
        updated_ms: now_ms,
        session_id: t.session_id.clone(),
        model: t.model.clone(),
        usage: t.usage.clone(),
        questions: meta.questions.clone(),
        pending_question: t.pending_question.clone(),
        exit: t.exit.clone(),
        finish_reason: t.finish_reason.clone(),
        result: t
            .last_turn
            .as_ref()
            .and_then(|l| l.result.as_deref())
            .map(|r| redactor.text(r)),
        runs: t.runs,
        archived: t.archived,
        owner: meta.owner.clone(),
        agent_group: None,
        use_worktree: t.spec.worktree,
        worktree: t.worktree.clone(),
        owner_seen_live: None,
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn the_title_is_redacted_like_the_prompt() {
        let secret = "sk-title-secret-987654";
        let env_secret = "pw-from-env-flag-123";
        let spec = TaskSpec {
            agent: AgentKind::Claude,
            prompt: format!("use {secret} to deploy, db {env_secret}"),
            title: None,
            cwd: ".".into(),
            options: AgentOptions {
                env: vec![("DB_PASS".into(), env_secret.into())],
                extra_args: vec![format!("--db={env_secret}")],
                ..AgentOptions::default()
            },
            limits: Limits {
                idle_timeout_ms: None,
                wall_timeout_ms: None,
            },
            profile: None,
            budget: Budget::default(),
            worktree: false,
        };
        let task = Task::new(1, spec, 100);
        assert!(task.title().contains(secret));
        let meta = RecordMeta {
            id: "abcd1234".into(),
            created_ms: 1,
            questions: Vec::new(),
            owner: None,
        };
        let redactor = Redactor::from_env(&[("DEPLOY_TOKEN".into(), secret.into())]);
        let record = record_of(&task, &meta, 2, &redactor);
        assert!(!record.title.contains(secret), "{}", record.title);
        assert!(record.title.contains(REDACTED));
        assert!(!record.prompt.contains(secret));
        let stored = serde_json::to_string(&record).unwrap();
        assert!(!stored.contains(env_secret), "{stored}");
    }
}
