//! Small text rules every binary's output follows.

/// How many hex digits of a digest, commit or id the text output shows (as `podman images` and
/// git do).
pub const SHORT_ID: usize = 12;

/// The first [`SHORT_ID`] characters of a digest, commit or id (after any `sha256:`).
pub fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    id.get(..SHORT_ID).unwrap_or(id)
}

/// [`short_id`] of a digest that may be unknown.
pub fn short_digest(digest: Option<&str>) -> String {
    digest.map_or_else(
        || "unknown".to_owned(),
        |digest| short_id(digest).to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shortened_after_their_algorithm() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
        assert_eq!(short_digest(None), "unknown");
        assert_eq!(
            short_digest(Some("sha256:fedcba9876543210")),
            "fedcba987654"
        );
    }
}
