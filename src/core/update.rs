//! `update`: the one function that changes corral's state.
//!
//! Takes a fact or a user intent, changes [`State`], and returns the
//! [`Effect`]s for the runtime. Events meant for front ends (everything an
//! agent said, plus what corral decided: answers, the finish) are queued in
//! `State::published` for the front end to drain. Pure: the time comes in
//! as an argument.

use super::event::{AgentEvent, FinishStatus, Finished, Question, QuestionKind};
use super::task::{KillReason, Task, TaskSpec, TaskStatus, TurnOutcome};
use super::transcript::Transcript;
use super::{Command, Effect, Event, ExitInfo, Limit, TaskId};
use crate::agent::Answer;

/// How many recent raw lines and errors a task keeps to explain a failure.
const RECENT_LINES: usize = 8;

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approval: ApprovalPolicy::Ask,
            end_after_turn: false,
            transcript_cap: super::transcript::DEFAULT_TRANSCRIPT_CAP,
        }
    }
}

/// Everything corral knows.
#[derive(Debug, Default)]
pub struct State {
    pub tasks: Vec<Task>,
    pub settings: Settings,
    next_id: TaskId,
    /// Events for front ends since they last drained them.
    pub published: Vec<(TaskId, AgentEvent)>,
}

impl State {
    /// A state with no tasks.
    pub fn new(settings: Settings) -> State {
        State {
            tasks: Vec::new(),
            settings,
            next_id: 1,
            published: Vec::new(),
        }
    }

    /// The task with this id.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    fn task_mut(&mut self, id: TaskId) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// Takes the events published since the last call.
    pub fn drain_published(&mut self) -> Vec<(TaskId, AgentEvent)> {
        std::mem::take(&mut self.published)
    }

    /// The id the next launched task will get.
    pub fn next_task_id(&self) -> TaskId {
        self.next_id.max(1)
    }
}

/// Applies one event at time `now_ms` and returns what the runtime must do.
pub fn update(state: &mut State, now_ms: u64, event: Event) -> Vec<Effect> {
    match event {
        Event::Command(cmd) => command(state, now_ms, cmd),
        Event::Output { .. } => vec![],
        Event::Agent { task, event } => agent_event(state, task, event),
        Event::SpawnFailed { task, message } => {
            if let Some(t) = state.task_mut(task) {
                t.recent_errors.push(message.clone());
                let ev = AgentEvent::Error { message };
                t.transcript.push(ev.clone());
                state.published.push((task, ev));
            }
            finish(state, task, now_ms, None);
            vec![]
        }
        Event::Exited { task, exit } => {
            finish(state, task, now_ms, Some(exit));
            vec![]
        }
        Event::LimitReached { task, limit } => match state.task_mut(task) {
            Some(t) if !t.status.is_final() && t.kill_reason.is_none() => {
                t.kill_reason = Some(KillReason::Limit(limit));
                vec![Effect::Kill { task }]
            }
            _ => vec![],
        },
        Event::KillDone { task, survivors } => {
            if survivors > 0 {
                publish_error(
                    state,
                    task,
                    format!("{survivors} process(es) of the agent's group survived SIGKILL"),
                );
            }
            vec![]
        }
    }
}

fn command(state: &mut State, now_ms: u64, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Launch(spec) => launch(state, now_ms, spec),
        Command::Kill { task } => {
            let Some(t) = state.task_mut(task) else {
                return vec![];
            };
            match t.status {
                TaskStatus::Queued => {
                    t.kill_reason = Some(KillReason::User);
                    finish(state, task, now_ms, None);
                    vec![]
                }
                TaskStatus::Running | TaskStatus::Blocked => {
                    if t.kill_reason.is_none() {
                        t.kill_reason = Some(KillReason::User);
                    }
                    vec![Effect::Kill { task }]
                }
                _ => vec![],
            }
        }
        Command::Answer { task, answer } => answer_question(state, task, answer, "user"),
    }
}

fn launch(state: &mut State, now_ms: u64, spec: TaskSpec) -> Vec<Effect> {
    let id = state.next_task_id();
    state.next_id = id + 1;
    let launch = spec
        .agent
        .launch_spec(&spec.options, &spec.cwd, &spec.prompt);
    let stdin_open = matches!(launch.stdin, crate::agent::StdinMode::Pipe { .. });
    let effect = Effect::Spawn {
        task: id,
        agent: spec.agent,
        limits: spec.limits,
        spec: launch,
    };
    state.tasks.push(Task {
        id,
        spec,
        status: TaskStatus::Running,
        started_ms: Some(now_ms),
        finished_ms: None,
        session_id: None,
        model: None,
        usage: Default::default(),
        pending_question: None,
        transcript: Transcript::with_cap(state.settings.transcript_cap),
        kill_reason: None,
        last_turn: None,
        recent_raw: Vec::new(),
        recent_errors: Vec::new(),
        exit: None,
        stdin_open,
    });
    vec![effect]
}

fn push_recent(list: &mut Vec<String>, line: String) {
    if list.len() == RECENT_LINES {
        list.remove(0);
    }
    list.push(line);
}

fn agent_event(state: &mut State, task: TaskId, event: AgentEvent) -> Vec<Effect> {
    let policy = state.settings.approval;
    let end_after_turn = state.settings.end_after_turn;
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let mut effects = Vec::new();
    match &event {
        AgentEvent::Session {
            session_id, model, ..
        } => {
            t.session_id = Some(session_id.clone());
            if model.is_some() {
                t.model = model.clone();
            }
        }
        AgentEvent::Usage(u) => t.usage.add(u),
        AgentEvent::Raw { line } => push_recent(&mut t.recent_raw, line.clone()),
        AgentEvent::Error { message } => push_recent(&mut t.recent_errors, message.clone()),
        AgentEvent::TurnEnd {
            is_error,
            result,
            api_error_status,
            ..
        } => {
            t.last_turn = Some(TurnOutcome {
                is_error: *is_error,
                result: result.clone(),
                api_error_status: *api_error_status,
            });
            if end_after_turn && t.stdin_open {
                t.stdin_open = false;
                effects.push(Effect::CloseStdin { task });
            }
        }
        AgentEvent::Question(q) => {
            if policy == ApprovalPolicy::Ask {
                t.pending_question = Some(q.clone());
                if t.status.can_become(TaskStatus::Blocked) {
                    t.status = TaskStatus::Blocked;
                }
            }
        }
        _ => {}
    }
    t.transcript.push(event.clone());
    let question = match &event {
        AgentEvent::Question(q) if policy != ApprovalPolicy::Ask => Some(q.clone()),
        _ => None,
    };
    state.published.push((task, event));
    if let Some(q) = question {
        let answer = policy_answer(policy, &q);
        effects.extend(answer_with(state, task, &q, answer, "policy"));
    }
    effects
}

/// What an approval policy answers when no person is asked.
fn policy_answer(policy: ApprovalPolicy, q: &Question) -> Answer {
    match (policy, q.kind) {
        (ApprovalPolicy::Allow, QuestionKind::Approval) => Answer::Allow {
            updated_input: None,
        },
        (_, QuestionKind::Question) => Answer::Deny {
            message: "No user is available to answer questions in this run; \
                      continue with your best judgement."
                .into(),
        },
        _ => Answer::Deny {
            message: "Denied by corral's approval policy (--approve deny): \
                      no user is present to approve this tool."
                .into(),
        },
    }
}

fn answer_question(state: &mut State, task: TaskId, answer: Answer, by: &str) -> Vec<Effect> {
    let Some(q) = state.task(task).and_then(|t| t.pending_question.clone()) else {
        return vec![];
    };
    if let Some(t) = state.task_mut(task) {
        t.pending_question = None;
        if t.status == TaskStatus::Blocked {
            t.status = TaskStatus::Running;
        }
    }
    answer_with(state, task, &q, answer, by)
}

fn answer_with(
    state: &mut State,
    task: TaskId,
    q: &Question,
    answer: Answer,
    by: &str,
) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let Some(line) = t.spec.agent.encode_answer(q, &answer) else {
        return vec![];
    };
    let (decision, message, answers) = match &answer {
        Answer::Allow { .. } => ("allow", None, vec![]),
        Answer::Deny { message } => ("deny", Some(message.clone()), vec![]),
        Answer::Answer { answers } => ("answer", None, answers.clone()),
    };
    let ev = AgentEvent::Answered {
        id: q.id.clone(),
        decision: decision.into(),
        message,
        answers,
        by: by.into(),
    };
    t.transcript.push(ev.clone());
    state.published.push((task, ev));
    vec![Effect::WriteStdin { task, line }]
}

fn publish_error(state: &mut State, task: TaskId, message: String) {
    if let Some(t) = state.task_mut(task) {
        let ev = AgentEvent::Error { message };
        t.transcript.push(ev.clone());
        state.published.push((task, ev));
    }
}

/// Decides how the run ended, records it and publishes `finished`.
fn finish(state: &mut State, task: TaskId, now_ms: u64, exit: Option<ExitInfo>) {
    let Some(t) = state.task_mut(task) else {
        return;
    };
    if t.status.is_final() {
        return;
    }
    let (status, reason) = judge(t, exit.as_ref());
    t.status = status;
    t.finished_ms = Some(now_ms);
    t.pending_question = None;
    t.stdin_open = false;
    t.exit = exit.clone();
    let finished = AgentEvent::Finished(Finished {
        status: match status {
            TaskStatus::Succeeded => FinishStatus::Succeeded,
            TaskStatus::Killed => FinishStatus::Killed,
            TaskStatus::TimedOut => FinishStatus::TimedOut,
            _ => FinishStatus::Failed,
        },
        exit_code: exit.as_ref().and_then(|e| e.code),
        signal: exit.as_ref().and_then(|e| e.signal.clone()),
        reason,
        result: t.last_turn.as_ref().and_then(|l| l.result.clone()),
        session_id: t.session_id.clone(),
        duration_ms: t.elapsed_ms(now_ms),
        usage: t.usage.clone(),
    });
    t.transcript.push(finished.clone());
    state.published.push((task, finished));
}

fn seconds(ms: Option<u64>) -> String {
    match ms {
        Some(ms) if ms % 1000 == 0 => format!("{}s", ms / 1000),
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        None => "?".into(),
    }
}

/// The final status and, unless it succeeded, the reason in words.
fn judge(t: &Task, exit: Option<&ExitInfo>) -> (TaskStatus, Option<String>) {
    match t.kill_reason {
        Some(KillReason::User) => return (TaskStatus::Killed, Some("killed by the user".into())),
        Some(KillReason::Limit(Limit::Idle)) => {
            return (
                TaskStatus::TimedOut,
                Some(format!(
                    "no output for {} (idle timeout)",
                    seconds(t.spec.limits.idle_timeout_ms)
                )),
            );
        }
        Some(KillReason::Limit(Limit::Wall)) => {
            return (
                TaskStatus::TimedOut,
                Some(format!(
                    "still running after {} (timeout)",
                    seconds(t.spec.limits.wall_timeout_ms)
                )),
            );
        }
        None => {}
    }
    let Some(exit) = exit else {
        // Never started: the spawn failure is the reason.
        let why = t
            .recent_errors
            .last()
            .cloned()
            .unwrap_or_else(|| "the agent could not be started".into());
        return (TaskStatus::Failed, Some(why));
    };
    let context = || {
        t.recent_errors
            .last()
            .or(t.recent_raw.last())
            .map(|l| format!(": {l}"))
            .unwrap_or_default()
    };
    match &t.last_turn {
        Some(turn) if turn.is_error => {
            let why = turn
                .result
                .clone()
                .or_else(|| t.recent_errors.last().cloned())
                .unwrap_or_else(|| "the agent reported an error".into());
            (TaskStatus::Failed, Some(why))
        }
        Some(_) => match (exit.code, &exit.signal) {
            (Some(0), _) => (TaskStatus::Succeeded, None),
            (Some(code), _) => (
                TaskStatus::Failed,
                Some(format!("the agent exited with code {code}{}", context())),
            ),
            (None, Some(sig)) => (
                TaskStatus::Failed,
                Some(format!("the agent was ended by {sig}")),
            ),
            (None, None) => (TaskStatus::Succeeded, None),
        },
        None => {
            let how = match (exit.code, &exit.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(sig)) => format!("ended by {sig}"),
                (None, None) => "no exit status".into(),
            };
            (
                TaskStatus::Failed,
                Some(format!(
                    "the agent exited without a result ({how}){}",
                    context()
                )),
            )
        }
    }
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
