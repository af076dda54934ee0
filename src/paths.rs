//! Where corral keeps things: the config file, the task store (data) and
//! the log (state), plus the helpers that create them privately.
//!
//! The XDG variables (`XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `XDG_STATE_HOME`)
//! win on every platform; otherwise the platform's own places (from
//! `directories`) are used. `--config FILE` replaces only the config file.
//! Directories are created 0700 and private files 0600. This module never
//! reads or writes file contents.

use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use directories::ProjectDirs;

/// The application name used in every directory.
const APP: &str = "corral";

/// The name of the config file inside the config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Every place corral reads or writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The config file (may not exist).
    pub config_file: PathBuf,
    /// Whether `config_file` came from `--config` (then it must exist).
    pub config_explicit: bool,
    /// Durable data: the task store.
    pub data_dir: PathBuf,
    /// Disposable state: logs.
    pub state_dir: PathBuf,
}

impl Paths {
    /// The paths for this user, from the process environment.
    pub fn resolve(config_override: Option<&Path>) -> Result<Paths> {
        Paths::from_env(|name| std::env::var_os(name), config_override)
    }

    /// The paths given an environment lookup (for tests).
    pub fn from_env(
        env: impl Fn(&str) -> Option<OsString>,
        config_override: Option<&Path>,
    ) -> Result<Paths> {
        // A relative XDG value is invalid per the spec and is ignored.
        let xdg = |name: &str| {
            env(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|p| p.join(APP))
        };
        let project = || {
            ProjectDirs::from("", "", APP)
                .ok_or_else(|| anyhow!("cannot find the home directory (set HOME or XDG_*_HOME)"))
        };
        let config_dir = match xdg("XDG_CONFIG_HOME") {
            Some(dir) => dir,
            None => project()?.config_dir().to_path_buf(),
        };
        let data_dir = match xdg("XDG_DATA_HOME") {
            Some(dir) => dir,
            None => project()?.data_dir().to_path_buf(),
        };
        let state_dir = match xdg("XDG_STATE_HOME") {
            Some(dir) => dir,
            None => {
                let project = project()?;
                match project.state_dir() {
                    Some(dir) => dir.to_path_buf(),
                    // Platforms without a state dir: keep it beside the data.
                    None => project.data_local_dir().join("state"),
                }
            }
        };
        let (config_file, config_explicit) = match config_override {
            Some(file) => (absolute(file), true),
            None => (config_dir.join(CONFIG_FILE), false),
        };
        Ok(Paths {
            config_file,
            config_explicit,
            data_dir,
            state_dir,
        })
    }

    /// The task store: one directory per task.
    pub fn tasks_dir(&self) -> PathBuf {
        self.data_dir.join("tasks")
    }

    /// The log file.
    pub fn log_file(&self) -> PathBuf {
        self.state_dir.join("corral.log")
    }
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Creates `dir` and its missing parents with mode 0700. An existing
/// directory is left as it is.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Opens `path` for appending, creating it 0600 (an existing file is
/// tightened to 0600 too).
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    tighten(&file)?;
    Ok(file)
}

/// Creates (or truncates) `path` for writing with mode 0600.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    tighten(&file)?;
    Ok(file)
}

fn tighten(file: &File) -> io::Result<()> {
    let meta = file.metadata()?;
    if meta.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn xdg_variables_win() {
        let p = Paths::from_env(
            env(&[
                ("XDG_CONFIG_HOME", "/c"),
                ("XDG_DATA_HOME", "/d"),
                ("XDG_STATE_HOME", "/s"),
                ("HOME", "/home/u"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(p.config_file, PathBuf::from("/c/corral/config.toml"));
        assert_eq!(p.tasks_dir(), PathBuf::from("/d/corral/tasks"));
        assert_eq!(p.log_file(), PathBuf::from("/s/corral/corral.log"));
        assert!(!p.config_explicit);
    }

    #[test]
    fn relative_xdg_values_are_ignored_and_config_can_be_overridden() {
        let p = Paths::from_env(
            env(&[("XDG_CONFIG_HOME", "rel"), ("XDG_DATA_HOME", "/d")]),
            Some(Path::new("/etc/my.toml")),
        )
        .unwrap();
        assert_eq!(p.config_file, PathBuf::from("/etc/my.toml"));
        assert!(p.config_explicit);
        assert_eq!(p.data_dir, PathBuf::from("/d/corral"));
    }

    #[test]
    fn private_dirs_and_files_are_not_readable_by_others() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = dir.join("f");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(open_private_append(&file).unwrap());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
