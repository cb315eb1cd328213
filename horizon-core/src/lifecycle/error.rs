//! [`LifecycleError`]: every way a lifecycle operation fails, as data, and [`InstallStep`], the
//! steps of an install a failure is attributed to.

use std::path::PathBuf;

use serde::Serialize;

use super::security::SecurityMismatch;
use crate::engine::EngineError;

/// The steps of an install, in order. A failed install names the one that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum InstallStep {
    /// Removing a container of the definition that has no install record (an install that
    /// never finished, without a journal to say so), before installing afresh.
    RemoveIncomplete,
    /// Pulling the definition's image.
    Pull,
    /// Creating and starting the build container the generation image is committed from.
    PrepareBuild,
    /// Finding the image's package manager.
    DetectPackageManager,
    /// Installing the definition's packages.
    InstallPackages,
    /// Committing the build container as the generation image.
    Commit,
    /// Creating the managed container.
    Create,
    /// Checking that Podman applied the security settings asked for.
    VerifySecurity,
    /// Starting the managed container.
    Start,
    /// Running the definition's `verify` commands in it.
    Verify,
    /// Writing the install record.
    Record,
}

impl InstallStep {
    /// The step's name as messages and `--json` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            InstallStep::RemoveIncomplete => "remove incomplete install",
            InstallStep::Pull => "pull",
            InstallStep::PrepareBuild => "prepare build container",
            InstallStep::DetectPackageManager => "detect package manager",
            InstallStep::InstallPackages => "install packages",
            InstallStep::Commit => "commit",
            InstallStep::Create => "create",
            InstallStep::VerifySecurity => "verify security",
            InstallStep::Start => "start",
            InstallStep::Verify => "verify",
            InstallStep::Record => "record",
        }
    }
}

impl std::fmt::Display for InstallStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A failed lifecycle operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// There is no managed container for the definition.
    #[error("`{name}` is not installed")]
    NotInstalled {
        /// The definition name.
        name: String,
    },
    /// A Podman operation failed.
    #[error("{action} `{name}`")]
    Engine {
        /// The definition (or object) it was about.
        name: String,
        /// What horizon was doing (`"start"`, `"inspect"`…).
        action: &'static str,
        /// The engine's error.
        #[source]
        source: EngineError,
    },
    /// An install failed at `step`; what it had made was removed, except what `cleanup_failures`
    /// lists.
    #[error("installing `{name}` failed at step \"{step}\"{}", cleanup_note(.cleanup_failures))]
    InstallFailed {
        /// The definition name.
        name: String,
        /// The step that failed.
        step: InstallStep,
        /// Why.
        #[source]
        source: Box<LifecycleError>,
        /// Objects that could not be removed afterwards, each with why.
        cleanup_failures: Vec<String>,
    },
    /// None of the supported package managers exists in the image.
    #[error(
        "no supported package manager (apt-get, dnf, pacman, apk, zypper) found in image {image}; \
         use an image that has one, or remove `packages` from the definition"
    )]
    NoPackageManager {
        /// The image searched.
        image: String,
    },
    /// The package manager failed.
    #[error("`{command}` exited with status {exit_code}; its last lines:\n{}", indent(.output_tail))]
    PackagesFailed {
        /// The command line that failed (argv joined with spaces, for people).
        command: String,
        /// Its exit status.
        exit_code: i64,
        /// The last lines of its output (stdout and stderr, in the order they arrived).
        output_tail: Vec<String>,
    },
    /// A `verify` command of the definition failed in the new container.
    #[error("verify command `{command}` exited with status {exit_code}; its last lines:\n{}", indent(.output_tail))]
    VerifyFailed {
        /// The command (argv joined with spaces, for people).
        command: String,
        /// Its exit status.
        exit_code: i64,
        /// The last lines of its output.
        output_tail: Vec<String>,
    },
    /// Podman applied other security settings than the ones asked for.
    #[error("Podman did not apply the security settings asked for `{name}`: {}", mismatch_list(.mismatches))]
    SecurityMismatch {
        /// The container.
        name: String,
        /// Each setting that differs.
        mismatches: Vec<SecurityMismatch>,
    },
    /// A managed container lacks the create spec label it would be recreated from.
    #[error(
        "container {container} of `{name}` has no usable create spec label ({message}): it cannot be recreated until it is reinstalled"
    )]
    BadCreateSpec {
        /// The definition name.
        name: String,
        /// The container.
        container: String,
        /// What was wrong.
        message: String,
    },
    /// The container's agent did not start listening (a container is useless to its wrappers
    /// then: they would all take the slow path).
    #[error(
        "the agent of container {container} did not listen on {} within {seconds} s; `podman logs {container}` shows why",
        .socket.display()
    )]
    AgentNotListening {
        /// The container.
        container: String,
        /// The socket it should have made.
        socket: PathBuf,
        /// How long horizon waited.
        seconds: u64,
    },
    /// A mount a user file chose leads, now, outside the home and /tmp (its source, or a
    /// directory above it, was replaced by a symlink), or its source is gone.
    #[error(
        "the mount {}:{} of {name} is refused: {reason}. Nothing was started with it: make {} a directory inside the home or /tmp again, or change the definition's mounts and reinstall",
        .host_path.display(), .target.display(), .host_path.display()
    )]
    MountRefused {
        /// The definition.
        name: String,
        /// The host path, as Podman would be given it.
        host_path: PathBuf,
        /// Where it would be mounted in the container.
        target: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// The agent's socket directory could not be made ready.
    #[error("preparing the agent directory {} of {name} failed", .dir.display())]
    AgentDir {
        /// The definition.
        name: String,
        /// The directory.
        dir: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Reading or writing horizon's state failed.
    #[error("{action} {}", .path.display())]
    State {
        /// What horizon was doing (`"write install record"`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A state file exists but cannot be understood.
    #[error("{}: not a valid install record: {message}", .path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The install journal could not be written.
    #[error("{action} {}", .path.display())]
    Journal {
        /// What horizon was doing.
        action: &'static str,
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A failpoint of a test build fired (never in a normal build).
    #[cfg(feature = "failpoints")]
    #[error("failpoint {point} fired")]
    Failpoint {
        /// The failpoint's name.
        point: String,
    },
    /// A container's install record exists but cannot be read or understood.
    #[error(transparent)]
    UnreadableRecord(super::state::UnreadableRecord),
}

impl LifecycleError {
    /// Wraps an engine error with what was being done to what.
    pub(crate) fn engine(name: &str, action: &'static str, source: EngineError) -> Self {
        LifecycleError::Engine {
            name: name.to_owned(),
            action,
            source,
        }
    }

    /// The engine error at the root of this one, if any (the CLI maps "unreachable" to its own exit
    /// status).
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            LifecycleError::Engine { source, .. } => Some(source),
            LifecycleError::InstallFailed { source, .. } => source.engine_error(),
            _ => None,
        }
    }

    /// The install step that failed, for an install failure.
    pub fn failed_step(&self) -> Option<InstallStep> {
        match self {
            LifecycleError::InstallFailed { step, .. } => Some(*step),
            _ => None,
        }
    }
}

fn cleanup_note(failures: &[String]) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        format!(" (cleaning up also failed: {})", failures.join("; "))
    }
}

fn indent(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn mismatch_list(mismatches: &[SecurityMismatch]) -> String {
    mismatches
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
