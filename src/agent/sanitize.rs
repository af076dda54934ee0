//! Removing terminal control sequences from agent text (placeholder until it lands).
