//! The container side of a system update, on the updates library ([`crate::update`]): the check
//! of every installed container (registry digest and definition drift), the verified A/B update
//! of each under its own lock, and "return container X to generation N" for a system rollback.
//! Each container is independent: one that fails (or is busy with a `horizon-container update`)
//! carries its error and does not stop the others.

use serde::Serialize;

use crate::definition::Catalog;
use crate::engine::Engine;
use crate::lifecycle::DesktopHost;
use crate::update::{
    CheckRequest, ContainerCheck, ContainerLock, LockWait, RegistryClient, RollbackOutcome,
    RollbackTarget, UpdateOutcome, UpdateProgress, UpdateRequest, UpdateStores, error_chain,
};

use super::Layer;
use super::generations::ContainerRecord;

/// The operation horizon-update names in each container's lock (what a busy
/// `horizon-container update` reports).
pub const LOCK_OPERATION: &str = "horizon-update";

/// What the container side needs (the binary gathers it; `engine` is an error text when Podman
/// could not be reached — checks do not need it, updates and rollbacks do).
#[derive(Debug)]
pub struct ContainersContext<'a, E: Engine> {
    pub engine: Result<&'a E, String>,
    /// The definitions now (an update builds what the definition says today).
    pub catalog: &'a Catalog,
    pub registry: &'a RegistryClient,
    pub desktop: &'a DesktopHost,
    /// Previous generations each container keeps for rollback.
    pub keep_previous: usize,
    /// The in-container agent the next containers get (`lifecycle::AgentHost::locate`).
    pub agent: Option<&'a crate::lifecycle::AgentHost>,
}

impl<'a, E: Engine> ContainersContext<'a, E> {
    /// The engine, or the layer's failure saying why there is none.
    fn engine<T>(&self) -> Result<&'a E, Layer<T>> {
        self.engine
            .as_ref()
            .copied()
            .map_err(|error| Layer::Failed {
                error: error.clone(),
            })
    }
}

/// The per-container results of a layer (a struct, so that the layer's JSON can carry its
/// `state` beside them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerResults<T> {
    /// One entry per container, in name order.
    pub results: Vec<T>,
}

/// One container's update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerUpdate {
    pub name: String,
    /// What the update did (absent when it failed).
    #[serde(flatten)]
    pub outcome: Option<UpdateOutcome>,
    /// Why it failed, when it did (the running container is then untouched).
    pub error: Option<String>,
}

/// One container's return to a recorded generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerRollback {
    pub name: String,
    /// The generation the system generation recorded.
    pub generation: u64,
    #[serde(flatten)]
    pub outcome: Option<RollbackOutcome>,
    pub error: Option<String>,
}

/// Checks every installed container (concurrently, without the engine).
pub async fn check<E: Engine>(
    context: &ContainersContext<'_, E>,
    stores: &UpdateStores,
) -> Layer<ContainerResults<ContainerCheck>> {
    let request = CheckRequest {
        catalog: context.catalog,
        state: &stores.records,
        names: &[],
        registry: context.registry,
    };
    match crate::update::check(request).await {
        Ok(checks) if checks.is_empty() => no_containers(),
        Ok(checks) => Layer::Done(ContainerResults { results: checks }),
        Err(error) => Layer::Failed {
            error: error_chain(&error),
        },
    }
}

/// Updates every installed container, one after the other, each under its lock.
pub async fn update<E: Engine>(
    context: &ContainersContext<'_, E>,
    stores: &UpdateStores,
    on_progress: &(dyn Fn(&str, &UpdateProgress<'_>) + Send + Sync),
) -> Layer<ContainerResults<ContainerUpdate>> {
    let records = match stores.records.list() {
        Ok(records) if records.is_empty() => return no_containers(),
        Ok(records) => records,
        Err(error) => {
            return Layer::Failed {
                error: error_chain(&error),
            };
        }
    };
    let engine = match context.engine() {
        Ok(engine) => engine,
        Err(failed) => return failed,
    };
    let mut updates = Vec::new();
    for record in records {
        let name = record.name;
        let result = async {
            let resolved = context.catalog.get(&name).ok_or_else(|| {
                format!("there is no container definition named `{name}` any more")
            })?;
            let lock = ContainerLock::acquire(
                &stores.state_dir,
                &name,
                LOCK_OPERATION,
                LockWait::FailIfBusy,
            )
            .map_err(|error| error_chain(&error))?;
            let request = UpdateRequest {
                resolved,
                stores,
                desktop: context.desktop,
                registry: context.registry,
                keep_previous: context.keep_previous,
                agent: context.agent,
                rebuild: false,
            };
            let progress = |event: &UpdateProgress<'_>| on_progress(&name, event);
            crate::update::update(engine, &lock, request, &progress)
                .await
                .map_err(|error| error_chain(&error))
        }
        .await;
        updates.push(match result {
            Ok(outcome) => ContainerUpdate {
                name,
                outcome: Some(outcome),
                error: None,
            },
            Err(error) => ContainerUpdate {
                name,
                outcome: None,
                error: Some(error),
            },
        });
    }
    Layer::Done(ContainerResults { results: updates })
}

/// Returns every container a system generation recorded to the generation it recorded. A
/// container installed since is left alone.
pub async fn rollback<E: Engine>(
    context: &ContainersContext<'_, E>,
    stores: &UpdateStores,
    recorded: &[ContainerRecord],
) -> Layer<ContainerResults<ContainerRollback>> {
    if recorded.is_empty() {
        return Layer::Skipped {
            reason: "the generation recorded no container".to_owned(),
        };
    }
    let engine = match context.engine() {
        Ok(engine) => engine,
        Err(failed) => return failed,
    };
    let mut rollbacks = Vec::new();
    for container in recorded {
        let result = async {
            let lock = ContainerLock::acquire(
                &stores.state_dir,
                &container.name,
                LOCK_OPERATION,
                LockWait::FailIfBusy,
            )?;
            crate::update::rollback(
                engine,
                &lock,
                stores,
                RollbackTarget::Generation(container.generation),
            )
            .await
        }
        .await;
        let (outcome, error) = match result {
            Ok(outcome) => (Some(outcome), None),
            Err(error) => (None, Some(error_chain(&error))),
        };
        rollbacks.push(ContainerRollback {
            name: container.name.clone(),
            generation: container.generation,
            outcome,
            error,
        });
    }
    Layer::Done(ContainerResults { results: rollbacks })
}

fn no_containers<T>() -> Layer<T> {
    Layer::Skipped {
        reason: "no container is installed".to_owned(),
    }
}
