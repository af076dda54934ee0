//! `update`: the one function that changes corral's state.
//!
//! Takes a fact or a user intent, changes [`State`], and returns the
//! [`Effect`]s for the runtime. Events meant for front ends (everything an
//! agent said, plus what corral decided: answers, the finish) are queued in
//! `State::published` for the front end to drain. Pure: the time comes in
//! as an argument.

use std::path::PathBuf;

use super::event::{AgentEvent, FinishStatus, Finished, Question, QuestionKind};
use super::task::{KillReason, Task, TaskSpec, TaskStatus, TurnOutcome};
use super::transcript::Transcript;
use super::{Command, Effect, Event, ExitInfo, Limit, TaskId};
use crate::agent::{Answer, StdinMode, question_file};

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
    /// Where agents without a live channel write their questions; `None`
    /// turns the question-file protocol off.
    pub question_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            approval: ApprovalPolicy::Ask,
            end_after_turn: false,
            transcript_cap: super::transcript::DEFAULT_TRANSCRIPT_CAP,
            question_dir: None,
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
        Event::Agent { task, event } => agent_event(state, now_ms, task, event),
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
        Event::Exited { task, exit } => exited(state, task, now_ms, exit),
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
        Command::Answer { task, answer } => answer_question(state, now_ms, task, answer, "user"),
        Command::AllowAlways { task } => {
            let Some(t) = state.task_mut(task) else {
                return vec![];
            };
            match &t.pending_question {
                Some(q) if q.kind == QuestionKind::Approval => {
                    let rule = allow_rule(q);
                    if !t.allow_rules.contains(&rule) {
                        t.allow_rules.push(rule);
                    }
                    let allow = Answer::Allow {
                        updated_input: None,
                    };
                    answer_question(state, now_ms, task, allow, "user")
                }
                _ => vec![],
            }
        }
        Command::FollowUp { task, text } => follow_up(state, now_ms, task, text),
    }
}

/// The rule "allow always" remembers: the tool, and for shell commands the
/// exact command, so allowing `npm test` does not allow `rm -rf`.
fn allow_rule(q: &Question) -> String {
    let tool = q.tool.clone().unwrap_or_default();
    match q.input.get("command").and_then(|c| c.as_str()) {
        Some(command) if tool == "Bash" => format!("{tool}:{command}"),
        _ => tool,
    }
}

/// Sends the user's next message to a task's agent.
fn follow_up(state: &mut State, now_ms: u64, task: TaskId, text: String) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if text.trim().is_empty() || t.status == TaskStatus::Queued {
        return vec![];
    }
    if t.process_alive && t.stdin_open && t.pending_question.is_none() {
        if let Some(line) = t.spec.agent.encode_user_message(&text) {
            if t.status.is_final() {
                t.status = TaskStatus::Running;
                t.finished_ms = None;
                t.kill_reason = None;
            }
            publish(state, task, AgentEvent::UserMessage { text });
            return vec![Effect::WriteStdin { task, line }];
        }
    }
    if t.process_alive {
        // A turn is still going on a channel that takes no messages.
        return vec![];
    }
    relaunch(state, now_ms, task, text)
}

/// Starts a new agent process for `task` with `message`: resuming the
/// session when there is one (keeping a fresh start as the fallback),
/// otherwise afresh with the original prompt plus the message.
fn relaunch(state: &mut State, now_ms: u64, task: TaskId, message: String) -> Vec<Effect> {
    let question_dir = state.settings.question_dir.clone();
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let fresh_prompt = format!("{}\n\n{}", t.spec.prompt, message);
    let mut options = t.spec.options.clone();
    options.session_id = None;
    let prompt = match t.session_id.clone() {
        Some(session) => {
            options.resume = Some(session);
            t.fallback_prompt = Some(fresh_prompt);
            message.clone()
        }
        None => {
            options.resume = None;
            t.fallback_prompt = None;
            fresh_prompt
        }
    };
    t.status = TaskStatus::Running;
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.pending_question = None;
    t.exit = None;
    let effect = spawn_effect(t, &options, &prompt, question_dir.as_deref(), now_ms);
    publish(state, task, AgentEvent::UserMessage { text: message });
    vec![effect]
}

/// The effect that starts an agent process for `t`, and the bookkeeping.
fn spawn_effect(
    t: &mut Task,
    options: &crate::agent::AgentOptions,
    prompt: &str,
    question_dir: Option<&std::path::Path>,
    now_ms: u64,
) -> Effect {
    t.runs += 1;
    if t.started_ms.is_none() {
        t.started_ms = Some(now_ms);
    }
    let ask_by_file = !t.spec.agent.has_live_channel() && !options.no_question_file;
    let mut launch = match (ask_by_file, question_dir) {
        (true, Some(_)) => {
            let prompt = format!("{prompt}{}", question_file::INSTRUCTION);
            t.spec.agent.launch_spec(options, &t.spec.cwd, &prompt)
        }
        _ => t.spec.agent.launch_spec(options, &t.spec.cwd, prompt),
    };
    if let (true, Some(dir)) = (ask_by_file, question_dir) {
        let file = dir.join(format!("task-{}-run-{}.json", t.id, t.runs));
        launch.env.push((
            question_file::ENV_VAR.to_string(),
            file.to_string_lossy().into_owned(),
        ));
    }
    t.stdin_open = matches!(launch.stdin, StdinMode::Pipe { .. });
    t.process_alive = true;
    Effect::Spawn {
        task: t.id,
        agent: t.spec.agent,
        limits: t.spec.limits,
        spec: launch,
    }
}

fn publish(state: &mut State, task: TaskId, event: AgentEvent) {
    if let Some(t) = state.task_mut(task) {
        t.transcript.push(event.clone());
        state.published.push((task, event));
    }
}

/// The agent process ended: finish the task, or keep it blocked on the
/// question it left, or fall back from a failed resume to a fresh start.
fn exited(state: &mut State, task: TaskId, now_ms: u64, exit: ExitInfo) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    t.process_alive = false;
    t.stdin_open = false;
    let waits_on_file_question = t
        .pending_question
        .as_ref()
        .is_some_and(question_file::is_file_question);
    if waits_on_file_question && t.kill_reason.is_none() {
        t.exit = Some(exit);
        let policy = state.settings.approval;
        let Some(q) = state.task(task).and_then(|t| t.pending_question.clone()) else {
            return vec![];
        };
        if policy == ApprovalPolicy::Ask {
            return vec![];
        }
        return answer_question(state, now_ms, task, policy_answer(policy, &q), "policy");
    }
    let resume_failed = t.fallback_prompt.is_some()
        && t.kill_reason.is_none()
        && t.last_turn.as_ref().is_none_or(|turn| turn.is_error);
    if resume_failed {
        let prompt = t.fallback_prompt.take().unwrap_or_default();
        let question_dir = state.settings.question_dir.clone();
        publish(
            state,
            task,
            AgentEvent::Error {
                message: "resuming the session failed; starting afresh with the original \
                          prompt and your message"
                    .into(),
            },
        );
        let Some(t) = state.task_mut(task) else {
            return vec![];
        };
        let mut options = t.spec.options.clone();
        options.resume = None;
        options.session_id = None;
        t.last_turn = None;
        return vec![spawn_effect(
            t,
            &options,
            &prompt,
            question_dir.as_deref(),
            now_ms,
        )];
    }
    if let Some(t) = state.task_mut(task) {
        t.fallback_prompt = None;
    }
    finish(state, task, now_ms, Some(exit));
    vec![]
}

fn launch(state: &mut State, now_ms: u64, spec: TaskSpec) -> Vec<Effect> {
    let id = state.next_task_id();
    state.next_id = id + 1;
    let prompt = spec.prompt.clone();
    let options = spec.options.clone();
    let question_dir = state.settings.question_dir.clone();
    let mut task = Task {
        id,
        spec,
        status: TaskStatus::Running,
        started_ms: None,
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
        process_alive: false,
        runs: 0,
        allow_rules: Vec::new(),
        fallback_prompt: None,
    };
    let effect = spawn_effect(
        &mut task,
        &options,
        &prompt,
        question_dir.as_deref(),
        now_ms,
    );
    state.tasks.push(task);
    publish(state, id, AgentEvent::UserMessage { text: prompt });
    vec![effect]
}

fn push_recent(list: &mut Vec<String>, line: String) {
    if list.len() == RECENT_LINES {
        list.remove(0);
    }
    list.push(line);
}

fn agent_event(state: &mut State, now_ms: u64, task: TaskId, event: AgentEvent) -> Vec<Effect> {
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
        AgentEvent::Question(q) if policy == ApprovalPolicy::Ask && !allowed_by_rule(t, q) => {
            t.pending_question = Some(q.clone());
            if t.status.can_become(TaskStatus::Blocked) {
                t.status = TaskStatus::Blocked;
            }
        }
        _ => {}
    }
    t.transcript.push(event.clone());
    let turn_over = matches!(event, AgentEvent::TurnEnd { .. })
        && !end_after_turn
        && t.process_alive
        && t.stdin_open
        && t.spec.agent.has_live_channel()
        && t.pending_question.is_none();
    let question = match &event {
        AgentEvent::Question(q) if allowed_by_rule(t, q) => Some((
            q.clone(),
            Answer::Allow {
                updated_input: None,
            },
            "rule",
        )),
        AgentEvent::Question(q) if policy != ApprovalPolicy::Ask => {
            Some((q.clone(), policy_answer(policy, q), "policy"))
        }
        _ => None,
    };
    state.published.push((task, event));
    if let Some((q, answer, by)) = question {
        if question_file::is_file_question(&q) {
            // The agent is exiting; the policy answers once it is gone.
            if let Some(t) = state.task_mut(task) {
                t.pending_question = Some(q);
            }
        } else {
            effects.extend(answer_with(state, task, &q, answer, by));
        }
    }
    if turn_over {
        // The session stays open for follow-ups; the turn's outcome is the
        // task's status until the next message.
        finish(state, task, now_ms, None);
    }
    effects
}

/// Whether "allow always" already covers this approval request.
fn allowed_by_rule(t: &Task, q: &Question) -> bool {
    q.kind == QuestionKind::Approval && t.allow_rules.contains(&allow_rule(q))
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

fn answer_question(
    state: &mut State,
    now_ms: u64,
    task: TaskId,
    answer: Answer,
    by: &str,
) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let Some(q) = t.pending_question.clone() else {
        return vec![];
    };
    if t.process_alive && question_file::is_file_question(&q) {
        // The agent has not exited yet; the answer can only resume it after.
        return vec![];
    }
    t.pending_question = None;
    if t.status == TaskStatus::Blocked {
        t.status = TaskStatus::Running;
    }
    if t.process_alive && !question_file::is_file_question(&q) {
        return answer_with(state, task, &q, answer, by);
    }
    // Nobody is left to answer on stdin: resume the session with the answer.
    let message = match &answer {
        Answer::Answer { answers } => question_file::answer_message(answers),
        Answer::Allow { .. } => format!(
            "You asked to use {}; the user allows it. Go ahead.",
            q.tool.as_deref().unwrap_or("a tool")
        ),
        Answer::Deny { message } => {
            let asked = q
                .questions
                .iter()
                .map(|i| i.question.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            format!("You asked: {asked}\nThe user declined to answer: {message}")
        }
    };
    let decided = AgentEvent::Answered {
        id: q.id.clone(),
        decision: match &answer {
            Answer::Allow { .. } => "allow",
            Answer::Deny { .. } => "deny",
            Answer::Answer { .. } => "answer",
        }
        .into(),
        message: match &answer {
            Answer::Deny { message } => Some(message.clone()),
            _ => None,
        },
        answers: match &answer {
            Answer::Answer { answers } => answers.clone(),
            _ => vec![],
        },
        by: by.into(),
    };
    publish(state, task, decided);
    relaunch(state, now_ms, task, message)
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
    if exit.is_some() {
        t.stdin_open = false;
        t.exit = exit.clone();
    }
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
        if let Some(turn) = &t.last_turn {
            // A turn ended and the session stays open.
            return if turn.is_error {
                let why = turn
                    .result
                    .clone()
                    .unwrap_or_else(|| "the agent reported an error".into());
                (TaskStatus::Failed, Some(why))
            } else {
                (TaskStatus::Succeeded, None)
            };
        }
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
