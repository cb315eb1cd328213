//! Where definitions come from and how layers combine: built-in (compiled in) < system directory <
//! user directory. [`load`] reads every layer into a [`Catalog`]; one bad file never hides the others
//! (it is listed in [`Catalog::invalid`] with its errors, and the lower layers' definition of that
//! name stays in force).
//!
//! Merge rules (a file whose name exists in a lower layer changes only the fields it states):
//! - scalars (`image`, `purpose`, `persistent`, `privileged`, `network`, `autostart`): replaced;
//! - lists (`packages`, `export_binaries`, `mounts`, `capabilities`, `devices`, `verify`): replaced
//!   whole. Appending could never remove an entry, and a replaced list is exactly what the file
//!   says, which is what a reader of that file expects;
//! - maps (`environment`, `desktop`): merged key by key, the higher layer winning per key.
//!
//! A user file can never raise privilege above what the layers below grant for that name:
//! `privileged: true`, capabilities beyond [`DEFAULT_CAPABILITIES`], `devices`, `network: "host"`,
//! `desktop.gpu`/`desktop.input` (device access), and mounts whose source resolves (through
//! symlinks, on the host) outside the user's home and `/tmp` are refused — unless a lower layer
//! already grants that same thing, so a user file may restate a list it replaces. Nor may it
//! change the code that runs with what a lower layer grants (`privilege.rs`).
//!
//! A system file (or the system directory) that is group- or world-writable, or not owned by the
//! expected owner (root), is refused: anyone who could write it could choose what others run.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::DEFAULT_CAPABILITIES;
use super::builtin;
use super::error::{DefinitionError, Diagnostic, Problem};
use super::model::{
    Capability, Definition, Layer, Network, ResolvedDefinition, Source, UserMounts,
};
use super::privilege;
use super::read::{EXTENSION, LayerFile, parse_layer, read_layer_file_with};

/// Where system definitions live (the spec's "System Containers" directory).
pub const DEFAULT_SYSTEM_DIR: &str = "/etc/containers/system";
/// The user directory, relative to `$XDG_CONFIG_HOME` (default `~/.config`).
pub const USER_DIR_IN_CONFIG: &str = "horizonos/containers";
/// The config directory relative to the home directory when `$XDG_CONFIG_HOME` is unset.
pub const DEFAULT_CONFIG_IN_HOME: &str = ".config";
/// The owner system definitions must have: root.
pub const ROOT_UID: u32 = 0;
/// Besides the home directory, the one host directory a user definition may mount from.
pub const SHARED_TMP: &str = "/tmp";
/// Mode bits that let the group or others write.
const GROUP_OR_WORLD_WRITABLE: u32 = 0o022;

/// The directories definitions are read from, and the values the layer rules depend on. A plain
/// value: tests hand in temporary directories and their own uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionSources {
    /// The system layer's directory (default [`DEFAULT_SYSTEM_DIR`]).
    pub system_dir: PathBuf,
    /// The user layer's directory; `None` when no home or config directory is known.
    pub user_dir: Option<PathBuf>,
    /// The user's home directory: user definitions may mount paths inside it.
    pub home: Option<PathBuf>,
    /// The uid that must own system definition files ([`ROOT_UID`] outside tests).
    pub system_owner: u32,
}

impl DefinitionSources {
    /// The standard locations, given the values of `$HOME` and `$XDG_CONFIG_HOME` (the caller reads
    /// the environment; this only decides). An empty or relative `$XDG_CONFIG_HOME` is ignored, as
    /// the XDG Base Directory specification says.
    pub fn from_environment(home: Option<OsString>, xdg_config_home: Option<OsString>) -> Self {
        let home = home
            .filter(|home| !home.is_empty())
            .map(PathBuf::from)
            .filter(|home| home.is_absolute());
        let config = xdg_config_home
            .map(PathBuf::from)
            .filter(|dir| dir.is_absolute())
            .or_else(|| home.as_ref().map(|home| home.join(DEFAULT_CONFIG_IN_HOME)));
        DefinitionSources {
            system_dir: PathBuf::from(DEFAULT_SYSTEM_DIR),
            user_dir: config.map(|config| config.join(USER_DIR_IN_CONFIG)),
            home,
            system_owner: ROOT_UID,
        }
    }

    /// The directory of a layer (`None` for built-ins, and for the user layer without a home).
    pub fn dir(&self, layer: Layer) -> Option<&Path> {
        match layer {
            Layer::BuiltIn => None,
            Layer::System => Some(&self.system_dir),
            Layer::User => self.user_dir.as_deref(),
        }
    }
}

/// Every definition found, merged, plus every file that could not be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    /// The merged definitions, by name.
    pub definitions: Vec<ResolvedDefinition>,
    /// The files that were refused, lowest layer first, with why.
    pub invalid: Vec<InvalidFile>,
}

impl Catalog {
    /// The definition with this name.
    pub fn get(&self, name: &str) -> Option<&ResolvedDefinition> {
        self.definitions
            .iter()
            .find(|resolved| resolved.definition.name == name)
    }
}

/// A definition file that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidFile {
    /// The file (or directory, when a whole directory was refused).
    pub path: PathBuf,
    /// The layer it belongs to.
    pub layer: Layer,
    /// Every problem found.
    pub error: DefinitionError,
}

/// Reads and merges every layer. Never fails as a whole: each unusable file (or directory) is
/// reported in [`Catalog::invalid`].
pub fn load(sources: &DefinitionSources) -> Catalog {
    let (definitions, invalid) = load_layers(sources, Layer::User);
    Catalog {
        definitions: definitions.into_values().collect(),
        invalid,
    }
}

/// Checks one file as a file of `layer`: parsed, checked, and merged over the layers below it (so
/// an override may omit `image`, and the user layer's privilege rules apply). The file's ownership
/// and mode are not checked here: this checks what the file says, wherever it is kept.
pub fn check_file(
    sources: &DefinitionSources,
    path: &Path,
    layer: Layer,
) -> Result<ResolvedDefinition, DefinitionError> {
    let file = read_layer_file_with(path, |_| Ok(()))?;
    apply(
        below(sources, layer, &file.layer.name).as_ref(),
        &file,
        layer,
        sources.home.as_deref(),
    )
}

/// [`check_file`] of a file's content before it is written (`path` names it in errors).
pub fn check_bytes(
    sources: &DefinitionSources,
    path: &Path,
    bytes: &[u8],
    layer: Layer,
) -> Result<ResolvedDefinition, DefinitionError> {
    let file = parse_layer(bytes, path)?;
    apply(
        below(sources, layer, &file.layer.name).as_ref(),
        &file,
        layer,
        sources.home.as_deref(),
    )
}

/// Definition `name` as the layers below `layer` make it (`None` when none of them defines it).
pub fn below(sources: &DefinitionSources, layer: Layer, name: &str) -> Option<ResolvedDefinition> {
    let top = match layer {
        Layer::BuiltIn => return None,
        Layer::System => Layer::BuiltIn,
        Layer::User => Layer::System,
    };
    load_layers(sources, top).0.remove(name)
}

/// The virtual path of a built-in definition, used in its errors and sources.
pub fn builtin_path(name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/{name}.{EXTENSION}"))
}

fn load_layers(
    sources: &DefinitionSources,
    top: Layer,
) -> (BTreeMap<String, ResolvedDefinition>, Vec<InvalidFile>) {
    let mut definitions: BTreeMap<String, ResolvedDefinition> = BTreeMap::new();
    let mut invalid = Vec::new();
    for (name, text) in builtin::BUILTIN {
        let path = builtin_path(name);
        let result = parse_layer(text.as_bytes(), &path)
            .and_then(|file| apply(None, &file, Layer::BuiltIn, sources.home.as_deref()));
        merge_result(&mut definitions, &mut invalid, path, Layer::BuiltIn, result);
    }
    for layer in [Layer::System, Layer::User] {
        if layer > top {
            break;
        }
        let Some(dir) = sources.dir(layer) else {
            continue;
        };
        let files = match definition_files(dir, layer, sources.system_owner) {
            Ok(files) => files,
            Err(error) => {
                invalid.push(InvalidFile {
                    path: dir.to_owned(),
                    layer,
                    error,
                });
                continue;
            }
        };
        for path in files {
            let result = if layer == Layer::System {
                read_layer_file_with(&path, |metadata| {
                    check_ownership(metadata, sources.system_owner, "file", &path)
                })
            } else {
                read_layer_file_with(&path, |_| Ok(()))
            }
            .and_then(|file| {
                apply(
                    definitions.get(&file.layer.name),
                    &file,
                    layer,
                    sources.home.as_deref(),
                )
            });
            merge_result(&mut definitions, &mut invalid, path, layer, result);
        }
    }
    (definitions, invalid)
}

fn merge_result(
    definitions: &mut BTreeMap<String, ResolvedDefinition>,
    invalid: &mut Vec<InvalidFile>,
    path: PathBuf,
    layer: Layer,
    result: Result<ResolvedDefinition, DefinitionError>,
) {
    match result {
        Ok(resolved) => {
            definitions.insert(resolved.definition.name.clone(), resolved);
        }
        Err(error) => invalid.push(InvalidFile { path, layer, error }),
    }
}

/// The `*.json` files of a directory, sorted; none when it does not exist. The system directory
/// itself must pass the ownership check.
fn definition_files(
    dir: &Path,
    layer: Layer,
    system_owner: u32,
) -> Result<Vec<PathBuf>, DefinitionError> {
    let whole = |problem| {
        DefinitionError::single(Diagnostic {
            file: dir.to_owned(),
            position: None,
            field: String::new(),
            problem,
        })
    };
    let unreadable = |error: std::io::Error| {
        whole(Problem::Unreadable {
            message: error.to_string(),
        })
    };
    let metadata = match std::fs::metadata(dir) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(dir = %dir.display(), %layer, "no definition directory");
            return Ok(Vec::new());
        }
        Err(error) => return Err(unreadable(error)),
    };
    if layer == Layer::System {
        check_ownership(&metadata, system_owner, "directory", dir).map_err(whole)?;
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let is_definition = path.extension().is_some_and(|ext| ext == EXTENSION)
            && !entry.file_name().to_string_lossy().starts_with('.');
        if !is_definition {
            tracing::debug!(path = %path.display(), "not a definition file, skipped");
            continue;
        }
        // Whatever is not a regular file is still handed to the reader, which refuses it without
        // reading it: it is listed as invalid, never skipped in silence.
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// A system file or directory must be owned by `owner` and not writable by group or others.
fn check_ownership(
    metadata: &Metadata,
    owner: u32,
    what: &str,
    path: &Path,
) -> Result<(), Problem> {
    let mode = metadata.mode() & 0o7777;
    let owner_name = if owner == ROOT_UID {
        "root (uid 0)".to_owned()
    } else {
        format!("uid {owner}")
    };
    if mode & GROUP_OR_WORLD_WRITABLE != 0 {
        return Err(Problem::Insecure {
            reason: format!(
                "the system definition {what} is writable by its group or by others (mode {mode:04o}); \
                 only its owner may write it: run `chmod go-w {}`",
                path.display()
            ),
        });
    }
    if metadata.uid() != owner {
        return Err(Problem::Insecure {
            reason: format!(
                "the system definition {what} is owned by uid {}, not by {owner_name}: run `chown {owner} {}`",
                metadata.uid(),
                path.display()
            ),
        });
    }
    Ok(())
}

/// Merges one file over the definition of its name from the lower layers (if any).
fn apply(
    base: Option<&ResolvedDefinition>,
    file: &LayerFile,
    layer: Layer,
    home: Option<&Path>,
) -> Result<ResolvedDefinition, DefinitionError> {
    let mut diagnostics = Vec::new();
    let user_mounts = if layer == Layer::User {
        UserMounts {
            home: home.map(Path::to_owned),
            targets: user_rules(base.map(|b| &b.definition), file, home, &mut diagnostics),
        }
    } else {
        UserMounts::default()
    };
    let new = &file.layer;
    let (mut definition, mut origins, mut sources) = match (base, &new.image) {
        (Some(base), _) => (
            base.definition.clone(),
            base.origins.clone(),
            base.sources.clone(),
        ),
        (None, Some(image)) => (
            Definition::new(new.name.clone(), image.clone()),
            BTreeMap::from([("name".to_owned(), layer)]),
            Vec::new(),
        ),
        (None, None) => {
            diagnostics.push(file.diagnostic("", Problem::MissingField { field: "image" }));
            return Err(sorted(diagnostics));
        }
    };
    let mut set = |field: &str| {
        origins.insert(field.to_owned(), layer);
    };
    macro_rules! replace {
        ($($field:ident),*) => {
            $(if let Some(value) = &new.$field {
                definition.$field = value.clone();
                set(stringify!($field));
            })*
        };
    }
    replace!(
        image,
        packages,
        export_binaries,
        persistent,
        mounts,
        privileged,
        capabilities,
        devices,
        network,
        verify,
        autostart
    );
    if let Some(purpose) = &new.purpose {
        definition.purpose = Some(purpose.clone());
        set("purpose");
    }
    for (key, value) in new.environment.iter().flatten() {
        definition.environment.insert(key.clone(), value.clone());
        set(&format!("environment.{key}"));
    }
    if let Some(desktop) = &new.desktop {
        for (key, value, slot) in [
            ("display", desktop.display, &mut definition.desktop.display),
            ("audio", desktop.audio, &mut definition.desktop.audio),
            ("gpu", desktop.gpu, &mut definition.desktop.gpu),
            ("input", desktop.input, &mut definition.desktop.input),
        ] {
            if let Some(value) = value {
                *slot = value;
                set(&format!("desktop.{key}"));
            }
        }
    }
    let privilege = privilege::grants(&definition, &origins, base.map(|b| &b.origins), home);
    if layer == Layer::User
        && let Some(base) = base
        && !privilege.is_empty()
    {
        let undo = privilege::undo(&privilege, &definition, home);
        // A value already refused for raising privilege is not refused twice.
        let refused: Vec<String> = diagnostics.iter().map(|d| d.field.clone()).collect();
        for field in privilege::code_changes(&base.definition, new) {
            if refused.contains(&field) {
                continue;
            }
            let problem = Problem::ChangesPrivilegedCode {
                name: new.name.clone(),
                field: field.clone(),
                grants: privilege.clone(),
                undo: undo.clone(),
            };
            diagnostics.push(file.diagnostic(&field, problem));
        }
    }
    // `ALL` needs `privileged`, whichever layers the two come from; blame the field this file set.
    if definition.capabilities.contains(&Capability::All) && !definition.privileged {
        let field = match new
            .capabilities
            .as_ref()
            .and_then(|caps| caps.iter().position(|c| *c == Capability::All))
        {
            Some(index) => format!("capabilities[{index}]"),
            None if new.privileged.is_some() => "privileged".to_owned(),
            None => String::new(),
        };
        diagnostics.push(file.diagnostic(
            &field,
            Problem::Conflict {
                rule: "the capability ALL is allowed only with \"privileged\": true".to_owned(),
            },
        ));
    }
    if !diagnostics.is_empty() {
        return Err(sorted(diagnostics));
    }
    sources.push(Source {
        layer,
        path: file.path.clone(),
    });
    Ok(ResolvedDefinition {
        definition,
        sources,
        origins,
        privilege,
        user_mounts,
    })
}

fn sorted(mut diagnostics: Vec<Diagnostic>) -> DefinitionError {
    diagnostics.sort_by_key(|d| d.position);
    DefinitionError { diagnostics }
}

/// The user layer's privilege rules: nothing beyond what `base` (the lower layers) already grants.
/// Returns the targets of the mounts the file chose itself (not restated from `base`), whose
/// sources must stay inside the home and /tmp.
fn user_rules(
    base: Option<&Definition>,
    file: &LayerFile,
    home: Option<&Path>,
    out: &mut Vec<Diagnostic>,
) -> Vec<PathBuf> {
    let new = &file.layer;
    let granted = |test: &dyn Fn(&Definition) -> bool| base.is_some_and(test);
    let mut refuse = |field: String, rule: String| {
        out.push(file.diagnostic(&field, Problem::RaisesPrivilege { rule }));
    };
    if new.privileged == Some(true) && !granted(&|d| d.privileged) {
        refuse(
            "privileged".into(),
            "only a system definition can make a container privileged".into(),
        );
    }
    for (index, capability) in new.capabilities.iter().flatten().enumerate() {
        if !DEFAULT_CAPABILITIES.contains(capability)
            && !granted(&|d| d.capabilities.contains(capability))
        {
            refuse(
                format!("capabilities[{index}]"),
                format!(
                    "{capability} is beyond the default capability set; only a system definition can grant it"
                ),
            );
        }
    }
    for (index, device) in new.devices.iter().flatten().enumerate() {
        if !granted(&|d| d.devices.contains(device)) {
            refuse(
                format!("devices[{index}]"),
                format!("{device} is a host device; only a system definition can grant devices"),
            );
        }
    }
    if new.network == Some(Network::Host) && !granted(&|d| d.network == Network::Host) {
        refuse(
            "network".into(),
            "\"host\" shares the host's network namespace; only a system definition can choose it"
                .into(),
        );
    }
    if let Some(desktop) = &new.desktop {
        if desktop.gpu == Some(true) && !granted(&|d| d.desktop.gpu) {
            refuse(
                "desktop.gpu".into(),
                "GPU access is access to host devices (/dev/dri); only a system definition can grant it"
                    .into(),
            );
        }
        if desktop.input == Some(true) && !granted(&|d| d.desktop.input) {
            refuse(
                "desktop.input".into(),
                "input access is access to host devices (/dev/input); only a system definition can grant it"
                    .into(),
            );
        }
    }
    let mut confined = Vec::new();
    for (index, mount) in new.mounts.iter().flatten().enumerate() {
        let restated = granted(&|d| d.mounts.iter().any(|m| privilege::narrows(mount, m)));
        if restated {
            continue;
        }
        confined.push(mount.target.clone());
        if let Err(rule) = user_mount_allowed(&mount.source, home) {
            refuse(format!("mounts[{index}]"), rule);
        }
    }
    confined
}

/// A user definition may mount a host path only when, with every symlink resolved, it is inside
/// the home directory or `/tmp`; returns the resolved path.
pub fn user_mount_allowed(source: &Path, home: Option<&Path>) -> Result<PathBuf, String> {
    let resolved = resolve_host_path(source)?;
    let mut roots = Vec::new();
    if let Some(home) = home {
        roots.push(std::fs::canonicalize(home).unwrap_or_else(|_| home.to_owned()));
    }
    let tmp = Path::new(SHARED_TMP);
    roots.push(std::fs::canonicalize(tmp).unwrap_or_else(|_| tmp.to_owned()));
    if roots.iter().any(|root| resolved.starts_with(root)) {
        return Ok(resolved);
    }
    let place = if resolved == source {
        format!("{} is", source.display())
    } else {
        format!(
            "{} resolves to {}, which is",
            source.display(),
            resolved.display()
        )
    };
    let allowed = match home {
        Some(home) => format!("your home ({}) and {SHARED_TMP}", home.display()),
        None => format!("{SHARED_TMP} (no home directory is known)"),
    };
    Err(format!(
        "{place} outside {allowed}; a user definition may mount only paths inside those"
    ))
}

/// The host path with every existing symlink resolved. Components that do not exist yet are kept
/// as written (they cannot be symlinks; the path is normalised and has no `..`). A dangling symlink
/// cannot be resolved and is an error.
fn resolve_host_path(path: &Path) -> Result<PathBuf, String> {
    let mut existing = path;
    let mut missing = Vec::new();
    loop {
        match std::fs::symlink_metadata(existing) {
            Ok(_) => break,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    break;
                };
                missing.push(name);
                existing = parent;
            }
            Err(error) => {
                return Err(format!("{} cannot be checked: {error}", existing.display()));
            }
        }
    }
    let mut resolved = std::fs::canonicalize(existing).map_err(|error| {
        format!(
            "{} cannot be resolved ({error}); a user definition may mount only paths that resolve inside the home directory or {SHARED_TMP}",
            existing.display()
        )
    })?;
    for name in missing.into_iter().rev() {
        resolved.push(name);
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests;
