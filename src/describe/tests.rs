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

fn plan_event() -> AgentEvent {
    use crate::core::event::PlanItem;
    let mut writing = PlanItem::new("Write the fix", "in_progress");
    writing.active_form = Some("Writing the fix".into());
    AgentEvent::Plan {
        items: vec![
            PlanItem::new("Read the code", "completed"),
            writing,
            PlanItem::new("Run the tests", "pending"),
        ],
        explanation: None,
    }
}

#[test]
fn a_plan_is_one_line_in_a_transcript_and_its_steps_in_the_plan_box() {
    assert_eq!(
        texts(&plan_event(), PANE),
        ["☰ plan 1/3 · on: Write the fix"]
    );
    let AgentEvent::Plan { items, .. } = plan_event() else {
        unreachable!()
    };
    let whole: Vec<String> = insight::plan_lines(&items).iter().map(Line::text).collect();
    assert_eq!(
        whole,
        [
            "  ✓ Read the code",
            "  ▸ Write the fix",
            "  ○ Run the tests"
        ]
    );
    assert_eq!(
        texts(&plan_event(), LOG),
        ["☰ plan 1/3 · on: Write the fix"]
    );
    let AgentEvent::Plan { items, .. } = plan_event() else {
        unreachable!()
    };
    assert_eq!(insight::plan_summary(&items, 80), "1/3 Writing the fix");
    assert_eq!(insight::plan_summary(&items, 8), "1/3 Wri…");
}

#[test]
fn subagent_lines_are_marked_and_its_state_is_one_gist() {
    let nested = AgentEvent::Subagent {
        parent_tool_id: "toolu_1".into(),
        event: Box::new(AgentEvent::ToolCall {
            id: "toolu_2".into(),
            name: "Bash".into(),
            input: serde_json::json!({"command": "echo hi"}),
        }),
    };
    assert_eq!(texts(&nested, LOG), ["  ┆ → Bash echo hi"]);
    let status = crate::core::event::SubagentStatus {
        parent_tool_id: "toolu_1".into(),
        state: "running".into(),
        description: Some("Count the files".into()),
        last_tool: Some("Bash".into()),
        total_tokens: Some(1_500),
        tool_uses: Some(2),
        ..Default::default()
    };
    assert_eq!(
        insight::subagent_gist(&status),
        "Count the files: on Bash · 2 tool uses · 1500 tokens"
    );
}

#[test]
fn mcp_web_hooks_compaction_and_refusals_name_what_happened() {
    let mcp = AgentEvent::McpCall {
        id: "1".into(),
        server: "adder".into(),
        tool: "add".into(),
        input: serde_json::json!({"a": 2}),
    };
    assert_eq!(texts(&mcp, LOG), ["→ adder › add {\"a\":2}"]);
    // Its approval names it the same way (claude's and codex's alike).
    let asked = AgentEvent::Question(Question {
        id: "q".into(),
        kind: QuestionKind::Approval,
        tool: Some("mcp__adder__add".into()),
        input: serde_json::json!({"a": 2}),
        tool_use_id: Some("1".into()),
        questions: Vec::new(),
    });
    assert_eq!(
        texts(&asked, LOG),
        ["? adder › add wants to run: {\"a\":2}"]
    );
    let search = AgentEvent::WebSearch {
        id: "2".into(),
        query: "rust tui".into(),
    };
    assert_eq!(texts(&search, PANE), ["→ web search rust tui"]);
    let hook = AgentEvent::Hook {
        name: "PreToolUse:Bash".into(),
        event: Some("PreToolUse".into()),
        outcome: Some("success".into()),
        exit_code: Some(0),
        output: Some("pre-hook-ran\n".into()),
    };
    assert_eq!(
        texts(&hook, LOG),
        ["⚓ hook PreToolUse:Bash: success · pre-hook-ran"]
    );
    let compacted = AgentEvent::Compaction {
        trigger: Some("manual".into()),
        tokens_before: Some(46_000),
        tokens_after: Some(2_550),
        error: None,
    };
    assert_eq!(
        texts(&compacted, LOG),
        ["⇣ conversation compacted (manual): 46.0k → 2550 tokens"]
    );
    let denied = AgentEvent::PermissionDenied {
        tool: "Bash".into(),
        tool_use_id: None,
        message: Some("touch needs approval".into()),
    };
    assert_eq!(
        texts(&denied, LOG),
        ["  ! not permitted: Bash: touch needs approval"]
    );
}

#[test]
fn an_approval_shows_bidi_and_zero_width_characters_as_placeholders() {
    let mut q = approval();
    // Reads as `ls #txt.sh` in a bidi terminal; runs `rm -rf ~`.
    q.input = serde_json::json!({"command": "ls #\u{202e}hs.txt\u{2066} rm\u{200b} -rf ~"});
    let words: Vec<String> = question(&q, 160).iter().map(Line::text).collect();
    assert_eq!(
        words,
        ["? Bash wants to run: ls #⟨U+202E⟩hs.txt⟨U+2066⟩ rm⟨U+200B⟩ -rf ~"]
    );
}
