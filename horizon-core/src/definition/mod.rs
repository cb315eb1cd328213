//! Container definitions: the spec's JSON format, read strictly, validated, layered (built-in <
//! system < user) and explained.
//!
//! The walk a definition takes: bytes → [`parse::parse_json`] (strict JSON with positions) →
//! [`read::parse_layer`] (typed [`DefinitionLayer`], every field checked by `validate.rs`) →
//! [`layers::load`] (merged over the lower layers into a [`ResolvedDefinition`], with the user
//! layer's privilege rules — `privilege.rs`: nothing raised, and no change of the code a lower
//! layer's privilege runs — and the system layer's ownership rules) → [`Catalog`]. Nothing here reads
//! the process environment or prints: directories come in a [`DefinitionSources`] value, and every
//! problem comes back as a [`Diagnostic`] naming file, line, column and field.
//!
//! The format, every field's default and the merge rules are documented in `docs/definitions.md`.

mod builtin;
mod error;
mod hash;
mod layers;
mod model;
pub mod parse;
mod privilege;
mod read;
mod schema;
pub mod validate;

pub use error::{DefinitionError, Diagnostic, Problem};
pub use layers::{
    Catalog, DEFAULT_CONFIG_IN_HOME, DEFAULT_SYSTEM_DIR, DefinitionSources, InvalidFile, ROOT_UID,
    SHARED_TMP, USER_DIR_IN_CONFIG, below, builtin_path, check_bytes, check_file, load,
    user_mount_allowed,
};
pub use model::{
    Capability, Definition, DefinitionLayer, Desktop, DesktopLayer, Device, ImageReference, Layer,
    Mount, Network, ResolvedDefinition, Source, UserMounts,
};
pub use parse::{MAX_DEFINITION_BYTES, Position};
pub use privilege::{CODE_FIELDS, Grant, USER_DATA_DIR, describe as describe_grants};
pub use read::{FIELDS, LayerFile, file_stem, parse_layer, read_layer_file};
pub use schema::{SCHEMA_PATH, json_schema, json_schema_text};

/// The capabilities every container gets (the spec's "Container Capabilities"); a definition's
/// `capabilities` adds to them. A user definition may list only these.
pub const DEFAULT_CAPABILITIES: &[Capability] = &[
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::NetBindService,
    Capability::Setfcap,
    Capability::Setgid,
    Capability::Setpcap,
    Capability::Setuid,
    Capability::SysChroot,
];

/// Names of the built-in definitions.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    builtin::BUILTIN.iter().map(|(name, _)| *name)
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;

    use super::DefinitionSources;

    /// Sources inside `dir` (`system/`, `user/`, `home/`), trusting the test's own uid as the
    /// owner of system files.
    pub fn sources(dir: &Path) -> DefinitionSources {
        let uid = std::fs::metadata(dir).unwrap().uid();
        let home = dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        DefinitionSources {
            system_dir: dir.join("system"),
            user_dir: Some(dir.join("user")),
            home: Some(home),
            system_owner: uid,
        }
    }
}
