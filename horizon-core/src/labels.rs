//! The labels horizon puts on every Podman object it creates. "Ours" is decided by these labels,
//! never by parsing names, so a user's own `horizonos-foo` container is never touched.

/// Present (value `"true"`) on every container and image horizon creates.
pub const MANAGED: &str = "io.horizonos.managed";
/// The definition name a container was made from.
pub const DEFINITION: &str = "io.horizonos.definition";
/// The hash of the definition at install time: a differing hash means the definition drifted.
pub const DEFINITION_HASH: &str = "io.horizonos.definition-hash";
/// The generation number of the image the container runs.
pub const GENERATION: &str = "io.horizonos.generation";
/// Which layer the definition came from (built-in, system, user).
pub const LAYER: &str = "io.horizonos.layer";

/// The value of [`MANAGED`] on objects horizon owns.
pub const MANAGED_VALUE: &str = "true";
