//! Escaping text for systemd unit files. A unit file gives `%` (specifiers) a meaning everywhere,
//! `$` (variable expansion) a meaning in command lines, and splits command lines and
//! `Environment=` at whitespace unless quoted, with C escapes (`\n`, `\"`, `\\`) inside. Every value
//! horizon writes into a unit goes through one of these functions, so a mount path or an
//! environment value with `%`, `$`, spaces, quotes or newlines means exactly itself.

use std::fmt::Write as _;

/// Where in a unit file a value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    /// One argument of `ExecStart=` and friends: specifiers and `$` are expanded.
    Command,
    /// One assignment of `Environment=`: specifiers are expanded, `$` is not.
    Environment,
}

/// One argument of a command line (`ExecStart=`), quoted when it must be.
pub fn exec_arg(arg: &str) -> String {
    // A lone `;` separates commands in older systemd; its documented escape is `\;`.
    if arg == ";" {
        return "\\;".to_owned();
    }
    quoted(arg, Context::Command)
}

/// A command line (`ExecStart=`) of these arguments.
pub fn exec_line<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|arg| exec_arg(arg.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The value of one `Environment=` line setting `name` to `value` (always quoted).
pub fn environment_assignment(name: &str, value: &str) -> String {
    let escaped = escape(&format!("{name}={value}"), Context::Environment);
    format!("\"{escaped}\"")
}

/// A plain setting value (`Description=`, Quadlet's `Volume=`): specifiers escaped. A plain value
/// has no quoting and no escapes for line breaks or control characters, so text with them
/// cannot be written: `None`.
pub fn plain_value(text: &str) -> Option<String> {
    if text.chars().any(char::is_control) {
        return None;
    }
    Some(text.replace('%', "%%"))
}

/// `text` quoted for `context` when anything in it would otherwise be read differently.
fn quoted(text: &str, context: Context) -> String {
    let escaped = escape(text, context);
    let needs_quotes = text.is_empty()
        || escaped != text
        || text
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '"');
    if needs_quotes {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// The characters of `text` escaped for `context`, for use inside double quotes.
fn escape(text: &str, context: Context) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%%"),
            '$' if context == Context::Command => out.push_str("$$"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                // `\xNN` is one byte; `\uNNNN` one character, whatever its encoding.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_arguments_are_escaped_and_quoted_only_when_needed() {
        let cases = [
            ("start", "start"),
            ("/usr/bin/horizon-container", "/usr/bin/horizon-container"),
            ("", "\"\""),
            ("two words", "\"two words\""),
            ("100%", "\"100%%\""),
            ("%i", "\"%%i\""),
            ("$HOME", "\"$$HOME\""),
            ("${HOME}/x", "\"$${HOME}/x\""),
            ("say \"hi\"", "\"say \\\"hi\\\"\""),
            ("it's", "\"it\\'s\""),
            ("back\\slash", "\"back\\\\slash\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("tab\there", "\"tab\\there\""),
            ("bell\u{7}", "\"bell\\u0007\""),
            (";", "\\;"),
            ("a;b", "a;b"),
            ("--name=x", "--name=x"),
            ("é", "é"),
        ];
        for (arg, expected) in cases {
            assert_eq!(exec_arg(arg), expected, "{arg:?}");
        }
        assert_eq!(
            exec_line(&["/bin/echo", "a b", "$x"]),
            "/bin/echo \"a b\" \"$$x\""
        );
    }

    #[test]
    fn environment_assignments_escape_specifiers_but_not_dollars() {
        let cases = [
            ("A", "b", "\"A=b\""),
            ("A", "", "\"A=\""),
            ("A", "two words", "\"A=two words\""),
            ("A", "50%", "\"A=50%%\""),
            ("A", "$HOME", "\"A=$HOME\""),
            ("A", "say \"hi\"", "\"A=say \\\"hi\\\"\""),
            ("A", "x\ny", "\"A=x\\ny\""),
            ("A", "c:\\d", "\"A=c:\\\\d\""),
            ("A", "=", "\"A==\""),
        ];
        for (name, value, expected) in cases {
            assert_eq!(
                environment_assignment(name, value),
                expected,
                "{name}={value:?}"
            );
        }
    }

    #[test]
    fn plain_values_escape_specifiers_and_refuse_control_characters() {
        let cases = [
            ("/home/u/My Files", Some("/home/u/My Files")),
            ("/srv/100%", Some("/srv/100%%")),
            ("/srv/$x \"q\"", Some("/srv/$x \"q\"")),
            ("/a\nb", None),
            ("/a\tb", None),
        ];
        for (text, expected) in cases {
            assert_eq!(plain_value(text).as_deref(), expected, "{text:?}");
        }
    }
}
