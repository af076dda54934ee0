//! Rate limits: recognising them in what an agent said, and scheduling a
//! retry within the policy and the run's wall timeout. And the protocol
//! fallback: a live protocol that never started (a CLI too old for it) is
//! run again over the kind's one-shot protocol.
//!
//! Pure: part of `update`; a retry is only ever a timer effect, never a sleep.

use super::*;

/// Whether a failed run ended on a rate limit or an overload: the HTTP
/// status (if known) and the agent's words.
pub(super) fn rate_limit_reason(t: &Task) -> Option<(Option<u16>, String)> {
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
/// the task waits in the queue for a timer instead of finishing, and then
/// resumes its session (or starts afresh when it has none).
pub(super) fn schedule_retry(
    state: &mut Stepper<'_>,
    task: TaskId,
    now_ms: u64,
    exit: &ExitInfo,
) -> Option<Vec<Effect>> {
    let policy = state.settings.retry.clone();
    let seq = state.take_seq();
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
    // No retry that could not start before the wall timeout runs out.
    if let (Some(total), Some(first)) = (t.spec.limits.wall_timeout_ms, t.attempts_started_ms)
        && now_ms.saturating_add(delay) >= first.saturating_add(total)
    {
        return None;
    }
    if !set_status(t, TaskStatus::Queued) {
        return None;
    }
    t.retries = attempt;
    t.retry_at_ms = Some(now_ms + delay);
    t.queue_seq = seq;
    t.exit = Some(exit.clone());
    t.pending_question = None;
    t.next_run = Some(match t.session_id.clone() {
        Some(session) => RunPlan {
            prompt: CONTINUE_MESSAGE.to_string(),
            resume: Some(session),
        },
        None => RunPlan {
            prompt: t.spec.prompt.clone(),
            resume: None,
        },
    });
    let event = AgentEvent::Retry {
        attempt,
        max_attempts: Some(policy.max_attempts),
        delay_ms: Some(delay),
        status,
        reason: format!("rate limited, retrying in {} ({why})", seconds(Some(delay))),
    };
    publish(state, task, event);
    Some(vec![Effect::Timer {
        task,
        after_ms: delay,
        kind: TimerKind::Retry { attempt },
    }])
}

/// On `Exited`: a run over a live protocol whose agent never announced a
/// session (it refused the subcommand or flag, or answered the opening
/// requests with an error) and was not stopped by anyone starts again with
/// the same prompt over the kind's one-shot protocol (codex `exec`, gemini
/// `stream-json`), which the task keeps from then on; the transcript says
/// why. Not for a profile that names its protocol (the user asked for that
/// one), nor for a resume (that falls back to a fresh start first).
pub(super) fn protocol_fallback(
    state: &mut Stepper<'_>,
    task: TaskId,
    now_ms: u64,
) -> Option<Vec<Effect>> {
    let question_dir = state.settings.question_dir.clone();
    let t = state.task_mut(task)?;
    if t.status.is_final()
        || t.kill_reason.is_some()
        || t.fallback_prompt.is_some()
        || t.spec.options.protocol.is_some()
        || !t.spec.wire().prompt_after_session()
    {
        return None;
    }
    let one_shot = t.spec.agent.one_shot_protocol()?;
    let prompt = t.live.first_prompt.take()?;
    let why = t
        .recent_errors
        .last()
        .or(t.recent_raw.last())
        .map(|line| format!(" ({})", line.trim()))
        .unwrap_or_default();
    let (live, fallback) = match t.spec.agent {
        AgentKind::Codex => ("`codex app-server`", "`codex exec --json`"),
        _ => ("`gemini --acp`", "`gemini --output-format stream-json`"),
    };
    let message = format!(
        "{live} did not start{why}: this CLI may be too old for the live protocol. \
         Running it as {fallback} instead: one turn per process, questions through \
         the question file, follow-ups resume the session (set `protocol` in its \
         profile to choose)"
    );
    t.spec.options.protocol = Some(one_shot.to_string());
    let mut options = t.spec.options.clone();
    options.resume = None;
    t.last_turn = None;
    let effect = spawn_effect(t, &options, &prompt, question_dir.as_deref(), now_ms);
    publish(state, task, AgentEvent::Error { message });
    Some(vec![effect])
}

/// What to tell the user when a run resumes a live-protocol task over the
/// one-shot protocol: gemini, whose ACP `session/load` (0.61.0) finds the
/// stored session only now and then, is resumed with `gemini --resume` in
/// stream-json mode.
pub(super) fn one_shot_resume_note(
    t: &Task,
    options: &crate::agent::AgentOptions,
) -> Option<String> {
    let one_shot = !t.spec.agent.wire(options).is_live();
    (options.resume.is_some() && one_shot && t.spec.wire().is_live()).then(|| {
        format!(
            "{} cannot load a stored session over its live protocol, so this message \
             resumes it with `--resume` in one-shot mode: the whole history, one turn; \
             tools that would need your approval are left out, questions go through \
             the question file; the next message does the same",
            t.spec.agent.name()
        )
    })
}
