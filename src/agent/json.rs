//! Reading the JSON lines agents print: the small lookups every parser
//! needs, said once.
//!
//! Pure: never does IO and never panics, whatever the line holds. It must
//! not learn any one agent's event names; that belongs to its parser.

use serde_json::{Map, Value};

use super::sanitize::sanitize_line;

/// The string at `key` of `obj`, if it is a string.
pub(crate) fn str_field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

/// The line as a JSON event object (one with a string `type`). A PTY may
/// put escape sequences in front of the `{`; those are skipped when nothing
/// visible precedes it.
pub(crate) fn json_object(line: &str) -> Option<Map<String, Value>> {
    let start = line.find('{')?;
    let (prefix, body) = line.split_at(start);
    if !prefix.is_empty() && !sanitize_line(prefix).trim().is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(map)) if map.get("type").is_some_and(Value::is_string) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_behind_escape_sequences_is_read_and_one_behind_text_is_not() {
        let event = json_object("\u{1b}[?25l{\"type\":\"x\",\"n\":1}").expect("an event");
        assert_eq!(str_field(&event, "type"), Some("x"));
        assert_eq!(str_field(&event, "n"), None, "a number is not a string");
        assert!(json_object("note: {\"type\":\"x\"}").is_none());
        assert!(json_object("{\"kind\":\"x\"}").is_none(), "no type");
        assert!(json_object("{\"type\":7}").is_none(), "type not a string");
        assert!(json_object("[{\"type\":\"x\"}]").is_none(), "not an object");
    }
}
