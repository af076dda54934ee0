//! The log file and secret redaction.
//!
//! Logs go through `tracing` to `corral.log` in the state directory (0600),
//! filtered by `CORRAL_LOG` (default `info`), written by a background
//! thread. Never to the terminal: the TUI owns it, and `corral run` owns
//! stdout. Secrets are replaced by [`REDACTED`] before options,
//! environments, events or raw output are logged or stored: the values of
//! environment variables whose name contains KEY, TOKEN, SECRET or PASS,
//! the password of any `scheme://user:password@host` URL, and the value of
//! an agent argument whose flag names a key, token, secret or password
//! (`--api-key=V`, `--token V`). Known values are hunted inside other text
//! only when at least [`MIN_SECRET_LEN`] bytes long. This module never
//! writes a secret anywhere.

use std::borrow::Cow;
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
/// every value of a secret-named variable wherever it appears, and every
/// URL password.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Secret values, longest first (so a value containing another is
    /// replaced whole).
    secrets: Vec<String>,
}

/// Values shorter than this are not hunted for inside other text (a secret
/// named `KEY=1` would otherwise redact every `1`, and an 8-byte floor
/// keeps short words of normal output intact); their variables are still
/// redacted by name, and URL passwords of any length by position.
pub const MIN_SECRET_LEN: usize = 8;

impl Redactor {
    /// A redactor knowing the secrets of this process's environment and of
    /// `extra` (an agent's configured environment).
    pub fn from_env(extra: &[(String, String)]) -> Redactor {
        let own: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Redactor::default().with_extra(&own).with_extra(extra)
    }

    /// This redactor also knowing the secret-named values of `extra` (a
    /// task's `--env`) and the URL passwords in any of its values.
    pub fn with_extra(&self, extra: &[(String, String)]) -> Redactor {
        let found = extra.iter().flat_map(|(k, v)| {
            let whole = is_secret_name(k).then(|| v.clone());
            whole.into_iter().chain(url_passwords(v))
        });
        self.knowing(found)
    }

    /// This redactor also knowing the values of secret-looking flags in an
    /// agent's arguments (see [`redact_args`]).
    pub fn with_args(&self, args: &[String]) -> Redactor {
        self.knowing(secret_arg_values(args).chain(args.iter().flat_map(|a| url_passwords(a))))
    }

    fn knowing(&self, found: impl Iterator<Item = String>) -> Redactor {
        let mut secrets = self.secrets.clone();
        secrets.extend(found.filter(|v| v.len() >= MIN_SECRET_LEN));
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// `text` with every known secret and every URL password replaced.
    pub fn text(&self, text: &str) -> String {
        self.line(text).into_owned()
    }

    /// Like [`Redactor::text`], borrowing `line` when it holds nothing to
    /// redact (the cheap path for every event and raw output line).
    pub fn line<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(line);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        match redact_url_passwords(&out) {
            Cow::Borrowed(_) => out,
            Cow::Owned(redacted) => Cow::Owned(redacted),
        }
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

/// Whether a command-line flag (`--api-key`, `--Token`, `--db-password`)
/// takes a secret: one of its words contains `key`, `token` or `secret`, or
/// starts with `pass` (so `--bypass-approvals` is not one).
fn is_secret_flag(flag: &str) -> bool {
    let Some(name) = flag.strip_prefix('-') else {
        return false;
    };
    name.to_ascii_lowercase()
        .split(['-', '_', '.'])
        .any(|word| {
            word.contains("key")
                || word.contains("token")
                || word.contains("secret")
                || word.starts_with("pass")
        })
}

/// The values of secret-looking flags: `--api-key=V`, or `--api-key V`
/// where `V` does not start with `-`.
fn secret_arg_values(args: &[String]) -> impl Iterator<Item = String> + '_ {
    args.iter().enumerate().filter_map(|(i, arg)| {
        if let Some((flag, value)) = arg.split_once('=') {
            return (is_secret_flag(flag) && !value.is_empty()).then(|| value.to_string());
        }
        let next = args.get(i + 1)?;
        (is_secret_flag(arg) && !next.starts_with('-')).then(|| next.clone())
    })
}

/// Agent arguments with the values of secret-looking flags replaced (both
/// `--api-key=V` and `--api-key V`) and URL passwords redacted.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if std::mem::take(&mut hide_next) && !arg.starts_with('-') {
            out.push(REDACTED.to_string());
            continue;
        }
        match arg.split_once('=') {
            Some((flag, value)) if is_secret_flag(flag) && !value.is_empty() => {
                out.push(format!("{flag}={REDACTED}"));
            }
            Some(_) => out.push(redact_url_passwords(arg).into_owned()),
            None => {
                hide_next = is_secret_flag(arg);
                out.push(redact_url_passwords(arg).into_owned());
            }
        }
    }
    out
}

/// Bytes that end a URL's authority (`user:password@host`) in running
/// text or JSON.
fn ends_authority(c: char) -> bool {
    c.is_whitespace() || "/?#\"'<>`\\".contains(c)
}

/// The byte ranges of the passwords of `scheme://user:password@host` URLs
/// in `text`.
fn url_password_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let sep = from + found;
        from = sep + 3;
        let has_scheme = text[..sep]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if !has_scheme {
            continue;
        }
        let rest = &text[from..];
        let authority = &rest[..rest.find(ends_authority).unwrap_or(rest.len())];
        let Some(at) = authority.rfind('@') else {
            continue;
        };
        let Some(colon) = authority[..at].find(':') else {
            continue;
        };
        if colon + 1 < at {
            ranges.push(from + colon + 1..from + at);
        }
        from += at;
    }
    ranges
}

/// The passwords of the URLs in `text`.
fn url_passwords(text: &str) -> Vec<String> {
    if !text.contains("://") {
        return Vec::new();
    }
    url_password_ranges(text)
        .into_iter()
        .map(|r| text[r].to_string())
        .collect()
}

/// `text` with the password of every `scheme://user:password@host` URL
/// replaced (scheme, user and host kept so the text stays readable).
pub fn redact_url_passwords(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let ranges = url_password_ranges(text);
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for range in ranges {
        out.push_str(&text[last..range.start]);
        out.push_str(REDACTED);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
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

    #[test]
    fn url_passwords_are_redacted_and_the_rest_kept() {
        let r = Redactor::default();
        assert_eq!(
            r.text("DATABASE_URL=postgres://app:pw@db.local:5432/main ok"),
            format!("DATABASE_URL=postgres://app:{REDACTED}@db.local:5432/main ok")
        );
        assert_eq!(
            r.text(r#"{"u":"https://x:p4ss@h","v":"http://h/a@b:c"}"#),
            format!(r#"{{"u":"https://x:{REDACTED}@h","v":"http://h/a@b:c"}}"#)
        );
        for plain in ["see https://host/path", "mail a@b:c", "git://user@host/r"] {
            assert_eq!(r.text(plain), plain);
        }
        // A URL password found in an environment value is hunted elsewhere.
        let r = r.with_extra(&[("DATABASE_URL".into(), "pg://u:longpassword1@h/db".into())]);
        assert_eq!(r.text("pw longpassword1"), format!("pw {REDACTED}"));
    }

    #[test]
    fn secret_flags_have_their_values_redacted() {
        let args: Vec<String> = [
            "--api-key=sk-live-123456",
            "--Token",
            "tok-abcdefgh",
            "--db-password",
            "--verbose",
            "--dangerously-bypass-approvals",
            "keep-me",
            "--model=fast",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            redact_args(&args),
            [
                format!("--api-key={REDACTED}"),
                "--Token".into(),
                REDACTED.into(),
                "--db-password".into(),
                "--verbose".into(),
                "--dangerously-bypass-approvals".into(),
                "keep-me".into(),
                "--model=fast".into(),
            ]
        );
        let r = Redactor::default().with_args(&args);
        assert_eq!(
            r.text("got sk-live-123456 and tok-abcdefgh, keep-me"),
            format!("got {REDACTED} and {REDACTED}, keep-me")
        );
    }

    #[test]
    fn short_values_are_not_hunted_in_text() {
        let r = Redactor::from_env(&[("MY_TOKEN".into(), "abc1234".into())]);
        assert_eq!(r.text("abc1234"), "abc1234");
        assert_eq!(
            r.env(&[("MY_TOKEN".into(), "abc1234".into())])[0].1,
            REDACTED
        );
    }
}
