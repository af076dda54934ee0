//! View snapshots of the cockpit at 80x24 and 160x48, drawn into ratatui's
//! `TestBackend` from a core state built through the real `update`.

mod tui_support;

use corral::core::{Settings, State};
use corral::tui::app::Overlay;
use corral::tui::keymap::Action;
use ratatui::style::Color;
use tui_support::*;

fn select(app: &mut corral::tui::app::App, state: &State, id: u64) {
    app.sync(state);
    app.select(id);
}

#[test]
fn empty_screen_invites_a_first_task() {
    let state = State::new(Settings::default());
    let small = screen(&app(80, 24, true), &state);
    assert!(small.contains("press n to start one"), "{small}");
    insta::assert_snapshot!("empty_80x24", small);
    insta::assert_snapshot!("empty_160x48", screen(&app(160, 48, true), &state));
}

#[test]
fn tasks_in_every_status_with_a_live_transcript() {
    let state = busy_state();
    let mut a = app(80, 24, true);
    select(&mut a, &state, 2);
    let s = screen(&a, &state);
    for want in [
        "succeeded",
        "running",
        "failed",
        "killed",
        "blocked",
        "timed_out",
        "→ Bash cargo test -p parser",
    ] {
        assert!(s.contains(want), "missing {want}:\n{s}");
    }
    insta::assert_snapshot!("busy_80x24", s);
    let mut wide = app(160, 48, true);
    select(&mut wide, &state, 2);
    insta::assert_snapshot!("busy_160x48", screen(&wide, &state));
}

#[test]
fn failed_task_shows_retry_error_and_summary() {
    let state = busy_state();
    let mut a = app(80, 24, true);
    select(&mut a, &state, 3);
    let s = screen(&a, &state);
    assert!(s.contains("↻ retry 1/10 in 2.0s: 429 rate limited"), "{s}");
    assert!(s.contains("✗ failed"), "{s}");
    insta::assert_snapshot!("failed_80x24", s);
}

#[test]
fn a_question_put_aside_leaves_a_hint_and_the_row_on_top() {
    let state = busy_state();
    let mut a = app(80, 24, true);
    select(&mut a, &state, 5);
    // Put aside (Esc): no box, a hint on how to take it up again.
    a.deferred.insert("req-1".into());
    a.sync_answer(&state);
    let s = screen(&a, &state);
    assert!(s.contains("? Bash wants to run: rm -rf build"), "{s}");
    assert!(s.contains("waiting for you: Enter answers"), "{s}");
    let first_row = s.lines().nth(1).unwrap_or_default();
    assert!(first_row.contains("? 5   blocked"), "{first_row}");
    insta::assert_snapshot!("blocked_80x24", s);
}

#[test]
fn help_overlay_lists_every_key() {
    use corral::tui::keymap::HELP;
    let state = busy_state();
    // A small terminal: one column that scrolls; every row is reachable.
    let mut a = app(80, 24, true);
    a.handle(Action::Help, &state);
    let first = screen(&a, &state);
    assert!(first.contains("j k scroll"), "{first}");
    insta::assert_snapshot!("help_80x24", first);
    let mut seen = String::new();
    for _ in 0..HELP.len() {
        seen.push_str(&screen(&a, &state));
        a.handle(Action::ScrollDown(1), &state);
    }
    for (_, keys, what) in HELP {
        let start: String = what.chars().take(30).collect();
        assert!(
            seen.contains(keys) && seen.contains(&start),
            "help lacks {keys} {what}"
        );
    }
    let last = screen(&a, &state);
    a.handle(Action::ScrollDown(5), &state);
    assert_eq!(screen(&a, &state), last, "stops at the last row");
    a.handle(Action::Close, &state);
    assert!(matches!(a.overlay, Overlay::None));
    // A big terminal: everything at once, two columns, nothing cut.
    let mut wide = app(200, 60, true);
    wide.handle(Action::Help, &state);
    let s = screen(&wide, &state);
    for (_, keys, what) in HELP {
        assert!(
            s.contains(keys) && s.contains(what),
            "help lacks {what}:\n{s}"
        );
    }
    for key in ["y a n", "↑↓ j k", "Alt-Enter", "other keys", "b"] {
        assert!(s.contains(key), "help lacks {key}:\n{s}");
    }
    insta::assert_snapshot!("help_200x60", s);
}

#[test]
fn new_task_form_shows_fields_and_keys() {
    let state = State::new(Settings::default());
    let mut a = app(80, 24, true);
    a.handle(Action::NewTask, &state);
    if let Overlay::Form(f) = &mut a.overlay {
        f.paste("Fix the flaky test\nthen open a PR");
    }
    let s = screen(&a, &state);
    for want in [
        "Ctrl-S",
        "Esc",
        "claude",
        "directory",
        "permission",
        "Fix the flaky test",
    ] {
        assert!(s.contains(want), "form lacks {want}:\n{s}");
    }
    insta::assert_snapshot!("form_80x24", s);
    let mut wide = app(160, 48, true);
    wide.handle(Action::NewTask, &state);
    insta::assert_snapshot!("form_160x48", screen(&wide, &state));
}

#[test]
fn form_shows_a_missing_directory_inline() {
    let state = State::new(Settings::default());
    let mut a = app(80, 24, true);
    a.handle(Action::NewTask, &state);
    a.handle(Action::FormNext, &state);
    a.handle(Action::FormNext, &state);
    a.paste("/no/such/dir");
    let s = screen(&a, &state);
    assert!(s.contains("does not exist"), "{s}");
}

#[test]
fn grid_tiles_every_running_agent() {
    let mut state = busy_state();
    for i in 0..3 {
        let id = launch(&mut state, T0 + 10_000, &format!("Parallel job {i}"));
        agent(
            &mut state,
            T0 + 11_000,
            id,
            text(&format!("working on part {i}\nstill going")),
        );
    }
    let mut a = app(80, 24, true);
    a.handle(Action::ToggleGrid, &state);
    let s = screen(&a, &state);
    assert!(
        s.contains("Parallel job 2") && s.contains("still going"),
        "{s}"
    );
    assert!(
        !s.contains("Write a haiku"),
        "finished tasks are not tiled:\n{s}"
    );
    insta::assert_snapshot!("grid_80x24", s);
    let mut wide = app(160, 48, true);
    wide.handle(Action::ToggleGrid, &state);
    insta::assert_snapshot!("grid_160x48", screen(&wide, &state));
}

#[test]
fn kill_asks_for_y() {
    let state = busy_state();
    let mut a = app(80, 24, true);
    select(&mut a, &state, 2);
    assert_eq!(a.handle(Action::KillAsk, &state), vec![]);
    let s = screen(&a, &state);
    assert!(s.contains("Kill #2 claude"), "{s}");
    insta::assert_snapshot!("kill_confirm_80x24", s);
}

#[test]
fn a_cockpit_of_the_server_says_which_key_detaches_and_which_stops() {
    let empty = State::new(Settings::default());
    let mut a = app(80, 24, true);
    a.detach = true;
    let s = screen(&a, &empty);
    assert!(s.contains("q  detach: the agents go on"), "{s}");
    assert!(s.contains("Q  stop every agent and quit"), "{s}");
    assert!(s.contains("q detach") && s.contains("Q stop all"), "{s}");

    let state = busy_state();
    select(&mut a, &state, 2);
    // Q asks; the dialog names both ways out.
    assert_eq!(a.handle(Action::QuitAll, &state), vec![]);
    let s = screen(&a, &state);
    assert!(s.contains("Stop them all and quit?"), "{s}");
    assert!(s.contains("they go on"), "{s}");
    assert!(
        s.contains("y stop all, quit") && s.contains("q detach"),
        "{s}"
    );
    // Its second choice, the key q, detaches: nothing is killed.
    let q = corral::tui::keymap::map_key(key(crossterm::event::KeyCode::Char('q')), a.mode());
    assert_eq!(a.handle(q, &state), vec![]);
    assert!(a.exit && !a.quitting);
    // With --local, q there only closes the dialog.
    let mut local = app(80, 24, true);
    select(&mut local, &state, 2);
    local.handle(Action::QuitAll, &state);
    let q = corral::tui::keymap::map_key(key(crossterm::event::KeyCode::Char('q')), local.mode());
    assert_eq!(local.handle(q, &state), vec![]);
    assert!(!local.exit && matches!(local.overlay, Overlay::None));
}

#[test]
fn no_color_means_no_colour_anywhere() {
    let state = busy_state();
    let mut a = app(80, 24, false);
    select(&mut a, &state, 3);
    let term = draw(&a, &state);
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert!(
            cell.fg == Color::Reset && cell.bg == Color::Reset,
            "coloured cell {cell:?}"
        );
    }
    insta::assert_snapshot!("no_color_80x24", screen(&a, &state));
    // With colour, the same screen does use colour.
    let mut c = app(80, 24, true);
    select(&mut c, &state, 3);
    let term = draw(&c, &state);
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

#[test]
fn dropped_entries_are_marked() {
    let mut state = State::new(Settings {
        transcript_cap: 5,
        ..Settings::default()
    });
    let id = launch(&mut state, T0, "chatty");
    for i in 0..12 {
        agent(
            &mut state,
            T0 + i,
            id,
            corral::core::event::AgentEvent::Raw {
                line: format!("line {i}"),
            },
        );
    }
    let mut a = app(80, 24, true);
    select(&mut a, &state, id);
    let s = screen(&a, &state);
    assert!(s.contains("… 8 earlier entries dropped"), "{s}");
    assert!(s.contains("│ line 11") && !s.contains("│ line 6"), "{s}");
}

#[test]
fn agent_escape_sequences_never_reach_the_screen() {
    let mut state = State::new(Settings::default());
    let id = launch(&mut state, T0, "evil\u{1b}]0;title\u{7}");
    agent(
        &mut state,
        T0 + 1,
        id,
        text("\u{1b}[2J\u{1b}[Hgotcha\u{1b}]52;c;AAAA\u{7}"),
    );
    let mut a = app(80, 24, true);
    select(&mut a, &state, id);
    let term = draw(&a, &state);
    for cell in term.backend().buffer().content() {
        assert!(!cell.symbol().chars().any(|c| c.is_control()), "{cell:?}");
    }
    let s = screen(&a, &state);
    assert!(s.contains("gotcha"), "{s}");
}

/// A task blocked on `question`, selected, its answer box open.
fn blocked_on(question: corral::core::event::Question) -> (corral::tui::app::App, State) {
    let mut state = State::new(Settings::default());
    let id = launch(&mut state, T0, "Tidy the parser");
    agent(&mut state, T0 + 1_500, id, text("Let me look first."));
    agent(
        &mut state,
        T0 + 2_000,
        id,
        corral::core::event::AgentEvent::Question(question),
    );
    let mut a = app(80, 24, true);
    select(&mut a, &state, id);
    a.sync_answer(&state);
    (a, state)
}

fn approval(tool: &str, input: serde_json::Value) -> corral::core::event::Question {
    corral::core::event::Question {
        id: "req-1".into(),
        kind: corral::core::event::QuestionKind::Approval,
        tool: Some(tool.into()),
        input,
        tool_use_id: Some("toolu_1".into()),
        questions: vec![],
    }
}

/// Renders the same app and state at 80x24 and 160x48.
fn both_sizes(a: &mut corral::tui::app::App, state: &State) -> (String, String) {
    a.size = ratatui::layout::Rect::new(0, 0, 80, 24);
    let small = screen(a, state);
    a.size = ratatui::layout::Rect::new(0, 0, 160, 48);
    let wide = screen(a, state);
    (small, wide)
}

/// The real claude against a loopback model asks within its first second
/// (session, text, tool call, question about 0.8 s after the start): the
/// blocked row says that time, still, not `0ms` (it was cut to whole
/// seconds like a running row).
#[test]
fn an_agent_that_asks_in_its_first_second_shows_how_long_it_ran() {
    use corral::core::event::AgentEvent;
    let mut state = State::new(Settings::default());
    let id = launch(&mut state, T0, "touch the marker file");
    agent(
        &mut state,
        T0 + 450,
        id,
        AgentEvent::Session {
            session_id: "27f86ec5".into(),
            model: Some("claude-opus-4-8".into()),
            cwd: None,
            agent: "claude".into(),
        },
    );
    agent(
        &mut state,
        T0 + 600,
        id,
        text("Let me create a marker file."),
    );
    let command = serde_json::json!({"command": "touch corral-approval-marker.txt"});
    agent(
        &mut state,
        T0 + 700,
        id,
        AgentEvent::ToolCall {
            id: "toolu_1".into(),
            name: "Bash".into(),
            input: command.clone(),
        },
    );
    agent(
        &mut state,
        T0 + 802,
        id,
        AgentEvent::Question(approval("Bash", command)),
    );
    let mut a = app(80, 24, true);
    for now in [T0 + 900, T0 + 9_000, T0 + 600_000] {
        a.now_ms = now;
        let s = screen(&a, &state);
        let row = s.lines().nth(1).unwrap_or_default();
        assert!(
            row.contains("blocked") && row.contains("802ms"),
            "at {now}: {row}"
        );
    }
}

#[test]
fn a_bash_approval_shows_the_whole_command_wrapped_and_the_keys() {
    let (mut a, state) = blocked_on(approval(
        "Bash",
        serde_json::json!({
            "command": "rm -rf build && cargo build --release --all-features --target x86_64-unknown-linux-gnu\ncargo test",
            "description": "Rebuild from scratch"
        }),
    ));
    let (s, wide) = both_sizes(&mut a, &state);
    for want in [
        "allow Bash?",
        "$ rm -rf build && cargo build --release --all-features --target",
        "  x86_64-unknown-linux-gnu",
        "  cargo test",
        "# Rebuild from scratch",
        "y allow once",
        "a always: this command, this task",
        "n deny",
    ] {
        assert!(s.contains(want), "missing {want}:\n{s}");
    }
    assert!(
        s.contains("Let me look first."),
        "the agent's last words stay above the box:\n{s}"
    );
    assert!(
        wide.contains("# Rebuild from scratch") && wide.contains("  cargo test"),
        "{wide}"
    );
    insta::assert_snapshot!("approve_bash_80x24", s);
    insta::assert_snapshot!("approve_bash_160x48", wide);
}

#[test]
fn an_edit_approval_shows_the_file_and_the_change_as_a_unified_diff() {
    let (mut a, state) = blocked_on(approval(
        "Edit",
        serde_json::json!({
            "file_path": "src/parser.rs",
            "old_string": "fn parse(s: &str) -> Ast {\n    let n = 1;\n    let m = n;\n    build(n, m)\n}",
            "new_string": "fn parse(s: &str) -> Ast {\n    let n = 2;\n    let m = n * 2;\n    build(n, m)\n}"
        }),
    ));
    let (s, wide) = both_sizes(&mut a, &state);
    for want in [
        "allow Edit?",
        "src/parser.rs",
        "  fn parse(s: &str) -> Ast {",
        "-     let n = 1;",
        "-     let m = n;",
        "+     let n = 2;",
        "+     let m = n * 2;",
        "      build(n, m)",
        "a always: this tool, this task",
    ] {
        assert!(s.contains(want), "missing {want}:\n{s}");
    }
    // Removed lines red, added green.
    let term = draw(&a, &state);
    let buf = term.backend().buffer();
    let colour_of = |needle: &str| {
        let y = (0..buf.area.height)
            .find(|&y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains(needle)
            })
            .expect(needle);
        let x = (0..buf.area.width)
            .find(|&x| buf[(x, y)].symbol() == needle.chars().next().unwrap().to_string())
            .expect("marker");
        buf[(x, y)].fg
    };
    assert_eq!(colour_of("-     let n = 1;"), Color::Red);
    assert_eq!(colour_of("+     let n = 2;"), Color::Green);
    insta::assert_snapshot!("approve_edit_80x24", s);
    insta::assert_snapshot!("approve_edit_160x48", wide);
}

#[test]
fn a_long_new_file_is_cut_to_fit_and_says_how_much_more() {
    let content: String = (1..=60)
        .map(|i| format!("line {i} of the new file\n"))
        .collect();
    let (a, state) = blocked_on(approval(
        "Write",
        serde_json::json!({"file_path": "docs/NEW.md", "content": content}),
    ));
    let s = screen(&a, &state);
    for want in [
        "docs/NEW.md  60 lines",
        "+ line 1 of the new file",
        "more lines",
    ] {
        assert!(s.contains(want), "missing {want}:\n{s}");
    }
    assert!(!s.contains("line 60 of"), "{s}");
    assert!(s.contains("y allow once"), "the keys always show:\n{s}");
    insta::assert_snapshot!("approve_write_80x24", s);
}

#[test]
fn several_questions_with_a_multi_select_are_a_list() {
    use corral::core::event::{Question, QuestionItem, QuestionKind, QuestionOption};
    let option = |l: &str| QuestionOption {
        label: l.into(),
        description: Some(format!("the {l} one")),
    };
    let (mut a, state) = blocked_on(Question {
        id: "req-2".into(),
        kind: QuestionKind::Question,
        tool: Some("AskUserQuestion".into()),
        input: serde_json::json!({}),
        tool_use_id: None,
        questions: vec![
            QuestionItem {
                question: "Which channel?".into(),
                header: Some("Channel".into()),
                options: vec![option("stable"), option("beta")],
                multi_select: false,
            },
            QuestionItem {
                question: "Which targets?".into(),
                header: Some("Build".into()),
                options: vec![option("linux"), option("mac"), option("windows")],
                multi_select: true,
            },
        ],
    });
    let press = |a: &mut corral::tui::app::App, code| {
        a.handle(Action::BoxKey(key(code)), &state);
    };
    use crossterm::event::KeyCode;
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Char(' '));
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Down);
    press(&mut a, KeyCode::Char(' '));
    let (s, wide) = both_sizes(&mut a, &state);
    for want in [
        "the agent asks (2/2)",
        "✓ Which channel? → beta",
        "[Build] Which targets?",
        "[x] 1. linux — the linux one",
        "[ ] 2. mac",
        "› [x] 3. windows",
        "other: type your own answer…",
        "Space tick",
    ] {
        assert!(s.contains(want), "missing {want}:\n{s}");
    }
    insta::assert_snapshot!("question_multi_80x24", s);
    insta::assert_snapshot!("question_multi_160x48", wide);
}

#[test]
fn the_follow_up_line_and_a_waiting_row_on_top() {
    let state = busy_state();
    let mut a = app(80, 24, true);
    select(&mut a, &state, 1);
    a.handle(Action::Compose, &state);
    for c in "now add docs".chars() {
        a.handle(
            Action::BoxKey(key(crossterm::event::KeyCode::Char(c))),
            &state,
        );
    }
    a.handle(
        Action::BoxKey(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Enter,
            crossterm::event::KeyModifiers::ALT,
        )),
        &state,
    );
    for c in "and a changelog".chars() {
        a.handle(
            Action::BoxKey(key(crossterm::event::KeyCode::Char(c))),
            &state,
        );
    }
    let (s, wide) = both_sizes(&mut a, &state);
    assert!(
        s.contains("message to #1 claude")
            && s.contains("now add docs")
            && s.contains("and a changelog"),
        "{s}"
    );
    assert!(
        s.contains("no data races here."),
        "the transcript stays above the line:\n{s}"
    );
    let first_row = s.lines().nth(1).unwrap_or_default();
    assert!(
        first_row.contains("blocked"),
        "waiting tasks float up: {first_row}"
    );
    assert!(s.contains("1 waiting for you"), "{s}");
    insta::assert_snapshot!("follow_up_80x24", s);
    insta::assert_snapshot!("follow_up_160x48", wide);
}

fn key(code: crossterm::event::KeyCode) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(code, crossterm::event::KeyModifiers::NONE)
}

#[test]
fn a_runaway_process_tree_shows_in_its_row_and_the_pane_header() {
    use corral::core::Event;
    use corral::core::task::ProcCost;
    let mut state = State::new(Settings::default());
    let calm = launch(&mut state, T0, "read the docs");
    let hot = launch(&mut state, T0, "build the thing");
    let sample = vec![
        (
            calm,
            ProcCost {
                cpu_percent: 3,
                rss_kib: 80_000,
                processes: 1,
            },
        ),
        (
            hot,
            ProcCost {
                cpu_percent: 187,
                rss_kib: 1_258_291,
                processes: 4,
            },
        ),
    ];
    corral::core::update(&mut state, T0 + 1_000, Event::ProcCosts(sample));
    let mut a = app(120, 30, true);
    select(&mut a, &state, hot);
    let s = screen(&a, &state);
    assert!(s.contains("cpu   mem"), "{s}");
    assert!(s.contains("187%  1.2G"), "{s}");
    assert!(s.contains("3%   78M"), "{s}");
    assert!(s.contains("4 processes · 187% cpu · 1.2G"), "{s}");
    insta::assert_snapshot!("runaway_120x30", s);
    // The hot tree's CPU is a warning; the calm one's is not.
    let term = draw(&a, &state);
    let buf = term.backend().buffer();
    let cell_of = |needle: &str| {
        let (row, line) = s
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains(needle) && l.contains('%'))
            .unwrap_or_else(|| panic!("no row with {needle}:\n{s}"));
        let col = line[..line.find('%').unwrap()].chars().count() as u16;
        buf[(col, row as u16)].fg
    };
    assert_eq!(cell_of("build the thing"), Color::Yellow);
    assert_ne!(cell_of("read the docs"), Color::Yellow);
    // At 80 columns the row keeps its CPU and leaves the memory to the
    // pane's header.
    let mut narrow = app(80, 24, true);
    select(&mut narrow, &state, hot);
    let s = screen(&narrow, &state);
    let row = s
        .lines()
        .find(|l| l.contains("build the thing") && !l.starts_with('─'))
        .unwrap();
    assert!(row.contains(" 187%") && !row.contains("1.2G"), "{s}");
    assert!(s.contains("4 processes · 187% cpu"), "{s}");
}

/// The cockpit over two hosts: a host column, each host's tasks in the
/// one list, a host that is down as a row with its message, the waiting
/// count over both, and the pane's title naming the host.
#[test]
fn tasks_of_several_hosts_with_a_host_column_and_a_host_that_is_down() {
    use corral::core::task::{Task, TaskStatus};
    use corral::core::{Event, LinkStatus, Mirror, update};
    let task = |id: u64, prompt: &str, status: TaskStatus| {
        let mut t = Task::new(id, spec(prompt), 100);
        t.status = status;
        t.short_id = Some(format!("{id:08x}"));
        t
    };
    let mut state = State::new(Settings::default());
    let mirror = |state: &mut State, host: &str, m: Mirror| {
        update(
            state,
            T0,
            Event::Mirror(Box::new(Mirror {
                host: Some(host.into()),
                ..m
            })),
        );
    };
    let live = |tasks| Mirror {
        reset: true,
        link: Some(LinkStatus::Live),
        tasks,
        ..Mirror::default()
    };
    mirror(
        &mut state,
        "local",
        live(vec![task(1, "here", TaskStatus::Blocked)]),
    );
    mirror(
        &mut state,
        "gpu",
        live(vec![task(1, "there", TaskStatus::Blocked)]),
    );
    mirror(
        &mut state,
        "ci",
        Mirror {
            link: Some(LinkStatus::Down {
                message: "host ci: ssh: connect to host ci-box port 22: Connection refused".into(),
                retry_in_ms: Some(8000),
            }),
            ..Mirror::default()
        },
    );
    let mut a = app(100, 24, false);
    select(&mut a, &state, 2);
    let s = screen(&a, &state);
    let line = |what: &str| {
        s.lines()
            .find(|l| l.contains(what))
            .unwrap_or("")
            .to_string()
    };
    assert!(line("  #").contains("host"), "{s}");
    assert!(line("here").contains("local"), "{s}");
    assert!(line("there").contains("gpu"), "{s}");
    assert!(line("there").contains(" 2 "), "{s}");
    assert!(
        line("ci ").contains("down")
            && line("ci ").contains("ssh: connect to host ci-box port 22: Connection refused")
            && !line("ci ").contains("host ci:"),
        "{s}"
    );
    assert!(s.contains("2 waiting for you"), "{s}");
    assert!(s.contains("1 host down"), "{s}");
    assert!(s.contains("#2 gpu · claude · there"), "{s}");
    // gpu's link drops: its task stays, dimmed (as last seen).
    mirror(
        &mut state,
        "gpu",
        Mirror {
            link: Some(LinkStatus::Down {
                message: "host gpu: Connection closed by 127.0.0.1 port 22".into(),
                retry_in_ms: Some(250),
            }),
            ..Mirror::default()
        },
    );
    let mut a = app(100, 24, true);
    select(&mut a, &state, 1);
    let term = draw(&a, &state);
    let buf = term.backend().buffer();
    let row_of = |text: &str| {
        (0..buf.area.height)
            .find(|&y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains(text)
            })
            .unwrap()
    };
    let dim = |y: u16| {
        buf[(13, y)]
            .modifier
            .contains(ratatui::style::Modifier::DIM)
    };
    assert!(dim(row_of("there")), "gpu's task is dimmed");
    assert!(!dim(row_of(" here ")), "local's is not");
    assert!(screen(&a, &state).contains("2 hosts down"));
    // With only this machine there is no host column.
    let mut one = State::new(Settings::default());
    update(
        &mut one,
        T0,
        Event::Mirror(Box::new(Mirror {
            host: Some("local".into()),
            ..live(vec![task(1, "here", TaskStatus::Blocked)])
        })),
    );
    let s = screen(&app(100, 24, false), &one);
    assert!(!s.lines().next().unwrap_or("").contains("host"), "{s}");
}

#[test]
fn a_four_digit_task_number_keeps_its_column_apart_from_the_status() {
    let mut s = State::new(Settings::default());
    let mut last = 0;
    for n in 0..1000 {
        last = launch(&mut s, T0 + n, &format!("task {n}"));
        exit(&mut s, T0 + n + 1, last, Some(0), None);
    }
    assert_eq!(last, 1000);
    let mut a = app(100, 24, false);
    a.select(last);
    let screen = screen(&a, &s);
    let row = screen
        .lines()
        .find(|l| l.contains("task 999"))
        .unwrap_or_else(|| panic!("no row of task 1000:\n{screen}"));
    assert!(row.contains("1000 failed"), "{row}");
    let header = screen.lines().next().unwrap_or_default();
    // The header's columns move with the rows'.
    let column = |line: &str, word: &str| line.find(word).map(|at| line[..at].chars().count());
    assert_eq!(column(header, "status"), column(row, "failed"), "{screen}");
}
