//! Timers for `core`: `Effect::Timer` becomes `Event::TimerFired` after the
//! delay. One tokio sleep per timer; nothing polls.
//!
//! Never decides anything (a stale timer is `core`'s to ignore) and never
//! blocks the caller.

use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::task::AbortHandle;

use crate::core::{Event, TaskId, TimerKind};

/// Starts a timer on the current tokio runtime; `None` outside one.
pub(crate) fn start(
    events: Sender<Event>,
    task: TaskId,
    after_ms: u64,
    kind: TimerKind,
) -> Option<AbortHandle> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    let join = handle.spawn(async move {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        let _ = events.send(Event::TimerFired { task, kind }).await;
    });
    Some(join.abort_handle())
}
