//! The cockpit's UI state, separate from corral's core state: selection,
//! scroll and follow-tail per task, overlays, grid and raw modes, and the
//! caches the views read (`line_cache`, `raw_view`).
//!
//! [`App::handle`] carries out one [`Action`] and returns the [`Intent`]s
//! the loop must turn into core commands. `act` hands each action to its
//! mode's handler (`app_dialogs`: help, form, confirmations; `app_search`;
//! `app_review`; `app_answer`; `app_terminal`), then to `act_main`: the
//! main screen's keys and what every mode shares. Never does IO (the form's
//! directory check aside) and never draws.

use std::collections::{HashMap, HashSet};

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

pub use super::raw_view::RAW_RING_BYTES;

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
    /// A client of the corral server (not `--local`): `q` detaches (the
    /// agents go on), `Q` stops them all and quits.
    pub detach: bool,
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
    /// Tasks another live corral runs, as the store shows them: listed
    /// below ours, read-only (see [`super::elsewhere`]).
    pub elsewhere: Vec<super::elsewhere::Elsewhere>,
    /// Those are polled: inotify is unavailable (the heading says so).
    pub elsewhere_polled: bool,
    panes: HashMap<TaskId, PaneState>,
    lines: super::line_cache::LineCache,
    raw_view: super::raw_view::RawView,
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
            elsewhere: Vec::new(),
            elsewhere_polled: false,
            search: None,
            notice: None,
            quitting: false,
            exit: false,
            detach: false,
            defaults,
            panes: HashMap::new(),
            lines: Default::default(),
            raw_view: super::raw_view::RawView::new(pty_size),
        }
    }

    /// Rows of the task list under its header: the tasks, then the hosts
    /// that are not live, then a heading and a row per task of another
    /// corral when there are any.
    pub fn list_rows(&self, state: &State) -> usize {
        let ours = state.tasks.len() + Self::host_rows(state).len();
        match self.elsewhere.len() {
            0 => ours,
            n => ours.max(1) + n + 1,
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

    /// Whether the list shows a host column: some attached host is
    /// another machine.
    pub fn show_hosts(state: &State) -> bool {
        state
            .hosts
            .iter()
            .any(|h| h.name != crate::config::LOCAL_HOST)
    }

    /// The attached hosts whose link is not live: each is a row under the
    /// tasks, with its state in words.
    pub fn host_rows(state: &State) -> Vec<&crate::core::HostLink> {
        state
            .hosts
            .iter()
            .filter(|h| h.status != crate::core::LinkStatus::Live)
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
        let default = Expansion::default();
        let expansion = self.panes.get(&task).map_or(&default, |p| &p.expansion);
        Some(
            self.lines
                .with(task, width, self.theme, &t.transcript, expansion, f),
        )
    }

    /// Marks the start of a frame for [`App::evict_unused`].
    pub fn cache_mark(&self) -> u64 {
        self.lines.mark()
    }

    /// Frees the cached lines no view used since `mark`: only what is on
    /// screen keeps a rendered copy (a hidden task is rendered again from
    /// its transcript when it is shown).
    pub fn evict_unused(&self, mark: u64) {
        self.lines.evict_unused(mark);
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
        let body = pane_body(regions(self.size, self.list_rows(state)).pane);
        Rect {
            height: body.height.saturating_sub(self.reserved_rows(state, body)),
            ..body
        }
    }

    /// Rows at the bottom of the pane `body` taken by the plan box and what
    /// the user types (the answer box, the follow-up line) or the waiting
    /// hint.
    pub fn reserved_rows(&self, state: &State, body: Rect) -> u16 {
        let Some(task) = self.selected.and_then(|id| state.task(id)) else {
            return 0;
        };
        if self.raw {
            return 0;
        }
        let plan = super::view::plan::rows(task, body);
        plan + match (&self.compose, &self.answer) {
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

    /// How many tasks are not finished.
    pub fn live_count(state: &State) -> usize {
        state.tasks.iter().filter(|t| !t.status.is_final()).count()
    }

    /// How many finished tasks still have their agent: a live session kept
    /// open for follow-ups (or one on its way out).
    pub fn open_sessions(state: &State) -> usize {
        state.tasks.iter().filter(|t| Self::session_open(t)).count()
    }

    /// Whether `t` finished and its agent is still there.
    pub fn session_open(t: &crate::core::task::Task) -> bool {
        t.status.is_final() && t.process_alive
    }

    /// Whether anything is left to stop: an unfinished task or an open
    /// session.
    pub fn anything_to_stop(state: &State) -> bool {
        state
            .tasks
            .iter()
            .any(|t| !t.status.is_final() || t.process_alive)
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

    /// One action, by the mode it came in: the mode's own handler first
    /// (the help, the review, the search prompt, the form, a confirmation,
    /// the answer box, a program's terminal), then what every mode shares.
    fn act(&mut self, action: Action, state: &State) -> Vec<Intent> {
        let own = match self.mode() {
            Mode::Help => self.act_help(&action),
            Mode::Diff | Mode::ConfirmDiscard => self.act_review(&action),
            Mode::Search => self.act_search(&action, state),
            Mode::Form => self.act_form(&action),
            Mode::ConfirmKill | Mode::ConfirmQuit | Mode::ConfirmDelete => {
                self.act_confirm(&action, state)
            }
            Mode::Typing | Mode::Approve | Mode::Choose => self.act_answer(&action, state),
            Mode::Terminal => self.act_terminal(&action, state),
            Mode::Normal | Mode::Found | Mode::Grid => None,
        };
        own.unwrap_or_else(|| self.act_main(action, state))
    }

    /// The actions of the main screen (list, pane, grid), and those every
    /// mode shares (quit, close).
    fn act_main(&mut self, action: Action, state: &State) -> Vec<Intent> {
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
                    self.raw_view.pty_size = (rows, cols);
                    self.rebuild_raw();
                    return vec![Intent::Resize(t.id, rows, cols)];
                }
            }
            Action::LeaveTerminal => self.terminal_focus = None,
            Action::OpenDiff => {
                if let Some(id) = self.selected {
                    return self.open_review(id);
                }
            }
            // Outside the review (handled above) these keys mean nothing.
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
            Action::Quit if self.detach => self.exit = true,
            Action::Quit | Action::QuitAll => {
                if Self::any_live(state) {
                    self.overlay = Overlay::ConfirmQuit;
                } else if self.detach && Self::open_sessions(state) > 0 {
                    // `Q` with every task finished: their open sessions
                    // close (a follow-up resumes them), no question asked.
                    return self.stop_all(state);
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
            // Actions of a mode's own handler mean nothing here.
            _ => {}
        }
        vec![]
    }

    /// The selected task when it has finished and no agent process is left.
    fn selected_finished(&self, state: &State) -> Option<TaskId> {
        let id = self.selected?;
        state
            .task(id)
            .filter(|t| t.status.is_final() && !t.process_alive)
            .map(|t| t.id)
    }

    /// The selected task when there is something to kill: it has not
    /// finished, or its session is still open.
    fn selected_live(&self, state: &State) -> Option<TaskId> {
        let id = self.selected?;
        state
            .task(id)
            .filter(|t| !t.status.is_final() || t.process_alive)
            .map(|t| t.id)
    }

    /// Quitting: every unfinished task is killed and every open session
    /// closed; the loop ends once none is left.
    pub(super) fn stop_all(&mut self, state: &State) -> Vec<Intent> {
        self.quitting = true;
        self.notice = Some(if Self::any_live(state) {
            "stopping every agent…".into()
        } else {
            "closing the open sessions…".into()
        });
        state
            .tasks
            .iter()
            .filter(|t| !t.status.is_final() || t.process_alive)
            .map(|t| Intent::Kill(t.id))
            .collect()
    }
}

#[path = "app_answer.rs"]
mod answer_box;
#[path = "app_dialogs.rs"]
mod dialogs;
#[path = "app_nav.rs"]
mod nav;
#[path = "app_review.rs"]
mod review;
#[path = "app_search.rs"]
mod search;
#[path = "app_terminal.rs"]
mod terminal;

pub use search::Search;

pub use nav::key_bytes;
