//! Query strings of libpod requests: percent-encoded values and the `filters={"label":[…]}` form
//! of a [`LabelFilter`].

use serde_json::json;

use crate::engine::LabelFilter;

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub(super) fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `filters={"label":["k=v","k2"]}`, encoded.
pub(super) fn label_filters(filter: &LabelFilter) -> String {
    let labels: Vec<String> = filter
        .labels
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={value}"),
            None => key.clone(),
        })
        .collect();
    encode_query(&json!({ "label": labels }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            encode_query("127.0.0.1:5000/a/b:v1"),
            "127.0.0.1%3A5000%2Fa%2Fb%3Av1"
        );
        assert_eq!(encode_query("LABEL a=b c"), "LABEL%20a%3Db%20c");
        assert_eq!(encode_query("é"), "%C3%A9");
    }
}
