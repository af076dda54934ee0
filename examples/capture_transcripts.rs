//! Records byte-exact transcripts of a REAL agent CLI against the scripted
//! loopback model APIs (tests/support), for tests/fixtures.
//!
//! `cargo run --example capture_transcripts -- --cli claude --bin PATH
//!  --scenario subagent --out DIR` runs the CLI once in a fresh sandbox
//! (its own HOME, config dir, TMPDIR, working directory; no internet: the
//! mock refuses proxy requests) and writes `DIR/<scenario>.jsonl` (stdout,
//! verbatim), `.stderr.txt`, `.requests.jsonl` (what the model API got) and
//! `.meta.json` (argv, exit code, CLI version). The sandbox root is
//! rewritten to `/home/dev/sandbox` in every file, as in the shared
//! transcripts (also in claude's `-`-joined project folder name); nothing
//! else is edited. It never reaches beyond loopback
//! and never keeps a process alive past its time limit.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Sandbox;
use support::anthropic_mock::{self as anthropic, Block, MockAnthropic};
use support::responses_mock::{self as responses, Item, MockResponses};

const LIMIT: Duration = Duration::from_secs(150);
const SANDBOX_NAME: &str = "/home/dev/sandbox";

const USAGE: &str =
    "usage: capture_transcripts --cli claude|codex --bin PATH --scenario NAME --out DIR
claude scenarios: subagent, subagent_forward, subagent_slow, plan, todo_write, thinking, thinking_partial, mcp,
                  web_search, permission_denied, hooks, errors, compact
codex scenarios:  todo_list, mcp, web_search";

struct Args {
    cli: String,
    bin: PathBuf,
    scenario: String,
    out: PathBuf,
}

fn parse_args() -> Args {
    let mut cli = None;
    let mut bin = None;
    let mut scenario = None;
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        match (arg.as_str(), value) {
            ("--cli", Some(v)) => cli = Some(v),
            ("--bin", Some(v)) => bin = Some(PathBuf::from(v)),
            ("--scenario", Some(v)) => scenario = Some(v),
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            _ => exit_usage(&format!("bad argument {arg:?}")),
        }
    }
    match (cli, bin, scenario, out) {
        (Some(cli), Some(bin), Some(scenario), Some(out)) => Args {
            cli,
            bin,
            scenario,
            out,
        },
        _ => exit_usage("all four options are needed"),
    }
}

fn exit_usage(message: &str) -> ! {
    eprintln!("capture_transcripts: {message}\n{USAGE}");
    std::process::exit(2)
}

/// The stdio MCP server fixture, copied into the sandbox so its path is
/// rewritten like every other sandbox path.
fn install_mcp_server(sandbox: &Sandbox) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp/adder_mcp.py");
    let target = sandbox.root().join("adder_mcp.py");
    fs::copy(&source, &target).expect("copy the MCP server fixture");
    target
}

fn claude_script(scenario: &str) -> Option<Vec<anthropic::Reply>> {
    use anthropic::Reply;
    let message = |blocks: Vec<Block>| Reply::Stream {
        parts: blocks,
        chunk_delay: Duration::from_millis(10),
    };
    let tool = |name: &str, input: Value| Block::ToolUse {
        name: name.to_string(),
        input,
    };
    Some(match scenario {
        // Parent: a Task call, then its answer (the subagent's replies are
        // routed by its prompt: see `subagent_script`).
        "subagent" | "subagent_forward" | "subagent_slow" => vec![
            Reply::tool_use(
                "Task",
                json!({"description": "Count the files",
                       "prompt": SUBAGENT_PROMPT,
                       "subagent_type": "general-purpose"}),
                "I will hand this to a subagent.",
            ),
            Reply::text("The subagent reports: the command printed from-subagent."),
            Reply::auto(),
        ],
        // Three tasks created, then updated twice.
        "plan" => vec![
            message(vec![
                Block::Text("Let me plan this.".into()),
                tool(
                    "TaskCreate",
                    json!({"subject": "Read the code", "description": "Read the parser",
                           "activeForm": "Reading the code"}),
                ),
                tool(
                    "TaskCreate",
                    json!({"subject": "Write the fix", "description": "Fix the parser",
                           "activeForm": "Writing the fix"}),
                ),
                tool(
                    "TaskCreate",
                    json!({"subject": "Run the tests", "description": "cargo test",
                           "activeForm": "Running the tests"}),
                ),
            ]),
            message(vec![tool(
                "TaskUpdate",
                json!({"taskId": "1", "status": "in_progress"}),
            )]),
            message(vec![
                tool("TaskUpdate", json!({"taskId": "1", "status": "completed"})),
                tool(
                    "TaskUpdate",
                    json!({"taskId": "2", "status": "in_progress"}),
                ),
            ]),
            Reply::text("Read the code; now writing the fix."),
        ],
        // The older single-list tool, written twice.
        "todo_write" => {
            let todos = |a: &str, b: &str| {
                json!({"todos": [
                    {"content": "Read the code", "status": a, "activeForm": "Reading the code"},
                    {"content": "Write the fix", "status": b, "activeForm": "Writing the fix"},
                ]})
            };
            vec![
                Reply::tool_use("TodoWrite", todos("in_progress", "pending"), "Planning."),
                Reply::tool_use("TodoWrite", todos("completed", "in_progress"), ""),
                Reply::text("Done with the plan."),
            ]
        }
        "thinking" | "thinking_partial" => vec![message(vec![
            Block::Thinking(
                "The user wants a greeting. A short friendly answer is enough here.".into(),
            ),
            Block::Text("Hello! Nice to meet you.".into()),
        ])],
        "mcp" => vec![
            Reply::tool_use(
                "mcp__adder__add",
                json!({"a": 2, "b": 3}),
                "Let me add them.",
            ),
            Reply::auto(),
        ],
        // The WebSearch tool asks the API again with its server tool; the
        // mock answers that request with a search and its results.
        "web_search" => vec![
            Reply::tool_use(
                "WebSearch",
                json!({"query": "rust terminal multiplexer"}),
                "Let me search the web.",
            ),
            message(vec![
                Block::ServerToolUse {
                    id: "srvtoolu_mock_search_1".into(),
                    name: "web_search".into(),
                    input: json!({"query": "rust terminal multiplexer"}),
                },
                Block::Whole(json!({
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_mock_search_1",
                    "content": [
                        {"type": "web_search_result", "title": "Zellij: a terminal workspace",
                         "url": "https://example.com/zellij", "encrypted_content": "bW9jaw==",
                         "page_age": null},
                        {"type": "web_search_result", "title": "tmux wiki",
                         "url": "https://example.org/tmux", "encrypted_content": "bW9jaw==",
                         "page_age": null}
                    ]
                })),
                Block::Text("Two results: Zellij and tmux.".into()),
            ]),
            Reply::auto(),
        ],
        // `touch` needs permission; no approver, default mode: refused.
        "permission_denied" => vec![
            Reply::bash("touch corral-denied-marker.txt", "Let me create a file."),
            Reply::auto(),
        ],
        // A PreToolUse and a PostToolUse hook (settings.json) around Bash.
        "hooks" => vec![Reply::bash("echo hi", "Running it."), Reply::auto()],
        // The API fails every time; CLAUDE_CODE_MAX_RETRIES=1.
        "errors" => (0..6)
            .map(|_| Reply::error(500, "Internal server error (mock)"))
            .collect(),
        // The first run answers; the second (resumed) run is `/compact`,
        // whose summary request the mock answers.
        "compact" => vec![
            Reply::text("Hello there, a first answer to compact later."),
            Reply::text("Summary: the user said hello and got an answer."),
            Reply::auto(),
        ],
        _ => return None,
    })
}

/// The prompt the parent gives its subagent; the mock knows the
/// subagent's conversation by it.
const SUBAGENT_PROMPT: &str = "Run `echo from-subagent` and report what it printed.";

/// The subagent's own conversation: Bash, then its answer.
fn subagent_script() -> Vec<anthropic::Reply> {
    vec![
        anthropic::Reply::bash("echo from-subagent", "Running the command."),
        anthropic::Reply::text("The command printed from-subagent."),
    ]
}

/// The session id the `compact` scenario's two runs share.
const COMPACT_SESSION: &str = "6f1d3c1e-8d2a-4c55-9a57-3f0e2b9d4a11";

/// `settings.json` for the `hooks` scenario.
fn hook_settings() -> Value {
    let hook = |text: &str| {
        json!([{"matcher": "Bash", "hooks": [
        {"type": "command", "command": format!("echo {text}")}]}])
    };
    json!({"hooks": {"PreToolUse": hook("pre-hook-ran"), "PostToolUse": hook("post-hook-ran")}})
}

fn claude_args(scenario: &str, mcp_config: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = [
        "-p",
        "Do the thing.",
        "--output-format",
        "stream-json",
        "--verbose",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut more = |list: &[&str]| args.extend(list.iter().map(|s| s.to_string()));
    match scenario {
        "subagent" | "subagent_slow" => more(&["--allowedTools", "Task Bash"]),
        "subagent_forward" => more(&["--allowedTools", "Task Bash", "--forward-subagent-text"]),
        "permission_denied" => more(&["--permission-mode", "default"]),
        "hooks" => more(&["--allowedTools", "Bash", "--include-hook-events"]),
        "compact" => more(&["--resume", COMPACT_SESSION]),
        "plan" => more(&["--allowedTools", "TaskCreate TaskUpdate TaskList"]),
        "todo_write" => more(&["--allowedTools", "TodoWrite"]),
        "thinking_partial" => more(&["--include-partial-messages"]),
        "web_search" => more(&["--allowedTools", "WebSearch"]),
        _ => {}
    }
    if let Some(config) = mcp_config {
        args.extend([
            "--mcp-config".to_string(),
            config.display().to_string(),
            "--strict-mcp-config".to_string(),
            "--allowedTools".to_string(),
            "mcp__adder__add".to_string(),
        ]);
    }
    args
}

fn codex_script(scenario: &str) -> Option<Vec<responses::Reply>> {
    use responses::Reply;
    let call = |name: &str, arguments: Value| Reply::Stream {
        parts: vec![Item::FunctionCall {
            name: name.to_string(),
            arguments,
        }],
        chunk_delay: Duration::from_millis(10),
    };
    let plan = |a: &str, b: &str, c: &str| {
        json!({"explanation": "Working through the fix.", "plan": [
            {"step": "Read the code", "status": a},
            {"step": "Write the fix", "status": b},
            {"step": "Run the tests", "status": c},
        ]})
    };
    Some(match scenario {
        "todo_list" => vec![
            call("update_plan", plan("in_progress", "pending", "pending")),
            call("update_plan", plan("completed", "in_progress", "pending")),
            call("update_plan", plan("completed", "completed", "in_progress")),
            Reply::text("All three steps are under way."),
        ],
        // MCP tools are deferred: the model finds them with `tool_search`
        // first, then calls the one found in its namespace.
        "mcp" => vec![
            Reply::Stream {
                parts: vec![Item::Whole(json!({
                    "type": "tool_search_call", "call_id": "call_search_{n}",
                    "status": "completed", "execution": "client",
                    "arguments": {"query": "add numbers"}}))],
                chunk_delay: Duration::from_millis(10),
            },
            Reply::Stream {
                parts: vec![Item::Whole(json!({
                    "type": "function_call", "id": "fc_mock_add", "call_id": "call_add_{n}",
                    "namespace": "mcp__adder", "name": "add",
                    "arguments": "{\"a\":2,\"b\":3}", "status": "completed"}))],
                chunk_delay: Duration::from_millis(10),
            },
            Reply::text("The sum is 5."),
        ],
        // The Responses API runs web search itself: one output item.
        "web_search" => vec![Reply::Stream {
            parts: vec![
                Item::Whole(json!({
                    "type": "web_search_call", "id": "ws_mock_1", "status": "completed",
                    "action": {"type": "search", "query": "rust terminal multiplexer"}})),
                Item::Text("Zellij and tmux came up.".into()),
            ],
            chunk_delay: Duration::from_millis(10),
        }],
        _ => return None,
    })
}

/// Runs `cmd` with stdout/stderr to files, killed after [`LIMIT`].
fn run(mut cmd: Command, dir: &Path) -> (Option<i32>, Vec<u8>, Vec<u8>, Duration) {
    let stdout_path = dir.join("capture.stdout");
    let stderr_path = dir.join("capture.stderr");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"));
    let start = Instant::now();
    let mut child = cmd.spawn().expect("start the CLI");
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait for the CLI") {
            break status.code();
        }
        if start.elapsed() > LIMIT {
            eprintln!("capture_transcripts: time limit, killing the CLI");
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        code,
        fs::read(stdout_path).unwrap_or_default(),
        fs::read(stderr_path).unwrap_or_default(),
        start.elapsed(),
    )
}

fn version_of(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn main() {
    let args = parse_args();
    let bin = std::path::absolute(&args.bin).unwrap_or(args.bin.clone());
    let sandbox = Sandbox::for_agent(&args.cli, &bin);
    let (code, stdout, stderr, elapsed, requests, argv) = match args.cli.as_str() {
        "claude" => {
            let Some(script) = claude_script(&args.scenario) else {
                exit_usage("unknown claude scenario")
            };
            let mock = MockAnthropic::start(script);
            mock.set_logging(true);
            if args.scenario == "subagent_slow" {
                // A Bash command long enough for claude to track it as a
                // task of its own.
                mock.route(
                    SUBAGENT_PROMPT,
                    vec![
                        anthropic::Reply::bash("sleep 6; echo from-subagent", "Running it."),
                        anthropic::Reply::text("The command printed from-subagent."),
                    ],
                );
            } else if args.scenario.starts_with("subagent") {
                mock.route(SUBAGENT_PROMPT, subagent_script());
            }
            let mcp_config = (args.scenario == "mcp").then(|| {
                let server = install_mcp_server(&sandbox);
                let config = sandbox.root().join("mcp.json");
                let body = json!({"mcpServers": {"adder": {
                    "command": "python3", "args": [server.display().to_string()]}}});
                fs::write(&config, body.to_string()).expect("write the MCP config");
                config
            });
            if args.scenario == "hooks" {
                fs::write(
                    sandbox.config_dir.join("settings.json"),
                    hook_settings().to_string(),
                )
                .expect("write the hook settings");
            }
            if args.scenario == "compact" {
                // The first run, not recorded: a session to compact.
                let mut first = sandbox.claude_command(mock.port());
                first.args([
                    "-p",
                    "Say hello.",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                ]);
                first.args(["--session-id", COMPACT_SESSION]);
                run(first, sandbox.root());
            }
            let mut argv = claude_args(&args.scenario, mcp_config.as_deref());
            if args.scenario == "compact" {
                argv[1] = "/compact".to_string();
            }
            let mut cmd = sandbox.claude_command(mock.port());
            if args.scenario == "errors" {
                cmd.env("CLAUDE_CODE_MAX_RETRIES", "1");
            }
            cmd.args(&argv);
            let (code, out, err, elapsed) = run(cmd, sandbox.root());
            let requests: Vec<Value> = mock
                .requests()
                .into_iter()
                .map(|r| json!({"method": r.method, "path": r.path, "body": r.body}))
                .collect();
            (code, out, err, elapsed, requests, argv)
        }
        "codex" => {
            let Some(script) = codex_script(&args.scenario) else {
                exit_usage("unknown codex scenario")
            };
            let mock = MockResponses::start(script);
            sandbox.write_codex_config(mock.port(), &[]);
            let path = sandbox.config_dir.join("config.toml");
            let mut config = fs::read_to_string(&path).expect("read the codex config");
            if args.scenario == "todo_list" {
                // exec offers `update_plan` only when the config asks for it.
                config.push_str("\n[tools.update_plan]\nenabled = true\n");
            }
            if args.scenario == "mcp" {
                let server = install_mcp_server(&sandbox);
                config.push_str(&format!(
                    "\n[mcp_servers.adder]\ncommand = \"python3\"\nargs = [\"{}\"]\n",
                    server.display()
                ));
            }
            fs::write(&path, config).expect("write the codex config");
            let argv: Vec<String> = [
                "exec",
                "--json",
                "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox",
                "Do the thing.",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let mut cmd = Command::new(&sandbox.agent);
            cmd.env_clear()
                .envs(sandbox.codex_env(mock.port()))
                .current_dir(&sandbox.work)
                .args(&argv);
            let (code, out, err, elapsed) = run(cmd, sandbox.root());
            let requests: Vec<Value> = mock
                .requests()
                .into_iter()
                .map(|r| json!({"method": r.method, "path": r.path, "body": r.body}))
                .collect();
            (code, out, err, elapsed, requests, argv)
        }
        _ => exit_usage("--cli is claude or codex"),
    };
    sandbox.kill_leftovers();

    let root = sandbox.root().display().to_string();
    // claude also names its project folder after the path, `/` as `-`.
    let root_dashed = root.replace('/', "-");
    let clean = |bytes: &[u8]| -> Vec<u8> {
        String::from_utf8_lossy(bytes)
            .replace(&root, SANDBOX_NAME)
            .replace(&root_dashed, &SANDBOX_NAME.replace('/', "-"))
            .into_bytes()
    };
    fs::create_dir_all(&args.out).expect("create the output dir");
    let base = args.out.join(&args.scenario);
    let with = |ext: &str| PathBuf::from(format!("{}{ext}", base.display()));
    fs::write(with(".jsonl"), clean(&stdout)).expect("write stdout");
    if !stderr.is_empty() {
        fs::write(with(".stderr.txt"), clean(&stderr)).expect("write stderr");
    }
    let requests: String = requests.iter().map(|r| format!("{r}\n")).collect();
    fs::write(with(".requests.jsonl"), clean(requests.as_bytes())).expect("write requests");
    let meta = json!({
        "cli": args.cli,
        "version": version_of(&bin),
        "argv": argv,
        "exit_code": code,
        "wall_ms": elapsed.as_millis() as u64,
    });
    let meta = serde_json::to_string_pretty(&meta).unwrap_or_default();
    fs::write(with(".meta.json"), clean(meta.as_bytes())).expect("write meta");
    eprintln!(
        "capture_transcripts: {} {} exit {code:?} in {:.1}s -> {}",
        args.cli,
        args.scenario,
        elapsed.as_secs_f64(),
        base.display()
    );
}
