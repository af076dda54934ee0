//! From the new-task form and the command line's agent flags to the
//! `TaskSpec` the core launches.
//!
//! The form decides agent, prompt, directory, model and permission mode;
//! everything else (binary, tools, env, extra arguments) comes from the
//! flags `corral` was started with, through the same builder as `corral
//! run`. No IO beyond what that builder does.

use std::path::Path;

use anyhow::Result;

use super::form::{FormDefaults, FormOutput};
use crate::cli::AgentArgs;
use crate::config::Config;
use crate::core::Limits;
use crate::core::task::{Budget, TaskSpec};

/// The task the form asks for, with the command line's other agent flags
/// and the config's profiles, limits and budget.
pub fn task_spec(args: &AgentArgs, config: &Config, out: FormOutput) -> Result<TaskSpec> {
    let mut args = args.clone();
    args.agent = Some(out.agent);
    args.model = out.model;
    args.permission_mode = out.permission_mode;
    args.cwd = Some(out.cwd);
    // A preset session id or a resumed session belongs to one task, never
    // to every task started from the form.
    args.session_id = None;
    args.resume = None;
    let d = &config.defaults;
    let worktree = out.worktree;
    let mut spec = crate::headless::task_spec_from(
        &args,
        config,
        out.prompt,
        Limits {
            idle_timeout_ms: d.idle_timeout_ms,
            wall_timeout_ms: d.timeout_ms,
        },
        Budget {
            max_cost_usd: d.max_cost_usd,
            max_turns: d.max_turns,
            ..Budget::default()
        },
    )?;
    spec.worktree = worktree;
    Ok(spec)
}

/// The spec of a task for another host: of the environment only what was
/// given on the command line goes (`--env`, `--agent-bin`); the local
/// profile's `env` and `binary` stay here, the remote server has its own.
pub fn for_remote(mut spec: TaskSpec, args: &AgentArgs) -> TaskSpec {
    spec.options.env = args.env.clone();
    spec.options.binary = args.agent_bin.clone();
    spec
}

/// The form's defaults from the command line; `cwd` is corral's own
/// directory, which relative paths are resolved against.
pub fn form_defaults(args: &AgentArgs, config: &Config, cwd: &Path) -> FormDefaults {
    FormDefaults {
        agent: args
            .agent
            .clone()
            .unwrap_or_else(|| config.defaults.agent.clone()),
        agents: config.agents.keys().cloned().collect(),
        worktree: config.defaults.worktree,
        model: args.model.clone(),
        permission_mode: args.permission_mode.clone(),
        base_dir: cwd.to_path_buf(),
        cwd: args.cwd.clone().unwrap_or_else(|| cwd.to_path_buf()),
        hosts: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;
    use std::path::PathBuf;

    #[test]
    fn form_choices_win_and_other_flags_carry_over() {
        let cli = Cli::try_parse_from([
            "corral",
            "--agent-bin",
            "./fake",
            "--model",
            "opus",
            "--allowed-tool",
            "Bash",
            "--env",
            "A=1",
        ])
        .unwrap();
        let d = form_defaults(&cli.tui, &Config::default(), Path::new("/w"));
        assert_eq!(d.cwd, PathBuf::from("/w"));
        assert_eq!(d.model.as_deref(), Some("opus"));
        let spec = task_spec(
            &cli.tui,
            &Config::default(),
            FormOutput {
                agent: "claude".into(),
                prompt: "hi".into(),
                cwd: PathBuf::from("/w/sub"),
                model: Some("haiku".into()),
                permission_mode: None,
                worktree: false,
                host: None,
            },
        )
        .unwrap();
        assert_eq!(spec.options.binary.as_deref(), Some("./fake"));
        assert_eq!(spec.options.model.as_deref(), Some("haiku"));
        assert_eq!(spec.options.allowed_tools, ["Bash"]);
        assert_eq!(spec.options.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(spec.cwd, PathBuf::from("/w/sub"));
    }
}
