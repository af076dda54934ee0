//! `update` for a mirror: a front end whose state follows a corral
//! server's (the cockpit as a client) applies the server's changes here,
//! so even a mirror's `State` has `update` as its only writer.
//!
//! Pure. A mirror never starts, kills or watches anything: the server
//! does; this only copies what the server says.

use super::super::state::State;
use crate::core::Mirror;
use crate::core::event::AgentEvent;

/// Applies one batch of the server's changes.
pub(in crate::core) fn apply_mirror(state: &mut State, now_ms: u64, batch: Mirror) {
    if batch.reset {
        let keep: Vec<u64> = batch.tasks.iter().map(|t| t.id).collect();
        state.tasks.retain(|t| keep.contains(&t.id));
        // A snapshot carries the transcripts again, as events.
        let cap = state.settings.transcript_cap;
        for t in &mut state.tasks {
            t.transcript = crate::core::transcript::Transcript::with_cap(cap);
        }
    }
    for mut task in batch.tasks {
        match state.task_mut(task.id) {
            Some(known) => {
                task.transcript = std::mem::take(&mut known.transcript);
                task.last_output_ms = task.last_output_ms.max(known.last_output_ms);
                *known = task;
            }
            None => {
                task.transcript =
                    crate::core::transcript::Transcript::with_cap(state.settings.transcript_cap);
                state.tasks.push(task);
            }
        }
    }
    for (id, event) in batch.events {
        let Some(t) = state.task_mut(id) else {
            continue;
        };
        // A snapshot's events are history: the task keeps the server's
        // `last_output_ms` (so a blocked row shows how long it ran until it
        // asked, not until this client attached). Live ones arrive now.
        if !batch.reset
            && !matches!(
                event,
                AgentEvent::UserMessage { .. } | AgentEvent::Answered { .. }
            )
        {
            t.last_output_ms = Some(now_ms);
        }
        t.transcript.push(event.clone());
        state.outbox.published.push((id, event));
    }
    for id in batch.deleted {
        if state.task(id).is_some() {
            state.tasks.retain(|t| t.id != id);
            state.outbox.deleted.push(id);
        }
    }
    state.outbox.reviews.extend(batch.reviews);
}

#[cfg(test)]
mod tests {
    use crate::agent::{AgentKind, AgentOptions};
    use crate::core::event::AgentEvent;
    use crate::core::task::{Task, TaskSpec, TaskStatus};
    use crate::core::{Event, Mirror, Settings, State, update};

    fn task(id: u64, status: TaskStatus) -> Task {
        let spec = TaskSpec {
            agent: AgentKind::Claude,
            prompt: format!("task {id}"),
            title: None,
            cwd: "/".into(),
            options: AgentOptions::default(),
            limits: Default::default(),
            profile: None,
            budget: Default::default(),
            worktree: false,
        };
        let mut t = Task::new(id, spec, 100);
        t.status = status;
        t.short_id = Some(format!("{id:08x}"));
        t
    }

    fn text(s: &str) -> AgentEvent {
        AgentEvent::Text {
            text: s.into(),
            delta: true,
        }
    }

    fn mirror(m: Mirror) -> Event {
        Event::Mirror(Box::new(m))
    }

    #[test]
    fn a_mirror_follows_headers_and_events_and_starts_nothing() {
        let mut state = State::new(Settings::default());
        let step = update(
            &mut state,
            1_000,
            mirror(Mirror {
                reset: true,
                tasks: vec![task(7, TaskStatus::Queued), task(9, TaskStatus::Running)],
                events: vec![(9, text("hel")), (9, text("lo"))],
                ..Mirror::default()
            }),
        );
        assert!(
            step.effects.is_empty(),
            "a queued mirror task is not started"
        );
        assert_eq!(state.task(7).unwrap().status, TaskStatus::Queued);
        let running = state.task(9).unwrap();
        assert_eq!(running.transcript.entries().next(), Some(&text("hello")));
        assert_eq!(
            running.last_output_ms, None,
            "a snapshot's events are history, not output now"
        );
        assert_eq!(step.published.len(), 2);

        // A new header keeps the mirrored transcript; a deletion removes.
        let mut blocked = task(9, TaskStatus::Blocked);
        blocked.usage.output_tokens = 5;
        let step = update(
            &mut state,
            2_000,
            mirror(Mirror {
                tasks: vec![blocked],
                events: vec![(9, text("!"))],
                deleted: vec![7, 8],
                ..Mirror::default()
            }),
        );
        assert_eq!(step.deleted, vec![7]);
        assert!(state.task(7).is_none());
        let t = state.task(9).unwrap();
        assert_eq!(t.status, TaskStatus::Blocked);
        assert_eq!(t.usage.output_tokens, 5);
        assert_eq!(t.transcript.entries().next(), Some(&text("hello!")));
    }

    #[test]
    fn a_snapshot_replaces_everything() {
        let mut state = State::new(Settings::default());
        let first = Mirror {
            reset: true,
            tasks: vec![task(1, TaskStatus::Running), task(2, TaskStatus::Failed)],
            events: vec![(1, text("old"))],
            ..Mirror::default()
        };
        update(&mut state, 1, mirror(first));
        update(
            &mut state,
            2,
            mirror(Mirror {
                reset: true,
                tasks: vec![task(1, TaskStatus::Succeeded)],
                events: vec![(1, text("new"))],
                ..Mirror::default()
            }),
        );
        assert_eq!(state.tasks.len(), 1);
        let t = state.task(1).unwrap();
        assert_eq!(t.status, TaskStatus::Succeeded);
        assert_eq!(
            t.transcript.entries().collect::<Vec<_>>(),
            vec![&text("new")]
        );
    }

    #[test]
    fn a_task_that_asked_before_the_client_attached_keeps_when_it_asked() {
        let mut state = State::new(Settings::default());
        let mut blocked = task(4, TaskStatus::Blocked);
        blocked.started_ms = Some(1_000);
        blocked.last_output_ms = Some(4_000);
        update(
            &mut state,
            60_000,
            mirror(Mirror {
                reset: true,
                tasks: vec![blocked],
                events: vec![(4, text("may I?"))],
                ..Mirror::default()
            }),
        );
        let t = state.task(4).unwrap();
        assert_eq!(
            t.last_output_ms,
            Some(4_000),
            "it asked at 4 s (a blocked row shows 3 s ran), not at 60 s"
        );
    }
}
