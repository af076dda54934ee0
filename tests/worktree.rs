//! Worktree tasks against real git: the worktree module, the runtime's
//! worktree effects, and `corral run --worktree` with diff, merge, discard.
//! (Without git on PATH is its own binary, `worktree_no_git`: it empties
//! PATH for the whole process.)
//!
//! One test binary for these (fewer binaries link faster); each file below
//! tests/worktree/ is a module with its own header.

#[path = "worktree/cli.rs"]
mod cli;
#[path = "worktree/git.rs"]
mod git;
#[path = "worktree/runtime.rs"]
mod runtime;
