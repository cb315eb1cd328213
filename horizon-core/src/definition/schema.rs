//! The JSON Schema of a definition file, generated from [`DefinitionLayer`] (its doc comments are
//! the descriptions editors show). The same text is committed at [`SCHEMA_PATH`] for editors; a test
//! fails when that copy is stale and says how to regenerate it.
//!
//! Optional fields are optional, never nullable: the reader refuses `null`, so the schema does too.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::model::DefinitionLayer;

/// Where the generated schema is committed, relative to the workspace root.
pub const SCHEMA_PATH: &str = "schema/horizon-definition.schema.json";

/// The JSON Schema (draft 2020-12) of a definition file.
pub fn json_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator
        .into_root_schema_for::<DefinitionLayer>()
        .to_value();
    strip_null(&mut schema);
    schema
}

/// The schema as committed: pretty-printed, with a final newline.
pub fn json_schema_text() -> String {
    // Printing a serde_json::Value cannot fail.
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Removes the `null` alternative schemars gives every `Option` field.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let kept: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                let replacement = match kept.len() {
                    1 => kept.into_iter().next().unwrap_or(Value::Null),
                    _ => Value::Array(kept),
                };
                map.insert("type".to_owned(), replacement);
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(options)) = map.get_mut(key) {
                    options.retain(|option| {
                        option.get("type").and_then(Value::as_str) != Some("null")
                    });
                    if options.len() == 1
                        && let Some(Value::Object(only)) = options.pop()
                    {
                        map.remove(key);
                        for (k, v) in only {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
            }
            for child in map.values_mut() {
                strip_null(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::read::{DESKTOP_FIELDS, FIELDS};

    /// Set to 1 to rewrite the committed schema instead of comparing with it.
    const UPDATE_ENV: &str = "HORIZON_UPDATE_SCHEMA";

    #[test]
    fn committed_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SCHEMA_PATH);
        let generated = json_schema_text();
        if std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{SCHEMA_PATH} is stale: regenerate it with \
             `{UPDATE_ENV}=1 cargo test -p horizon-core committed_schema_is_current` \
             (or `cargo run -p horizon-cli -- definition schema > {SCHEMA_PATH}`) and commit it"
        );
    }

    #[test]
    fn schema_describes_exactly_the_fields_the_reader_accepts() {
        let schema = json_schema();
        let keys = |value: &Value| -> Vec<String> {
            let mut keys: Vec<String> = value["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys.sort();
            keys
        };
        let sorted = |fields: &[&str]| {
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            fields.sort();
            fields
        };
        assert_eq!(keys(&schema), sorted(FIELDS));
        assert_eq!(schema["required"], serde_json::json!(["name"]));
        assert_eq!(schema["additionalProperties"], Value::Bool(false));
        assert_eq!(
            keys(&schema["$defs"]["DesktopLayer"]),
            sorted(DESKTOP_FIELDS)
        );
        assert!(!json_schema_text().contains("\"null\""));
    }
}
