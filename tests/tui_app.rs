//! UI state behaviour: following the tail, scrolling back while the stream
//! goes on, search, mouse selection, kill and quit confirmations (open
//! sessions of finished tasks included), the form
//! launching a task, and the raw view through the VT emulator.

mod tui_support;

use corral::core::event::AgentEvent;
use corral::core::{Command, Event, Settings, State, update};
use corral::tui::app::{App, Intent, Overlay};
use corral::tui::keymap::{Action, Mode};
use tui_support::*;

fn chatty(lines: usize) -> (State, u64) {
    let mut s = State::new(Settings::default());
    let id = launch(&mut s, T0, "chatty");
    for i in 0..lines {
        agent(
            &mut s,
            T0 + i as u64,
            id,
            AgentEvent::Raw {
                line: format!("out {i}"),
            },
        );
    }
    (s, id)
}

#[test]
fn the_pane_follows_the_tail_until_scrolled_back() {
    let (mut s, id) = chatty(100);
    let mut a = app(80, 24, true);
    a.sync(&s);
    assert!(screen(&a, &s).contains("│ out 99"));
    a.handle(Action::PageUp, &s);
    let back = screen(&a, &s);
    assert!(!back.contains("│ out 99"), "{back}");
    assert!(back.contains("End follows"), "{back}");
    // New output arrives: the view stays where the user put it.
    agent(
        &mut s,
        T0 + 500,
        id,
        AgentEvent::Raw {
            line: "fresh".into(),
        },
    );
    assert_eq!(screen(&a, &s), back.replace("/101", "/102"));
    // End resumes following, and the new line shows.
    a.handle(Action::End, &s);
    let tail = screen(&a, &s);
    assert!(
        tail.contains("│ fresh") && tail.contains("following"),
        "{tail}"
    );
    // Scrolling down to the bottom also resumes following.
    a.handle(Action::ScrollUp(3), &s);
    assert!(!a.pane(id).follow);
    a.handle(Action::ScrollDown(3), &s);
    assert!(a.pane(id).follow);
    a.handle(Action::Home, &s);
    assert!(screen(&a, &s).contains("│ out 0"));
}

#[test]
fn search_jumps_between_matches_and_wraps() {
    let (s, id) = chatty(200);
    let mut a = app(80, 24, true);
    a.sync(&s);
    a.handle(Action::SearchStart, &s);
    assert_eq!(a.mode(), Mode::Search);
    for c in "out 1".chars() {
        a.handle(Action::SearchChar(c), &s);
    }
    a.handle(Action::SearchSubmit, &s);
    assert_eq!(a.mode(), Mode::Found);
    let first = a.search.as_ref().and_then(|x| x.current).expect("a match");
    assert!(!a.pane(id).follow, "a match scrolls the pane");
    a.handle(Action::SearchNext, &s);
    let second = a.search.as_ref().and_then(|x| x.current).unwrap();
    assert_ne!(first, second);
    a.handle(Action::SearchPrev, &s);
    assert_eq!(a.search.as_ref().and_then(|x| x.current), Some(first));
    let shown = screen(&a, &s);
    assert!(shown.contains("out 1"), "{shown}");
    a.handle(Action::Close, &s);
    assert_eq!(a.mode(), Mode::Normal);

    a.handle(Action::SearchStart, &s);
    for c in "nothing like this".chars() {
        a.handle(Action::SearchChar(c), &s);
    }
    a.handle(Action::SearchSubmit, &s);
    assert!(a.notice.as_deref().unwrap_or("").contains("no match"));
}

#[test]
fn clicking_a_row_selects_it_and_clicking_a_result_unfolds_it() {
    let s = busy_state();
    let mut a = app(80, 24, true);
    a.sync(&s);
    // Row 0 is the header; row 1 is task 5, which waits for the user and
    // so floats to the top; then tasks 1, 2, ... in order.
    a.handle(Action::Click { column: 10, row: 1 }, &s);
    assert_eq!(a.selected, Some(5));
    a.handle(Action::Click { column: 10, row: 2 }, &s);
    assert_eq!(a.selected, Some(1));
    a.handle(Action::Click { column: 10, row: 3 }, &s);
    assert_eq!(a.selected, Some(2));
    let before = screen(&a, &s);
    let row = before
        .lines()
        .position(|l| l.contains("← running 12 tests"))
        .expect("folded result");
    a.handle(
        Action::Click {
            column: 4,
            row: row as u16,
        },
        &s,
    );
    let after = screen(&a, &s);
    assert!(
        after.contains("│ test parse::newline ... FAILED"),
        "{after}"
    );
    // Clicking again folds it; `e` expands every result, `e` again folds.
    let row = after
        .lines()
        .position(|l| l.contains("← 4 lines"))
        .expect("expanded header");
    a.handle(
        Action::Click {
            column: 4,
            row: row as u16,
        },
        &s,
    );
    assert!(!screen(&a, &s).contains("│ failures: 1"));
    a.handle(Action::ToggleExpand, &s);
    assert!(screen(&a, &s).contains("│ failures: 1"));
    a.handle(Action::ToggleExpand, &s);
    assert!(!screen(&a, &s).contains("│ failures: 1"));
}

#[test]
fn kill_needs_y_and_only_live_tasks_can_be_killed() {
    let s = busy_state();
    let mut a = app(80, 24, true);
    a.sync(&s);
    a.select(2);
    a.handle(Action::KillAsk, &s);
    assert!(matches!(a.overlay, Overlay::ConfirmKill(2)));
    assert_eq!(a.handle(Action::Close, &s), vec![]);
    a.handle(Action::KillAsk, &s);
    assert_eq!(a.handle(Action::Confirm, &s), vec![Intent::Kill(2)]);
    assert_eq!(a.handle(Action::KillNow, &s), vec![Intent::Kill(2)]);
    a.select(1);
    assert_eq!(
        a.handle(Action::KillNow, &s),
        vec![],
        "task 1 already finished"
    );
    a.handle(Action::KillAsk, &s);
    assert!(matches!(a.overlay, Overlay::None));
}

#[test]
fn quit_asks_while_agents_run_and_kills_them_all() {
    let s = busy_state();
    let mut a = app(80, 24, true);
    a.handle(Action::Quit, &s);
    assert!(matches!(a.overlay, Overlay::ConfirmQuit));
    assert!(screen(&a, &s).contains("2 agents still running"));
    let intents = a.handle(Action::Confirm, &s);
    assert_eq!(intents, vec![Intent::Kill(2), Intent::Kill(5)]);
    assert!(a.quitting && !a.exit);

    let (mut idle, id) = chatty(1);
    let mut asked = app(80, 24, true);
    asked.handle(Action::Quit, &idle);
    assert!(screen(&asked, &idle).contains("1 agent still running"));
    exit(&mut idle, T0 + 10, id, Some(0), None);
    // The last agent finished while the question was open: it says so,
    // not "0 agents still running".
    let s = screen(&asked, &idle);
    assert!(s.contains("Every agent has finished. Quit?"), "{s}");
    assert!(!s.contains("0 agents"), "{s}");
    let mut b = app(80, 24, true);
    assert_eq!(b.handle(Action::Quit, &idle), vec![]);
    assert!(b.exit, "nothing runs: quit at once");
}

#[test]
fn kill_on_a_finished_task_with_an_open_session_closes_the_session() {
    let mut s = State::new(Settings::default());
    let id = open_session(&mut s, T0, "fix it");
    let t = s.task(id).unwrap();
    assert!(
        t.status.is_final() && t.process_alive,
        "the session is open"
    );
    let mut a = app(100, 30, true);
    a.sync(&s);
    a.select(id);
    a.handle(Action::KillAsk, &s);
    assert!(matches!(a.overlay, Overlay::ConfirmKill(i) if i == id));
    let asked = screen(&a, &s);
    assert!(
        asked.contains("Close the open session of #1") && asked.contains("It stays succeeded"),
        "{asked}"
    );
    assert_eq!(a.handle(Action::Confirm, &s), vec![Intent::Kill(id)]);
    assert_eq!(a.handle(Action::KillNow, &s), vec![Intent::Kill(id)]);
    // The core closes it: the status stays, the pane says so.
    update(
        &mut s,
        T0 + 1_000,
        Event::Command(Command::Kill { task: id }),
    );
    assert_eq!(s.task(id).unwrap().status.name(), "succeeded");
    let shown = screen(&a, &s);
    assert!(
        shown.contains("session closed, a follow-up resumes it"),
        "{shown}"
    );
    // Once its agent is gone there is nothing left to kill.
    exit(&mut s, T0 + 1_100, id, Some(0), None);
    assert_eq!(a.handle(Action::KillNow, &s), vec![]);
}

#[test]
fn stop_all_counts_open_sessions_and_closes_them() {
    let mut s = State::new(Settings::default());
    let first = launch(&mut s, T0, "one");
    let second = launch(&mut s, T0, "two");
    let done = open_session(&mut s, T0, "three");
    let mut a = app(100, 30, true);
    a.detach = true;
    a.handle(Action::QuitAll, &s);
    assert!(matches!(a.overlay, Overlay::ConfirmQuit));
    let asked = screen(&a, &s);
    assert!(
        asked.contains("2 agents and 1 open session run in the server. Stop them")
            && asked.contains("all and quit?"),
        "{asked}"
    );
    assert_eq!(
        a.handle(Action::Confirm, &s),
        vec![
            Intent::Kill(first),
            Intent::Kill(second),
            Intent::Kill(done)
        ]
    );
    assert!(a.quitting && !a.exit);

    // Every task finished, a session open: `Q` closes it without asking,
    // and the cockpit waits for it to go; `q` only detaches.
    let mut s = State::new(Settings::default());
    let done = open_session(&mut s, T0, "three");
    let mut detach = app(100, 30, true);
    detach.detach = true;
    assert_eq!(detach.handle(Action::Quit, &s), vec![]);
    assert!(detach.exit && !detach.quitting);
    let mut stop = app(100, 30, true);
    stop.detach = true;
    assert_eq!(stop.handle(Action::QuitAll, &s), vec![Intent::Kill(done)]);
    assert!(stop.quitting && !stop.exit && matches!(stop.overlay, Overlay::None));
    assert!(App::anything_to_stop(&s));
    update(
        &mut s,
        T0 + 1_000,
        Event::Command(Command::Kill { task: done }),
    );
    assert!(App::anything_to_stop(&s), "closing, not gone yet");
    exit(&mut s, T0 + 1_100, done, Some(0), None);
    assert!(!App::anything_to_stop(&s));
    // With --local the session ends with the cockpit: no question.
    let mut s = State::new(Settings::default());
    open_session(&mut s, T0, "three");
    let mut local = app(100, 30, true);
    assert_eq!(local.handle(Action::QuitAll, &s), vec![]);
    assert!(local.exit);
}

#[test]
fn the_form_launches_and_escape_cancels() {
    let s = State::new(Settings::default());
    let mut a = app(80, 24, true);
    a.handle(Action::NewTask, &s);
    assert_eq!(a.handle(Action::FormSubmit, &s), vec![], "empty prompt");
    a.paste("write tests");
    let intents = a.handle(Action::FormSubmit, &s);
    let [Intent::Launch(out)] = intents.as_slice() else {
        panic!("no launch: {intents:?}");
    };
    assert_eq!(out.prompt, "write tests");
    assert!(matches!(a.overlay, Overlay::None));
    a.handle(Action::NewTask, &s);
    a.handle(Action::Close, &s);
    assert!(matches!(a.overlay, Overlay::None));
}

#[test]
fn raw_view_emulates_the_terminal_without_passing_escapes_through() {
    let (s, id) = chatty(1);
    let mut a = app(80, 24, true);
    a.sync(&s);
    a.raw_output(
        id,
        b"\x1b[2J\x1b[1;1H\x1b[31mred\x1b[0m plain\r\nnext\x1b]0;title\x07 line",
    );
    a.handle(Action::ToggleRaw, &s);
    let term = draw(&a, &s);
    let shown = screen(&a, &s);
    assert!(
        shown.contains("red plain") && shown.contains("next line"),
        "{shown}"
    );
    for cell in term.backend().buffer().content() {
        assert!(!cell.symbol().chars().any(char::is_control), "{cell:?}");
    }
    // Bytes that arrive while the raw view is open show at once.
    a.raw_output(id, b"\r\nmore");
    assert!(screen(&a, &s).contains("more"));
    a.handle(Action::ToggleRaw, &s);
    assert!(screen(&a, &s).contains("│ out 0"));
}

/// 60 numbered lines written to a 200x50 agent terminal.
fn sixty_lines() -> Vec<u8> {
    (1..=60)
        .map(|n| format!("line {n:02}"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

fn raw_view_of_a_200x50_agent(width: u16, height: u16) -> String {
    let (s, id) = chatty(1);
    let mut a = corral::tui::app::App::new(
        corral::tui::theme::Theme { color: false },
        ratatui::layout::Rect::new(0, 0, width, height),
        defaults(),
        (50, 200),
    );
    a.sync(&s);
    a.raw_output(id, &sixty_lines());
    a.handle(Action::ToggleRaw, &s);
    screen(&a, &s)
}

#[test]
fn raw_view_shows_the_bottom_of_an_agent_terminal_larger_than_the_pane() {
    // The pane is smaller than 200x50: the last lines are in view, not the
    // top-left corner.
    let small = raw_view_of_a_200x50_agent(160, 48);
    assert!(small.contains("line 60"), "{small}");
    assert!(!small.contains("line 11"), "the top rows give way: {small}");
    // A pane that holds it all shows the whole screen: lines 11 to 60.
    let big = raw_view_of_a_200x50_agent(240, 64);
    for want in ["line 11", "line 35", "line 60"] {
        assert!(big.contains(want), "missing {want}: {big}");
    }
}

#[test]
fn the_review_opens_at_once_and_fills_in_when_git_answers() {
    use corral::core::review::{ReviewOp, ReviewOutcome, ReviewReport};
    use corral::worktree::{Changes, UnmergedWork};
    let mut s = State::new(Settings::default());
    let id = launch(&mut s, T0, "fix it");
    let mut a = app(80, 24, true);
    a.sync(&s);
    let intents = a.handle(Action::OpenDiff, &s);
    assert_eq!(intents, vec![Intent::Review(id, ReviewOp::Refresh)]);
    assert_eq!(a.mode(), Mode::Diff);
    assert!(screen(&a, &s).contains("reading the changes…"));
    let changes = Changes::new("main".into(), vec![], String::new(), false);
    let answer = |op, result| ReviewReport {
        task: id,
        op,
        result,
    };
    a.review_report(&answer(
        ReviewOp::Refresh,
        Ok(ReviewOutcome::Changes(Box::new(changes))),
    ));
    assert!(screen(&a, &s).contains("no changes against the base yet"));
    // D asks what a discard loses; only y discards exactly that.
    let intents = a.handle(Action::ReviewDiscard, &s);
    assert_eq!(intents, vec![Intent::Review(id, ReviewOp::ListUnmerged)]);
    let work = UnmergedWork::default();
    a.review_report(&answer(
        ReviewOp::ListUnmerged,
        Ok(ReviewOutcome::Unmerged(work.clone())),
    ));
    assert_eq!(a.mode(), Mode::ConfirmDiscard);
    assert!(screen(&a, &s).contains("y yes"), "{}", screen(&a, &s));
    let intents = a.handle(Action::Confirm, &s);
    let discard = ReviewOp::Discard { confirmed: work };
    assert_eq!(intents, vec![Intent::Review(id, discard.clone())]);
    a.review_report(&answer(
        discard,
        Ok(ReviewOutcome::Discarded {
            lost: UnmergedWork::default(),
        }),
    ));
    assert!(matches!(a.overlay, Overlay::None));
    assert!(
        a.notice
            .as_deref()
            .is_some_and(|n| n.contains("fresh worktree"))
    );
}

#[test]
fn a_refused_review_closes_and_says_why() {
    use corral::core::review::{ReviewOp, ReviewReport};
    let mut s = State::new(Settings::default());
    let id = launch(&mut s, T0, "no worktree");
    let mut a = app(80, 24, true);
    a.sync(&s);
    a.handle(Action::OpenDiff, &s);
    a.review_report(&ReviewReport {
        task: id,
        op: ReviewOp::Refresh,
        result: Err("#1 has no worktree".into()),
    });
    assert!(matches!(a.overlay, Overlay::None));
    assert_eq!(a.notice.as_deref(), Some("✗ #1 has no worktree"));
}
