//! The built-in definitions, compiled into the library: the lowest layer, purpose-based as the spec
//! lists them (development, desktop, gaming, multimedia). They are ordinary definition files in
//! `builtin/`, read with the same parser and rules as any other file (a test proves each is valid),
//! so a system or user file overrides them field by field like any lower layer.
//!
//! All four start from the spec's `quay.io/toolbx/arch-toolbox:latest`, so their package names are
//! Arch Linux's. `development` is the spec's example plus verify commands; `desktop` is privileged
//! with the spec's extra capabilities, as the spec says desktop environments run.

/// Each built-in definition: its name and its JSON text.
pub(super) const BUILTIN: &[(&str, &str)] = &[
    ("desktop", include_str!("builtin/desktop.json")),
    ("development", include_str!("builtin/development.json")),
    ("gaming", include_str!("builtin/gaming.json")),
    ("multimedia", include_str!("builtin/multimedia.json")),
];
