//! Claude's work beyond text and plain tools, in canonical events: its
//! task list (TaskCreate / TaskUpdate in 2.1.197, TodoWrite in older
//! releases) as one `plan`, subagent lifecycles (`system/task_*`), and MCP,
//! web search and web fetch calls named for what they are.
//!
//! Formats from the transcripts in `tests/fixtures/claude` (`plan`,
//! `todo_write`, `subagent`, `mcp`, `web_search`). Pure and bounded: never
//! panics on agent output, remembers at most [`MAX_PENDING`] unanswered
//! plan calls and [`MAX_PLAN_ITEMS`] plan steps.

use std::collections::VecDeque;

use serde_json::{Map, Value};

use super::json::str_field;
use crate::core::event::{AgentEvent, PlanItem, PlanStatus, SubagentStatus, split_mcp_name};

/// Plan-tool calls waiting for their result, at most.
pub const MAX_PENDING: usize = 64;
/// Steps of a plan kept, at most (later ones are dropped).
pub const MAX_PLAN_ITEMS: usize = 200;

/// A plan-tool call waiting for its result: only a successful result
/// changes the plan (2.1.197 refuses TodoWrite, for one).
#[derive(Debug, Clone)]
enum PlanOp {
    Create {
        subject: String,
        active_form: Option<String>,
    },
    Update {
        task_id: String,
        status: Option<String>,
        subject: Option<String>,
        active_form: Option<String>,
    },
    Write(Vec<PlanItem>),
}

#[derive(Debug, Clone)]
struct Pending {
    tool_use_id: String,
    name: String,
    input: Value,
    op: PlanOp,
}

/// Claude's task list as the tools built it, and the plan calls in flight.
#[derive(Debug, Default)]
pub struct PlanTracker {
    /// (task id, step), in creation order.
    tasks: Vec<(String, PlanItem)>,
    pending: VecDeque<Pending>,
}

impl PlanTracker {
    /// Takes a `tool_use` of a plan tool (true), which then shows nothing
    /// until its result; false for any other tool.
    pub fn take_call(&mut self, id: &str, name: &str, input: &Value) -> bool {
        let field = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
        let op = match name {
            "TaskCreate" => PlanOp::Create {
                subject: field("subject")
                    .or_else(|| field("description"))
                    .unwrap_or_default(),
                active_form: field("activeForm"),
            },
            "TaskUpdate" => match field("taskId") {
                Some(task_id) => PlanOp::Update {
                    task_id,
                    status: field("status"),
                    subject: field("subject"),
                    active_form: field("activeForm"),
                },
                None => return false,
            },
            "TodoWrite" => match input.get("todos").and_then(Value::as_array) {
                Some(todos) => PlanOp::Write(
                    todos
                        .iter()
                        .filter_map(todo_item)
                        .take(MAX_PLAN_ITEMS)
                        .collect(),
                ),
                None => return false,
            },
            _ => return false,
        };
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back(Pending {
            tool_use_id: id.to_string(),
            name: name.to_string(),
            input: input.clone(),
            op,
        });
        true
    }

    /// The events for a tool result, if it answers a plan call: the new
    /// plan when it succeeded, the call and its error when it failed.
    /// `created_id` is the task id claude reported for a TaskCreate.
    pub fn take_result(
        &mut self,
        tool_use_id: &str,
        output: &str,
        is_error: bool,
        created_id: Option<&str>,
    ) -> Option<Vec<AgentEvent>> {
        let at = self
            .pending
            .iter()
            .position(|p| p.tool_use_id == tool_use_id)?;
        let pending = self.pending.remove(at)?;
        if is_error {
            return Some(vec![
                AgentEvent::ToolCall {
                    id: pending.tool_use_id.clone(),
                    name: pending.name,
                    input: pending.input,
                },
                AgentEvent::ToolResult {
                    id: pending.tool_use_id,
                    output: output.to_string(),
                    is_error: true,
                },
            ]);
        }
        match pending.op {
            PlanOp::Create {
                subject,
                active_form,
            } => {
                let id = created_id
                    .map(str::to_string)
                    .or_else(|| task_number(output))
                    .unwrap_or_else(|| (self.tasks.len() + 1).to_string());
                if self.tasks.len() < MAX_PLAN_ITEMS {
                    self.tasks.push((
                        id,
                        PlanItem {
                            text: subject,
                            status: PlanStatus::Pending,
                            active_form,
                        },
                    ));
                }
            }
            PlanOp::Update {
                task_id,
                status,
                subject,
                active_form,
            } => {
                if status.as_deref() == Some("deleted") {
                    self.tasks.retain(|(id, _)| *id != task_id);
                } else if let Some((_, item)) = self.tasks.iter_mut().find(|(id, _)| *id == task_id)
                {
                    if let Some(status) = status {
                        item.status = PlanStatus::from_name(&status);
                    }
                    if let Some(subject) = subject {
                        item.text = subject;
                    }
                    if active_form.is_some() {
                        item.active_form = active_form;
                    }
                }
            }
            PlanOp::Write(items) => {
                self.tasks = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| ((i + 1).to_string(), item))
                    .collect();
            }
        }
        Some(vec![AgentEvent::Plan {
            items: self.tasks.iter().map(|(_, item)| item.clone()).collect(),
            explanation: None,
        }])
    }
}

/// One TodoWrite entry.
fn todo_item(todo: &Value) -> Option<PlanItem> {
    let todo = todo.as_object()?;
    Some(PlanItem {
        text: str_field(todo, "content")?.to_string(),
        status: PlanStatus::from_name(str_field(todo, "status").unwrap_or("pending")),
        active_form: str_field(todo, "activeForm").map(str::to_string),
    })
}

/// `N` of claude's "Task #N created successfully: ...".
fn task_number(output: &str) -> Option<String> {
    let rest = output.split_once('#')?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then_some(digits)
}

/// A `tool_use` of an MCP tool, web search or web fetch as its own event;
/// `None` for any other tool.
pub fn special_call(id: &str, name: &str, input: &Value) -> Option<AgentEvent> {
    if let Some((server, tool)) = split_mcp_name(name) {
        return Some(AgentEvent::McpCall {
            id: id.to_string(),
            server: server.to_string(),
            tool: tool.to_string(),
            input: input.clone(),
        });
    }
    let text = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
    match name {
        "WebSearch" => Some(AgentEvent::WebSearch {
            id: id.to_string(),
            query: text("query")?,
        }),
        "WebFetch" => Some(AgentEvent::WebFetch {
            id: id.to_string(),
            url: text("url")?,
        }),
        _ => None,
    }
}

/// The task id of a subagent and the tool call that started it, so that
/// lines naming only the task id can be placed.
#[derive(Debug, Default)]
pub struct SubagentIds {
    ids: VecDeque<(String, String)>,
}

impl SubagentIds {
    /// A `system/task_started`, `task_progress` or `task_notification`
    /// line as a [`SubagentStatus`]; `None` for other subtypes, lines that
    /// name no tool call, and tasks that are no subagent (claude tracks a
    /// long Bash command as a task too, without a `subagent_type`).
    pub fn status(&mut self, subtype: &str, obj: &Map<String, Value>) -> Option<AgentEvent> {
        let is_agent = str_field(obj, "subagent_type").is_some()
            || str_field(obj, "task_type") == Some("local_agent");
        let task_id = str_field(obj, "task_id");
        let known = task_id.is_some_and(|t| self.parent_of(t).is_some());
        if !is_agent && !known {
            return None;
        }
        let state = match subtype {
            "task_started" => "started".to_string(),
            "task_progress" => "running".to_string(),
            "task_notification" => str_field(obj, "status").unwrap_or("ended").to_string(),
            _ => return None,
        };
        let parent = match (str_field(obj, "tool_use_id"), task_id) {
            (Some(parent), Some(task)) => {
                self.remember(task, parent);
                parent.to_string()
            }
            (Some(parent), None) => parent.to_string(),
            (None, Some(task)) => self.parent_of(task)?,
            (None, None) => return None,
        };
        let usage = obj.get("usage").and_then(Value::as_object);
        let count = |key: &str| usage.and_then(|u| u.get(key)).and_then(Value::as_u64);
        let description = match subtype {
            // A progress line's description is a gist of the step.
            "task_notification" => str_field(obj, "summary").or(str_field(obj, "description")),
            _ => str_field(obj, "description"),
        };
        Some(AgentEvent::SubagentStatus(SubagentStatus {
            parent_tool_id: parent,
            state,
            description: description.map(str::to_string),
            agent_type: str_field(obj, "subagent_type").map(str::to_string),
            last_tool: str_field(obj, "last_tool_name").map(str::to_string),
            total_tokens: count("total_tokens"),
            tool_uses: count("tool_uses"),
        }))
    }

    fn remember(&mut self, task: &str, parent: &str) {
        if self.ids.iter().any(|(t, _)| t == task) {
            return;
        }
        if self.ids.len() >= MAX_PENDING {
            self.ids.pop_front();
        }
        self.ids.push_back((task.to_string(), parent.to_string()));
    }

    fn parent_of(&self, task: &str) -> Option<String> {
        self.ids
            .iter()
            .find(|(t, _)| t == task)
            .map(|(_, p)| p.clone())
    }
}

/// Compaction, hook and permission lines (`system/compact_boundary`,
/// `status` with a failed `compact_result`, `hook_response`,
/// `permission_denied`) as their events; `None` for other subtypes.
pub fn system_notice(subtype: &str, obj: &Map<String, Value>) -> Option<AgentEvent> {
    let text = |key: &str| str_field(obj, key).map(str::to_string);
    match subtype {
        "compact_boundary" => {
            let meta = obj.get("compact_metadata").and_then(Value::as_object);
            let field = |key: &str| meta.and_then(|m| m.get(key));
            Some(AgentEvent::Compaction {
                trigger: field("trigger").and_then(Value::as_str).map(str::to_string),
                tokens_before: field("pre_tokens").and_then(Value::as_u64),
                tokens_after: field("post_tokens").and_then(Value::as_u64),
                error: None,
            })
        }
        // A compaction that failed says so only in a status line.
        "status" if str_field(obj, "compact_result") == Some("failed") => {
            Some(AgentEvent::Compaction {
                trigger: None,
                tokens_before: None,
                tokens_after: None,
                error: Some(text("compact_error").unwrap_or_else(|| "compaction failed".into())),
            })
        }
        "hook_response" => Some(AgentEvent::Hook {
            name: text("hook_name").unwrap_or_else(|| "hook".to_string()),
            event: text("hook_event"),
            outcome: text("outcome"),
            exit_code: obj.get("exit_code").and_then(Value::as_i64),
            output: text("output").filter(|o| !o.trim().is_empty()),
        }),
        "permission_denied" => Some(AgentEvent::PermissionDenied {
            tool: text("tool_name").unwrap_or_else(|| "a tool".to_string()),
            tool_use_id: text("tool_use_id"),
            message: text("message"),
        }),
        _ => None,
    }
}
