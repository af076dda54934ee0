//! What the pane knows of a task's subagents, so their work shows nested
//! under the tool call that started them (folded to a live one-line gist,
//! or in full when that call is expanded), never among the parent's lines.
//!
//! Pure bookkeeping over transcript entries: no IO, no drawing. Bounded by
//! the transcript window: entries that leave it are forgotten here too.

use std::collections::HashMap;

use crate::core::event::{AgentEvent, SubagentStatus};
use crate::describe::insight::subagent_gist;
use crate::present::{safe_text, tool_gist};

/// Tool names that start a subagent (claude's Task, renamed Agent later).
const SUBAGENT_TOOLS: &[&str] = &["Task", "Agent"];

/// Widest current-tool gist kept.
const TOOL_GIST: usize = 60;

/// One subagent as the pane shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubagentView {
    /// Absolute index of the entry of the call that started it, once seen.
    pub call: Option<u64>,
    /// What it was asked to do (its first description; progress lines
    /// reword it).
    pub description: Option<String>,
    /// Its latest status.
    pub status: Option<SubagentStatus>,
    /// The tool it called last, with its input's gist.
    pub current_tool: Option<String>,
    /// Absolute indices of its own entries, oldest first.
    pub nested: Vec<u64>,
}

impl SubagentView {
    /// The one-line gist: what it is on, or how it ended.
    pub fn gist(&self) -> String {
        let mut status = self.status.clone().unwrap_or_else(|| SubagentStatus {
            state: "starting".to_string(),
            ..SubagentStatus::default()
        });
        if self.description.is_some() {
            status.description = self.description.clone();
        }
        let running = matches!(status.state.as_str(), "started" | "running" | "starting");
        if running && let Some(tool) = &self.current_tool {
            status.state = "running".to_string();
            status.last_tool = Some(tool.clone());
        }
        let mut gist = subagent_gist(&status);
        if !self.nested.is_empty() && !running {
            gist.push_str(&format!(" · {} step(s)", self.nested.len()));
        }
        gist
    }
}

/// Every subagent of one task, by the id of the call that started it.
#[derive(Debug, Clone, Default)]
pub struct Subagents {
    by_parent: HashMap<String, SubagentView>,
}

/// The parent tool call a subagent entry belongs to, if it is one.
pub fn parent_of(ev: &AgentEvent) -> Option<&str> {
    match ev {
        AgentEvent::Subagent { parent_tool_id, .. } => Some(parent_tool_id),
        AgentEvent::SubagentStatus(s) => Some(&s.parent_tool_id),
        _ => None,
    }
}

/// The id of a call that starts a subagent.
pub fn subagent_call(ev: &AgentEvent) -> Option<&str> {
    match ev {
        AgentEvent::ToolCall { id, name, .. } if SUBAGENT_TOOLS.contains(&name.as_str()) => {
            Some(id)
        }
        _ => None,
    }
}

impl Subagents {
    /// Takes entry `abs` into account; returns the parent id whose view
    /// changed, if any. Seeing the same entry again changes nothing.
    pub fn observe(&mut self, abs: u64, ev: &AgentEvent) -> Option<String> {
        if let Some(id) = subagent_call(ev) {
            let view = self.by_parent.entry(id.to_string()).or_default();
            view.call = Some(abs);
            return None;
        }
        let parent = parent_of(ev)?.to_string();
        let view = self.by_parent.entry(parent.clone()).or_default();
        let before = view.clone();
        match ev {
            AgentEvent::SubagentStatus(status) => {
                if status.state == "started" && view.description.is_none() {
                    view.description = status.description.clone();
                }
                view.status = Some(status.clone());
            }
            AgentEvent::Subagent { event, .. } => {
                if view.nested.last().is_none_or(|last| *last < abs) {
                    view.nested.push(abs);
                }
                if let Some(tool) = tool_of(event) {
                    view.current_tool = Some(tool);
                }
            }
            _ => {}
        }
        (*view != before).then_some(parent)
    }

    /// The view of the subagent started by call `parent`.
    pub fn get(&self, parent: &str) -> Option<&SubagentView> {
        self.by_parent.get(parent)
    }

    /// Whether the call that started `parent`'s subagent is on screen, so
    /// its entries belong under it.
    pub fn is_placed(&self, parent: &str) -> bool {
        self.by_parent.get(parent).is_some_and(|v| v.call.is_some())
    }

    /// Forgets entries before `dropped` (they left the transcript window).
    pub fn forget_before(&mut self, dropped: u64) {
        self.by_parent.retain(|_, view| {
            if view.call.is_some_and(|c| c < dropped) {
                view.call = None;
            }
            view.nested.retain(|abs| *abs >= dropped);
            view.call.is_some() || !view.nested.is_empty() || view.status.is_some()
        });
    }

    /// Everything forgotten (the lines are rebuilt from scratch).
    pub fn clear(&mut self) {
        self.by_parent.clear();
    }
}

/// "Bash echo hi" for a tool call, `None` for anything else.
fn tool_of(ev: &AgentEvent) -> Option<String> {
    match ev {
        AgentEvent::ToolCall { name, input, .. } => Some(format!(
            "{} {}",
            safe_text(name),
            tool_gist(input, TOOL_GIST)
        )),
        AgentEvent::McpCall { server, tool, .. } => {
            Some(format!("{} › {}", safe_text(server), safe_text(tool)))
        }
        AgentEvent::WebSearch { query, .. } => Some(format!("web search {}", safe_text(query))),
        AgentEvent::WebFetch { url, .. } => Some(format!("fetch {}", safe_text(url))),
        _ => None,
    }
}
