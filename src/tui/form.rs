//! The new-task form: prompt editor, agent picker, working directory,
//! model and permission mode, and its validation.
//!
//! UI state only: it turns keys into field edits and, on submit, into a
//! [`FormOutput`]. It never starts anything itself. The one IO it does is
//! checking that the working directory exists, so the error shows while
//! typing (on this machine only: another host's directory is checked by
//! that host's server when the task starts).

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::agent::AgentKind;

/// The agent profiles offered when the config names none: one per kind.
pub fn builtin_agents() -> Vec<String> {
    AgentKind::NAMES.iter().map(|n| n.to_string()).collect()
}

/// Permission modes the picker offers; the first leaves the agent's own.
pub const PERMISSION_MODES: &[&str] = &[
    "(agent default)",
    "default",
    "acceptEdits",
    "plan",
    "bypassPermissions",
];

/// What the form starts with (from the command line).
#[derive(Debug, Clone, PartialEq)]
pub struct FormDefaults {
    /// The agent profile picked at first.
    pub agent: String,
    /// Every agent profile the picker offers (built-in and the config's).
    pub agents: Vec<String>,
    /// Whether new tasks run in a git worktree of their own.
    pub worktree: bool,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    /// The directory relative paths are resolved against (corral's cwd).
    pub base_dir: PathBuf,
    /// The working directory field's initial text.
    pub cwd: PathBuf,
    /// The hosts a task can run on (the cockpit's attached ones, this
    /// machine's `local` first); with fewer than two there is no host field.
    pub hosts: Vec<String>,
}

/// The fields, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Prompt,
    Host,
    Agent,
    Cwd,
    Model,
    Permission,
    Worktree,
}

const FIELDS: [Field; 7] = [
    Field::Prompt,
    Field::Host,
    Field::Agent,
    Field::Cwd,
    Field::Model,
    Field::Permission,
    Field::Worktree,
];

/// What a valid form asks to start.
#[derive(Debug, Clone, PartialEq)]
pub struct FormOutput {
    /// The agent profile's name.
    pub agent: String,
    pub prompt: String,
    pub cwd: PathBuf,
    pub model: Option<String>,
    pub permission_mode: Option<String>,
    /// Run in a git worktree of its own.
    pub worktree: bool,
    /// The host to run it on (`None`: the only one).
    pub host: Option<String>,
}

/// The form's state.
#[derive(Debug, Clone)]
pub struct Form {
    pub prompt: TextArea<'static>,
    /// The picker's choices and the chosen one.
    pub agents: Vec<String>,
    pub agent: usize,
    /// The hosts offered and the chosen one.
    pub hosts: Vec<String>,
    pub host: usize,
    pub cwd: TextArea<'static>,
    pub model: TextArea<'static>,
    pub permission: usize,
    /// Run the task in a git worktree of its own.
    pub worktree: bool,
    pub focus: Field,
    base_dir: PathBuf,
    /// Why the working directory is not usable, checked as it is typed.
    pub cwd_error: Option<String>,
    /// Why the last submit was refused.
    pub error: Option<String>,
}

fn one_line(text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

impl Form {
    /// A fresh form with the command line's defaults.
    pub fn new(d: &FormDefaults) -> Form {
        let agents = if d.agents.is_empty() {
            builtin_agents()
        } else {
            d.agents.clone()
        };
        let agent = agents.iter().position(|k| *k == d.agent).unwrap_or(0);
        let permission = d
            .permission_mode
            .as_deref()
            .and_then(|m| PERMISSION_MODES.iter().position(|p| *p == m))
            .unwrap_or(0);
        let mut prompt = TextArea::default();
        prompt.set_placeholder_text("What should the agent do?");
        let mut form = Form {
            prompt,
            agents,
            agent,
            hosts: d.hosts.clone(),
            host: 0,
            cwd: one_line(&d.cwd.to_string_lossy()),
            model: one_line(d.model.as_deref().unwrap_or("")),
            permission,
            worktree: d.worktree,
            focus: Field::Prompt,
            base_dir: d.base_dir.clone(),
            cwd_error: None,
            error: None,
        };
        form.check_cwd();
        form.style_focus();
        form
    }

    /// Shows the cursor only in the focused text field.
    fn style_focus(&mut self) {
        use ratatui::style::{Modifier, Style};
        let on = Style::new().add_modifier(Modifier::REVERSED);
        let focus = self.focus;
        for (field, area) in [
            (Field::Prompt, &mut self.prompt),
            (Field::Cwd, &mut self.cwd),
            (Field::Model, &mut self.model),
        ] {
            area.set_cursor_line_style(Style::new());
            area.set_cursor_style(if field == focus { on } else { Style::new() });
        }
    }

    /// Whether the form offers a choice of host.
    pub fn has_hosts(&self) -> bool {
        self.hosts.len() > 1
    }

    /// The chosen host when it is another machine.
    pub fn remote_host(&self) -> Option<&str> {
        self.hosts
            .get(self.host)
            .map(String::as_str)
            .filter(|h| *h != crate::config::LOCAL_HOST)
    }

    /// Moves the focus to the next (or previous) field.
    pub fn cycle(&mut self, forward: bool) {
        let fields: Vec<Field> = FIELDS
            .into_iter()
            .filter(|f| *f != Field::Host || self.has_hosts())
            .collect();
        let i = fields.iter().position(|f| *f == self.focus).unwrap_or(0);
        let n = fields.len();
        self.focus = fields[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }];
        self.style_focus();
    }

    /// The working directory as typed, resolved (on another host: as
    /// typed, an absolute path there).
    pub fn cwd_path(&self) -> PathBuf {
        let typed = self.cwd.lines().concat();
        let typed = typed.trim();
        if self.remote_host().is_some() {
            return PathBuf::from(typed);
        }
        let expanded = match (typed.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => Path::new(&home).join(rest),
            _ if typed == "~" => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default(),
            _ => PathBuf::from(typed),
        };
        if expanded.is_absolute() {
            expanded
        } else {
            self.base_dir.join(expanded)
        }
    }

    fn check_cwd(&mut self) {
        let typed = self.cwd.lines().concat();
        self.cwd_error = if typed.trim().is_empty() {
            Some("a working directory is required".into())
        } else if let Some(host) = self.remote_host() {
            (!Path::new(typed.trim()).is_absolute())
                .then(|| format!("on host {host} the directory must be an absolute path"))
        } else {
            let p = self.cwd_path();
            if p.is_dir() {
                None
            } else if p.exists() {
                Some(format!("{} is not a directory", p.display()))
            } else {
                Some(format!("{} does not exist", p.display()))
            }
        };
    }

    /// A key for the focused field.
    pub fn key(&mut self, key: KeyEvent) {
        self.error = None;
        match self.focus {
            Field::Prompt => {
                self.prompt.input(key);
            }
            Field::Agent => self.agent = pick(self.agent, self.agents.len(), key),
            Field::Host => {
                self.host = pick(self.host, self.hosts.len().max(1), key);
                self.check_cwd();
            }
            Field::Permission => {
                self.permission = pick(self.permission, PERMISSION_MODES.len(), key)
            }
            Field::Worktree => self.worktree = pick(self.worktree as usize, 2, key) == 1,
            Field::Cwd | Field::Model => {
                // One-line fields: Enter moves on instead of breaking the line.
                if matches!(key.code, KeyCode::Enter)
                    || (key.code == KeyCode::Char('m')
                        && key.modifiers.contains(KeyModifiers::CONTROL))
                {
                    self.cycle(true);
                    return;
                }
                if self.focus == Field::Cwd {
                    self.cwd.input(key);
                    self.check_cwd();
                } else {
                    self.model.input(key);
                }
            }
        }
    }

    /// Pasted text for the focused field (line breaks kept in the prompt).
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        match self.focus {
            Field::Prompt => {
                self.prompt.insert_str(&text);
            }
            Field::Cwd => {
                self.cwd.insert_str(text.replace('\n', ""));
                self.check_cwd();
            }
            Field::Model => {
                self.model.insert_str(text.replace('\n', ""));
            }
            Field::Agent | Field::Host | Field::Permission | Field::Worktree => {}
        }
    }

    /// The task to start, or `None` with `error` saying what is missing.
    pub fn submit(&mut self) -> Option<FormOutput> {
        let prompt = self.prompt.lines().join("\n");
        if prompt.trim().is_empty() {
            self.error = Some("the prompt is empty".into());
            self.focus = Field::Prompt;
            self.style_focus();
            return None;
        }
        self.check_cwd();
        if let Some(e) = &self.cwd_error {
            self.error = Some(format!("working directory: {e}"));
            self.focus = Field::Cwd;
            self.style_focus();
            return None;
        }
        let model = self.model.lines().concat().trim().to_string();
        Some(FormOutput {
            agent: self
                .agents
                .get(self.agent)
                .cloned()
                .unwrap_or_else(|| "claude".into()),
            prompt,
            cwd: self.cwd_path(),
            model: (!model.is_empty()).then_some(model),
            permission_mode: (self.permission > 0)
                .then(|| PERMISSION_MODES[self.permission].to_string()),
            worktree: self.worktree,
            host: self
                .has_hosts()
                .then(|| self.hosts.get(self.host).cloned())
                .flatten(),
        })
    }
}

/// Left/right (or h/l, space) through a list of choices.
fn pick(current: usize, len: usize, key: KeyEvent) -> usize {
    match key.code {
        KeyCode::Left | KeyCode::Char('h') | KeyCode::Up | KeyCode::Char('k') => {
            (current + len - 1) % len
        }
        KeyCode::Right
        | KeyCode::Char('l')
        | KeyCode::Down
        | KeyCode::Char('j')
        | KeyCode::Char(' ') => (current + 1) % len,
        _ => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(dir: &Path) -> FormDefaults {
        FormDefaults {
            agent: "claude".into(),
            agents: builtin_agents(),
            worktree: false,
            model: Some("haiku".into()),
            permission_mode: Some("plan".into()),
            base_dir: dir.to_path_buf(),
            cwd: dir.to_path_buf(),
            hosts: Vec::new(),
        }
    }

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typ(form: &mut Form, s: &str) {
        for c in s.chars() {
            form.key(k(KeyCode::Char(c)));
        }
    }

    #[test]
    fn enter_is_a_newline_and_submit_carries_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Form::new(&defaults(dir.path()));
        typ(&mut f, "fix it");
        f.key(k(KeyCode::Enter));
        typ(&mut f, "then test");
        f.cycle(false); // back to the worktree switch
        f.key(k(KeyCode::Right)); // no -> yes
        f.cycle(false); // to Permission
        f.key(k(KeyCode::Right)); // plan -> bypassPermissions
        let out = f.submit().unwrap();
        assert!(out.worktree);
        assert_eq!(out.prompt, "fix it\nthen test");
        assert_eq!(out.agent, "claude");
        assert_eq!(out.cwd, dir.path());
        assert_eq!(out.model.as_deref(), Some("haiku"));
        assert_eq!(out.permission_mode.as_deref(), Some("bypassPermissions"));
    }

    #[test]
    fn a_missing_directory_blocks_submit_with_an_inline_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Form::new(&defaults(dir.path()));
        typ(&mut f, "go");
        f.focus = Field::Cwd;
        typ(&mut f, "/nope");
        assert!(f.cwd_error.as_deref().unwrap().contains("does not exist"));
        assert_eq!(f.submit(), None);
        assert!(f.error.as_deref().unwrap().contains("working directory"));
        assert_eq!(f.focus, Field::Cwd);
    }

    #[test]
    fn relative_directories_resolve_against_the_base_and_empty_prompts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let mut d = defaults(dir.path());
        d.cwd = PathBuf::from("sub");
        d.permission_mode = None;
        let mut f = Form::new(&d);
        assert_eq!(f.submit(), None);
        assert_eq!(f.error.as_deref(), Some("the prompt is empty"));
        f.paste("multi\r\nline");
        let out = f.submit().unwrap();
        assert_eq!(out.cwd, dir.path().join("sub"));
        assert_eq!(out.prompt, "multi\nline");
        assert_eq!(out.permission_mode, None);
    }

    #[test]
    fn another_host_takes_its_own_absolute_directory_unchecked_here() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = defaults(dir.path());
        d.hosts = vec!["local".into(), "gpu".into()];
        let mut f = Form::new(&d);
        typ(&mut f, "go");
        f.cycle(true);
        assert_eq!(f.focus, Field::Host);
        f.key(k(KeyCode::Right));
        assert_eq!(f.remote_host(), Some("gpu"));
        f.focus = Field::Cwd;
        for _ in 0..200 {
            f.key(k(KeyCode::Backspace));
        }
        typ(&mut f, "srv/app");
        assert!(f.cwd_error.as_deref().unwrap().contains("absolute path"));
        typ(&mut f, "");
        f.cwd = one_line("/nowhere/here/srv/app");
        f.check_cwd();
        assert_eq!(f.cwd_error, None, "not checked on this machine");
        let out = f.submit().unwrap();
        assert_eq!(out.host.as_deref(), Some("gpu"));
        assert_eq!(out.cwd, PathBuf::from("/nowhere/here/srv/app"));
        // One host: no field, no host in the output.
        let mut f = Form::new(&defaults(dir.path()));
        typ(&mut f, "go");
        f.cycle(true);
        assert_eq!(f.focus, Field::Agent);
        assert_eq!(f.submit().unwrap().host, None);
    }
}
