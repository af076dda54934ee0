//! `update` for a mirror: a front end whose state follows a corral
//! server's (the cockpit as a client) applies the server's changes here,
//! so even a mirror's `State` has `update` as its only writer. A cockpit
//! over several hosts mirrors each host's server into the one list: each
//! batch names its host, a snapshot replaces that host's tasks only, and
//! task ids are made unique across hosts here, so the per-host reader
//! threads keep no state the cockpit's list depends on.
//!
//! Each host's times (when a task started, last wrote, finished) are
//! read on its own clock; a batch carries the host's clock offset as
//! measured at its welcome, and the host's task times are moved onto the
//! cockpit's clock here, so hosts whose clocks disagree still show right
//! elapsed times.
//!
//! Pure. A mirror never starts, kills or watches anything: the server
//! does; this only copies what the server says (its times translated).

use std::collections::HashSet;

use super::super::state::{HostLink, State, Stepper};
use crate::core::LinkStatus;
use crate::core::event::AgentEvent;
use crate::core::transcript::Transcript;
use crate::core::{Mirror, TaskId};

/// Applies one batch of one server's changes.
pub(in crate::core) fn apply_mirror(state: &mut Stepper<'_>, now_ms: u64, batch: Mirror) {
    let host = batch.host;
    if batch.link.is_some() || batch.clock_offset_ms.is_some() {
        let name = host.clone().unwrap_or_default();
        let at = match state.hosts.iter().position(|h| h.name == name) {
            Some(at) => at,
            None => {
                // A batch with the welcome's clock comes from a live link.
                state.hosts.push(HostLink {
                    name,
                    status: LinkStatus::Live,
                    clock_offset_ms: 0,
                });
                state.hosts.len() - 1
            }
        };
        let known = &mut state.hosts[at];
        if let Some(status) = batch.link {
            known.status = status;
        }
        if let Some(offset) = batch.clock_offset_ms {
            known.clock_offset_ms = offset;
        }
    }
    let name = host.clone().unwrap_or_default();
    let offset = state
        .hosts
        .iter()
        .find(|h| h.name == name)
        .map_or(0, |h| h.clock_offset_ms);
    if batch.reset {
        let keep: HashSet<TaskId> = batch
            .tasks
            .iter()
            .filter_map(|t| state.mirror_ids.get(&(host.clone(), t.id)).copied())
            .collect();
        let gone: HashSet<TaskId> = state
            .tasks
            .iter()
            .filter(|t| t.host == host && !keep.contains(&t.id))
            .map(|t| t.id)
            .collect();
        state
            .tasks
            .retain(|t| t.host != host || keep.contains(&t.id));
        state
            .mirror_ids
            .retain(|(h, _), id| *h != host || !gone.contains(id));
        // A snapshot carries the transcripts again, as events.
        let cap = state.settings.transcript_cap;
        for t in state.tasks.iter_mut().filter(|t| t.host == host) {
            t.transcript = Transcript::with_cap(cap);
        }
    }
    for mut task in batch.tasks {
        onto_this_clock(&mut task, offset);
        let id = mirror_id(state, &host, task.id);
        task.id = id;
        task.host = host.clone();
        match state.task_mut(id) {
            Some(known) => {
                task.transcript = std::mem::take(&mut known.transcript);
                task.last_output_ms = task.last_output_ms.max(known.last_output_ms);
                // Whether this mirror has read the task's transcript is its
                // own (a snapshot starts unread), not the server's.
                if !batch.reset {
                    task.transcript_stored = known.transcript_stored;
                }
                *known = task;
            }
            None => {
                task.transcript = Transcript::with_cap(state.settings.transcript_cap);
                // Kept in id order: lookups stay a binary search.
                let at = state.tasks.partition_point(|t| t.id < id);
                state.tasks.insert(at, task);
            }
        }
    }
    for (server_id, entries, dropped) in batch.transcripts {
        let Some(&id) = state.mirror_ids.get(&(host.clone(), server_id)) else {
            continue;
        };
        if let Some(t) = state.task_mut(id) {
            t.transcript.replace(entries, dropped);
            t.transcript_stored = None;
        }
    }
    for (server_id, event) in batch.events {
        let Some(&id) = state.mirror_ids.get(&(host.clone(), server_id)) else {
            continue;
        };
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
        state.out.published.push((id, event));
    }
    for server_id in batch.deleted {
        let Some(id) = state.mirror_ids.remove(&(host.clone(), server_id)) else {
            continue;
        };
        if state.task(id).is_some() {
            state.tasks.retain(|t| t.id != id);
            state.out.deleted.push(id);
        }
    }
    for mut report in batch.reviews {
        if let Some(&id) = state.mirror_ids.get(&(host.clone(), report.task)) {
            report.task = id;
            state.out.reviews.push(report);
        }
    }
}

/// Moves the times of `task`, read on a clock `offset` ms ahead of this
/// one, onto this clock: a running row's elapsed time and a blocked row's
/// "ran until it asked" then compare like with like.
fn onto_this_clock(task: &mut crate::core::task::Task, offset: i64) {
    if offset == 0 {
        return;
    }
    let shift = |at: &mut Option<u64>| {
        if let Some(ms) = at {
            *ms = ms.saturating_add_signed(-offset);
        }
    };
    shift(&mut task.started_ms);
    shift(&mut task.finished_ms);
    shift(&mut task.last_output_ms);
    shift(&mut task.retry_at_ms);
    shift(&mut task.attempts_started_ms);
    shift(&mut task.idle_close_at_ms);
}

/// The mirror's id for task `server_id` of `host`: the one it has, else
/// the server's own when no other task has it (one host's tasks keep
/// their numbers), else the next after the highest.
fn mirror_id(state: &mut State, host: &Option<String>, server_id: TaskId) -> TaskId {
    let key = (host.clone(), server_id);
    if let Some(&id) = state.mirror_ids.get(&key) {
        return id;
    }
    let id = if server_id > 0 && state.task(server_id).is_none() {
        server_id
    } else {
        state
            .tasks
            .iter()
            .map(|t| t.id)
            .max()
            .unwrap_or(0)
            .max(server_id)
            + 1
    };
    state.mirror_ids.insert(key, id);
    id
}

#[cfg(test)]
mod tests {
    use crate::agent::{AgentKind, AgentOptions};
    use crate::core::event::AgentEvent;
    use crate::core::task::{Task, TaskSpec, TaskStatus};
    use crate::core::{Event, LinkStatus, Mirror, Settings, State, update};

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

    #[test]
    fn a_host_with_a_skewed_clock_shows_its_times_on_the_cockpits_clock() {
        const HOUR: u64 = 3_600_000;
        let now = 100_000_000;
        let mut state = State::new(Settings::default());
        // "ahead" runs an hour fast; "behind" an hour slow.
        for (host, server_now) in [("ahead", now + HOUR), ("behind", now - HOUR)] {
            let mut running = task(1, TaskStatus::Running);
            running.started_ms = Some(server_now - 5_000);
            let mut blocked = task(2, TaskStatus::Blocked);
            blocked.started_ms = Some(server_now - 20_000);
            blocked.last_output_ms = Some(server_now - 8_000);
            update(
                &mut state,
                now,
                mirror(Mirror {
                    host: Some(host.into()),
                    reset: true,
                    tasks: vec![running, blocked],
                    clock_offset_ms: Some(server_now as i64 - now as i64),
                    ..Mirror::default()
                }),
            );
        }
        for host in ["ahead", "behind"] {
            let of = |server_id: u64| {
                let id = state.mirror_ids[&(Some(host.to_string()), server_id)];
                state.task(id).unwrap().clone()
            };
            assert_eq!(of(1).elapsed_ms(now), 5_000, "{host}: running for 5 s");
            let blocked = of(2);
            assert_eq!(blocked.started_ms, Some(now - 20_000), "{host}");
            assert_eq!(
                blocked.last_output_ms,
                Some(now - 8_000),
                "{host}: it asked 8 s ago, after running 12 s"
            );
        }

        // A later change of the host (no clock of its own) is translated
        // too, and a live event is stamped with the cockpit's clock.
        let mut finished = task(1, TaskStatus::Succeeded);
        finished.started_ms = Some(now + HOUR - 5_000);
        finished.finished_ms = Some(now + HOUR + 1_000);
        update(
            &mut state,
            now + 1_000,
            mirror(Mirror {
                host: Some("ahead".into()),
                tasks: vec![finished],
                events: vec![(1, text("done"))],
                ..Mirror::default()
            }),
        );
        let id = state.mirror_ids[&(Some("ahead".to_string()), 1)];
        let t = state.task(id).unwrap();
        assert_eq!(t.finished_ms, Some(now + 1_000));
        assert_eq!(t.elapsed_ms(now + 1_000), 6_000);
        assert_eq!(t.last_output_ms, Some(now + 1_000));

        // A server that does not say its time is taken as it is.
        let mut old = task(5, TaskStatus::Running);
        old.started_ms = Some(now - 2_000);
        update(
            &mut state,
            now,
            mirror(Mirror {
                host: Some("old".into()),
                reset: true,
                tasks: vec![old],
                ..Mirror::default()
            }),
        );
        let id = state.mirror_ids[&(Some("old".to_string()), 5)];
        assert_eq!(state.task(id).unwrap().started_ms, Some(now - 2_000));
    }

    #[test]
    fn a_snapshot_task_stays_unread_until_its_whole_transcript_comes() {
        let mut state = State::new(Settings::default());
        let mut old = task(3, TaskStatus::Running);
        old.transcript_stored = Some(1);
        update(
            &mut state,
            1,
            mirror(Mirror {
                reset: true,
                tasks: vec![old.clone()],
                ..Mirror::default()
            }),
        );
        // It streams while nobody opened it: the news is kept, still unread.
        update(
            &mut state,
            2,
            mirror(Mirror {
                tasks: vec![task(3, TaskStatus::Running)],
                events: vec![(3, text("live"))],
                ..Mirror::default()
            }),
        );
        let t = state.task(3).unwrap();
        assert_eq!(
            t.transcript_stored,
            Some(1),
            "the server's flag is not ours"
        );
        assert_eq!(t.transcript.len(), 1);
        let before = t.transcript.revision();
        // Opened: the server's whole transcript (which has the live part)
        // replaces it, after 4 entries the server dropped.
        let whole = vec![
            AgentEvent::UserMessage { text: "go".into() },
            text("earlier"),
            AgentEvent::Raw { line: "x".into() },
            text("live"),
        ];
        update(
            &mut state,
            3,
            mirror(Mirror {
                tasks: vec![task(3, TaskStatus::Running)],
                transcripts: vec![(3, whole.clone(), 4)],
                ..Mirror::default()
            }),
        );
        let t = state.task(3).unwrap();
        assert_eq!(t.transcript_stored, None);
        assert_eq!(t.transcript.entries().cloned().collect::<Vec<_>>(), whole);
        assert_eq!(t.transcript.dropped(), 4);
        assert!(t.transcript.revision() > before, "views redraw it");
        // A later snapshot starts it unread again.
        update(
            &mut state,
            4,
            mirror(Mirror {
                reset: true,
                tasks: vec![old],
                ..Mirror::default()
            }),
        );
        let t = state.task(3).unwrap();
        assert_eq!(t.transcript_stored, Some(1));
        assert!(t.transcript.is_empty());
    }

    fn on(host: &str, m: Mirror) -> Event {
        mirror(Mirror {
            host: Some(host.into()),
            ..m
        })
    }

    /// (host, status, title) of every task, in list order.
    fn rows(state: &State) -> Vec<(TaskId, String, TaskStatus, String)> {
        state
            .tasks
            .iter()
            .map(|t| {
                (
                    t.id,
                    t.host.clone().unwrap_or_default(),
                    t.status,
                    t.title(),
                )
            })
            .collect()
    }

    use crate::core::TaskId;

    #[test]
    fn the_tasks_of_several_hosts_share_one_list_with_ids_of_their_own() {
        let mut state = State::new(Settings::default());
        let snapshot = |tasks| Mirror {
            reset: true,
            link: Some(LinkStatus::Live),
            tasks,
            ..Mirror::default()
        };
        update(
            &mut state,
            1,
            on(
                "local",
                snapshot(vec![
                    task(1, TaskStatus::Running),
                    task(2, TaskStatus::Blocked),
                ]),
            ),
        );
        // The remote server numbers its tasks from 1 too.
        let step = update(
            &mut state,
            2,
            on(
                "gpu",
                Mirror {
                    events: vec![(1, text("far"))],
                    ..snapshot(vec![
                        task(1, TaskStatus::Blocked),
                        task(5, TaskStatus::Queued),
                    ])
                },
            ),
        );
        assert!(step.effects.is_empty());
        let s = |status| status;
        assert_eq!(
            rows(&state),
            vec![
                (1, "local".into(), s(TaskStatus::Running), "task 1".into()),
                (2, "local".into(), s(TaskStatus::Blocked), "task 2".into()),
                (3, "gpu".into(), s(TaskStatus::Blocked), "task 1".into()),
                (5, "gpu".into(), s(TaskStatus::Queued), "task 5".into()),
            ]
        );
        assert_eq!(step.published, vec![(3, text("far"))]);
        assert_eq!(
            state
                .tasks
                .iter()
                .filter(|t| t.status == TaskStatus::Blocked)
                .count(),
            2,
            "blocked tasks are counted across hosts"
        );

        // A change of gpu's task 1 reaches #3 only; local's #1 is untouched.
        let mut done = task(1, TaskStatus::Succeeded);
        done.usage.output_tokens = 9;
        update(
            &mut state,
            3,
            on(
                "gpu",
                Mirror {
                    tasks: vec![done],
                    events: vec![(1, text("!"))],
                    ..Mirror::default()
                },
            ),
        );
        assert_eq!(state.task(1).unwrap().status, TaskStatus::Running);
        let far = state.task(3).unwrap();
        assert_eq!(far.status, TaskStatus::Succeeded);
        assert_eq!(far.transcript.entries().next(), Some(&text("far!")));

        // gpu's link drops: its tasks stay as last seen, its row says why.
        let down = LinkStatus::Down {
            message: "host gpu: Connection closed".into(),
            retry_in_ms: Some(250),
        };
        update(
            &mut state,
            4,
            on(
                "gpu",
                Mirror {
                    link: Some(down.clone()),
                    ..Mirror::default()
                },
            ),
        );
        assert_eq!(state.tasks.len(), 4);
        let links: Vec<_> = state
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), &h.status))
            .collect();
        assert_eq!(links, vec![("local", &LinkStatus::Live), ("gpu", &down)]);

        // Its fresh snapshot replaces gpu's tasks only: 5 was deleted
        // meanwhile, a new 6 came; the transcript is the snapshot's.
        let step = update(
            &mut state,
            5,
            on(
                "gpu",
                Mirror {
                    events: vec![(1, text("again"))],
                    ..snapshot(vec![
                        task(1, TaskStatus::Succeeded),
                        task(6, TaskStatus::Running),
                    ])
                },
            ),
        );
        assert_eq!(step.published, vec![(3, text("again"))]);
        let ids: Vec<_> = rows(&state).into_iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(
            ids,
            vec![
                (1, "local".to_string()),
                (2, "local".into()),
                (3, "gpu".into()),
                (6, "gpu".into())
            ]
        );
        assert_eq!(
            state
                .task(3)
                .unwrap()
                .transcript
                .entries()
                .collect::<Vec<_>>(),
            vec![&text("again")]
        );
        assert_eq!(state.hosts[1].status, LinkStatus::Live);

        // Local's next task is 3 on its server: taken here, so it gets
        // the next free id; a deletion and a review find their task.
        update(
            &mut state,
            6,
            on(
                "local",
                Mirror {
                    tasks: vec![task(3, TaskStatus::Running)],
                    ..Mirror::default()
                },
            ),
        );
        assert_eq!(state.task(7).unwrap().host.as_deref(), Some("local"));
        assert_eq!(state.task(7).unwrap().title(), "task 3");
        let report = crate::core::review::ReviewReport {
            task: 3,
            op: crate::core::review::ReviewOp::Refresh,
            result: Err("no worktree".into()),
        };
        let step = update(
            &mut state,
            7,
            on(
                "local",
                Mirror {
                    deleted: vec![2],
                    reviews: vec![report],
                    ..Mirror::default()
                },
            ),
        );
        assert_eq!(step.deleted, vec![2]);
        assert_eq!(step.reviews.len(), 1);
        assert_eq!(step.reviews[0].task, 7);
        assert!(state.task(2).is_none());
        assert_eq!(state.task(3).unwrap().host.as_deref(), Some("gpu"));
        // Lookups by id still work on the merged list.
        for t in &state.tasks {
            assert_eq!(state.task(t.id).map(|x| x.id), Some(t.id));
        }
    }
}
