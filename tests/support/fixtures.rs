//! Reading a recorded transcript the way the runtime delivers it and
//! picking out what the fixture tests check. Shared by the codex and
//! gemini fixture tests.

use std::fs;
use std::path::PathBuf;

use corral::agent::OutputParser;
use corral::core::event::AgentEvent;

/// `tests/fixtures/<agent>`.
pub fn fixture_dir(agent: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(agent)
}

/// The fixture's lines as the runtime delivers them: split on `\n`, `\r`
/// stripped, invalid UTF-8 replaced.
pub fn lines(agent: &str, name: &str) -> Vec<String> {
    let bytes = fs::read(fixture_dir(agent).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    String::from_utf8_lossy(&bytes)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect()
}

/// Every line through a fresh `parser`.
pub fn parse_with(mut parser: impl OutputParser, lines: &[String]) -> Vec<AgentEvent> {
    lines.iter().flat_map(|l| parser.parse_line(l)).collect()
}

/// Every line through a fresh `parser` as the agent's stderr (a pipe of
/// its own under corral).
pub fn parse_stderr_with(mut parser: impl OutputParser, lines: &[String]) -> Vec<AgentEvent> {
    lines
        .iter()
        .flat_map(|l| parser.parse_stderr_line(l))
        .collect()
}

/// Lines of both streams through one `parser`, in the order given
/// (`true`: a stderr line).
pub fn parse_streams_with(
    mut parser: impl OutputParser,
    lines: &[(bool, String)],
) -> Vec<AgentEvent> {
    lines
        .iter()
        .flat_map(|(stderr, l)| {
            if *stderr {
                parser.parse_stderr_line(l)
            } else {
                parser.parse_line(l)
            }
        })
        .collect()
}

/// All assistant text, joined.
pub fn texts(events: &[AgentEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The session id, checking that the session names `agent`.
pub fn session_id(events: &[AgentEvent], agent: &str) -> Option<String> {
    events.iter().find_map(|e| match e {
        AgentEvent::Session {
            session_id,
            agent: named,
            ..
        } => {
            assert_eq!(named, agent);
            Some(session_id.clone())
        }
        _ => None,
    })
}

/// The one turn end: (is_error, result).
pub fn turn_end(events: &[AgentEvent]) -> (bool, Option<String>) {
    let ends: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TurnEnd {
                is_error, result, ..
            } => Some((*is_error, result.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(ends.len(), 1, "exactly one turn end: {events:#?}");
    ends[0].clone()
}
