//! corral: run several AI coding agents at once from one terminal.
//!
//! Layers (data flows one way): `runtime` turns the world into events, `core`
//! decides, `runtime` carries out the effects, a front end (`headless`, `tui`)
//! shows the state, or `server` owns it all and front ends are its
//! clients over a Unix socket. Every front end steps through the one `driver` (event →
//! `update` → record → effects). `agent` holds the pure per-agent adapters;
//! `describe` words canonical events once for every front end.

pub mod agent;
pub mod cli;
pub mod config;
pub mod core;
pub mod describe;
pub mod driver;
pub mod headless;
pub mod logging;
pub mod paths;
pub mod present;
pub mod questions;
pub mod review;
pub mod runtime;
pub mod server;
pub mod store;
pub mod tui;
pub mod worktree;
