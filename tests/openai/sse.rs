//! The SSE parser and the chat-completions stream decoder, through their
//! public API: bodies split at every byte position, `[DONE]`, keep-alive
//! comments, CRLF, multi-line data, errors inside the stream, malformed
//! chunks, tool calls streamed in pieces, usage.

use corral::agent::openai::{ChatStream, Prices};
use corral::agent::sse::{SseFrame, SseMessage, SseParser};
use corral::core::event::{AgentEvent, Usage};
use serde_json::json;

/// A realistic streamed answer (the shape OpenAI, vLLM and llama.cpp send):
/// role chunk, content chunks, finish chunk, usage chunk, `[DONE]`, with a
/// keep-alive comment and an `event:`/`id:` field on the way.
const ANSWER: &str = concat!(
    ": ping\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"model\":\"m1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "id: 7\n",
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hél\"}}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo ☃\"}}]}\n\n",
    ":keep-alive\n",
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}\n\n",
    "data: [DONE]\n\n",
);

fn parse_all(chunks: &[&[u8]]) -> Vec<SseFrame> {
    let mut parser = SseParser::default();
    let mut frames = Vec::new();
    for chunk in chunks {
        frames.extend(parser.push(chunk));
    }
    frames.extend(parser.finish());
    frames
}

fn data_of(frames: &[SseFrame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            SseFrame::Message(m) => m.data.clone(),
            SseFrame::TooLong { bytes } => format!("<too long {bytes}>"),
        })
        .collect()
}

fn decode(body: &str) -> Vec<AgentEvent> {
    let mut stream = ChatStream::new(Prices::default());
    let mut events = Vec::new();
    for frame in parse_all(&[body.as_bytes()]) {
        events.extend(stream.frame(frame));
    }
    events.extend(stream.end().unwrap_or_default());
    events
}

#[test]
fn a_body_split_at_every_byte_position_gives_the_same_messages() {
    let bytes = ANSWER.as_bytes();
    let whole = data_of(&parse_all(&[bytes]));
    assert_eq!(whole.len(), 6, "comments are not messages: {whole:?}");
    assert_eq!(whole.last().map(String::as_str), Some("[DONE]"));
    for cut in 0..=bytes.len() {
        let (a, b) = bytes.split_at(cut);
        assert_eq!(data_of(&parse_all(&[a, b])), whole, "split at {cut}");
    }
    // And one byte at a time, through a UTF-8 character's bytes too.
    let single: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(data_of(&parse_all(&single)), whole);
}

#[test]
fn crlf_and_lone_cr_line_ends_split_anywhere_are_the_same_as_lf() {
    let lf = "event: message\ndata: a\ndata: b\n\ndata: c\n\n";
    for ending in ["\r\n", "\r"] {
        let body = lf.replace('\n', ending);
        let bytes = body.as_bytes();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(
                data_of(&parse_all(&[a, b])),
                ["a\nb", "c"],
                "{ending:?} split at {cut}"
            );
        }
    }
}

#[test]
fn fields_are_read_as_sse_defines_them() {
    let frames = parse_all(&[
        b"event: delta\nid: 42\nretry: 1500\ndata:no space\ndata:  two spaces\n\n",
        b"data\n\n",
        b"event: no-data\n\n",
        b"data: after\n\n",
    ]);
    let messages: Vec<SseMessage> = frames
        .into_iter()
        .filter_map(|f| match f {
            SseFrame::Message(m) => Some(m),
            SseFrame::TooLong { .. } => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            SseMessage {
                event: Some("delta".into()),
                data: "no space\n two spaces".into(),
                id: Some("42".into()),
                retry_ms: Some(1500),
            },
            SseMessage {
                event: None,
                data: String::new(),
                id: Some("42".into()),
                retry_ms: None,
            },
            // `event: no-data` had no data line: not dispatched, and its
            // event name does not leak into the next message.
            SseMessage {
                event: None,
                data: "after".into(),
                id: Some("42".into()),
                retry_ms: None,
            },
        ]
    );
}

#[test]
fn a_streamed_answer_becomes_session_text_deltas_usage_and_turn_end() {
    assert_eq!(
        decode(ANSWER),
        [
            AgentEvent::Session {
                session_id: "chatcmpl-1".into(),
                model: Some("m1".into()),
                cwd: None,
                agent: "openai".into(),
            },
            AgentEvent::Text {
                text: "Hél".into(),
                delta: true
            },
            AgentEvent::Text {
                text: "lo ☃".into(),
                delta: true
            },
            AgentEvent::Usage(Usage {
                input_tokens: 12,
                output_tokens: 3,
                ..Usage::default()
            }),
            AgentEvent::TurnEnd {
                is_error: false,
                result: Some("Héllo ☃".into()),
                api_error_status: None,
                num_turns: Some(1),
                permission_denials: vec![],
                terminal_reason: None,
                api_error_type: None,
            },
        ]
    );
}

#[test]
fn reasoning_deltas_are_thinking() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"let me see\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"reasoning\":\" more\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"42\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode(body);
    assert_eq!(
        events[..3],
        [
            AgentEvent::Thinking {
                text: "let me see".into(),
                delta: true
            },
            AgentEvent::Thinking {
                text: " more".into(),
                delta: true
            },
            AgentEvent::Text {
                text: "42".into(),
                delta: true
            },
        ]
    );
}

#[test]
fn tool_calls_streamed_in_pieces_are_shown_once_complete() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode(body);
    let calls: Vec<&AgentEvent> = events
        .iter()
        .filter(|e| matches!(e, AgentEvent::ToolCall { .. }))
        .collect();
    assert_eq!(
        calls,
        [&AgentEvent::ToolCall {
            id: "call_a".into(),
            name: "get_weather".into(),
            input: json!({"city": "Paris"}),
        }]
    );
    assert!(matches!(
        events.last(),
        Some(AgentEvent::TurnEnd {
            is_error: false,
            ..
        })
    ));
}

#[test]
fn a_malformed_chunk_is_an_error_event_and_the_answer_goes_on() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\n\n",
        "data: not json at all\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    let events = decode(body);
    let errors = events
        .iter()
        .filter(
            |e| matches!(e, AgentEvent::Error { message } if message.contains("malformed chunk")),
        )
        .count();
    assert_eq!(errors, 2, "{events:?}");
    assert!(matches!(
        events.last(),
        Some(AgentEvent::TurnEnd { is_error: false, result: Some(r), .. }) if r == "ab"
    ));
}

#[test]
fn an_error_inside_the_stream_fails_the_turn_with_the_servers_message() {
    let body = concat!(
        "data: {\"error\":{\"message\":\"context length exceeded\",\"type\":\"invalid_request_error\"}}\n\n",
        "data: [DONE]\n\n",
    );
    let mut stream = ChatStream::new(Prices::default());
    let mut events = Vec::new();
    for frame in parse_all(&[body.as_bytes()]) {
        events.extend(stream.frame(frame));
    }
    assert_eq!(
        events,
        [AgentEvent::Error {
            message: "context length exceeded".into()
        }]
    );
    assert_eq!(stream.error(), Some("context length exceeded"));
    assert_eq!(stream.end(), None, "no successful turn end");
}

#[test]
fn a_stream_cut_off_before_finishing_has_no_turn_end() {
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"par\"}}]}\n\n";
    let mut stream = ChatStream::new(Prices::default());
    for frame in parse_all(&[body.as_bytes()]) {
        stream.frame(frame);
    }
    assert!(stream.produced_output());
    assert_eq!(stream.end(), None);
}

#[test]
fn done_without_a_trailing_blank_line_still_ends_the_turn() {
    let body = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]";
    assert!(matches!(
        decode(body).last(),
        Some(AgentEvent::TurnEnd { is_error: false, result: Some(r), .. }) if r == "x"
    ));
}
