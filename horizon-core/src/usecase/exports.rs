//! The export use cases: export one binary (finding the container that provides it, checking it
//! is installed and, unless forced, that the binary is there — starting the container to look),
//! unexport, list the exports, repair them; and what the container use cases do to keep the
//! wrappers in step (export a definition's `export_binaries` after an install or update, remove a
//! container's wrappers with it, remove the orphans in cleanup).

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use super::{Call, Error, Horizon};
use crate::engine::Engine;
use crate::export::{
    self, ExportError, ExportOutcome, ExportRequest, ExportSetup, ListedExport, RemovedFile,
    RepairItem, UnexportOutcome,
};
use crate::lifecycle::{self, StateStore};

/// What an install or update exported of a definition's `export_binaries`, and what it could not.
#[derive(Debug, Default, Serialize)]
pub struct DeclaredExports {
    /// The exports made (or already there).
    pub exported: Vec<ExportOutcome>,
    /// The binaries not exported, with why.
    pub refused: Vec<RefusedExport>,
}

/// A declared binary that was not exported (a refusal does not fail the install or update).
#[derive(Debug, Serialize)]
pub struct RefusedExport {
    /// The binary.
    pub binary: String,
    /// The container it was to be exported from.
    pub container: String,
    /// Why.
    #[serde(serialize_with = "as_message")]
    pub error: ExportError,
}

fn as_message<S: serde::Serializer>(error: &ExportError, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(error)
}

/// The exports of this user.
#[derive(Debug, Serialize)]
pub struct ExportsReport {
    /// Where they are written.
    pub export_dir: PathBuf,
    /// Each, with its state.
    pub exports: Vec<ListedExport>,
}

impl<E: Engine> Horizon<E> {
    /// Exports `request.binary` of `request.container` (an empty container: the one that
    /// provides it: the definition that declares it, else the running container that has it).
    pub async fn export(
        &self,
        call: Call<'_>,
        mut request: ExportRequest,
    ) -> Result<ExportOutcome, Error> {
        let explicit = !request.container.is_empty();
        if explicit {
            export::check_request(&request)?;
        }
        let setup = self.settings.export_setup();
        check_client(&setup)?;
        let state = self.state_store();
        if explicit {
            installed(&state, &request.container)?;
            if !request.force {
                self.check_binary(call, &request.container, &request.binary)
                    .await?;
            }
        } else {
            let declared = export::declared_providers(self.catalog(), &request.binary);
            request.container = match declared.as_slice() {
                [one] => one.clone(),
                _ => {
                    let engine = self.engine(call).await?;
                    // A container whose record cannot be read is no candidate; the others are.
                    let records = state.scan()?.records;
                    export::resolve_provider(engine, self.catalog(), &records, &request.binary)
                        .await?
                }
            };
            installed(&state, &request.container)?;
        }
        Ok(export::export(&setup, &request)?)
    }

    /// Removes the export called `name` (putting back a file `--force` moved aside).
    pub fn unexport(&self, name: &str) -> Result<UnexportOutcome, Error> {
        Ok(export::unexport(&self.settings.export_setup(), name)?)
    }

    /// The exports, each with its state (orphaned when its container is not installed).
    pub fn exports(&self) -> Result<ExportsReport, Error> {
        let setup = self.settings.export_setup();
        // A container whose record cannot be read is installed: its exports are not orphans.
        let installed: BTreeSet<String> = self.state_store().scan()?.names().into_iter().collect();
        Ok(ExportsReport {
            exports: export::list(&setup, Some(&installed))?,
            export_dir: setup.export_dir,
        })
    }

    /// Rewrites every wrapper as this horizon writes it, recreating missing ones.
    pub fn repair_exports(&self, force: bool) -> Result<Vec<RepairItem>, Error> {
        let setup = self.settings.export_setup();
        check_client(&setup)?;
        Ok(export::repair(&setup, force)?)
    }

    /// Whether the export directory is on `$PATH` (a wrapper elsewhere is not found by name).
    pub fn export_dir_on_path(&self) -> bool {
        let settings = &self.settings;
        settings
            .search_path
            .iter()
            .any(|dir| dir == &settings.paths.export_dir)
    }

    /// Exports every binary of `container`'s `export_binaries`. A refusal (the name is taken)
    /// does not stop the others.
    pub(crate) fn export_declared(&self, container: &str, binaries: &[String]) -> DeclaredExports {
        self.export_declared_forcing(container, binaries, &[])
    }

    /// [`Horizon::export_declared`], exporting the binaries of `forced` even over a collision
    /// (as `export --force` does).
    fn export_declared_forcing(
        &self,
        container: &str,
        binaries: &[String],
        forced: &[String],
    ) -> DeclaredExports {
        let setup = self.settings.export_setup();
        let mut done = DeclaredExports::default();
        if binaries.is_empty() {
            return done;
        }
        for binary in binaries {
            let request = ExportRequest {
                container: container.to_owned(),
                binary: binary.clone(),
                alias: None,
                force: forced.contains(binary),
            };
            // Without the client no wrapper can run: each binary is refused for that.
            let exported = check_client(&setup).and_then(|()| export::export(&setup, &request));
            match exported {
                Ok(outcome) => done.exported.push(outcome),
                Err(error) => done.refused.push(RefusedExport {
                    binary: binary.clone(),
                    container: container.to_owned(),
                    error,
                }),
            }
        }
        done
    }

    /// Brings `container`'s declared exports from `before` to `after` (its `export_binaries`
    /// before and after a change of its definition): the binaries `after` declares are exported
    /// (those of `forced` even over a collision), the wrappers of those only `before` declared
    /// are removed.
    pub(crate) fn follow_declared(
        &self,
        container: &str,
        before: &[String],
        after: &[String],
        forced: &[String],
    ) -> Result<(DeclaredExports, Vec<UnexportOutcome>), Error> {
        let gone: BTreeSet<String> = before
            .iter()
            .filter(|binary| !after.contains(binary))
            .cloned()
            .collect();
        let removed = if gone.is_empty() {
            Vec::new()
        } else {
            export::remove_declared_exports(&self.settings.export_setup(), container, &gone)?
        };
        Ok((
            self.export_declared_forcing(container, after, forced),
            removed,
        ))
    }

    /// Removes the wrappers of `container`.
    pub(crate) fn remove_exports_of(&self, container: &str) -> Result<Vec<UnexportOutcome>, Error> {
        Ok(export::remove_container_exports(
            &self.settings.export_setup(),
            container,
        )?)
    }

    /// The exports whose container is not in `installed`: removed, or with `dry_run` only listed.
    pub(crate) fn clean_orphan_exports(
        &self,
        installed: &BTreeSet<String>,
        dry_run: bool,
    ) -> Result<Vec<UnexportOutcome>, Error> {
        let setup = self.settings.export_setup();
        if dry_run {
            return Ok(export::orphans(&setup, installed)?
                .into_iter()
                .map(|entry| UnexportOutcome {
                    entry,
                    file: RemovedFile::Removed,
                    restored: None,
                })
                .collect());
        }
        Ok(export::remove_orphans(&setup, installed)?)
    }

    /// Refuses a binary the container does not have (starting the container to look).
    async fn check_binary(
        &self,
        call: Call<'_>,
        container: &str,
        binary: &str,
    ) -> Result<(), Error> {
        let engine = self.engine(call).await?;
        let details = lifecycle::ensure_running(engine, container).await?;
        let found = export::locate_binary(engine, &details.name, binary)
            .await
            .map_err(|source| ExportError::Engine { source })?;
        match found {
            Some(_) => Ok(()),
            None => Err(ExportError::BinaryMissing {
                container: container.to_owned(),
                binary: binary.to_owned(),
            }
            .into()),
        }
    }

    /// The install records of this user.
    pub(crate) fn state_store(&self) -> StateStore {
        StateStore::new(&self.settings.paths.state_dir)
    }
}

/// The client must exist before a wrapper points at it.
fn check_client(setup: &ExportSetup) -> Result<(), ExportError> {
    if setup.client.is_file() {
        return Ok(());
    }
    Err(ExportError::Client {
        path: setup.client.clone(),
        reason: "it is missing (exported wrappers run it)".to_owned(),
    })
}

/// Refuses a container without an install record (or with one that cannot be read).
fn installed(state: &StateStore, container: &str) -> Result<(), Error> {
    match state.read(container)? {
        Some(_) => Ok(()),
        None => Err(ExportError::NotInstalled {
            container: container.to_owned(),
        }
        .into()),
    }
}
