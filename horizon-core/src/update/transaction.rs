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

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::check::available_digest;
use super::error::{UpdateError, UpdateStep};
use super::failpoint;
use super::history::GenerationHistory;
use super::journal::{JOURNAL_SCHEMA_VERSION, Journal, JournalStep, JournalStore, Operation};
use super::lock::ContainerLock;
use super::registry::RegistryClient;
use super::timestamp;
use crate::definition::ResolvedDefinition;
use crate::engine::{ContainerSummary, Engine, ExecRequest, PullEvent};
use crate::lifecycle::{
    BuiltGeneration, DesktopHost, HostContext, InstallProgress, InstallRecord, LifecycleError,
    Made, STATE_RUNNING, STOP_TIMEOUT_SECS, StateStore, active_container, beside_name,
    build_generation, create_and_start, exec_with_tail, generation_of, install_record,
    managed_filter, next_generation, remove_stale_builds,
};
use crate::naming;

/// How many previous generations an update keeps for rollback unless told otherwise.
pub const DEFAULT_KEEP_PREVIOUS: usize = 2;
/// The shell an exported binary is looked up with (`command -v`) in a new container.
const LOOKUP_SHELL: &str = "sh";

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

/// What to update.
#[derive(Clone, Copy, Debug)]
pub struct UpdateRequest<'a> {
    /// The definition now.
    pub resolved: &'a ResolvedDefinition,
    /// horizon's state.
    pub stores: &'a UpdateStores,
    /// The host's desktop resources (the new container gets what the definition asks for).
    pub desktop: &'a DesktopHost,
    /// How to reach the registry.
    pub registry: &'a RegistryClient,
    /// Previous generations to keep (containers, images, records); older ones are pruned.
    pub keep_previous: usize,
    /// The in-container agent the next container gets (see `lifecycle::HostContext::agent`).
    pub agent: Option<&'a crate::lifecycle::AgentHost>,
    /// Build the next generation even when the registry has nothing new and the definition is
    /// unchanged (`install --reinstall`: a container made afresh, with the agent it lacked, say).
    pub rebuild: bool,
}

impl UpdateRequest<'_> {
    /// What its journal (and the recovery of an interrupted one) calls it.
    pub fn operation(&self) -> Operation {
        if self.rebuild {
            Operation::Reinstall
        } else {
            Operation::Update
        }
    }
}

/// Progress of an update, for the caller to render.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum UpdateProgress<'a> {
    /// A step begins; `subject` is what it works on.
    Step {
        /// The step.
        step: UpdateStep,
        /// What it works on.
        subject: &'a str,
    },
    /// The pull made progress.
    Pull(&'a PullEvent),
}

/// What [`update`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UpdateOutcome {
    /// The next generation runs; the previous one is kept for rollback.
    Updated {
        /// What ran before.
        from: GenerationRef,
        /// What runs now.
        to: GenerationRef,
        /// Generations removed because more than `keep_previous` were kept.
        pruned: Vec<u64>,
        /// Objects pruning could not remove, with why (the update itself succeeded).
        prune_failures: Vec<String>,
    },
    /// The registry has the image installed and the definition is unchanged: nothing was done.
    UpToDate {
        /// What runs.
        current: GenerationRef,
    },
}

/// Which generation a rollback returns to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The newest kept generation older than the running one.
    Previous,
    /// This kept generation (older or newer than the running one).
    Generation(u64),
}

/// What [`rollback`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RollbackOutcome {
    /// `to` runs now; `from` is kept.
    RolledBack {
        /// What ran before.
        from: GenerationRef,
        /// What runs now.
        to: GenerationRef,
    },
    /// The generation asked for runs already: nothing was done.
    AlreadyActive {
        /// What runs.
        current: GenerationRef,
    },
}

/// How an interrupted transaction was finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecoveryAction {
    /// It was undone: the generation that ran before runs as before.
    Reverted,
    /// It was finished: the new generation runs and is recorded.
    Completed,
}

/// What [`recover`] found and did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// The definition name.
    pub name: String,
    /// The interrupted operation.
    pub operation: Operation,
    /// The last step it had recorded.
    pub interrupted_after: JournalStep,
    /// Reverted or completed.
    pub action: RecoveryAction,
    /// The generation that runs now.
    pub generation: u64,
}

impl std::fmt::Display for Recovery {
    /// "an interrupted update of NAME was reverted; generation N runs": what every binary tells
    /// the user after finishing someone's interrupted transaction.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let operation = self.operation.as_str();
        let done = match self.action {
            RecoveryAction::Reverted => "reverted",
            RecoveryAction::Completed => "completed",
        };
        write!(
            f,
            "an interrupted {operation} of {} was {done}; generation {} runs",
            self.name, self.generation
        )
    }
}

/// Updates the container of `request.resolved` (see the module documentation). The caller holds
/// its lock. An interrupted earlier transaction is recovered first.
pub async fn update<E: Engine>(
    engine: &E,
    lock: &ContainerLock,
    request: UpdateRequest<'_>,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<UpdateOutcome, UpdateError> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    let stores = request.stores;
    ensure_lock_for(lock, name);
    recover(engine, lock, stores).await?;
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

    on_progress(&UpdateProgress::Step {
        step: UpdateStep::Check,
        subject: &resolved.definition.image.full,
    });
    let digest = available_digest(resolved, request.registry)
        .await
        .map_err(|error| failed(name, UpdateStep::Check, error, Vec::new()))?;
    if !request.rebuild
        && record.image_digest.as_deref() == Some(digest.as_str())
        && record.definition_hash == resolved.definition.content_hash()
    {
        return Ok(UpdateOutcome::UpToDate {
            current: GenerationRef::of(&record),
        });
    }

    let info = engine
        .info()
        .await
        .map_err(|error| UpdateError::engine(name, "ask Podman about itself for", error))?;
    let host = HostContext {
        rootless: info.rootless,
        desktop: request.desktop.clone(),
        agent: request.agent.cloned(),
    };
    let generation = next_generation(engine, name, Some(&active), &stores.records).await?;
    let mut journal = Journal {
        schema_version: JOURNAL_SCHEMA_VERSION,
        operation: request.operation(),
        name: name.to_owned(),
        pid: std::process::id(),
        started_at: timestamp::rfc3339(timestamp::now_unix()),
        from_generation: record.generation,
        from_container: active.id.clone(),
        from_was_running: active.state == STATE_RUNNING,
        to_generation: generation,
        to_record: None,
        keep_previous: request.keep_previous,
        pulled_image: None,
        steps: vec![JournalStep::Begun],
    };
    // The running generation's record is what a rollback restores: keep it before anything else.
    stores.history.write(&record)?;
    stores.journals.write(&journal)?;

    let mut made = Made::default();
    let built = build_next(
        engine,
        request,
        &host,
        &digest,
        generation,
        &mut journal,
        &mut made,
        on_progress,
    )
    .await;
    let to_record = match built {
        Ok(to_record) => to_record,
        Err((step, error)) => {
            let cleanup_failures = made.undo(engine).await;
            if cleanup_failures.is_empty() {
                stores.journals.clear(name)?;
            }
            return Err(failed(name, step, error, cleanup_failures));
        }
    };

    on_progress(&UpdateProgress::Step {
        step: UpdateStep::Swap,
        subject: &naming::container_name(name),
    });
    swap(engine, stores, &mut journal).await?;
    let pruned = prune(engine, stores, name, request.keep_previous).await;
    failpoint::hit("update-pruned").await?;
    stores.journals.clear(name)?;
    Ok(UpdateOutcome::Updated {
        from: GenerationRef::of(&record),
        to: GenerationRef::of(&to_record),
        pruned: pruned.generations,
        prune_failures: pruned.failures,
    })
}

/// Builds generation `generation` from `digest`, creates and verifies its container beside the
/// running one, and returns the record it will have. Each stage is journaled.
// The transaction's parts (request, host, journal, what was made, progress) are separate
// borrows on purpose: `made` and `journal` are undone or kept by the caller.
#[allow(clippy::too_many_arguments)]
async fn build_next<E: Engine>(
    engine: &E,
    request: UpdateRequest<'_>,
    host: &HostContext,
    digest: &str,
    generation: u64,
    journal: &mut Journal,
    made: &mut Made,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<InstallRecord, (UpdateStep, UpdateError)> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    let journals = &request.stores.journals;
    let build_progress = |progress: &InstallProgress<'_>| match progress {
        InstallProgress::Step { step, subject } => on_progress(&UpdateProgress::Step {
            step: UpdateStep::Build(*step),
            subject,
        }),
        InstallProgress::Pull(event) => on_progress(&UpdateProgress::Pull(event)),
    };
    failpoint::hit("update-begun")
        .await
        .map_err(|error| (UpdateStep::Check, error))?;
    let image = &resolved.definition.image;
    let reference = format!("{}/{}@{digest}", image.registry, image.repository);
    let built: BuiltGeneration = build_generation(
        engine,
        resolved,
        &reference,
        generation,
        made,
        &build_progress,
    )
    .await
    .map_err(|(step, error)| (UpdateStep::Build(step), error.into()))?;
    journal.pulled_image = made.pulled_image.clone();
    let at_build = |error: UpdateError| {
        (
            UpdateStep::Build(crate::lifecycle::InstallStep::Commit),
            error,
        )
    };
    journals
        .record(journal, JournalStep::Built)
        .map_err(at_build)?;
    failpoint::hit("update-built").await.map_err(at_build)?;

    let create_name = beside_name(name, generation);
    let details = create_and_start(
        engine,
        resolved,
        host,
        &built,
        &create_name,
        made,
        &build_progress,
    )
    .await
    .map_err(|(step, error)| (UpdateStep::Build(step), error.into()))?;
    let at_verify = |error: UpdateError| (UpdateStep::VerifyExports, error);
    on_progress(&UpdateProgress::Step {
        step: UpdateStep::VerifyExports,
        subject: &resolved.definition.export_binaries.join(" "),
    });
    verify_exports(
        engine,
        name,
        &create_name,
        &resolved.definition.export_binaries,
    )
    .await
    .map_err(at_verify)?;
    let mut to_record = install_record(resolved, &built, &details);
    // The digest asked for is the one built, whatever the pull reported.
    to_record.image_digest = Some(digest.to_owned());
    journal.to_record = Some(to_record.clone());
    journals
        .record(journal, JournalStep::Verified)
        .map_err(at_verify)?;
    failpoint::hit("update-verified").await.map_err(at_verify)?;
    Ok(to_record)
}

/// Checks that every exported binary resolves (`command -v`) in the new container.
async fn verify_exports<E: Engine>(
    engine: &E,
    name: &str,
    container: &str,
    binaries: &[String],
) -> Result<(), UpdateError> {
    for binary in binaries {
        let request = ExecRequest {
            argv: [
                LOOKUP_SHELL,
                "-c",
                "command -v -- \"$1\" >/dev/null",
                LOOKUP_SHELL,
                binary,
            ]
            .map(str::to_owned)
            .to_vec(),
            ..Default::default()
        };
        let (exit_code, _) = exec_with_tail(engine, name, container, &request).await?;
        if exit_code != 0 {
            return Err(UpdateError::ExportMissing {
                binary: binary.clone(),
            });
        }
    }
    Ok(())
}

/// Puts generation `journal.to_generation` in place of `journal.from_generation`: stop the old
/// container, rename it to its generation's name, give the new one the active name, make sure it
/// runs, record it. A failure before the rename of the new container reverts; after it, completes.
async fn swap<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    journal: &mut Journal,
) -> Result<(), UpdateError> {
    let name = journal.name.clone();
    let step = async {
        let old = find_generation(engine, &name, journal.from_generation)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled { name: name.clone() })?;
        let timeout = Duration::from_secs(u64::from(STOP_TIMEOUT_SECS));
        engine
            .stop_container(&old.id, timeout)
            .await
            .map_err(|error| UpdateError::engine(&name, "stop the old container of", error))?;
        stores.journals.record(journal, JournalStep::StoppedOld)?;
        failpoint::hit("swap-stopped-old").await?;
        engine
            .rename_container(&old.id, &beside_name(&name, journal.from_generation))
            .await
            .map_err(|error| UpdateError::engine(&name, "rename the old container of", error))?;
        stores.journals.record(journal, JournalStep::RenamedOld)?;
        failpoint::hit("swap-renamed-old").await?;
        let new = find_generation(engine, &name, journal.to_generation)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled { name: name.clone() })?;
        engine
            .rename_container(&new.id, &naming::container_name(&name))
            .await
            .map_err(|error| UpdateError::engine(&name, "rename the new container of", error))?;
        stores.journals.record(journal, JournalStep::RenamedNew)?;
        failpoint::hit("swap-renamed-new").await?;
        Ok::<(), UpdateError>(())
    }
    .await;
    if let Err(error) = step {
        if journal.reached(JournalStep::RenamedNew) {
            // Past the point of no return: finish instead.
            return complete(engine, stores, journal).await.map_err(|_| error);
        }
        let cleanup_failures = match revert(engine, stores, journal).await {
            Ok(()) => Vec::new(),
            Err(revert_error) => vec![super::check::error_chain(&revert_error)],
        };
        return Err(if journal.operation.builds_next() {
            failed(&name, UpdateStep::Swap, error, cleanup_failures)
        } else {
            UpdateError::RollbackFailed {
                name,
                generation: journal.to_generation,
                source: Box::new(error),
                cleanup_failures,
            }
        });
    }
    complete(engine, stores, journal).await
}

/// Finishes a transaction whose new container has the active name: the old one stopped and named
/// for its generation, the new one running, the record written, the journal's steps recorded.
async fn complete<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    journal: &mut Journal,
) -> Result<(), UpdateError> {
    let name = journal.name.clone();
    let active_name = naming::container_name(&name);
    if let Some(old) = find_generation(engine, &name, journal.from_generation).await? {
        if old.state == STATE_RUNNING {
            let timeout = Duration::from_secs(u64::from(STOP_TIMEOUT_SECS));
            engine
                .stop_container(&old.id, timeout)
                .await
                .map_err(|error| UpdateError::engine(&name, "stop the old container of", error))?;
        }
        let kept_name = beside_name(&name, journal.from_generation);
        if old.name != kept_name {
            engine
                .rename_container(&old.id, &kept_name)
                .await
                .map_err(|error| {
                    UpdateError::engine(&name, "rename the old container of", error)
                })?;
        }
    }
    if let Some(new) = find_generation(engine, &name, journal.to_generation).await?
        && new.name != active_name
    {
        engine
            .rename_container(&new.id, &active_name)
            .await
            .map_err(|error| UpdateError::engine(&name, "rename the new container of", error))?;
    }
    let (_, details) = crate::lifecycle::start(engine, &name).await?;
    stores.journals.record(journal, JournalStep::StartedNew)?;
    failpoint::hit("swap-started-new").await?;
    let mut record = match &journal.to_record {
        Some(record) => record.clone(),
        None => stores
            .history
            .read(&name, journal.to_generation)?
            .ok_or_else(|| UpdateError::BadState {
                what: "generation record",
                path: stores.history.path(&name, journal.to_generation),
                message: "missing".to_owned(),
            })?,
    };
    record.container_id = details.id.clone();
    stores.records.write(&record)?;
    stores.history.write(&record)?;
    stores.journals.record(journal, JournalStep::Recorded)?;
    failpoint::hit("update-recorded").await?;
    Ok(())
}

/// Undoes a transaction that had not given the new container the active name: an update's new
/// container, build container and generation image are removed; a rollback's target is stopped
/// and named for its generation again; the old container gets its name back and runs if it ran.
/// The journal is cleared once everything is back.
async fn revert<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    journal: &Journal,
) -> Result<(), UpdateError> {
    let name = journal.name.as_str();
    let active_name = naming::container_name(name);
    if let Some(new) = find_generation(engine, name, journal.to_generation).await? {
        if journal.operation.builds_next() {
            remove_container(engine, name, &new.id).await?;
        } else {
            // A rollback's target was a kept generation: it goes back to being one.
            let timeout = Duration::from_secs(u64::from(STOP_TIMEOUT_SECS));
            engine
                .stop_container(&new.id, timeout)
                .await
                .map_err(|error| UpdateError::engine(name, "stop the container of", error))?;
            let kept_name = beside_name(name, journal.to_generation);
            if new.name != kept_name {
                engine
                    .rename_container(&new.id, &kept_name)
                    .await
                    .map_err(|error| UpdateError::engine(name, "rename the container of", error))?;
            }
        }
    }
    if journal.operation.builds_next() {
        remove_stale_builds(engine, name).await?;
        let images = engine
            .list_images(&managed_filter(name))
            .await
            .map_err(|error| UpdateError::engine(name, "list the images of", error))?;
        for image in images
            .iter()
            .filter(|image| generation_of(&image.labels) == journal.to_generation)
        {
            remove_image(engine, name, &image.id).await?;
        }
        if let Some(pulled) = &journal.pulled_image {
            // Another generation may be built on it by now; then it stays.
            if let Err(error) = engine.remove_image(pulled, false).await
                && !error.is_not_found()
            {
                tracing::debug!(image = %pulled, %error, "the pulled image stays");
            }
        }
    }
    if let Some(old) = find_generation(engine, name, journal.from_generation).await? {
        if old.name != active_name {
            engine
                .rename_container(&old.id, &active_name)
                .await
                .map_err(|error| {
                    UpdateError::engine(name, "give the old container back its name for", error)
                })?;
        }
        if journal.from_was_running {
            crate::lifecycle::start(engine, name).await?;
        }
    }
    stores.journals.clear(name)
}

/// Finishes or undoes the interrupted transaction of the locked container, if there is one (see
/// the module documentation). Every writer calls this first.
pub async fn recover<E: Engine>(
    engine: &E,
    lock: &ContainerLock,
    stores: &UpdateStores,
) -> Result<Option<Recovery>, UpdateError> {
    let name = lock.name();
    let Some(mut journal) = stores.journals.read(name)? else {
        return Ok(None);
    };
    let interrupted_after = journal.last_step();
    let action = if journal.reached(JournalStep::RenamedNew) {
        complete(engine, stores, &mut journal).await?;
        if journal.operation.builds_next() {
            // Pruning failures are not the interrupted update's: they wait for the next one.
            prune(engine, stores, name, journal.keep_previous).await;
        }
        stores.journals.clear(name)?;
        RecoveryAction::Completed
    } else {
        revert(engine, stores, &journal).await?;
        RecoveryAction::Reverted
    };
    let generation = match action {
        RecoveryAction::Completed => journal.to_generation,
        RecoveryAction::Reverted => journal.from_generation,
    };
    Ok(Some(Recovery {
        name: name.to_owned(),
        operation: journal.operation,
        interrupted_after,
        action,
        generation,
    }))
}

/// For commands that do not otherwise take the lock (readers, run): when definition `name` has a
/// journal and nobody holds its lock, the transaction was interrupted: take the lock and recover
/// it. When a writer holds the lock, its transaction is in progress and nothing is done. Costs one
/// `stat` when there is no journal.
pub async fn recover_if_interrupted<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    name: &str,
) -> Result<Option<Recovery>, UpdateError> {
    if !stores.journals.exists(name) {
        return Ok(None);
    }
    let lock = match ContainerLock::acquire(
        &stores.state_dir,
        name,
        "recover",
        super::lock::LockWait::FailIfBusy,
    ) {
        Ok(lock) => lock,
        Err(UpdateError::Busy { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    recover(engine, &lock, stores).await
}

/// Returns the container of `lock.name()` to another kept generation (see [`RollbackTarget`]),
/// without any network. The caller holds its lock. An interrupted earlier transaction is
/// recovered first.
pub async fn rollback<E: Engine>(
    engine: &E,
    lock: &ContainerLock,
    stores: &UpdateStores,
    target: RollbackTarget,
) -> Result<RollbackOutcome, UpdateError> {
    let name = lock.name().to_owned();
    recover(engine, lock, stores).await?;
    let containers = list_managed(engine, &name).await?;
    let active = active_container(&name, &containers)
        .cloned()
        .ok_or_else(|| LifecycleError::NotInstalled { name: name.clone() })?;
    let record = stores
        .records
        .read(&name)?
        .ok_or_else(|| LifecycleError::NotInstalled { name: name.clone() })?;
    let active_generation = generation_of(&active.labels);
    let kept = kept_generations(&containers, &active);
    let generation = match target {
        RollbackTarget::Previous => kept
            .iter()
            .copied()
            .filter(|&generation| generation < active_generation)
            .max()
            .ok_or_else(|| UpdateError::NothingToRollBack {
                name: name.clone(),
                active: active_generation,
                kept: kept.clone(),
            })?,
        RollbackTarget::Generation(generation) if generation == active_generation => {
            return Ok(RollbackOutcome::AlreadyActive {
                current: GenerationRef::of(&record),
            });
        }
        RollbackTarget::Generation(generation) if kept.contains(&generation) => generation,
        RollbackTarget::Generation(generation) => {
            return Err(UpdateError::GenerationNotKept {
                name: name.clone(),
                generation,
                kept,
            });
        }
    };
    let to_record =
        stores
            .history
            .read(&name, generation)?
            .ok_or_else(|| UpdateError::BadState {
                what: "generation record",
                path: stores.history.path(&name, generation),
                message: "missing: this generation cannot be restored".to_owned(),
            })?;
    stores.history.write(&record)?;
    let mut journal = Journal {
        schema_version: JOURNAL_SCHEMA_VERSION,
        operation: Operation::Rollback,
        name: name.clone(),
        pid: std::process::id(),
        started_at: timestamp::rfc3339(timestamp::now_unix()),
        from_generation: active_generation,
        from_container: active.id.clone(),
        from_was_running: active.state == STATE_RUNNING,
        to_generation: generation,
        to_record: Some(to_record.clone()),
        keep_previous: 0,
        pulled_image: None,
        steps: vec![JournalStep::Begun],
    };
    stores.journals.write(&journal)?;
    swap(engine, stores, &mut journal).await?;
    stores.journals.clear(&name)?;
    Ok(RollbackOutcome::RolledBack {
        from: GenerationRef::of(&record),
        to: GenerationRef::of(&to_record),
    })
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

/// What pruning removed, and what it could not.
#[derive(Debug, Default)]
struct Pruned {
    generations: Vec<u64>,
    failures: Vec<String>,
}

/// Removes the containers, generation images and records of `name`'s generations beyond the
/// `keep_previous` newest ones that do not run. Failures are collected, never fatal.
async fn prune<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    name: &str,
    keep_previous: usize,
) -> Pruned {
    let mut pruned = Pruned::default();
    let (containers, images) = match (
        engine.list_containers(&managed_filter(name)).await,
        engine.list_images(&managed_filter(name)).await,
    ) {
        (Ok(containers), Ok(images)) => (containers, images),
        (Err(error), _) | (_, Err(error)) => {
            pruned.failures.push(format!("listing: {error}"));
            return pruned;
        }
    };
    let Some(active) = active_container(name, &containers) else {
        return pruned;
    };
    let active_generation = generation_of(&active.labels);
    let mut kept = kept_generations(&containers, active);
    kept.sort_unstable_by(|a, b| b.cmp(a));
    let keep: BTreeSet<u64> = kept
        .iter()
        .copied()
        .take(keep_previous)
        .chain([active_generation])
        .collect();
    let mut removed = BTreeSet::new();
    for container in &containers {
        let generation = generation_of(&container.labels);
        if keep.contains(&generation) {
            continue;
        }
        match remove_container(engine, name, &container.id).await {
            Ok(()) => {
                removed.insert(generation);
            }
            Err(error) => pruned
                .failures
                .push(format!("container {}: {error}", container.name)),
        }
    }
    for image in &images {
        let generation = generation_of(&image.labels);
        if keep.contains(&generation) {
            continue;
        }
        match remove_image(engine, name, &image.id).await {
            Ok(()) => {
                removed.insert(generation);
            }
            Err(error) => pruned.failures.push(format!(
                "image {}: {error}",
                image.names.first().unwrap_or(&image.id)
            )),
        }
    }
    for &generation in &removed {
        if let Err(error) = stores.history.remove(name, generation) {
            pruned.failures.push(error.to_string());
        }
    }
    pruned.generations = removed.into_iter().collect();
    pruned
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

/// A lock for another container is a programming error of the caller.
fn ensure_lock_for(lock: &ContainerLock, name: &str) {
    debug_assert_eq!(lock.name(), name, "the lock held is not this container's");
}
