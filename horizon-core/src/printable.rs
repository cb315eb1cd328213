//! Text that came from a file (or a container, or a registry), made safe to show on a terminal.
//! A definition's keys, values and file name are whatever its author wrote: an escape sequence
//! there would clear the screen, retitle the window or hide the rest of a message, a NUL or a C1
//! control would be acted on, and a bidi override would show text in another order than it is.
//! Every character a terminal acts on is written as a visible escape instead, in the form Rust's
//! `{:?}` uses (`\u{1b}`, `\0`, `\t`), so a message matches the quoted values it already holds.
//!
//! Only what is shown is escaped: the value itself (what a container gets, what `--json` holds)
//! stays as it was written. A backslash is left as it is, so a path reads the same; that a written
//! `\u{1b}` and an escaped ESC look alike is the price.

use std::borrow::Cow;
use std::fmt::Write;

/// The bidirectional formatting characters (Unicode's Bidi_Control property): they reorder how
/// the text around them is drawn.
const BIDI_CONTROLS: &[char] = &[
    '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];
/// The line and paragraph separators: some terminals and viewers break the line at them.
const SEPARATORS: &[char] = &['\u{2028}', '\u{2029}'];

/// Whether a terminal would act on `c` rather than draw it.
fn acts(c: char) -> bool {
    c.is_control() || BIDI_CONTROLS.contains(&c) || SEPARATORS.contains(&c)
}

/// `text` with every character a terminal acts on written as an escape (see the module
/// documentation); borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_keeping(text, None)
}

/// [`escape`], keeping the line breaks: for a message of several lines, the lines being horizon's
/// and the text in them not (a definition's values can never hold a line break; its keys and file
/// names can, and are escaped where they are read into a message).
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_keeping(text, Some('\n'))
}

fn escape_keeping(text: &str, kept: Option<char>) -> Cow<'_, str> {
    if !text.chars().any(|c| acts(c) && Some(c) != kept) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !acts(c) || Some(c) == kept {
            escaped.push(c);
            continue;
        }
        match c {
            '\0' => escaped.push_str("\\0"),
            '\t' => escaped.push_str("\\t"),
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            // Writing to a String cannot fail.
            other => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(other));
            }
        }
    }
    Cow::Owned(escaped)
}

/// A path as [`escape`] shows it (lossily decoded when it is not UTF-8).
pub fn path(path: &std::path::Path) -> String {
    escape(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_terminal_acts_on_is_written_as_rusts_debug_escapes() {
        let cases = [
            ("plain text, / and \\ stay", "plain text, / and \\ stay"),
            ("x\u{1b}[2J", "x\\u{1b}[2J"),
            ("\u{1b}]0;title\u{7}", "\\u{1b}]0;title\\u{7}"),
            ("a\0b\tc\rd\ne", "a\\0b\\tc\\rd\\ne"),
            ("del\u{7f} csi\u{9b}", "del\\u{7f} csi\\u{9b}"),
            ("abc\u{202e}fed\u{2066}", "abc\\u{202e}fed\\u{2066}"),
            ("line\u{2028}break", "line\\u{2028}break"),
            ("émoji ✓ 中文", "émoji ✓ 中文"),
        ];
        for (text, shown) in cases {
            assert_eq!(escape(text), shown, "{text:?}");
        }
        // The same form `{:?}` gives, for a message quoting a value next to a bare one.
        let value = "x\u{1b}\u{7}\0";
        assert_eq!(format!("{value:?}"), format!("\"{}\"", escape(value)));
        assert!(matches!(escape("nothing to do"), Cow::Borrowed(_)));
        assert_eq!(escape_lines("one\u{1b}\ntwo\t"), "one\\u{1b}\ntwo\\t");
        assert_eq!(
            path(std::path::Path::new("/home/me/\u{1b}[31mred.json")),
            "/home/me/\\u{1b}[31mred.json"
        );
    }
}
