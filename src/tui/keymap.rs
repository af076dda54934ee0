//! Keys and mouse to actions: what every key means in every mode.
//!
//! Pure: a key event and the current mode in, an [`Action`] out. Never
//! touches state; [`super::app::App`] carries the action out. The help
//! overlay is generated from [`HELP`], so the keys and their help agree.

use super::bindings::Bindings;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};

/// What the UI is doing, which decides what a key means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The task list and the live pane.
    Normal,
    /// Like `Normal`, with an active search: `n`/`N` go to the next and
    /// previous match, `Esc` clears it.
    Found,
    /// Tiles of every running agent.
    Grid,
    /// The help overlay.
    Help,
    /// Asking `y` before killing the selected task.
    ConfirmKill,
    /// Asking `y` before quitting while agents run.
    ConfirmQuit,
    /// Asking `y` before deleting a finished task and its records.
    ConfirmDelete,
    /// The selected task waits for a tool approval: `y` `a` `n` and `Esc`
    /// go to the answer box, every other key keeps its cockpit meaning.
    Approve,
    /// The selected task asks a question: the option list takes its keys
    /// (arrows, `j` `k`, Space, digits, Enter, Tab, Esc), the rest keep
    /// their cockpit meaning.
    Choose,
    /// Typing text (a deny message, an own answer, a follow-up): every key
    /// is text but Ctrl-C (quit) and PgUp/PgDn (scroll the pane).
    Typing,
    /// Keys go to an interactive program's terminal (a `command` task).
    Terminal,
    /// The review of a worktree task's changes.
    Diff,
    /// Asking `y` before discarding a worktree task's worktree.
    ConfirmDiscard,
    /// The new-task form.
    Form,
    /// Typing a search in the pane.
    Search,
}

/// Something the user wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Select the previous task (or tile).
    Up,
    /// Select the next task (or tile).
    Down,
    /// Previous tile in the same row (grid).
    Left,
    /// Next tile in the same row (grid).
    Right,
    /// Scroll the pane back by lines.
    ScrollUp(u16),
    /// Scroll the pane forward by lines.
    ScrollDown(u16),
    PageUp,
    PageDown,
    /// Scroll to the first line.
    Home,
    /// Scroll to the last line and follow the tail again.
    End,
    /// A mouse click at a screen cell.
    Click {
        column: u16,
        row: u16,
    },
    /// Open the search prompt.
    SearchStart,
    /// Jump to the next match.
    SearchNext,
    /// Jump to the previous match.
    SearchPrev,
    /// A character typed into the search prompt.
    SearchChar(char),
    /// Delete the last character of the search.
    SearchBackspace,
    /// Keep the search and go back to the pane.
    SearchSubmit,
    /// Show the agent's raw terminal output instead of the transcript.
    ToggleRaw,
    /// Show or leave the grid.
    ToggleGrid,
    /// Open the selected tile (grid).
    Open,
    /// Expand or fold every tool result of the selected task.
    ToggleExpand,
    /// Open the new-task form.
    NewTask,
    /// Ask before killing the selected task.
    KillAsk,
    /// Kill the selected task at once.
    KillNow,
    /// Resume an interrupted task, or retry a failed one.
    Rerun,
    /// A key for the answer box or the follow-up line.
    BoxKey(KeyEvent),
    /// Start typing a follow-up message to the selected task.
    Compose,
    /// Bring back a question put aside.
    Focus,
    /// Select the next task waiting for the user.
    NextBlocked,
    /// Type into the selected program's terminal (a `command` task).
    FocusTerminal,
    /// A key for the focused program's terminal.
    TerminalKey(KeyEvent),
    /// Give the keys back to corral.
    LeaveTerminal,
    /// Review the selected worktree task's changes.
    OpenDiff,
    /// Review: commit the worktree's work.
    ReviewCommit,
    /// Review: commit, then merge into the base branch.
    ReviewMerge,
    /// Review: a shell in the worktree.
    ReviewShell,
    /// Review: show what a discard loses, then ask.
    ReviewDiscard,
    /// Archive (or bring back) a finished task.
    ToggleArchive,
    /// Ask before deleting a finished task.
    DeleteAsk,
    /// Detach from the server (with `--local`: quit, asking first when
    /// agents run).
    Quit,
    /// Stop every agent and quit (asks first when agents run).
    QuitAll,
    /// Show the help overlay.
    Help,
    /// Close the overlay (or clear the search).
    Close,
    /// `y`: yes to the question on screen.
    Confirm,
    /// Submit the form.
    FormSubmit,
    /// Next form field.
    FormNext,
    /// Previous form field.
    FormPrev,
    /// A key for the focused form field.
    FormKey(KeyEvent),
    /// Nothing.
    None,
}

/// Every key, as shown in the help overlay: (mode, keys, what they do).
pub const HELP: &[(&str, &str, &str)] = &[
    ("list", "j k ↑ ↓", "select a task (or click its row)"),
    (
        "pane",
        "PgUp PgDn",
        "scroll the live pane (or the mouse wheel)",
    ),
    (
        "pane",
        "Home End",
        "first line / last line, End follows the tail again",
    ),
    (
        "pane",
        "/",
        "search the transcript; n N next / previous, Esc ends",
    ),
    (
        "pane",
        "e",
        "expand or fold tool results (click one to toggle it)",
    ),
    ("pane", "r", "raw terminal output of the agent / transcript"),
    (
        "view",
        "g",
        "grid of every running agent; Enter opens a tile",
    ),
    ("task", "n a", "new task form (a while a search is active)"),
    (
        "task",
        "x",
        "kill the task, or close a finished one's session (asks y)",
    ),
    ("task", "X", "kill or close at once"),
    (
        "task",
        "m",
        "message the agent: a follow-up in the same session",
    ),
    ("task", "b", "jump to the next task waiting for you"),
    (
        "task",
        "d",
        "worktree review: c commit, M merge, s shell, D discard",
    ),
    (
        "task",
        "i Ctrl-]",
        "type into a command's terminal / give the keys back",
    ),
    (
        "answer",
        "y a n",
        "allow once / always (shell: this command) / deny + message",
    ),
    (
        "answer",
        "↑↓ j k",
        "move in the options; Space or a digit ticks (multi-select)",
    ),
    (
        "answer",
        "Enter Tab",
        "choose (or send the ticked) / type your own answer",
    ),
    (
        "answer",
        "m",
        "reply in words instead: a deny message, your own answer",
    ),
    (
        "answer",
        "Esc Enter",
        "put the question aside / take it up again",
    ),
    (
        "answer",
        "other keys",
        "work as usual: the box takes only its own keys",
    ),
    (
        "text",
        "Enter",
        "send (a deny message, an answer, a follow-up)",
    ),
    (
        "text",
        "Alt-Enter",
        "new line (Shift-Enter too where the terminal reports it)",
    ),
    (
        "text",
        "Esc PgUp",
        "back / cancel; PgUp PgDn scroll the pane while typing",
    ),
    (
        "task",
        "R",
        "resume an interrupted task / retry a failed one",
    ),
    (
        "task",
        "A",
        "archive a finished task (hidden from the next start)",
    ),
    (
        "task",
        "D",
        "delete a finished task and its records (asks y)",
    ),
    (
        "app",
        "q Ctrl-C",
        "detach: the agents go on (--local: quit, killing them, asks y)",
    ),
    ("app", "?", "this help"),
    ("app", "Esc", "close an overlay, the grid or the search"),
    (
        "app",
        "Q",
        "stop agents and open sessions, quit (asks y if agents run)",
    ),
    ("form", "Tab S-Tab", "next / previous field"),
    ("form", "Enter", "new line in the prompt"),
    ("form", "← →", "choose agent and permission mode"),
    ("form", "Ctrl-S", "start the task"),
    ("form", "Esc", "cancel"),
];

fn ctrl(key: &KeyEvent, c: char) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char(c)
}

/// What `key` means in `mode`. Key releases mean nothing.
pub fn map_key(key: KeyEvent, mode: Mode) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    match mode {
        Mode::Form => form_key(key),
        Mode::Search => match key.code {
            KeyCode::Esc => Action::Close,
            KeyCode::Enter => Action::SearchSubmit,
            KeyCode::Backspace => Action::SearchBackspace,
            _ if ctrl(&key, 'c') => Action::Close,
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Action::SearchChar(c)
            }
            _ => Action::None,
        },
        Mode::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => {
                Action::Close
            }
            KeyCode::Down | KeyCode::Char('j') => Action::ScrollDown(1),
            KeyCode::Up | KeyCode::Char('k') => Action::ScrollUp(1),
            KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::Home => Action::Home,
            _ => Action::None,
        },
        Mode::ConfirmKill | Mode::ConfirmQuit | Mode::ConfirmDelete | Mode::ConfirmDiscard => {
            match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Action::Confirm,
                // Ctrl-C twice quits even while agents run.
                _ if mode == Mode::ConfirmQuit && ctrl(&key, 'c') => Action::Confirm,
                // The quit dialog's other way out: detach (a client of the
                // server; with --local it only closes the dialog).
                KeyCode::Char('q') if mode == Mode::ConfirmQuit => Action::Quit,
                _ => Action::Close,
            }
        }
        // Ctrl-] (like telnet) gives the keys back to corral. A terminal
        // sends it as the byte 0x1d, which crossterm reads as Ctrl-5; with
        // the keyboard enhancement it arrives as Ctrl-] itself.
        Mode::Terminal if ctrl(&key, ']') || ctrl(&key, '5') => Action::LeaveTerminal,
        Mode::Terminal => Action::TerminalKey(key),
        Mode::Diff if ctrl(&key, 'c') => Action::Quit,
        Mode::Diff => match key.code {
            KeyCode::Esc | KeyCode::Char('q') => Action::Close,
            KeyCode::Down | KeyCode::Char('j') => Action::ScrollDown(1),
            KeyCode::Up | KeyCode::Char('k') => Action::ScrollUp(1),
            KeyCode::PageDown | KeyCode::Char(' ') => Action::PageDown,
            KeyCode::PageUp => Action::PageUp,
            KeyCode::Home => Action::Home,
            KeyCode::End => Action::End,
            KeyCode::Char('c') => Action::ReviewCommit,
            KeyCode::Char('M') => Action::ReviewMerge,
            KeyCode::Char('s') => Action::ReviewShell,
            KeyCode::Char('D') => Action::ReviewDiscard,
            _ => Action::None,
        },
        Mode::Approve | Mode::Choose | Mode::Typing if ctrl(&key, 'c') => Action::Quit,
        Mode::Typing => match key.code {
            KeyCode::PageUp => Action::PageUp,
            KeyCode::PageDown => Action::PageDown,
            _ => Action::BoxKey(key),
        },
        // The answer box's own keys win; the others keep their meaning.
        Mode::Approve => match key.code {
            KeyCode::Char('y' | 'a' | 'n') | KeyCode::Esc
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Action::BoxKey(key)
            }
            _ => normal_key(key, Mode::Normal),
        },
        Mode::Choose => match key.code {
            KeyCode::Up
            | KeyCode::Down
            | KeyCode::Char('j' | 'k' | ' ' | '1'..='9')
            | KeyCode::Enter
            | KeyCode::Tab
            | KeyCode::Esc
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Action::BoxKey(key)
            }
            _ => normal_key(key, Mode::Normal),
        },
        Mode::Normal | Mode::Found | Mode::Grid => normal_key(key, mode),
    }
}

/// What `key` means in `mode` with the config's key overrides: they apply
/// where keys are commands, never to text; the answer box's own keys come
/// before them; a program's terminal gets every key but the one that
/// leaves it.
pub fn map_key_bound(key: KeyEvent, mode: Mode, bindings: &Bindings) -> Action {
    match mode {
        Mode::Normal | Mode::Found | Mode::Grid => map_key(bindings.translate(key), mode),
        Mode::Approve | Mode::Choose => match map_key(key, mode) {
            Action::BoxKey(k) => Action::BoxKey(k),
            _ => map_key(bindings.translate(key), Mode::Normal),
        },
        Mode::Diff => map_key(bindings.translate_review(key), mode),
        Mode::Terminal => match map_key(bindings.translate(key), mode) {
            Action::LeaveTerminal => Action::LeaveTerminal,
            _ => map_key(key, mode),
        },
        _ => map_key(key, mode),
    }
}

fn normal_key(key: KeyEvent, mode: Mode) -> Action {
    if ctrl(&key, 'c') {
        return Action::Quit;
    }
    match key.code {
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::Char('h') | KeyCode::Left if mode == Mode::Grid => Action::Left,
        KeyCode::Char('l') | KeyCode::Right if mode == Mode::Grid => Action::Right,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home => Action::Home,
        KeyCode::End => Action::End,
        KeyCode::Char('/') => Action::SearchStart,
        KeyCode::Char('n') if mode == Mode::Found => Action::SearchNext,
        KeyCode::Char('N') if mode == Mode::Found => Action::SearchPrev,
        KeyCode::Char('n') | KeyCode::Char('a') => Action::NewTask,
        KeyCode::Char('r') => Action::ToggleRaw,
        KeyCode::Char('g') => Action::ToggleGrid,
        KeyCode::Enter if mode == Mode::Grid => Action::Open,
        KeyCode::Char('e') | KeyCode::Tab => Action::ToggleExpand,
        KeyCode::Char('x') => Action::KillAsk,
        KeyCode::Char('X') => Action::KillNow,
        KeyCode::Char('R') => Action::Rerun,
        KeyCode::Char('m') => Action::Compose,
        KeyCode::Char('b') => Action::NextBlocked,
        KeyCode::Char('i') => Action::FocusTerminal,
        KeyCode::Char('d') => Action::OpenDiff,
        KeyCode::Enter if mode == Mode::Normal => Action::Focus,
        KeyCode::Char('A') => Action::ToggleArchive,
        KeyCode::Char('D') => Action::DeleteAsk,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('Q') => Action::QuitAll,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Esc => Action::Close,
        _ => Action::None,
    }
}

fn form_key(key: KeyEvent) -> Action {
    if ctrl(&key, 's') {
        return Action::FormSubmit;
    }
    match key.code {
        KeyCode::Esc => Action::Close,
        KeyCode::Tab => Action::FormNext,
        KeyCode::BackTab => Action::FormPrev,
        _ => Action::FormKey(key),
    }
}

/// What a mouse event means: clicks select, the wheel scrolls (also while
/// answering or typing, so the transcript can be read meanwhile).
pub fn map_mouse(ev: MouseEvent, mode: Mode) -> Action {
    use Mode::*;
    match (mode, ev.kind) {
        (Normal | Found | Grid | Approve | Choose, MouseEventKind::Down(_)) => Action::Click {
            column: ev.column,
            row: ev.row,
        },
        (Normal | Found | Approve | Choose | Typing | Help, MouseEventKind::ScrollUp) => {
            Action::ScrollUp(3)
        }
        (Normal | Found | Approve | Choose | Typing | Help, MouseEventKind::ScrollDown) => {
            Action::ScrollDown(3)
        }
        _ => Action::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEventState, MouseButton};

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    #[test]
    fn list_and_pane_keys() {
        use Action::*;
        let cases = [
            (ch('j'), Down),
            (key(KeyCode::Down), Down),
            (ch('k'), Up),
            (key(KeyCode::Up), Up),
            (key(KeyCode::PageUp), PageUp),
            (key(KeyCode::End), End),
            (ch('/'), SearchStart),
            (ch('n'), NewTask),
            (ch('r'), ToggleRaw),
            (ch('g'), ToggleGrid),
            (ch('e'), ToggleExpand),
            (ch('x'), KillAsk),
            (ch('X'), KillNow),
            (ch('q'), Quit),
            (ch('?'), Help),
            (key(KeyCode::Esc), Close),
            (
                KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Quit,
            ),
        ];
        for (k, want) in cases {
            assert_eq!(map_key(k, Mode::Normal), want, "{k:?}");
        }
    }

    #[test]
    fn n_is_next_match_only_while_a_search_is_active() {
        // `n` is both "next match" and "new task"; while a search is active
        // it means the match (Esc ends the search), and `a` always adds.
        assert_eq!(map_key(ch('n'), Mode::Found), Action::SearchNext);
        assert_eq!(map_key(ch('N'), Mode::Found), Action::SearchPrev);
        assert_eq!(map_key(ch('N'), Mode::Normal), Action::None);
        assert_eq!(map_key(ch('n'), Mode::Grid), Action::NewTask);
        assert_eq!(map_key(ch('a'), Mode::Found), Action::NewTask);
        assert_eq!(map_key(key(KeyCode::Esc), Mode::Found), Action::Close);
    }

    #[test]
    fn grid_moves_between_tiles_and_opens_one() {
        assert_eq!(map_key(ch('h'), Mode::Grid), Action::Left);
        assert_eq!(map_key(key(KeyCode::Right), Mode::Grid), Action::Right);
        assert_eq!(map_key(key(KeyCode::Enter), Mode::Grid), Action::Open);
        assert_eq!(map_key(key(KeyCode::Enter), Mode::Normal), Action::Focus);
    }

    #[test]
    fn the_answer_box_takes_its_own_keys_first_and_leaves_the_rest() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        // An approval: y a n Esc answer; everything else is the cockpit's.
        for c in ['y', 'a', 'n'] {
            assert_eq!(map_key(ch(c), Mode::Approve), Action::BoxKey(ch(c)));
        }
        let esc = key(KeyCode::Esc);
        assert_eq!(map_key(esc, Mode::Approve), Action::BoxKey(esc));
        assert_eq!(map_key(ch('j'), Mode::Approve), Action::Down);
        assert_eq!(map_key(ch('b'), Mode::Approve), Action::NextBlocked);
        assert_eq!(map_key(ch('x'), Mode::Approve), Action::KillAsk);
        assert_eq!(map_key(ch('m'), Mode::Approve), Action::Compose);
        assert_eq!(map_key(ch('?'), Mode::Approve), Action::Help);
        assert_eq!(map_key(key(KeyCode::PageUp), Mode::Approve), Action::PageUp);
        assert_eq!(map_key(ctrl_c, Mode::Approve), Action::Quit);
        // A question: the list's keys answer; the others are the cockpit's.
        for k in [
            key(KeyCode::Up),
            key(KeyCode::Down),
            ch('j'),
            ch('k'),
            ch(' '),
            ch('2'),
            key(KeyCode::Enter),
            key(KeyCode::Tab),
            esc,
        ] {
            assert_eq!(map_key(k, Mode::Choose), Action::BoxKey(k), "{k:?}");
        }
        assert_eq!(map_key(ch('y'), Mode::Choose), Action::None);
        assert_eq!(map_key(ch('b'), Mode::Choose), Action::NextBlocked);
        assert_eq!(map_key(ch('x'), Mode::Choose), Action::KillAsk);
        assert_eq!(map_key(ch('g'), Mode::Choose), Action::ToggleGrid);
        // Typing: every key is text but Ctrl-C and the pane's scrolling.
        for k in [ch('y'), ch('q'), ch('b'), esc, key(KeyCode::Enter)] {
            assert_eq!(map_key(k, Mode::Typing), Action::BoxKey(k), "{k:?}");
        }
        assert_eq!(map_key(ctrl_c, Mode::Typing), Action::Quit);
        assert_eq!(
            map_key(key(KeyCode::PageDown), Mode::Typing),
            Action::PageDown
        );
        assert_eq!(map_key(ch('m'), Mode::Normal), Action::Compose);
        assert_eq!(map_key(ch('b'), Mode::Normal), Action::NextBlocked);
    }

    #[test]
    fn overrides_never_take_the_answer_boxs_keys_or_text() {
        let mut table = std::collections::BTreeMap::new();
        table.insert("new".to_string(), "ctrl-n".to_string());
        table.insert("kill".to_string(), "y".to_string());
        let b = Bindings::from_config(&table).unwrap();
        let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(map_key_bound(ctrl_n, Mode::Normal, &b), Action::NewTask);
        // Bound to "new", not to the box's `n` (deny).
        assert_eq!(map_key_bound(ctrl_n, Mode::Approve, &b), Action::NewTask);
        // `y` is bound to kill, but the approval's `y` comes first.
        assert_eq!(
            map_key_bound(ch('y'), Mode::Approve, &b),
            Action::BoxKey(ch('y'))
        );
        assert_eq!(map_key_bound(ch('y'), Mode::Normal, &b), Action::KillAsk);
        assert_eq!(
            map_key_bound(ch('y'), Mode::Typing, &b),
            Action::BoxKey(ch('y'))
        );
    }

    #[test]
    fn other_modes_keep_their_keys() {
        assert_eq!(map_key(ch('d'), Mode::Normal), Action::OpenDiff);
        assert_eq!(map_key(ch('M'), Mode::Diff), Action::ReviewMerge);
        assert_eq!(map_key(ch('D'), Mode::Diff), Action::ReviewDiscard);
        assert_eq!(map_key(ch('y'), Mode::ConfirmDiscard), Action::Confirm);
        assert_eq!(map_key(ch('n'), Mode::ConfirmDiscard), Action::Close);
        assert_eq!(
            map_key(ch('x'), Mode::Terminal),
            Action::TerminalKey(ch('x'))
        );
        let leave = KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL);
        assert_eq!(map_key(leave, Mode::Terminal), Action::LeaveTerminal);
        // What a real terminal's Ctrl-] (0x1d) reads as.
        let raw = KeyEvent::new(KeyCode::Char('5'), KeyModifiers::CONTROL);
        assert_eq!(map_key(raw, Mode::Terminal), Action::LeaveTerminal);
    }

    #[test]
    fn confirmations_take_only_y() {
        assert_eq!(map_key(ch('y'), Mode::ConfirmKill), Action::Confirm);
        assert_eq!(map_key(ch('n'), Mode::ConfirmKill), Action::Close);
        assert_eq!(map_key(ch('x'), Mode::ConfirmKill), Action::Close);
        assert_eq!(map_key(ch('y'), Mode::ConfirmQuit), Action::Confirm);
        assert_eq!(
            map_key(ch('q'), Mode::ConfirmQuit),
            Action::Quit,
            "detach instead"
        );
        assert_eq!(map_key(ch('q'), Mode::ConfirmKill), Action::Close);
    }

    #[test]
    fn the_form_gets_every_key_but_its_own() {
        let enter = key(KeyCode::Enter);
        assert_eq!(map_key(enter, Mode::Form), Action::FormKey(enter));
        assert_eq!(map_key(ch('q'), Mode::Form), Action::FormKey(ch('q')));
        assert_eq!(
            map_key(
                KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL),
                Mode::Form
            ),
            Action::FormSubmit
        );
        assert_eq!(map_key(key(KeyCode::Tab), Mode::Form), Action::FormNext);
        assert_eq!(map_key(key(KeyCode::Esc), Mode::Form), Action::Close);
    }

    #[test]
    fn search_prompt_takes_text() {
        assert_eq!(map_key(ch('q'), Mode::Search), Action::SearchChar('q'));
        assert_eq!(
            map_key(key(KeyCode::Enter), Mode::Search),
            Action::SearchSubmit
        );
        assert_eq!(map_key(key(KeyCode::Esc), Mode::Search), Action::Close);
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = ch('q');
        k.kind = KeyEventKind::Release;
        k.state = KeyEventState::NONE;
        assert_eq!(map_key(k, Mode::Normal), Action::None);
    }

    #[test]
    fn mouse_clicks_select_and_the_wheel_scrolls() {
        let ev = |kind| MouseEvent {
            kind,
            column: 3,
            row: 7,
            modifiers: KeyModifiers::NONE,
        };
        assert_eq!(
            map_mouse(ev(MouseEventKind::Down(MouseButton::Left)), Mode::Normal),
            Action::Click { column: 3, row: 7 }
        );
        assert_eq!(
            map_mouse(ev(MouseEventKind::ScrollUp), Mode::Normal),
            Action::ScrollUp(3)
        );
        assert_eq!(
            map_mouse(ev(MouseEventKind::ScrollUp), Mode::Form),
            Action::None
        );
    }
}
