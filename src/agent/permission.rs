//! One permission vocabulary for every agent, and its translation into each
//! agent's own flags.
//!
//! Pure: builds argv fragments from a mode. It must never decide on its own
//! to widen what an agent may do: a mode maps to the narrowest flag of the
//! agent that means the same thing, and a mode the agent cannot express is an
//! error, never a silent downgrade or upgrade.
//!
//! | corral mode         | claude                                  | codex `exec` (new session)                    | codex `exec resume`                          | gemini                       |
//! |---------------------|-----------------------------------------|-----------------------------------------------|----------------------------------------------|------------------------------|
//! | `default`           | `--permission-mode default`             | *(no flag: codex's own default; out of the box `exec` runs with approval `never` and a `read-only` sandbox, so it refuses writes)* | *(no flag)*               | `--approval-mode default`    |
//! | `acceptEdits`       | `--permission-mode acceptEdits`         | `--sandbox workspace-write`                   | `-c sandbox_mode="workspace-write"`          | `--approval-mode auto_edit`  |
//! | `plan`              | `--permission-mode plan`                | `--sandbox read-only`                         | `-c sandbox_mode="read-only"`                | `--approval-mode plan`       |
//! | `bypassPermissions` | `--permission-mode bypassPermissions`   | `--dangerously-bypass-approvals-and-sandbox`  | `--dangerously-bypass-approvals-and-sandbox` | `--yolo`                     |
//!
//! Accepted spellings: `default`, `manual` (claude-code 2.1.332's name for
//! `default`; it still accepts `default`, which 2.1.197 needs, so `manual`
//! is passed on as `default`); `acceptEdits`, `accept-edits`,
//! `accept_edits`; `plan`; `bypassPermissions`, `bypass-permissions`,
//! `bypass`. Case does not matter.
//!
//! Checked against the `--help` of codex-cli 0.169.0 and gemini-cli 0.61.0:
//! `codex exec resume` has no `--sandbox` flag, hence the `-c sandbox_mode`
//! config override there; gemini 0.61 lists `plan` among its
//! `--approval-mode` choices ("read-only mode").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What an agent may do without asking, in corral's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PermissionMode {
    /// The agent asks before acting, or refuses where it cannot ask.
    #[serde(alias = "manual")]
    Default,
    /// File edits in the workspace are allowed without asking.
    #[serde(alias = "accept-edits", alias = "accept_edits")]
    AcceptEdits,
    /// Read-only: the agent may look and plan but not change anything.
    Plan,
    /// Everything is allowed without asking (and codex drops its sandbox).
    #[serde(alias = "bypass", alias = "bypass-permissions")]
    BypassPermissions,
}

/// A permission mode name that is none of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown permission mode {0:?}: choose one of default (or manual), acceptEdits, plan, bypassPermissions"
)]
pub struct UnknownPermissionMode(pub String);

impl PermissionMode {
    /// Every mode, from the narrowest ask-first to the widest.
    pub const ALL: [PermissionMode; 4] = [
        PermissionMode::Default,
        PermissionMode::AcceptEdits,
        PermissionMode::Plan,
        PermissionMode::BypassPermissions,
    ];

    /// Parses a mode name (see the module docs for the accepted spellings).
    pub fn parse(s: &str) -> Result<PermissionMode, UnknownPermissionMode> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        match key.as_str() {
            "default" | "manual" => Ok(PermissionMode::Default),
            "acceptedits" => Ok(PermissionMode::AcceptEdits),
            "plan" => Ok(PermissionMode::Plan),
            "bypasspermissions" | "bypass" => Ok(PermissionMode::BypassPermissions),
            _ => Err(UnknownPermissionMode(s.to_string())),
        }
    }

    /// The canonical name (`default`, `acceptEdits`, `plan`, `bypassPermissions`).
    pub fn name(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }

    /// Claude Code's flags for this mode.
    pub fn claude_args(self) -> Vec<String> {
        strings(&["--permission-mode", self.name()])
    }

    /// Codex's flags for this mode. `resume` selects the `codex exec resume`
    /// form, which has no `--sandbox` flag and takes a config override.
    pub fn codex_args(self, resume: bool) -> Vec<String> {
        let sandbox = match self {
            PermissionMode::Default => return Vec::new(),
            PermissionMode::BypassPermissions => {
                return strings(&["--dangerously-bypass-approvals-and-sandbox"]);
            }
            PermissionMode::AcceptEdits => "workspace-write",
            PermissionMode::Plan => "read-only",
        };
        codex_sandbox_args(sandbox, resume)
    }

    /// Gemini CLI's flags for this mode.
    pub fn gemini_args(self) -> Vec<String> {
        match self {
            PermissionMode::Default => strings(&["--approval-mode", "default"]),
            PermissionMode::AcceptEdits => strings(&["--approval-mode", "auto_edit"]),
            PermissionMode::Plan => strings(&["--approval-mode", "plan"]),
            PermissionMode::BypassPermissions => strings(&["--yolo"]),
        }
    }
}

impl fmt::Display for PermissionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PermissionMode {
    type Err = UnknownPermissionMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PermissionMode::parse(s)
    }
}

/// Codex's flags for a permission setting given as free text: a corral mode
/// name, or else codex's own sandbox mode (`danger-full-access`, ...), passed
/// through so that codex itself accepts it or rejects it with its own list.
pub fn codex_permission_args(mode: &str, resume: bool) -> Vec<String> {
    match PermissionMode::parse(mode) {
        Ok(m) => m.codex_args(resume),
        Err(_) => codex_sandbox_args(mode, resume),
    }
}

/// Gemini's flags for a permission setting given as free text: a corral mode
/// name, or else gemini's own approval mode (`yolo`, `auto_edit`, ...), passed
/// through so that gemini itself accepts it or rejects it with its choices.
pub fn gemini_permission_args(mode: &str) -> Vec<String> {
    match PermissionMode::parse(mode) {
        Ok(m) => m.gemini_args(),
        Err(_) => vec!["--approval-mode".to_string(), mode.to_string()],
    }
}

fn codex_sandbox_args(sandbox: &str, resume: bool) -> Vec<String> {
    if resume {
        vec!["-c".to_string(), format!("sandbox_mode=\"{sandbox}\"")]
    } else {
        vec!["--sandbox".to_string(), sandbox.to_string()]
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_spelling() {
        let cases = [
            ("default", PermissionMode::Default),
            ("manual", PermissionMode::Default),
            ("acceptEdits", PermissionMode::AcceptEdits),
            ("accept-edits", PermissionMode::AcceptEdits),
            ("accept_edits", PermissionMode::AcceptEdits),
            ("plan", PermissionMode::Plan),
            ("bypassPermissions", PermissionMode::BypassPermissions),
            ("bypass-permissions", PermissionMode::BypassPermissions),
            ("bypass", PermissionMode::BypassPermissions),
            ("  Plan ", PermissionMode::Plan),
        ];
        for (text, mode) in cases {
            assert_eq!(PermissionMode::parse(text), Ok(mode), "{text}");
        }
    }

    #[test]
    fn canonical_names_round_trip() {
        for mode in PermissionMode::ALL {
            assert_eq!(PermissionMode::parse(mode.name()), Ok(mode));
            assert_eq!(mode.to_string().parse::<PermissionMode>(), Ok(mode));
        }
    }

    #[test]
    fn unknown_mode_lists_the_choices() {
        let err = PermissionMode::parse("yolo").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"yolo\""), "{msg}");
        for mode in PermissionMode::ALL {
            assert!(msg.contains(mode.name()), "{msg} lacks {}", mode.name());
        }
        assert!(PermissionMode::parse("").is_err());
        assert!(PermissionMode::parse("bypassEverything").is_err());
    }

    #[test]
    fn serde_uses_canonical_names_and_accepts_aliases() {
        let json = serde_json::to_string(&PermissionMode::AcceptEdits).unwrap();
        assert_eq!(json, "\"acceptEdits\"");
        let m: PermissionMode = serde_json::from_str("\"bypass\"").unwrap();
        assert_eq!(m, PermissionMode::BypassPermissions);
        let m: PermissionMode = serde_json::from_str("\"accept-edits\"").unwrap();
        assert_eq!(m, PermissionMode::AcceptEdits);
    }

    #[test]
    fn claude_flags() {
        assert_eq!(
            PermissionMode::BypassPermissions.claude_args(),
            ["--permission-mode", "bypassPermissions"]
        );
        assert_eq!(
            PermissionMode::AcceptEdits.claude_args(),
            ["--permission-mode", "acceptEdits"]
        );
    }

    #[test]
    fn codex_flags_for_a_new_session() {
        assert!(PermissionMode::Default.codex_args(false).is_empty());
        assert_eq!(
            PermissionMode::AcceptEdits.codex_args(false),
            ["--sandbox", "workspace-write"]
        );
        assert_eq!(
            PermissionMode::Plan.codex_args(false),
            ["--sandbox", "read-only"]
        );
        assert_eq!(
            PermissionMode::BypassPermissions.codex_args(false),
            ["--dangerously-bypass-approvals-and-sandbox"]
        );
    }

    #[test]
    fn codex_resume_uses_a_config_override_for_the_sandbox() {
        assert!(PermissionMode::Default.codex_args(true).is_empty());
        assert_eq!(
            PermissionMode::AcceptEdits.codex_args(true),
            ["-c", "sandbox_mode=\"workspace-write\""]
        );
        assert_eq!(
            PermissionMode::Plan.codex_args(true),
            ["-c", "sandbox_mode=\"read-only\""]
        );
        assert_eq!(
            PermissionMode::BypassPermissions.codex_args(true),
            ["--dangerously-bypass-approvals-and-sandbox"]
        );
    }

    #[test]
    fn gemini_flags() {
        assert_eq!(
            PermissionMode::Default.gemini_args(),
            ["--approval-mode", "default"]
        );
        assert_eq!(
            PermissionMode::AcceptEdits.gemini_args(),
            ["--approval-mode", "auto_edit"]
        );
        assert_eq!(
            PermissionMode::Plan.gemini_args(),
            ["--approval-mode", "plan"]
        );
        assert_eq!(PermissionMode::BypassPermissions.gemini_args(), ["--yolo"]);
    }

    #[test]
    fn native_values_pass_through_to_the_agent() {
        assert_eq!(
            codex_permission_args("danger-full-access", false),
            ["--sandbox", "danger-full-access"]
        );
        assert_eq!(
            codex_permission_args("bypass", true),
            ["--dangerously-bypass-approvals-and-sandbox"]
        );
        assert_eq!(gemini_permission_args("yolo"), ["--approval-mode", "yolo"]);
        assert_eq!(
            gemini_permission_args("acceptEdits"),
            ["--approval-mode", "auto_edit"]
        );
    }
}
