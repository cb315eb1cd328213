//! Finishing a transaction that did not finish by itself, one way or the other: [`complete`] once
//! the new container has the active name (an install: once it was verified), [`revert`] before. A failed swap calls them at once;
//! [`recover`], the first thing every writer does, calls them for a transaction a crash or a
//! signal interrupted, as its journal describes it. Both find objects by their generation label
//! and skip what is done already, so they can themselves be interrupted and run again.

use serde::Serialize;

use super::prune::prune;
use super::{UpdateStores, find_generation, remove_container, remove_image, stop_timeout};
use crate::engine::Engine;
use crate::lifecycle::{beside_name, generation_of, managed_filter, remove_stale_builds};
use crate::naming;
use crate::update::error::UpdateError;
use crate::update::failpoint;
use crate::update::journal::{Journal, JournalStep, Operation};
use crate::update::lock::{ContainerLock, LockWait};

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
    /// The generation that runs now (0 after a reverted install: none does).
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
        if self.action == RecoveryAction::Reverted && !self.operation.replaces() {
            // An install had nothing before it: its build container, container and generation
            // image went, and no record names it.
            return write!(
                f,
                "an interrupted {operation} of {} was {done}; nothing of it is left",
                self.name
            );
        }
        write!(
            f,
            "an interrupted {operation} of {} was {done}; generation {} runs",
            self.name, self.generation
        )
    }
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
    // A verified install whose container is gone (removed by hand) has nothing to complete.
    let completes = journal.completes_on_recovery()
        && (journal.operation.replaces()
            || find_generation(engine, name, journal.to_generation)
                .await?
                .is_some());
    let action = if completes {
        complete(engine, stores, &mut journal).await?;
        if journal.operation.builds_next() && journal.operation.replaces() {
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
    let lock =
        match ContainerLock::acquire(&stores.state_dir, name, "recover", LockWait::FailIfBusy) {
            Ok(lock) => lock,
            Err(UpdateError::Busy { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
    recover(engine, &lock, stores).await
}

/// Finishes a transaction whose new container has the active name: the old one stopped and named
/// for its generation, the new one running, the record written, the user definition changed as
/// the journal says (if it says so), the journal's steps recorded.
pub(super) async fn complete<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    journal: &mut Journal,
) -> Result<(), UpdateError> {
    let name = journal.name.clone();
    let active_name = naming::container_name(&name);
    let replaced = if journal.operation.replaces() {
        find_generation(engine, &name, journal.from_generation).await?
    } else {
        None
    };
    if let Some(old) = replaced {
        if old.state == crate::engine::RunState::Running {
            engine
                .stop_container(&old.id, stop_timeout())
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
                name: name.clone(),
                what: "generation record",
                path: stores.history.path(&name, journal.to_generation),
                message: "missing".to_owned(),
            })?,
    };
    record.container_id = details.id.clone();
    stores.records.write(&record)?;
    stores.history.write(&record)?;
    if let Some(change) = &journal.definition_change {
        // The file as it was is what the generation that ran before was built from.
        stores.history.write_snapshot(
            &name,
            journal.from_generation,
            &change.path,
            change.before.as_deref(),
        )?;
        change.apply()?;
    }
    stores.journals.record(journal, JournalStep::Recorded)?;
    failpoint::hit("update-recorded").await?;
    Ok(())
}

/// Undoes a transaction that had not given the new container the active name (an install: that
/// had not verified it): an install's or an update's new container, build container and
/// generation image are removed; a rollback's target is stopped
/// and named for its generation again; the old container gets its name back and runs if it ran.
/// The journal is cleared once everything is back.
pub(super) async fn revert<E: Engine>(
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
            engine
                .stop_container(&new.id, stop_timeout())
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
    if !journal.operation.replaces() {
        // An install that wrote its record before the crash: the record goes with its container.
        if let Ok(Some(record)) = stores.records.read(name)
            && record.generation == journal.to_generation
        {
            stores.records.remove(name)?;
        }
        return stores.journals.clear(name);
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
