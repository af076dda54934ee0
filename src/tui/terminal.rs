//! The terminal's lifecycle: raw mode, alternate screen, mouse capture and
//! bracketed paste on the way in; all of it undone on every way out,
//! including a panic, whose hook also SIGKILLs every live agent group.
//!
//! Only this module switches terminal modes. Restoring is idempotent.

use std::io::{self, Stdout, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
    supports_keyboard_enhancement,
};
use crossterm::{cursor, execute};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// Whether the terminal is in the cockpit's modes.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether the terminal reports modified keys (Shift-Enter) because we
/// asked it to, so restoring asks it to stop.
static ENHANCED: AtomicBool = AtomicBool::new(false);
/// Process groups of live agents, for the panic hook.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// The cockpit's terminal.
pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Switches the terminal into the cockpit's modes.
pub fn enter() -> io::Result<Term> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    if let Err(e) = execute!(
        out,
        EnterAlternateScreen,
        EnableMouseCapture,
        EnableBracketedPaste,
        cursor::Hide
    ) {
        restore();
        return Err(e);
    }
    // Where the terminal can tell Shift-Enter from Enter (the kitty
    // keyboard protocol), ask it to: Shift-Enter then types a new line.
    if matches!(supports_keyboard_enhancement(), Ok(true))
        && execute!(
            out,
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )
        .is_ok()
    {
        ENHANCED.store(true, Ordering::SeqCst);
    }
    // A fixed viewport of the terminal's size now, resized on each resize
    // event (`resize`): ratatui asks a fullscreen terminal its size before
    // every frame, which crossterm answers by opening /dev/tty each time.
    let (cols, rows) = crossterm::terminal::size().inspect_err(|_| restore())?;
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, cols, rows)),
    };
    Terminal::with_options(CrosstermBackend::new(out), options).inspect_err(|_| restore())
}

/// The terminal is now `cols` x `rows` (a resize event): the next frame is
/// drawn whole at that size.
pub fn resize(term: &mut Term, cols: u16, rows: u16) -> io::Result<()> {
    term.resize(Rect::new(0, 0, cols, rows))
}

/// Puts the terminal back as it was. Safe to call more than once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        if ENHANCED.swap(false, Ordering::SeqCst) {
            let _ = execute!(out, PopKeyboardEnhancementFlags);
        }
        let _ = execute!(
            out,
            DisableBracketedPaste,
            DisableMouseCapture,
            LeaveAlternateScreen,
            cursor::Show
        );
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// Records the live agent groups the panic hook must kill.
pub fn set_live_groups(groups: Vec<i32>) {
    let mut g = LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner());
    *g = groups;
}

/// SIGKILLs every recorded agent group (the panic path: no kill ladder).
pub fn kill_recorded_groups() {
    let groups = LIVE_GROUPS
        .lock()
        .map(|g| g.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    for pgid in groups {
        if pgid > 1 {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
    }
}

/// Installs a panic hook that kills agent groups and restores the terminal
/// before the usual panic message is printed.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        kill_recorded_groups();
        restore();
        previous(info);
    }));
}
