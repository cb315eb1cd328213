//! Plain data exchanged through the [`Engine`](super::Engine) seam: what to create, what came back.

use std::collections::BTreeMap;

use serde::Serialize;

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
}

/// A container to create. Fields map one to one onto libpod's create spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The container's name.
    pub name: String,
    /// The image reference or id to create it from.
    pub image: String,
    /// The command (argv); empty means the image's default.
    pub command: Vec<String>,
    /// Labels; horizon's own are in [`crate::labels`].
    pub labels: BTreeMap<String, String>,
    /// Environment of the container's processes.
    pub env: BTreeMap<String, String>,
    /// Seconds `stop` waits before killing the container.
    pub stop_timeout_secs: u32,
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
    /// Podman's state word: `created`, `running`, `exited`…
    pub state: String,
    /// All its labels.
    pub labels: BTreeMap<String, String>,
}

/// A command to run in a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecRequest {
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
