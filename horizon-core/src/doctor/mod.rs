//! `doctor`: the spec's "Troubleshooting" section as checks. Each check says passed, warning or
//! failed, what it found, and what fixes it: Podman installed (and recent enough), its API
//! service reachable, the rootless prerequisites (subordinate uid and gid ranges, the setuid
//! `newuidmap`/`newgidmap` helpers, user namespaces enabled), the storage driver, the export
//! directory on PATH, the agent, and horizon's own state files (each one that cannot be read).
//!
//! [`gather`] reads the machine (files, PATH, the service) into a [`DoctorInput`];
//! [`diagnose`] is a pure function of it, so every check is table-tested without the machine. What
//! it returns is data ([`DoctorReport`], each fix a [`Fix`]): the binary renders it. This file
//! holds the facts the two speak in, and where they are read from.

mod diagnose;
mod gather;
mod report;

use std::ffi::OsString;
use std::path::PathBuf;

use crate::engine::{EngineInfo, EngineVersion};

pub use diagnose::diagnose;
pub use gather::gather;
pub use report::{Check, CheckStatus, DoctorReport, Fix};

/// The oldest Podman whose libpod API (v4) horizon speaks.
const MINIMUM_PODMAN_MAJOR: u32 = 4;
/// Subordinate ids a rootless user needs so images with the usual uid range (0–65535) unpack.
const RECOMMENDED_SUBORDINATE_IDS: u64 = 65_536;
/// The helpers rootless Podman maps user namespaces with (package `uidmap`).
const ID_MAP_HELPERS: [&str; 2] = ["newuidmap", "newgidmap"];

/// Where the machine's facts are read from.
const SUBUID_FILE: &str = "/etc/subuid";
/// Subordinate gid ranges.
const SUBGID_FILE: &str = "/etc/subgid";
/// The account database (for the user's name).
const PASSWD_FILE: &str = "/etc/passwd";
/// 0 disables user namespaces.
const MAX_USER_NAMESPACES_FILE: &str = "/proc/sys/user/max_user_namespaces";
/// Debian's and Ubuntu's switch for unprivileged user namespaces (absent on other kernels).
const UNPRIVILEGED_USERNS_CLONE_FILE: &str = "/proc/sys/kernel/unprivileged_userns_clone";

/// An installed program: where, and what `--version` said (or why it could not be run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledProgram {
    /// Its path.
    pub path: PathBuf,
    /// The first line of `--version`, or the error.
    pub version: Result<String, String>,
}

/// An id-mapping helper: where, and whether it may map ids (setuid root or file capabilities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapHelper {
    /// `newuidmap` or `newgidmap`.
    pub name: &'static str,
    /// Its path, when found.
    pub path: Option<PathBuf>,
    /// Setuid root, or file capabilities present.
    pub privileged: bool,
}

/// What the API service probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceProbe {
    /// A service answered.
    Answered {
        /// Its endpoint (`unix://…`).
        endpoint: String,
        /// Where that endpoint came from (`--url`, `rootless socket`…).
        origin: String,
        /// Its version.
        version: EngineVersion,
        /// Its facts, or why they could not be read.
        info: Result<EngineInfo, String>,
    },
    /// None answered.
    NoAnswer {
        /// The connection error (every endpoint tried).
        error: String,
        /// An endpoint was given explicitly (`--url`, `CONTAINER_HOST`), so horizon will not start
        /// a service by itself.
        explicit: bool,
        /// The socket horizon would start the user's service on.
        own_socket: Option<String>,
    },
}

/// A state file of horizon's that cannot be read (see `Horizon::unreadable_state`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StateProblem {
    /// The file.
    pub path: PathBuf,
    /// The container whose file it is (none: the export ledger, or the state directory itself).
    pub container: Option<String>,
    /// The whole message: the file and what is wrong with it.
    pub message: String,
}

/// Everything the checks look at, read by [`gather`] or made up by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorInput {
    /// The effective uid.
    pub uid: u32,
    /// The user's name (from the account database), for `/etc/subuid` entries by name.
    pub user_name: Option<String>,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `podman` on PATH.
    pub podman: Option<InstalledProgram>,
    /// The id-mapping helpers.
    pub map_helpers: Vec<MapHelper>,
    /// Contents of `/etc/subuid` (`None` when missing or unreadable).
    pub subuid: Option<String>,
    /// Contents of `/etc/subgid`.
    pub subgid: Option<String>,
    /// Contents of `/proc/sys/user/max_user_namespaces`.
    pub max_user_namespaces: Option<String>,
    /// Contents of `/proc/sys/kernel/unprivileged_userns_clone` (`None` when the kernel has none).
    pub unprivileged_userns_clone: Option<String>,
    /// The API service.
    pub service: ServiceProbe,
    /// Where exported binaries go.
    pub export_dir: PathBuf,
    /// The in-container agent new containers get.
    pub agent: AgentFinding,
    /// horizon's state files that cannot be read.
    pub state: Vec<StateProblem>,
}

/// What was found of the in-container agent (the binary finds it: `$HORIZON_AGENT`, or installed
/// beside it; see `lifecycle::AgentHost::locate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentFinding {
    /// A static build at this path.
    Found(PathBuf),
    /// None where it is looked for.
    Missing,
    /// One was found but cannot be used (why).
    Unusable(String),
}

#[cfg(test)]
mod tests;
