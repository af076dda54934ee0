//! The task store: round trips through the recorder, crash consistency
//! under `kill -9`, the store commands (`ls`, `logs`, `rm`) and restart
//! recovery after `kill -9` of a corral.
//!
//! One test binary for these (fewer binaries link faster); each file below
//! tests/store/ is a module with its own header.

#[path = "store/commands.rs"]
mod commands;
#[path = "store/crash.rs"]
mod crash;
#[path = "store/kill9_recovery.rs"]
mod kill9_recovery;
#[path = "store/roundtrip.rs"]
mod roundtrip;
