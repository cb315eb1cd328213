//! Plain data exchanged through the [`Engine`](super::Engine) seam: what to create, what came back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

use super::Timestamp;

/// What the service says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EngineVersion {
    /// Podman's version, e.g. `4.3.1`.
    pub version: String,
    /// The REST API version it serves.
    pub api_version: String,
    /// `linux/amd64` and the like.
    pub os_arch: String,
}

/// An image that a pull produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PulledImage {
    /// The local image id.
    pub id: String,
    /// The manifest digest of the reference pulled (`sha256:…`), when Podman's answer decides
    /// it: the reference names a digest, or the image is known by one manifest digest only. `None`
    /// when it is known by several: it was in local storage already, pulled from another manifest
    /// under another name, and Podman keeps one image for all of them without noting which name
    /// came with which manifest — only the registry can say which of [`PulledImage::digests`] the
    /// reference names.
    pub digest: Option<String>,
    /// Every manifest digest the image is known by.
    pub digests: Vec<String>,
}

/// The caller's side of an attached exec (or a logs stream).
pub struct ExecStreams<'a> {
    /// Fed to the process's stdin until it ends (then stdin is closed); `None` attaches no stdin.
    pub stdin: Option<&'a mut (dyn AsyncRead + Send + Unpin)>,
    /// Receives the process's stdout (and, with a TTY, everything).
    pub stdout: &'a mut (dyn AsyncWrite + Send + Unpin),
    /// Receives the process's stderr.
    pub stderr: &'a mut (dyn AsyncWrite + Send + Unpin),
    /// Terminal size changes to forward (TTY sessions).
    pub resize: Option<watch::Receiver<TerminalSize>>,
    /// Signal numbers to deliver to the process (e.g. SIGINT on Ctrl-C without a TTY).
    pub signals: Option<mpsc::UnboundedReceiver<i32>>,
}

impl std::fmt::Debug for ExecStreams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStreams")
            .field("stdin", &self.stdin.is_some())
            .finish_non_exhaustive()
    }
}

/// A terminal's size, forwarded to TTY exec sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TerminalSize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub columns: u16,
}

/// A container to create. Fields map one to one onto libpod's create spec; every capability is
/// dropped and only `cap_add` is granted back. Serialisable so that the lifecycle can keep the spec
/// a container was made from (non-persistent containers are recreated from it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: String,
    /// The image reference or id to create it from.
    pub image: String,
    /// The command (argv); empty means the image's default.
    pub command: Vec<String>,
    /// The entrypoint; `None` keeps the image's, `Some(vec![])` runs `command` alone (Podman
    /// otherwise prefixes the command with the image's entrypoint).
    pub entrypoint: Option<Vec<String>>,
    /// Labels; horizon's own are in [`crate::labels`].
    pub labels: BTreeMap<String, String>,
    /// Environment of the container's processes.
    pub env: BTreeMap<String, String>,
    /// Seconds `stop` waits before killing the container.
    pub stop_timeout_secs: u32,
    /// Bind mounts.
    pub mounts: Vec<BindMount>,
    /// Host devices made available.
    pub devices: Vec<DeviceMapping>,
    /// The network namespace.
    pub network: NetworkMode,
    /// Run privileged (all capabilities, all devices, no seccomp). Only system definitions ask.
    pub privileged: bool,
    /// Capabilities granted (`CAP_…` names) after dropping all of them.
    pub cap_add: Vec<String>,
    /// Set the no-new-privileges bit on every process.
    pub no_new_privileges: bool,
    /// The user namespace; `None` is Podman's default.
    pub userns: Option<UserNamespace>,
    /// The user processes run as; `None` is the image's.
    pub user: Option<String>,
    /// The container's hostname; `None` is Podman's default.
    pub hostname: Option<String>,
    /// Run a minimal init (catatonit) as PID 1 that forwards signals and reaps zombies.
    pub init: bool,
}

/// A bind mount of a host path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindMount {
    /// Absolute host path.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A host device made available in the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    /// The device on the host, e.g. `/dev/dri`.
    pub host: String,
    /// Where it appears in the container.
    pub container: String,
    /// cgroup permissions, a subset of `rwm`.
    pub permissions: String,
}

/// Which network namespace a container gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Its own namespace with outbound connectivity (bridge, or slirp4netns when rootless).
    #[default]
    Private,
    /// The host's network namespace.
    Host,
    /// A namespace with loopback only.
    None,
}

/// The user namespace of a container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserNamespace {
    /// Rootless only: the calling user keeps its uid and gid inside, so files in the home keep
    /// their owner.
    KeepId,
    /// The host's user namespace (rootful default).
    Host,
}

/// Whether a start or stop changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateChange {
    /// The container moved to the requested state.
    Changed,
    /// It already was in that state (Podman's 304).
    AlreadyInState,
}

/// Selects containers by label: every `(key, value)` must match; a `None` value matches any value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelFilter {
    /// The label conditions, all of which must hold.
    pub labels: Vec<(String, Option<String>)>,
}

impl LabelFilter {
    /// Containers horizon manages.
    pub fn managed() -> Self {
        LabelFilter::default().with(crate::labels::MANAGED, Some(crate::labels::MANAGED_VALUE))
    }

    /// Adds a condition.
    pub fn with(mut self, key: &str, value: Option<&str>) -> Self {
        self.labels.push((key.to_owned(), value.map(str::to_owned)));
        self
    }

    /// Whether an object with `labels` meets every condition.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(key, value)| match value {
            Some(value) => labels.get(key) == Some(value),
            None => labels.contains_key(key),
        })
    }
}

/// A container's run state, in Podman 4's words (libpod's `ContainerStatus`). Podman's own
/// `unknown` is one of them: a word outside this list is a protocol error, not a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RunState {
    /// Created and never started (libpod's "configured": only the container record exists).
    Created,
    /// Its runtime container exists (after `podman init`), not started.
    Initialized,
    /// Running.
    Running,
    /// Paused (frozen).
    Paused,
    /// Being stopped.
    Stopping,
    /// Stopped and not yet cleaned up.
    Stopped,
    /// Its process ended and the container was cleaned up.
    Exited,
    /// Being removed.
    Removing,
    /// Podman could not tell (its own word `unknown`).
    Unknown,
}

impl RunState {
    /// Every state, in the order Podman defines them.
    pub const ALL: [RunState; 9] = [
        RunState::Created,
        RunState::Initialized,
        RunState::Running,
        RunState::Paused,
        RunState::Stopping,
        RunState::Stopped,
        RunState::Exited,
        RunState::Removing,
        RunState::Unknown,
    ];

    /// Podman's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Initialized => "initialized",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
            RunState::Exited => "exited",
            RunState::Removing => "removing",
            RunState::Unknown => "unknown",
        }
    }

    /// The state Podman's `word` names, if it is one.
    pub fn from_word(word: &str) -> Option<Self> {
        RunState::ALL
            .into_iter()
            .find(|state| state.as_str() == word)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        RunState::from_word(&word).ok_or_else(|| {
            let known: Vec<&str> = RunState::ALL.iter().map(|state| state.as_str()).collect();
            serde::de::Error::custom(format_args!(
                "not a container state of Podman 4 ({})",
                known.join(", ")
            ))
        })
    }
}

/// One container as a list call reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerSummary {
    /// Full id.
    pub id: String,
    /// Its name (without a leading slash).
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The id of the image it runs.
    pub image_id: String,
    /// Its run state.
    pub state: RunState,
    /// All its labels.
    pub labels: BTreeMap<String, String>,
}

/// A command to run in a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// Allocate a terminal (stdout and stderr then arrive merged, as on a real terminal).
    pub tty: bool,
    /// The program and its arguments, passed as an array (never through a shell).
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory inside the container; `None` keeps the container's.
    pub working_dir: Option<String>,
    /// `user`, `uid` or `uid:gid`; `None` keeps the container's.
    pub user: Option<String>,
}

/// What a finished exec produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit status (126 not executable, 127 not found, as the runtime reports).
    pub exit_code: i64,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

/// One step of a pull, for progress displays.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PullEvent {
    /// The layer (short id) the event is about, if any.
    pub layer: Option<String>,
    /// Podman's status word: "Pulling fs layer", "Downloading", "Download complete"…
    pub status: String,
    /// Bytes transferred so far, when Podman reports it.
    pub current: Option<u64>,
    /// Total bytes of the layer, when known.
    pub total: Option<u64>,
}

/// What horizon needs to know about a local image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageDetails {
    /// The image id (hex, no `sha256:` prefix).
    pub id: String,
    /// The manifest digest it was pulled by, `sha256:…`, if it came from a registry.
    pub digest: Option<String>,
    /// `repository@sha256:…` references.
    pub repo_digests: Vec<String>,
    /// `repository:tag` names.
    pub repo_tags: Vec<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time; `None` when the image's configuration has none.
    pub created: Option<Timestamp>,
    /// Size in bytes.
    pub size: u64,
}

/// An image as a list call reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageSummary {
    /// The image id.
    pub id: String,
    /// `repository:tag` names; empty for a dangling image.
    pub names: Vec<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Size in bytes.
    pub size: u64,
}

/// The state part of a container inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    /// The run state.
    pub status: RunState,
    /// True while running.
    pub running: bool,
    /// Host pid of its main process (0 when not running).
    pub pid: i64,
    /// Exit code of the last run.
    pub exit_code: i64,
    /// When the last run started; `None` if it never did (serialised as Podman's
    /// [`PODMAN_NEVER`](super::timestamp::PODMAN_NEVER)).
    #[serde(serialize_with = "super::timestamp::serialize_or_never")]
    pub started_at: Option<Timestamp>,
    /// When the last run ended; `None` if none did (serialised like `started_at`).
    #[serde(serialize_with = "super::timestamp::serialize_or_never")]
    pub finished_at: Option<Timestamp>,
}

/// The security settings Podman actually applied, for verification after create.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppliedSecurity {
    /// Effective capabilities of the main process (`CAP_…`), sorted.
    pub effective_caps: Vec<String>,
    /// Privileged container.
    pub privileged: bool,
    /// no-new-privileges set.
    pub no_new_privileges: bool,
    /// `unconfined` when seccomp was turned off, else the profile in use (empty = default).
    pub seccomp_profile: String,
    /// Network mode as Podman names it (`bridge`, `slirp4netns`, `host`, `none`…).
    pub network_mode: String,
    /// User namespace mode (`keep-id`, `host`, empty for default). Podman 4.3 reports keep-id as
    /// `private`: [`uid_map`](Self::uid_map) is what shows it.
    pub userns_mode: String,
    /// The container's uid mappings, `CONTAINER:HOST:SIZE`, host ids in the service's user
    /// namespace (rootless keep-id maps the user's uid onto 0, the user itself), sorted.
    pub uid_map: Vec<String>,
}

impl ImageDetails {
    /// Every manifest digest the image is known by, sorted. Podman's `RepoDigests` pairs every
    /// name of the image with every one of its digests, so the digests are what follows the `@`.
    pub fn manifest_digests(&self) -> Vec<String> {
        let mut digests: Vec<String> = self
            .repo_digests
            .iter()
            .filter_map(|repo_digest| repo_digest.split_once('@').map(|(_, digest)| digest))
            .chain(self.digest.as_deref())
            .map(str::to_owned)
            .collect();
        digests.sort();
        digests.dedup();
        digests
    }

    /// The manifest digest `reference` names in this image, when the image says: the reference
    /// names a digest, or the image has one only. Neither Podman's `Digest` (the first manifest
    /// stored) nor `RepoDigests` (every name with every digest) says which manifest came with
    /// which name, so an image known by several digests gives `None`.
    pub fn digest_of(&self, reference: &str) -> Option<String> {
        if let Some((_, named)) = reference.split_once('@') {
            return Some(named.to_owned());
        }
        match self.manifest_digests().as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }
}

/// A container inspection (without the expensive size computation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerDetails {
    /// Full id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The image id it runs.
    pub image_id: String,
    /// The image reference it was created from.
    pub image_name: String,
    /// Creation time.
    pub created: Timestamp,
    /// Run state.
    pub state: ContainerState,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Bind mounts as applied.
    pub mounts: Vec<BindMount>,
    /// Security settings as applied.
    pub security: AppliedSecurity,
}

#[cfg(test)]
impl ContainerDetails {
    /// A container called `name`, created and never started, with nothing applied: a base for
    /// tests to fill in.
    pub(crate) fn fixture(name: &str) -> Self {
        ContainerDetails {
            id: format!("id-of-{name}"),
            name: name.to_owned(),
            image_id: String::new(),
            image_name: String::new(),
            created: Timestamp::unix_epoch(),
            state: ContainerState {
                status: RunState::Created,
                running: false,
                pid: 0,
                exit_code: 0,
                started_at: None,
                finished_at: None,
            },
            labels: BTreeMap::new(),
            mounts: Vec::new(),
            security: AppliedSecurity::default(),
        }
    }
}

/// What a prune removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Ids of removed objects.
    pub removed: Vec<String>,
    /// Bytes freed, when Podman reports it.
    pub reclaimed_bytes: u64,
}

/// Facts about the service, for `doctor` and for decisions (keep-id needs rootless).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    /// The service runs rootless.
    pub rootless: bool,
    /// Storage driver (`overlay`, `vfs`…).
    pub storage_driver: String,
    /// Where images live.
    pub graph_root: String,
    /// The OCI runtime (`runc`, `crun`).
    pub oci_runtime: String,
    /// `systemd` or `cgroupfs`.
    pub cgroup_manager: String,
}
