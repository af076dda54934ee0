//! A task's conversation as a bounded window of canonical events.
//!
//! Streaming deltas are merged into the entry they continue, so a long
//! answer is one entry, not thousands. When the window is full the oldest
//! entries are dropped and counted, so a view can say how much is gone.

use std::collections::VecDeque;

use super::event::AgentEvent;

/// Default number of entries kept in memory per task.
pub const DEFAULT_TRANSCRIPT_CAP: usize = 2_000;

/// Largest merged text entry; a longer stream starts a new entry.
const MAX_MERGED_TEXT: usize = 64 * 1024;

/// The bounded event window of one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    entries: VecDeque<AgentEvent>,
    cap: usize,
    dropped: u64,
    /// Bumped on every change, so views can cache their layout.
    revision: u64,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::with_cap(DEFAULT_TRANSCRIPT_CAP)
    }
}

impl Transcript {
    /// An empty transcript keeping at most `cap` entries.
    pub fn with_cap(cap: usize) -> Transcript {
        Transcript {
            entries: VecDeque::new(),
            cap: cap.max(1),
            dropped: 0,
            revision: 0,
        }
    }

    /// Adds an event, merging a text or thinking delta into the entry it
    /// continues; a plan right after a plan replaces it.
    pub fn push(&mut self, event: AgentEvent) {
        self.revision += 1;
        if let Some(last) = self.entries.back_mut() {
            match (last, &event) {
                (
                    AgentEvent::Text { text, delta: true },
                    AgentEvent::Text {
                        text: more,
                        delta: true,
                    },
                )
                | (
                    AgentEvent::Thinking { text, delta: true },
                    AgentEvent::Thinking {
                        text: more,
                        delta: true,
                    },
                ) if text.len() < MAX_MERGED_TEXT => {
                    text.push_str(more);
                    return;
                }
                // A plan is whole: one right after another replaces it.
                (last @ AgentEvent::Plan { .. }, AgentEvent::Plan { .. }) => {
                    *last = event;
                    return;
                }
                _ => {}
            }
        }
        if self.entries.len() == self.cap {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(event);
    }

    /// Puts `earlier` (events from before everything in the window: a
    /// stored transcript read when its task is opened) in front, keeping
    /// the cap; the revision still moves forward.
    pub fn prepend(&mut self, earlier: Vec<AgentEvent>) {
        let later = std::mem::take(&mut self.entries);
        let (revision, dropped) = (self.revision, self.dropped);
        self.dropped = 0;
        for event in earlier.into_iter().chain(later) {
            self.push(event);
        }
        self.dropped += dropped;
        self.revision = self.revision.max(revision) + 1;
    }

    /// Replaces everything with `entries`, after `dropped` earlier ones
    /// left out (a whole transcript from elsewhere: a server's, for a
    /// mirror); the revision still moves forward.
    pub fn replace(&mut self, entries: Vec<AgentEvent>, dropped: u64) {
        let revision = self.revision;
        *self = Transcript::with_cap(self.cap);
        for event in entries {
            self.push(event);
        }
        self.dropped += dropped;
        self.revision = self.revision.max(revision) + 1;
    }

    /// The entries in order, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &AgentEvent> + ExactSizeIterator {
        self.entries.iter()
    }

    /// How many entries were dropped from the front.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Changes whenever the content changes.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(t: &str) -> AgentEvent {
        AgentEvent::Text {
            text: t.into(),
            delta: true,
        }
    }

    #[test]
    fn deltas_merge_into_one_entry() {
        let mut t = Transcript::default();
        t.push(delta("Hel"));
        t.push(delta("lo"));
        assert_eq!(t.len(), 1);
        assert_eq!(t.entries().next(), Some(&delta("Hello")));
    }

    #[test]
    fn a_stored_transcript_goes_in_front_within_the_cap() {
        let raw = |line: &str| AgentEvent::Raw { line: line.into() };
        let mut t = Transcript::with_cap(3);
        t.push(raw("follow-up"));
        let before = t.revision();
        t.prepend(vec![raw("old 1"), raw("old 2"), raw("old 3")]);
        let lines: Vec<_> = t.entries().cloned().collect();
        assert_eq!(lines, vec![raw("old 2"), raw("old 3"), raw("follow-up")]);
        assert_eq!(t.dropped(), 1);
        assert!(t.revision() > before, "views see the change");
    }

    #[test]
    fn a_tool_call_ends_the_merge() {
        let mut t = Transcript::default();
        t.push(delta("a"));
        t.push(AgentEvent::Error {
            message: "x".into(),
        });
        t.push(delta("b"));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn window_is_bounded_and_counts_what_it_dropped() {
        let mut t = Transcript::with_cap(3);
        for i in 0..10 {
            t.push(AgentEvent::Raw {
                line: i.to_string(),
            });
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.dropped(), 7);
        assert_eq!(
            t.entries().next(),
            Some(&AgentEvent::Raw { line: "7".into() })
        );
    }
}
