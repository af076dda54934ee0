//! Property tests of every output parser (claude, codex, gemini
//! stream-json, ACP, the OpenAI-compatible SSE stream, the line splitter) and of the sanitizer,
//! with hostile input: random bytes, real transcript lines cut, flipped and
//! spliced, deep nesting, long lines, wrong types, floods of tiny lines,
//! cut at random chunk boundaries.
//!
//! Each stream goes the way the runtime sends it (splitter or SSE parser,
//! then the agent's parser) into the real core, then `Exited`: no panic,
//! no event bigger than a bounded multiple of its input, and the task
//! ends with exactly one `finished`, as the last event it published.
//!
//! Cases per property: `PROPTEST_CASES` (a bounded 48 in the suite);
//! `scripts/proptest` runs a million.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::agent::lines::{Line, LineSplitter};
use crate::agent::openai::{ChatStream, Prices};
use crate::agent::sanitize::{is_invisible, sanitize_line};
use crate::agent::sse::SseParser;
use crate::agent::{AgentKind, AgentOptions};
use crate::core::event::AgentEvent;
use crate::core::task::{Budget, TaskSpec};
use crate::core::{Command, Event, ExitInfo, Limits, RetryPolicy, Settings, State};

/// Small caps, so that over-long lines and messages are common.
const LINE_CAP: usize = 4096;
const SSE_CAP: usize = 4096;

const CLAUDE: &[&str] = &[
    include_str!("../../tests/fixtures/claude/tool.jsonl"),
    include_str!("../../tests/fixtures/claude/errors.jsonl"),
    include_str!("../../tests/fixtures/claude/stdio_permission_allow.jsonl"),
    include_str!("../../tests/fixtures/claude/stdio_ask_user_question.jsonl"),
    include_str!("../../tests/fixtures/claude/partial.jsonl"),
];
const CODEX: &[&str] = &[
    include_str!("../../tests/fixtures/codex/tool.jsonl"),
    include_str!("../../tests/fixtures/codex/errors.jsonl"),
    include_str!("../../tests/fixtures/codex/write.jsonl"),
];
const GEMINI: &[&str] = &[
    include_str!("../../tests/fixtures/gemini/text.jsonl"),
    include_str!("../../tests/fixtures/gemini/errors.jsonl"),
    include_str!("../../tests/fixtures/gemini/resume_turn1.jsonl"),
];
/// An OpenAI-compatible chat stream: text, a tool call in pieces, usage.
const ACP: &[&str] = &[
    include_str!("../../tests/fixtures/gemini_acp/shell_allow.jsonl"),
    include_str!("../../tests/fixtures/gemini_acp/write.jsonl"),
    include_str!("../../tests/fixtures/gemini_acp/errors.jsonl"),
    include_str!("../../tests/fixtures/gemini_acp/two_turns.jsonl"),
];
const OPENAI: &[&str] = &[concat!(
    "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c1\",",
    "\"function\":{\"name\":\"run\",\"arguments\":\"{\\\"cmd\\\"\"}}]}}]}\n\n",
    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,",
    "\"function\":{\"arguments\":\":\\\"ls\\\"}\"}}]}}]}\n\n",
    ": keep-alive\n\n",
    "event: message\nid: 7\nretry: 100\n",
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],",
    "\"usage\":{\"prompt_tokens\":18446744073709551615,\"completion_tokens\":5}}\n\n",
    "data: [DONE]\n\n",
)];

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// One real line changed the way a broken or hostile agent would.
fn mutate(line: &str) -> BoxedStrategy<Vec<u8>> {
    let bytes = line.as_bytes().to_vec();
    let len = bytes.len();
    prop_oneof![
        3 => Just(bytes.clone()),
        // Cut anywhere, even inside a UTF-8 character.
        2 => (0..=len).prop_map({
            let bytes = bytes.clone();
            move |at| bytes[..at].to_vec()
        }),
        // Bytes overwritten with anything.
        2 => (prop::collection::vec((0..len.max(1), any::<u8>()), 1..8)).prop_map({
            let bytes = bytes.clone();
            move |edits| {
                let mut out = bytes.clone();
                for (at, byte) in edits {
                    if let Some(b) = out.get_mut(at) {
                        *b = byte;
                    }
                }
                out
            }
        }),
        // Values swapped for ones of the wrong type or size.
        2 => prop::sample::select(vec![
            "null", "0", "-1", "1e308", "-1e308", "18446744073709551615",
            "\"\"", "[]", "{}", "true", "\"\u{202e}\u{1b}[2J\u{9b}\"",
        ])
        .prop_map({
            let line = line.to_string();
            move |junk| {
                // Every string value after a colon becomes `junk`.
                let mut out = String::new();
                let mut rest = line.as_str();
                while let Some(at) = rest.find(":\"") {
                    out.push_str(&rest[..=at]);
                    out.push_str(junk);
                    rest = &rest[at + 2..];
                    match rest.find('"') {
                        Some(end) => rest = &rest[end + 1..],
                        None => rest = "",
                    }
                }
                out.push_str(rest);
                out.into_bytes()
            }
        }),
    ]
    .boxed()
}

/// A whole stream: mutated real lines and hostile pieces, in any order.
fn stream(seeds: &'static [&'static str]) -> BoxedStrategy<Vec<u8>> {
    let lines: Vec<&'static str> = seeds.iter().flat_map(|s| s.lines()).collect();
    let piece = prop_oneof![
        8 => prop::sample::select(lines).prop_flat_map(mutate),
        1 => prop::collection::vec(any::<u8>(), 0..512),
        // Deeply nested JSON.
        1 => (1usize..20_000).prop_map(|depth| {
            let mut s = "{\"type\":".repeat(depth.min(64)).into_bytes();
            s.extend(std::iter::repeat_n(b'[', depth));
            s
        }),
        // A line over the cap.
        1 => (LINE_CAP..LINE_CAP * 3).prop_map(|n| vec![b'x'; n]),
        // A flood of empty lines.
        1 => (1usize..2_000).prop_map(|n| vec![b'\n'; n]),
        1 => Just(b"{\"type\":\"result\",\"subtype\":7,\"usage\":\"none\",\"total_cost_usd\":\"NaN\"}".to_vec()),
    ];
    (
        prop::collection::vec(
            (piece, prop::sample::select(vec!["\n", "\r\n", "\r", ""])),
            0..24,
        ),
        any::<bool>(),
    )
        .prop_map(|(pieces, trailing_newline)| {
            let mut out = Vec::new();
            for (piece, end) in pieces {
                out.extend(piece);
                out.extend(end.as_bytes());
            }
            if trailing_newline {
                out.push(b'\n');
            }
            out
        })
        .boxed()
}

/// `bytes` and where to cut it into chunks.
fn chunked(seeds: &'static [&'static str]) -> BoxedStrategy<(Vec<u8>, Vec<usize>)> {
    (stream(seeds), prop::collection::vec(1usize..700, 0..40)).boxed()
}

fn chunks<'a>(bytes: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for &size in sizes.iter().cycle().take(bytes.len() + 1) {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(size.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The core with one launched task of `agent` (with `options`); retries
/// off, so the end of the stream is the end of the task.
fn launched(agent: AgentKind, options: AgentOptions) -> (State, u64) {
    let mut state = State::new(Settings {
        end_after_turn: true,
        retry: RetryPolicy {
            max_attempts: 0,
            delays_ms: Vec::new(),
        },
        ..Settings::default()
    });
    let spec = TaskSpec {
        agent,
        prompt: "go".into(),
        title: None,
        cwd: ".".into(),
        options,
        limits: Limits::default(),
        profile: None,
        budget: Budget::default(),
        worktree: false,
    };
    crate::core::update(&mut state, 1, Event::Command(Command::launch(spec)));
    let id = state.tasks[0].id;
    (state, id)
}

/// Feeds `events` (made from `input_len` bytes) to the core, checking
/// they are bounded by their input; returns what the core published.
fn feed(
    state: &mut State,
    task: u64,
    events: Vec<AgentEvent>,
    input_len: usize,
    published: &mut Vec<AgentEvent>,
) -> Result<(), TestCaseError> {
    let size: usize = events
        .iter()
        .map(|e| serde_json::to_string(e).map(|s| s.len()).unwrap_or(0))
        .sum();
    // JSON escapes make `\u0001` of one byte; nothing grows more.
    prop_assert!(
        size <= input_len * 8 + 4096,
        "{size} bytes of events from {input_len} bytes of input"
    );
    for event in events {
        let step = crate::core::update(state, 2, Event::Agent { task, event });
        published.extend(step.published.into_iter().map(|(_, e)| e));
    }
    Ok(())
}

/// Ends the task as the runtime does and checks it finished exactly once,
/// last. A live protocol that never announced its session is started once
/// more over the one-shot protocol: that run exits too.
fn exit_and_check(
    state: &mut State,
    task: u64,
    mut published: Vec<AgentEvent>,
) -> Result<(), TestCaseError> {
    for now in [3, 4] {
        let exit = ExitInfo {
            code: Some(0),
            signal: None,
            killed_outside_group: 0,
        };
        let step = crate::core::update(state, now, Event::Exited { task, exit });
        published.extend(step.published.into_iter().map(|(_, e)| e));
        if state.task(task).is_some_and(|t| t.status.is_final()) {
            break;
        }
    }
    let finished = published
        .iter()
        .filter(|e| matches!(e, AgentEvent::Finished(_)))
        .count();
    prop_assert_eq!(finished, 1, "published: {:?}", published.last());
    prop_assert!(matches!(published.last(), Some(AgentEvent::Finished(_))));
    let t = state.task(task).expect("the task");
    prop_assert!(t.status.is_final(), "status {:?}", t.status);
    Ok(())
}

fn check_process_stream(
    agent: AgentKind,
    options: AgentOptions,
    bytes: &[u8],
    sizes: &[usize],
) -> Result<(), TestCaseError> {
    let wire = agent.wire(&options);
    let (mut state, task) = launched(agent, options);
    let mut splitter = LineSplitter::new(LINE_CAP);
    let mut parser = agent.parser(wire);
    let mut published = Vec::new();
    let mut lines = Vec::new();
    for chunk in chunks(bytes, sizes) {
        lines.extend(splitter.push(chunk));
    }
    lines.extend(splitter.finish());
    for line in lines {
        // At most the cap in bytes is kept; lossy decoding may make each
        // invalid byte a three-byte U+FFFD.
        let size = line.text().len();
        prop_assert!(size <= LINE_CAP * 3, "a line of {size} bytes kept");
        let events = match line {
            Line::Full(text) => parser.parse_line(&text),
            // What the reader sends instead of parsing the line.
            Line::Truncated { len, .. } => vec![AgentEvent::Error {
                message: format!("a line of {len} bytes was cut"),
            }],
        };
        feed(&mut state, task, events, size, &mut published)?;
    }
    exit_and_check(&mut state, task, published)
}

fn check_sse_stream(bytes: &[u8], sizes: &[usize]) -> Result<(), TestCaseError> {
    let (mut state, task) = launched(AgentKind::OpenAi, AgentOptions::default());
    let mut sse = SseParser::new(SSE_CAP);
    let mut stream = ChatStream::new(Prices::default());
    let mut published = Vec::new();
    let mut frames = Vec::new();
    for chunk in chunks(bytes, sizes) {
        frames.extend(sse.push(chunk));
    }
    frames.extend(sse.finish());
    for frame in frames {
        let events = stream.frame(frame);
        feed(&mut state, task, events, SSE_CAP, &mut published)?;
    }
    let last = stream.end().unwrap_or_else(|| {
        vec![AgentEvent::Error {
            message: "the stream broke off".into(),
        }]
    });
    feed(
        &mut state,
        task,
        last,
        bytes.len().max(SSE_CAP),
        &mut published,
    )?;
    exit_and_check(&mut state, task, published)
}

fn run(
    name: &str,
    strategy: BoxedStrategy<(Vec<u8>, Vec<usize>)>,
    check: impl Fn(&[u8], &[usize]) -> Result<(), TestCaseError>,
) {
    if let Err(err) = runner().run(&strategy, |(bytes, sizes)| check(&bytes, &sizes)) {
        panic!("{name}: {err}");
    }
}

#[test]
fn claude_streams_never_panic_and_always_finish() {
    run("claude", chunked(CLAUDE), |b, s| {
        check_process_stream(AgentKind::Claude, AgentOptions::default(), b, s)
    });
}

#[test]
fn codex_streams_never_panic_and_always_finish() {
    run("codex", chunked(CODEX), |b, s| {
        check_process_stream(AgentKind::Codex, AgentOptions::default(), b, s)
    });
}

#[test]
fn gemini_stream_json_streams_never_panic_and_always_finish() {
    let stream_json = || AgentOptions {
        protocol: Some(crate::agent::gemini::PROTOCOL_STREAM_JSON.into()),
        ..AgentOptions::default()
    };
    run("gemini", chunked(GEMINI), |b, s| {
        check_process_stream(AgentKind::Gemini, stream_json(), b, s)
    });
}

#[test]
fn acp_streams_never_panic_and_always_finish() {
    run("acp", chunked(ACP), |b, s| {
        check_process_stream(AgentKind::Gemini, AgentOptions::default(), b, s)
    });
}

#[test]
fn openai_sse_streams_never_panic_and_always_finish() {
    run("openai", chunked(OPENAI), check_sse_stream);
}

#[test]
fn the_line_splitter_keeps_every_byte_of_short_lines_wherever_chunks_are_cut() {
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..3000),
        prop::collection::vec(1usize..300, 1..20),
    );
    let result = runner().run(&strategy, |(bytes, sizes)| {
        let mut whole = LineSplitter::new(LINE_CAP);
        let mut expected = whole.push(&bytes);
        expected.extend(whole.finish());
        let mut cut = LineSplitter::new(LINE_CAP);
        let mut got = Vec::new();
        for chunk in chunks(&bytes, &sizes) {
            got.extend(cut.push(chunk));
        }
        got.extend(cut.finish());
        // Chunk boundaries never change the lines.
        prop_assert_eq!(&got, &expected);
        let newlines = bytes.iter().filter(|&&b| b == b'\n').count();
        prop_assert!(got.len() == newlines || got.len() == newlines + 1);
        Ok(())
    });
    if let Err(err) = result {
        panic!("line splitter: {err}");
    }
}

#[test]
fn sanitized_text_has_no_control_and_no_invisible_character() {
    let strategy = prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "\u{1b}[31m",
                "\u{1b}]0;title\u{7}",
                "\u{1b}P",
                "\u{9b}2J",
                "\u{9d}8;;x\u{9c}",
                "\u{202e}",
                "\u{2066}",
                "\u{200b}",
                "\u{feff}",
                "\u{e0041}",
                "\u{7f}",
                "\u{85}",
                "\r",
                "\t",
                "ls -la",
                "é",
                "\u{1b}",
                "\u{1b}(B",
                "\u{90}",
                "\u{9c}",
            ]),
            0..64,
        )
        .prop_map(|parts| parts.concat()),
    ];
    let result = runner().run(&strategy, |text| {
        let clean = sanitize_line(&text);
        prop_assert!(
            !clean
                .chars()
                .any(|c| (c.is_control() && c != '\t') || is_invisible(c)),
            "{:?} -> {:?}",
            text,
            clean
        );
        // A placeholder is at most 12 bytes for a 1..4 byte character.
        prop_assert!(clean.len() <= text.len() * 12);
        // Sanitizing twice changes nothing more.
        prop_assert_eq!(sanitize_line(&clean), clean.clone());
        Ok(())
    });
    if let Err(err) = result {
        panic!("sanitizer: {err}");
    }
}
