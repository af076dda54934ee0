//! Sample questions for unit tests of every front end that shows or
//! answers one (the describer, the cockpit's answer box, the asker of
//! `corral run`). Test-only; pure data.

use serde_json::json;

use crate::core::event::{Question, QuestionItem, QuestionKind, QuestionOption};

/// Claude asks to run `touch marker` with Bash.
pub fn approval() -> Question {
    Question {
        id: "r1".into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: json!({"command": "touch marker"}),
        tool_use_id: None,
        questions: vec![],
    }
}

/// Two questions in one request: a colour among three options (several
/// when `multi`), then a name typed freely.
pub fn questions(multi: bool) -> Question {
    Question {
        id: "r2".into(),
        kind: QuestionKind::Question,
        tool: Some("AskUserQuestion".into()),
        input: json!({}),
        tool_use_id: None,
        questions: vec![
            QuestionItem {
                question: "Which colour?".into(),
                header: Some("Colour".into()),
                options: ["Red", "Blue", "Green"]
                    .iter()
                    .map(|l| QuestionOption {
                        label: l.to_string(),
                        description: None,
                    })
                    .collect(),
                multi_select: multi,
            },
            QuestionItem {
                question: "Name?".into(),
                header: None,
                options: vec![],
                multi_select: false,
            },
        ],
    }
}
