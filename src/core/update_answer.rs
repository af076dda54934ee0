//! Answers to an agent's questions and approvals: the user's, an
//! approval policy's, or an allow-always rule's.
//!
//! Pure: part of `update`; never answers a question the policy cannot.

use super::*;

/// The rule "allow always" remembers: the tool, and for shell commands
/// (claude's `Bash`, an ACP `execute` call: any tool input with a
/// `command`) the exact command, so allowing `npm test` does not allow
/// `rm -rf`.
pub(super) fn allow_rule(q: &Question) -> String {
    let tool = q.tool.clone().unwrap_or_default();
    match q.input.get("command").and_then(|c| c.as_str()) {
        Some(command) => format!("{tool}:{command}"),
        None => tool,
    }
}

/// Whether "allow always" already covers this approval request.
pub(super) fn allowed_by_rule(t: &Task, q: &Question) -> bool {
    q.kind == QuestionKind::Approval && t.allow_rules.contains(&allow_rule(q))
}

/// What the permission mode answers for an agent that asks about
/// everything (a generic ACP agent has no flag of its own for the mode;
/// codex's app server asks for edits and commands alike):
/// `bypassPermissions` allows, `acceptEdits` allows edits, `plan` denies
/// what is not read-only; `None` means a person (or the policy) decides.
pub(super) fn answer_by_mode(t: &Task, q: &Question) -> Option<Answer> {
    let asks_everything =
        t.spec.agent == AgentKind::Acp || t.spec.wire() == crate::agent::Wire::CodexAppServer;
    if !asks_everything || q.kind != QuestionKind::Approval {
        return None;
    }
    let mode = t.spec.options.permission_mode.as_deref();
    let kind = q.input.get("kind").and_then(|k| k.as_str());
    match crate::agent::acp::mode_answer(mode, kind)? {
        true => Some(Answer::Allow {
            updated_input: None,
        }),
        false => Some(Answer::Deny {
            message: "Denied: this task runs in plan mode (read-only).".into(),
        }),
    }
}

/// What an approval policy answers when no person is asked.
pub(super) fn policy_answer(policy: ApprovalPolicy, q: &Question) -> Answer {
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

pub(super) fn answer_question(
    state: &mut Stepper<'_>,
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

pub(super) fn answer_with(
    state: &mut Stepper<'_>,
    task: TaskId,
    q: &Question,
    answer: Answer,
    by: &str,
) -> Vec<Effect> {
    let Some(t) = state.task_mut(task) else {
        return vec![];
    };
    let wire = t.spec.wire();
    let Some(line) = wire.encode_answer(q, &answer) else {
        return vec![];
    };
    if let Answer::Deny { message } = &answer
        && wire.denial_message_follows()
        && !message.trim().is_empty()
    {
        // The protocol's denial carries no reason: it follows as the next
        // message once the turn is over.
        t.live.after_turn = Some(format!(
            "I denied your request to use {}: {message}",
            q.tool.as_deref().unwrap_or("that tool")
        ));
    }
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
    state.out.published.push((task, ev));
    vec![Effect::WriteStdin { task, line }]
}

pub(super) fn publish_error(state: &mut Stepper<'_>, task: TaskId, message: String) {
    if let Some(t) = state.task_mut(task) {
        let ev = AgentEvent::Error { message };
        t.transcript.push(ev.clone());
        state.out.published.push((task, ev));
    }
}
