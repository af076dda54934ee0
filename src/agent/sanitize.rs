//! Making agent text safe to print on the user's terminal.
//!
//! Agents run under a pseudo-terminal and write escape sequences (mode
//! resets, window titles, cursor moves) next to their output. Anything corral
//! shows as raw text goes through [`sanitize_line`] first, so a hostile or
//! broken agent cannot move the cursor, change the title or switch modes.
//!
//! Invisible characters that change how text reads (bidi overrides and
//! isolates, zero-width characters, tag characters) are not removed but made
//! visible as a placeholder such as `⟨U+202E⟩` (see [`placeholder`]), so the
//! command shown in an approval prompt reads the same as the one that runs.
//! [`escape_json_output`] does the same job for `--json` output.
//!
//! Pure string transformation: never does IO and never panics, whatever the
//! input.

/// String terminator as a C1 control (8-bit form of `ESC \`).
const C1_ST: char = '\u{9c}';
/// Control sequence introducer as a C1 control (8-bit form of `ESC [`).
const C1_CSI: char = '\u{9b}';
/// Operating system command as a C1 control (8-bit form of `ESC ]`).
const C1_OSC: char = '\u{9d}';
/// The C1 controls that open a string ended by ST: DCS, SOS, PM, APC.
const C1_STRING_OPENERS: [char; 4] = ['\u{90}', '\u{98}', '\u{9e}', '\u{9f}'];

/// Removes terminal control sequences and control characters from `s`.
///
/// Dropped: CSI sequences (`ESC [ ... final`), OSC strings (`ESC ] ...`
/// ended by BEL or ST), DCS/SOS/PM/APC strings (ended by ST), two-byte and
/// intermediate escape sequences (`ESC 7`, `ESC ( B`), the same sequences
/// introduced by 8-bit C1 controls, every other C0 control except `\t`, DEL,
/// and every C1 control (U+0080..U+009F). An unterminated string sequence
/// swallows the rest of `s`. All other characters, including any non-ASCII
/// Unicode, are kept unchanged except the invisible characters of
/// [`is_invisible`], which become a visible [`placeholder`].
pub fn sanitize_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        // Most text is printable ASCII: copied a run at a time.
        let plain = rest
            .bytes()
            .position(|b| !(b' '..=b'~').contains(&b))
            .unwrap_or(rest.len());
        out.push_str(&rest[..plain]);
        let mut chars = rest[plain..].chars();
        let Some(c) = chars.next() else {
            break;
        };
        match c {
            '\u{1b}' => match peek(&chars) {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']') => {
                    chars.next();
                    skip_string(&mut chars, true);
                }
                Some('P' | 'X' | '^' | '_') => {
                    chars.next();
                    skip_string(&mut chars, false);
                }
                Some(n) if ('\u{20}'..='\u{2f}').contains(&n) => {
                    // Intermediate bytes (`(`, `#`, ` `, ...) then one final byte.
                    while next_if(&mut chars, |c| ('\u{20}'..='\u{2f}').contains(&c)) {}
                    next_if(&mut chars, |c| ('\u{30}'..='\u{7e}').contains(&c));
                }
                Some(n) if ('\u{30}'..='\u{7e}').contains(&n) => {
                    // Two-byte sequence: `ESC 7`, `ESC =`, `ESC c`, ...
                    chars.next();
                }
                // A lone ESC (end of text, or followed by something that
                // cannot continue a sequence): drop just the ESC.
                _ => {}
            },
            C1_CSI => skip_csi(&mut chars),
            C1_OSC => skip_string(&mut chars, true),
            c if C1_STRING_OPENERS.contains(&c) => skip_string(&mut chars, false),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c if is_invisible(c) => out.push_str(&placeholder(c)),
            c => out.push(c),
        }
        rest = chars.as_str();
    }
    out
}

/// The next character, left in place.
fn peek(chars: &std::str::Chars<'_>) -> Option<char> {
    chars.clone().next()
}

/// Takes the next character if `ok` says so; returns whether it did.
fn next_if(chars: &mut std::str::Chars<'_>, ok: impl Fn(char) -> bool) -> bool {
    match peek(chars) {
        Some(c) if ok(c) => {
            chars.next();
            true
        }
        _ => false,
    }
}

/// Characters that draw nothing, or reorder the text around them, in a
/// terminal: bidi embeddings, overrides, isolates and marks (U+061C,
/// U+200E/F, U+202A..E, U+2066..9), zero-width spaces and joiners
/// (U+200B..D, U+2060..4, U+FEFF), the soft hyphen, the Mongolian vowel
/// separator, deprecated format controls (U+206A..F), interlinear
/// annotations (U+FFF9..B) and tag characters (U+E0000..U+E007F).
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}'
        | '\u{61c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e0000}'..='\u{e007f}')
}

/// The visible stand-in for an invisible character: `⟨U+202E⟩`.
pub fn placeholder(c: char) -> String {
    format!("⟨U+{:04X}⟩", c as u32)
}

/// Serialized JSON made safe to print: DEL, the C1 controls (which
/// serde_json leaves raw, and which a terminal reads as CSI, OSC, ...) and
/// the invisible characters of [`is_invisible`] are written as `\uXXXX`
/// escapes. Serialized JSON holds non-ASCII characters only inside strings,
/// so the result is the same JSON value.
pub fn escape_json_output(json: String) -> String {
    if !json.chars().any(needs_json_escape) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if needs_json_escape(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_json_escape(c: char) -> bool {
    ('\u{7f}'..='\u{9f}').contains(&c) || is_invisible(c)
}

/// Skips the rest of a CSI sequence: parameter bytes (0x30..0x3F),
/// intermediate bytes (0x20..0x2F), then one final byte (0x40..0x7E). A
/// character that fits none of these ends the sequence and is left for the
/// caller.
fn skip_csi(chars: &mut std::str::Chars<'_>) {
    while next_if(chars, |c| ('\u{20}'..='\u{3f}').contains(&c)) {}
    next_if(chars, |c| ('\u{40}'..='\u{7e}').contains(&c));
}

/// Skips a control string up to and including its terminator: ST (`ESC \`
/// or U+009C), and BEL too when `bel_ends` (OSC). Without a terminator the
/// rest of the text is skipped.
fn skip_string(chars: &mut std::str::Chars<'_>, bel_ends: bool) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' if bel_ends => return,
            C1_ST => return,
            '\u{1b}' if next_if(chars, |c| c == '\\') => return,
            // Anything else, a stray ESC included, belongs to the string and
            // is dropped: resuming output mid-sequence could leak its tail.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_json_output, sanitize_line};

    #[test]
    fn bidi_and_zero_width_characters_become_visible() {
        // `rm -rf ~ #` hidden behind a right-to-left override.
        assert_eq!(
            sanitize_line("echo \u{202e}~ fr- mr\u{202c} ok"),
            "echo ⟨U+202E⟩~ fr- mr⟨U+202C⟩ ok"
        );
        assert_eq!(sanitize_line("a\u{200b}b\u{feff}"), "a⟨U+200B⟩b⟨U+FEFF⟩");
        assert_eq!(
            sanitize_line("\u{2066}x\u{2069}\u{200f}\u{61c}"),
            "⟨U+2066⟩x⟨U+2069⟩⟨U+200F⟩⟨U+061C⟩"
        );
        assert_eq!(sanitize_line("t\u{e0041}"), "t⟨U+E0041⟩");
    }

    #[test]
    fn json_output_escapes_c1_controls_and_invisible_characters() {
        let raw = serde_json::to_string(&serde_json::json!({
            "text": "a\u{9b}31m\u{9d}0;t\u{7}\u{202e}b\u{e0041}é"
        }))
        .unwrap();
        let out = escape_json_output(raw);
        assert!(!out.chars().any(|c| ('\u{7f}'..='\u{9f}').contains(&c)));
        assert!(!out.contains('\u{202e}'));
        assert!(out.contains("\\u009b") && out.contains("\\u202e"));
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["text"], "a\u{9b}31m\u{9d}0;t\u{7}\u{202e}b\u{e0041}é");
        assert_eq!(escape_json_output("{\"a\":\"é\"}".into()), "{\"a\":\"é\"}");
    }

    #[test]
    fn plain_text_and_unicode_are_kept() {
        let s = "héllo wörld — 日本語 🦀\tend";
        assert_eq!(sanitize_line(s), s);
    }

    #[test]
    fn trailing_bytes_claude_writes_under_a_pty_vanish() {
        // The exact bytes after the last `result` line of
        // shared/transcripts/claude/text_pty.jsonl.
        let tail = "\u{1b}[?1006l\u{1b}[?1003l\u{1b}[?1002l\u{1b}[?1000l\u{1b}(B\u{f}\
                    \u{1b}[>4m\u{1b}[<u\u{1b}[?1004l\u{1b}[?2031l\u{1b}[?2004l\u{1b}[?25h\
                    \u{1b}7\u{1b}[r\u{1b}8\u{1b}]0;\u{7}\u{1b}[?25h";
        assert_eq!(sanitize_line(tail), "");
    }

    #[test]
    fn csi_colours_and_cursor_moves_are_removed() {
        assert_eq!(sanitize_line("\u{1b}[31mred\u{1b}[0m ok"), "red ok");
        assert_eq!(sanitize_line("a\u{1b}[2J\u{1b}[1;1Hb"), "ab");
        assert_eq!(sanitize_line("x\u{1b}[38;2;1;2;3my"), "xy");
    }

    #[test]
    fn osc_title_changes_are_removed_with_either_terminator() {
        assert_eq!(sanitize_line("a\u{1b}]0;evil title\u{7}b"), "ab");
        assert_eq!(sanitize_line("a\u{1b}]2;evil\u{1b}\\b"), "ab");
        assert_eq!(
            sanitize_line("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
    }

    #[test]
    fn dcs_apc_pm_sos_strings_are_removed() {
        assert_eq!(sanitize_line("a\u{1b}Pq#0;1;2\u{1b}\\b"), "ab");
        assert_eq!(sanitize_line("a\u{1b}_Gf=100;AAAA\u{1b}\\b"), "ab");
        assert_eq!(sanitize_line("a\u{1b}^private\u{1b}\\b"), "ab");
        assert_eq!(sanitize_line("a\u{1b}Xsos\u{1b}\\b"), "ab");
    }

    #[test]
    fn two_byte_and_charset_sequences_are_removed() {
        assert_eq!(sanitize_line("a\u{1b}7b\u{1b}8c"), "abc");
        assert_eq!(sanitize_line("a\u{1b}(Bb\u{1b})0c\u{1b}#8d"), "abcd");
        assert_eq!(sanitize_line("a\u{1b}cb\u{1b}=c"), "abc");
    }

    #[test]
    fn c0_controls_are_removed_but_tab_is_kept() {
        assert_eq!(
            sanitize_line("a\u{7}b\u{8}c\rd\ne\u{0}f\u{7f}g\th"),
            "abcdefg\th"
        );
    }

    #[test]
    fn c1_controls_and_c1_sequences_are_removed() {
        assert_eq!(sanitize_line("a\u{85}b\u{84}c"), "abc");
        assert_eq!(sanitize_line("a\u{9b}31mb"), "ab");
        assert_eq!(sanitize_line("a\u{9d}0;title\u{7}b"), "ab");
        assert_eq!(sanitize_line("a\u{90}data\u{9c}b"), "ab");
    }

    #[test]
    fn unterminated_sequences_do_not_leak_or_panic() {
        assert_eq!(sanitize_line("ok\u{1b}"), "ok");
        assert_eq!(sanitize_line("ok\u{1b}["), "ok");
        assert_eq!(sanitize_line("ok\u{1b}[12;"), "ok");
        assert_eq!(sanitize_line("ok\u{1b}]0;never ends"), "ok");
        assert_eq!(sanitize_line("ok\u{1b}("), "ok");
    }

    #[test]
    fn a_broken_csi_does_not_swallow_following_text() {
        // A character that cannot be part of a CSI ends it; text after stays.
        assert_eq!(sanitize_line("a\u{1b}[1é b"), "aé b");
        assert_eq!(sanitize_line("a\u{1b}\u{1b}[0mb"), "ab");
    }
}
