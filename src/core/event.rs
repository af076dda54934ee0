//! Canonical agent events: the one model every agent's output maps into.
//!
//! This is the public contract of `corral run --json`: each [`AgentEvent`] is
//! serialised as one JSON object per line with a `type` field. Type names are
//! fixed; fields may be added. Pure data: no IO, no clock reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One fact about an agent's work, in corral's own vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// A message from the user to the agent: the prompt, a follow-up, or an
    /// answer that resumed the session.
    UserMessage { text: String },
    /// The agent announced its session.
    Session {
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
        /// The agent kind (`claude`, `codex`, ...).
        agent: String,
    },
    /// Assistant text: a whole block (`delta: false`) or a streaming chunk
    /// (`delta: true`). Concatenating all `text` events of a turn gives its
    /// text once: a block already streamed as deltas is not repeated.
    Text { text: String, delta: bool },
    /// The model's visible reasoning, same delta rules as `text`.
    Thinking { text: String, delta: bool },
    /// The agent asked to run a tool.
    ToolCall {
        id: String,
        name: String,
        input: Value,
    },
    /// A tool finished.
    ToolResult {
        id: String,
        output: String,
        is_error: bool,
    },
    /// The agent waits for the user: a tool approval or a question.
    Question(Question),
    /// corral (or a policy) answered a question.
    Answered {
        id: String,
        /// `allow`, `deny`, or `answer`.
        decision: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// Answers to the questions, question text to chosen label(s) or text.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        answers: Vec<(String, String)>,
        /// Who answered: `user` or `policy`.
        by: String,
    },
    /// The agent (or its API client) is retrying after an error.
    Retry {
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_attempts: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        reason: String,
    },
    /// Token use since the previous `usage` event (increments, not totals).
    Usage(Usage),
    /// A turn of the conversation ended (claude's `result`, codex's
    /// `turn.completed`/`turn.failed`, gemini's `result`).
    TurnEnd {
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_error_status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_turns: Option<u32>,
        /// Tools the agent was not allowed to run in this turn.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        permission_denials: Vec<Denial>,
        /// Why the agent stopped, in its words (claude's `terminal_reason`:
        /// `completed`, `api_error`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terminal_reason: Option<String>,
        /// The kind of API error that ended the turn (claude's
        /// `api_error_type`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_error_type: Option<String>,
    },
    /// A line the agent's protocol needs written back at once, not shown:
    /// the error reply to a request corral does not support, so the agent
    /// never waits for an answer that will not come.
    ProtocolReply { line: String },
    /// The agent started turn `turn_id` (codex app-server): kept by the core
    /// to interrupt that turn, never shown.
    TurnStarted { turn_id: String },
    /// Something went wrong; the message is meant for the user.
    Error { message: String },
    /// An output line that was not an event (a protocol change, an unknown
    /// line; everything an interactive command prints), with terminal
    /// control sequences removed.
    Raw { line: String },
    /// A line the agent wrote to stderr that is no event (codex's "Reading
    /// additional input from stdin...", warnings, deprecation notes, log
    /// lines), control sequences removed, or corral's note on the session
    /// (closed while idle, resumed): shown dim, never as an error.
    Notice { line: String },
    /// Something a subagent did (claude's Task/Agent tool): `event` happened
    /// inside the subagent that tool call `parent_tool_id` started. Front
    /// ends nest it under that call, never among the parent's own events.
    Subagent {
        parent_tool_id: String,
        event: Box<AgentEvent>,
    },
    /// A subagent started, made progress or ended.
    SubagentStatus(SubagentStatus),
    /// The agent's plan, whole: each `plan` event replaces the one before
    /// (claude's task tools and TodoWrite, codex's todo list, ACP plans).
    Plan {
        items: Vec<PlanItem>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<String>,
    },
    /// A call of a tool from an MCP server; its result is a `tool_result`
    /// with the same id.
    McpCall {
        id: String,
        server: String,
        tool: String,
        input: Value,
    },
    /// A web search; a result, if the agent reports one, is a
    /// `tool_result` with the same id.
    WebSearch { id: String, query: String },
    /// A web page fetched; its result is a `tool_result` with the same id.
    WebFetch { id: String, url: String },
    /// The agent compacted its conversation (claude's `/compact` or its
    /// automatic compaction); `error` says why it could not.
    Compaction {
        /// `manual` or `auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trigger: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens_before: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens_after: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A hook of the agent's own configuration ran (claude's hook events).
    Hook {
        /// The hook as the agent names it (`PreToolUse:Bash`).
        name: String,
        /// The lifecycle event (`PreToolUse`, `Stop`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<String>,
        /// `success`, `error`, ... as the agent says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// The agent's permission rules refused a tool call, as it happened
    /// (claude's `system/permission_denied`).
    PermissionDenied {
        tool: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Always last: how the run ended.
    Finished(Finished),
}

/// Where a subagent is; `state` is `started`, `running`, or how it ended
/// as the agent says it (`completed`, `failed`, `stopped`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SubagentStatus {
    /// The tool call that started it.
    pub parent_tool_id: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// What kind of agent (claude's `subagent_type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    /// The tool it used last (its live gist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tool: Option<String>,
    /// Tokens it used so far (input and output together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_uses: Option<u64>,
}

/// Where one step of a plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Pending,
    InProgress,
    Completed,
}

impl PlanStatus {
    /// A status from an agent's word for it (`pending`, `in_progress` or
    /// `in-progress`, `completed` or `done`); anything else is pending.
    pub fn from_name(name: &str) -> PlanStatus {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            // codex's app server says `inProgress`.
            "in_progress" | "inprogress" | "active" | "running" => PlanStatus::InProgress,
            "completed" | "complete" | "done" => PlanStatus::Completed,
            _ => PlanStatus::Pending,
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanItem {
    pub text: String,
    pub status: PlanStatus,
    /// What the agent shows while the step runs ("Running the tests").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_form: Option<String>,
}

impl PlanItem {
    /// A step from its text and the agent's word for its status.
    pub fn new(text: impl Into<String>, status: &str) -> PlanItem {
        PlanItem {
            text: text.into(),
            status: PlanStatus::from_name(status),
            active_form: None,
        }
    }
}

/// How far a plan is: (completed steps, all steps).
pub fn plan_progress(items: &[PlanItem]) -> (usize, usize) {
    let done = items
        .iter()
        .filter(|i| i.status == PlanStatus::Completed)
        .count();
    (done, items.len())
}

/// The step a plan is on: the first in progress, else the first pending.
pub fn plan_current(items: &[PlanItem]) -> Option<&PlanItem> {
    items
        .iter()
        .find(|i| i.status == PlanStatus::InProgress)
        .or_else(|| items.iter().find(|i| i.status == PlanStatus::Pending))
}

/// An MCP tool's name as claude spells it (`mcp__server__tool`), split
/// into server and tool.
pub fn split_mcp_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("mcp__")?;
    let (server, tool) = rest.split_once("__")?;
    (!server.is_empty() && !tool.is_empty()).then_some((server, tool))
}

/// A request for the user's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Protocol id used to answer (claude's control `request_id`).
    pub id: String,
    pub kind: QuestionKind,
    /// For approvals: the tool and its input. For AskUserQuestion: the tool
    /// name too, so the answer can echo the input back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// For questions: what to ask, one after another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<QuestionItem>,
}

/// What kind of decision a [`Question`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// May the agent run this tool?
    Approval,
    /// The agent asks the user something (AskUserQuestion, question file).
    Question,
}

/// One question with its choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionItem {
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<QuestionOption>,
    #[serde(default)]
    pub multi_select: bool,
}

/// One choice of a [`QuestionItem`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionOption {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A tool call the agent was not permitted to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    pub tool: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub input: Value,
}

/// Token counts and cost. In a `usage` event these are increments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_creation_tokens: u64,
    /// Only when the agent reports a cost (or a price is configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// The largest cost corral believes, in dollars: a report above it is
/// clamped to it, so that a hostile or broken agent cannot print 309 digits.
pub const MAX_COST_USD: f64 = 1e9;

/// A reported cost made believable: not-a-number, infinite and negative
/// costs count as 0, anything above [`MAX_COST_USD`] as [`MAX_COST_USD`].
pub fn sane_cost(usd: f64) -> f64 {
    if usd.is_finite() && usd > 0.0 {
        usd.min(MAX_COST_USD)
    } else {
        0.0
    }
}

impl Usage {
    /// Adds another increment to this total. Token counts saturate at
    /// `u64::MAX` instead of wrapping; costs go through [`sane_cost`].
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_read_tokens = self
            .cache_read_tokens
            .saturating_add(other.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(other.cache_creation_tokens);
        self.cost_usd = match (self.cost_usd, other.cost_usd) {
            (None, None) => None,
            (a, b) => Some(sane_cost(
                sane_cost(a.unwrap_or(0.0)) + sane_cost(b.unwrap_or(0.0)),
            )),
        };
    }

    /// Input tokens, cache reads and writes included (saturating).
    pub fn input_total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_creation_tokens)
    }

    /// All tokens, input and output, cache included (saturating).
    pub fn total_tokens(&self) -> u64 {
        self.input_total().saturating_add(self.output_tokens)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishStatus {
    Succeeded,
    Failed,
    Killed,
    TimedOut,
}

/// The last event of every run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finished {
    pub status: FinishStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended the agent, if any (`SIGKILL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Why it failed, was killed or timed out, for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The agent's final answer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub duration_ms: u64,
    /// Totals over the whole run.
    pub usage: Usage,
    /// Processes outside the agent's process group that corral killed
    /// (absent when there were none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_outside_group: Option<u64>,
}

#[cfg(test)]
mod usage_tests {
    use super::{MAX_COST_USD, Usage};

    fn usage(tokens: u64, cost: Option<f64>) -> Usage {
        Usage {
            input_tokens: tokens,
            output_tokens: tokens,
            cache_read_tokens: tokens,
            cache_creation_tokens: tokens,
            cost_usd: cost,
        }
    }

    #[test]
    fn huge_token_counts_saturate_instead_of_wrapping() {
        let mut total = usage(u64::MAX, None);
        total.add(&usage(u64::MAX, None));
        assert_eq!(total.input_tokens, u64::MAX);
        assert_eq!(total.total_tokens(), u64::MAX);
        assert_eq!(total.input_total(), u64::MAX);
    }

    #[test]
    fn absurd_costs_are_clamped_and_non_finite_ones_ignored() {
        let mut total = usage(1, Some(1.5));
        total.add(&usage(1, Some(f64::INFINITY)));
        total.add(&usage(1, Some(f64::NAN)));
        total.add(&usage(1, Some(-3.0)));
        assert_eq!(total.cost_usd, Some(1.5));
        total.add(&usage(1, Some(1e308)));
        total.add(&usage(1, Some(1e308)));
        assert_eq!(total.cost_usd, Some(MAX_COST_USD));
    }
}
