//! [`UpdateError`]: every way a check, an update, a rollback or a recovery fails, as data, and
//! [`UpdateStep`], the step of an update transaction a failure is attributed to.

use std::path::PathBuf;

use serde::Serialize;

use super::lock::LockHolder;
use crate::engine::EngineError;
use crate::lifecycle::{InstallStep, LifecycleError};

/// The steps of an update (and of a rollback's swap), in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpdateStep {
    /// Asking the registry for the image's current digest.
    Check,
    /// A step of building and starting the next generation, shared with install.
    Build(InstallStep),
    /// Checking that every exported binary resolves in the new container.
    VerifyExports,
    /// Stopping the old container and putting the new one in its place, and recording it.
    Swap,
}

impl UpdateStep {
    /// The step's name as messages and `--json` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStep::Check => "check",
            UpdateStep::Build(step) => step.as_str(),
            UpdateStep::VerifyExports => "verify exports",
            UpdateStep::Swap => "swap",
        }
    }

    /// Whether a failure at this step happened before the running container was touched.
    pub fn before_swap(self) -> bool {
        matches!(
            self,
            UpdateStep::Check | UpdateStep::Build(_) | UpdateStep::VerifyExports
        )
    }
}

/// In `--json`, a step is its kebab-case identifier; a build step is install's
/// (`install-packages`, `verify`…).
impl Serialize for UpdateStep {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            UpdateStep::Build(step) => step.serialize(serializer),
            UpdateStep::Check => serializer.serialize_str("check"),
            UpdateStep::VerifyExports => serializer.serialize_str("verify-exports"),
            UpdateStep::Swap => serializer.serialize_str("swap"),
        }
    }
}

impl std::fmt::Display for UpdateStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why the registry could not say what an image's digest is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry tool is not installed.
    #[error("`{program}` is not installed (install skopeo: `sudo apt-get install skopeo`)")]
    ToolMissing {
        /// The program looked for.
        program: String,
    },
    /// The registry did not answer in time.
    #[error("the registry did not answer within {seconds} s")]
    Timeout {
        /// The timeout.
        seconds: u64,
    },
    /// The tool failed (unreachable registry, unknown image, refused credentials…).
    #[error("{message}")]
    Failed {
        /// The tool's last error line.
        message: String,
    },
    /// Running the tool failed otherwise.
    #[error(transparent)]
    Tool(crate::host_command::HostCommandError),
}

/// A failed check, update, rollback or recovery.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Another process holds the container's lock.
    #[error("`{name}` is busy: {}", holder_note(.holder, .lock))]
    Busy {
        /// The definition name.
        name: String,
        /// Who holds the lock, when it said so.
        holder: Option<LockHolder>,
        /// The lock file.
        lock: PathBuf,
        /// The operation could have waited for the holder (it takes a wait option).
        can_wait: bool,
    },
    /// A lifecycle operation failed (not installed, Podman errors, records).
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The registry could not resolve an image reference.
    #[error("resolving {reference} at its registry")]
    Registry {
        /// The image reference.
        reference: String,
        /// Why.
        #[source]
        source: RegistryError,
    },
    /// An update failed at `step`; what it had made was removed and the container that ran before
    /// runs as before, except where `cleanup_failures` says otherwise.
    #[error("updating `{name}` failed at step \"{step}\"{}", cleanup_note(.cleanup_failures))]
    UpdateFailed {
        /// The definition name.
        name: String,
        /// The step that failed.
        step: UpdateStep,
        /// Why.
        #[source]
        source: Box<UpdateError>,
        /// What could not be restored or removed afterwards, each with why.
        cleanup_failures: Vec<String>,
    },
    /// A rollback failed; the container that ran before was put back, except where
    /// `cleanup_failures` says otherwise.
    #[error("rolling `{name}` back to generation {generation} failed{}", cleanup_note(.cleanup_failures))]
    RollbackFailed {
        /// The definition name.
        name: String,
        /// The generation it was rolling to.
        generation: u64,
        /// Why.
        #[source]
        source: Box<UpdateError>,
        /// What could not be restored afterwards.
        cleanup_failures: Vec<String>,
    },
    /// An exported binary does not resolve in the new container.
    #[error("exported binary `{binary}` is not found in the new container (export_binaries)")]
    ExportMissing {
        /// The binary.
        binary: String,
    },
    /// There is no kept generation to roll back to.
    #[error(
        "`{name}` has nothing to roll back to: generation {active} runs and no older generation is kept{}",
        kept_note(.kept)
    )]
    NothingToRollBack {
        /// The definition name.
        name: String,
        /// The running generation.
        active: u64,
        /// The generations kept (all newer than the running one).
        kept: Vec<u64>,
    },
    /// The requested generation is not kept.
    #[error("`{name}` has no generation {generation} to return to{}", kept_note(.kept))]
    GenerationNotKept {
        /// The definition name.
        name: String,
        /// The generation asked for.
        generation: u64,
        /// The generations kept.
        kept: Vec<u64>,
    },
    /// Reading or writing the journal, the lock or the history failed.
    #[error("{action} {}", .path.display())]
    State {
        /// What horizon was doing.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A journal or history file exists but cannot be understood.
    #[error("{}: not a valid {what}: {message}", .path.display())]
    BadState {
        /// The definition whose file it is.
        name: String,
        /// What the file should have been.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A failpoint of a test build fired (never in a normal build).
    #[cfg(feature = "failpoints")]
    #[error("failpoint {point} fired")]
    Failpoint {
        /// The failpoint's name.
        point: String,
    },
}

impl UpdateError {
    /// The engine error at the root of this one, if any (the CLI maps "unreachable" to its own exit
    /// status).
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            UpdateError::Lifecycle(error) => error.engine_error(),
            UpdateError::UpdateFailed { source, .. }
            | UpdateError::RollbackFailed { source, .. } => source.engine_error(),
            _ => None,
        }
    }

    /// Whether the running container is known to be untouched: the update failed before the swap
    /// and cleaned up after itself completely.
    pub fn left_running_container_untouched(&self) -> bool {
        match self {
            UpdateError::UpdateFailed {
                step,
                cleanup_failures,
                ..
            } => step.before_swap() && cleanup_failures.is_empty(),
            _ => false,
        }
    }

    /// The error of definition `name`'s state file (`what`) that could not be read.
    pub(crate) fn from_state_file(
        error: crate::fsutil::JsonFileError,
        name: &str,
        what: &'static str,
        path: PathBuf,
    ) -> Self {
        match error {
            crate::fsutil::JsonFileError::Io(source) => UpdateError::State {
                action: "read",
                path,
                source,
            },
            crate::fsutil::JsonFileError::Invalid(message) => UpdateError::BadState {
                name: name.to_owned(),
                what,
                path,
                message,
            },
        }
    }

    pub(crate) fn engine(name: &str, action: &'static str, source: EngineError) -> Self {
        UpdateError::Lifecycle(LifecycleError::Engine {
            name: name.to_owned(),
            action,
            source,
        })
    }
}

fn holder_note(holder: &Option<LockHolder>, lock: &std::path::Path) -> String {
    match holder {
        Some(holder) => format!(
            "{} by pid {} since {} (lock {})",
            holder.operation,
            holder.pid,
            super::timestamp::rfc3339(holder.since_unix),
            lock.display()
        ),
        None => format!("another process holds {}", lock.display()),
    }
}

fn cleanup_note(failures: &[String]) -> String {
    if failures.is_empty() {
        String::new()
    } else {
        format!(" (restoring also failed: {})", failures.join("; "))
    }
}

fn kept_note(kept: &[u64]) -> String {
    if kept.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = kept.iter().map(u64::to_string).collect();
        format!(" (kept: {})", list.join(", "))
    }
}
