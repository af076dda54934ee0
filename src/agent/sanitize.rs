//! Removing terminal control sequences from agent text (interim).

/// Removes control characters (interim version).
pub fn sanitize_line(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}
