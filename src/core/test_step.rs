//! For core's own tests: `update` as the tests call it, returning the
//! effects, with what each step published kept per test thread and read
//! back with [`Published::drain_published`].
//!
//! Test-only (compiled under `cfg(test)`); production code gets the whole
//! [`super::Step`] from [`super::update`] and never keeps an outbox.

use std::cell::RefCell;

use super::event::AgentEvent;
use super::{Effect, Event, State, TaskId};

thread_local! {
    static PUBLISHED: RefCell<Vec<(TaskId, AgentEvent)>> = const { RefCell::new(Vec::new()) };
    static DELETED: RefCell<Vec<TaskId>> = const { RefCell::new(Vec::new()) };
}

/// One step; its published events and deletions are kept for the test.
pub fn update(state: &mut State, now_ms: u64, event: Event) -> Vec<Effect> {
    let step = super::update(state, now_ms, event);
    PUBLISHED.with(|p| p.borrow_mut().extend(step.published));
    DELETED.with(|d| d.borrow_mut().extend(step.deleted));
    step.effects
}

/// What this test's steps published and deleted since it last looked.
pub trait Published {
    fn drain_published(&mut self) -> Vec<(TaskId, AgentEvent)>;
    fn drain_deleted(&mut self) -> Vec<TaskId>;
}

impl Published for State {
    fn drain_published(&mut self) -> Vec<(TaskId, AgentEvent)> {
        PUBLISHED.with(|p| std::mem::take(&mut *p.borrow_mut()))
    }

    fn drain_deleted(&mut self) -> Vec<TaskId> {
        DELETED.with(|d| std::mem::take(&mut *d.borrow_mut()))
    }
}
