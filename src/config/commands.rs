//! `corral config init`, `corral config path` and `corral agents`.
//!
//! Writes only the config file, and only when asked (never over an existing
//! one without `--force`). Output is plain text for a terminal or a pipe.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Config, EXAMPLE, ProfileKind};
use crate::paths::{Paths, create_private, ensure_private_dir};

/// Writes the commented example config to the config file; refuses to
/// replace an existing file unless `force`. Returns the file written.
pub fn init(paths: &Paths, force: bool) -> Result<PathBuf> {
    let file = &paths.config_file;
    if file.exists() && !force {
        bail!(
            "{} already exists; use --force to replace it",
            file.display()
        );
    }
    if let Some(dir) = file.parent() {
        ensure_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Written beside it and renamed, so a crash never leaves half a config.
    let tmp = file.with_extension("toml.tmp");
    {
        use std::io::Write;
        let mut out =
            create_private(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        out.write_all(EXAMPLE.as_bytes())?;
        out.sync_all()?;
    }
    std::fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(file.clone())
}

/// Whether `program` can be run: a path to an executable file, or a name
/// found in one of the `PATH` directories.
pub fn find_program(program: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// The `corral agents` table: name, kind, program, whether it is found
/// (or the base URL for openai), model.
pub fn agents_table(config: &Config, path_var: Option<&std::ffi::OsStr>) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "NAME".into(),
        "KIND".into(),
        "BINARY".into(),
        "FOUND".into(),
        "MODEL".into(),
    ]];
    for profile in config.agents.values() {
        let kind = profile.kind();
        let program = profile.program();
        let found = match (kind, &program) {
            (ProfileKind::Openai, _) => profile
                .base_url
                .clone()
                .or_else(|| std::env::var("OPENAI_BASE_URL").ok())
                .unwrap_or_else(|| "https://api.openai.com/v1".into()),
            (_, Some(p)) => match find_program(p, path_var) {
                Some(_) => "yes".into(),
                None => "no".into(),
            },
            (ProfileKind::Command | ProfileKind::Acp, None) => "(--agent-bin)".into(),
            (_, None) => "no".into(),
        };
        let mut name = profile.name.clone();
        if kind.agent_kind().is_none() {
            name.push_str(" (not supported yet)");
        }
        rows.push([
            name,
            kind.name().into(),
            program.unwrap_or_else(|| "-".into()),
            found,
            profile
                .model
                .clone()
                .or_else(|| config.defaults.model.clone())
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
