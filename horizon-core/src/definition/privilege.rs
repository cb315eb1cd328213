//! Privilege belongs to the layer that granted it, not to a name. A built-in or system definition
//! may grant its container what no user file can (privileged mode, capabilities beyond the default
//! set, devices, GPU and input access, the host's network, mounts from outside the user's data);
//! that grant is for the code that layer chose. A user file with the same name may tune the
//! container — exports, persistence, autostart, a narrower network, display and audio, less of
//! the privilege — but while the result still holds such a grant it may not change what code runs
//! with it: the image, the packages, the verify commands, the environment (`LD_PRELOAD`, `PATH`
//! and every variable a program reads decide what it loads) or a mount that is not the lower
//! layer's (one could put code over `/usr/bin` or `/etc/ld.so.preload`). Such a file is refused,
//! each change named with the privilege it would inherit and how to drop it; a file that drops
//! every grant may choose its code, as a container of the user's own.
//!
//! Refusing, rather than running the user's code without the privilege, keeps the result one of
//! the two things someone wrote: the lower layer's container, or the user's own unprivileged one
//! (which the file says explicitly, so `show --explain` shows it field by field). A container that
//! silently lost its privilege would fail later in ways nobody could explain.
//!
//! The spec keeps user data in `/home` and mounts it "into containers as needed" (the built-in
//! development container mounts all of it): a lower layer's mount of `/home` or below is user
//! data, not a grant, so such containers stay the user's to change.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::DEFAULT_CAPABILITIES;
use super::layers::user_mount_allowed;
use super::model::{Definition, DefinitionLayer, Layer, Mount, Network};

/// Where the spec keeps user data ("User data remains in /home and is bind-mounted into
/// containers as needed"): a lower layer's mount from here is not a privilege.
pub const USER_DATA_DIR: &str = "/home";

/// The fields that decide what code runs in a container, which a user file may not change while
/// the container holds a grant of a lower layer.
pub const CODE_FIELDS: &[&str] = &["image", "packages", "verify", "environment", "mounts"];

/// Something a definition grants its container that a user file could not grant itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The field that grants it: `privileged`, `capabilities`, `devices`, `desktop.gpu`,
    /// `desktop.input`, `network` or `mounts`.
    pub field: &'static str,
    /// What it grants, as a message names it: `privileged`, `capabilities SYS_ADMIN NET_ADMIN`,
    /// `mount /srv/media:/media`.
    pub what: String,
    /// The layer that granted it.
    pub layer: Layer,
}

/// The grants `definition` holds. `origins` says which layer set each field; a field a user file
/// restated (or narrowed) is still granted by the layer below it, whose origins are `lower`.
pub(crate) fn grants(
    definition: &Definition,
    origins: &BTreeMap<String, Layer>,
    lower: Option<&BTreeMap<String, Layer>>,
    home: Option<&Path>,
) -> Vec<Grant> {
    let layer_of = |field: &str| {
        let set_by = origins.get(field).copied().unwrap_or(Layer::BuiltIn);
        if set_by == Layer::User {
            lower
                .and_then(|lower| lower.get(field).copied())
                .unwrap_or(Layer::User)
        } else {
            set_by
        }
    };
    let mut found = Vec::new();
    let mut grant = |field: &'static str, what: String| {
        found.push(Grant {
            field,
            what,
            layer: layer_of(field),
        });
    };
    if definition.privileged {
        grant("privileged", "privileged".to_owned());
    }
    let extra: Vec<&str> = definition
        .capabilities
        .iter()
        .filter(|capability| !DEFAULT_CAPABILITIES.contains(capability))
        .map(|capability| capability.name())
        .collect();
    if !extra.is_empty() {
        grant("capabilities", format!("capabilities {}", extra.join(" ")));
    }
    if !definition.devices.is_empty() {
        let devices: Vec<String> = definition.devices.iter().map(ToString::to_string).collect();
        grant("devices", format!("devices {}", devices.join(" ")));
    }
    if definition.desktop.gpu {
        grant("desktop.gpu", "desktop.gpu".to_owned());
    }
    if definition.desktop.input {
        grant("desktop.input", "desktop.input".to_owned());
    }
    if definition.network == Network::Host {
        grant("network", "network host".to_owned());
    }
    for mount in &definition.mounts {
        if !is_user_data(mount, home) {
            grant("mounts", format!("mount {mount}"));
        }
    }
    found
}

/// A mount a user file could make itself, or one of the spec's user data.
fn is_user_data(mount: &Mount, home: Option<&Path>) -> bool {
    mount.source.starts_with(USER_DATA_DIR) || user_mount_allowed(&mount.source, home).is_ok()
}

/// The field paths of `file` that change the code `lower` runs: its image, packages or verify
/// commands when they differ, each environment variable it sets to another value, and each
/// mount `lower` does not have (restated, or made read-only).
pub(crate) fn code_changes(lower: &Definition, file: &DefinitionLayer) -> Vec<String> {
    let mut changes = Vec::new();
    if file
        .image
        .as_ref()
        .is_some_and(|image| *image != lower.image)
    {
        changes.push("image".to_owned());
    }
    if file
        .packages
        .as_ref()
        .is_some_and(|packages| *packages != lower.packages)
    {
        changes.push("packages".to_owned());
    }
    if file
        .verify
        .as_ref()
        .is_some_and(|verify| *verify != lower.verify)
    {
        changes.push("verify".to_owned());
    }
    for (key, value) in file.environment.iter().flatten() {
        if lower.environment.get(key) != Some(value) {
            changes.push(format!("environment.{key}"));
        }
    }
    for (index, mount) in file.mounts.iter().flatten().enumerate() {
        if !lower.mounts.iter().any(|granted| narrows(mount, granted)) {
            changes.push(format!("mounts[{index}]"));
        }
    }
    changes
}

/// `mount` is `granted`, or `granted` made read-only.
pub(crate) fn narrows(mount: &Mount, granted: &Mount) -> bool {
    mount.source == granted.source
        && mount.target == granted.target
        && (mount.read_only || !granted.read_only)
}

/// The grants as a refusal names them, grouped by layer: `privileged, desktop.gpu from the
/// built-in layer; devices /dev/kvm:/dev/kvm:rwm from the system layer`.
pub fn describe(grants: &[Grant]) -> String {
    let mut by_layer: BTreeMap<Layer, Vec<&str>> = BTreeMap::new();
    for grant in grants {
        by_layer.entry(grant.layer).or_default().push(&grant.what);
    }
    by_layer
        .iter()
        .map(|(layer, whats)| format!("{} from the {layer} layer", whats.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a user file writes to drop `grants` from `definition`, one JSON member each:
/// `"privileged": false`, `"desktop": {"gpu": false}`, `"mounts": ["/home"]`.
pub(crate) fn undo(grants: &[Grant], definition: &Definition, home: Option<&Path>) -> Vec<String> {
    let has = |field: &str| grants.iter().any(|grant| grant.field == field);
    let mut members = Vec::new();
    for (field, member) in [
        ("privileged", r#""privileged": false"#),
        ("capabilities", r#""capabilities": []"#),
        ("devices", r#""devices": []"#),
    ] {
        if has(field) {
            members.push(member.to_owned());
        }
    }
    let desktop: Vec<&str> = [
        ("desktop.gpu", r#""gpu": false"#),
        ("desktop.input", r#""input": false"#),
    ]
    .iter()
    .filter(|(field, _)| has(field))
    .map(|(_, member)| *member)
    .collect();
    if !desktop.is_empty() {
        members.push(format!(r#""desktop": {{{}}}"#, desktop.join(", ")));
    }
    if has("network") {
        members.push(r#""network": "private""#.to_owned());
    }
    if has("mounts") {
        let kept: Vec<String> = definition
            .mounts
            .iter()
            .filter(|mount| is_user_data(mount, home))
            .map(|mount| serde_json::Value::String(mount.to_string()).to_string())
            .collect();
        members.push(format!(r#""mounts": [{}]"#, kept.join(", ")));
    }
    members
}
