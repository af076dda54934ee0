//! The task store: what goes in comes back out, through the recorder that
//! front ends use and through the files a later corral reads.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use corral::agent::{AgentKind, AgentOptions, Answer};
use corral::core::event::{AgentEvent, Question, QuestionKind, Usage};
use corral::core::task::{Budget, TaskSpec, TaskStatus};
use corral::core::{Command, Effect, Event, ExitInfo, Limits, Settings, State, TaskId};
use corral::driver::Driver;
use corral::logging::REDACTED;
use corral::store::{ProcessId, Recorder, Store, TaskRecord};

fn spec(prompt: &str) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Claude,
        prompt: prompt.into(),
        title: None,
        cwd: "/srv/app".into(),
        options: AgentOptions {
            model: Some("opus".into()),
            env: vec![
                ("CORRAL_TEST_API_KEY".into(), "sk-test-0123456789".into()),
                ("MODE".into(), "fast".into()),
            ],
            ..AgentOptions::default()
        },
        limits: Limits {
            idle_timeout_ms: Some(5_000),
            wall_timeout_ms: None,
        },
        profile: Some("claude".into()),
        budget: Budget {
            max_cost_usd: Some(1.5),
            ..Budget::default()
        },
        worktree: false,
    }
}

/// The driver every front end uses, recording into `store`; its effects
/// are kept, not carried out.
fn driver(store: &Store, settings: Settings) -> Driver<Vec<Effect>> {
    let recorder = Recorder::start(store.clone()).unwrap();
    Driver::new(State::new(settings), Some(recorder), Vec::new())
}

/// One step as a front end takes it (a launch gets its store id as the
/// front ends' launches do); returns the step's effects.
fn step(d: &mut Driver<Vec<Effect>>, now: u64, event: Event) -> Vec<Effect> {
    match event {
        Event::Command(Command::Launch {
            spec,
            store_id: None,
        }) => {
            d.launch(now, *spec);
        }
        event => {
            d.step(now, event);
        }
    }
    std::mem::take(&mut d.executor)
}

fn agent(d: &mut Driver<Vec<Effect>>, task: TaskId, event: AgentEvent) {
    step(d, 2_000, Event::Agent { task, event });
}

fn recorder(d: &Driver<Vec<Effect>>) -> &Recorder {
    d.recorder().expect("a recorder")
}

fn question() -> Question {
    Question {
        id: "req-7".into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: json!({"command": "rm -rf build"}),
        tool_use_id: None,
        questions: vec![],
    }
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_recorded_task_comes_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tasks")).unwrap();
    // Headless: the run ends when the agent exits (the TUI keeps sessions open).
    let mut d = driver(
        &store,
        Settings {
            end_after_turn: true,
            ..Settings::default()
        },
    );
    let fx = step(
        &mut d,
        1_000,
        Event::Command(Command::launch(spec("fix the flaky test\nand more"))),
    );
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]));
    let task = d.state().tasks[0].id;
    let id = recorder(&d)
        .store_id(task)
        .expect("recorded at launch")
        .to_string();
    assert_eq!(id.len(), 8);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(recorder(&d).task_id(&id), Some(task));

    agent(
        &mut d,
        task,
        AgentEvent::Session {
            session_id: "sess-42".into(),
            model: Some("claude-opus".into()),
            cwd: None,
            agent: "claude".into(),
        },
    );
    agent(&mut d, task, AgentEvent::Question(question()));
    recorder(&d).flush();
    let blocked = store.load(&id).unwrap();
    assert_eq!(blocked.status, TaskStatus::Blocked);
    assert_eq!(blocked.pending_question.as_ref().unwrap().id, "req-7");

    step(
        &mut d,
        2_500,
        Event::Command(Command::Answer {
            task,
            answer: Answer::Deny {
                message: "not that".into(),
            },
        }),
    );
    agent(
        &mut d,
        task,
        AgentEvent::Usage(Usage {
            input_tokens: 100,
            output_tokens: 20,
            cost_usd: Some(0.25),
            ..Usage::default()
        }),
    );
    agent(
        &mut d,
        task,
        AgentEvent::TurnEnd {
            is_error: false,
            result: Some("done".into()),
            api_error_status: None,
            num_turns: Some(1),
            permission_denials: vec![],
            terminal_reason: None,
            api_error_type: None,
        },
    );
    step(
        &mut d,
        4_000,
        Event::Exited {
            task,
            exit: ExitInfo {
                code: Some(0),
                signal: None,
                killed_outside_group: 0,
            },
        },
    );
    recorder(&d).flush();

    let r: TaskRecord = store.load(&id).unwrap();
    assert_eq!(r.status, TaskStatus::Succeeded);
    assert_eq!(r.title, "fix the flaky test");
    assert_eq!(r.prompt, "fix the flaky test\nand more");
    assert_eq!(r.profile.as_deref(), Some("claude"));
    assert_eq!(r.agent, "claude");
    assert_eq!(r.cwd, std::path::PathBuf::from("/srv/app"));
    assert_eq!(r.options.model.as_deref(), Some("opus"));
    assert_eq!(r.limits.idle_timeout_ms, Some(5_000));
    assert_eq!(r.limits.max_cost_usd, Some(1.5));
    assert_eq!((r.started_ms, r.finished_ms), (Some(1_000), Some(4_000)));
    assert_eq!(r.session_id.as_deref(), Some("sess-42"));
    assert_eq!(r.model.as_deref(), Some("claude-opus"));
    assert_eq!(r.usage.input_tokens, 100);
    assert_eq!(r.usage.cost_usd, Some(0.25));
    assert_eq!(r.result.as_deref(), Some("done"));
    assert_eq!(r.exit.as_ref().unwrap().code, Some(0));
    assert_eq!(r.runs, 1);
    assert_eq!(r.pending_question, None);
    assert_eq!(r.questions.len(), 1);
    let answer = r.questions[0].answer.as_ref().expect("the answer is kept");
    assert_eq!(
        (answer.decision.as_str(), answer.by.as_str()),
        ("deny", "user")
    );
    assert_eq!(answer.message.as_deref(), Some("not that"));
    assert_eq!(r.owner, ProcessId::current());

    // Secrets never reach the store.
    let text = std::fs::read_to_string(store.task_dir(&id).join("task.json")).unwrap();
    assert!(!text.contains("sk-test-0123456789"), "{text}");
    assert!(
        r.options
            .env
            .contains(&("CORRAL_TEST_API_KEY".into(), REDACTED.into()))
    );
    assert!(r.options.env.contains(&("MODE".into(), "fast".into())));

    // The run's canonical events, in order, as `corral run --json` prints them.
    let events = store.read_events(&id, 1);
    assert!(matches!(
        events.first(),
        Some(AgentEvent::UserMessage { .. })
    ));
    assert!(matches!(events.get(1), Some(AgentEvent::Session { .. })));
    assert!(matches!(events.last(), Some(AgentEvent::Finished(_))));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, AgentEvent::Answered { decision, .. } if decision == "deny"))
    );

    // A server's welcome lists it as a summary: what its row shows, not
    // the prompt's rest, the options, the questions or the result; a
    // cockpit rebuilds the same row from it and asks for the rest (and the
    // transcript) when the task is opened.
    let s = r.summary();
    assert_eq!(
        (s.id.as_str(), s.title.as_str(), s.agent.as_str(), s.status),
        (
            id.as_str(),
            "fix the flaky test",
            "claude",
            TaskStatus::Succeeded
        )
    );
    assert_eq!(s.prompt, "fix the flaky test");
    assert_eq!(
        (s.started_ms, s.finished_ms, s.runs, &s.usage, &s.model),
        (r.started_ms, r.finished_ms, r.runs, &r.usage, &r.model)
    );
    assert_eq!(s.options, AgentOptions::default());
    assert!(s.questions.is_empty() && s.result.is_none());
    let view = corral::server::protocol::TaskView {
        task: s,
        n: 12,
        core: None,
        events: Vec::new(),
        omitted: 0,
    };
    let line = serde_json::to_string(&view).unwrap();
    assert!(
        !line.contains("sk-test") && !line.contains("and more"),
        "{line}"
    );
    let row = corral::tui::host_link::mirror_task(&serde_json::from_str(&line).unwrap())
        .expect("a claude task");
    assert_eq!(row.id, 12);
    assert_eq!(row.title(), "fix the flaky test");
    assert_eq!(row.status, TaskStatus::Succeeded);
    assert_eq!(row.usage.cost_usd, Some(0.25));
    assert_eq!(row.elapsed_ms(9_000), 3_000);
    assert_eq!(row.short_id.as_deref(), Some(id.as_str()));

    // Private: 0700 directories, 0600 files.
    assert_eq!(mode(store.dir()), 0o700);
    assert_eq!(mode(&store.task_dir(&id)), 0o700);
    assert_eq!(mode(&store.task_dir(&id).join("task.json")), 0o600);
    assert_eq!(mode(&store.events_path(&id, 1)), 0o600);
}

#[test]
fn a_restarted_front_end_adopts_tasks_and_retries_them_as_new_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tasks")).unwrap();
    let id = {
        let mut d = driver(&store, Settings::default());
        step(
            &mut d,
            1_000,
            Event::Command(Command::launch(spec("build it"))),
        );
        let task = d.state().tasks[0].id;
        agent(
            &mut d,
            task,
            AgentEvent::Text {
                text: "working".into(),
                delta: false,
            },
        );
        step(
            &mut d,
            2_000,
            Event::SpawnFailed {
                task,
                message: "gone".into(),
            },
        );
        recorder(&d).flush();
        recorder(&d).store_id(task).unwrap().to_string()
    };
    // A new corral: the task is adopted from its record alone (a start
    // reads no transcript); its history is read when it is opened.
    let record = store.load(&id).unwrap();
    assert_eq!(record.status, TaskStatus::Failed);
    let mut d = driver(&store, Settings::default());
    // The redacted key comes back from the environment only if it is set.
    let task = d.adopt(3_000, &record, None).expect("claude can run");
    let t = d.state().task(task).unwrap();
    assert_eq!(t.status, TaskStatus::Failed);
    assert!(t.transcript.is_empty());
    assert!(d.load_transcript(3_500, task));
    assert!(!d.load_transcript(3_600, task), "read once");
    let t = d.state().task(task).unwrap();
    assert!(
        t.transcript
            .entries()
            .any(|e| matches!(e, AgentEvent::Text { text, .. } if text == "working"))
    );
    assert!(
        !t.spec
            .options
            .env
            .iter()
            .any(|(k, _)| k == "CORRAL_TEST_API_KEY")
    );
    assert_eq!(recorder(&d).store_id(task), Some(id.as_str()));

    let fx = step(&mut d, 5_000, Event::Command(Command::Retry { task }));
    assert!(matches!(fx.as_slice(), [Effect::Spawn { .. }]));
    agent(
        &mut d,
        task,
        AgentEvent::Text {
            text: "second run".into(),
            delta: false,
        },
    );
    recorder(&d).flush();
    let r = store.load(&id).unwrap();
    assert_eq!(r.runs, 2);
    assert_eq!(r.status, TaskStatus::Running);
    assert_eq!(r.created_ms, record.created_ms, "same task");
    assert!(
        matches!(store.read_events(&id, 2).as_slice(),
            [AgentEvent::UserMessage { text: prompt }, AgentEvent::Text { text, .. }]
                if prompt == "build it" && text == "second run"),
        "run 2 has its own file, starting with the prompt it was given"
    );
    assert!(
        store
            .read_events(&id, 1)
            .iter()
            .any(|e| matches!(e, AgentEvent::Finished(_)))
    );

    // Archive and delete go through the core and reach the files.
    step(
        &mut d,
        6_000,
        Event::Exited {
            task,
            exit: ExitInfo {
                code: Some(1),
                signal: None,
                killed_outside_group: 0,
            },
        },
    );
    step(
        &mut d,
        6_001,
        Event::Command(Command::Archive {
            task,
            archived: true,
        }),
    );
    recorder(&d).flush();
    assert!(store.load(&id).unwrap().archived);
    step(&mut d, 6_002, Event::Command(Command::Delete { task }));
    recorder(&d).flush();
    assert!(!store.task_dir(&id).exists());
    assert!(store.list().0.is_empty());
}

#[test]
fn a_torn_last_event_line_is_skipped_and_damage_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tasks")).unwrap();
    let mut d = driver(&store, Settings::default());
    step(&mut d, 1, Event::Command(Command::launch(spec("a"))));
    step(&mut d, 1, Event::Command(Command::launch(spec("b"))));
    agent(
        &mut d,
        1,
        AgentEvent::Text {
            text: "whole".into(),
            delta: false,
        },
    );
    recorder(&d).flush();
    let a = recorder(&d).store_id(1).unwrap().to_string();
    let b = recorder(&d).store_id(2).unwrap().to_string();
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(store.events_path(&a, 1))
        .unwrap();
    let whole = store.read_events(&a, 1).len();
    assert_eq!(whole, 2, "the prompt and the text");
    f.write_all(br#"{"type":"text","text":"half"#).unwrap();
    assert_eq!(store.read_events(&a, 1).len(), whole);
    // A damaged record is reported by `list`, and the rest still lists.
    std::fs::write(store.task_dir(&b).join("task.json"), b"{ not json").unwrap();
    let (records, problems) = store.list();
    assert_eq!(
        records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [a.as_str()]
    );
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains(&b), "{problems:?}");
}

#[test]
fn ids_are_found_by_unique_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tasks")).unwrap();
    let mut d = driver(&store, Settings::default());
    for p in ["one", "two", "three"] {
        step(&mut d, 1, Event::Command(Command::launch(spec(p))));
    }
    recorder(&d).flush();
    let id = recorder(&d).store_id(2).unwrap().to_string();
    assert_eq!(store.find(&id).unwrap().title, "two");
    // The shortest prefix that is unique among the three.
    let unique = (1..=8)
        .map(|n| &id[..n])
        .find(|p| {
            (1..=3)
                .filter(|t| recorder(&d).store_id(*t).unwrap().starts_with(p))
                .count()
                == 1
        })
        .unwrap();
    assert_eq!(store.find(unique).unwrap().id, id);
    assert!(
        store
            .find("zzzzzzzzz")
            .unwrap_err()
            .to_string()
            .contains("no task")
    );
    assert!(store.find("").is_err());
}

#[test]
fn a_running_task_is_locked_by_its_recorder_until_its_final_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tasks")).unwrap();
    let mut d = driver(&store, Settings::default());
    step(
        &mut d,
        1_000,
        Event::Command(Command::launch(spec("hold it"))),
    );
    let task = d.state().tasks[0].id;
    recorder(&d).flush();
    let id = recorder(&d).store_id(task).unwrap().to_string();
    assert!(store.owned_elsewhere(&id), "the running task is locked");
    // Recovery leaves it alone, and so does another recorder that adopts it.
    assert!(store.recover().interrupted.is_empty());
    let before = store.load(&id).unwrap();
    assert!(!before.status.is_final());
    {
        let mut other = driver(&store, Settings::default());
        let mut forged = before.clone();
        forged.status = TaskStatus::Running;
        forged.title = "rewritten by another corral".into();
        assert_eq!(other.adopt(1, &forged, None), None);
        assert!(other.state().tasks.is_empty());
        recorder(&other).flush();
    }
    assert_eq!(store.load(&id).unwrap().title, before.title);

    step(
        &mut d,
        2_000,
        Event::SpawnFailed {
            task,
            message: "gone".into(),
        },
    );
    recorder(&d).flush();
    assert_eq!(store.load(&id).unwrap().status, TaskStatus::Failed);
    assert!(!store.owned_elsewhere(&id), "a finished task holds no lock");
}
