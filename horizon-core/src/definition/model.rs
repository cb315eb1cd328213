//! The typed values of a container definition. [`Definition`] is the merged, validated result every
//! other module works with; [`DefinitionLayer`] is one file of one layer, every field optional except
//! `name` (a file over a lower layer states only what it changes). The JSON Schema is generated from
//! [`DefinitionLayer`], so the doc comments here are also what editors show.
//!
//! Values are only built through the checks in `validate.rs` (the readers in `read.rs` call them);
//! the types keep their fields public so that later modules can read them without ceremony.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Serialize, Serializer};

/// A merged, validated container definition: what `install`, `run` and `export` use.
///
/// Defaults for fields no layer set: no purpose, no packages or exports, not persistent, no mounts,
/// no environment, not privileged, no extra capabilities, no desktop integration, no devices, a
/// private network, no verify commands, no autostart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// The container's name: a lowercase DNS label, equal to its file's stem.
    pub name: String,
    /// The fully qualified image it starts from.
    pub image: ImageReference,
    /// What the container is for (`development`, `desktop`, …).
    pub purpose: Option<String>,
    /// Packages installed in the container on install and update.
    pub packages: Vec<String>,
    /// Binaries exported to the host PATH as wrapper scripts.
    pub export_binaries: Vec<String>,
    /// Keep the container (and its state) between runs and reboots.
    pub persistent: bool,
    /// Host paths bind-mounted into the container.
    pub mounts: Vec<Mount>,
    /// Environment variables set in the container.
    pub environment: BTreeMap<String, String>,
    /// Run the container privileged.
    pub privileged: bool,
    /// Capabilities added to [`DEFAULT_CAPABILITIES`](super::DEFAULT_CAPABILITIES).
    pub capabilities: Vec<Capability>,
    /// Desktop integration: display, audio, GPU, input devices.
    pub desktop: Desktop,
    /// Extra host devices.
    pub devices: Vec<Device>,
    /// The network namespace.
    pub network: Network,
    /// Commands run in the container after install and update; each must exit 0.
    pub verify: Vec<Vec<String>>,
    /// Start the container at boot (through systemd).
    pub autostart: bool,
}

impl Definition {
    /// A definition with the given name and image and every other field at its default.
    pub fn new(name: impl Into<String>, image: ImageReference) -> Self {
        Definition {
            name: name.into(),
            image,
            purpose: None,
            packages: Vec::new(),
            export_binaries: Vec::new(),
            persistent: false,
            mounts: Vec::new(),
            environment: BTreeMap::new(),
            privileged: false,
            capabilities: Vec::new(),
            desktop: Desktop::default(),
            devices: Vec::new(),
            network: Network::default(),
            verify: Vec::new(),
            autostart: false,
        }
    }

    /// The capabilities the container runs with: the default set plus `capabilities`, in the
    /// kernel's order, without repeats (a privileged container gets all of them from Podman).
    pub fn effective_capabilities(&self) -> Vec<Capability> {
        let mut all: Vec<Capability> = super::DEFAULT_CAPABILITIES.to_vec();
        all.extend(self.capabilities.iter().copied());
        all.sort();
        all.dedup();
        all
    }
}

/// A HorizonOS container definition: one JSON file per container, named NAME.json. A file whose
/// name matches a container of a lower layer (built-in < system < user) changes only the fields it
/// states; every field but `name` is optional there.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(title = "HorizonOS container definition", deny_unknown_fields)]
pub struct DefinitionLayer {
    /// The container's name: lowercase letters, digits and '-', starting with a letter, not ending
    /// with '-', at most 63 characters; equal to the file name without `.json`.
    #[schemars(regex(pattern = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub name: String,
    /// Fully qualified image reference: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST,
    /// e.g. `quay.io/toolbx/arch-toolbox:latest`. Required unless a lower layer sets it.
    pub image: Option<ImageReference>,
    /// What the container is for, e.g. `development`, `desktop`, `gaming`, `multimedia`
    /// (same characters as `name`).
    #[schemars(regex(pattern = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"))]
    pub purpose: Option<String>,
    /// Packages to install in the container (distribution package names). Replaces a lower
    /// layer's list.
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._+:=~@-]{0,127}$")))]
    pub packages: Option<Vec<String>>,
    /// Binaries to export to the host PATH. Replaces a lower layer's list.
    #[schemars(inner(regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$")))]
    pub export_binaries: Option<Vec<String>>,
    /// Keep the container between runs and reboots. Default false.
    pub persistent: Option<bool>,
    /// Host paths to bind-mount: "/home" (same path inside), "/host:/container",
    /// "/host:/container:ro" (or ":rw"), or {"source", "target", "read_only"}. Replaces a lower
    /// layer's list. A user definition may mount only paths inside the user's home and /tmp.
    pub mounts: Option<Vec<Mount>>,
    /// Environment variables (NAME: value, one line each). Merged key by key with lower layers.
    pub environment: Option<BTreeMap<EnvName, EnvValue>>,
    /// Run privileged (only system definitions may). Default false.
    pub privileged: Option<bool>,
    /// Capabilities added to the default set (CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
    /// NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT); `SYS_ADMIN` and
    /// `CAP_SYS_ADMIN` are the same. `ALL` only with `privileged`. Replaces a lower layer's list.
    pub capabilities: Option<Vec<Capability>>,
    /// Desktop integration. Merged key by key with lower layers.
    pub desktop: Option<DesktopLayer>,
    /// Host devices: `"/dev/HOST[:/dev/CONTAINER[:PERMISSIONS]]"`, PERMISSIONS a subset of "rwm"
    /// (default "rwm"). Only system definitions may add devices. Replaces a lower layer's list.
    pub devices: Option<Vec<Device>>,
    /// Network namespace: "private" (default), "host" (only system definitions) or "none".
    pub network: Option<Network>,
    /// Commands (argv arrays) run in the container after install and update, e.g.
    /// `[["git", "--version"]]`; each must exit 0. Replaces a lower layer's list.
    pub verify: Option<Vec<Vec<String>>>,
    /// Start the container at boot. Default false.
    pub autostart: Option<bool>,
}

/// An environment variable name (schema only: the value is a plain string).
pub(super) type EnvName = String;
/// An environment variable value (schema only: the value is a plain string).
pub(super) type EnvValue = String;

/// Desktop integration of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Desktop {
    /// The display server (Wayland and X11 sockets).
    pub display: bool,
    /// The audio server (PipeWire/PulseAudio socket).
    pub audio: bool,
    /// GPU acceleration (/dev/dri).
    pub gpu: bool,
    /// Input devices (/dev/input).
    pub input: bool,
}

/// Desktop integration as one layer states it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DesktopLayer {
    /// Share the display server (Wayland and X11). Default false.
    pub display: Option<bool>,
    /// Share the audio server (PipeWire). Default false.
    pub audio: Option<bool>,
    /// GPU acceleration through /dev/dri (only system definitions may turn it on). Default false.
    pub gpu: Option<bool>,
    /// Input devices under /dev/input (only system definitions may turn it on). Default false.
    pub input: Option<bool>,
}

/// A bind mount from the host into the container. Paths are absolute and normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Mount {
    /// The host path.
    pub source: PathBuf,
    /// The path inside the container.
    pub target: PathBuf,
    /// Mount read-only.
    pub read_only: bool,
}

impl fmt::Display for Mount {
    /// The short string form: `/home`, `/src:/dst`, `/src:/dst:ro`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source == self.target && !self.read_only {
            return write!(f, "{}", self.source.display());
        }
        write!(f, "{}:{}", self.source.display(), self.target.display())?;
        if self.read_only {
            write!(f, ":ro")?;
        }
        Ok(())
    }
}

impl JsonSchema for Mount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mount".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A bind mount: \"/path\" (same path inside), \"/host:/container\", \"/host:/container:ro\" or \":rw\", or an object.",
            "oneOf": [
                { "type": "string", "pattern": "^/[^:]*(:/[^:]*(:(ro|rw))?)?$" },
                {
                    "type": "object",
                    "properties": {
                        "source": { "type": "string", "pattern": "^/", "description": "Absolute host path." },
                        "target": { "type": "string", "pattern": "^/", "description": "Absolute path in the container." },
                        "read_only": { "type": "boolean", "description": "Mount read-only. Default false." }
                    },
                    "required": ["source", "target"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A host device made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Device {
    /// The device on the host (under /dev).
    pub host: PathBuf,
    /// Its path in the container (under /dev).
    pub container: PathBuf,
    /// Cgroup permissions: a non-empty subset of `rwm`, in that order.
    pub permissions: String,
}

impl fmt::Display for Device {
    /// The canonical string form `HOST:CONTAINER:PERMISSIONS`, as Podman's `--device` takes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.host.display(),
            self.container.display(),
            self.permissions
        )
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Device {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Device".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A host device: \"/dev/HOST[:/dev/CONTAINER[:PERMISSIONS]]\", PERMISSIONS a non-empty subset of \"rwm\" (default \"rwm\").",
            "type": "string",
            "pattern": "^/dev/[^:]+(:/dev/[^:]+(:[rwm]{1,3})?)?$"
        })
    }
}

/// The network namespace of a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Its own network namespace with outbound access (the default).
    #[default]
    Private,
    /// The host's network namespace (only system definitions).
    Host,
    /// No network at all.
    None,
}

impl Network {
    /// Every mode with its spelling in a definition file.
    pub const ALL: [(Network, &'static str); 3] = [
        (Network::Private, "private"),
        (Network::Host, "host"),
        (Network::None, "none"),
    ];

    /// The spelling in a definition file.
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Private => "private",
            Network::Host => "host",
            Network::None => "none",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A fully qualified image reference: `registry/repository:tag`, `registry/repository@sha256:…`,
/// or both (`registry/repository:tag@sha256:…`, where the digest decides).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    /// The reference as written (it is already in canonical form: nothing is added or lowered).
    pub full: String,
    /// The registry host, with its port if any (`quay.io`, `localhost:5000`).
    pub registry: String,
    /// The repository path inside the registry (`toolbx/arch-toolbox`).
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest (`sha256:<64 hex>`), if any.
    pub digest: Option<String>,
}

impl ImageReference {
    /// The reference as a string.
    pub fn as_str(&self) -> &str {
        &self.full
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl Serialize for ImageReference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl JsonSchema for ImageReference {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ImageReference".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A fully qualified image reference: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST. The registry is a host name with a '.' or a port, or localhost.",
            "type": "string",
            "pattern": "^([A-Za-z0-9-]+\\.[A-Za-z0-9.-]+|[A-Za-z0-9.-]+:[0-9]+|localhost)/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"
        })
    }
}

macro_rules! capabilities {
    ($($variant:ident => $name:literal,)*) => {
        /// A Linux capability (or `ALL`), named without the `CAP_` prefix.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Capability {
            $(
                #[doc = concat!("`CAP_", $name, "`")]
                $variant,
            )*
            /// Every capability (only for privileged containers).
            All,
        }

        impl Capability {
            /// Every capability the kernel defines, in its numbering order (without `ALL`).
            pub const KNOWN: &'static [Capability] = &[$(Capability::$variant,)*];

            /// The name without the `CAP_` prefix (`SYS_ADMIN`, or `ALL`).
            pub fn name(self) -> &'static str {
                match self {
                    $(Capability::$variant => $name,)*
                    Capability::All => "ALL",
                }
            }
        }
    };
}

capabilities! {
    Chown => "CHOWN",
    DacOverride => "DAC_OVERRIDE",
    DacReadSearch => "DAC_READ_SEARCH",
    Fowner => "FOWNER",
    Fsetid => "FSETID",
    Kill => "KILL",
    Setgid => "SETGID",
    Setuid => "SETUID",
    Setpcap => "SETPCAP",
    LinuxImmutable => "LINUX_IMMUTABLE",
    NetBindService => "NET_BIND_SERVICE",
    NetBroadcast => "NET_BROADCAST",
    NetAdmin => "NET_ADMIN",
    NetRaw => "NET_RAW",
    IpcLock => "IPC_LOCK",
    IpcOwner => "IPC_OWNER",
    SysModule => "SYS_MODULE",
    SysRawio => "SYS_RAWIO",
    SysChroot => "SYS_CHROOT",
    SysPtrace => "SYS_PTRACE",
    SysPacct => "SYS_PACCT",
    SysAdmin => "SYS_ADMIN",
    SysBoot => "SYS_BOOT",
    SysNice => "SYS_NICE",
    SysResource => "SYS_RESOURCE",
    SysTime => "SYS_TIME",
    SysTtyConfig => "SYS_TTY_CONFIG",
    Mknod => "MKNOD",
    Lease => "LEASE",
    AuditWrite => "AUDIT_WRITE",
    AuditControl => "AUDIT_CONTROL",
    Setfcap => "SETFCAP",
    MacOverride => "MAC_OVERRIDE",
    MacAdmin => "MAC_ADMIN",
    Syslog => "SYSLOG",
    WakeAlarm => "WAKE_ALARM",
    BlockSuspend => "BLOCK_SUSPEND",
    AuditRead => "AUDIT_READ",
    Perfmon => "PERFMON",
    Bpf => "BPF",
    CheckpointRestore => "CHECKPOINT_RESTORE",
}

impl Capability {
    /// The name as the kernel and Podman spell it (`CAP_SYS_ADMIN`; `ALL` stays `ALL`).
    pub fn kernel_name(self) -> String {
        match self {
            Capability::All => "ALL".to_owned(),
            other => format!("CAP_{}", other.name()),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl JsonSchema for Capability {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Capability".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names: Vec<String> = Vec::new();
        for capability in Capability::KNOWN {
            names.push(capability.name().to_owned());
            names.push(capability.kernel_name());
        }
        names.push("ALL".to_owned());
        names.push("CAP_ALL".to_owned());
        schemars::json_schema!({
            "description": "A Linux capability, with or without the CAP_ prefix, in capitals; ALL only with privileged.",
            "type": "string",
            "enum": names
        })
    }
}

/// Where a definition (or one of its fields) came from, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layer {
    /// Compiled into horizon-core.
    BuiltIn,
    /// The system directory (`/etc/containers/system`).
    System,
    /// The user's directory (`~/.config/horizonos/containers`).
    User,
}

impl Layer {
    /// The name shown to people and written into labels: `built-in`, `system`, `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::BuiltIn => "built-in",
            Layer::System => "system",
            Layer::User => "user",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One file that contributed to a merged definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Its layer.
    pub layer: Layer,
    /// Its path (`<built-in>/NAME.json` for built-ins).
    pub path: PathBuf,
}

/// A merged definition together with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedDefinition {
    /// The merged, validated definition.
    pub definition: Definition,
    /// The files that contributed, lowest layer first.
    pub sources: Vec<Source>,
    /// For each field path that some layer set (`image`, `environment.PATH`, `desktop.gpu`), the
    /// layer whose value won. Fields no layer set have their default.
    pub origins: BTreeMap<String, Layer>,
    /// What the definition grants that a user file could not, each with the layer that granted
    /// it; while any is held, a user file may not change its [`CODE_FIELDS`](super::CODE_FIELDS).
    pub privilege: Vec<super::Grant>,
    /// The mounts a user file chose itself, which a user may only make inside the home and /tmp.
    pub user_mounts: UserMounts,
}

/// The mounts of a definition that a user file chose itself (restating a lower layer's mount is
/// not choosing it), and the home they were allowed in. A path checked when the file was read can
/// be swapped for a symlink later, so every create and start of its container checks these
/// sources again ([`user_mount_allowed`](super::user_mount_allowed)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMounts {
    /// The user's home directory when the file was read.
    pub home: Option<PathBuf>,
    /// The container paths of those mounts.
    pub targets: Vec<PathBuf>,
}

impl ResolvedDefinition {
    /// The highest layer that contributed: the layer shown by `list` and put in the layer label.
    pub fn layer(&self) -> Layer {
        self.sources
            .last()
            .map(|source| source.layer)
            .unwrap_or(Layer::BuiltIn)
    }

    /// The layer that set a field, or `None` when the field has its default.
    pub fn origin(&self, field: &str) -> Option<Layer> {
        self.origins.get(field).copied()
    }

    /// The file of the highest layer that contributed.
    pub fn path(&self) -> Option<&Path> {
        self.sources.last().map(|source| source.path.as_path())
    }
}
