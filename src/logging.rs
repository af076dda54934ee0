//! The log file and secret redaction.
//!
//! Logs go through `tracing` to `corral.log` in the state directory (0600),
//! filtered by `CORRAL_LOG` (default `info`), written by a background
//! thread. Never to the terminal: the TUI owns it, and `corral run` owns
//! stdout. Secrets (the values of environment variables whose name contains
//! KEY, TOKEN, SECRET or PASSWORD) are replaced by [`REDACTED`] before
//! options or environments are logged or stored; this module never writes
//! a secret anywhere.

use std::path::Path;

use anyhow::{Context, Result};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::paths::{ensure_private_dir, open_private_append};

/// The environment variable holding the log filter (`debug`, `corral=trace`).
pub const LOG_ENV: &str = "CORRAL_LOG";

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// A log bigger than this is moved to `corral.log.1` at start.
const ROTATE_BYTES: u64 = 10 * 1024 * 1024;

/// Keeps the log writer alive; drop it last to flush the log.
pub struct LogGuard {
    _guard: WorkerGuard,
}

/// Sends `tracing` output to `file` (created 0600 with its directory 0700).
/// Fails when a global subscriber is already set or the file cannot be
/// opened; callers go on without a log.
pub fn init(file: &Path) -> Result<LogGuard> {
    if let Some(dir) = file.parent() {
        ensure_private_dir(dir)
            .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    }
    if std::fs::metadata(file).is_ok_and(|m| m.len() > ROTATE_BYTES) {
        let _ = std::fs::rename(file, file.with_extension("log.1"));
    }
    let out = open_private_append(file)
        .with_context(|| format!("cannot open the log file {}", file.display()))?;
    let (writer, guard) = tracing_appender::non_blocking(out);
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init()
        .map_err(|err| anyhow::anyhow!("cannot install the logger: {err}"))?;
    Ok(LogGuard { _guard: guard })
}

/// Whether an environment variable of this name holds a secret: its name
/// contains `KEY`, `TOKEN`, `SECRET` or `PASS` (any case).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASS"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Replaces secret values in text: built from an environment, it redacts
/// every value of a secret-named variable wherever it appears.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first (so a value containing another is
    /// replaced whole).
    secrets: Vec<String>,
}

/// Values shorter than this are not hunted for inside other text (a secret
/// named `KEY=1` would otherwise redact every `1`); their variables are
/// still redacted by name.
const MIN_SECRET_LEN: usize = 6;

impl Redactor {
    /// A redactor knowing the secrets of this process's environment and of
    /// `extra` (an agent's configured environment).
    pub fn from_env(extra: &[(String, String)]) -> Redactor {
        let mut secrets: Vec<String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .chain(extra.iter().cloned())
            .filter(|(k, v)| is_secret_name(k) && v.len() >= MIN_SECRET_LEN)
            .map(|(_, v)| v)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// This redactor also knowing the secret-named values of `extra` (a
    /// task's `--env`).
    pub fn with_extra(&self, extra: &[(String, String)]) -> Redactor {
        let mut secrets = self.secrets.clone();
        secrets.extend(
            extra
                .iter()
                .filter(|(k, v)| is_secret_name(k) && v.len() >= MIN_SECRET_LEN)
                .map(|(_, v)| v.clone()),
        );
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// An environment list with secret-named values (and known secrets
    /// inside other values) replaced.
    pub fn env(&self, env: &[(String, String)]) -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| {
                let value = if is_secret_name(k) {
                    REDACTED.to_string()
                } else {
                    self.text(v)
                };
                (k.clone(), value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for name in [
            "ANTHROPIC_API_KEY",
            "github_token",
            "MY_SECRET",
            "DB_PASSWORD",
            "DB_PASS",
            "PGPASSFILE_PASSWD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "MODEL"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn secrets_are_redacted_by_name_and_by_value() {
        let r = Redactor::from_env(&[("OPENAI_API_KEY".into(), "sk-abcdef123456".into())]);
        let env = r.env(&[
            ("OPENAI_API_KEY".into(), "sk-abcdef123456".into()),
            ("HEADER".into(), "Bearer sk-abcdef123456".into()),
            ("MODE".into(), "fast".into()),
        ]);
        assert_eq!(env[0].1, REDACTED);
        assert_eq!(env[1].1, format!("Bearer {REDACTED}"));
        assert_eq!(env[2].1, "fast");
        assert_eq!(
            r.text("--api-key=sk-abcdef123456"),
            format!("--api-key={REDACTED}")
        );
    }
}
