//! The container use cases besides install and updates: list, status, start, stop, logs, remove
//! and cleanup. Readers (list and cleanup too) finish an interrupted transaction nobody holds
//! first, and cleanup leaves alone the objects of a container whose lock is held; remove takes the
//! container's lock and takes its exports and generation history with it; cleanup removes the
//! exports whose container is gone too.

use std::collections::{BTreeMap, BTreeSet};

use super::{Call, DefinitionLookup, Error, Horizon};
use crate::definition::Catalog;
use crate::engine::{ContainerDetails, Engine, ExecStreams};
use crate::export::{ExportEntry, Ledger, UnexportOutcome};
use crate::lifecycle::{
    self, CleanupKind, CleanupReport, ContainerStatus, InstalledStates, LifecycleError,
    RemoveOptions, RemoveReport, StartOutcome, StateSummary, StopOutcome,
};
use crate::update::ContainerLock;

/// The definitions and, when Podman could be asked, their installed state.
#[derive(Debug)]
pub struct ListReport<'a> {
    /// Every definition, and every refused file.
    pub catalog: &'a Catalog,
    /// The state of each (`None` when no service answered: see `states_unknown`).
    pub states: Option<InstalledStates>,
    /// Why the states are unknown.
    pub states_unknown: Option<Error>,
    /// Installed containers whose definition is gone or refused, by name (empty when the states
    /// are unknown): listed, so that nothing installed is hidden.
    pub installed_without_definition: Vec<InstalledWithoutDefinition>,
}

/// An installed container that no usable definition owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledWithoutDefinition {
    /// The definition name its container is labelled with.
    pub name: String,
    /// Its active container's state and generation (drift is meaningless without a definition).
    pub summary: StateSummary,
    /// The image its active container runs (its generation image).
    pub image: String,
    /// Why no definition owns it: its file is missing, or refused (`Invalid`, with the file).
    pub definition: DefinitionLookup,
}

/// The status of one container, and its exports.
#[derive(Debug)]
pub struct StatusReport {
    /// State, generation, mounts, security, drift.
    pub status: ContainerStatus,
    /// The exports of the container the ledger holds, or why the ledger cannot be read (the
    /// status is shown without them: only exporting needs the ledger).
    pub exports: Result<Vec<ExportEntry>, crate::export::ExportError>,
}

/// What a start did.
#[derive(Debug)]
pub struct StartReport {
    /// Started, already running, or recreated fresh.
    pub outcome: StartOutcome,
    /// The container.
    pub container: ContainerDetails,
}

/// What a remove removed.
#[derive(Debug)]
pub struct RemoveOutcome {
    /// Containers, images, the record.
    pub removed: RemoveReport,
    /// The container's wrappers that were removed.
    pub unexported: Vec<UnexportOutcome>,
    /// Its unit disabled and stopped (when horizon's template unit is installed), or why not.
    pub service: Option<Result<super::ServiceReport, Error>>,
}

/// What a cleanup removed (or would).
#[derive(Debug)]
pub struct CleanupOutcome {
    /// Containers, images and records.
    pub report: CleanupReport,
    /// The exports whose container is not installed.
    pub exports: Vec<UnexportOutcome>,
}

impl<E: Engine> Horizon<E> {
    /// Every definition, with its installed state when a Podman service answers.
    pub async fn list(&self, call: Call<'_>) -> Result<ListReport<'_>, Error> {
        let catalog = self.catalog();
        let (states, states_unknown) = match self.engine(call).await {
            Ok(engine) => {
                // An interrupted transaction nobody holds is finished first, so a container it
                // left half-made is not listed as installed.
                // A reader goes on when the journal directory cannot be listed: the writers that
                // need a journal report it.
                let journals = self.settings.update_stores().journals.names();
                if let Err(error) = &journals {
                    tracing::debug!(%error, "the journals could not be listed before list");
                }
                for name in journals.unwrap_or_default() {
                    self.recover_before_reading(call, &name).await?;
                }
                (
                    Some(lifecycle::installed_states(engine, catalog).await?),
                    None,
                )
            }
            Err(error) if error.kind() == super::ErrorKind::NoService => (None, Some(error)),
            Err(error) => return Err(error),
        };
        let installed_without_definition = states
            .as_ref()
            .map(|states| self.installed_without_definition(states))
            .unwrap_or_default();
        Ok(ListReport {
            catalog,
            states,
            states_unknown,
            installed_without_definition,
        })
    }

    /// The installed definitions among `states`' orphans — those with an install record here
    /// (a service shared by several state directories holds others' containers too) — one entry
    /// per name (its active container), with why no definition owns it.
    fn installed_without_definition(
        &self,
        states: &InstalledStates,
    ) -> Vec<InstalledWithoutDefinition> {
        let mut by_name: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for container in &states.orphans {
            if let Some(name) = container.labels.get(crate::labels::DEFINITION) {
                by_name.entry(name.as_str()).or_default().push(container);
            }
        }
        let store = self.state_store();
        // A record that exists counts, readable or not: it says the container is installed here.
        let recorded = |name: &str| std::fs::symlink_metadata(store.path(name)).is_ok();
        by_name
            .into_iter()
            .filter(|(name, _)| recorded(name))
            .filter_map(|(name, containers)| {
                let active = lifecycle::active_container(name, containers)?;
                let mut summary = lifecycle::summarize(Some(active), "");
                summary.drifted = false;
                Some(InstalledWithoutDefinition {
                    name: name.to_owned(),
                    summary,
                    image: active.image.clone(),
                    definition: self.lookup(name),
                })
            })
            .collect()
    }

    /// The status of definition `name`'s container.
    pub async fn status(&self, call: Call<'_>, name: &str) -> Result<StatusReport, Error> {
        let current = self.catalog().get(name);
        self.recover_before_reading(call, name).await?;
        let engine = self.engine(call).await?;
        let status = match lifecycle::status(engine, name, current, &self.state_store()).await {
            Ok(status) => status,
            Err(LifecycleError::NotInstalled { .. }) => {
                return Err(self.resolve(name).err().unwrap_or(
                    LifecycleError::NotInstalled {
                        name: name.to_owned(),
                    }
                    .into(),
                ));
            }
            Err(error) => return Err(error.into()),
        };
        let exports = Ledger::new(&self.settings.paths.state_dir)
            .read()
            .map(|entries| {
                entries
                    .into_iter()
                    .filter(|entry| entry.container == name)
                    .collect()
            });
        Ok(StatusReport { status, exports })
    }

    /// Starts definition `name`'s container (a non-persistent one is recreated fresh first).
    pub async fn start(&self, call: Call<'_>, name: &str) -> Result<StartReport, Error> {
        self.recover_before_reading(call, name).await?;
        let (outcome, container) = lifecycle::start(self.engine(call).await?, name).await?;
        Ok(StartReport { outcome, container })
    }

    /// Stops definition `name`'s container.
    pub async fn stop(&self, call: Call<'_>, name: &str) -> Result<StopOutcome, Error> {
        self.recover_before_reading(call, name).await?;
        Ok(lifecycle::stop(self.engine(call).await?, name).await?)
    }

    /// Copies definition `name`'s container output to `streams` (its last `tail` lines; with
    /// `follow`, until it stops).
    pub async fn logs(
        &self,
        call: Call<'_>,
        name: &str,
        follow: bool,
        tail: Option<u64>,
        streams: ExecStreams<'_>,
    ) -> Result<(), Error> {
        self.recover_before_reading(call, name).await?;
        let engine = self.engine(call).await?;
        let container = lifecycle::find_managed(engine, name)
            .await?
            .ok_or_else(|| Error::NotInstalled {
                name: name.to_owned(),
            })?;
        Ok(engine.logs(&container.id, follow, tail, streams).await?)
    }

    /// Removes definition `name`'s containers, generation images (unless `keep_images`), install
    /// record, kept generations' records and exported wrappers. Works without the definition.
    pub async fn remove(
        &self,
        call: Call<'_>,
        name: &str,
        options: RemoveOptions,
    ) -> Result<RemoveOutcome, Error> {
        let _lock = self
            .lock_for_write(call, name, "remove", crate::update::LockWait::Unavailable)
            .await?;
        // Before the container goes: a running unit would otherwise start it again.
        let service = match self.template_installed() {
            true => Some(
                self.disable(call, name, super::ServiceOptions { now: true })
                    .await,
            ),
            false => None,
        };
        let engine = self.engine(call).await?;
        let removed = lifecycle::remove(engine, name, &self.state_store(), options).await?;
        lifecycle::remove_agent_dirs(&self.settings.paths.runtime_dir, name)?;
        // The records of its kept generations went with their containers. Before the wrappers:
        // an unreadable export ledger then leaves only them (the error names the ledger).
        self.settings.update_stores().history.remove_all(name)?;
        let unexported = self.remove_exports_of(name)?;
        Ok(RemoveOutcome {
            removed,
            unexported,
            service,
        })
    }

    /// Removes what is no longer needed (only lists it with `dry_run`): stopped containers whose
    /// definition is gone, unused generation images, dangling images, their records, and the
    /// exports of containers that are not installed.
    pub async fn cleanup(&self, call: Call<'_>, dry_run: bool) -> Result<CleanupOutcome, Error> {
        let engine = self.engine(call).await?;
        let state = self.state_store();
        let stores = self.settings.update_stores();
        if !dry_run {
            // What an interrupted transaction made is its journal's to remove, not a guess's.
            for name in stores.journals.names()? {
                self.recover_before_reading(call, &name).await?;
            }
        }
        // An install or update in progress (its lock held), or one whose recovery did not
        // finish, owns its objects: a build container and a generation image in use by nothing
        // yet look like leftovers.
        let busy = |name: &str| {
            stores.journals.exists(name) || !ContainerLock::is_free(&stores.state_dir, name)
        };
        let report = lifecycle::cleanup(engine, self.catalog(), &state, &busy, dry_run).await?;
        let records_removed: BTreeSet<&str> = report
            .removed
            .iter()
            .filter(|item| item.kind == CleanupKind::InstallRecord)
            .map(|item| item.name.as_str())
            .collect();
        // A container whose record cannot be read counts as installed: its exports stay.
        let installed: BTreeSet<String> = state
            .scan()?
            .names()
            .into_iter()
            .filter(|name| !records_removed.contains(name.as_str()))
            .collect();
        let exports = self.clean_orphan_exports(&installed, dry_run)?;
        Ok(CleanupOutcome { report, exports })
    }
}
