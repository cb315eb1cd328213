//! The name of a definition's managed container (`horizonos-NAME`, the seed's `podman logs
//! horizonos-development`). Here rather than in horizon-core because a client names the container
//! in what it prints (the working-directory note) and `horizon-exec` links no horizon-core.

/// Prefix of a managed container's name: definition `development` runs as `horizonos-development`.
pub const CONTAINER_PREFIX: &str = "horizonos-";

/// The managed container of a definition.
pub fn container_name(definition: &str) -> String {
    format!("{CONTAINER_PREFIX}{definition}")
}
