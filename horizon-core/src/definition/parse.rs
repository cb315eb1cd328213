//! A strict JSON reader (RFC 8259) that remembers where every value and key starts, so that every
//! later error can name a line and a column. It refuses what `serde_json` would silently accept or
//! quietly resolve: duplicate keys (in any object, including `environment`), nesting deeper than
//! [`MAX_DEPTH`], and documents larger than [`MAX_DEFINITION_BYTES`] (checked before parsing). It also
//! gives targeted messages for the usual hand-editing mistakes: trailing commas, comments, single
//! quotes, raw newlines in strings.
//!
//! A UTF-8 byte order mark at the very start is accepted and skipped: RFC 8259 §8.1 allows a parser
//! to ignore it, editors on some systems write one, and it carries no meaning. Columns on line 1 are
//! counted after it. Columns count Unicode scalar values, starting at 1.

use std::collections::HashMap;

use super::error::Problem;

/// The largest definition file accepted, checked before any parsing: a definition is a few hundred
/// bytes, so 1 MiB leaves room for anything real while bounding memory and time on hostile input.
pub const MAX_DEFINITION_BYTES: usize = 1024 * 1024;

/// The deepest nesting of arrays and objects accepted. A definition needs 3 (`verify`: object, list,
/// argv); the bound keeps the recursive reader far from the stack limit on hostile input.
pub const MAX_DEPTH: usize = 16;

/// The UTF-8 encoding of U+FEFF, the byte order mark.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A place in a file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line number, from 1.
    pub line: u32,
    /// Column number, from 1, counting characters.
    pub column: u32,
}

impl Position {
    /// The first character of a file.
    pub const START: Position = Position { line: 1, column: 1 };
}

/// A JSON value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the value's first character is.
    pub position: Position,
    /// The value.
    pub value: Value,
}

/// A JSON value whose children carry their positions.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written (definitions have no numeric fields; it is kept only to be refused).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, its members in file order (keys are unique: duplicates are a parse error).
    Object(Vec<Member>),
}

impl Value {
    /// What this value is, for "expected …, found …" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// One `"key": value` member of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Where the key's opening quote is.
    pub key_position: Position,
    /// The value.
    pub value: Node,
}

/// Why a document could not be parsed, and where (`None` for whole-file problems such as size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the problem is, when it has a place.
    pub position: Option<Position>,
    /// What is wrong.
    pub problem: Problem,
}

/// Parses a whole document: checks the size, skips a BOM, checks UTF-8, then reads exactly one JSON
/// value surrounded by optional whitespace.
pub fn parse_json(bytes: &[u8]) -> Result<Node, ParseError> {
    if bytes.len() > MAX_DEFINITION_BYTES {
        return Err(ParseError {
            position: None,
            problem: Problem::TooLarge {
                size: bytes.len() as u64,
                limit: MAX_DEFINITION_BYTES as u64,
            },
        });
    }
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        let before = String::from_utf8_lossy(&bytes[..offset]);
        let mut position = Position::START;
        for c in before.chars() {
            advance(&mut position, c);
        }
        ParseError {
            position: Some(position),
            problem: Problem::NotUtf8,
        }
    })?;
    let mut parser = Parser {
        text,
        offset: 0,
        position: Position::START,
    };
    parser.skip_whitespace()?;
    let node = parser.value(0)?;
    parser.skip_whitespace()?;
    if let Some(c) = parser.peek() {
        return Err(parser.syntax(format!(
            "unexpected {} after the end of the document",
            describe(c)
        )));
    }
    Ok(node)
}

fn advance(position: &mut Position, c: char) {
    if c == '\n' {
        position.line = position.line.saturating_add(1);
        position.column = 1;
    } else {
        position.column = position.column.saturating_add(1);
    }
}

/// A character as shown in a message: quoted, escaped when invisible.
fn describe(c: char) -> String {
    if c.is_alphanumeric() || c.is_ascii_punctuation() {
        format!("`{c}`")
    } else {
        format!("`{}`", c.escape_debug())
    }
}

struct Parser<'a> {
    text: &'a str,
    offset: usize,
    position: Position,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        advance(&mut self.position, c);
        Some(c)
    }

    fn syntax(&self, message: impl Into<String>) -> ParseError {
        self.syntax_at(self.position, message)
    }

    fn syntax_at(&self, position: Position, message: impl Into<String>) -> ParseError {
        ParseError {
            position: Some(position),
            problem: Problem::Syntax {
                message: message.into(),
            },
        }
    }

    fn end_of_file(&self, expected: &str) -> ParseError {
        self.syntax(format!("unexpected end of file: expected {expected}"))
    }

    fn skip_whitespace(&mut self) -> Result<(), ParseError> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\n' | '\r' => {
                    self.bump();
                }
                '/' => return Err(self.syntax("comments are not allowed in JSON")),
                _ => break,
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Node, ParseError> {
        let position = self.position;
        let value = match self.peek() {
            None => return Err(self.end_of_file("a value")),
            Some('{') => self.object(depth + 1)?,
            Some('[') => self.array(depth + 1)?,
            Some('"') => Value::String(self.string()?),
            Some('-' | '0'..='9') => self.number()?,
            Some('t') => self.literal("true", Value::Bool(true))?,
            Some('f') => self.literal("false", Value::Bool(false))?,
            Some('n') => self.literal("null", Value::Null)?,
            Some('\'') => {
                return Err(self.syntax("strings use double quotes (\"), not single quotes"));
            }
            Some(c) if c.is_alphabetic() => return Err(self.bare_word()),
            Some(c) => return Err(self.syntax(format!("expected a value, found {}", describe(c)))),
        };
        Ok(Node { position, value })
    }

    fn enter(&self, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError {
                position: Some(self.position),
                problem: Problem::TooDeep { limit: MAX_DEPTH },
            });
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, ParseError> {
        if self.text[self.offset..].starts_with(word) {
            for _ in word.chars() {
                self.bump();
            }
            if let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
                return Err(self.syntax(format!("unexpected {} after `{word}`", describe(c))));
            }
            Ok(value)
        } else {
            Err(self.bare_word())
        }
    }

    /// A word where a value should be: usually a string without its quotes.
    fn bare_word(&self) -> ParseError {
        let found: String = self.text[self.offset..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(20)
            .collect();
        self.syntax(format!(
            "expected a value, found `{found}` (strings need double quotes)"
        ))
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.offset;
        if self.peek() == Some('-') {
            self.bump();
        }
        match self.peek() {
            Some('0') => {
                self.bump();
                if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return Err(self.syntax("numbers may not have leading zeros"));
                }
            }
            Some('1'..='9') => self.digits(),
            _ => return Err(self.syntax("expected a digit")),
        }
        if self.peek() == Some('.') {
            self.bump();
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.syntax("expected a digit after the decimal point"));
            }
            self.digits();
        }
        if let Some('e' | 'E') = self.peek() {
            self.bump();
            if let Some('+' | '-') = self.peek() {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.syntax("expected a digit in the exponent"));
            }
            self.digits();
        }
        Ok(Value::Number(self.text[start..self.offset].to_owned()))
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            let position = self.position;
            match self.bump() {
                None => return Err(self.end_of_file("`\"` to close the string")),
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape(position)?),
                Some(c) if (c as u32) < 0x20 => {
                    return Err(self.syntax_at(
                        position,
                        format!(
                            "raw control character {} in a string: write it as an escape",
                            describe(c)
                        ),
                    ));
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self, start: Position) -> Result<char, ParseError> {
        Ok(match self.bump() {
            None => return Err(self.end_of_file("an escape sequence")),
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let high = self.hex4()?;
                if (0xD800..0xDC00).contains(&high) {
                    if !self.text[self.offset..].starts_with("\\u") {
                        return Err(
                            self.syntax_at(start, "unpaired UTF-16 surrogate in \\u escape")
                        );
                    }
                    self.bump();
                    self.bump();
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(
                            self.syntax_at(start, "unpaired UTF-16 surrogate in \\u escape")
                        );
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code)
                        .ok_or_else(|| self.syntax_at(start, "invalid \\u escape"))?
                } else {
                    char::from_u32(high).ok_or_else(|| {
                        self.syntax_at(start, "unpaired UTF-16 surrogate in \\u escape")
                    })?
                }
            }
            Some(c) => {
                return Err(
                    self.syntax_at(start, format!("invalid escape `\\{}`", c.escape_debug()))
                );
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut code = 0;
        for _ in 0..4 {
            let digit = self
                .peek()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.syntax("expected 4 hexadecimal digits after \\u"))?;
            self.bump();
            code = code * 16 + digit;
        }
        Ok(code)
    }

    fn array(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.bump(); // [
        let mut items = Vec::new();
        self.skip_whitespace()?;
        if self.peek() == Some(']') {
            self.bump();
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace()?;
            items.push(self.value(depth)?);
            self.skip_whitespace()?;
            let comma = self.position;
            match self.bump() {
                Some(',') => {
                    self.skip_whitespace()?;
                    if self.peek() == Some(']') {
                        return Err(self.syntax_at(
                            comma,
                            "trailing comma: remove the `,` before `]` (JSON allows none)",
                        ));
                    }
                }
                Some(']') => return Ok(Value::Array(items)),
                None => return Err(self.end_of_file("`,` or `]`")),
                Some(c) => {
                    return Err(self
                        .syntax_at(comma, format!("expected `,` or `]`, found {}", describe(c))));
                }
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, ParseError> {
        self.enter(depth)?;
        self.bump(); // {
        let mut members: Vec<Member> = Vec::new();
        let mut seen: HashMap<String, Position> = HashMap::new();
        self.skip_whitespace()?;
        if self.peek() == Some('}') {
            self.bump();
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace()?;
            let key_position = self.position;
            let key = match self.peek() {
                Some('"') => self.string()?,
                None => return Err(self.end_of_file("a key in double quotes")),
                Some('\'') => {
                    return Err(self.syntax("keys use double quotes (\"), not single quotes"));
                }
                Some(c) => {
                    return Err(self.syntax(format!(
                        "expected a key in double quotes, found {}",
                        describe(c)
                    )));
                }
            };
            if let Some(first) = seen.get(&key) {
                return Err(ParseError {
                    position: Some(key_position),
                    problem: Problem::DuplicateKey {
                        key,
                        first_line: first.line,
                        first_column: first.column,
                    },
                });
            }
            seen.insert(key.clone(), key_position);
            self.skip_whitespace()?;
            let colon = self.position;
            match self.bump() {
                Some(':') => {}
                None => return Err(self.end_of_file("`:` after the key")),
                Some(c) => {
                    return Err(self.syntax_at(
                        colon,
                        format!("expected `:` after the key, found {}", describe(c)),
                    ));
                }
            }
            self.skip_whitespace()?;
            let value = self.value(depth)?;
            members.push(Member {
                key,
                key_position,
                value,
            });
            self.skip_whitespace()?;
            let comma = self.position;
            match self.bump() {
                Some(',') => {
                    self.skip_whitespace()?;
                    if self.peek() == Some('}') {
                        return Err(self.syntax_at(
                            comma,
                            "trailing comma: remove the `,` before `}` (JSON allows none)",
                        ));
                    }
                }
                Some('}') => return Ok(Value::Object(members)),
                None => return Err(self.end_of_file("`,` or `}`")),
                Some(c) => {
                    return Err(self.syntax_at(
                        comma,
                        format!("expected `,` or `}}`, found {}", describe(c)),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, column: u32) -> Option<Position> {
        Some(Position { line, column })
    }

    fn syntax(message: &str) -> Problem {
        Problem::Syntax {
            message: message.into(),
        }
    }

    #[test]
    fn refuses_malformed_documents_with_positions() {
        let cases: &[(&str, Option<Position>, Problem)] = &[
            (
                "",
                at(1, 1),
                syntax("unexpected end of file: expected a value"),
            ),
            (
                "   \n  ",
                at(2, 3),
                syntax("unexpected end of file: expected a value"),
            ),
            (
                "{\"a\": 1,}",
                at(1, 8),
                syntax("trailing comma: remove the `,` before `}` (JSON allows none)"),
            ),
            (
                "{\"a\": [1,\n 2,\n ]}",
                at(2, 3),
                syntax("trailing comma: remove the `,` before `]` (JSON allows none)"),
            ),
            (
                "{\"a\": 1, \"a\": 2}",
                at(1, 10),
                Problem::DuplicateKey {
                    key: "a".into(),
                    first_line: 1,
                    first_column: 2,
                },
            ),
            (
                "{\"environment\": {\"A\": \"1\",\n  \"A\": \"2\"}}",
                at(2, 3),
                Problem::DuplicateKey {
                    key: "A".into(),
                    first_line: 1,
                    first_column: 18,
                },
            ),
            (
                "// hi\n{}",
                at(1, 1),
                syntax("comments are not allowed in JSON"),
            ),
            (
                "{'a': 1}",
                at(1, 2),
                syntax("keys use double quotes (\"), not single quotes"),
            ),
            (
                "{\"a\": 'x'}",
                at(1, 7),
                syntax("strings use double quotes (\"), not single quotes"),
            ),
            (
                "{\"a\": \"x\ny\"}",
                at(1, 9),
                syntax("raw control character `\\n` in a string: write it as an escape"),
            ),
            ("{\"a\": \"\\x\"}", at(1, 8), syntax("invalid escape `\\x`")),
            (
                "{\"a\": \"\\ud800\"}",
                at(1, 8),
                syntax("unpaired UTF-16 surrogate in \\u escape"),
            ),
            (
                "{\"a\": \"\\udc00\"}",
                at(1, 8),
                syntax("unpaired UTF-16 surrogate in \\u escape"),
            ),
            (
                "{\"a\": 01}",
                at(1, 8),
                syntax("numbers may not have leading zeros"),
            ),
            (
                "{\"a\": 1.}",
                at(1, 9),
                syntax("expected a digit after the decimal point"),
            ),
            (
                "{\"a\": yes}",
                at(1, 7),
                syntax("expected a value, found `yes` (strings need double quotes)"),
            ),
            (
                "{\"a\": truex}",
                at(1, 11),
                syntax("unexpected `x` after `true`"),
            ),
            (
                "{\"a\" 1}",
                at(1, 6),
                syntax("expected `:` after the key, found `1`"),
            ),
            (
                "{\"a\": 1 \"b\": 2}",
                at(1, 9),
                syntax("expected `,` or `}`, found `\"`"),
            ),
            (
                "{} {}",
                at(1, 4),
                syntax("unexpected `{` after the end of the document"),
            ),
            (
                "{\"a\": [1, 2",
                at(1, 12),
                syntax("unexpected end of file: expected `,` or `]`"),
            ),
            (
                "{\"a\": \"abc",
                at(1, 11),
                syntax("unexpected end of file: expected `\"` to close the string"),
            ),
            (
                "\u{1}",
                at(1, 1),
                syntax("expected a value, found `\\u{1}`"),
            ),
        ];
        for (input, position, problem) in cases {
            let error = parse_json(input.as_bytes()).expect_err(input);
            assert_eq!(
                (&error.position, &error.problem),
                (position, problem),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn reads_values_keys_and_positions() {
        let node = parse_json(
            "{\n  \"name\": \"x\",\n  \"list\": [true, null, -1.5e3, \"\\u00e9\\ud83d\\ude00\\t\"]\n}"
                .as_bytes(),
        )
        .unwrap();
        let Value::Object(members) = &node.value else {
            panic!("not an object: {node:?}")
        };
        assert_eq!(members[0].key, "name");
        assert_eq!(members[0].key_position, Position { line: 2, column: 3 });
        assert_eq!(
            members[0].value.position,
            Position {
                line: 2,
                column: 11
            }
        );
        assert_eq!(
            members[1].value,
            Node {
                position: Position {
                    line: 3,
                    column: 11
                },
                value: Value::Array(vec![
                    Node {
                        position: Position {
                            line: 3,
                            column: 12
                        },
                        value: Value::Bool(true)
                    },
                    Node {
                        position: Position {
                            line: 3,
                            column: 18
                        },
                        value: Value::Null
                    },
                    Node {
                        position: Position {
                            line: 3,
                            column: 24
                        },
                        value: Value::Number("-1.5e3".into())
                    },
                    Node {
                        position: Position {
                            line: 3,
                            column: 32
                        },
                        value: Value::String("é😀\t".into())
                    },
                ])
            }
        );
    }

    #[test]
    fn skips_a_byte_order_mark_and_counts_columns_after_it() {
        let node = parse_json(b"\xEF\xBB\xBF{\"a\": true}").unwrap();
        let Value::Object(members) = node.value else {
            panic!("not an object")
        };
        assert_eq!(members[0].key_position, Position { line: 1, column: 2 });
        // A BOM anywhere else is an ordinary (and here misplaced) character.
        let error = parse_json(b"{}\xEF\xBB\xBF").unwrap_err();
        assert_eq!(
            error.problem,
            syntax("unexpected `\\u{feff}` after the end of the document")
        );
    }

    #[test]
    fn refuses_oversized_invalid_utf8_and_deep_documents() {
        let big = vec![b' '; 10 * 1024 * 1024];
        assert_eq!(
            parse_json(&big).unwrap_err(),
            ParseError {
                position: None,
                problem: Problem::TooLarge {
                    size: 10 * 1024 * 1024,
                    limit: MAX_DEFINITION_BYTES as u64
                }
            }
        );
        assert_eq!(
            parse_json(b"{\n \"a\": \"\xff\"}").unwrap_err(),
            ParseError {
                position: at(2, 8),
                problem: Problem::NotUtf8
            }
        );
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(
            parse_json(deep.as_bytes()).unwrap_err(),
            ParseError {
                position: at(1, MAX_DEPTH as u32 + 1),
                problem: Problem::TooDeep { limit: MAX_DEPTH }
            }
        );
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_json(ok.as_bytes()).is_ok());
    }
}
