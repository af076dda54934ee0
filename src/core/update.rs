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
use super::{Command, Effect, Event, ExitInfo, Limit, TaskId, TimerKind};
use crate::agent::claude::Claude;
use crate::agent::openai::{self, ChatMessage};
use crate::agent::{AgentKind, Answer, LiveProtocol, StdinMode};

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

/// The message that resumes a session after a rate-limit pause.
pub const CONTINUE_MESSAGE: &str = "Your previous attempt was interrupted by a rate limit \
     or an overloaded API. Continue the task where you left off.";

/// Behaviour chosen by the front end.
#[derive(Debug, Clone)]
pub struct Settings {
    pub approval: ApprovalPolicy,
    /// Close the agent's stdin after its first turn ends (headless runs end
    /// there; the TUI keeps the session open for follow-ups).
    pub end_after_turn: bool,
    /// Entries kept in memory per task transcript.
    pub transcript_cap: usize,
    /// Retries after rate limits and overloads.
    pub retry: RetryPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approval: ApprovalPolicy::Ask,
            end_after_turn: false,
            transcript_cap: super::transcript::DEFAULT_TRANSCRIPT_CAP,
            retry: RetryPolicy::default(),
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

    /// Whether a task of `agent` waits out a rate limit at `now_ms`: a
    /// queue should not start more tasks of that agent meanwhile.
    pub fn cooling_down(&self, agent: AgentKind, now_ms: u64) -> bool {
        self.tasks.iter().any(|t| {
            t.spec.agent == agent
                && t.status == TaskStatus::Queued
                && t.retry_at_ms.is_some_and(|at| at > now_ms)
        })
    }
}

/// Applies one event at time `now_ms` and returns what the runtime must do.
pub fn update(state: &mut State, now_ms: u64, event: Event) -> Vec<Effect> {
    match event {
        Event::Command(cmd) => command(state, now_ms, cmd),
        Event::Output { task, .. } => {
            if let Some(t) = state.task_mut(task) {
                t.last_output_ms = Some(now_ms);
            }
            vec![]
        }
        Event::TimerFired { task, kind } => match kind {
            TimerKind::Retry { attempt } => retry_now(state, task, attempt, now_ms),
        },
        Event::Agent { task, event } => {
            if let Some(t) = state.task_mut(task) {
                t.last_output_ms = Some(now_ms);
            }
            agent_event(state, task, event)
        }
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
            if let Some(effects) = schedule_retry(state, task, now_ms, &exit) {
                return effects;
            }
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
        Command::Launch(spec) => launch(state, now_ms, *spec),
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
        Command::SendMessage { task, text } => send_message(state, now_ms, task, text),
        Command::Input { task, bytes } => match state.task(task) {
            Some(t) if t.spec.agent == AgentKind::Command && !t.status.is_final() => {
                vec![Effect::WriteInput { task, bytes }]
            }
            _ => vec![],
        },
        Command::Resize { task, rows, cols } => match state.task(task) {
            Some(t) if t.spec.agent.is_process() && !t.status.is_final() => {
                vec![Effect::Resize { task, rows, cols }]
            }
            _ => vec![],
        },
    }
}

/// The effect that starts (or restarts) `t`'s agent with `prompt`, resuming
/// `resume` when given; records whether its stdin stays open.
fn start_effect(t: &mut Task, prompt: &str, resume: Option<String>) -> Effect {
    if t.spec.agent == AgentKind::OpenAi {
        t.stdin_open = false;
        return Effect::Chat {
            task: t.id,
            request: Box::new(openai::request(&t.spec.options, &t.conversation)),
            limits: t.spec.limits,
        };
    }
    let mut options = t.spec.options.clone();
    if resume.is_some() {
        options.session_id = None;
        options.resume = resume;
    }
    let launch = t.spec.agent.launch_spec(&options, &t.spec.cwd, prompt);
    t.stdin_open = matches!(launch.stdin, StdinMode::Pipe { .. });
    Effect::Spawn {
        task: t.id,
        agent: t.spec.agent,
        limits: t.spec.limits,
        spec: launch,
    }
}

/// Puts a task that ended (or waits for a retry) back to work.
fn reset_for_run(t: &mut Task) {
    t.status = TaskStatus::Running;
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.exit = None;
    t.pending_question = None;
    t.recent_errors.clear();
    t.recent_raw.clear();
    t.retry_at_ms = None;
}

/// A follow-up message from the user (`Command::SendMessage`).
fn send_message(state: &mut State, now_ms: u64, task: TaskId, text: String) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let running = !t.status.is_final();
    match t.spec.agent {
        AgentKind::Command if running => {
            let mut bytes = text.into_bytes();
            bytes.push(b'\r');
            return vec![Effect::WriteInput { task, bytes }];
        }
        AgentKind::Claude if running && t.stdin_open => {
            return vec![Effect::WriteStdin {
                task,
                line: Claude::encode_user_message(&text),
            }];
        }
        _ if running => {
            let message = match t.status {
                TaskStatus::Queued => "the task has not started yet; send the message once it runs",
                _ => {
                    "the agent is still working; send the message when it is done, or kill it first"
                }
            };
            publish_error(state, task, message.into());
            return vec![];
        }
        _ => {}
    }
    let resume = match t.spec.agent {
        AgentKind::OpenAi => {
            if t.conversation.is_empty() {
                t.conversation = openai::conversation_start(&t.spec.options, &t.spec.prompt);
            }
            t.conversation.push(ChatMessage::new("user", &text));
            None
        }
        AgentKind::Command => None,
        _ => match t.session_id.clone() {
            Some(id) => Some(id),
            None => {
                publish_error(
                    state,
                    task,
                    "the agent reported no session to continue; start a new task instead".into(),
                );
                return vec![];
            }
        },
    };
    reset_for_run(t);
    t.retries = 0;
    t.started_ms = Some(now_ms);
    let prompt = if t.spec.agent == AgentKind::Command {
        String::new()
    } else {
        text
    };
    vec![start_effect(t, &prompt, resume)]
}

/// Whether a failed run ended on a rate limit or an overload: the HTTP
/// status (if known) and the agent's words.
fn rate_limit_reason(t: &Task) -> Option<(Option<u16>, String)> {
    if let Some(turn) = &t.last_turn
        && let Some(status @ (429 | 529)) = turn.api_error_status
    {
        let why = turn
            .result
            .clone()
            .or_else(|| t.recent_errors.last().cloned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Some((Some(status), why));
    }
    let texts = t
        .last_turn
        .iter()
        .filter_map(|turn| turn.result.as_ref())
        .chain(t.recent_errors.iter().rev());
    for text in texts {
        if is_rate_limit_text(text) {
            let status = if text.contains("529") {
                Some(529)
            } else if text.contains("429") {
                Some(429)
            } else {
                None
            };
            return Some((status, text.clone()));
        }
    }
    None
}

/// Whether an agent's error text says it was rate limited or overloaded
/// (claude, codex and gemini word it differently).
pub fn is_rate_limit_text(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "429",
        "529",
        "rate limit",
        "rate_limit",
        "ratelimit",
        "too many requests",
        "resource_exhausted",
        "overloaded",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// On `Exited`: when the run failed on a rate limit and retries are left,
/// the task waits (`Queued`) for a timer instead of finishing.
fn schedule_retry(
    state: &mut State,
    task: TaskId,
    now_ms: u64,
    exit: &ExitInfo,
) -> Option<Vec<Effect>> {
    let policy = state.settings.retry.clone();
    let t = state.task_mut(task)?;
    // The OpenAI kind retries inside its request (honouring Retry-After);
    // a command has no notion of a rate limit.
    if t.status.is_final()
        || t.kill_reason.is_some()
        || matches!(t.spec.agent, AgentKind::OpenAi | AgentKind::Command)
        || judge(t, Some(exit)).0 != TaskStatus::Failed
    {
        return None;
    }
    let (status, why) = rate_limit_reason(t)?;
    let attempt = t.retries + 1;
    if attempt > policy.max_attempts {
        return None;
    }
    let delay = policy.delay_ms(attempt);
    t.retries = attempt;
    t.status = TaskStatus::Queued;
    t.retry_at_ms = Some(now_ms + delay);
    t.exit = Some(exit.clone());
    t.stdin_open = false;
    t.pending_question = None;
    let event = AgentEvent::Retry {
        attempt,
        max_attempts: Some(policy.max_attempts),
        delay_ms: Some(delay),
        status,
        reason: format!("rate limited, retrying in {} ({why})", seconds(Some(delay))),
    };
    t.transcript.push(event.clone());
    state.published.push((task, event));
    Some(vec![Effect::Timer {
        task,
        after_ms: delay,
        kind: TimerKind::Retry { attempt },
    }])
}

/// The retry timer ran out: start the agent again, resuming its session
/// with a "continue" message where it has one.
fn retry_now(state: &mut State, task: TaskId, attempt: u32, now_ms: u64) -> Vec<Effect> {
    let _ = now_ms;
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if t.status != TaskStatus::Queued || t.retries != attempt || t.retry_at_ms.is_none() {
        return vec![]; // killed meanwhile, or a stale timer
    }
    reset_for_run(t);
    let resume = t.session_id.clone();
    let prompt = if resume.is_some() {
        CONTINUE_MESSAGE.to_string()
    } else {
        t.spec.prompt.clone()
    };
    vec![start_effect(t, &prompt, resume)]
}

fn launch(state: &mut State, now_ms: u64, spec: TaskSpec) -> Vec<Effect> {
    let id = state.next_task_id();
    state.next_id = id + 1;
    let conversation = if spec.agent == AgentKind::OpenAi {
        openai::conversation_start(&spec.options, &spec.prompt)
    } else {
        Vec::new()
    };
    let prompt = spec.prompt.clone();
    let mut task = Task {
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
        stdin_open: false,
        conversation,
        last_output_ms: None,
        retries: 0,
        retry_at_ms: None,
    };
    let effect = start_effect(&mut task, &prompt, None);
    state.tasks.push(task);
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
            if t.spec.agent == AgentKind::OpenAi
                && !*is_error
                && let Some(answer) = result
            {
                t.conversation
                    .push(ChatMessage::new("assistant", answer.as_str()));
            }
            if end_after_turn && t.stdin_open {
                t.stdin_open = false;
                effects.push(Effect::CloseStdin { task });
            }
        }
        AgentEvent::Question(q) if policy == ApprovalPolicy::Ask => {
            t.pending_question = Some(q.clone());
            if t.status.can_become(TaskStatus::Blocked) {
                t.status = TaskStatus::Blocked;
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
    let (status, mut reason) = judge(t, exit.as_ref());
    if status == TaskStatus::Failed && t.retries > 0 {
        reason = reason.map(|r| format!("{r} (gave up after {} retries)", t.retries));
    }
    t.status = status;
    t.retry_at_ms = None;
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
    if t.spec.agent == AgentKind::Command {
        // A program has no turns: its exit code is the verdict.
        return match (exit.code, &exit.signal) {
            (Some(0), _) | (None, None) => (TaskStatus::Succeeded, None),
            (Some(code), _) => (
                TaskStatus::Failed,
                Some(format!("the command exited with code {code}")),
            ),
            (None, Some(sig)) => (
                TaskStatus::Failed,
                Some(format!("the command was ended by {sig}")),
            ),
        };
    }
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

#[cfg(test)]
#[path = "update_retry_tests.rs"]
mod retry_tests;
