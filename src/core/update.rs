//! `update`: the one function that changes corral's state.
//!
//! Takes a fact or a user intent, changes [`State`], and returns the
//! [`Step`]: the [`Effect`]s for the runtime, the events meant for front
//! ends and the store (everything an agent said, plus what corral decided:
//! answers, the finish) and the deleted tasks. What a step publishes,
//! deletes and answers to reviews collects in that step's `Stepper` (the
//! `&mut State` plus an outbox), never in `State`. Pure: the time comes in
//! as an argument. Status changes go through the transition table; a
//! refused change is logged (through `tracing`, the only output this module
//! has) and ignored, never a panic. New tasks wait in a queue until the
//! global and per-kind concurrency limits leave a slot.
//!
//! Split along its seams: the verdict (`update_verdict.rs`), answers
//! (`update_answer.rs`), rate-limit retries (`update_retry.rs`) and worktree
//! tasks with their reviews (`update_worktree.rs`) are child modules; the
//! queue, runs and follow-ups stay here.

use super::event::{AgentEvent, FinishStatus, Finished, Question, QuestionKind, Usage};
use super::review::{ReviewOp, ReviewOutcome, ReviewReport, merge_words, refusal};
use super::state::{ApprovalPolicy, State, Step, Stepper};
use super::task::{
    ChangeCount, KillReason, LiveTurns, RunPlan, Task, TaskSpec, TaskStatus, TurnOutcome,
};
use super::{Command, Effect, Event, ExitInfo, Limit, TaskId, TimerKind};
use crate::agent::openai::{self, ChatMessage};
use crate::agent::{AgentKind, Answer, StdinMode, question_file};
use crate::worktree::types::{Created, WorktreeRequest};

/// How many recent raw lines and errors a task keeps to explain a failure.
const RECENT_LINES: usize = 8;

/// The message a resumed session starts with when the user gives none.
pub const RESUME_MESSAGE: &str = "Your previous session was interrupted (corral stopped while you \
     were working). Continue the task where you left off.";

/// The message that resumes a session after a rate-limit pause.
pub const CONTINUE_MESSAGE: &str = "Your previous attempt was interrupted by a rate limit \
     or an overloaded API. Continue the task where you left off.";

/// Moves `t` to `to` if the transition table allows it; otherwise logs and
/// leaves it. Returns whether it moved.
fn set_status(t: &mut Task, to: TaskStatus) -> bool {
    if t.status.can_become(to) {
        t.status = to;
        true
    } else {
        tracing::warn!(
            task = t.id,
            from = t.status.name(),
            to = to.name(),
            "refused an invalid status transition"
        );
        false
    }
}

/// Applies one event at time `now_ms` and returns all it produced: what
/// the runtime must do, what to publish, what was deleted.
pub fn update(state: &mut State, now_ms: u64, event: Event) -> Step {
    let mut step = Stepper::new(state);
    // The server starts and watches; its mirror only follows.
    if let Event::Mirror(batch) = event {
        mirror::apply_mirror(&mut step, now_ms, *batch);
        return step.finish(Vec::new());
    }
    // Output that leaves its task's status alone frees no slot and queues
    // nothing: the queue is not looked at (a stream costs per event what
    // one task costs, however many tasks there are).
    let output_of = match &event {
        Event::Agent { task, .. } | Event::Agents { task, .. } | Event::Output { task, .. } => {
            Some((*task, step.task(*task).map(|t| t.status)))
        }
        _ => None,
    };
    // Nor does a task brought back from the store (it comes back finished
    // or interrupted): a start with thousands of them stays linear.
    let adopted = matches!(event, Event::Command(Command::Adopt { .. }));
    let mut effects = apply(&mut step, now_ms, event);
    let status_kept =
        output_of.is_some_and(|(task, before)| step.task(task).map(|t| t.status) == before);
    if !status_kept && !adopted {
        effects.extend(start_queued(&mut step, now_ms));
    }
    let effects = watch_worktrees(&step, effects);
    step.finish(effects)
}

fn apply(state: &mut Stepper<'_>, now_ms: u64, event: Event) -> Vec<Effect> {
    match event {
        Event::Mirror(batch) => {
            mirror::apply_mirror(state, now_ms, *batch);
            vec![]
        }
        Event::Command(cmd) => command(state, now_ms, cmd),
        Event::Output { task, .. } => {
            if let Some(t) = state.task_mut(task) {
                t.last_output_ms = Some(now_ms);
            }
            vec![]
        }
        Event::TimerFired { task, kind } => match kind {
            TimerKind::Retry { attempt } => {
                match state.task_mut(task) {
                    // A stale timer (killed or retried meanwhile) does nothing.
                    Some(t) if t.status == TaskStatus::Queued && t.retries == attempt => {
                        t.retry_at_ms = None;
                    }
                    _ => return vec![],
                }
                start_queued(state, now_ms)
            }
            TimerKind::IdleClose { at_ms } => idle_close_fired(state, task, now_ms, at_ms),
            TimerKind::ClosedKill { run } => closed_kill_fired(state, task, run),
        },
        Event::Agent { task, event } => {
            if let Some(t) = state.task_mut(task) {
                t.last_output_ms = Some(now_ms);
            }
            agent_event(state, now_ms, task, event)
        }
        Event::Agents { task, events } => {
            if let Some(t) = state.task_mut(task) {
                t.last_output_ms = Some(now_ms);
            }
            let mut effects = Vec::new();
            for event in events {
                effects.extend(agent_event(state, now_ms, task, event));
            }
            effects
        }
        Event::SpawnFailed { task, message } => {
            // No process was started: nothing runs for this task now.
            fail_before_spawn(state, task, now_ms, message);
            vec![]
        }
        Event::Exited { task, exit } => exited(state, task, now_ms, exit),
        Event::WorktreeReady { task, result } => worktree_ready(state, now_ms, task, result),
        Event::Reviewed { task, op, result } => {
            reviewed(state, task, op, result);
            vec![]
        }
        Event::WorktreeChanges {
            task,
            files,
            added,
            deleted,
        } => {
            if let Some(t) = state.task_mut(task) {
                t.changes = Some(ChangeCount {
                    files,
                    added,
                    deleted,
                });
            }
            vec![]
        }
        Event::ProcCosts(costs) => {
            for (task, cost) in costs {
                // A sample taken just before the agent exited is stale.
                if let Some(t) = state.task_mut(task)
                    && t.process_alive
                {
                    t.cost = Some(cost);
                }
            }
            vec![]
        }
        Event::LimitReached { task, limit } => match state.task_mut(task) {
            Some(t) if !t.status.is_final() && t.kill_reason.is_none() => {
                t.kill_reason = Some(KillReason::Limit(limit));
                kill_ladder(t)
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

fn command(state: &mut Stepper<'_>, now_ms: u64, cmd: Command) -> Vec<Effect> {
    match cmd {
        Command::Launch { spec, store_id } => {
            launch(state, *spec, store_id);
            vec![]
        }
        Command::Adopt { task } => {
            state.adopt(*task);
            vec![]
        }
        Command::LoadTranscript { task, events } => {
            if let Some(t) = state.task_mut(task)
                && t.transcript_stored.take().is_some()
            {
                t.transcript.prepend(events);
            }
            vec![]
        }
        Command::WatchCosts { on } => vec![Effect::WatchCosts { on }],
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
                // No agent yet: its worktree is being created.
                TaskStatus::Running if t.worktree_pending && !t.process_alive => {
                    t.kill_reason = Some(KillReason::User);
                    finish(state, task, now_ms, None);
                    vec![]
                }
                TaskStatus::Running | TaskStatus::Blocked => {
                    if t.kill_reason.is_none() {
                        t.kill_reason = Some(KillReason::User);
                    }
                    kill_ladder(t)
                }
                // Finished, its live session still open: it is closed.
                _ => kill_finished(state, task),
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
        Command::Review { task, op } => review(state, task, op).into_iter().collect(),
        Command::Input { task, bytes } => match state.task(task) {
            Some(t) if t.spec.agent == AgentKind::Command && t.process_alive => {
                vec![Effect::WriteInput { task, bytes }]
            }
            _ => vec![],
        },
        Command::Resize { task, rows, cols } => match state.task(task) {
            Some(t) if t.spec.agent.is_process() && t.process_alive => {
                vec![Effect::Resize { task, rows, cols }]
            }
            _ => vec![],
        },
        Command::Retry { task } => {
            let plan = state.task(task).map(|t| RunPlan {
                prompt: t.spec.prompt.clone(),
                resume: None,
            });
            if let Some(plan) = plan {
                requeue(state, task, plan);
            }
            vec![]
        }
        Command::Resume { task, message } => {
            let plan = state.task(task).map(|t| match &t.session_id {
                Some(session) => RunPlan {
                    prompt: message.unwrap_or_else(|| RESUME_MESSAGE.to_string()),
                    resume: Some(session.clone()),
                },
                // No session to go back to: start over.
                None => RunPlan {
                    prompt: t.spec.prompt.clone(),
                    resume: None,
                },
            });
            if let Some(plan) = plan {
                requeue(state, task, plan);
            }
            vec![]
        }
        Command::Archive { task, archived } => {
            if let Some(t) = state.task_mut(task) {
                if t.status.is_final() && !t.process_alive {
                    t.archived = archived;
                } else {
                    tracing::warn!(task, "refused to archive an unfinished task");
                }
            }
            vec![]
        }
        Command::Delete { task } => {
            match state.task(task).map(|t| (t.status, t.process_alive)) {
                Some((status, false)) if status.is_final() => {
                    state.tasks.retain(|t| t.id != task);
                    state.out.deleted.push(task);
                }
                Some(_) => tracing::warn!(task, "refused to delete an unfinished task"),
                None => {}
            }
            vec![]
        }
    }
}

/// Puts a finished task back in the queue for another run following `plan`.
fn requeue(state: &mut State, task: TaskId, plan: RunPlan) {
    let seq = state.take_seq();
    let Some(t) = state.task_mut(task) else {
        return;
    };
    if !t.status.is_final() || t.process_alive {
        tracing::warn!(
            task,
            status = t.status.name(),
            "refused to rerun an unfinished task"
        );
        return;
    }
    if !set_status(t, TaskStatus::Queued) {
        return;
    }
    t.queue_seq = seq;
    t.next_run = Some(plan);
    t.retries = 0;
    t.archived = false;
}

/// Starts queued tasks, oldest first, while there are free slots. A task
/// whose kind has no free slot does not hold back tasks of other kinds.
fn start_queued(state: &mut Stepper<'_>, now_ms: u64) -> Vec<Effect> {
    let mut effects = Vec::new();
    for id in state.queue() {
        let Some(kind) = state.task(id).map(|t| t.spec.agent) else {
            continue;
        };
        if state.has_slot(kind) && !state.cooling_down(kind, now_ms) {
            effects.extend(start(state, id, now_ms));
        }
    }
    effects
}

/// Starts one run of a queued task: its first, or a retry or a resume. A
/// worktree task without its worktree gets it created first.
fn start(state: &mut Stepper<'_>, task: TaskId, now_ms: u64) -> Option<Effect> {
    let t = state.task_mut(task)?;
    if !set_status(t, TaskStatus::Running) {
        return None;
    }
    if t.spec.worktree && t.worktree.is_none() {
        return create_worktree(state, task, now_ms);
    }
    begin_run(state, task, now_ms)
}

/// The task could not start (its agent or its worktree): records why and
/// finishes it `failed`.
fn fail_before_spawn(state: &mut Stepper<'_>, task: TaskId, now_ms: u64, message: String) {
    if let Some(t) = state.task_mut(task) {
        t.process_alive = false;
        t.stdin_open = false;
        t.cost = None;
        t.recent_errors.push(message.clone());
        let ev = AgentEvent::Error { message };
        t.transcript.push(ev.clone());
        state.out.published.push((task, ev));
    }
    finish(state, task, now_ms, None);
}

/// The rest of [`start`]: the agent process of a run, in the task's
/// worktree when it has one.
fn begin_run(state: &mut Stepper<'_>, task: TaskId, now_ms: u64) -> Option<Effect> {
    let question_dir = state.settings.question_dir.clone();
    let t = state.task_mut(task)?;
    let mut options = t.spec.options.clone();
    t.fallback_prompt = None;
    let mut announce = None;
    let prompt = match t.next_run.take() {
        Some(plan) => {
            // A rerun is a new session unless it resumes one.
            options.session_id = None;
            options.resume = plan.resume;
            if options.resume.is_some() {
                t.fallback_prompt = Some(format!("{}\n\n{}", t.spec.prompt, plan.prompt));
            }
            announce = Some(plan.prompt.clone());
            plan.prompt
        }
        None => t.spec.prompt.clone(),
    };
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.exit = None;
    t.finish_reason = None;
    t.pending_question = None;
    t.run_usage = Usage::default();
    t.run_turns = 0;
    t.recent_raw.clear();
    t.recent_errors.clear();
    let effect = spawn_effect(t, &options, &prompt, question_dir.as_deref(), now_ms);
    if let Some(text) = announce {
        publish(state, task, AgentEvent::UserMessage { text });
    }
    Some(effect)
}

/// How a running agent is stopped: the protocol's interrupt first (ACP
/// `session/cancel`) where it has one, then the signals.
fn kill_ladder(t: &mut Task) -> Vec<Effect> {
    let task = t.id;
    t.live.after_turn = None;
    let interrupt = (t.process_alive && t.stdin_open)
        .then(|| {
            t.spec
                .wire()
                .encode_interrupt(t.session_id.as_deref(), t.live.turn_id.as_deref())
        })
        .flatten();
    match interrupt {
        Some(line) => vec![Effect::WriteStdin { task, line }, Effect::Kill { task }],
        None => vec![Effect::Kill { task }],
    }
}

/// Sends the user's next message to a task's agent.
fn follow_up(state: &mut Stepper<'_>, now_ms: u64, task: TaskId, text: String) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if text.trim().is_empty() || t.status == TaskStatus::Queued {
        return vec![];
    }
    if t.process_alive && t.stdin_open && t.pending_question.is_none() {
        let seq = t.live.sent;
        if let Some(line) = t
            .spec
            .wire()
            .encode_user_message(t.session_id.as_deref(), seq, &text)
        {
            t.live.sent = seq + 1;
            t.idle_close_at_ms = None;
            if t.status.is_final() {
                t.status = TaskStatus::Running;
                t.finished_ms = None;
                t.kill_reason = None;
            }
            publish(state, task, AgentEvent::UserMessage { text });
            return vec![Effect::WriteStdin { task, line }];
        }
    }
    if t.process_alive && t.spec.agent == AgentKind::Command {
        // An interactive program: the message is typed into its terminal.
        let mut bytes = text.into_bytes();
        bytes.push(b'\r');
        return vec![Effect::WriteInput { task, bytes }];
    }
    if t.process_alive && t.session_closed.is_some() {
        publish_error(
            state,
            task,
            "the session is closing; send the message again once it has closed".into(),
        );
        return vec![];
    }
    if t.process_alive {
        // A turn is still going on a channel that takes no messages.
        publish_error(
            state,
            task,
            "the agent is still working; send the message when it is done, or kill it first".into(),
        );
        return vec![];
    }
    if t.spec.agent == AgentKind::OpenAi {
        // corral holds the conversation: the next request carries it all.
        t.conversation.push(ChatMessage::new("user", &text));
        let question_dir = state.settings.question_dir.clone();
        let Some(t) = state.task_mut(task) else {
            return vec![];
        };
        reset_for_run(t);
        let options = t.spec.options.clone();
        let effect = spawn_effect(t, &options, &text, question_dir.as_deref(), now_ms);
        publish(state, task, AgentEvent::UserMessage { text });
        return vec![effect];
    }
    relaunch(state, now_ms, task, text)
}

/// Puts a task that ended back to work for another run.
fn reset_for_run(t: &mut Task) {
    t.status = TaskStatus::Running;
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.exit = None;
    t.pending_question = None;
    t.retry_at_ms = None;
}

/// Starts a new agent process for `task` with `message`: resuming the
/// session when there is one (keeping a fresh start as the fallback),
/// otherwise afresh with the original prompt plus the message.
fn relaunch(state: &mut Stepper<'_>, now_ms: u64, task: TaskId, message: String) -> Vec<Effect> {
    let question_dir = state.settings.question_dir.clone();
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if t.spec.worktree && t.worktree.is_none() {
        // Its worktree was never made (or was discarded): never run the
        // agent in the main checkout; make one first, then run the message.
        let plan = RunPlan {
            prompt: message,
            resume: t.session_id.clone(),
        };
        t.next_run = Some(plan);
        t.status = TaskStatus::Running;
        return create_worktree(state, task, now_ms).into_iter().collect();
    }
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
    t.retries = 0;
    t.finished_ms = None;
    t.kill_reason = None;
    t.last_turn = None;
    t.pending_question = None;
    t.exit = None;
    let closed_note = closed_resume_note(t, options.resume.as_deref());
    let note = one_shot_resume_note(t, &options);
    let effect = spawn_effect(t, &options, &prompt, question_dir.as_deref(), now_ms);
    if let Some(line) = closed_note {
        publish(state, task, AgentEvent::Notice { line });
    }
    publish(state, task, AgentEvent::UserMessage { text: message });
    if let Some(message) = note {
        publish(state, task, AgentEvent::Error { message });
    }
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
    t.idle_close_at_ms = None;
    t.session_closed = None;
    if t.started_ms.is_none() {
        t.started_ms = Some(now_ms);
    }
    // A rate-limit retry gets what is left of the run's wall timeout, not
    // a fresh one: `--timeout 8` means 8 s, retries included.
    let mut limits = t.spec.limits;
    match t.attempts_started_ms {
        Some(first) if t.retries > 0 => {
            limits.wall_timeout_ms = limits
                .wall_timeout_ms
                .map(|total| total.saturating_sub(now_ms.saturating_sub(first)).max(1));
        }
        _ => t.attempts_started_ms = Some(now_ms),
    }
    if t.spec.agent == AgentKind::OpenAi {
        // No process: one streamed HTTP request carrying the conversation.
        if t.conversation.is_empty() {
            t.conversation = openai::conversation_start(options, prompt);
        }
        t.stdin_open = false;
        t.process_alive = true;
        return Effect::Chat {
            task: t.id,
            request: Box::new(openai::request(options, &t.conversation)),
            limits: t.spec.limits,
        };
    }
    let wire = t.spec.agent.wire(options);
    let ask_by_file = !wire.is_live() && !options.no_question_file;
    // A plain program gets the file's name but no instruction typed into
    // its terminal: only programs that know the protocol use it.
    let instruct = ask_by_file && t.spec.agent != AgentKind::Command;
    // A worktree task always works in its worktree.
    let cwd = match &t.worktree {
        Some(wt) => wt.path.clone(),
        None => t.spec.cwd.clone(),
    };
    let mut launch = match (instruct, question_dir) {
        (true, Some(_)) => {
            let prompt = format!("{prompt}{}", question_file::INSTRUCTION);
            t.spec.agent.launch_spec(options, &cwd, &prompt)
        }
        _ => t.spec.agent.launch_spec(options, &cwd, prompt),
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
    t.live = LiveTurns {
        first_prompt: wire.prompt_after_session().then(|| prompt.to_string()),
        ..LiveTurns::default()
    };
    Effect::Spawn {
        task: t.id,
        agent: t.spec.agent,
        wire,
        limits,
        spec: launch,
    }
}

fn publish(state: &mut Stepper<'_>, task: TaskId, event: AgentEvent) {
    if let Some(t) = state.task_mut(task) {
        t.transcript.push(event.clone());
        state.out.published.push((task, event));
    }
}

/// The agent process ended: finish the task, or keep it blocked on the
/// question it left, or fall back from a failed resume to a fresh start.
fn exited(state: &mut Stepper<'_>, task: TaskId, now_ms: u64, exit: ExitInfo) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    t.process_alive = false;
    t.stdin_open = false;
    t.cost = None;
    t.idle_close_at_ms = None;
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
    if let Some(effects) = schedule_retry(state, task, now_ms, &exit) {
        return effects;
    }
    if let Some(effects) = protocol_fallback(state, task, now_ms) {
        return effects;
    }
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    // A resume failed when it never got to a turn (or, over a live
    // protocol, to the session: codex answers an unknown thread with an
    // error): a turn that ends in an API error means the session was
    // resumed and the API failed.
    let resume_failed = t.fallback_prompt.is_some()
        && t.kill_reason.is_none()
        && !t.status.is_final()
        && (t.last_turn.is_none() || t.live.first_prompt.is_some());
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

/// Adds a new task to the queue; [`start_queued`] starts it when a slot is free.
fn launch(state: &mut Stepper<'_>, spec: TaskSpec, store_id: Option<String>) {
    let id = state.take_id();
    let prompt = spec.prompt.clone();
    let mut task = Task::new(id, spec, state.settings.transcript_cap);
    task.queue_seq = state.take_seq();
    task.short_id = store_id;
    state.tasks.push(task);
    publish(state, id, AgentEvent::UserMessage { text: prompt });
}

fn push_recent(list: &mut Vec<String>, line: String) {
    if list.len() == RECENT_LINES {
        list.remove(0);
    }
    list.push(line);
}

fn agent_event(
    state: &mut Stepper<'_>,
    now_ms: u64,
    task: TaskId,
    event: AgentEvent,
) -> Vec<Effect> {
    let policy = state.settings.approval;
    let end_after_turn = state.settings.end_after_turn;
    let max_retries = state.settings.retry.max_attempts;
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    if !t.status.is_active() && !t.process_alive {
        // A late event of a run that is over (or never started) changes nothing.
        tracing::debug!(
            task,
            status = t.status.name(),
            "agent event for an inactive task"
        );
        return vec![];
    }
    let event = match event {
        AgentEvent::Usage(u) => AgentEvent::Usage(priced(t, u)),
        // Protocol plumbing: kept or written back, never shown.
        AgentEvent::TurnStarted { turn_id } => {
            t.live.turn_id = Some(turn_id);
            return vec![];
        }
        AgentEvent::ProtocolReply { line } => {
            return if t.process_alive && t.stdin_open {
                vec![Effect::WriteStdin { task, line }]
            } else {
                vec![]
            };
        }
        other => other,
    };
    let mut effects = Vec::new();
    let mut follow_up: Option<String> = None;
    match &event {
        AgentEvent::Session {
            session_id, model, ..
        } => {
            t.session_id = Some(session_id.clone());
            if model.is_some() {
                t.model = model.clone();
            }
            // A live protocol whose first prompt waited for the session.
            if let Some(prompt) = t.live.first_prompt.take()
                && t.stdin_open
                && let Some(line) =
                    t.spec
                        .wire()
                        .encode_user_message(Some(session_id), t.live.sent, &prompt)
            {
                t.live.sent += 1;
                effects.push(Effect::WriteStdin { task, line });
            }
        }
        AgentEvent::Usage(u) => {
            t.usage.add(u);
            t.run_usage.add(u);
        }
        // A failed run names its last words, stdout or stderr (claude
        // refusing bypassPermissions as root says why on stderr).
        AgentEvent::Raw { line } | AgentEvent::Notice { line } => {
            push_recent(&mut t.recent_raw, line.clone())
        }
        AgentEvent::Plan { items, .. } => t.plan = items.clone(),
        AgentEvent::Error { message } => push_recent(&mut t.recent_errors, message.clone()),
        AgentEvent::TurnEnd {
            is_error,
            result,
            api_error_status,
            num_turns,
            terminal_reason,
            api_error_type,
            ..
        } => {
            t.last_turn = Some(TurnOutcome {
                is_error: *is_error,
                result: result.clone(),
                api_error_status: *api_error_status,
                terminal_reason: terminal_reason.clone(),
                api_error_type: api_error_type.clone(),
            });
            if t.spec.agent == AgentKind::OpenAi
                && !*is_error
                && let Some(answer) = result
            {
                t.conversation
                    .push(ChatMessage::new("assistant", answer.as_str()));
            }
            t.run_turns = t.run_turns.saturating_add(num_turns.unwrap_or(1));
            // A denial's reason that could not travel with the denial goes
            // to the agent now, as the next message of the same session.
            follow_up = if t.process_alive && t.stdin_open {
                t.live.after_turn.take()
            } else {
                None
            };
            if let Some(text) = &follow_up {
                let seq = t.live.sent;
                match t
                    .spec
                    .wire()
                    .encode_user_message(t.session_id.as_deref(), seq, text)
                {
                    Some(line) => {
                        t.live.sent = seq + 1;
                        effects.push(Effect::WriteStdin { task, line });
                    }
                    None => follow_up = None,
                }
            }
            // The opening requests failed (no session): the process ends,
            // and its exit decides (a fallback, a fresh start, a failure).
            let never_started = t.live.first_prompt.is_some();
            if (end_after_turn || never_started) && t.stdin_open && follow_up.is_none() {
                t.stdin_open = false;
                effects.push(Effect::CloseStdin { task });
            }
        }
        AgentEvent::Question(q)
            if policy == ApprovalPolicy::Ask
                && !allowed_by_rule(t, q)
                && answer_by_mode(t, q).is_none() =>
        {
            t.pending_question = Some(q.clone());
            if t.status == TaskStatus::Running {
                set_status(t, TaskStatus::Blocked);
            }
        }
        _ => {}
    }
    if t.kill_reason.is_none()
        && t.process_alive
        && let Some(limit) = over_budget(t)
    {
        t.kill_reason = Some(KillReason::Limit(limit));
        effects.extend(kill_ladder(t));
    }
    // A live protocol's failed opening is not a turn the user saw: its
    // error is shown, and the exit says what happens next.
    if matches!(event, AgentEvent::TurnEnd { .. }) && t.live.first_prompt.is_some() {
        return effects;
    }
    t.transcript.push(event.clone());
    let mut turn_over = matches!(event, AgentEvent::TurnEnd { .. })
        && follow_up.is_none()
        && !end_after_turn
        && t.process_alive
        && t.stdin_open
        && t.spec.wire().is_live()
        && t.pending_question.is_none();
    // A turn that failed on a rate limit with retries left ends the live
    // session instead: the retry takes over when the agent has exited.
    let retry_left = t.retries < max_retries;
    if turn_over
        && retry_left
        && t.last_turn.as_ref().is_some_and(|turn| turn.is_error)
        && rate_limit_reason(t).is_some()
    {
        turn_over = false;
        t.stdin_open = false;
        effects.push(Effect::CloseStdin { task });
    }
    let question = match &event {
        AgentEvent::Question(q) if allowed_by_rule(t, q) => Some((
            q.clone(),
            Answer::Allow {
                updated_input: None,
            },
            "rule",
        )),
        AgentEvent::Question(q) if answer_by_mode(t, q).is_some() => {
            answer_by_mode(t, q).map(|answer| (q.clone(), answer, "mode"))
        }
        AgentEvent::Question(q) if policy != ApprovalPolicy::Ask => {
            Some((q.clone(), policy_answer(policy, q), "policy"))
        }
        _ => None,
    };
    state.out.published.push((task, event));
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
    if let Some(text) = follow_up {
        publish(state, task, AgentEvent::UserMessage { text });
    }
    if turn_over {
        // The session stays open for follow-ups; the turn's outcome is the
        // task's status until the next message, and an idle one is closed.
        finish(state, task, now_ms, None);
        effects.extend(arm_idle_close(state, task, now_ms));
    }
    effects
}

#[path = "update_verdict.rs"]
mod verdict;
use verdict::*;
#[path = "update_answer.rs"]
mod answer;
use answer::*;
#[path = "update_retry.rs"]
mod retry;
use retry::*;
#[path = "update_worktree.rs"]
mod worktree;
use worktree::*;
#[path = "update_idle.rs"]
mod idle;
#[path = "update_mirror.rs"]
mod mirror;
use idle::*;

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "update_worktree_tests.rs"]
mod worktree_tests;

#[cfg(test)]
#[path = "update_retry_tests.rs"]
mod retry_tests;

#[cfg(test)]
#[path = "update_live_tests.rs"]
mod live_tests;

#[cfg(test)]
#[path = "update_idle_tests.rs"]
mod idle_tests;
