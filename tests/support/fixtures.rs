//! Reading a recorded transcript the way the runtime delivers it and
//! picking out what the fixture tests check. Shared by the codex and
//! gemini fixture tests: each names its transcript folders once, as a
//! [`Transcripts`], and reads them through it.

use std::fs;
use std::path::PathBuf;

use corral::agent::OutputParser;
use corral::core::event::AgentEvent;

/// The answer the loopback mocks stream when their script has run out,
/// as the recorded transcripts carry it.
pub const HELLO: &str = "Hello from the loopback mock model. This answer was streamed in several chunks so the parser sees deltas.";

/// One folder of recorded transcripts (`tests/fixtures/<dir>`) of the agent
/// `agent`, read the way corral reads it: each transcript through a fresh
/// `parser`, a `.stderr.txt` file as the agent's stderr.
pub struct Transcripts<P> {
    pub dir: &'static str,
    pub agent: &'static str,
    pub parser: fn() -> P,
}

impl<P: OutputParser> Transcripts<P> {
    /// The folder.
    pub fn path(&self) -> PathBuf {
        fixture_dir(self.dir)
    }

    /// The transcript `name`'s lines as the runtime delivers them.
    pub fn lines(&self, name: &str) -> Vec<String> {
        lines(self.dir, name)
    }

    /// `lines` as the agent's stdout.
    pub fn parse_lines(&self, lines: &[String]) -> Vec<AgentEvent> {
        parse_with((self.parser)(), lines)
    }

    /// The transcript `name` as corral reads it.
    pub fn parse(&self, name: &str) -> Vec<AgentEvent> {
        let lines = self.lines(name);
        if name.ends_with(".stderr.txt") {
            parse_stderr_with((self.parser)(), &lines)
        } else {
            self.parse_lines(&lines)
        }
    }

    /// Lines of both streams in the order given (`true`: stderr).
    pub fn parse_streams(&self, lines: &[(bool, String)]) -> Vec<AgentEvent> {
        parse_streams_with((self.parser)(), lines)
    }

    /// The session id, checking that the session names the agent.
    pub fn session_id(&self, events: &[AgentEvent]) -> Option<String> {
        session_id(events, self.agent)
    }

    /// The transcripts of the folder, sorted: every `.jsonl` but the
    /// replies of a session (`.session.jsonl`), and with `stderr` the
    /// `.stderr.txt` files; fails when there are fewer than `at_least`.
    pub fn names(&self, stderr: bool, at_least: usize) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path())
            .expect("fixture dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| {
                (n.ends_with(".jsonl") && !n.ends_with(".session.jsonl"))
                    || (stderr && n.ends_with(".stderr.txt"))
            })
            .collect();
        names.sort();
        assert!(names.len() >= at_least, "fixtures missing: {names:?}");
        names
    }
}

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

/// A plain answer: a session, `text` streamed and as the turn's result of
/// a successful turn, and the turn's usage with `input_tokens`.
pub fn assert_plain_answer(
    events: &[AgentEvent],
    session: Option<String>,
    text: &str,
    input_tokens: u64,
) {
    assert!(session.is_some(), "a session: {events:#?}");
    assert_eq!(texts(events), text);
    assert_eq!(turn_end(events), (false, Some(text.to_string())));
    let inputs: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Usage(u) => Some(u.input_tokens),
            _ => None,
        })
        .collect();
    assert_eq!(inputs, [input_tokens], "one usage: {events:#?}");
}
