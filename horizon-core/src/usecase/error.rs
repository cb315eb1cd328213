//! The one error of the use cases: what went wrong (the module errors it wraps, with their data),
//! what kind of failure it is ([`ErrorKind`], which a binary maps to its exit status), and what
//! would fix it ([`Hint`]s: data naming an action, which the binary renders as its own command
//! line). No message here names a command line.

use std::path::PathBuf;

use crate::definition::{DefinitionError, Layer};
use crate::engine::{ConnectError, EngineError};
use crate::exec_plan::ExecPlanError;
use crate::export::{ExportError, Owner};
use crate::lifecycle::LifecycleError;
use crate::system_update::SystemUpdateError;
use crate::systemd::SystemdError;
use crate::toolchain::ToolchainError;
use crate::update::UpdateError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No definition has this name (or its file was refused).
    #[error("{}", unknown_definition(.name, .invalid_file.as_ref()))]
    UnknownDefinition {
        /// The name asked for.
        name: String,
        /// The definition file of that name that was refused, if one was.
        invalid_file: Option<PathBuf>,
        /// The names that are defined.
        known: Vec<String>,
    },
    /// A file that customises the definition was refused, so it is not built from the layers
    /// below that file, which would be a container nobody asked for.
    #[error(
        "{name} was not {operation}: {}, which customises it, was refused:\n  {}",
        .path.display(),
        .error.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  ")
    )]
    RefusedCustomisation {
        /// The definition.
        name: String,
        /// What was not done: `installed`, `updated`.
        operation: &'static str,
        /// The refused file.
        path: PathBuf,
        /// Why it was refused.
        error: DefinitionError,
        /// The layer whose definition is in force without it.
        in_force: Layer,
    },
    /// The request itself is incomplete or contradictory.
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// No Podman service could be reached.
    #[error(transparent)]
    Connect(Box<ConnectError>),
    /// An engine call outside any module operation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Install, start, stop, status, remove or cleanup failed.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// An update, rollback, lock or recovery failed.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// An export failed.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A toolchain could not be set up, removed or listed.
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    /// A command could not be prepared or run in a container.
    #[error(transparent)]
    Exec(#[from] ExecPlanError),
    /// horizon-dev's configuration file cannot be used.
    #[error(transparent)]
    DevConfig(#[from] crate::devconfig::DevConfigError),
    /// The container asked for is not installed.
    #[error("{name} is not installed")]
    NotInstalled {
        /// The definition.
        name: String,
    },
    /// A command was to run in a container that is not installed.
    #[error("{name} is not installed")]
    NotInstalledToRun {
        /// The definition.
        name: String,
        /// What the definitions say of it.
        lookup: super::exec::DefinitionLookup,
    },
    /// A system update or rollback failed as a whole.
    #[error(transparent)]
    System(#[from] SystemUpdateError),
    /// A unit could not be written, generated or handed to systemd.
    #[error(transparent)]
    Systemd(#[from] SystemdError),
    /// The call was cancelled; what it had begun was reverted or completed first.
    #[error("the {operation}{} was interrupted ({reason}){}",
        .name.as_ref().map(|name| format!(" of {name}")).unwrap_or_default(),
        .unfinished.as_ref().map(|error| format!("; finishing it failed: {error}")).unwrap_or_default())]
    Interrupted {
        /// What was running: `update`, `reinstall`, `rollback`, `install`, `system update`…
        operation: String,
        /// The definition it worked on, if one.
        name: Option<String>,
        /// Why (e.g. `SIGINT`).
        reason: String,
        /// Why finishing the interrupted work failed, when it did (the next command finishes it).
        unfinished: Option<String>,
    },
    /// Several containers were worked on and some failed (each failure is in the report).
    #[error("{failed} of {total} {operation}s failed")]
    Partial {
        /// `update`, `rollback`…
        operation: &'static str,
        /// How many failed.
        failed: usize,
        /// How many were tried.
        total: usize,
        /// Every failure was a refused update (the running containers are untouched).
        all_refused: bool,
    },
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        Error::Connect(Box::new(error))
    }
}

fn unknown_definition(name: &str, invalid_file: Option<&PathBuf>) -> String {
    match invalid_file {
        Some(path) => format!("the definition `{name}` in {} is invalid", path.display()),
        None => format!("there is no container definition named `{name}`"),
    }
}

/// The kinds of failure, one exit status each in every binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The operation failed.
    Failed,
    /// The input (arguments, definitions) was invalid; nothing was changed.
    InvalidInput,
    /// No Podman service could be reached.
    NoService,
    /// A name is taken (an export over a file or command that is not horizon's); nothing changed.
    Conflict,
    /// The next generation failed to build or verify; the running container is untouched.
    UpdateRefused,
    /// Another horizon process holds the lock.
    Busy,
    /// There is no kept generation (or system generation) to return to.
    NothingToRollBack,
    /// Cancelled; reverted or completed first.
    Interrupted,
}

/// An action that would fix a failure, for the binary to render as its own command line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint {
    /// Install the definition.
    Install {
        /// Its name.
        name: String,
    },
    /// Rebuild it (after changing its definition's packages, say).
    AddPackageAndReinstall {
        /// The definition.
        name: String,
        /// The binary it lacks.
        binary: String,
    },
    /// Validate this definition file to see why it was refused, then install it.
    ValidateThenInstall {
        /// The file.
        path: PathBuf,
        /// The definition.
        name: String,
    },
    /// Fix this refused file that customises a definition, or remove it to use the definition
    /// of the layers below as it is.
    FixOrRemoveCustomisation {
        /// The file.
        path: PathBuf,
        /// The definition.
        name: String,
        /// The layer whose definition is in force without the file.
        in_force: Layer,
    },
    /// List the definitions (none of this name exists); `known` are the names that do.
    ListDefinitions {
        /// The defined names.
        known: Vec<String>,
    },
    /// No definition of this name exists either: list them, then install.
    NoDefinitionThenInstall {
        /// The name.
        name: String,
    },
    /// Reinstall the definition (its container is rebuilt from the definition).
    Reinstall {
        /// Its name.
        name: String,
    },
    /// List the installed containers.
    ListInstalled,
    /// Start Podman's API service.
    StartService,
    /// Install Podman.
    InstallPodman,
    /// Wait for the lock's holder to finish; `can_queue` when the call also takes a wait option
    /// that queues behind it.
    WaitForLock {
        /// The call has a wait option.
        can_queue: bool,
    },
    /// Fix the cause and update again: the running container is untouched.
    UpdateAgain,
    /// Force the export: `moves_aside` when a file that is not horizon's is moved to its backup.
    ForceExport {
        /// The export name.
        name: String,
        /// A foreign file or a changed wrapper is moved aside.
        moves_aside: bool,
    },
    /// Export another way: say which container.
    ExportFrom {
        /// The binary.
        binary: String,
        /// A container that provides it (`None`: the user names one).
        container: Option<String>,
    },
    /// List the exported binaries.
    ListExports,
    /// Install `horizon-exec` beside the binary.
    InstallExecClient,
    /// Pass only UTF-8 arguments to this container.
    Utf8Arguments,
    /// See the system generations.
    SystemHistory,
    /// Choose one of the known toolchains.
    KnownToolchains {
        /// Their names.
        known: Vec<String>,
    },
    /// Rebuild the container's unreadable state files from the container and its generation
    /// history (or remove the container).
    Repair {
        /// The definition.
        name: String,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        if self
            .engine_error()
            .is_some_and(|error| matches!(error, EngineError::Unreachable { .. }))
        {
            return ErrorKind::NoService;
        }
        match self {
            Error::UnknownDefinition { .. }
            | Error::RefusedCustomisation { .. }
            | Error::InvalidRequest { .. }
            | Error::DevConfig(_) => ErrorKind::InvalidInput,
            Error::Connect(error) if matches!(**error, ConnectError::BadEndpoint(_)) => {
                ErrorKind::InvalidInput
            }
            Error::Connect(_) => ErrorKind::NoService,
            Error::Update(error) => update_kind(error),
            Error::Export(ExportError::InvalidName { .. } | ExportError::Ambiguous { .. }) => {
                ErrorKind::InvalidInput
            }
            Error::Export(ExportError::Collision { .. }) => ErrorKind::Conflict,
            Error::System(SystemUpdateError::Busy { .. }) => ErrorKind::Busy,
            Error::System(SystemUpdateError::NothingToRollBack { .. }) => {
                ErrorKind::NothingToRollBack
            }
            Error::Toolchain(
                ToolchainError::NoOsRelease { .. } | ToolchainError::Unreadable { .. },
            ) => ErrorKind::Failed,
            Error::Toolchain(_) => ErrorKind::InvalidInput,
            Error::Interrupted { .. } => ErrorKind::Interrupted,
            Error::Systemd(SystemdError::Config(_)) => ErrorKind::InvalidInput,
            Error::Partial {
                all_refused: true, ..
            } => ErrorKind::UpdateRefused,
            _ => ErrorKind::Failed,
        }
    }

    /// The engine error underneath, if one.
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            Error::Engine(error) => Some(error),
            Error::Lifecycle(error) => error.engine_error(),
            Error::Update(error) => error.engine_error(),
            Error::Export(error) => error.engine_error(),
            Error::Exec(ExecPlanError::Engine { source }) => Some(source),
            Error::Exec(ExecPlanError::Lifecycle { source }) => source.engine_error(),
            _ => None,
        }
    }

    /// What would fix it, most useful first.
    pub fn hints(&self) -> Vec<Hint> {
        match self.kind() {
            ErrorKind::NoService if self.podman_missing() => return vec![Hint::InstallPodman],
            ErrorKind::NoService => return vec![Hint::StartService],
            _ => {}
        }
        match self {
            Error::UnknownDefinition {
                name,
                invalid_file: Some(path),
                ..
            } => vec![Hint::ValidateThenInstall {
                path: path.clone(),
                name: name.clone(),
            }],
            Error::UnknownDefinition { known, .. } => vec![Hint::ListDefinitions {
                known: known.clone(),
            }],
            Error::RefusedCustomisation {
                name,
                path,
                in_force,
                ..
            } => vec![Hint::FixOrRemoveCustomisation {
                path: path.clone(),
                name: name.clone(),
                in_force: *in_force,
            }],
            Error::Lifecycle(LifecycleError::NotInstalled { name })
            | Error::Update(UpdateError::Lifecycle(LifecycleError::NotInstalled { name })) => {
                vec![Hint::Install { name: name.clone() }]
            }
            Error::NotInstalled { name } => vec![Hint::Install { name: name.clone() }],
            Error::Lifecycle(LifecycleError::BadCreateSpec { name, .. }) => {
                vec![Hint::Reinstall { name: name.clone() }]
            }
            Error::Update(UpdateError::Busy { can_wait, .. }) => vec![Hint::WaitForLock {
                can_queue: *can_wait,
            }],
            Error::Lifecycle(LifecycleError::UnreadableRecord(record))
            | Error::Update(UpdateError::Lifecycle(LifecycleError::UnreadableRecord(record)))
            | Error::System(SystemUpdateError::Containers(LifecycleError::UnreadableRecord(
                record,
            ))) => vec![Hint::Repair {
                name: record.name.clone(),
            }],
            Error::Update(UpdateError::BadState { name, .. }) => {
                vec![Hint::Repair { name: name.clone() }]
            }
            Error::Update(error) if error.left_running_container_untouched() => {
                vec![Hint::UpdateAgain]
            }
            Error::Export(error) => export_hints(error),
            Error::Toolchain(ToolchainError::Unknown { known, .. }) => {
                vec![Hint::KnownToolchains {
                    known: known.clone(),
                }]
            }
            Error::Exec(ExecPlanError::NotInstalled { definition }) => vec![Hint::Install {
                name: definition.clone(),
            }],
            Error::NotInstalledToRun { name, lookup } => match lookup {
                super::exec::DefinitionLookup::Valid => vec![Hint::Install { name: name.clone() }],
                super::exec::DefinitionLookup::Invalid(path) => vec![Hint::ValidateThenInstall {
                    path: path.clone(),
                    name: name.clone(),
                }],
                super::exec::DefinitionLookup::Missing => {
                    vec![Hint::NoDefinitionThenInstall { name: name.clone() }]
                }
            },
            Error::Exec(ExecPlanError::NoDecoderShell { .. }) => vec![Hint::Utf8Arguments],
            Error::System(SystemUpdateError::NothingToRollBack { .. }) => {
                vec![Hint::SystemHistory]
            }
            Error::System(SystemUpdateError::Busy { .. }) => {
                vec![Hint::WaitForLock { can_queue: false }]
            }
            _ => Vec::new(),
        }
    }

    fn podman_missing(&self) -> bool {
        matches!(self, Error::Connect(error) if error.podman_missing())
    }
}

fn update_kind(error: &UpdateError) -> ErrorKind {
    match error {
        UpdateError::Busy { .. } => ErrorKind::Busy,
        UpdateError::NothingToRollBack { .. } | UpdateError::GenerationNotKept { .. } => {
            ErrorKind::NothingToRollBack
        }
        UpdateError::Lifecycle(LifecycleError::NotInstalled { .. }) => ErrorKind::Failed,
        error if error.left_running_container_untouched() => ErrorKind::UpdateRefused,
        _ => ErrorKind::Failed,
    }
}

fn export_hints(error: &ExportError) -> Vec<Hint> {
    match error {
        ExportError::Collision { name, owner } => vec![Hint::ForceExport {
            name: name.clone(),
            moves_aside: matches!(
                owner,
                Owner::ForeignFile { .. } | Owner::ModifiedWrapper { .. }
            ),
        }],
        ExportError::Ambiguous {
            binary, candidates, ..
        } => vec![Hint::ExportFrom {
            binary: binary.clone(),
            container: candidates.first().cloned(),
        }],
        ExportError::NoProvider { binary, .. } => vec![Hint::ExportFrom {
            binary: binary.clone(),
            container: None,
        }],
        ExportError::NotInstalled { container } => vec![Hint::Install {
            name: container.clone(),
        }],
        ExportError::BinaryMissing { container, binary } => vec![Hint::AddPackageAndReinstall {
            name: container.clone(),
            binary: binary.clone(),
        }],
        ExportError::NotExported { .. } => vec![Hint::ListExports],
        ExportError::Client { .. } => vec![Hint::InstallExecClient],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{Diagnostic, Position, Problem};

    #[test]
    fn a_refused_customisation_names_the_file_its_problems_and_the_way_out() {
        let path = PathBuf::from("/home/me/.config/horizonos/containers/desktop.json");
        let diagnostic = |line, field: &str| Diagnostic {
            file: path.clone(),
            position: Some(Position { line, column: 12 }),
            field: field.to_owned(),
            problem: Problem::Conflict {
                rule: "a rule".to_owned(),
            },
        };
        let error = Error::RefusedCustomisation {
            name: "desktop".to_owned(),
            operation: "installed",
            path: path.clone(),
            error: DefinitionError {
                diagnostics: vec![diagnostic(3, "image"), diagnostic(4, "packages")],
            },
            in_force: Layer::BuiltIn,
        };
        assert_eq!(
            error.to_string(),
            "desktop was not installed: /home/me/.config/horizonos/containers/desktop.json, which \
             customises it, was refused:\n  \
             /home/me/.config/horizonos/containers/desktop.json:3:12: image: a rule\n  \
             /home/me/.config/horizonos/containers/desktop.json:4:12: packages: a rule"
        );
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            error.hints(),
            [Hint::FixOrRemoveCustomisation {
                path,
                name: "desktop".to_owned(),
                in_force: Layer::BuiltIn,
            }]
        );
    }
}
