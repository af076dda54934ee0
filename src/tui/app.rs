//! The cockpit's UI state, separate from corral's core state: selection,
//! scroll and follow-tail per task, overlays, grid and raw modes, search,
//! and the caches the views read.
//!
//! [`App::handle`] carries out one [`Action`] and returns the [`Intent`]s
//! the loop must turn into core commands. Never does IO (the form's
//! directory check aside) and never draws.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use ratatui::layout::Rect;

use super::answer::{AnswerBox, Compose, Outcome, Step};
use super::form::{Form, FormDefaults, FormOutput};
use super::keymap::{Action, Mode};
use super::layout::{list_offset, pane_body, regions, tiles};
use super::lines::{Expansion, TaskLines};
use super::theme::Theme;
use super::wrap::plain;
use crate::agent::{AgentKind, Answer};
use crate::core::review::ReviewOp;
use crate::core::task::TaskStatus;
use crate::core::{Command, State, TaskId};
use crate::worktree::{Changes, UnmergedWork};

/// Raw output bytes kept per task for the raw view.
pub const RAW_RING_BYTES: usize = 64 * 1024;
/// Widths cached per task (the pane and the grid tile).
const WIDTHS_PER_TASK: usize = 2;

/// What the loop must do for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Start a task from the form.
    Launch(FormOutput),
    /// Kill a task's agent.
    Kill(TaskId),
    /// Keystrokes for a program's terminal.
    Input(TaskId, Vec<u8>),
    /// A program's terminal changed size (rows, cols).
    Resize(TaskId, u16, u16),
    /// Review a worktree task: read its changes, commit, merge, list what
    /// a discard loses, discard (the core decides, git runs off the UI
    /// thread).
    Review(TaskId, ReviewOp),
    /// Open a shell in the worktree (the cockpit steps aside meanwhile).
    Shell(TaskId),
    /// Answer a task's pending question.
    Answer(TaskId, Answer),
    /// Allow the pending tool now and for the rest of the task.
    AllowAlways(TaskId),
    /// Send the user's next message.
    FollowUp(TaskId, String),
    /// Resume (interrupted) or retry (failed, killed, timed out) a task.
    Rerun(TaskId),
    /// Archive a finished task, or bring it back.
    Archive(TaskId),
    /// Delete a finished task and its records.
    Delete(TaskId),
}

impl Intent {
    /// The core command this intent is, for those that are one command
    /// (launching, reviews and store actions need the loop's context).
    pub fn command(&self) -> Option<Command> {
        Some(match self.clone() {
            Intent::Kill(task) => Command::Kill { task },
            Intent::Answer(task, answer) => Command::Answer { task, answer },
            Intent::AllowAlways(task) => Command::AllowAlways { task },
            Intent::FollowUp(task, text) => Command::FollowUp { task, text },
            Intent::Input(task, bytes) => Command::Input { task, bytes },
            Intent::Resize(task, rows, cols) => Command::Resize { task, rows, cols },
            Intent::Delete(task) => Command::Delete { task },
            Intent::Review(task, op) => Command::Review { task, op },
            _ => return None,
        })
    }
}

/// An overlay over the main screen.
#[derive(Debug, Clone)]
pub enum Overlay {
    None,
    Help,
    /// Kill this task if the user says `y`.
    ConfirmKill(TaskId),
    /// Quit (killing every agent) if the user says `y`.
    ConfirmQuit,
    /// Delete this finished task if the user says `y`.
    ConfirmDelete(TaskId),
    /// The review of a worktree task's changes.
    Diff(Box<DiffReview>),
    Form(Box<Form>),
    /// The search being typed.
    Search(String),
}

/// The review of a worktree task: its changes, the scroll, and a pending
/// discard waiting for `y`.
#[derive(Debug, Clone)]
pub struct DiffReview {
    pub task: TaskId,
    /// The changes against the base; `None` until git has read them.
    pub changes: Option<Changes>,
    pub scroll: usize,
    /// What a discard would lose, shown until the user says `y` or not.
    pub confirm_discard: Option<UnmergedWork>,
    /// The last action's outcome, in words.
    pub message: Option<String>,
    /// Review ops asked for and not answered yet.
    pub in_flight: usize,
}

/// Scroll position and folding of one task's pane.
#[derive(Debug, Clone, Default)]
pub struct PaneState {
    /// First line shown, when not following.
    pub top: usize,
    /// Stick to the last line as the transcript grows.
    pub follow: bool,
    pub expansion: Expansion,
}

/// A confirmed search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: String,
    /// The line of the current match.
    pub current: Option<usize>,
}

/// The UI state.
pub struct App {
    pub theme: Theme,
    /// The time the views show (ms since the epoch).
    pub now_ms: u64,
    /// The terminal size.
    pub size: Rect,
    pub selected: Option<TaskId>,
    pub overlay: Overlay,
    pub grid: bool,
    /// Index of the selected tile.
    pub grid_selected: usize,
    pub raw: bool,
    pub search: Option<Search>,
    /// A short message for the status bar.
    pub notice: Option<String>,
    /// Quit was confirmed: agents are being killed.
    pub quitting: bool,
    /// The loop should end now.
    pub exit: bool,
    pub defaults: FormDefaults,
    /// The answer box of the selected blocked task.
    pub answer: Option<AnswerBox>,
    /// Questions the user put aside with Esc (Enter brings them back).
    pub deferred: HashSet<String>,
    /// The follow-up line being typed.
    pub compose: Option<Compose>,
    /// First row of the help table shown, when it scrolls.
    pub help_scroll: usize,
    /// Keys go to this `command` task's terminal.
    pub terminal_focus: Option<TaskId>,
    /// Open a shell here, the cockpit stepping aside meanwhile.
    pub pending_shell: Option<std::path::PathBuf>,
    panes: HashMap<TaskId, PaneState>,
    cache: RefCell<HashMap<(TaskId, u16), (u64, TaskLines)>>,
    use_counter: RefCell<u64>,
    raw_rings: HashMap<TaskId, VecDeque<u8>>,
    raw_term: Option<(TaskId, vt100::Parser)>,
    pty_size: (u16, u16),
}

impl App {
    /// A fresh UI for a terminal of `size`; `pty_size` is (rows, cols) of the
    /// agents' pseudo-terminals, which the raw view emulates.
    pub fn new(theme: Theme, size: Rect, defaults: FormDefaults, pty_size: (u16, u16)) -> App {
        App {
            theme,
            now_ms: 0,
            size,
            selected: None,
            overlay: Overlay::None,
            grid: false,
            grid_selected: 0,
            raw: false,
            answer: None,
            deferred: HashSet::new(),
            compose: None,
            help_scroll: 0,
            terminal_focus: None,
            pending_shell: None,
            search: None,
            notice: None,
            quitting: false,
            exit: false,
            defaults,
            panes: HashMap::new(),
            cache: RefCell::new(HashMap::new()),
            use_counter: RefCell::new(0),
            raw_rings: HashMap::new(),
            raw_term: None,
            pty_size,
        }
    }

    /// The mode deciding what keys mean.
    pub fn mode(&self) -> Mode {
        match &self.overlay {
            Overlay::Help => Mode::Help,
            Overlay::ConfirmKill(_) => Mode::ConfirmKill,
            Overlay::ConfirmQuit => Mode::ConfirmQuit,
            Overlay::ConfirmDelete(_) => Mode::ConfirmDelete,
            Overlay::Diff(r) if r.confirm_discard.is_some() => Mode::ConfirmDiscard,
            Overlay::Diff(_) => Mode::Diff,
            Overlay::Form(_) => Mode::Form,
            Overlay::Search(_) => Mode::Search,
            Overlay::None if self.terminal_focus.is_some() => Mode::Terminal,
            Overlay::None if self.compose.is_some() => Mode::Typing,
            Overlay::None if self.grid => Mode::Grid,
            Overlay::None => match &self.answer {
                Some(b) if b.is_typing() => Mode::Typing,
                Some(b) if b.step == Step::Approve => Mode::Approve,
                Some(_) => Mode::Choose,
                None if self.search.is_some() => Mode::Found,
                None => Mode::Normal,
            },
        }
    }

    /// Position of the selected task in the list (see [`App::list_order`]).
    pub fn selected_index(&self, state: &State) -> Option<usize> {
        let id = self.selected?;
        Self::list_order(state)
            .iter()
            .position(|&i| state.tasks[i].id == id)
    }

    /// The task list's order, as indices into `state.tasks`: tasks waiting
    /// for the user float to the top, the rest keep their order.
    pub fn list_order(state: &State) -> Vec<usize> {
        let blocked = |i: &usize| state.tasks[*i].status == TaskStatus::Blocked;
        let all = 0..state.tasks.len();
        all.clone()
            .filter(blocked)
            .chain(all.filter(|i| !blocked(i)))
            .collect()
    }

    /// The next task waiting for the user after the selected one.
    fn next_blocked(&self, state: &State) -> Option<TaskId> {
        let waiting: Vec<TaskId> = state
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Blocked)
            .map(|t| t.id)
            .collect();
        let at = self
            .selected
            .and_then(|id| waiting.iter().position(|w| *w == id));
        match at {
            Some(i) => waiting.get((i + 1) % waiting.len()).copied(),
            None => waiting.first().copied(),
        }
    }

    /// Opens (or closes) the answer box of the selected task: open while it
    /// waits on a question the user has not put aside.
    pub fn sync_answer(&mut self, state: &State) {
        let wanted = self
            .selected
            .and_then(|id| state.task(id))
            .filter(|t| t.status == TaskStatus::Blocked)
            .and_then(|t| t.pending_question.clone().map(|q| (t.id, q)))
            .filter(|(_, q)| !self.deferred.contains(&q.id));
        match wanted {
            Some((task, q)) => {
                let same = self
                    .answer
                    .as_ref()
                    .is_some_and(|b| b.task == task && b.question.id == q.id);
                if !same {
                    self.answer = Some(AnswerBox::new(task, q));
                }
            }
            None => self.answer = None,
        }
        if let Some(c) = &self.compose
            && state.task(c.task).is_none()
        {
            self.compose = None;
        }
    }

    /// Scroll state of a task's pane (following the tail by default).
    pub fn pane(&self, task: TaskId) -> PaneState {
        self.panes.get(&task).cloned().unwrap_or(PaneState {
            follow: true,
            ..Default::default()
        })
    }

    fn pane_mut(&mut self, task: TaskId) -> &mut PaneState {
        self.panes.entry(task).or_insert_with(|| PaneState {
            follow: true,
            ..Default::default()
        })
    }

    /// Calls `f` with the up-to-date lines of `task` at `width`.
    pub fn with_lines<R>(
        &self,
        state: &State,
        task: TaskId,
        width: u16,
        f: impl FnOnce(&TaskLines) -> R,
    ) -> Option<R> {
        let t = state.task(task)?;
        let expansion = self.panes.get(&task).map(|p| &p.expansion);
        let default = Expansion::default();
        let expansion = expansion.unwrap_or(&default);
        let mut cache = self.cache.borrow_mut();
        let mut counter = self.use_counter.borrow_mut();
        *counter += 1;
        if !cache.contains_key(&(task, width)) {
            let mut mine: Vec<(u16, u64)> = cache
                .iter()
                .filter(|((id, _), _)| *id == task)
                .map(|((_, w), (used, _))| (*w, *used))
                .collect();
            mine.sort_by_key(|(_, used)| *used);
            while mine.len() >= WIDTHS_PER_TASK {
                let (w, _) = mine.remove(0);
                cache.remove(&(task, w));
            }
        }
        let entry = cache
            .entry((task, width))
            .or_insert_with(|| (0, TaskLines::new(width, self.theme)));
        entry.0 = *counter;
        entry.1.refresh(&t.transcript, expansion);
        Some(f(&entry.1))
    }

    /// Marks the start of a frame for [`App::evict_unused`].
    pub fn cache_mark(&self) -> u64 {
        *self.use_counter.borrow()
    }

    /// Frees the cached lines no view used since `mark`: only what is on
    /// screen keeps a rendered copy (a hidden task is rendered again from
    /// its transcript when it is shown).
    pub fn evict_unused(&self, mark: u64) {
        self.cache.borrow_mut().retain(|_, (used, _)| *used > mark);
    }

    /// The first line to show in a pane of `height` lines with `total` lines.
    pub fn pane_top(&self, task: TaskId, total: usize, height: usize) -> usize {
        let p = self.pane(task);
        let bottom = total.saturating_sub(height);
        if p.follow { bottom } else { p.top.min(bottom) }
    }

    /// Where the selected task's transcript is drawn: the pane body above
    /// the answer box or the follow-up line.
    fn pane_geometry(&self, state: &State) -> Rect {
        let body = pane_body(regions(self.size, state.tasks.len()).pane);
        Rect {
            height: body.height.saturating_sub(self.reserved_rows(state, body)),
            ..body
        }
    }

    /// Rows at the bottom of the pane `body` taken by what the user types
    /// (the answer box, the follow-up line) or the waiting hint.
    pub fn reserved_rows(&self, state: &State, body: Rect) -> u16 {
        let Some(task) = self.selected.and_then(|id| state.task(id)) else {
            return 0;
        };
        if self.raw {
            return 0;
        }
        match (&self.compose, &self.answer) {
            (Some(c), _) if c.task == task.id => {
                super::view::answer::compose_height(c, Some(task), self.theme, body)
            }
            (_, Some(b)) if b.task == task.id => {
                super::view::answer::answer_height(b, self.theme, body)
            }
            _ if task.status == TaskStatus::Blocked => 1,
            _ => 0,
        }
    }

    fn pane_total(&self, state: &State, task: TaskId) -> usize {
        let w = self.pane_geometry(state).width;
        self.with_lines(state, task, w, |l| l.len()).unwrap_or(0)
    }

    /// Tasks shown in the grid: every task still running, blocked or queued.
    pub fn grid_tasks(state: &State) -> Vec<TaskId> {
        state
            .tasks
            .iter()
            .filter(|t| !t.status.is_final())
            .map(|t| t.id)
            .collect()
    }

    /// Whether any agent is still alive.
    pub fn any_live(state: &State) -> bool {
        state.tasks.iter().any(|t| !t.status.is_final())
    }

    /// When something on screen next changes with time alone (a spinner
    /// frame, an elapsed second), after `now_ms`; `None`: nothing moves.
    pub fn next_redraw(&self, state: &State, now_ms: u64) -> Option<u64> {
        super::deadline::next_redraw(self, state, now_ms)
    }

    /// Keeps the selection valid after tasks were added.
    pub fn sync(&mut self, state: &State) {
        if self.selected_index(state).is_none() {
            self.selected = state.tasks.last().map(|t| t.id);
        }
    }

    /// Carries out one action; returns what the loop must ask of the core.
    pub fn handle(&mut self, action: Action, state: &State) -> Vec<Intent> {
        self.sync(state);
        let intents = self.act(action, state);
        // The selection may have moved or a question come back: the answer
        // box follows at once. (After an intent the core decides first.)
        if intents.is_empty() {
            self.sync_answer(state);
        }
        intents
    }

    fn act(&mut self, action: Action, state: &State) -> Vec<Intent> {
        if let Some(intents) = self.act_review(&action) {
            return intents;
        }
        if matches!(self.overlay, Overlay::Help) {
            // The help scrolls on a small terminal.
            let page = self.size.height.saturating_sub(3).max(1) as usize;
            let top = super::view::help::first_row(self.size, self.help_scroll);
            let to = match action {
                Action::ScrollDown(n) => Some(top + n as usize),
                Action::ScrollUp(n) => Some(top.saturating_sub(n as usize)),
                Action::PageDown => Some(top + page),
                Action::PageUp => Some(top.saturating_sub(page)),
                Action::Home => Some(0),
                _ => None,
            };
            if let Some(to) = to {
                self.help_scroll = super::view::help::first_row(self.size, to);
                return vec![];
            }
        }
        match action {
            Action::None => {}
            Action::Up | Action::Down if self.grid => {
                self.move_tile(state, action == Action::Down, false)
            }
            Action::Left | Action::Right => self.move_tile(state, action == Action::Right, true),
            Action::Up => self.select_step(state, -1),
            Action::Down => self.select_step(state, 1),
            Action::ScrollUp(n) => self.scroll(state, -(n as isize)),
            Action::ScrollDown(n) => self.scroll(state, n as isize),
            Action::PageUp | Action::PageDown => {
                let h = self.pane_geometry(state).height.max(2) as isize - 1;
                self.scroll(state, if action == Action::PageUp { -h } else { h });
            }
            Action::Home => {
                if let Some(id) = self.selected {
                    let p = self.pane_mut(id);
                    p.top = 0;
                    p.follow = false;
                }
            }
            Action::End => {
                if let Some(id) = self.selected {
                    self.pane_mut(id).follow = true;
                }
            }
            Action::Click { column, row } => self.click(state, column, row),
            Action::SearchStart => self.overlay = Overlay::Search(String::new()),
            Action::SearchChar(c) => {
                if let Overlay::Search(q) = &mut self.overlay {
                    q.push(c);
                }
            }
            Action::SearchBackspace => {
                if let Overlay::Search(q) = &mut self.overlay {
                    q.pop();
                }
            }
            Action::SearchSubmit => {
                let Overlay::Search(q) = std::mem::replace(&mut self.overlay, Overlay::None) else {
                    return vec![];
                };
                if q.is_empty() {
                    self.search = None;
                } else {
                    self.search = Some(Search {
                        query: q,
                        current: None,
                    });
                    self.find(state, false);
                }
            }
            Action::SearchNext => self.find(state, true),
            Action::SearchPrev => self.find(state, false),
            Action::ToggleRaw => {
                self.raw = !self.raw;
                self.rebuild_raw();
            }
            Action::ToggleGrid => {
                self.grid = !self.grid;
                if self.grid {
                    let tiles = Self::grid_tasks(state);
                    self.grid_selected = self
                        .selected
                        .and_then(|id| tiles.iter().position(|t| *t == id))
                        .unwrap_or(0);
                }
            }
            Action::Open => {
                if let Some(id) = Self::grid_tasks(state).get(self.grid_selected) {
                    self.select(*id);
                }
                self.grid = false;
            }
            Action::ToggleExpand => {
                if let Some(id) = self.selected {
                    self.pane_mut(id).expansion.toggle_all();
                }
            }
            Action::NewTask => self.overlay = Overlay::Form(Box::new(Form::new(&self.defaults))),
            Action::KillAsk => {
                if let Some(t) = self.selected_live(state) {
                    self.overlay = Overlay::ConfirmKill(t);
                }
            }
            Action::KillNow => {
                if let Some(t) = self.selected_live(state) {
                    return vec![Intent::Kill(t)];
                }
            }
            Action::BoxKey(key) => {
                if let Some(c) = self.compose.as_mut() {
                    match c.key(key) {
                        Some(Some(text)) => {
                            let task = c.task;
                            if state
                                .task(task)
                                .is_some_and(|t| t.pending_question.is_some())
                            {
                                // A question came in meanwhile: the text
                                // stays, the question is answered first.
                                self.notice = Some(format!(
                                    "#{task} now waits for your answer: Esc, answer it, then m"
                                ));
                                c.text.insert_str(text);
                                return vec![];
                            }
                            self.compose = None;
                            return vec![Intent::FollowUp(task, text)];
                        }
                        Some(None) => self.compose = None,
                        None => {}
                    }
                } else if let Some(b) = self.answer.as_mut() {
                    let task = b.task;
                    match b.key(key) {
                        Outcome::Pending => {}
                        Outcome::Defer => {
                            self.deferred.insert(b.question.id.clone());
                            self.answer = None;
                        }
                        Outcome::AllowAlways => {
                            self.answer = None;
                            return vec![Intent::AllowAlways(task)];
                        }
                        Outcome::Answer(answer) => {
                            self.answer = None;
                            return vec![Intent::Answer(task, answer)];
                        }
                    }
                }
            }
            Action::Compose => self.compose_for(state),
            Action::Focus => {
                if let Some(q) = self
                    .selected
                    .and_then(|id| state.task(id))
                    .and_then(|t| t.pending_question.as_ref())
                {
                    self.deferred.remove(&q.id);
                }
            }
            Action::NextBlocked => {
                if let Some(id) = self.next_blocked(state) {
                    self.grid = false;
                    self.select(id);
                    if let Some(q) = state.task(id).and_then(|t| t.pending_question.as_ref()) {
                        self.deferred.remove(&q.id);
                    }
                }
            }
            Action::FocusTerminal => {
                if let Some(t) = self.selected.and_then(|id| state.task(id))
                    && t.spec.agent == AgentKind::Command
                    && t.process_alive
                {
                    self.terminal_focus = Some(t.id);
                    self.grid = false;
                    self.raw = true;
                    // The program draws for the pane's size from now on.
                    let (rows, cols) = self.terminal_size(state);
                    self.pty_size = (rows, cols);
                    self.rebuild_raw();
                    return vec![Intent::Resize(t.id, rows, cols)];
                }
            }
            Action::TerminalKey(key) => {
                let alive = self
                    .terminal_focus
                    .and_then(|id| state.task(id))
                    .filter(|t| t.process_alive);
                match alive {
                    Some(t) => {
                        let bytes = key_bytes(key);
                        if !bytes.is_empty() {
                            return vec![Intent::Input(t.id, bytes)];
                        }
                    }
                    None => self.terminal_focus = None,
                }
            }
            Action::LeaveTerminal => self.terminal_focus = None,
            Action::OpenDiff => {
                if let Some(id) = self.selected {
                    return self.open_review(id);
                }
            }
            // Outside the review (handled above) these keys mean nothing.
            Action::ReviewCommit
            | Action::ReviewMerge
            | Action::ReviewShell
            | Action::ReviewDiscard => {}
            Action::Rerun => {
                if let Some(t) = self.selected_finished(state) {
                    return vec![Intent::Rerun(t)];
                }
            }
            Action::ToggleArchive => {
                if let Some(t) = self.selected_finished(state) {
                    return vec![Intent::Archive(t)];
                }
            }
            Action::DeleteAsk => {
                if let Some(t) = self.selected_finished(state) {
                    self.overlay = Overlay::ConfirmDelete(t);
                }
            }
            Action::Quit => {
                if Self::any_live(state) {
                    self.overlay = Overlay::ConfirmQuit;
                } else {
                    self.exit = true;
                }
            }
            Action::Help => {
                self.help_scroll = 0;
                self.overlay = Overlay::Help;
            }
            Action::Close => match self.overlay {
                Overlay::None if self.grid => self.grid = false,
                Overlay::None => self.search = None,
                _ => self.overlay = Overlay::None,
            },
            Action::Confirm => match std::mem::replace(&mut self.overlay, Overlay::None) {
                Overlay::ConfirmKill(t) => return vec![Intent::Kill(t)],
                Overlay::ConfirmDelete(t) => {
                    self.selected = None;
                    return vec![Intent::Delete(t)];
                }
                Overlay::ConfirmQuit => {
                    self.quitting = true;
                    self.notice = Some("stopping every agent…".into());
                    return state
                        .tasks
                        .iter()
                        .filter(|t| !t.status.is_final())
                        .map(|t| Intent::Kill(t.id))
                        .collect();
                }
                other => self.overlay = other,
            },
            Action::FormSubmit => {
                if let Overlay::Form(f) = &mut self.overlay {
                    if let Some(out) = f.submit() {
                        self.overlay = Overlay::None;
                        self.grid = false;
                        return vec![Intent::Launch(out)];
                    }
                }
            }
            Action::FormNext | Action::FormPrev => {
                if let Overlay::Form(f) = &mut self.overlay {
                    f.cycle(action == Action::FormNext);
                }
            }
            Action::FormKey(k) => {
                if let Overlay::Form(f) = &mut self.overlay {
                    f.key(k);
                }
            }
        }
        vec![]
    }

    /// `m`: a message for the selected task. A task waiting on a question
    /// gets it as the reply (a deny message, an own answer); one that
    /// cannot take a message now says why instead of dropping it.
    fn compose_for(&mut self, state: &State) {
        let Some(t) = self.selected.and_then(|id| state.task(id)) else {
            return;
        };
        if let Some(q) = &t.pending_question {
            self.deferred.remove(&q.id);
            self.sync_answer(state);
            if let Some(b) = self.answer.as_mut() {
                b.reply();
            }
            return;
        }
        let busy_elsewhere = t.process_alive
            && !t.status.is_final()
            && !(t.stdin_open && t.spec.agent.has_live_channel())
            && t.spec.agent != AgentKind::Command;
        self.notice = match t.status {
            TaskStatus::Queued => Some(format!(
                "#{} has not started yet: message it once it runs",
                t.id
            )),
            _ if busy_elsewhere => Some(format!(
                "#{} ({}) takes a message when its turn ends",
                t.id,
                t.spec.agent.name()
            )),
            _ => {
                self.compose = Some(Compose::new(t.id));
                None
            }
        };
    }

    /// Pasted text (bracketed paste) for the form or the search prompt.
    pub fn paste(&mut self, text: &str) {
        if let Some(c) = self.compose.as_mut() {
            c.text.insert_str(text);
            return;
        }
        if matches!(self.overlay, Overlay::None)
            && let Some(b) = self.answer.as_mut()
        {
            b.paste(text);
            return;
        }
        match &mut self.overlay {
            Overlay::Form(f) => f.paste(text),
            Overlay::Search(q) => q.push_str(&text.replace(['\n', '\r'], " ")),
            _ => {}
        }
    }

    /// Rows and columns of the pane body, where a focused program's
    /// terminal is shown.
    fn terminal_size(&self, state: &State) -> (u16, u16) {
        let body = pane_body(regions(self.size, state.tasks.len()).pane);
        (body.height.max(1), body.width.max(1))
    }

    /// The selected task when it has finished and no agent process is left.
    fn selected_finished(&self, state: &State) -> Option<TaskId> {
        let id = self.selected?;
        state
            .task(id)
            .filter(|t| t.status.is_final() && !t.process_alive)
            .map(|t| t.id)
    }

    fn selected_live(&self, state: &State) -> Option<TaskId> {
        let id = self.selected?;
        state
            .task(id)
            .filter(|t| !t.status.is_final())
            .map(|t| t.id)
    }

    /// Records raw terminal output of a task for the raw view.
    pub fn raw_output(&mut self, task: TaskId, bytes: &[u8]) {
        let ring = self.raw_rings.entry(task).or_default();
        ring.extend(bytes);
        if ring.len() > RAW_RING_BYTES {
            let extra = ring.len() - RAW_RING_BYTES;
            ring.drain(..extra);
        }
        if let Some((id, parser)) = &mut self.raw_term {
            if *id == task {
                parser.process(bytes);
            }
        }
    }

    /// The emulated terminal of the selected task, when the raw view is on.
    pub fn raw_screen(&self) -> Option<&vt100::Screen> {
        match &self.raw_term {
            Some((id, p)) if Some(*id) == self.selected => Some(p.screen()),
            _ => None,
        }
    }

    /// Whether any raw output of `task` has arrived.
    pub fn has_raw(&self, task: TaskId) -> bool {
        self.raw_rings.get(&task).is_some_and(|r| !r.is_empty())
    }

    fn rebuild_raw(&mut self) {
        self.raw_term = None;
        if !self.raw {
            return;
        }
        let Some(id) = self.selected else { return };
        let mut parser = vt100::Parser::new(self.pty_size.0.max(2), self.pty_size.1.max(10), 0);
        if let Some(ring) = self.raw_rings.get(&id) {
            let (a, b) = ring.as_slices();
            parser.process(a);
            parser.process(b);
        }
        self.raw_term = Some((id, parser));
    }
}

#[path = "app_nav.rs"]
mod nav;
#[path = "app_review.rs"]
mod review;

pub use nav::key_bytes;
