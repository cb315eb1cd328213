//! The update and rollback transactions, and the recovery of an interrupted one.
//!
//! An update: check the registry digest; build the next generation (pull by digest, packages,
//! commit — install's own steps); create its container beside the running one through install's
//! create path and verify it (it starts, the definition's verify commands pass, every exported
//! binary resolves); then the swap: stop the old container, rename it `horizonos-NAME-GEN` (kept
//! for rollback), rename the new one `horizonos-NAME`, make sure it runs, write the install record;
//! finally prune generations beyond the kept ones. A rollback is the same swap with a kept
//! container. Every step is journaled ([`super::journal`]) before the next begins.
//!
//! Recovery (the first thing every writer does) reads the journal of an interrupted transaction:
//! before the new container took the name `horizonos-NAME`, it reverts — removes what the update
//! made and puts the old container back as it was (name, running or not); from then on it
//! completes — the new container runs under its name and the record says so. Objects are found by
//! their generation label, so recovery is idempotent: it can itself be interrupted and rerun.
//!
//! One file per job: `update` (check, build and verify the next generation), `rollback` (choose
//! a kept generation), `swap` (the short step both end with), `recovery` (complete or revert a
//! transaction, after a failed swap or a crash), `prune` (generations beyond the kept ones). This
//! file holds what they share: the state stores, how a transaction begins, and how a container's
//! generations are found and removed.

mod prune;
mod recovery;
mod rollback;
mod swap;
mod update;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

pub use recovery::{Recovery, RecoveryAction, recover, recover_if_interrupted};
pub use rollback::{RollbackOutcome, RollbackTarget, rollback};
pub use update::{DEFAULT_KEEP_PREVIOUS, UpdateOutcome, UpdateProgress, UpdateRequest, update};

use super::error::{UpdateError, UpdateStep};
use super::history::GenerationHistory;
use super::journal::{JOURNAL_SCHEMA_VERSION, Journal, JournalStep, JournalStore, Operation};
use super::timestamp;
use crate::engine::{ContainerSummary, Engine, RunState};
use crate::lifecycle::{
    InstallRecord, LifecycleError, STOP_TIMEOUT_SECS, StateStore, active_container, generation_of,
    managed_filter,
};

/// horizon's state files an update reads and writes, all under one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateStores {
    /// Install records (the active generation of each container).
    pub records: StateStore,
    /// Journals of transactions in progress.
    pub journals: JournalStore,
    /// Records of kept generations.
    pub history: GenerationHistory,
    /// The state directory (locks live below it).
    pub state_dir: std::path::PathBuf,
}

impl UpdateStores {
    /// The stores under `state_dir`.
    pub fn new(state_dir: &std::path::Path) -> Self {
        UpdateStores {
            records: StateStore::new(state_dir),
            journals: JournalStore::new(state_dir),
            history: GenerationHistory::new(state_dir),
            state_dir: state_dir.to_path_buf(),
        }
    }
}

/// A generation and the image digest it was built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GenerationRef {
    /// The generation number.
    pub generation: u64,
    /// The base image's manifest digest.
    pub image_digest: Option<String>,
}

impl GenerationRef {
    fn of(record: &InstallRecord) -> Self {
        GenerationRef {
            generation: record.generation,
            image_digest: record.image_digest.clone(),
        }
    }
}

/// What a transaction starts from: the installed container of a definition.
struct Installed {
    /// Every managed container of the definition (the active one and the kept ones).
    containers: Vec<ContainerSummary>,
    /// The one that has the active name.
    active: ContainerSummary,
    /// Its install record.
    record: InstallRecord,
}

/// `name`'s managed containers, its active one and its record; not installed without either.
async fn installed<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    name: &str,
) -> Result<Installed, UpdateError> {
    let containers = list_managed(engine, name).await?;
    let active = active_container(name, &containers)
        .cloned()
        .ok_or_else(|| LifecycleError::NotInstalled {
            name: name.to_owned(),
        })?;
    let record = stores
        .records
        .read(name)?
        .ok_or_else(|| LifecycleError::NotInstalled {
            name: name.to_owned(),
        })?;
    Ok(Installed {
        containers,
        active,
        record,
    })
}

/// The journal of a transaction of `name` that begins now, from the `active` container (of
/// generation `from_generation`) to generation `to_generation`, with nothing made yet.
fn begun(
    operation: Operation,
    name: &str,
    from_generation: u64,
    active: &ContainerSummary,
    to_generation: u64,
) -> Journal {
    Journal {
        schema_version: JOURNAL_SCHEMA_VERSION,
        operation,
        name: name.to_owned(),
        pid: std::process::id(),
        started_at: timestamp::rfc3339(timestamp::now_unix()),
        from_generation,
        from_container: active.id.clone(),
        from_was_running: active.state == RunState::Running,
        to_generation,
        to_record: None,
        keep_previous: 0,
        pulled_image: None,
        steps: vec![JournalStep::Begun],
        definition_change: None,
    }
}

/// Writes what must be on disk before a transaction changes anything: the running generation's
/// record first (it is what a rollback restores), then the journal.
fn begin(
    stores: &UpdateStores,
    running: &InstallRecord,
    journal: &Journal,
) -> Result<(), UpdateError> {
    stores.history.write(running)?;
    stores.journals.write(journal)
}

/// How long a container is given to stop before Podman kills it.
fn stop_timeout() -> Duration {
    Duration::from_secs(u64::from(STOP_TIMEOUT_SECS))
}

/// The generations of `name`'s kept containers (every managed container but the active one),
/// ascending.
fn kept_generations(containers: &[ContainerSummary], active: &ContainerSummary) -> Vec<u64> {
    let kept: BTreeSet<u64> = containers
        .iter()
        .filter(|container| container.id != active.id)
        .map(|container| generation_of(&container.labels))
        .collect();
    kept.into_iter().collect()
}

async fn list_managed<E: Engine>(
    engine: &E,
    name: &str,
) -> Result<Vec<ContainerSummary>, UpdateError> {
    engine
        .list_containers(&managed_filter(name))
        .await
        .map_err(|error| UpdateError::engine(name, "find the containers of", error))
}

/// `name`'s managed container of `generation`, found by its generation label.
async fn find_generation<E: Engine>(
    engine: &E,
    name: &str,
    generation: u64,
) -> Result<Option<ContainerSummary>, UpdateError> {
    Ok(list_managed(engine, name)
        .await?
        .into_iter()
        .find(|container| generation_of(&container.labels) == generation))
}

async fn remove_container<E: Engine>(engine: &E, name: &str, id: &str) -> Result<(), UpdateError> {
    match engine.remove_container(id, true).await {
        Ok(()) => Ok(()),
        Err(error) if error.is_not_found() => Ok(()),
        Err(error) => Err(UpdateError::engine(name, "remove a container of", error)),
    }
}

async fn remove_image<E: Engine>(engine: &E, name: &str, id: &str) -> Result<(), UpdateError> {
    match engine.remove_image(id, false).await {
        Ok(()) => Ok(()),
        Err(error) if error.is_not_found() => Ok(()),
        Err(error) => Err(UpdateError::engine(name, "remove an image of", error)),
    }
}

fn failed(
    name: &str,
    step: UpdateStep,
    error: UpdateError,
    cleanup_failures: Vec<String>,
) -> UpdateError {
    UpdateError::UpdateFailed {
        name: name.to_owned(),
        step,
        source: Box::new(error),
        cleanup_failures,
    }
}
