//! config.toml as a user writes it: the shipped example parses, good files
//! resolve into agent options, and every mistake is reported with the file,
//! the exact line and column, and what is wrong.

use std::path::{Path, PathBuf};

use corral::agent::AgentKind;
use corral::config::{Approve, Config, ConfigError, EXAMPLE, ProfileKind};

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/home/u/.config/corral/config.toml"))
}

fn error(text: &str) -> ConfigError {
    parse(text).expect_err("the config should be refused")
}

#[test]
fn the_shipped_example_parses_to_the_defaults_it_documents() {
    let c = parse(EXAMPLE).expect("assets/config.toml parses");
    assert_eq!(c.defaults.agent, "claude");
    assert_eq!(c.defaults.concurrency, 4);
    assert_eq!(c.defaults.kill_grace_ms, 1_500);
    assert_eq!(c.defaults.idle_session_close_ms, 600_000, "10 minutes");
    assert!(c.defaults.notifications);
    assert!(c.defaults.bell);
    assert_eq!(c.agents.len(), 6, "only the built-in profiles are active");
}

#[test]
fn the_example_with_every_line_uncommented_still_parses() {
    // Uncomment `# key = value` lines and `# [table]` headers, keeping prose.
    let text: String = EXAMPLE
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest.to_string(),
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(c.defaults.idle_timeout_ms, Some(600_000));
    assert_eq!(c.defaults.idle_session_close_ms, 600_000);
    assert_eq!(c.defaults.max_cost_usd, Some(2.5));
    assert_eq!(c.defaults.max_turns, Some(50));
    assert_eq!(c.defaults.approve, Some(Approve::Ask));
    assert_eq!(c.defaults.concurrency_per_agent.get("claude"), Some(&2));
    assert_eq!(
        c.defaults.keybindings.get("kill").map(String::as_str),
        Some("ctrl-k")
    );
    let local = c.profile("local").expect("the openai example");
    assert_eq!(local.kind, Some(ProfileKind::Openai));
    assert_eq!(local.base_url.as_deref(), Some("http://127.0.0.1:8080/v1"));
    assert_eq!(local.max_tokens, Some(4096));
    let shell = c.profile("shell").expect("the command example");
    assert_eq!(shell.argv, ["bash", "-l"]);
    let opus = c
        .resolve(Some("claude-opus"))
        .expect("a claude profile runs");
    assert_eq!(opus.kind, AgentKind::Claude);
    assert_eq!(opus.options.model.as_deref(), Some("opus"));
    assert_eq!(opus.options.permission_mode.as_deref(), Some("plan"));
    assert_eq!(c.defaults.hosts, ["gpu"]);
    let gpu = &c.hosts["gpu"];
    assert_eq!(
        (gpu.ssh.as_str(), gpu.corral.as_str()),
        ("me@gpu-box", "~/.cargo/bin/corral")
    );
    assert_eq!(gpu.ssh_args, ["-p", "2222"]);
}

#[test]
fn hosts_need_a_destination_a_plain_name_and_must_exist_to_be_chosen() {
    let c = parse("[hosts.box]\nssh = \"me@box\"\n").unwrap();
    assert_eq!(c.hosts["box"].corral, "corral", "found on the remote PATH");
    assert!(c.defaults.hosts.is_empty());
    let e = error("[hosts.box]\nssh_args = [\"-p\", \"22\"]\n");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("needs `ssh`"), "{}", e.message);
    let e = error("[hosts.local]\nssh = \"x\"\n");
    assert!(e.message.contains("not `local`"), "{}", e.message);
    let e = error("[hosts.\"a:b\"]\nssh = \"x\"\n");
    assert!(e.message.contains("a host name is"), "{}", e.message);
    let e = error("[defaults]\nhosts = [\"gpu\"]\n\n[hosts.box]\nssh = \"x\"\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message
            .contains("`hosts` names no `[hosts.gpu]` (known: box)"),
        "{}",
        e.message
    );
    let e = error("[hosts.box]\nssh = \"x\"\nport = 22\n");
    assert_eq!(e.line, Some(3));
}

#[test]
fn profiles_resolve_with_defaults_filled_in_and_override_builtins() {
    let c = parse(
        r#"
[defaults]
agent = "fast"
model = "sonnet"
permission_mode = "acceptEdits"
idle_timeout = 2.5
idle_session_close = 0

[agents.fast]
kind = "claude"
binary = "/opt/claude"
args = ["--max-turns", "3"]
env = { FOO = "bar" }
price_input_per_mtok = 3
price_output_per_mtok = 15.0

[agents.codex]
model = "o4"
"#,
    )
    .unwrap();
    assert_eq!(c.defaults.idle_timeout_ms, Some(2_500));
    assert_eq!(c.defaults.idle_session_close_ms, 0, "0 keeps sessions open");
    let r = c.resolve(None).unwrap();
    assert_eq!(r.profile, "fast");
    assert_eq!(r.options.binary.as_deref(), Some("/opt/claude"));
    assert_eq!(
        r.options.model.as_deref(),
        Some("sonnet"),
        "from [defaults]"
    );
    assert_eq!(r.options.permission_mode.as_deref(), Some("acceptEdits"));
    assert_eq!(r.options.extra_args, ["--max-turns", "3"]);
    assert_eq!(r.options.env, [("FOO".to_string(), "bar".to_string())]);
    assert_eq!(r.pricing, Some((3.0, 15.0)));
    // A profile named like a built-in replaces it; its kind is implied.
    let codex = c.profile("codex").unwrap();
    assert!(!codex.builtin);
    assert_eq!(codex.kind, Some(ProfileKind::Codex));
    assert_eq!(
        c.resolve(Some("codex")).unwrap().options.model.as_deref(),
        Some("o4")
    );
}

#[test]
fn a_misspelled_key_names_the_file_line_and_column() {
    let e = error("[defaults]\nagent = \"claude\"\n\nconcurency = 3\n");
    assert_eq!(e.path, PathBuf::from("/home/u/.config/corral/config.toml"));
    assert_eq!((e.line, e.column), (Some(4), Some(1)));
    assert!(
        e.message.contains("unknown field `concurency`"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("concurrency"),
        "it lists the right key: {}",
        e.message
    );
    assert!(
        e.to_string()
            .starts_with("/home/u/.config/corral/config.toml:4:1: unknown field"),
        "{e}"
    );
}

#[test]
fn a_misspelled_profile_key_points_into_the_profile() {
    let e = error("[agents.mine]\nkind = \"claude\"\nmodle = \"opus\"\n");
    assert_eq!((e.line, e.column), (Some(3), Some(1)));
    assert!(e.message.contains("unknown field `modle`"), "{}", e.message);
}

#[test]
fn a_value_of_the_wrong_type_names_its_line() {
    let e = error("# comment\n[defaults]\nbell = \"loud\"\nconcurrency = 2\n");
    assert_eq!((e.line, e.column), (Some(3), Some(8)));
    assert!(e.message.contains("invalid type"), "{}", e.message);
    assert!(e.message.contains("bool"), "{}", e.message);

    let e = error("[defaults]\nconcurrency = 0\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("at least 1"), "{}", e.message);

    let e = error("[defaults]\n\ntimeout = -5\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("seconds"), "{}", e.message);
}

#[test]
fn bad_kinds_and_misplaced_options_are_explained() {
    let e = error("[agents.x]\nkind = \"copilot\"\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains("unknown variant `copilot`"),
        "{}",
        e.message
    );

    let e = error("\n[agents.helper]\nbinary = \"h\"\n");
    assert_eq!(e.line, Some(2), "the profile's header");
    assert!(e.message.contains("needs `kind`"), "{}", e.message);

    let e = error("[agents.c]\nkind = \"claude\"\nbase_url = \"http://x\"\n");
    assert_eq!(e.line, Some(3));
    assert!(
        e.message.contains("`base_url` is not used"),
        "{}",
        e.message
    );
    assert!(e.message.contains("`openai`"), "{}", e.message);

    let e = error("[agents.sh]\nkind = \"command\"\n");
    assert!(e.message.contains("needs `argv`"), "{}", e.message);

    let e = error("[defaults]\nagent = \"ghost\"\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("`ghost`"), "{}", e.message);

    let e = error("[defaults.concurrency_per_agent]\nclaud = 2\n");
    assert_eq!(e.line, Some(2));
    assert!(
        e.message.contains("unknown agent kind `claud`"),
        "{}",
        e.message
    );

    let e = error("[defaults]\nagent = \"claude\"\nagent = \"codex\"\n");
    assert_eq!(
        e.line,
        Some(3),
        "a duplicate key is a TOML error with a place"
    );
}

#[test]
fn kinds_without_an_adapter_are_listed_but_refuse_to_run() {
    let c = parse("[agents.local]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\n[agents.sh]\nkind = \"command\"\nargv = [\"bash\"]\n").unwrap();
    let unsupported: Vec<ProfileKind> = ProfileKind::ALL
        .into_iter()
        .filter(|k| k.agent_kind().is_none())
        .collect();
    for (name, kind) in [("local", ProfileKind::Openai), ("sh", ProfileKind::Command)] {
        assert_eq!(c.profile(name).unwrap().kind, Some(kind));
        match c.resolve(Some(name)) {
            Ok(r) => assert!(!unsupported.contains(&kind), "{r:?}"),
            Err(e) => {
                assert!(unsupported.contains(&kind));
                assert!(e.contains(&format!("kind `{}`", kind.name())), "{e}");
                assert!(e.contains("cannot run yet"), "{e}");
            }
        }
    }
}

#[test]
fn a_missing_file_means_defaults_unless_named_explicitly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let c = Config::load(&missing, false).unwrap();
    assert!(c.profile("claude").is_some());
    let e = Config::load(&missing, true).unwrap_err();
    assert!(e.to_string().contains("nope.toml"), "{e}");
    assert!(e.message.contains("cannot read"), "{}", e.message);
}

#[test]
fn the_theme_is_color_or_mono() {
    let c = parse("[defaults]\ntheme = \"mono\"\n").expect("mono parses");
    assert_eq!(c.defaults.theme, Some(corral::config::ThemeName::Mono));
    let e = error("[defaults]\n\ntheme = \"rainbow\"\n");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("rainbow"), "{}", e.message);
}
