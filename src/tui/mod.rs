//! The cockpit: a full-screen terminal UI over the core and the runtime.
//!
//! `app` holds UI state, `keymap` maps keys to actions (pure), `view` draws
//! (pure), `lines`/`wrap` turn transcripts into cached screen lines.

pub mod app;
pub mod form;
pub mod keymap;
pub mod layout;
pub mod lines;
pub mod theme;
pub mod view;
pub mod wrap;
