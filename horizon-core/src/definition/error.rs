//! What can be wrong with a definition, as data. A [`Diagnostic`] is one problem at one place
//! (`file:line:column: field.path: problem`, shown escaped: it quotes the file); a
//! [`DefinitionError`] is every problem found in one file. Reading a file does not stop at the
//! first field error, so one `validate` run shows them all (a syntax error does stop it: nothing
//! after it can be trusted).

use std::fmt;
use std::path::PathBuf;

use super::parse::Position;
use super::privilege::{Grant, describe};

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as it was named when it was read (built-ins are `<built-in>/NAME.json`).
    pub file: PathBuf,
    /// Where in the file, when the problem has a place (a file that is too large has none).
    pub position: Option<Position>,
    /// The field path, e.g. `mounts[1]` or `environment.PATH`; empty for the document as a whole.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Diagnostic {
    /// One line, escaped: the file name, the field path and the problem's values are the file's
    /// text, which reaches a terminal (see [`crate::printable`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.file.display().to_string();
        if let Some(position) = self.position {
            line.push_str(&format!(":{}:{}", position.line, position.column));
        }
        if !self.field.is_empty() {
            line.push_str(&format!(": {}", self.field));
        }
        line.push_str(&format!(": {}", self.problem));
        f.write_str(&crate::printable::escape(&line))
    }
}

/// Every problem found in one definition file (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    /// The problems, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.diagnostics.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl DefinitionError {
    /// An error with a single diagnostic.
    pub fn single(diagnostic: Diagnostic) -> Self {
        DefinitionError {
            diagnostics: vec![diagnostic],
        }
    }
}

/// What is wrong at one place of a definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file could not be read.
    #[error("cannot read the file: {message}")]
    Unreadable {
        /// The operating system's message.
        message: String,
    },
    /// The path is not a regular file (a FIFO, socket, device or directory): refused unread.
    #[error("not a regular file but {kind}: a definition is read only from a regular file")]
    NotRegularFile {
        /// What it is instead (`a FIFO (named pipe)`, `a directory`, …).
        kind: &'static str,
    },
    /// The file is larger than the limit (checked before parsing).
    #[error("the file is {size} bytes; a definition may be at most {limit} bytes")]
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The bytes are not UTF-8.
    #[error("the file is not valid UTF-8 here")]
    NotUtf8,
    /// The text is not JSON.
    #[error("{message}")]
    Syntax {
        /// What the parser expected or found.
        message: String,
    },
    /// Arrays and objects are nested too deeply.
    #[error("nested more than {limit} levels deep")]
    TooDeep {
        /// The deepest nesting accepted.
        limit: usize,
    },
    /// A key appears twice in one object.
    #[error(
        "duplicate key `{key}` (first at line {first_line}, column {first_column}): each key may appear once"
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Line of its first appearance.
        first_line: u32,
        /// Column of its first appearance.
        first_column: u32,
    },
    /// A key that the format does not have.
    #[error("unknown field `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownField {
        /// The key as written.
        key: String,
        /// The nearest valid key, when one is close.
        suggestion: Option<String>,
    },
    /// A value of the wrong JSON type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the field takes.
        expected: &'static str,
        /// What the file has.
        found: &'static str,
    },
    /// A required field is absent.
    #[error("missing required field `{field}`")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// A value that breaks a rule of its field.
    #[error("{value:?} {reason}")]
    Invalid {
        /// The value as written.
        value: String,
        /// The rule it breaks, phrased to follow the value ("is not …: use …").
        reason: String,
    },
    /// The same entry appears twice in a list.
    #[error("{value:?} is listed twice")]
    Repeated {
        /// The repeated entry, normalised.
        value: String,
    },
    /// `name` differs from the file name.
    #[error("the name is {name:?} but the file is {stem:?}.json: they must be equal")]
    NameMismatch {
        /// The `name` field.
        name: String,
        /// The file name without `.json`.
        stem: String,
    },
    /// The file name is not `NAME.json` with a valid name.
    #[error("the file name must be NAME.json with a valid container name")]
    BadFileName,
    /// A combination of fields that is not allowed.
    #[error("{rule}")]
    Conflict {
        /// The rule, as a sentence.
        rule: String,
    },
    /// A user definition asked for more privilege than the layers below it grant.
    #[error("refused in a user definition: {rule}")]
    RaisesPrivilege {
        /// The privilege rule that was broken, as a sentence.
        rule: String,
    },
    /// A user file changes the code of a container that holds privilege a lower layer grants.
    #[error(
        "refused in a user definition: {name} runs with privilege a user file cannot grant ({}), \
         so a user file may not change the code it runs: leave out `{field}`, drop that privilege \
         in this file ({}), or give your container a name of its own",
        describe(grants),
        undo.join(", ")
    )]
    ChangesPrivilegedCode {
        /// The definition.
        name: String,
        /// The field path the file changes (`image`, `environment.PATH`, `mounts[2]`).
        field: String,
        /// What the container holds that would run the changed code.
        grants: Vec<Grant>,
        /// What the file would write to drop those grants, one JSON member each.
        undo: Vec<String>,
    },
    /// A system definition file (or its directory) that others than its owner could change.
    #[error("refused: {reason}")]
    Insecure {
        /// What is wrong with its ownership or mode, and the fix.
        reason: String,
    },
}
