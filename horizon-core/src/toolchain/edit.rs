//! Writing a toolchain's lists into the user layer's file: the file is parsed with the
//! definition reader's own strict JSON parser (which keeps members in file order), its
//! `packages`, `export_binaries` and `verify` are replaced (or added, in the documented field
//! order), and the document is written out again with every other member as it was (values,
//! order; numbers as written). Formatting is the project's: two-space indentation, lists of
//! strings on one line. The caller validates the result as a user-layer file before anything is
//! written.

use crate::definition::FIELDS;
use crate::definition::parse::{Member, Node, Position, Value, parse_json};

use super::ToolchainLists;

/// Why the user layer's file could not be edited.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The file is not a JSON object (the definition reader says more).
    #[error("{path}: not a definition (a JSON object): {message}")]
    NotAnObject {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
}

/// The user-layer file `existing` (none: a new file for definition `name`) with `lists` as its
/// `packages`, `export_binaries` and `verify`, every other member kept.
pub fn edit_user_layer(
    existing: Option<&[u8]>,
    path: &std::path::Path,
    name: &str,
    lists: &ToolchainLists,
) -> Result<Vec<u8>, EditError> {
    let not_object = |message: String| EditError::NotAnObject {
        path: path.display().to_string(),
        message,
    };
    let mut members = match existing {
        None => vec![member("name", Value::String(name.to_owned()))],
        Some(bytes) => match parse_json(bytes) {
            Ok(Node {
                value: Value::Object(members),
                ..
            }) => members,
            Ok(other) => return Err(not_object(format!("found {}", other.value.kind()))),
            Err(error) => return Err(not_object(error.problem.to_string())),
        },
    };
    let strings = |list: &[String]| {
        Value::Array(
            list.iter()
                .map(|entry| node(Value::String(entry.clone())))
                .collect(),
        )
    };
    set(&mut members, "packages", strings(&lists.packages));
    set(
        &mut members,
        "export_binaries",
        strings(&lists.export_binaries),
    );
    set(
        &mut members,
        "verify",
        Value::Array(
            lists
                .verify
                .iter()
                .map(|argv| node(strings(argv)))
                .collect(),
        ),
    );
    let mut out = String::new();
    write_value(&mut out, &Value::Object(members), 0);
    out.push('\n');
    Ok(out.into_bytes())
}

fn node(value: Value) -> Node {
    Node {
        position: Position::START,
        value,
    }
}

fn member(key: &str, value: Value) -> Member {
    Member {
        key: key.to_owned(),
        key_position: Position::START,
        value: node(value),
    }
}

/// Replaces member `key`, or inserts it after the last member that comes before it in [`FIELDS`]
/// order (a file in any order gets the new member next to its neighbour).
fn set(members: &mut Vec<Member>, key: &str, value: Value) {
    if let Some(existing) = members.iter_mut().find(|member| member.key == key) {
        existing.value = node(value);
        return;
    }
    let rank = |key: &str| FIELDS.iter().position(|field| *field == key);
    let mine = rank(key);
    let at = members
        .iter()
        .rposition(|member| rank(&member.key).is_some_and(|rank| Some(rank) < mine))
        .map_or(0, |index| index + 1);
    members.insert(at, member(key, value));
}

/// Whether a value is written on one line: scalars, and arrays of one-line values that hold no
/// object (so lists of strings and `verify`'s lists of argv stay compact).
fn inline(value: &Value) -> bool {
    match value {
        Value::Object(members) => members.is_empty(),
        Value::Array(items) => items
            .iter()
            .all(|item| !matches!(item.value, Value::Object(_)) && inline(&item.value)),
        _ => true,
    }
}

fn write_value(out: &mut String, value: &Value, depth: usize) {
    let indent = |out: &mut String, depth: usize| out.push_str(&"  ".repeat(depth));
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(number),
        // A string always serialises.
        Value::String(text) => out.push_str(&serde_json::to_string(text).unwrap_or_default()),
        Value::Array(items) if inline(value) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_value(out, &item.value, depth);
            }
            out.push(']');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_value(out, &item.value, depth + 1);
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(members) if members.is_empty() => out.push_str("{}"),
        Value::Object(members) => {
            out.push_str("{\n");
            for (index, member) in members.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&serde_json::to_string(&member.key).unwrap_or_default());
                out.push_str(": ");
                write_value(out, &member.value.value, depth + 1);
                out.push_str(if index + 1 < members.len() {
                    ",\n"
                } else {
                    "\n"
                });
            }
            indent(out, depth);
            out.push('}');
        }
    }
}
