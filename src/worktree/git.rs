//! Running the real `git` binary: one place that builds every git command
//! line the same way (`git -C <dir>`, `LC_ALL=C`, no prompts, no editor, no
//! pager, no inherited repository overrides) and maps failures to
//! [`WorktreeError`].
//!
//! This file only runs processes; it decides nothing and parses nothing
//! beyond trimming output. It never starts an interactive program.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::WorktreeError;

/// Variables a caller (for example a git hook that started corral) may have
/// set that would point git at another repository or index.
const INHERITED_OVERRIDES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
];

/// A git invocation context: the directory passed to `-C`, and optionally a
/// private index file (`GIT_INDEX_FILE`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Git<'a> {
    dir: &'a Path,
    index: Option<&'a Path>,
}

/// What a finished git command produced.
#[derive(Debug)]
pub(crate) struct Ran {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Ran {
    /// Stdout as text, lossily decoded and trimmed of the final newline.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout)
            .trim_end_matches('\n')
            .to_string()
    }
}

impl<'a> Git<'a> {
    /// Git run as `git -C dir ...`.
    pub fn new(dir: &'a Path) -> Self {
        Git { dir, index: None }
    }

    /// The same, with `GIT_INDEX_FILE` pointing at a private index.
    pub fn with_index(self, index: &'a Path) -> Self {
        Git {
            dir: self.dir,
            index: Some(index),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(self.dir).args(args);
        for var in INHERITED_OVERRIDES {
            cmd.env_remove(var);
        }
        if let Some(index) = self.index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        cmd.env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", "true")
            .env("GIT_SEQUENCE_EDITOR", "true")
            .env("GIT_PAGER", "cat")
            .env("GIT_MERGE_AUTOEDIT", "no")
            // Polling must not take the index lock an agent's git may need.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(Stdio::null());
        cmd
    }

    fn describe(args: &[&str]) -> String {
        args.join(" ")
    }

    fn spawn_error(&self, err: io::Error) -> WorktreeError {
        if err.kind() == io::ErrorKind::NotFound {
            WorktreeError::GitMissing
        } else {
            WorktreeError::Io {
                context: format!("cannot run git in {}", self.dir.display()),
                source: err,
            }
        }
    }

    /// Runs git and returns what it produced, whatever its exit status.
    pub fn run(&self, args: &[&str]) -> Result<Ran, WorktreeError> {
        let out: Output = self
            .command(args)
            .output()
            .map_err(|e| self.spawn_error(e))?;
        Ok(Ran {
            success: out.status.success(),
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    /// Runs git and fails with [`WorktreeError::Git`] unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> Result<Ran, WorktreeError> {
        let ran = self.run(args)?;
        if ran.success {
            Ok(ran)
        } else {
            Err(self.failed(args, &ran))
        }
    }

    /// [`Git::ok`], returning trimmed stdout text.
    pub fn text(&self, args: &[&str]) -> Result<String, WorktreeError> {
        Ok(self.ok(args)?.text())
    }

    /// The error for a git command that ran and failed.
    pub fn failed(&self, args: &[&str], ran: &Ran) -> WorktreeError {
        let stderr = if ran.stderr.is_empty() {
            match ran.code {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".to_string(),
            }
        } else {
            ran.stderr.clone()
        };
        WorktreeError::Git {
            command: Self::describe(args),
            dir: self.dir.to_path_buf(),
            stderr,
        }
    }

    /// Runs git, keeping at most `cap` bytes of stdout; when there is more,
    /// git is killed and `truncated` is true. Fails unless git succeeded (or
    /// was killed by us after the cap).
    pub fn capped(&self, args: &[&str], cap: usize) -> Result<(Vec<u8>, bool), WorktreeError> {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WorktreeError::Io {
                context: "git pipes were not opened".to_string(),
                source: io::Error::other("missing pipe"),
            });
        };
        let (read, err_text) = std::thread::scope(|s| {
            let err_reader = s.spawn(move || {
                let mut buf = Vec::new();
                let _ = stderr.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).trim().to_string()
            });
            let mut buf = Vec::new();
            let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
            let read = stdout.take(limit).read_to_end(&mut buf).map(|_| buf);
            let truncated = matches!(&read, Ok(b) if b.len() > cap);
            if truncated {
                // Dropping our end of stdout would also stop git, but only
                // at its next write; killing is immediate.
                let _ = child.kill();
            }
            (read, err_reader.join().unwrap_or_default())
        });
        let status = child.wait().map_err(|e| WorktreeError::Io {
            context: "waiting for git".to_string(),
            source: e,
        })?;
        let mut buf = read.map_err(|e| WorktreeError::Io {
            context: "reading git output".to_string(),
            source: e,
        })?;
        if buf.len() > cap {
            buf.truncate(cap);
            return Ok((buf, true));
        }
        if !status.success() {
            let ran = Ran {
                success: false,
                code: status.code(),
                stdout: Vec::new(),
                stderr: err_text,
            };
            return Err(self.failed(args, &ran));
        }
        Ok((buf, false))
    }
}

/// The top level of the working tree containing `dir`, or the errors a user
/// should see for a missing directory or one outside any repository.
pub(crate) fn toplevel(dir: &Path) -> Result<PathBuf, WorktreeError> {
    if !dir.is_dir() {
        return Err(WorktreeError::NoSuchDirectory {
            dir: dir.to_path_buf(),
        });
    }
    let git = Git::new(dir);
    let ran = git.run(&["rev-parse", "--show-toplevel"])?;
    if !ran.success {
        if ran.stderr.contains("not a git repository") {
            return Err(WorktreeError::NotARepository {
                dir: dir.to_path_buf(),
            });
        }
        if ran.stderr.contains("must be run in a work tree") {
            return Err(WorktreeError::NoWorkTree {
                dir: dir.to_path_buf(),
            });
        }
        return Err(git.failed(&["rev-parse", "--show-toplevel"], &ran));
    }
    let top = ran.text();
    if top.is_empty() {
        return Err(WorktreeError::NoWorkTree {
            dir: dir.to_path_buf(),
        });
    }
    Ok(PathBuf::from(top))
}
