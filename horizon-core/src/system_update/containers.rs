//! The container layer of a system update, on the container use cases ([`crate::Horizon`]): the
//! check of every installed container (registry digest and definition drift), their update —
//! the same call `horizon-container update --all` makes, each container under its own lock, its
//! declared exports written after — and "return container X to generation N" for a system
//! rollback. Each container is independent: one that fails (or is busy with a
//! `horizon-container update`) carries its error and does not stop the others.

use serde::Serialize;

use super::Layer;
use super::generations::ContainerRecord;
use crate::engine::Engine;
use crate::update::{ContainerCheck, RollbackOutcome, RollbackTarget, error_chain};
use crate::usecase::{
    Call, ContainerUpdate, Error, ErrorKind, Horizon, RollbackOptions, UpdateOptions,
    UpdateSelection,
};

/// The operation horizon-update names in each container's lock (what a busy
/// `horizon-container update` reports).
pub const LOCK_OPERATION: &str = "horizon-update";

/// The per-container results of a layer (a struct, so that the layer's JSON can carry its
/// `state` beside them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerResults<T> {
    /// One entry per container, in name order.
    pub results: Vec<T>,
}

/// One container's return to a recorded generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerRollback {
    /// The container's definition name.
    pub name: String,
    /// The generation the system generation recorded.
    pub generation: u64,
    /// What the rollback did, when it succeeded.
    #[serde(flatten)]
    pub outcome: Option<RollbackOutcome>,
    /// Why it failed (the error and its causes on one line), when it did.
    pub error: Option<String>,
}

/// Checks every installed container (concurrently, without the engine).
pub async fn check<E: Engine>(horizon: &Horizon<E>) -> Layer<ContainerResults<ContainerCheck>> {
    match horizon.check(&[], None).await {
        Ok(checks) if checks.is_empty() => no_containers(),
        Ok(checks) => Layer::Done(ContainerResults { results: checks }),
        Err(error) => failed(&error),
    }
}

/// Updates every installed container, one after the other, each under its lock. Only a
/// cancelled call is an error: everything else is the layer's result.
pub async fn update<E: Engine>(
    horizon: &Horizon<E>,
    call: Call<'_>,
) -> Result<Layer<ContainerResults<ContainerUpdate>>, Error> {
    let options = UpdateOptions {
        lock_operation: Some(LOCK_OPERATION),
        ..UpdateOptions::default()
    };
    match horizon.update(call, UpdateSelection::All, &options).await {
        Ok(report) if report.containers.is_empty() => Ok(no_containers()),
        Ok(report) => Ok(Layer::Done(ContainerResults {
            results: report.containers,
        })),
        Err(error) if error.kind() == ErrorKind::Interrupted => Err(error),
        Err(error) => Ok(failed(&error)),
    }
}

/// Returns every container a system generation recorded to the generation it recorded. A
/// container installed since is left alone.
pub async fn rollback<E: Engine>(
    horizon: &Horizon<E>,
    call: Call<'_>,
    recorded: &[ContainerRecord],
) -> Result<Layer<ContainerResults<ContainerRollback>>, Error> {
    if recorded.is_empty() {
        return Ok(Layer::Skipped {
            reason: "the generation recorded no container".to_owned(),
        });
    }
    let mut rollbacks = Vec::new();
    for container in recorded {
        let result = horizon
            .rollback(
                call,
                &container.name,
                RollbackTarget::Generation(container.generation),
                RollbackOptions {
                    wait: false,
                    lock_operation: Some(LOCK_OPERATION),
                },
            )
            .await;
        let (outcome, error) = match result {
            Ok(report) => (Some(report.outcome), None),
            Err(error) if error.kind() == ErrorKind::Interrupted => return Err(error),
            Err(error) if error.kind() == ErrorKind::NoService => return Ok(failed(&error)),
            Err(error) => (None, Some(error_chain(&error))),
        };
        rollbacks.push(ContainerRollback {
            name: container.name.clone(),
            generation: container.generation,
            outcome,
            error,
        });
    }
    Ok(Layer::Done(ContainerResults { results: rollbacks }))
}

/// The layer failed as a whole (no service answered, the records cannot be read).
fn failed<T>(error: &Error) -> Layer<T> {
    Layer::Failed {
        error: error_chain(error),
        hints: error.hints(),
    }
}

fn no_containers<T>() -> Layer<T> {
    Layer::Skipped {
        reason: "no container is installed".to_owned(),
    }
}
