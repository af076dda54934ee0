//! Asking the person at the terminal during `corral run`: a line-based
//! prompt for tool approvals and questions, with the same choices as the
//! TUI (allow once, allow always, deny with a message; pick options or
//! type an answer).
//!
//! Pure: a small state machine fed one input line at a time; the run loop
//! prints its prompts and reads the lines. An approval is worded by the
//! describer, as in the transcript; this adds only the choices.

use crate::agent::Answer;
use crate::core::event::{Question, QuestionKind};
use crate::describe::{self, printer::paint};
use crate::present::safe_text;

/// Widest gist of the tool input an approval prompt shows.
const GIST_CHARS: usize = 200;

/// What the person decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer the question.
    Answer(Answer),
    /// Allow this tool for the rest of the task.
    AllowAlways,
}

/// One conversation at the terminal about one question.
#[derive(Debug)]
pub struct Asker {
    question: Question,
    step: Step,
    answers: Vec<(String, String)>,
}

#[derive(Debug, PartialEq)]
enum Step {
    /// Waiting for y / a / n.
    Approve,
    /// Denied: waiting for an optional message.
    DenyMessage,
    /// Waiting for the answer to question number `n`.
    Question(usize),
}

impl Asker {
    /// Starts asking about `question`.
    pub fn new(question: Question) -> Asker {
        let step = match question.kind {
            QuestionKind::Approval => Step::Approve,
            QuestionKind::Question => Step::Question(0),
        };
        Asker {
            question,
            step,
            answers: Vec::new(),
        }
    }

    /// The id of the question being asked.
    pub fn question_id(&self) -> &str {
        &self.question.id
    }

    /// The text to show before reading the next line.
    pub fn prompt(&self) -> String {
        match self.step {
            Step::Approve => format!(
                "{}\n  [y] allow once  [a] allow always for this task  [n] deny > ",
                paint(&describe::question(&self.question, GIST_CHARS), false)
            ),
            Step::DenyMessage => "  message for the agent (Enter for none) > ".into(),
            Step::Question(n) => {
                let Some(item) = self.question.questions.get(n) else {
                    return "> ".into();
                };
                let mut text = String::from("? ");
                if let Some(header) = &item.header {
                    text.push_str(&format!("[{}] ", safe_text(header)));
                }
                text.push_str(&safe_text(&item.question));
                text.push('\n');
                for (i, option) in item.options.iter().enumerate() {
                    text.push_str(&format!("  {}) {}", i + 1, safe_text(&option.label)));
                    if let Some(d) = &option.description {
                        text.push_str(&format!(" — {}", safe_text(d)));
                    }
                    text.push('\n');
                }
                text.push_str(match (item.options.is_empty(), item.multi_select) {
                    (true, _) => "  your answer > ",
                    (false, false) => "  a number, or type your own answer > ",
                    (false, true) => "  numbers separated by commas, or type your own answer > ",
                });
                text
            }
        }
    }

    /// Feeds one line; returns the decision once it is complete, or a
    /// short complaint to show before asking again.
    pub fn feed(&mut self, line: &str) -> Result<Option<Decision>, String> {
        let line = line.trim();
        match self.step {
            Step::Approve => match line.to_ascii_lowercase().as_str() {
                "y" | "yes" => Ok(Some(Decision::Answer(Answer::Allow {
                    updated_input: None,
                }))),
                "a" | "always" => Ok(Some(Decision::AllowAlways)),
                "n" | "no" => {
                    self.step = Step::DenyMessage;
                    Ok(None)
                }
                _ => Err("type y, a or n".into()),
            },
            Step::DenyMessage => Ok(Some(Decision::Answer(Answer::Deny {
                message: if line.is_empty() {
                    "The user denied this tool use.".into()
                } else {
                    line.to_string()
                },
            }))),
            Step::Question(n) => {
                let Some(item) = self.question.questions.get(n) else {
                    return Ok(Some(self.finish()));
                };
                if line.is_empty() {
                    return Err("an answer is needed (or press Ctrl-C to stop the agent)".into());
                }
                let answer = pick(
                    line,
                    item.options.iter().map(|o| o.label.as_str()).collect(),
                    item.multi_select,
                )
                .unwrap_or_else(|| line.to_string());
                self.answers.push((item.question.clone(), answer));
                if n + 1 < self.question.questions.len() {
                    self.step = Step::Question(n + 1);
                    Ok(None)
                } else {
                    Ok(Some(self.finish()))
                }
            }
        }
    }

    fn finish(&mut self) -> Decision {
        Decision::Answer(Answer::Answer {
            answers: std::mem::take(&mut self.answers),
        })
    }
}

/// The labels chosen by `line` when it is option numbers, else `None`.
fn pick(line: &str, labels: Vec<&str>, multi: bool) -> Option<String> {
    let numbers: Option<Vec<usize>> = line
        .split(',')
        .map(|n| n.trim().parse::<usize>().ok())
        .collect();
    let numbers = numbers?;
    if numbers.is_empty() || (!multi && numbers.len() > 1) {
        return None;
    }
    let chosen: Option<Vec<&str>> = numbers
        .iter()
        .map(|n| n.checked_sub(1).and_then(|i| labels.get(i).copied()))
        .collect();
    chosen.map(|c| c.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::samples::{approval, questions};

    #[test]
    fn approval_choices() {
        let mut a = Asker::new(approval());
        assert!(a.prompt().contains("Bash wants to run: touch marker"));
        assert!(a.feed("maybe").is_err());
        assert_eq!(
            a.feed("y"),
            Ok(Some(Decision::Answer(Answer::Allow {
                updated_input: None
            })))
        );
        assert_eq!(
            Asker::new(approval()).feed("A"),
            Ok(Some(Decision::AllowAlways))
        );
    }

    #[test]
    fn deny_takes_an_optional_message() {
        let mut a = Asker::new(approval());
        assert_eq!(a.feed("n"), Ok(None));
        assert!(a.prompt().contains("message for the agent"));
        assert_eq!(
            a.feed("use a temp dir"),
            Ok(Some(Decision::Answer(Answer::Deny {
                message: "use a temp dir".into()
            })))
        );
    }

    #[test]
    fn questions_are_answered_one_after_another() {
        let mut a = Asker::new(questions(false));
        assert!(
            a.prompt()
                .contains("[Colour] Which colour?\n  1) Red\n  2) Blue")
        );
        assert_eq!(a.feed("2"), Ok(None));
        assert!(a.prompt().contains("Name?"));
        assert!(a.feed("").is_err());
        assert_eq!(
            a.feed("Widget 9000"),
            Ok(Some(Decision::Answer(Answer::Answer {
                answers: vec![
                    ("Which colour?".into(), "Blue".into()),
                    ("Name?".into(), "Widget 9000".into())
                ]
            })))
        );
    }

    #[test]
    fn multi_select_takes_several_numbers_and_free_text_wins_otherwise() {
        let mut a = Asker::new(questions(true));
        a.feed("1, 2").unwrap();
        let Ok(Some(Decision::Answer(Answer::Answer { answers }))) = a.feed("x") else {
            panic!()
        };
        assert_eq!(answers[0].1, "Red, Blue");
        let mut a = Asker::new(questions(false));
        a.feed("1,2").unwrap();
        let Ok(Some(Decision::Answer(Answer::Answer { answers }))) = a.feed("x") else {
            panic!()
        };
        assert_eq!(
            answers[0].1, "1,2",
            "two numbers for a single choice are text"
        );
        assert_eq!(pick("7", vec!["a"], false), None, "out of range is text");
    }
}
