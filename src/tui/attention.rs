//! Getting the user's attention when a task starts waiting for them: the
//! terminal bell and a desktop notification (OSC 9 and OSC 777, which many
//! terminals turn into one, and a D-Bus notification through notify-rust
//! where a session bus exists), once per transition into `blocked`, never
//! on a redraw. Each can be switched off in the config.
//!
//! `Attention` is pure: it decides what to send; the loop writes the
//! terminal part between frames and hands the desktop part to [`notify`].

use std::collections::HashSet;

use crate::agent::sanitize::sanitize_line;
use crate::core::event::QuestionKind;
use crate::core::task::{Task, TaskStatus};
use crate::core::{State, TaskId};
use crate::present::{tool_gist, tool_label, truncate};

/// Which signals to send.
#[derive(Debug, Clone, Default)]
pub struct Attention {
    pub bell: bool,
    pub notify: bool,
    /// Send desktop notifications over D-Bus too (a session bus exists).
    pub dbus: bool,
    /// Desktop notifications to send, drained by the loop.
    pub desktop: Vec<String>,
    waiting: HashSet<TaskId>,
}

impl Attention {
    /// Attention with these switches, nobody waiting yet.
    pub fn new(bell: bool, notify: bool) -> Attention {
        Attention {
            bell,
            notify,
            dbus: false,
            desktop: Vec::new(),
            waiting: HashSet::new(),
        }
    }

    /// The bytes to write to the terminal for tasks that began waiting
    /// since the last call (empty when there are none or all is off).
    pub fn update(&mut self, state: &State) -> String {
        let now: HashSet<TaskId> = state
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Blocked)
            .map(|t| t.id)
            .collect();
        let mut out = String::new();
        let mut fresh: Vec<TaskId> = now.difference(&self.waiting).copied().collect();
        fresh.sort_unstable();
        for id in &fresh {
            let Some(t) = state.task(*id) else { continue };
            if self.notify {
                let body = waiting_text(t);
                out.push_str(&format!("\x1b]9;corral: {body}\x07"));
                out.push_str(&format!("\x1b]777;notify;corral;{body}\x07"));
                if self.dbus {
                    self.desktop.push(body);
                }
            }
        }
        if self.bell && !fresh.is_empty() {
            out.push('\x07');
        }
        self.waiting = now;
        out
    }
}

/// One line saying which task waits and for what, safe inside an OSC
/// string: no control character of the agent's can end the sequence, and
/// no `;` can shift OSC 777's fields.
pub fn waiting_text(t: &Task) -> String {
    let what = match &t.pending_question {
        Some(q) if q.kind == QuestionKind::Approval => format!(
            "allow {}? {}",
            tool_label(q.tool.as_deref().unwrap_or("a tool")),
            tool_gist(&q.input, 60)
        ),
        Some(q) => match q.questions.first() {
            Some(item) => format!("question: {}", item.question),
            None => "a question for you".into(),
        },
        None => "waiting for you".into(),
    };
    let text = format!("#{} {} — {what}", t.id, truncate(&t.title(), 40));
    let clean: String = sanitize_line(&text)
        .chars()
        .map(|c| if c == ';' || c == '\t' { ',' } else { c })
        .collect();
    truncate(&clean, 160)
}

/// Whether this environment has a D-Bus session bus to notify on.
pub fn session_bus_exists(address: Option<&str>) -> bool {
    address.is_some_and(|a| !a.trim().is_empty())
}

/// Sends one desktop notification over D-Bus, on a thread of its own so a
/// slow or missing notification daemon never holds up the cockpit. A
/// failure is logged, never shown: the terminal signals went out anyway.
pub fn notify(body: String) {
    notify_with("corral: a task is waiting for you", body);
}

/// Sends one desktop notification with this summary (the server also
/// says when a task finished), like [`notify`].
pub fn notify_with(summary: &'static str, body: String) {
    let sent = std::thread::Builder::new()
        .name("corral-notify".into())
        .spawn(move || {
            if let Err(err) = notify_rust::Notification::new()
                .appname("corral")
                .summary(summary)
                .body(&body)
                .show()
            {
                tracing::debug!(%err, "no desktop notification");
            }
        });
    if let Err(err) = sent {
        tracing::debug!(%err, "no thread for a desktop notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
    use crate::core::task::Task;
    use crate::core::test_step::spec_of;

    fn state(blocked: &[(TaskId, &str)]) -> State {
        let mut s = State::default();
        for (id, title) in blocked {
            let spec = spec_of(AgentKind::Claude, title);
            let mut t = Task::new(*id, spec, 10);
            t.status = TaskStatus::Blocked;
            s.tasks.push(t);
        }
        s
    }

    #[test]
    fn once_per_transition() {
        let mut a = Attention::new(true, true);
        let out = a.update(&state(&[(1, "fix tests")]));
        assert!(out.contains("\x1b]9;corral: #1 fix tests — waiting for you\x07"));
        assert!(out.contains("\x1b]777;notify;corral;#1 fix tests"));
        assert!(out.ends_with('\x07'));
        for _ in 0..3 {
            assert_eq!(
                a.update(&state(&[(1, "fix tests")])),
                "",
                "still waiting: every redraw is silent"
            );
        }
        assert_eq!(a.update(&state(&[])), "");
        assert!(
            !a.update(&state(&[(1, "fix tests")])).is_empty(),
            "waits again"
        );
    }

    #[test]
    fn desktop_notifications_only_with_a_session_bus() {
        assert!(!session_bus_exists(None));
        assert!(!session_bus_exists(Some(" ")));
        assert!(session_bus_exists(Some("unix:path=/run/user/0/bus")));
        let mut a = Attention::new(false, true);
        a.update(&state(&[(1, "x")]));
        assert!(a.desktop.is_empty(), "no bus, no D-Bus notification");
        let mut a = Attention::new(false, true);
        a.dbus = true;
        a.update(&state(&[(1, "fix tests")]));
        assert_eq!(a.desktop, ["#1 fix tests — waiting for you"]);
    }

    #[test]
    fn the_notification_says_what_the_task_waits_for_safely() {
        let mut s = state(&[(4, "deploy")]);
        s.tasks[0].pending_question = Some(crate::core::event::Question {
            id: "r".into(),
            kind: QuestionKind::Approval,
            tool: Some("Bash".into()),
            input: serde_json::json!({"command": "rm -rf /tmp/x; echo \u{1b}]0;t\u{7}\u{9c}done"}),
            tool_use_id: None,
            questions: vec![],
        });
        let text = waiting_text(&s.tasks[0]);
        assert_eq!(text, "#4 deploy — allow Bash? rm -rf /tmp/x, echo done");
        let mut a = Attention::new(true, true);
        let out = a.update(&s);
        assert_eq!(
            out,
            format!("\x1b]9;corral: {text}\x07\x1b]777;notify;corral;{text}\x07\x07")
        );
        // A second task blocking later rings again, the first stays quiet.
        let mut both = State::default();
        both.tasks = s.tasks.clone();
        both.tasks.extend(state(&[(5, "lint")]).tasks);
        let out = a.update(&both);
        assert!(out.contains("#5 lint") && !out.contains("#4"), "{out:?}");
    }

    #[test]
    fn switches_and_hostile_titles() {
        let mut quiet = Attention::new(false, false);
        assert_eq!(quiet.update(&state(&[(1, "x")])), "");
        let mut bell_only = Attention::new(true, false);
        assert_eq!(bell_only.update(&state(&[(2, "x")])), "\x07");
        let mut a = Attention::new(false, true);
        let out = a.update(&state(&[(3, "evil\x1b]0;pwn\x07;x")]));
        assert_eq!(
            out.matches('\x07').count(),
            2,
            "only our own terminators: {out:?}"
        );
        assert!(!out.contains("\x1b]0"));
    }
}
