//! Answering from the cockpit, key by key: each prompt kind (approval with
//! y / a / n + message, single and multi-select, own words, several
//! questions, the follow-up line) driven through the real keymap and app
//! state, asserting the exact core `Command` that comes out, and for some
//! what the core then writes to claude's stdin. Also the key precedence
//! (the box's keys first, the cockpit's otherwise), `m` on a waiting task,
//! putting a question aside, and jumping between waiting tasks.

mod tui_support;

use corral::agent::{AgentKind, Answer};
use corral::core::event::{AgentEvent, Question, QuestionItem, QuestionKind, QuestionOption};
use corral::core::{Command, Effect, Event, State, TaskId, update};
use corral::tui::app::{App, Intent, Overlay};
use corral::tui::keymap::{Mode, map_key};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;
use tui_support::*;

fn k(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ch(c: char) -> KeyEvent {
    k(KeyCode::Char(c))
}

/// One key through the keymap and the app, as the event loop does it;
/// the commands it asks the core for.
fn press(app: &mut App, state: &State, key: KeyEvent) -> Vec<Command> {
    app.sync(state);
    app.sync_answer(state);
    let intents = app.handle(map_key(key, app.mode()), state);
    intents
        .iter()
        .map(|i| i.command().unwrap_or_else(|| panic!("{i:?} is no command")))
        .collect()
}

fn typed(app: &mut App, state: &State, text: &str) {
    for c in text.chars() {
        assert_eq!(press(app, state, ch(c)), vec![], "typing {c:?}");
    }
}

/// A live claude task (the cockpit's settings: the session stays open).
fn live_state() -> State {
    State::new(corral::tui::settings())
}

fn ask(state: &mut State, task: TaskId, q: Question) {
    agent(state, T0 + 1_000, task, AgentEvent::Question(q));
}

fn approval(id: &str, command: &str) -> Question {
    Question {
        id: id.into(),
        kind: QuestionKind::Approval,
        tool: Some("Bash".into()),
        input: json!({"command": command}),
        tool_use_id: Some(format!("toolu_{id}")),
        questions: vec![],
    }
}

fn option(label: &str) -> QuestionOption {
    QuestionOption {
        label: label.into(),
        description: None,
    }
}

fn questions(items: Vec<QuestionItem>) -> Question {
    Question {
        id: "ask-1".into(),
        kind: QuestionKind::Question,
        tool: Some("AskUserQuestion".into()),
        input: json!({"questions": []}),
        tool_use_id: Some("toolu_ask".into()),
        questions: items,
    }
}

fn item(question: &str, options: &[&str], multi: bool) -> QuestionItem {
    QuestionItem {
        question: question.into(),
        header: None,
        options: options.iter().map(|l| option(l)).collect(),
        multi_select: multi,
    }
}

/// One task blocked on `q`, selected.
fn blocked(q: Question) -> (App, State, TaskId) {
    let mut s = live_state();
    let id = launch(&mut s, T0, "do the thing");
    ask(&mut s, id, q);
    let mut a = app(100, 30, true);
    a.sync(&s);
    a.select(id);
    a.sync_answer(&s);
    (a, s, id)
}

fn answer(task: TaskId, pairs: &[(&str, &str)]) -> Command {
    Command::Answer {
        task,
        answer: Answer::Answer {
            answers: pairs
                .iter()
                .map(|(q, a)| (q.to_string(), a.to_string()))
                .collect(),
        },
    }
}

#[test]
fn y_allows_once_and_claude_gets_an_allow_on_stdin() {
    let (mut a, mut s, id) = blocked(approval("req-1", "touch marker"));
    assert_eq!(press(&mut a, &s, ch('?')), vec![]);
    assert!(
        matches!(a.overlay, Overlay::Help),
        "? is help, not an answer"
    );
    press(&mut a, &s, k(KeyCode::Esc));
    assert_eq!(a.mode(), Mode::Approve);
    let cmds = press(&mut a, &s, ch('y'));
    assert_eq!(
        cmds,
        vec![Command::Answer {
            task: id,
            answer: Answer::Allow {
                updated_input: None
            }
        }]
    );
    // Through the core: the control response for request req-1 goes out.
    let effects = update(&mut s, T0 + 2_000, Event::Command(cmds[0].clone())).effects;
    let [Effect::WriteStdin { task, line }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert_eq!(*task, id);
    let sent: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert_eq!(sent["type"], "control_response");
    assert_eq!(sent["response"]["request_id"], "req-1");
    assert_eq!(sent["response"]["response"]["behavior"], "allow");
    a.sync_answer(&s);
    assert_eq!(a.mode(), Mode::Normal, "answered: the box is gone");
}

#[test]
fn a_allows_always_and_the_same_command_is_not_asked_again() {
    let (mut a, mut s, id) = blocked(approval("req-1", "cargo test"));
    let cmds = press(&mut a, &s, ch('a'));
    assert_eq!(cmds, vec![Command::AllowAlways { task: id }]);
    update(&mut s, T0 + 2_000, Event::Command(cmds[0].clone()));
    // The same command later is allowed by the rule; another one asks.
    let effects = update(
        &mut s,
        T0 + 3_000,
        Event::Agent {
            task: id,
            event: AgentEvent::Question(approval("req-2", "cargo test")),
        },
    )
    .effects;
    assert!(matches!(effects.as_slice(), [Effect::WriteStdin { .. }]));
    a.sync_answer(&s);
    assert_eq!(a.mode(), Mode::Normal, "nothing to answer");
    ask(&mut s, id, approval("req-3", "rm -rf target"));
    a.sync_answer(&s);
    assert_eq!(a.mode(), Mode::Approve);
}

#[test]
fn n_then_a_message_denies_and_esc_goes_back_to_the_choice() {
    let (mut a, s, id) = blocked(approval("req-1", "touch marker"));
    assert_eq!(press(&mut a, &s, ch('n')), vec![]);
    assert_eq!(a.mode(), Mode::Typing);
    typed(&mut a, &s, "nope");
    assert_eq!(press(&mut a, &s, k(KeyCode::Esc)), vec![]);
    assert_eq!(a.mode(), Mode::Approve, "Esc: back to y / a / n");
    press(&mut a, &s, ch('n'));
    typed(&mut a, &s, "use a temp dir");
    // Alt-Enter breaks the line, Enter sends.
    press(&mut a, &s, KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
    typed(&mut a, &s, "instead");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![Command::Answer {
            task: id,
            answer: Answer::Deny {
                message: "use a temp dir\ninstead".into()
            }
        }]
    );
}

#[test]
fn a_single_choice_is_picked_with_the_arrows_and_enter() {
    let (mut a, s, id) = blocked(questions(vec![item(
        "Which colour?",
        &["Red", "Blue", "Green"],
        false,
    )]));
    assert_eq!(a.mode(), Mode::Choose);
    press(&mut a, &s, k(KeyCode::Down));
    press(&mut a, &s, ch('j'));
    press(&mut a, &s, ch('k'));
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(id, &[("Which colour?", "Blue")])]
    );
}

#[test]
fn a_multi_select_sends_every_ticked_option() {
    let (mut a, s, id) = blocked(questions(vec![item(
        "Which targets?",
        &["linux", "mac", "windows"],
        true,
    )]));
    press(&mut a, &s, ch(' '));
    press(&mut a, &s, k(KeyCode::Down));
    press(&mut a, &s, k(KeyCode::Down));
    press(&mut a, &s, ch(' '));
    press(&mut a, &s, ch('2'));
    press(&mut a, &s, ch('2'));
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(id, &[("Which targets?", "linux, windows")])]
    );
}

#[test]
fn tab_or_the_last_row_types_an_own_answer() {
    let q = || questions(vec![item("Which colour?", &["Red", "Blue"], false)]);
    let (mut a, s, id) = blocked(q());
    press(&mut a, &s, k(KeyCode::Tab));
    assert_eq!(a.mode(), Mode::Typing);
    typed(&mut a, &s, "teal");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(id, &[("Which colour?", "teal")])]
    );
    let (mut a, s, id) = blocked(q());
    press(&mut a, &s, k(KeyCode::Up)); // wraps to "other"
    press(&mut a, &s, k(KeyCode::Enter));
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![],
        "empty: not sent"
    );
    typed(&mut a, &s, "mauve");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(id, &[("Which colour?", "mauve")])]
    );
}

#[test]
fn several_questions_are_answered_one_after_another_then_sent_once() {
    let (mut a, s, id) = blocked(questions(vec![
        item("Which targets?", &["linux", "mac"], true),
        item("Which colour?", &["Red", "Blue"], false),
        item("Release name?", &[], false),
    ]));
    press(&mut a, &s, ch('2'));
    assert_eq!(press(&mut a, &s, k(KeyCode::Enter)), vec![]);
    assert_eq!(press(&mut a, &s, ch('1')), vec![], "a digit picks Red");
    assert_eq!(a.mode(), Mode::Typing, "no options: typed");
    typed(&mut a, &s, "Widget 2");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(
            id,
            &[
                ("Which targets?", "mac"),
                ("Which colour?", "Red"),
                ("Release name?", "Widget 2")
            ]
        )]
    );
}

#[test]
fn m_sends_a_follow_up_with_line_breaks() {
    let mut s = live_state();
    let id = launch(&mut s, T0, "write docs");
    agent(&mut s, T0 + 500, id, text("Done."));
    agent(&mut s, T0 + 600, id, turn_end(false, "Done."));
    let mut a = app(100, 30, true);
    a.sync(&s);
    assert_eq!(press(&mut a, &s, ch('m')), vec![]);
    assert_eq!(a.mode(), Mode::Typing);
    typed(&mut a, &s, "now add");
    press(
        &mut a,
        &s,
        KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL),
    );
    typed(&mut a, &s, "examples");
    let cmds = press(&mut a, &s, k(KeyCode::Enter));
    assert_eq!(
        cmds,
        vec![Command::FollowUp {
            task: id,
            text: "now add\nexamples".into()
        }]
    );
    assert_eq!(a.mode(), Mode::Normal);
    // The core sends it live: the session is still open.
    let effects = update(&mut s, T0 + 700, Event::Command(cmds[0].clone())).effects;
    let [Effect::WriteStdin { line, .. }] = effects.as_slice() else {
        panic!("{effects:?}");
    };
    assert!(line.contains("now add\\nexamples"), "{line}");
    // Esc cancels a message without sending anything.
    press(&mut a, &s, ch('m'));
    typed(&mut a, &s, "never mind");
    assert_eq!(press(&mut a, &s, k(KeyCode::Esc)), vec![]);
    assert_eq!(a.mode(), Mode::Normal);
}

#[test]
fn m_on_a_waiting_task_replies_in_words() {
    let (mut a, s, id) = blocked(approval("req-1", "touch marker"));
    press(&mut a, &s, ch('m'));
    assert_eq!(a.mode(), Mode::Typing);
    typed(&mut a, &s, "explain first");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![Command::Answer {
            task: id,
            answer: Answer::Deny {
                message: "explain first".into()
            }
        }]
    );
    let (mut a, s, id) = blocked(questions(vec![item("Which colour?", &["Red"], false)]));
    press(&mut a, &s, ch('m'));
    typed(&mut a, &s, "you choose");
    assert_eq!(
        press(&mut a, &s, k(KeyCode::Enter)),
        vec![answer(id, &[("Which colour?", "you choose")])]
    );
}

#[test]
fn a_message_that_cannot_go_now_says_why_instead_of_vanishing() {
    let mut s = live_state();
    let mut busy = spec("summarise");
    busy.agent = AgentKind::Codex;
    // codex's one-shot `exec`: no live process to take a message mid-turn.
    busy.options.protocol = Some("exec".into());
    update(&mut s, T0, Event::Command(Command::launch(busy)));
    let mut a = app(100, 30, true);
    a.sync(&s);
    assert_eq!(press(&mut a, &s, ch('m')), vec![]);
    assert_eq!(a.mode(), Mode::Normal, "no message line opens");
    assert!(
        a.notice
            .as_deref()
            .unwrap_or("")
            .contains("when its turn ends"),
        "{:?}",
        a.notice
    );
}

#[test]
fn the_box_keys_come_first_and_the_cockpit_keeps_the_rest() {
    let mut s = live_state();
    let first = launch(&mut s, T0, "first");
    let second = launch(&mut s, T0 + 10, "second");
    ask(&mut s, second, approval("req-1", "touch x"));
    let mut a = app(100, 30, true);
    a.sync(&s);
    a.select(second);
    // x asks to kill the waiting task; any key but y closes the question.
    press(&mut a, &s, ch('x'));
    assert!(matches!(a.overlay, Overlay::ConfirmKill(t) if t == second));
    press(&mut a, &s, ch('n'));
    assert_eq!(a.mode(), Mode::Approve);
    // j moves in the list (the waiting task is on top, the other below).
    assert_eq!(App::list_order(&s), vec![1, 0]);
    press(&mut a, &s, ch('j'));
    assert_eq!(a.selected, Some(first));
    assert_eq!(a.mode(), Mode::Normal);
    // b comes back to the waiting task and its question.
    press(&mut a, &s, ch('b'));
    assert_eq!(a.selected, Some(second));
    assert_eq!(a.mode(), Mode::Approve);
}

#[test]
fn esc_puts_a_question_aside_and_enter_or_b_takes_it_up_again() {
    let mut s = live_state();
    let one = launch(&mut s, T0, "one");
    let two = launch(&mut s, T0 + 10, "two");
    ask(&mut s, one, approval("req-1", "touch a"));
    ask(
        &mut s,
        two,
        questions(vec![item("Which colour?", &["Red"], false)]),
    );
    let mut a = app(100, 30, true);
    a.sync(&s);
    a.select(one);
    press(&mut a, &s, k(KeyCode::Esc));
    assert_eq!(a.mode(), Mode::Normal, "put aside: the task still waits");
    assert_eq!(press(&mut a, &s, ch('y')), vec![], "y means nothing now");
    press(&mut a, &s, k(KeyCode::Enter));
    assert_eq!(a.mode(), Mode::Approve);
    press(&mut a, &s, ch('b'));
    assert_eq!((a.selected, a.mode()), (Some(two), Mode::Choose));
    press(&mut a, &s, ch('b'));
    assert_eq!((a.selected, a.mode()), (Some(one), Mode::Approve));
}

#[test]
fn a_finished_answer_is_one_intent_for_the_right_task() {
    // Two waiting tasks: the answer goes to the selected one only.
    let mut s = live_state();
    let one = launch(&mut s, T0, "one");
    let two = launch(&mut s, T0 + 10, "two");
    ask(&mut s, one, approval("req-1", "touch a"));
    ask(&mut s, two, approval("req-2", "touch b"));
    let mut a = app(100, 30, true);
    a.sync(&s);
    a.select(two);
    a.sync_answer(&s);
    let intents = a.handle(map_key(ch('y'), a.mode()), &s);
    assert_eq!(
        intents,
        vec![Intent::Answer(
            two,
            Answer::Allow {
                updated_input: None
            }
        )]
    );
}
