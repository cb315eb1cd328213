//! The content hash of a merged definition: the lifecycle labels each container with it
//! (`io.horizonos.definition-hash`), and a different hash later means the definition drifted.
//!
//! It is the SHA-256 of a domain tag and the definition's canonical JSON: fields in declaration
//! order, maps sorted by key, values normalised by validation (`CAP_SYS_ADMIN` and `SYS_ADMIN`, or
//! `"/home"` and `{"source": "/home", "target": "/home"}`, hash the same). Where a value came from
//! (its layer) is not part of it: moving a setting between layers is not drift.

use sha2::{Digest, Sha256};

use super::model::Definition;

/// Prefixed to the hashed bytes; bumped if the canonical form ever changes meaning.
const HASH_DOMAIN: &[u8] = b"horizon-definition-v1\n";

impl Definition {
    /// The lowercase hex SHA-256 of this definition's canonical form (64 characters).
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(HASH_DOMAIN);
        // Serialising a Definition cannot fail: every map has string keys and every custom
        // Serialize impl writes a plain string.
        let canonical = serde_json::to_vec(self).expect("a Definition always serialises to JSON");
        hasher.update(&canonical);
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests_support::sources;
    use super::super::{Layer, check_file, load};

    #[test]
    fn equal_content_hashes_equal_whatever_the_spelling_or_layer() {
        let dir = tempfile::tempdir().unwrap();
        let sources = sources(dir.path());
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        };
        let a = write(
            "a/x.json",
            r#"{"name": "x", "image": "quay.io/a/b:1", "mounts": ["/tmp"], "capabilities": ["CAP_CHOWN"]}"#,
        );
        let b = write(
            "b/x.json",
            r#"{"capabilities": ["CHOWN"], "mounts": [{"source": "/tmp", "target": "/tmp", "read_only": false}],
                "name": "x", "image": "quay.io/a/b:1", "network": "private", "privileged": false}"#,
        );
        let c = write("c/x.json", r#"{"name": "x", "image": "quay.io/a/b:2"}"#);
        let hash = |path: &Path| {
            check_file(&sources, path, Layer::User)
                .unwrap()
                .definition
                .content_hash()
        };
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(hash(&a), hash(&c));
        assert_eq!(hash(&a).len(), 64);
        assert!(
            hash(&a)
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn builtin_hashes_are_stable() {
        // A changed value here means every installed built-in container will be seen as drifted:
        // change it only together with a deliberate change of a built-in or of the canonical form.
        let dir = tempfile::tempdir().unwrap();
        let catalog = load(&sources(dir.path()));
        let hashes: Vec<(&str, String)> = catalog
            .definitions
            .iter()
            .map(|r| (r.definition.name.as_str(), r.definition.content_hash()))
            .collect();
        let expected: Vec<(&str, String)> = EXPECTED_BUILTIN_HASHES
            .iter()
            .map(|(name, hash)| (*name, (*hash).to_owned()))
            .collect();
        assert_eq!(hashes, expected);
    }

    const EXPECTED_BUILTIN_HASHES: &[(&str, &str)] = &[
        (
            "desktop",
            "63686250e2df74df30749adeda4f8bae9bbc114d3c4984130c0c50a2f4e47ab7",
        ),
        (
            "development",
            "8b21ba03dbaf7d20ccc071b462d7e8d12fb8146570e7d777a11c83197530767a",
        ),
        (
            "gaming",
            "e1ed15f2dabc55d9915f7762dc5d77a136317942acf6ede71cbe7c8391f95f31",
        ),
        (
            "multimedia",
            "d740e1c1961f06d35a599de191c732b9e2300b75b85fbdbc1593d52a3de22c0a",
        ),
    ];
}
