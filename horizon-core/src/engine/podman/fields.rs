//! Reading Podman's answers field by field, strictly: [`Field`] keeps what arrived for one field —
//! nothing, `null`, a value, or a value of the wrong shape — and [`Place`] names where it sits
//! (`HostConfig.Privileged`, `Mounts[1].RW`), so that the answer types in `answers.rs` say for each
//! field whether it is required, and a field that is missing or unreadable becomes
//! [`EngineError::MissingField`] or [`EngineError::InvalidField`] naming the operation and the
//! field — never a default.
//!
//! serde alone cannot do this: a required field's error names no path ("missing field `RW` at line
//! 1 column 840"), and `Option` cannot tell a missing key from a `null` (Go writes an empty slice
//! or map as `null`, which is a value, not an absence).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::engine::EngineError;

/// At most this many characters of an unreadable value are quoted in the error.
const QUOTED_VALUE_CHARS: usize = 80;

/// What Podman sent for one field.
#[derive(Debug, Default)]
pub(super) enum Field<T> {
    /// The key is not there.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A value of the expected shape.
    Present(T),
    /// A value horizon cannot read: the JSON (shortened) and why.
    Invalid { value: Box<str>, reason: Box<str> },
}

impl<T: DeserializeOwned> Field<T> {
    /// The field from an already parsed JSON value (`None`: the key is not there).
    pub(super) fn from_json(value: Option<Value>) -> Self {
        match value {
            None => Field::Absent,
            Some(Value::Null) => Field::Null,
            Some(value) => match T::deserialize(&value) {
                Ok(parsed) => Field::Present(parsed),
                Err(error) => Field::Invalid {
                    value: quoted(&value).into(),
                    reason: error.to_string().into(),
                },
            },
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    /// Never fails: a value of the wrong shape is kept as [`Field::Invalid`], so the error names
    /// the field. A key that is not there never reaches this (`#[serde(default)]` gives `Absent`).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|value| Field::from_json(Some(value)))
    }
}

impl<T> Field<T> {
    /// The value; absent or `null` is [`EngineError::MissingField`].
    pub(super) fn required(self, at: &Place, name: &str) -> Result<T, EngineError> {
        match self {
            Field::Present(value) => Ok(value),
            Field::Absent | Field::Null => Err(at.missing(name)),
            Field::Invalid { value, reason } => Err(at.invalid(name, value, reason)),
        }
    }

    /// The value, `null` read as empty (Go's nil slice or map); absent is
    /// [`EngineError::MissingField`].
    pub(super) fn or_empty(self, at: &Place, name: &str) -> Result<T, EngineError>
    where
        T: Default,
    {
        match self {
            Field::Null => Ok(T::default()),
            other => other.required(at, name),
        }
    }

    /// The value if there is one (absent and `null` alike are `None`); only a value of the wrong
    /// shape is an error.
    pub(super) fn optional(self, at: &Place, name: &str) -> Result<Option<T>, EngineError> {
        match self {
            Field::Absent | Field::Null => Ok(None),
            other => other.required(at, name).map(Some),
        }
    }
}

/// Where in which answer a field sits.
#[derive(Clone, Debug)]
pub(super) struct Place {
    operation: &'static str,
    /// The path of the enclosing object (`HostConfig`, `Mounts[1]`); empty at the top.
    path: String,
}

impl Place {
    /// The top of `operation`'s answer.
    pub(super) fn answer(operation: &'static str) -> Self {
        Place {
            operation,
            path: String::new(),
        }
    }

    /// The object in field `name`.
    pub(super) fn within(&self, name: &str) -> Place {
        Place {
            operation: self.operation,
            path: self.path_of(name),
        }
    }

    /// Item `index` of the list here (`Mounts` → `Mounts[1]`; at the top of a list answer, `[1]`).
    pub(super) fn nth(&self, index: usize) -> Place {
        Place {
            operation: self.operation,
            path: format!("{}[{index}]", self.path),
        }
    }

    /// Field `name` is missing here.
    pub(super) fn missing(&self, name: &str) -> EngineError {
        EngineError::MissingField {
            operation: self.operation,
            field: self.path_of(name),
        }
    }

    /// Field `name` holds `value`, which cannot be read for `reason`.
    pub(super) fn invalid(
        &self,
        name: &str,
        value: impl Into<Box<str>>,
        reason: impl Into<Box<str>>,
    ) -> EngineError {
        EngineError::InvalidField {
            operation: self.operation,
            field: self.path_of(name),
            value: value.into(),
            reason: reason.into(),
        }
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }
}

/// `value` as compact JSON (control characters escaped), cut at [`QUOTED_VALUE_CHARS`].
pub(super) fn quoted(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(QUOTED_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "PascalCase")]
    struct Answer {
        flag: Field<bool>,
        list: Field<Vec<String>>,
        inner: Field<Inner>,
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default, rename_all = "PascalCase")]
    struct Inner {
        word: Field<String>,
    }

    fn read(body: Value) -> Answer {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn a_present_field_is_read_and_null_is_empty_only_where_asked() {
        let at = Place::answer("inspect thing");
        let answer = read(json!({"Flag": false, "List": null, "Inner": {"Word": "w"}}));
        assert!(!answer.flag.required(&at, "Flag").unwrap());
        assert!(answer.list.or_empty(&at, "List").unwrap().is_empty());
        let inner = answer.inner.required(&at, "Inner").unwrap();
        assert_eq!(
            inner.word.required(&at.within("Inner"), "Word").unwrap(),
            "w"
        );
        let answer = read(json!({"Flag": null}));
        assert_eq!(
            answer.flag.required(&at, "Flag").unwrap_err().to_string(),
            "inspect thing: Podman's answer has no Flag"
        );
    }

    #[test]
    fn a_missing_or_misshapen_field_is_named_with_its_path() {
        let at = Place::answer("inspect thing");
        let answer = read(json!({"Inner": {}}));
        assert_eq!(
            answer.list.or_empty(&at, "List").unwrap_err().to_string(),
            "inspect thing: Podman's answer has no List"
        );
        let inner = answer.inner.required(&at, "Inner").unwrap();
        match inner.word.required(&at.within("Inner"), "Word") {
            Err(EngineError::MissingField { operation, field }) => {
                assert_eq!((operation, field.as_str()), ("inspect thing", "Inner.Word"));
            }
            other => panic!("expected MissingField, got {other:?}"),
        }
        let answer = read(json!({"Flag": "yes"}));
        assert_eq!(
            answer
                .flag
                .required(&at.within("Mounts").nth(2), "Flag")
                .unwrap_err()
                .to_string(),
            "inspect thing: Podman's answer has an unreadable Mounts[2].Flag (\"yes\"): \
             invalid type: string \"yes\", expected a boolean"
        );
        assert!(
            read(json!({}))
                .flag
                .optional(&at, "Flag")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn long_values_are_cut_and_control_characters_escaped() {
        assert_eq!(quoted(&json!("a\u{1b}[2J")), r#""a\u001b[2J""#);
        let long = quoted(&json!("x".repeat(200)));
        assert_eq!(long.chars().count(), QUOTED_VALUE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
