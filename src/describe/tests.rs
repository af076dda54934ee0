//! The describer's words, in the pane and in a log alike.

use super::samples::{approval, questions};
use super::*;
use crate::core::event::Usage;

const PANE: Layout = Layout::Pane {
    width: 80,
    expanded: false,
};
const LOG: Layout = Layout::Log { gist: 160 };

fn texts(ev: &AgentEvent, layout: Layout) -> Vec<String> {
    describe(ev, layout).iter().map(Line::text).collect()
}

fn answered(decision: &str, by: &str, answers: &[(&str, &str)]) -> AgentEvent {
    AgentEvent::Answered {
        id: "r1".into(),
        decision: decision.into(),
        message: None,
        answers: answers
            .iter()
            .map(|(q, a)| (q.to_string(), a.to_string()))
            .collect(),
        by: by.into(),
    }
}

#[test]
fn who_answered_reads_the_same_everywhere() {
    for layout in [PANE, LOG] {
        assert_eq!(
            texts(&answered("allow", "rule", &[]), layout),
            ["  ✓ allowed (you allowed it always for this task)"]
        );
        assert_eq!(
            texts(&answered("allow", "policy", &[]), layout),
            ["  ✓ allowed by policy"]
        );
        assert_eq!(
            texts(&answered("deny", "user", &[]), layout),
            ["  ✗ denied"]
        );
        assert_eq!(
            texts(
                &answered(
                    "answer",
                    "user",
                    &[("Which colour?", "Blue"), ("Name?", "W")]
                ),
                layout
            ),
            ["  ✓ answered", "    Which colour? → Blue", "    Name? → W"],
            "one line per question"
        );
    }
}

#[test]
fn a_killed_run_says_so_and_counts_escaped_processes_everywhere() {
    let ev = AgentEvent::Finished(Finished {
        status: FinishStatus::Killed,
        exit_code: None,
        signal: Some("SIGKILL".into()),
        reason: Some("killed by the user".into()),
        result: None,
        session_id: None,
        duration_ms: 1_500,
        usage: Usage::default(),
        killed_outside_group: Some(2),
    });
    for layout in [PANE, LOG] {
        assert_eq!(
            texts(&ev, layout),
            [
                "☠ killed · 1.5s · 0 in / 0 out tokens",
                "  killed by the user",
                "  killed 2 process(es) that had left the agent's process group"
            ]
        );
    }
}

#[test]
fn a_pane_folds_results_a_log_summarises_them() {
    let ev = AgentEvent::ToolResult {
        id: "t".into(),
        output: "one\ntwo\nthree\n".into(),
        is_error: true,
    };
    assert_eq!(
        texts(&ev, PANE),
        ["  ✗ one (+2 lines, e expands)", "    two"]
    );
    assert_eq!(texts(&ev, LOG), ["  ✗ one (+2 lines)"]);
    let expanded = Layout::Pane {
        width: 80,
        expanded: true,
    };
    assert_eq!(
        texts(&ev, expanded),
        ["  ✗ 3 lines", "  │ one", "  │ two", "  │ three"]
    );
    assert!(describe(&ev, PANE).iter().all(|l| l.fit == Fit::Cut));
}

#[test]
fn a_user_message_is_whole_in_the_pane_and_one_line_in_a_log() {
    let ev = AgentEvent::UserMessage {
        text: "Fix the bug.\nThen run the tests.".into(),
    };
    assert_eq!(
        texts(&ev, PANE),
        ["› Fix the bug.", "  Then run the tests."]
    );
    assert_eq!(texts(&ev, LOG), ["› Fix the bug. Then run the tests."]);
}

#[test]
fn questions_name_the_tool_or_list_the_choices() {
    assert_eq!(
        texts(&AgentEvent::Question(approval()), LOG),
        ["? Bash wants to run: touch marker"]
    );
    assert_eq!(
        texts(&AgentEvent::Question(questions(false)), PANE),
        ["? Which colour? [Red / Blue / Green]", "? Name?"]
    );
    let lines = describe(&AgentEvent::Question(approval()), PANE);
    assert!(lines[0].pieces.iter().all(|p| p.tone == Tone::Question));
}

#[test]
fn agent_text_is_made_safe_in_every_piece() {
    let evil = "a\u{1b}[2J\u{1b}]0;pwned\u{7}b";
    let events = [
        AgentEvent::UserMessage { text: evil.into() },
        AgentEvent::Text {
            text: evil.into(),
            delta: false,
        },
        AgentEvent::ToolCall {
            id: "1".into(),
            name: evil.into(),
            input: serde_json::json!({"command": evil}),
        },
        AgentEvent::Error {
            message: evil.into(),
        },
        AgentEvent::Raw { line: evil.into() },
        answered("deny", evil, &[(evil, evil)]),
    ];
    for ev in &events {
        for layout in [PANE, LOG] {
            for line in texts(ev, layout) {
                assert!(
                    !line.contains('\u{1b}') && !line.contains('\u{7}'),
                    "{ev:?}: {line:?}"
                );
            }
        }
    }
}

#[test]
fn streamed_paragraphs_split_anywhere_after_a_break_join_to_the_whole() {
    let text = "one\n\ntwo three\nfour";
    let whole: Vec<String> = paragraphs(text, Tone::Text)
        .iter()
        .map(Line::text)
        .collect();
    assert_eq!(whole, ["one", "", "two three", "four"]);
    for (i, _) in text.match_indices('\n') {
        let (a, b) = text.split_at(i + 1);
        let mut parts: Vec<String> = paragraphs(a, Tone::Text).iter().map(Line::text).collect();
        parts.extend(paragraphs(b, Tone::Text).iter().map(Line::text));
        assert_eq!(parts, whole, "split after byte {i}");
    }
}
