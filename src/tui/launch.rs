//! From the new-task form and the command line's agent flags to the
//! `TaskSpec` the core launches.
//!
//! Pure: no IO. The form decides agent, prompt, directory, model and
//! permission mode; everything else (binary, tools, env, extra arguments)
//! comes from the flags `corral` was started with.

use std::path::Path;

use super::form::{FormDefaults, FormOutput};
use crate::agent::AgentOptions;
use crate::cli::AgentArgs;
use crate::core::Limits;
use crate::core::task::TaskSpec;

/// The task the form asks for, with the command line's other agent flags.
pub fn task_spec(args: &AgentArgs, out: FormOutput) -> TaskSpec {
    TaskSpec {
        agent: out.agent,
        prompt: out.prompt,
        title: None,
        cwd: out.cwd,
        options: AgentOptions {
            binary: args.agent_bin.clone(),
            model: out.model,
            permission_mode: out.permission_mode,
            allowed_tools: args.allowed_tools.clone(),
            disallowed_tools: args.disallowed_tools.clone(),
            append_system_prompt: args.append_system_prompt.clone(),
            add_dirs: args.add_dirs.clone(),
            max_budget_usd: args.max_budget_usd,
            session_id: None,
            resume: None,
            extra_args: args.agent_args.clone(),
            env: args.env.clone(),
        },
        limits: Limits::default(),
    }
}

/// The form's defaults from the command line; `cwd` is corral's own
/// directory, which relative paths are resolved against.
pub fn form_defaults(args: &AgentArgs, cwd: &Path) -> FormDefaults {
    FormDefaults {
        agent: args.agent.clone(),
        model: args.model.clone(),
        permission_mode: args.permission_mode.clone(),
        base_dir: cwd.to_path_buf(),
        cwd: args.cwd.clone().unwrap_or_else(|| cwd.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentKind;
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
        let d = form_defaults(&cli.tui, Path::new("/w"));
        assert_eq!(d.cwd, PathBuf::from("/w"));
        assert_eq!(d.model.as_deref(), Some("opus"));
        let spec = task_spec(
            &cli.tui,
            FormOutput {
                agent: AgentKind::Claude,
                prompt: "hi".into(),
                cwd: PathBuf::from("/w/sub"),
                model: Some("haiku".into()),
                permission_mode: None,
            },
        );
        assert_eq!(spec.options.binary.as_deref(), Some("./fake"));
        assert_eq!(spec.options.model.as_deref(), Some("haiku"));
        assert_eq!(spec.options.allowed_tools, ["Bash"]);
        assert_eq!(spec.options.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(spec.cwd, PathBuf::from("/w/sub"));
    }
}
