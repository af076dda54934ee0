//! `corral run`: the headless front end (the run loop lands with the runtime).

pub mod printer;
