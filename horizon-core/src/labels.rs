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
/// `"true"` when the container keeps its writable layer across stop and start; `"false"` when it is
/// recreated fresh from its generation image each time it starts.
pub const PERSISTENT: &str = "io.horizonos.persistent";
/// The create spec (JSON) a managed container was made from: a non-persistent container is
/// recreated from it without needing the definition files or horizon's state directory.
pub const CREATE_SPEC: &str = "io.horizonos.create-spec";
/// The mounts of a managed container that a user file chose (JSON: their targets, and the home
/// they may be in): their sources are checked again at every create and start.
pub const USER_MOUNTS: &str = "io.horizonos.user-mounts";
/// On a build container (the one a generation image is committed from): the definition it builds.
/// Build containers carry no [`DEFINITION`] label, so they are never taken for a managed container.
pub const BUILD_OF: &str = "io.horizonos.build-of";
/// On a build container and a generation image (and so on the containers made from it): the state
/// directory of the horizon that made it. Several users' horizons may share one Podman service;
/// `cleanup` removes only its own objects, whose locks and journals it can see.
pub const OWNER: &str = "io.horizonos.owner";
