//! Any command as an agent: an interactive terminal program (an agent with
//! no structured mode, or a shell) run in a PTY whose input is the terminal
//! too, so the user can type into it.
//!
//! The program's screen is shown from the raw bytes (`Event::Output`,
//! rendered through a VT parser by the front end); for the transcript and
//! `corral run`, each output line also becomes a sanitized `raw` event.
//! Busy or idle is inferred from output activity (`core::task::is_busy`).
//! A command has no turns: exit code 0 is success, anything else a failure.
//!
//! Pure: builds a [`LaunchSpec`] and turns lines into events; never spawns,
//! reads or writes, and never panics on what the program prints.

use std::path::Path;

use super::sanitize::sanitize_line;
use super::{AgentOptions, LaunchSpec, OutputParser, StdinMode};
use crate::core::event::AgentEvent;

/// The program run when a command profile names none.
pub const DEFAULT_PROGRAM: &str = "sh";

/// How to start the command: `opts.binary` (default [`DEFAULT_PROGRAM`])
/// with `opts.extra_args` as its arguments, in `cwd`, with `opts.env`. The
/// terminal is its stdin; a non-blank `prompt` is typed into it first,
/// followed by Enter (`\r`, what a terminal sends).
pub fn launch(opts: &AgentOptions, cwd: &Path, prompt: &str) -> LaunchSpec {
    let initial_input = if prompt.trim().is_empty() {
        Vec::new()
    } else {
        let mut bytes = prompt.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
        bytes.push(b'\r');
        bytes
    };
    LaunchSpec {
        program: opts
            .binary
            .clone()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PROGRAM.to_string()),
        args: opts.extra_args.clone(),
        cwd: cwd.to_path_buf(),
        env: opts.env.clone(),
        stdin: StdinMode::Terminal { initial_input },
    }
}

/// Each non-blank output line becomes a `raw` event with control sequences
/// removed.
#[derive(Debug, Default)]
pub struct RawParser;

impl OutputParser for RawParser {
    fn parse_line(&mut self, line: &str) -> Vec<AgentEvent> {
        let line = sanitize_line(line);
        if line.trim().is_empty() {
            return Vec::new();
        }
        vec![AgentEvent::Raw { line }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_the_binary_and_its_args_and_the_prompt_is_typed() {
        let opts = AgentOptions {
            binary: Some("python3".into()),
            extra_args: vec!["-i".into()],
            ..AgentOptions::default()
        };
        let spec = launch(&opts, Path::new("/w"), "print(1)\n");
        assert_eq!(spec.program, "python3");
        assert_eq!(spec.args, ["-i"]);
        assert_eq!(
            spec.stdin,
            StdinMode::Terminal {
                initial_input: b"print(1)\r".to_vec()
            }
        );
        let bare = launch(&AgentOptions::default(), Path::new("/w"), "  ");
        assert_eq!(bare.program, "sh");
        assert_eq!(
            bare.stdin,
            StdinMode::Terminal {
                initial_input: vec![]
            }
        );
    }

    #[test]
    fn lines_are_sanitized_and_blank_ones_dropped() {
        let mut p = RawParser;
        assert_eq!(
            p.parse_line("\x1b]0;title\x07\x1b[1mhi\x1b[0m"),
            [AgentEvent::Raw { line: "hi".into() }]
        );
        assert!(p.parse_line("\x1b[2J").is_empty());
    }
}
