//! Splitting agent output bytes into lines (placeholder until the runtime lands).
