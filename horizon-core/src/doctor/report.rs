//! What doctor reports, as data: each check's outcome, what it found, and what would fix it
//! ([`Fix`], an action named without its command line). The binary renders fixes as the commands
//! a user types, as it renders [`crate::Hint`]s: which command line fits is the binary's to say.

use std::path::PathBuf;

use serde::Serialize;

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// All is well.
    Passed,
    /// Works, but worse than it should (slow, fragile, or only on demand).
    Warning,
    /// Something horizon needs is missing.
    Failed,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`podman-installed`, `api-service`…), for scripts.
    pub id: &'static str,
    /// What was checked, for people.
    pub title: &'static str,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// What fixes it (warnings and failures).
    pub fix: Option<Fix>,
}

/// An action that fixes what a check found, for the binary to render as command lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fix {
    /// Install Podman from the distribution's packages.
    InstallPodman,
    /// Repair these containers' state files (each rebuilt from its container and generation
    /// history); `ledger` is an unreadable export ledger, to be set aside.
    RepairState {
        /// The containers, sorted.
        names: Vec<String>,
        /// The export ledger, when it is unreadable.
        ledger: Option<PathBuf>,
    },
    /// Podman is installed but does not run: install it again.
    ReinstallPodman,
    /// Podman is older than horizon needs: upgrade it.
    UpgradePodman,
    /// The service is started on demand: enable its socket so that it is always there.
    KeepServiceRunning {
        /// The user (root enables the system's socket, anyone else their own).
        uid: u32,
    },
    /// No service answers: enable and start its socket.
    StartService {
        /// The user (root enables the system's socket, anyone else their own).
        uid: u32,
    },
    /// The endpoint given explicitly does not answer: start a service there, or stop naming it so
    /// that the user's own is found.
    StartServiceAtEndpoint,
    /// Start the service, then run the checks again (this one needs it).
    StartServiceThenCheckAgain,
    /// The service answered but not with its facts: its log says why.
    SeeServiceLog,
    /// Give the user subordinate uid and gid ranges, then migrate Podman's storage to them.
    AddSubordinateIds {
        /// The user's name (or uid, when it has none).
        user: String,
    },
    /// Install `newuidmap` and `newgidmap` setuid root.
    InstallIdMapHelpers,
    /// Allow user namespaces (`user.max_user_namespaces`), now and at every boot.
    EnableUserNamespaces,
    /// Allow unprivileged users to create user namespaces (`kernel.unprivileged_userns_clone`),
    /// now and at every boot.
    EnableUnprivilegedUserNamespaces,
    /// Move Podman's storage from vfs to overlay.
    UseOverlayStorage,
    /// Put the export directory on PATH in the user's login profile.
    AddExportDirToPath {
        /// The export directory.
        dir: PathBuf,
        /// The user (root's profile is the system's).
        uid: u32,
    },
    /// Install the static in-container agent where horizon looks for it, then reinstall the
    /// containers that should have it.
    InstallAgent,
}

/// Every check, in the order of the spec's troubleshooting section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The checks run (the rootless ones only for a non-root user).
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// True when no check failed.
    pub fn healthy(&self) -> bool {
        self.count(CheckStatus::Failed) == 0
    }

    /// How many checks came out `status`.
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }
}
