//! The swap both an update and a rollback end with: the one short step that changes what runs.
//! Each of its renames is journaled, so a failure (or a crash) is finished from the step it
//! reached: before the new container has the active name it reverts, from then on it completes
//! (both in `recovery`).

use super::recovery::{complete, revert};
use super::{UpdateStores, failed, find_generation, stop_timeout};
use crate::engine::Engine;
use crate::lifecycle::{LifecycleError, beside_name};
use crate::naming;
use crate::update::check::error_chain;
use crate::update::error::{UpdateError, UpdateStep};
use crate::update::failpoint;
use crate::update::journal::{Journal, JournalStep};

/// Puts generation `journal.to_generation` in place of `journal.from_generation`: stop the old
/// container, rename it to its generation's name, give the new one the active name, make sure it
/// runs, record it. A failure before the rename of the new container reverts; after it, completes.
pub(super) async fn swap<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    journal: &mut Journal,
) -> Result<(), UpdateError> {
    let name = journal.name.clone();
    let step = async {
        let old = find_generation(engine, &name, journal.from_generation)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled { name: name.clone() })?;
        engine
            .stop_container(&old.id, stop_timeout())
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
            Err(revert_error) => vec![error_chain(&revert_error)],
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
