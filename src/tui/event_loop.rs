//! The cockpit's event loop: terminal input, runtime events, signals and a
//! frame deadline, in one `select!`.
//!
//! Redraws are event-driven: a change marks the screen dirty and frames are
//! coalesced to at most one per [`FRAME`]. With nothing happening, the loop
//! sleeps until the next moment the screen changes by the clock alone (a
//! visible spinner's next frame, a visible elapsed time's next second; see
//! `deadline`), so a cockpit that is idle, or waits on a blocked task, does
//! not wake at all.
//! Runtime events are applied in small batches, input polled first between
//! them, so a key never waits behind a flood; while a frame is pending,
//! events gather and are applied just before it is drawn, so a stream
//! wakes the loop once a frame. The only
//! side effects are the runtime's (through `Runtime::apply`) and drawing.

use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::Receiver;

use super::app::{App, Intent, Overlay};
use super::keymap::{map_key_bound, map_mouse};
use super::launch::task_spec;
use super::remote::{Backend, Note};
use super::terminal::{Term, set_live_groups};
use super::view;
use crate::cli::AgentArgs;
use crate::config::Config;
use crate::core::task::TaskStatus;
use crate::core::{Command, Event, State};
use crate::driver::Driver;

/// Shortest time between two frames (about 60 per second).
pub const FRAME: Duration = Duration::from_millis(16);
/// A clock deadline is slept past by this much, so the frame drawn then
/// shows the new second (or spinner frame) for sure.
const DEADLINE_SLACK_MS: u64 = 2;
/// Runtime events applied at most before input gets a look again: the
/// select is biased to input, so a key waits for one batch at most.
const DRAIN_BATCH: usize = 64;
/// How long the events that gathered while a frame was due are applied
/// before it is drawn (and input gets a look): the rest wait a frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);
/// How long quitting waits for the kill ladders before forcing.
const QUIT_GRACE: Duration = Duration::from_secs(6);

pub use crate::headless::now_ms;

/// Everything the loop drives.
pub struct Cockpit {
    /// The core, the store recorder and the runtime (or the link to the
    /// corral server, whose state this one mirrors), stepped together.
    pub driver: Driver<Backend>,
    pub app: App,
    pub events: Receiver<Event>,
    /// What the server link says besides events (server mode only).
    pub notes: Option<Receiver<Note>>,
    /// The launch request (host, number) whose task gets selected when
    /// it is done.
    pub pending_launch: Option<(usize, u64)>,
    /// A launched task to select once its host's mirror shows it (host
    /// name, its id there).
    pub pending_select: Option<(String, String)>,
    pub args: AgentArgs,
    /// Profiles, defaults and limits.
    pub config: Config,
    /// Key overrides from the config.
    pub bindings: super::bindings::Bindings,
    /// Bell and notification when a task starts waiting for the user.
    pub attention: super::attention::Attention,
    /// Why the link to this machine's server ended, when it did.
    pub gone: Option<String>,
    /// Other corrals' tasks from the store, whenever they change.
    pub elsewhere: Option<Receiver<super::elsewhere::Seen>>,
}

impl Cockpit {
    /// What corral knows.
    pub fn state(&self) -> &State {
        self.driver.state()
    }

    /// Applies one runtime event to the core (or the raw view).
    pub fn apply(&mut self, ev: Event) {
        if let Event::Output { task, bytes } = &ev {
            self.app.raw_output(*task, bytes);
            return;
        }
        // In server mode the server decides: the command goes there and
        // comes back as a mirror change.
        let ev = match ev {
            Event::Command(cmd) => {
                let (state, backend) = self.driver.parts();
                match backend.remote() {
                    Some(remote) => {
                        if let Err(err) = remote.command(state, cmd) {
                            self.app.notice = Some(format!("✗ {err}"));
                        }
                        return;
                    }
                    None => Event::Command(cmd),
                }
            }
            ev => ev,
        };
        let changed = match &ev {
            Event::WorktreeChanges { task, .. } => Some(*task),
            _ => None,
        };
        let mirrored = matches!(ev, Event::Mirror(_));
        if let Event::Mirror(m) = &ev
            && m.reset
            && let Some(remote) = self.driver.executor.remote()
        {
            remote.forget_opening();
        }
        // The cockpit reads transcripts from state; what was published is
        // the store's. Review answers go to the review.
        let step = self.driver.step(now_ms(), ev);
        let mut intents = Vec::new();
        for report in &step.reviews {
            intents.extend(self.app.review_report(report));
        }
        if let Some(task) = changed {
            intents.extend(self.app.review_changed(task));
        }
        if !intents.is_empty() {
            self.intents(intents);
        }
        if mirrored && self.pending_select.is_some() {
            self.select_launched();
        }
    }

    /// Selects the task launched last once the mirror has it.
    fn select_launched(&mut self) {
        let Some((host, id)) = &self.pending_select else {
            return;
        };
        let found =
            self.state().tasks.iter().find(|t| {
                t.host.as_deref() == Some(host.as_str()) && crate::server::wire_id(t) == *id
            });
        if let Some(task) = found.map(|t| t.id) {
            self.pending_select = None;
            self.app.select(task);
        }
    }

    /// Applies the queued runtime events (up to a batch); returns how many.
    pub fn drain(&mut self) -> usize {
        let mut applied = 0;
        for _ in 0..DRAIN_BATCH {
            match self.events.try_recv() {
                Ok(ev) => {
                    self.apply(ev);
                    applied += 1;
                }
                Err(_) => break,
            }
        }
        applied
    }

    /// Applies the queued runtime events for at most `budget` (whole
    /// batches of [`DRAIN_BATCH`]); returns how many.
    pub fn drain_for(&mut self, budget: Duration) -> usize {
        let start = Instant::now();
        let mut applied = 0;
        loop {
            let n = self.drain();
            applied += n;
            if n < DRAIN_BATCH || start.elapsed() >= budget {
                return applied;
            }
        }
    }

    /// Turns what the user wants into core commands.
    pub fn intents(&mut self, intents: Vec<Intent>) {
        for intent in intents {
            let cmd = match intent {
                Intent::Launch(out) => match task_spec(&self.args, &self.config, out.clone()) {
                    Ok(spec) if matches!(self.driver.executor, Backend::Server(_)) => {
                        if let Some(remote) = self.driver.executor.remote() {
                            let host = out.host.as_deref().and_then(|h| remote.index(h));
                            let host = host.unwrap_or(0);
                            let spec = if remote.name(host) == crate::config::LOCAL_HOST {
                                spec
                            } else {
                                super::launch::for_remote(spec, &self.args)
                            };
                            match remote.launch(host, &spec) {
                                Ok(seq) => self.pending_launch = Some((host, seq)),
                                Err(err) => self.app.notice = Some(format!("✗ {err}")),
                            }
                        }
                        continue;
                    }
                    Ok(spec) => {
                        let (id, _) = self.driver.launch(now_ms(), spec);
                        self.app.select(id);
                        continue;
                    }
                    Err(e) => {
                        self.app.notice = Some(format!("cannot start: {e:#}"));
                        continue;
                    }
                },
                Intent::Shell(task) => {
                    self.shell(task);
                    continue;
                }
                Intent::Rerun(task) => match self.state().task(task).map(|t| t.status) {
                    Some(TaskStatus::Interrupted) => Command::Resume {
                        task,
                        message: None,
                    },
                    _ => Command::Retry { task },
                },
                Intent::Archive(task) => {
                    let archived = self.state().task(task).is_some_and(|t| !t.archived);
                    self.app.notice = Some(if archived {
                        format!("#{task} archived: it will not be loaded at the next start")
                    } else {
                        format!("#{task} is no longer archived")
                    });
                    Command::Archive { task, archived }
                }
                Intent::Kill(_)
                | Intent::Answer(..)
                | Intent::AllowAlways(_)
                | Intent::FollowUp(..)
                | Intent::Input(..)
                | Intent::Resize(..)
                | Intent::Review(..)
                | Intent::Delete(_) => match intent.command() {
                    Some(cmd) => cmd,
                    None => continue,
                },
            };
            self.apply(Event::Command(cmd));
        }
        set_live_groups(self.driver.executor.live_groups());
    }

    /// `s` in the review: the cockpit steps aside for a shell in the
    /// task's worktree (read from state; nothing runs here).
    fn shell(&mut self, task: crate::core::TaskId) {
        match self.state().task(task).and_then(|t| t.worktree.as_ref()) {
            Some(wt) => self.app.pending_shell = Some(wt.path.clone()),
            None => self.app.notice = Some(format!("#{task} has no worktree")),
        }
    }

    /// The open review reads its changes again (after a shell).
    pub fn refresh_review(&mut self) {
        if let Overlay::Diff(r) = &self.app.overlay {
            let intents = self.app.review_changed(r.task);
            self.intents(intents);
        }
    }

    /// Handles what the hosts' links say (server mode).
    pub fn note(&mut self, note: Note) {
        let Some(remote) = self.driver.executor.remote() else {
            return;
        };
        match note {
            Note::Done { host, seq, id } => {
                if self.pending_launch == Some((host, seq)) {
                    self.pending_launch = None;
                    if let Some(id) = id {
                        self.pending_select = Some((remote.name(host).to_string(), id));
                        self.select_launched();
                    }
                }
            }
            Note::Failed { host, message } => {
                self.app.notice = Some(if remote.names().len() > 1 {
                    format!("✗ {}: {message}", remote.name(host))
                } else {
                    format!("✗ {message}")
                })
            }
            Note::Linked {
                host,
                writer,
                next_seq,
            } => remote.linked(host, writer, next_seq),
            Note::Raw { host, id, bytes } => {
                if let Some(task) = remote.watched(host, &id) {
                    self.app.raw_output(task, &bytes);
                }
            }
            Note::Gone(message) => {
                self.gone = Some(message);
                self.app.exit = true;
            }
        }
    }

    /// In server mode, asks for the selected task's terminal output.
    fn watch_selected(&mut self) {
        let selected = self.app.selected;
        let (state, backend) = self.driver.parts();
        if let Some(remote) = backend.remote() {
            remote.watch(state, selected);
        }
    }

    /// Handles one terminal event.
    pub fn terminal_event(&mut self, ev: TermEvent) {
        self.app.sync(self.driver.state());
        self.app.sync_answer(self.driver.state());
        let action = match ev {
            TermEvent::Key(k) => map_key_bound(k, self.app.mode(), &self.bindings),
            TermEvent::Mouse(m) => map_mouse(m, self.app.mode()),
            TermEvent::Paste(text) => {
                self.app.paste(&text);
                return;
            }
            TermEvent::Resize(w, h) => {
                self.app.size = Rect::new(0, 0, w, h);
                return;
            }
            _ => return,
        };
        let intents = self.app.handle(action, self.driver.state());
        self.intents(intents);
        self.watch_selected();
    }

    /// Draws one frame.
    pub fn draw(&mut self, term: &mut Term) -> std::io::Result<()> {
        let signal = self.attention.update(self.driver.state());
        for body in self.attention.desktop.drain(..) {
            super::attention::notify(body);
        }
        if !signal.is_empty() {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(signal.as_bytes());
            let _ = out.flush();
        }
        self.app.now_ms = now_ms();
        self.app.sync(self.driver.state());
        // A stored task's transcript is read when it is shown (from the
        // store, or asked of its server).
        let selected = self.app.selected;
        if let Some(task) = selected {
            self.driver.load_transcript(now_ms(), task);
        }
        let (state, backend) = self.driver.parts();
        if let Some(remote) = backend.remote() {
            remote.open_shown(state, selected);
        }
        self.app.sync_answer(self.driver.state());
        let (app, state) = (&mut self.app, self.driver.state());
        term.draw(|f| {
            app.size = f.area();
            view::draw(app, state, f.area(), f.buffer_mut());
        })?;
        Ok(())
    }
}

/// Runs until the user quits (or input ends); agents are killed on the way.
pub async fn run_loop(c: &mut Cockpit, term: &mut Term) -> std::io::Result<()> {
    let mut input = EventStream::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut dirty = true;
    let mut last_frame: Option<Instant> = None;
    let mut quit_deadline: Option<Instant> = None;
    // The task rows show what each agent's process tree costs: sampled
    // only while this loop draws (and, in the runtime, an agent is alive).
    c.apply(Event::Command(Command::WatchCosts { on: true }));
    loop {
        if c.app.quitting && quit_deadline.is_none() {
            quit_deadline = Some(Instant::now() + QUIT_GRACE);
        }
        if c.app.exit
            || (c.app.quitting && !App::anything_to_stop(c.state()))
            || quit_deadline.is_some_and(|d| Instant::now() >= d)
        {
            break;
        }
        let now = Instant::now();
        let frame_due = last_frame.is_none_or(|t| now >= t + FRAME);
        if dirty && frame_due {
            // What arrived while the frame waited goes into it.
            if c.drain_for(DRAIN_BUDGET) > 0 {
                set_live_groups(c.driver.executor.live_groups());
            }
            c.draw(term)?;
            dirty = false;
            last_frame = Some(now);
        }
        let clock = if dirty {
            None
        } else {
            let now_ms = now_ms();
            c.app.next_redraw(c.state(), now_ms).map(|at| {
                Instant::now()
                    + Duration::from_millis(at.saturating_sub(now_ms) + DEADLINE_SLACK_MS)
            })
        };
        let wake = if dirty {
            last_frame.map(|t| t + FRAME)
        } else {
            [clock, quit_deadline].into_iter().flatten().min()
        };
        tokio::select! {
            biased;
            ev = input.next() => match ev {
                Some(Ok(ev)) => {
                    if let TermEvent::Resize(cols, rows) = ev {
                        super::terminal::resize(term, cols, rows)?;
                    }
                    c.terminal_event(ev);
                    if let Some(dir) = c.app.pending_shell.take() {
                        // The shell owns the terminal until it exits.
                        drop(input);
                        c.apply(Event::Command(Command::WatchCosts { on: false }));
                        let outcome = tokio::task::block_in_place(|| shell_in(term, &dir));
                        c.apply(Event::Command(Command::WatchCosts { on: true }));
                        input = EventStream::new();
                        c.app.notice = Some(match outcome {
                            Ok(()) => format!("back from the shell in {}", dir.display()),
                            Err(e) => format!("✗ the shell could not run: {e}"),
                        });
                        c.refresh_review();
                    }
                    dirty = true;
                }
                // The terminal is gone: nobody can see or steer the agents.
                Some(Err(_)) | None => break,
            },
            // Once a frame is due, events wait for it (they are applied
            // just before it is drawn): a stream wakes the loop once a
            // frame, not once per read of every agent.
            Some(ev) = c.events.recv(), if !dirty => {
                c.apply(ev);
                c.drain();
                set_live_groups(c.driver.executor.live_groups());
                dirty = true;
            }
            Some(note) = next_note(&mut c.notes) => {
                c.note(note);
                dirty = true;
            }
            Some(seen) = next_note(&mut c.elsewhere) => {
                c.app.elsewhere = seen.tasks;
                c.app.elsewhere_polled = seen.polled;
                dirty = true;
            }
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = sigint.recv() => break,
            _ = sleep_until(wake), if wake.is_some() => {
                if clock.is_some_and(|at| Instant::now() >= at) {
                    dirty = true;
                }
            }
        }
    }
    c.apply(Event::Command(Command::WatchCosts { on: false }));
    Ok(())
}

/// Steps the cockpit aside, runs the user's shell in `dir` on the real
/// terminal, and takes the terminal back when it exits.
fn shell_in(term: &mut Term, dir: &std::path::Path) -> std::io::Result<()> {
    super::terminal::restore();
    let shell = std::env::var("SHELL").unwrap_or_else(|_| "sh".into());
    println!(
        "corral: a shell in {} (exit to go back to corral)",
        dir.display()
    );
    let ran = std::process::Command::new(&shell).current_dir(dir).status();
    *term = super::terminal::enter()?;
    term.clear()?;
    ran.map(|_| ())
}

/// The next note of the server link (never, in local mode), or the next
/// list of other corrals' tasks (never, without a store).
async fn next_note<T>(notes: &mut Option<Receiver<T>>) -> Option<T> {
    match notes {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}
