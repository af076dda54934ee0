//! Shared helpers for the TUI tests: a core state with tasks in every
//! status, built through the real `update`, and a fixed-size renderer.

#![allow(dead_code)]

use std::path::PathBuf;

use corral::agent::AgentKind;
use corral::core::event::{AgentEvent, Question, QuestionKind, Usage};
use corral::core::task::TaskSpec;
use corral::core::{Command, Event, ExitInfo, Limit, Settings, State, TaskId, update};
use corral::tui::app::App;
use corral::tui::form::FormDefaults;
use corral::tui::theme::Theme;
use corral::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use serde_json::json;

/// The clock of every test: tasks start at T0.
pub const T0: u64 = 1_700_000_000_000;

pub fn spec(prompt: &str) -> TaskSpec {
    TaskSpec {
        agent: AgentKind::Claude,
        prompt: prompt.into(),
        title: None,
        cwd: PathBuf::from("."),
        options: Default::default(),
        limits: Default::default(),
        profile: None,
        budget: Default::default(),
        worktree: false,
    }
}

pub fn launch(state: &mut State, at: u64, prompt: &str) -> TaskId {
    let id = state.next_task_id();
    update(state, at, Event::Command(Command::launch(spec(prompt))));
    id
}

pub fn agent(state: &mut State, at: u64, task: TaskId, event: AgentEvent) {
    update(state, at, Event::Agent { task, event });
}

pub fn text(t: &str) -> AgentEvent {
    AgentEvent::Text {
        text: t.into(),
        delta: true,
    }
}

pub fn exit(state: &mut State, at: u64, task: TaskId, code: Option<i32>, signal: Option<&str>) {
    update(
        state,
        at,
        Event::Exited {
            task,
            exit: ExitInfo {
                code,
                signal: signal.map(str::to_string),
                killed_outside_group: 0,
            },
        },
    );
}

pub fn turn_end(is_error: bool, result: &str) -> AgentEvent {
    AgentEvent::TurnEnd {
        is_error,
        result: Some(result.into()),
        api_error_status: None,
        num_turns: Some(1),
        permission_denials: vec![],
        terminal_reason: None,
        api_error_type: None,
    }
}

pub fn usage(input: u64, output: u64, cost: f64) -> AgentEvent {
    AgentEvent::Usage(Usage {
        input_tokens: input,
        output_tokens: output,
        cost_usd: Some(cost),
        ..Default::default()
    })
}

/// Five tasks: succeeded, running (tool call and result), failed after a
/// retry, killed, blocked on an approval, and one that timed out.
pub fn busy_state() -> State {
    let mut s = State::new(Settings {
        end_after_turn: true,
        ..Settings::default()
    });
    let a = launch(&mut s, T0, "Write a haiku about Rust");
    agent(
        &mut s,
        T0 + 100,
        a,
        AgentEvent::Session {
            session_id: "sess-a".into(),
            model: Some("claude-haiku".into()),
            cwd: None,
            agent: "claude".into(),
        },
    );
    agent(
        &mut s,
        T0 + 200,
        a,
        text("Ownership and borrows,\nthe compiler guards my heap:\nno data races here."),
    );
    agent(&mut s, T0 + 300, a, usage(1200, 80, 0.0021));
    agent(&mut s, T0 + 400, a, turn_end(false, "done"));
    exit(&mut s, T0 + 2_400, a, Some(0), None);

    let b = launch(
        &mut s,
        T0 + 1_000,
        "Fix the failing test in parser.rs\nand run cargo test",
    );
    agent(
        &mut s,
        T0 + 1_100,
        b,
        AgentEvent::Thinking {
            text: "The test expects a trailing newline.".into(),
            delta: true,
        },
    );
    agent(
        &mut s,
        T0 + 1_200,
        b,
        text("Let me look at the test first."),
    );
    agent(
        &mut s,
        T0 + 1_300,
        b,
        AgentEvent::ToolCall {
            id: "t1".into(),
            name: "Bash".into(),
            input: json!({"command": "cargo test -p parser", "description": "Run the tests"}),
        },
    );
    agent(&mut s, T0 + 1_400, b, AgentEvent::ToolResult {
        id: "t1".into(),
        output: "running 12 tests\ntest lex::ok ... ok\ntest parse::newline ... FAILED\n\nfailures: 1".into(),
        is_error: false,
    });
    agent(
        &mut s,
        T0 + 1_500,
        b,
        AgentEvent::ToolCall {
            id: "t2".into(),
            name: "Read".into(),
            input: json!({"file_path": "src/parser.rs"}),
        },
    );
    agent(&mut s, T0 + 1_600, b, usage(24_000, 1_300, 0.094));

    let c = launch(&mut s, T0 + 2_000, "Summarise the changelog");
    agent(
        &mut s,
        T0 + 2_100,
        c,
        AgentEvent::Retry {
            attempt: 1,
            max_attempts: Some(10),
            delay_ms: Some(2_000),
            status: Some(429),
            reason: "rate limited".into(),
        },
    );
    agent(
        &mut s,
        T0 + 4_100,
        c,
        AgentEvent::Error {
            message: "API Error: 500 internal server error".into(),
        },
    );
    agent(
        &mut s,
        T0 + 4_200,
        c,
        turn_end(true, "API Error: 500 internal server error"),
    );
    exit(&mut s, T0 + 4_300, c, Some(1), None);

    let d = launch(&mut s, T0 + 3_000, "Refactor the whole codebase");
    agent(&mut s, T0 + 3_100, d, text("Starting the refactor…"));
    update(
        &mut s,
        T0 + 5_000,
        Event::Command(Command::Kill { task: d }),
    );
    exit(&mut s, T0 + 5_200, d, None, Some("SIGINT"));

    let e = launch(&mut s, T0 + 4_000, "Delete the build directory");
    agent(
        &mut s,
        T0 + 4_100,
        e,
        AgentEvent::Question(Question {
            id: "req-1".into(),
            kind: QuestionKind::Approval,
            tool: Some("Bash".into()),
            input: json!({"command": "rm -rf build"}),
            tool_use_id: Some("tu-1".into()),
            questions: vec![],
        }),
    );

    let f = launch(&mut s, T0 + 5_000, "Loop forever");
    update(
        &mut s,
        T0 + 65_000,
        Event::LimitReached {
            task: f,
            limit: Limit::Idle,
        },
    );
    exit(&mut s, T0 + 66_000, f, None, Some("SIGINT"));
    s
}

/// A claude task whose turn ended while its live session stays open for
/// follow-ups: finished, its agent still there.
pub fn open_session(state: &mut State, at: u64, prompt: &str) -> TaskId {
    let id = launch(state, at, prompt);
    agent(
        state,
        at + 100,
        id,
        AgentEvent::Session {
            session_id: format!("sess-{id}"),
            model: None,
            cwd: None,
            agent: "claude".into(),
        },
    );
    agent(state, at + 200, id, turn_end(false, "done"));
    id
}

pub fn defaults() -> FormDefaults {
    FormDefaults {
        agent: "claude".into(),
        agents: corral::tui::form::builtin_agents(),
        worktree: false,
        model: None,
        permission_mode: None,
        base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        cwd: PathBuf::from("."),
        hosts: Vec::new(),
    }
}

pub fn app(w: u16, h: u16, color: bool) -> App {
    let mut app = App::new(Theme { color }, Rect::new(0, 0, w, h), defaults(), (24, 80));
    app.now_ms = T0 + 70_000;
    app
}

/// Draws the whole screen into a test terminal.
pub fn draw(app: &App, state: &State) -> Terminal<TestBackend> {
    let (w, h) = (app.size.width, app.size.height);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    term.draw(|f| {
        let area = f.area();
        view::draw(app, state, area, f.buffer_mut())
    })
    .expect("draw");
    term
}

/// The screen as text, one line per row.
pub fn screen(app: &App, state: &State) -> String {
    let term = draw(app, state);
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
