//! The question-file protocol for agents without a live channel (codex,
//! gemini, plain commands): the agent writes its question as JSON to the
//! file named by `CORRAL_QUESTION_FILE` and exits; corral shows the question
//! and resumes the session with the answer.
//!
//! Pure: the instruction text, parsing the file's content, wording the
//! answer. The runtime reads and removes the file.

use serde::Deserialize;

use crate::core::event::{Question, QuestionItem, QuestionKind, QuestionOption};

/// The environment variable naming the question file.
pub const ENV_VAR: &str = "CORRAL_QUESTION_FILE";

/// Largest question file corral reads.
pub const MAX_BYTES: u64 = 64 * 1024;

/// The prefix of question ids that came from a question file.
pub const ID_PREFIX: &str = "question-file:";

/// Appended to the prompt of agents that cannot ask live.
pub const INSTRUCTION: &str = "\n\n(If you need a decision from the user before you can go on, \
do not guess: write your question as JSON, {\"text\": \"your question?\", \"options\": \
[\"first choice\", \"second choice\"]} (options may be empty for a free answer), to the file \
named by the CORRAL_QUESTION_FILE environment variable, then stop and exit. You will be \
resumed with the answer.)";

#[derive(Deserialize)]
struct FileQuestion {
    #[serde(alias = "question")]
    text: String,
    #[serde(default)]
    options: Vec<FileOption>,
    #[serde(default, alias = "multiSelect")]
    multi_select: bool,
    #[serde(default)]
    header: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FileOption {
    Label(String),
    Full {
        label: String,
        #[serde(default)]
        description: Option<String>,
    },
}

/// Parses a question file's content into a question with id `id`.
pub fn parse(id: &str, content: &str) -> Result<Question, String> {
    let q: FileQuestion = serde_json::from_str(content.trim())
        .map_err(|e| format!("the agent's question file is not valid: {e}"))?;
    if q.text.trim().is_empty() {
        return Err("the agent's question file has an empty question".into());
    }
    Ok(Question {
        id: format!("{ID_PREFIX}{id}"),
        kind: QuestionKind::Question,
        tool: None,
        input: serde_json::Value::Null,
        tool_use_id: None,
        questions: vec![QuestionItem {
            question: q.text.trim().to_string(),
            header: q.header,
            options: q
                .options
                .into_iter()
                .map(|o| match o {
                    FileOption::Label(label) => QuestionOption {
                        label,
                        description: None,
                    },
                    FileOption::Full { label, description } => {
                        QuestionOption { label, description }
                    }
                })
                .filter(|o| !o.label.trim().is_empty())
                .collect(),
            multi_select: q.multi_select,
        }],
    })
}

/// True for questions that came from a question file.
pub fn is_file_question(q: &Question) -> bool {
    q.id.starts_with(ID_PREFIX)
}

/// The message that resumes an agent with the user's answers.
pub fn answer_message(answers: &[(String, String)]) -> String {
    answers
        .iter()
        .map(|(q, a)| format!("You asked: {q}\nThe user answered: {a}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_shape_parses() {
        let q = parse(
            "7",
            r#"{"text": "Which colour?", "options": ["Red", "Blue"]}"#,
        )
        .unwrap();
        assert_eq!(q.id, "question-file:7");
        assert!(is_file_question(&q));
        assert_eq!(q.kind, QuestionKind::Question);
        assert_eq!(q.questions[0].question, "Which colour?");
        let labels: Vec<_> = q.questions[0].options.iter().map(|o| &o.label).collect();
        assert_eq!(labels, ["Red", "Blue"]);
    }

    #[test]
    fn free_text_and_richer_options_parse() {
        let q = parse("1", r#"{"question": "Name?"}"#).unwrap();
        assert!(q.questions[0].options.is_empty());
        let q = parse(
            "2",
            r#"{"text":"Pick","options":[{"label":"A","description":"first"}],"multiSelect":true}"#,
        )
        .unwrap();
        assert_eq!(
            q.questions[0].options[0].description.as_deref(),
            Some("first")
        );
        assert!(q.questions[0].multi_select);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert!(parse("1", "not json").unwrap_err().contains("not valid"));
        assert!(
            parse("1", r#"{"text": "  "}"#)
                .unwrap_err()
                .contains("empty")
        );
        assert!(parse("1", r#"{"options": []}"#).is_err());
    }

    #[test]
    fn the_answer_quotes_the_question() {
        let msg = answer_message(&[("Which colour?".into(), "Blue".into())]);
        assert_eq!(msg, "You asked: Which colour?\nThe user answered: Blue");
    }
}
