//! Key overrides from the config's `[defaults.keybindings]`: an action
//! name, then its key (`kill = "ctrl-k"`). An override adds a key for the
//! action; the built-in key keeps working. Unknown actions and keys are
//! refused at start with a clear message.
//!
//! Pure: parses names and keys, and maps a pressed key to the built-in key
//! of the action it is bound to.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The actions that can be rebound and their built-in keys.
pub const ACTIONS: &[(&str, &str)] = &[
    ("new", "n"),
    ("kill", "x"),
    ("kill_now", "X"),
    ("quit", "q"),
    ("help", "?"),
    ("grid", "g"),
    ("raw", "r"),
    ("search", "/"),
    ("expand", "e"),
    ("follow_up", "m"),
    ("next_blocked", "b"),
    ("rerun", "R"),
    ("archive", "A"),
    ("delete", "D"),
    ("focus_terminal", "i"),
    ("leave_terminal", "ctrl-]"),
];

/// The worktree review's actions that can be rebound and their built-in
/// keys (they apply only while the review is open).
pub const REVIEW_ACTIONS: &[(&str, &str)] = &[
    ("commit", "c"),
    ("merge", "M"),
    ("shell", "s"),
    ("discard", "D"),
];

/// Pressed key → the built-in key it stands for (in the main screen, and
/// in the worktree review).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    map: Vec<(KeyEvent, KeyEvent)>,
    review: Vec<(KeyEvent, KeyEvent)>,
}

impl Bindings {
    /// Reads the config's table; the error names the action and says why.
    pub fn from_config(table: &BTreeMap<String, String>) -> Result<Bindings, String> {
        let mut map = Vec::new();
        let mut review = Vec::new();
        for (action, key) in table {
            let main = ACTIONS.iter().find(|(name, _)| name == action);
            let in_review = REVIEW_ACTIONS.iter().find(|(name, _)| name == action);
            let Some((_, builtin)) = main.or(in_review) else {
                let names: Vec<&str> = ACTIONS
                    .iter()
                    .chain(REVIEW_ACTIONS)
                    .map(|(n, _)| *n)
                    .collect();
                return Err(format!(
                    "keybindings: unknown action `{action}` (actions: {})",
                    names.join(", ")
                ));
            };
            let pressed = parse_key(key)
                .ok_or_else(|| format!("keybindings: `{key}` for `{action}` is not a key"))?;
            let builtin = parse_key(builtin).unwrap_or(pressed);
            if main.is_some() {
                map.push((pressed, builtin));
            } else {
                review.push((pressed, builtin));
            }
        }
        Ok(Bindings { map, review })
    }

    /// The key to act on for `pressed`: the built-in key of the action it
    /// is bound to, or itself.
    pub fn translate(&self, pressed: KeyEvent) -> KeyEvent {
        Self::lookup(&self.map, pressed)
    }

    /// [`Bindings::translate`] for the worktree review.
    pub fn translate_review(&self, pressed: KeyEvent) -> KeyEvent {
        Self::lookup(&self.review, pressed)
    }

    fn lookup(map: &[(KeyEvent, KeyEvent)], pressed: KeyEvent) -> KeyEvent {
        map.iter()
            .find(|(k, _)| k.code == pressed.code && k.modifiers == pressed.modifiers)
            .map(|(_, builtin)| *builtin)
            .unwrap_or(pressed)
    }
}

/// `x`, `X`, `ctrl-k`, `alt-x`, `f2`, `enter`, `esc`, `tab`, `space`, ...
pub fn parse_key(text: &str) -> Option<KeyEvent> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = text.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("ctrl-") {
            mods |= KeyModifiers::CONTROL;
            rest = &rest[rest.len() - r.len()..];
        } else if let Some(r) = lower.strip_prefix("alt-") {
            mods |= KeyModifiers::ALT;
            rest = &rest[rest.len() - r.len()..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "space" => KeyCode::Char(' '),
        "backspace" => KeyCode::Backspace,
        f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
        _ => {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            let c = if mods.contains(KeyModifiers::CONTROL) {
                c.to_ascii_lowercase()
            } else {
                c
            };
            KeyCode::Char(c)
        }
    };
    Some(KeyEvent::new(code, mods))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, k)| (a.to_string(), k.to_string()))
            .collect()
    }

    #[test]
    fn a_bound_key_acts_as_the_builtin_one() {
        let b = Bindings::from_config(&table(&[("kill", "ctrl-k"), ("leave_terminal", "F12")]))
            .unwrap();
        let ctrl_k = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(
            b.translate(ctrl_k),
            KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)
        );
        let f12 = KeyEvent::new(KeyCode::F(12), KeyModifiers::NONE);
        assert_eq!(
            b.translate(f12),
            KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL)
        );
        let other = KeyEvent::new(KeyCode::Char('z'), KeyModifiers::NONE);
        assert_eq!(b.translate(other), other, "unbound keys pass through");
    }

    #[test]
    fn review_keys_are_rebound_only_inside_the_review() {
        let b = Bindings::from_config(&table(&[("discard", "ctrl-d"), ("merge", "m")])).unwrap();
        let ctrl_d = KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL);
        let big_d = KeyEvent::new(KeyCode::Char('D'), KeyModifiers::NONE);
        assert_eq!(b.translate_review(ctrl_d), big_d);
        assert_eq!(
            b.translate(ctrl_d),
            ctrl_d,
            "outside the review D deletes: a review binding must not reach it"
        );
        let m = KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE);
        assert_eq!(
            b.translate_review(m),
            KeyEvent::new(KeyCode::Char('M'), KeyModifiers::NONE)
        );
        assert_eq!(b.translate(m), m, "m still writes a follow-up");
    }

    #[test]
    fn nonsense_is_refused_with_a_reason() {
        let e = Bindings::from_config(&table(&[("explode", "x")])).unwrap_err();
        assert!(
            e.contains("unknown action `explode`") && e.contains("kill"),
            "{e}"
        );
        let e = Bindings::from_config(&table(&[("kill", "ctrl-")])).unwrap_err();
        assert!(e.contains("is not a key"), "{e}");
        assert_eq!(
            parse_key("X"),
            Some(KeyEvent::new(KeyCode::Char('X'), KeyModifiers::NONE))
        );
        assert_eq!(parse_key("tabby"), None);
    }
}
