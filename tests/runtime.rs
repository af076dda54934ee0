//! The runtime against real processes: PTYs and signals, the "any
//! command" agent, and the question-file protocol.
//!
//! One test binary for these (fewer binaries link faster); each file below
//! tests/runtime/ is a module with its own header.

#[path = "runtime/command.rs"]
mod command;
#[path = "runtime/pty.rs"]
mod pty;
#[path = "runtime/question_file.rs"]
mod question_file;
