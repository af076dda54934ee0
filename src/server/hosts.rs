//! Which corral servers a front end talks to: this machine's (`local`) and
//! the `[hosts.NAME]` of the config, chosen by `--host NAME`, `--no-local`
//! and `[defaults] hosts`, and which one a task reference `NAME:ID` names.
//!
//! Pure choices over the config, plus [`Target::connect`], the one place
//! that opens a connection to a chosen server. Never reads another host's
//! config: a remote server is reached only through its own corral.

use std::path::Path;

use anyhow::{Result, bail};

use super::client::{ConnectError, Connection, connect, connect_host, connect_or_start};
use super::place::Place;
use crate::config::{Config, Host, LOCAL_HOST};
use crate::paths::Paths;

/// One server a front end talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This machine's server (Unix socket).
    Local,
    /// Another host's, through ssh.
    Remote(Host),
}

impl Target {
    /// The host's name (`local` for this machine).
    pub fn name(&self) -> &str {
        match self {
            Target::Local => LOCAL_HOST,
            Target::Remote(host) => &host.name,
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Target::Remote(_))
    }

    /// How users name task `id` of this host: `NAME:ID`, or the bare id
    /// for this machine.
    pub fn task_ref(&self, id: &str) -> String {
        match self {
            Target::Local => id.to_string(),
            Target::Remote(host) => format!("{}:{id}", host.name),
        }
    }

    /// Connects to this target's server. `start`: start this machine's
    /// server when none runs (a remote host's bridge always starts its
    /// own). `Err(NoServer)` only for this machine without `start`.
    pub fn connect(
        &self,
        paths: &Paths,
        config_file: Option<&Path>,
        window: usize,
        focus: Option<&str>,
        start: bool,
    ) -> Result<Connection, ConnectError> {
        match self {
            Target::Local if start => connect_or_start(paths, config_file, window, focus)
                .map_err(|err| ConnectError::Refused(format!("{err:#}"))),
            Target::Local => connect(&Place::of(paths), window, focus),
            Target::Remote(host) => connect_host(host, window, focus),
        }
    }
}

/// The host `name` of the config, with a clear message when there is none.
pub fn host(config: &Config, name: &str) -> Result<Target> {
    if name == LOCAL_HOST {
        return Ok(Target::Local);
    }
    match config.hosts.get(name) {
        Some(host) => Ok(Target::Remote(host.clone())),
        None => bail!(
            "no host `{name}` in the config (known: {}); add a `[hosts.{name}]` with `ssh = \"user@box\"`",
            known(config)
        ),
    }
}

fn known(config: &Config) -> String {
    std::iter::once(LOCAL_HOST.to_string())
        .chain(config.hosts.keys().cloned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The servers to show: this machine's unless `no_local`, then the hosts
/// named by `--host` and, when `with_defaults`, the config's `hosts`
/// (each once, in that order).
pub fn targets(
    config: &Config,
    flags: &[String],
    no_local: bool,
    with_defaults: bool,
) -> Result<Vec<Target>> {
    let mut names: Vec<&str> = Vec::new();
    let defaults = with_defaults.then_some(&config.defaults.hosts);
    for name in flags.iter().chain(defaults.into_iter().flatten()) {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let mut out = Vec::new();
    if !no_local {
        out.push(Target::Local);
    }
    for name in names {
        let target = host(config, name)?;
        if !out.contains(&target) {
            out.push(target);
        }
    }
    if out.is_empty() {
        bail!("`--no-local` leaves no server: name one with `--host NAME`");
    }
    Ok(out)
}

/// The server and task id a command means by `reference` (`NAME:ID` or
/// `ID`) and `--host` (at most one; it must agree with a `NAME:`).
pub fn task_target(config: &Config, flags: &[String], reference: &str) -> Result<(Target, String)> {
    let (named, id) = match reference.split_once(':') {
        Some((name, id)) => (Some(name), id),
        None => (None, reference),
    };
    if id.is_empty() {
        bail!("`{reference}` names no task: give `ID` or `HOST:ID`");
    }
    let flag = match flags {
        [] => None,
        [one] => Some(one.as_str()),
        _ => bail!("a task is on one host: give `--host` once (or `HOST:ID`)"),
    };
    let name = match (named, flag) {
        (Some(a), Some(b)) if a != b => {
            bail!("`{reference}` is on host `{a}`, but `--host {b}` was given")
        }
        (Some(name), _) | (None, Some(name)) => name,
        (None, None) => LOCAL_HOST,
    };
    Ok((host(config, name)?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            "[defaults]\nhosts = [\"gpu\"]\n\n[hosts.gpu]\nssh = \"me@gpu\"\n\n[hosts.ci]\nssh = \"ci\"\n",
            Path::new("config.toml"),
        )
        .unwrap()
    }

    #[test]
    fn a_task_reference_names_its_host_or_this_machine() {
        let c = config();
        let (t, id) = task_target(&c, &[], "gpu:ab12").unwrap();
        assert_eq!((t.name(), id.as_str()), ("gpu", "ab12"));
        assert_eq!(t.task_ref("ab12"), "gpu:ab12");
        let (t, id) = task_target(&c, &[], "ab12").unwrap();
        assert_eq!((t, id.as_str()), (Target::Local, "ab12"));
        let (t, _) = task_target(&c, &["ci".into()], "ab12").unwrap();
        assert_eq!(t.name(), "ci");
        let (t, _) = task_target(&c, &[], "local:ab12").unwrap();
        assert_eq!(t, Target::Local);
        let err = task_target(&c, &["ci".into()], "gpu:ab12").unwrap_err();
        assert!(err.to_string().contains("`--host ci`"), "{err}");
        let err = task_target(&c, &[], "nas:ab12").unwrap_err();
        assert!(err.to_string().contains("known: local, ci, gpu"), "{err}");
        assert!(task_target(&c, &[], "gpu:").is_err());
    }

    #[test]
    fn local_comes_first_unless_left_out_and_each_host_once() {
        let c = config();
        let names = |t: Vec<Target>| t.iter().map(|t| t.name().to_string()).collect::<Vec<_>>();
        assert_eq!(names(targets(&c, &[], false, false).unwrap()), ["local"]);
        assert_eq!(
            names(targets(&c, &[], false, true).unwrap()),
            ["local", "gpu"]
        );
        let flags = ["ci".to_string(), "gpu".into(), "ci".into()];
        assert_eq!(
            names(targets(&c, &flags, true, true).unwrap()),
            ["ci", "gpu"]
        );
        assert!(targets(&c, &[], true, false).is_err());
        assert!(targets(&c, &["nope".into()], false, false).is_err());
    }
}
