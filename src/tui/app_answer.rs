//! The cockpit's answer box and follow-up line: the keys they take, the
//! `m` that opens them, and pasted text.
//!
//! Part of [`App`]: turns what the user typed into [`Intent`]s (an answer,
//! an approval, a follow-up) for the loop; the core decides what happens.
//! Changes only UI state; never does IO.

use super::*;

impl App {
    /// A key for the follow-up line or the answer box (the typing,
    /// approving and choosing modes); `None` for the other actions.
    pub(super) fn act_answer(&mut self, action: &Action, state: &State) -> Option<Vec<Intent>> {
        let Action::BoxKey(key) = action else {
            return None;
        };
        let key = *key;
        if let Some(c) = self.compose.as_mut() {
            match c.key(key) {
                Some(Some(text)) => {
                    let task = c.task;
                    if state
                        .task(task)
                        .is_some_and(|t| t.pending_question.is_some())
                    {
                        // A question came in meanwhile: the text
                        // stays, the question is answered first.
                        self.notice = Some(format!(
                            "#{task} now waits for your answer: Esc, answer it, then m"
                        ));
                        c.text.insert_str(text);
                        return Some(vec![]);
                    }
                    self.compose = None;
                    return Some(vec![Intent::FollowUp(task, text)]);
                }
                Some(None) => self.compose = None,
                None => {}
            }
        } else if let Some(b) = self.answer.as_mut() {
            let task = b.task;
            match b.key(key) {
                Outcome::Pending => {}
                Outcome::Defer => {
                    self.deferred.insert(b.question.id.clone());
                    self.answer = None;
                }
                Outcome::AllowAlways => {
                    self.answer = None;
                    return Some(vec![Intent::AllowAlways(task)]);
                }
                Outcome::Answer(answer) => {
                    self.answer = None;
                    return Some(vec![Intent::Answer(task, answer)]);
                }
            }
        }
        Some(vec![])
    }

    /// `m`: a message for the selected task. A task waiting on a question
    /// gets it as the reply (a deny message, an own answer); one that
    /// cannot take a message now says why instead of dropping it.
    pub(super) fn compose_for(&mut self, state: &State) {
        let Some(t) = self.selected.and_then(|id| state.task(id)) else {
            return;
        };
        if let Some(q) = &t.pending_question {
            self.deferred.remove(&q.id);
            self.sync_answer(state);
            if let Some(b) = self.answer.as_mut() {
                b.reply();
            }
            return;
        }
        let busy_elsewhere = t.process_alive
            && !t.status.is_final()
            && !(t.stdin_open && t.spec.wire().is_live())
            && t.spec.agent != AgentKind::Command;
        self.notice = match t.status {
            TaskStatus::Queued => Some(format!(
                "#{} has not started yet: message it once it runs",
                t.id
            )),
            _ if busy_elsewhere => Some(format!(
                "#{} ({}) takes a message when its turn ends",
                t.id,
                t.spec.agent.name()
            )),
            _ => {
                self.compose = Some(Compose::new(t.id));
                None
            }
        };
    }

    /// Pasted text (bracketed paste) for the form or the search prompt.
    pub fn paste(&mut self, text: &str) {
        if let Some(c) = self.compose.as_mut() {
            c.text.insert_str(text);
            return;
        }
        if matches!(self.overlay, Overlay::None)
            && let Some(b) = self.answer.as_mut()
        {
            b.paste(text);
            return;
        }
        match &mut self.overlay {
            Overlay::Form(f) => f.paste(text),
            Overlay::Search(q) => q.push_str(&text.replace(['\n', '\r'], " ")),
            _ => {}
        }
    }
}
