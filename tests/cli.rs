//! `corral run` and the config as a user meets them: runs with fake agents,
//! per-task limits, and config.toml parsing with its error messages.
//!
//! One test binary for these (fewer binaries link faster); each file below
//! tests/cli/ is a module with its own header.

#[path = "cli/config.rs"]
mod config;
#[path = "cli/limits.rs"]
mod limits;
#[path = "cli/run.rs"]
mod run;
