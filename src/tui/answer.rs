//! Answering a blocked agent inside the cockpit: the approval choice
//! (allow once, allow always, deny with a message) and the question picker
//! (options as a list, multi-select, or a free-text answer), one question
//! after another; and the follow-up line.
//!
//! Pure: keys in, a finished decision out. Drawing is `view::answer`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::agent::Answer;
use crate::core::TaskId;
use crate::core::event::{Question, QuestionKind};

/// Where the answer box is in its conversation with the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Waiting for y / a / n.
    Approve,
    /// Denied: typing an optional message for the agent.
    DenyMessage,
    /// Picking among the options of question `index`.
    Pick {
        index: usize,
        cursor: usize,
        chosen: Vec<bool>,
    },
    /// Typing a free answer to question `index`.
    FreeText { index: usize },
}

/// What a key did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to send yet.
    Pending,
    /// Answer the question.
    Answer(Answer),
    /// Allow this tool for the rest of the task.
    AllowAlways,
    /// The user put the question aside (Esc); the task stays blocked.
    Defer,
}

/// The answer box of one blocked task.
#[derive(Debug, Clone)]
pub struct AnswerBox {
    pub task: TaskId,
    pub question: Question,
    pub step: Step,
    /// The text being typed (deny message or free answer).
    pub text: TextArea<'static>,
    answers: Vec<(String, String)>,
}

impl AnswerBox {
    /// A box for `question` of `task`.
    pub fn new(task: TaskId, question: Question) -> AnswerBox {
        let step = match question.kind {
            QuestionKind::Approval => Step::Approve,
            QuestionKind::Question => pick_or_type(&question, 0),
        };
        AnswerBox {
            task,
            question,
            step,
            text: field(""),
            answers: Vec::new(),
        }
    }

    /// Which question (of several) is being answered, counting from 0.
    pub fn index(&self) -> usize {
        match self.step {
            Step::Pick { index, .. } | Step::FreeText { index } => index,
            _ => 0,
        }
    }

    /// Handles one key.
    pub fn key(&mut self, key: KeyEvent) -> Outcome {
        match self.step.clone() {
            Step::Approve => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => Outcome::Answer(Answer::Allow {
                    updated_input: None,
                }),
                KeyCode::Char('a') | KeyCode::Char('A') => Outcome::AllowAlways,
                KeyCode::Char('n') | KeyCode::Char('N') => {
                    self.step = Step::DenyMessage;
                    self.text = field("why not, or what to do instead (optional)");
                    Outcome::Pending
                }
                KeyCode::Esc => Outcome::Defer,
                _ => Outcome::Pending,
            },
            Step::DenyMessage => match key.code {
                KeyCode::Enter if !alt(&key) => {
                    let typed = self.typed();
                    Outcome::Answer(Answer::Deny {
                        message: if typed.is_empty() {
                            "The user denied this tool use.".into()
                        } else {
                            typed
                        },
                    })
                }
                KeyCode::Esc => {
                    self.step = Step::Approve;
                    Outcome::Pending
                }
                _ => {
                    self.text.input(newline_for_alt_enter(key));
                    Outcome::Pending
                }
            },
            Step::Pick {
                index,
                cursor,
                mut chosen,
            } => {
                let options = self.options(index);
                let multi = self.multi(index);
                // The last row is "type your own answer".
                let rows = options.len() + 1;
                match key.code {
                    KeyCode::Up | KeyCode::Char('k') => {
                        self.step = Step::Pick {
                            index,
                            cursor: cursor.checked_sub(1).unwrap_or(rows - 1),
                            chosen,
                        };
                        Outcome::Pending
                    }
                    KeyCode::Down | KeyCode::Char('j') => {
                        self.step = Step::Pick {
                            index,
                            cursor: (cursor + 1) % rows,
                            chosen,
                        };
                        Outcome::Pending
                    }
                    KeyCode::Char(' ') if multi && cursor < options.len() => {
                        chosen[cursor] = !chosen[cursor];
                        self.step = Step::Pick {
                            index,
                            cursor,
                            chosen,
                        };
                        Outcome::Pending
                    }
                    KeyCode::Char(c @ '1'..='9') => {
                        let n = c as usize - '1' as usize;
                        match options.get(n) {
                            // In a multi-select a digit toggles its option.
                            Some(_) if multi => {
                                chosen[n] = !chosen[n];
                                self.step = Step::Pick {
                                    index,
                                    cursor: n,
                                    chosen,
                                };
                                Outcome::Pending
                            }
                            Some(label) => self.record(index, label.clone()),
                            None => Outcome::Pending,
                        }
                    }
                    KeyCode::Tab => {
                        self.step = Step::FreeText { index };
                        self.text = field("your answer");
                        Outcome::Pending
                    }
                    KeyCode::Enter if cursor == options.len() => {
                        self.step = Step::FreeText { index };
                        self.text = field("your answer");
                        Outcome::Pending
                    }
                    KeyCode::Enter => {
                        let picked: Vec<String> = if multi && chosen.iter().any(|c| *c) {
                            options
                                .iter()
                                .zip(&chosen)
                                .filter(|(_, c)| **c)
                                .map(|(l, _)| l.clone())
                                .collect()
                        } else {
                            options.get(cursor).cloned().into_iter().collect()
                        };
                        self.record(index, picked.join(", "))
                    }
                    KeyCode::Esc => Outcome::Defer,
                    _ => Outcome::Pending,
                }
            }
            Step::FreeText { index } => match key.code {
                KeyCode::Enter if !alt(&key) => {
                    let typed = self.typed();
                    if typed.is_empty() {
                        Outcome::Pending
                    } else {
                        self.record(index, typed)
                    }
                }
                KeyCode::Esc if self.options(index).is_empty() => Outcome::Defer,
                KeyCode::Esc => {
                    self.step = pick_or_type(&self.question, index);
                    Outcome::Pending
                }
                _ => {
                    self.text.input(newline_for_alt_enter(key));
                    Outcome::Pending
                }
            },
        }
    }

    /// Whether the user is typing text (a deny message or an own answer):
    /// then every key is text.
    pub fn is_typing(&self) -> bool {
        matches!(self.step, Step::DenyMessage | Step::FreeText { .. })
    }

    /// Starts typing a reply instead of choosing: for an approval a deny
    /// message (the agent reads it instead of running the tool), for a
    /// question an own answer to the current question.
    pub fn reply(&mut self) {
        if self.is_typing() {
            return;
        }
        let (step, placeholder) = match self.step {
            Step::Approve => (
                Step::DenyMessage,
                "what the agent should do instead of running it",
            ),
            _ => (
                Step::FreeText {
                    index: self.index(),
                },
                "your answer",
            ),
        };
        self.step = step;
        self.text = field(placeholder);
    }

    /// The questions answered so far in this request, with their answers.
    pub fn answered(&self) -> &[(String, String)] {
        &self.answers
    }

    /// Pasted text goes into the text being typed.
    pub fn paste(&mut self, text: &str) {
        if matches!(self.step, Step::DenyMessage | Step::FreeText { .. }) {
            self.text.insert_str(text);
        }
    }

    /// The labels of question `index`.
    pub fn options(&self, index: usize) -> Vec<String> {
        self.question
            .questions
            .get(index)
            .map(|q| q.options.iter().map(|o| o.label.clone()).collect())
            .unwrap_or_default()
    }

    fn multi(&self, index: usize) -> bool {
        self.question
            .questions
            .get(index)
            .is_some_and(|q| q.multi_select)
    }

    fn typed(&self) -> String {
        self.text.lines().join("\n").trim().to_string()
    }

    /// Records the answer to question `index` and moves to the next one,
    /// or finishes.
    fn record(&mut self, index: usize, answer: String) -> Outcome {
        let question = self
            .question
            .questions
            .get(index)
            .map(|q| q.question.clone())
            .unwrap_or_default();
        self.answers.push((question, answer));
        if index + 1 < self.question.questions.len() {
            self.step = pick_or_type(&self.question, index + 1);
            self.text = field("your answer");
            Outcome::Pending
        } else {
            Outcome::Answer(Answer::Answer {
                answers: std::mem::take(&mut self.answers),
            })
        }
    }
}

/// An empty text field with a hint shown while it is empty.
fn field(placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(ratatui::style::Style::new());
    if !placeholder.is_empty() {
        t.set_placeholder_text(placeholder);
    }
    t
}

fn pick_or_type(q: &Question, index: usize) -> Step {
    match q.questions.get(index) {
        Some(item) if !item.options.is_empty() => Step::Pick {
            index,
            cursor: 0,
            chosen: vec![false; item.options.len()],
        },
        _ => Step::FreeText { index },
    }
}

fn alt(key: &KeyEvent) -> bool {
    key.modifiers
        .intersects(KeyModifiers::ALT | KeyModifiers::SHIFT)
}

/// Alt-Enter, Shift-Enter (where the terminal reports it) and Ctrl-J
/// type a newline into the text.
fn newline_for_alt_enter(key: KeyEvent) -> KeyEvent {
    let ctrl_j = key.code == KeyCode::Char('j') && key.modifiers.contains(KeyModifiers::CONTROL);
    if key.code == KeyCode::Enter || ctrl_j {
        KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)
    } else {
        key
    }
}

/// The follow-up line: the user's next message to a task.
#[derive(Debug, Clone)]
pub struct Compose {
    pub task: TaskId,
    pub text: TextArea<'static>,
}

impl Compose {
    /// An empty message for `task`.
    pub fn new(task: TaskId) -> Compose {
        Compose {
            task,
            text: field("your next message to the agent"),
        }
    }

    /// Handles one key: `Some(Some(text))` sends, `Some(None)` cancels.
    pub fn key(&mut self, key: KeyEvent) -> Option<Option<String>> {
        match key.code {
            KeyCode::Enter if !alt(&key) => {
                let text = self.text.lines().join("\n").trim().to_string();
                if text.is_empty() {
                    None
                } else {
                    Some(Some(text))
                }
            }
            KeyCode::Esc => Some(None),
            _ => {
                self.text.input(newline_for_alt_enter(key));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::describe::samples::{approval, questions};

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(b: &mut AnswerBox, text: &str) {
        for c in text.chars() {
            assert_eq!(b.key(k(KeyCode::Char(c))), Outcome::Pending);
        }
    }

    #[test]
    fn approval_keys() {
        let allow = Outcome::Answer(Answer::Allow {
            updated_input: None,
        });
        assert_eq!(
            AnswerBox::new(1, approval()).key(k(KeyCode::Char('y'))),
            allow
        );
        assert_eq!(
            AnswerBox::new(1, approval()).key(k(KeyCode::Char('a'))),
            Outcome::AllowAlways
        );
        assert_eq!(
            AnswerBox::new(1, approval()).key(k(KeyCode::Esc)),
            Outcome::Defer
        );
    }

    #[test]
    fn deny_with_a_message_or_without() {
        let mut b = AnswerBox::new(1, approval());
        assert_eq!(b.key(k(KeyCode::Char('n'))), Outcome::Pending);
        assert_eq!(b.step, Step::DenyMessage);
        typed(&mut b, "use /tmp");
        assert_eq!(
            b.key(k(KeyCode::Enter)),
            Outcome::Answer(Answer::Deny {
                message: "use /tmp".into()
            })
        );
        let mut b = AnswerBox::new(1, approval());
        b.key(k(KeyCode::Char('n')));
        assert!(matches!(
            b.key(k(KeyCode::Enter)),
            Outcome::Answer(Answer::Deny { message }) if message.contains("denied")
        ));
    }

    #[test]
    fn pick_then_type_answers_both_questions_in_one_answer() {
        let mut b = AnswerBox::new(1, questions(false));
        b.key(k(KeyCode::Down));
        assert_eq!(b.key(k(KeyCode::Enter)), Outcome::Pending, "next question");
        assert_eq!(b.step, Step::FreeText { index: 1 });
        typed(&mut b, "Widget");
        assert_eq!(
            b.key(k(KeyCode::Enter)),
            Outcome::Answer(Answer::Answer {
                answers: vec![
                    ("Which colour?".into(), "Blue".into()),
                    ("Name?".into(), "Widget".into())
                ]
            })
        );
    }

    #[test]
    fn multi_select_toggles_with_space_and_the_cursor_wraps() {
        let mut b = AnswerBox::new(1, questions(true));
        b.key(k(KeyCode::Char(' ')));
        b.key(k(KeyCode::Up)); // wraps to "type your own"
        b.key(k(KeyCode::Up)); // Green
        b.key(k(KeyCode::Char(' ')));
        b.key(k(KeyCode::Enter));
        typed(&mut b, "x");
        let Outcome::Answer(Answer::Answer { answers }) = b.key(k(KeyCode::Enter)) else {
            panic!("answered");
        };
        assert_eq!(answers[0].1, "Red, Green");
    }

    #[test]
    fn the_last_row_and_tab_type_an_own_answer_and_esc_goes_back() {
        let mut b = AnswerBox::new(1, questions(false));
        for _ in 0..3 {
            b.key(k(KeyCode::Down));
        }
        b.key(k(KeyCode::Enter));
        assert_eq!(b.step, Step::FreeText { index: 0 });
        b.key(k(KeyCode::Esc));
        assert!(matches!(b.step, Step::Pick { index: 0, .. }));
        b.key(k(KeyCode::Tab));
        typed(&mut b, "Teal");
        assert_eq!(b.key(k(KeyCode::Enter)), Outcome::Pending);
        assert_eq!(b.answers, vec![("Which colour?".into(), "Teal".into())]);
    }

    #[test]
    fn digits_pick_at_once_or_toggle_in_a_multi_select() {
        let mut b = AnswerBox::new(1, questions(false));
        assert_eq!(b.key(k(KeyCode::Char('3'))), Outcome::Pending);
        assert_eq!(b.answered(), [("Which colour?".into(), "Green".into())]);
        let mut b = AnswerBox::new(1, questions(true));
        b.key(k(KeyCode::Char('3')));
        b.key(k(KeyCode::Char('1')));
        b.key(k(KeyCode::Char('3')));
        b.key(k(KeyCode::Char('9')));
        assert_eq!(b.key(k(KeyCode::Enter)), Outcome::Pending);
        assert_eq!(b.answered(), [("Which colour?".into(), "Red".into())]);
    }

    #[test]
    fn reply_types_a_deny_message_or_an_own_answer() {
        let mut b = AnswerBox::new(1, approval());
        b.reply();
        assert!(b.is_typing());
        typed(&mut b, "ask me later");
        assert_eq!(
            b.key(k(KeyCode::Enter)),
            Outcome::Answer(Answer::Deny {
                message: "ask me later".into()
            })
        );
        let mut b = AnswerBox::new(1, questions(false));
        b.reply();
        assert_eq!(b.step, Step::FreeText { index: 0 });
    }

    #[test]
    fn compose_sends_on_enter_and_cancels_on_esc() {
        let mut c = Compose::new(4);
        assert_eq!(c.key(k(KeyCode::Enter)), None, "nothing to send yet");
        for ch in "more tests".chars() {
            c.key(k(KeyCode::Char(ch)));
        }
        assert_eq!(c.key(k(KeyCode::Enter)), Some(Some("more tests".into())));
        assert_eq!(Compose::new(4).key(k(KeyCode::Esc)), Some(None));
    }
}
