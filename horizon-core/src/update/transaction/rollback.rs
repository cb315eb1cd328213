//! The rollback transaction: which kept generation to return to ([`RollbackTarget`]), and the
//! swap to it, from its kept container and generation record, without any network. When the
//! target generation has a definition snapshot (a later transaction changed the user file it was
//! built from: a toolchain setup), the rollback puts that file back as it completes, so the
//! definition describes what runs again: no drift, and what the setup added is gone from it.

use serde::Serialize;

use super::recovery::recover;
use super::swap::swap;
use super::{GenerationRef, Installed, UpdateStores, begin, begun, installed, kept_generations};
use crate::engine::Engine;
use crate::lifecycle::generation_of;
use crate::update::error::UpdateError;
use crate::update::journal::{DefinitionChange, Journal, Operation};
use crate::update::lock::ContainerLock;

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
    let Installed {
        containers,
        active,
        record,
    } = installed(engine, stores, &name).await?;
    let active_generation = generation_of(&active.labels);
    let kept = kept_generations(&containers, &active);
    let Some(generation) = target_generation(&name, target, active_generation, kept)? else {
        return Ok(RollbackOutcome::AlreadyActive {
            current: GenerationRef::of(&record),
        });
    };
    let to_record =
        stores
            .history
            .read(&name, generation)?
            .ok_or_else(|| UpdateError::BadState {
                name: name.clone(),
                what: "generation record",
                path: stores.history.path(&name, generation),
                message: "missing: this generation cannot be restored".to_owned(),
            })?;
    let definition_change = restored_definition(stores, &name, generation)?;
    let mut journal = Journal {
        to_record: Some(to_record.clone()),
        definition_change,
        ..begun(
            Operation::Rollback,
            &name,
            active_generation,
            &active,
            generation,
        )
    };
    begin(stores, &record, &journal)?;
    swap(engine, stores, &mut journal).await?;
    stores.journals.clear(&name)?;
    Ok(RollbackOutcome::RolledBack {
        from: GenerationRef::of(&record),
        to: GenerationRef::of(&to_record),
    })
}

/// The change that puts back the user file generation `generation` was built from, when it has a
/// definition snapshot and the file differs from it now.
fn restored_definition(
    stores: &UpdateStores,
    name: &str,
    generation: u64,
) -> Result<Option<DefinitionChange>, UpdateError> {
    let Some(snapshot) = stores.history.read_snapshot(name, generation)? else {
        return Ok(None);
    };
    let before = match std::fs::read(&snapshot.path) {
        // A definition file is UTF-8 or refused by the reader; a lossy copy keeps what is there.
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(UpdateError::State {
                action: "read the user definition",
                path: snapshot.path,
                source,
            });
        }
    };
    Ok((before != snapshot.content).then_some(DefinitionChange {
        path: snapshot.path,
        before,
        after: snapshot.content,
    }))
}

/// The kept generation `target` names, or `None` when it is the running one.
fn target_generation(
    name: &str,
    target: RollbackTarget,
    active_generation: u64,
    kept: Vec<u64>,
) -> Result<Option<u64>, UpdateError> {
    match target {
        RollbackTarget::Previous => kept
            .iter()
            .copied()
            .filter(|&generation| generation < active_generation)
            .max()
            .map(Some)
            .ok_or_else(|| UpdateError::NothingToRollBack {
                name: name.to_owned(),
                active: active_generation,
                kept: kept.clone(),
            }),
        RollbackTarget::Generation(generation) if generation == active_generation => Ok(None),
        RollbackTarget::Generation(generation) if kept.contains(&generation) => {
            Ok(Some(generation))
        }
        RollbackTarget::Generation(generation) => Err(UpdateError::GenerationNotKept {
            name: name.to_owned(),
            generation,
            kept,
        }),
    }
}
