//! Why an export operation failed: typed, with the data a front end needs to say what is wrong,
//! where, and which command fixes it.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::lifecycle::LifecycleError;

/// Who already owns the name an export asked for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Owner {
    /// A file horizon did not write (no ledger entry for it).
    ForeignFile {
        /// The file.
        path: PathBuf,
    },
    /// A wrapper horizon wrote, changed by someone since.
    ModifiedWrapper {
        /// The file.
        path: PathBuf,
        /// The container it was exported from.
        container: String,
    },
    /// The same name exported from another container (or another binary).
    OtherContainer {
        /// The wrapper.
        path: PathBuf,
        /// Its container.
        container: String,
        /// Its binary.
        binary: String,
    },
    /// A host command of that name elsewhere in `PATH`.
    HostCommand {
        /// The command.
        path: PathBuf,
    },
    /// A wrapper of that name in another export directory in `PATH` (the system's or a user's).
    OtherExport {
        /// The wrapper.
        path: PathBuf,
        /// Its container.
        container: String,
    },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::ForeignFile { path } => {
                write!(
                    f,
                    "{} exists and was not written by horizon",
                    path.display()
                )
            }
            Owner::ModifiedWrapper { path, container } => write!(
                f,
                "{} (exported from {container}) was changed since horizon wrote it",
                path.display()
            ),
            Owner::OtherContainer {
                path,
                container,
                binary,
            } => write!(
                f,
                "{} is already exported from the container {container} (its {binary})",
                path.display()
            ),
            Owner::HostCommand { path } => {
                write!(f, "it would shadow the host command {}", path.display())
            }
            Owner::OtherExport { path, container } => write!(
                f,
                "it would shadow {} (exported from the container {container})",
                path.display()
            ),
        }
    }
}

/// Why an export, unexport, listing or repair failed. Nothing was changed unless it says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A name given is not a valid definition or binary name.
    #[error("{what} {value:?} {reason}")]
    InvalidName {
        /// `container`, `binary` or `alias`.
        what: &'static str,
        /// The name given.
        value: String,
        /// The rule it breaks.
        reason: String,
    },
    /// The client path cannot go into a wrapper.
    #[error("the exec client {path} cannot be used: {reason}")]
    Client {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The name is taken; `--force` overrides (keeping a backup of a file that is not ours).
    #[error("cannot export {name}: {owner}")]
    Collision {
        /// The wrapper name asked for.
        name: String,
        /// Who has it.
        owner: Owner,
    },
    /// Nothing of that name is exported here.
    #[error("{name} is not exported (no ledger entry for {path})")]
    NotExported {
        /// The name given.
        name: String,
        /// The path looked for.
        path: PathBuf,
    },
    /// No definition lists the binary and no running container has it.
    #[error("no container provides {binary}{}", searched_note(searched, stopped))]
    NoProvider {
        /// The binary.
        binary: String,
        /// The running containers searched.
        searched: Vec<String>,
        /// Installed containers not searched because they are stopped.
        stopped: Vec<String>,
    },
    /// Several containers provide it.
    #[error("{binary} is provided by several containers ({from}): {}", candidates.join(", "))]
    Ambiguous {
        /// The binary.
        binary: String,
        /// Where they were found: `export_binaries` of definitions, or installed containers.
        from: &'static str,
        /// The candidates, sorted.
        candidates: Vec<String>,
    },
    /// The container to export from is not installed.
    #[error("{container} is not installed")]
    NotInstalled {
        /// The definition name.
        container: String,
    },
    /// The binary is not in the container's `PATH`.
    #[error("{binary} is not in the PATH of the container {container}")]
    BinaryMissing {
        /// The definition name.
        container: String,
        /// The binary.
        binary: String,
    },
    /// The ledger file cannot be understood.
    #[error("{path}: not a valid export ledger: {message}")]
    BadLedger {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Starting the container failed.
    #[error(transparent)]
    Lifecycle {
        /// The lifecycle's error.
        #[from]
        source: LifecycleError,
    },
    /// Podman failed.
    #[error(transparent)]
    Engine {
        /// The engine's error.
        #[from]
        source: EngineError,
    },
}

fn searched_note(searched: &[String], stopped: &[String]) -> String {
    let mut note = String::new();
    if !searched.is_empty() {
        note.push_str(&format!(" (searched: {})", searched.join(", ")));
    }
    if !stopped.is_empty() {
        note.push_str(&format!(" (not searched, stopped: {})", stopped.join(", ")));
    }
    note
}

impl ExportError {
    /// An [`ExportError::Io`] maker for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ExportError {
        let path = path.into();
        move |source| ExportError::Io {
            action,
            path,
            source,
        }
    }

    /// The engine error underneath, if any (to tell "no Podman" from other failures).
    pub fn engine_error(&self) -> Option<&EngineError> {
        match self {
            ExportError::Engine { source } => Some(source),
            ExportError::Lifecycle { source } => source.engine_error(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_owner() {
        let cases = [
            (
                Owner::ForeignFile {
                    path: "/b/git".into(),
                },
                "cannot export git: /b/git exists and was not written by horizon",
            ),
            (
                Owner::OtherContainer {
                    path: "/b/git".into(),
                    container: "dev".into(),
                    binary: "git".into(),
                },
                "cannot export git: /b/git is already exported from the container dev (its git)",
            ),
            (
                Owner::HostCommand {
                    path: "/usr/bin/git".into(),
                },
                "cannot export git: it would shadow the host command /usr/bin/git",
            ),
            (
                Owner::OtherExport {
                    path: "/usr/local/bin/git".into(),
                    container: "tools".into(),
                },
                "cannot export git: it would shadow /usr/local/bin/git (exported from the container tools)",
            ),
            (
                Owner::ModifiedWrapper {
                    path: "/b/git".into(),
                    container: "dev".into(),
                },
                "cannot export git: /b/git (exported from dev) was changed since horizon wrote it",
            ),
        ];
        for (owner, message) in cases {
            let error = ExportError::Collision {
                name: "git".into(),
                owner,
            };
            assert_eq!(error.to_string(), message);
        }
        let none = ExportError::NoProvider {
            binary: "rg".into(),
            searched: vec!["dev".into()],
            stopped: vec!["old".into()],
        };
        assert_eq!(
            none.to_string(),
            "no container provides rg (searched: dev) (not searched, stopped: old)"
        );
    }
}
