//! Finding a definition's managed container (by label), and starting and stopping it. A persistent
//! container is simply started; a non-persistent one that has run before is recreated fresh from
//! its generation image, using the create spec recorded in its label, and verified again. Either
//! way the mounts a user file chose are checked before and after the start (`confine.rs`).

use std::time::Duration;

use serde::Serialize;

use crate::engine::{
    ContainerDetails, ContainerSummary, Engine, LabelFilter, RunState, StateChange,
};
use crate::labels;

use super::create::{create_verified, recorded_spec};
use super::error::LifecycleError;

/// What [`start`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StartOutcome {
    /// It was running already.
    AlreadyRunning,
    /// It was started.
    Started,
    /// It was non-persistent: recreated fresh from its generation image, then started.
    Recreated,
}

/// What [`stop`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StopOutcome {
    /// It was stopped.
    Stopped,
    /// It was not running.
    AlreadyStopped,
}

/// The label filter of definition `name`'s managed containers.
pub(crate) fn managed_filter(name: &str) -> LabelFilter {
    LabelFilter::managed().with(labels::DEFINITION, Some(name))
}

/// The generation label of a container or image (0 when missing or unreadable).
pub(crate) fn generation_of(object_labels: &std::collections::BTreeMap<String, String>) -> u64 {
    object_labels
        .get(labels::GENERATION)
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Definition `name`'s active container among `containers` (its managed containers, found by
/// label): the one named `horizonos-NAME`. A definition also keeps the containers of previous
/// generations for rollback (named `horizonos-NAME-GEN`), and the label says whose they are, the
/// name says which one is in use. Only in the instant of a swap does no container carry the name;
/// the highest generation is then the one being put in place.
pub(crate) fn active_container<'a>(
    name: &str,
    containers: impl IntoIterator<Item = &'a ContainerSummary>,
) -> Option<&'a ContainerSummary> {
    let active_name = crate::naming::container_name(name);
    let containers: Vec<&ContainerSummary> = containers.into_iter().collect();
    containers
        .iter()
        .find(|container| container.name == active_name)
        .or_else(|| {
            containers
                .iter()
                .max_by_key(|container| generation_of(&container.labels))
        })
        .copied()
}

/// Definition `name`'s managed container, found by label: the active one, named
/// `horizonos-NAME` (previous generations kept for rollback carry other names).
pub async fn find_managed<E: Engine>(
    engine: &E,
    name: &str,
) -> Result<Option<ContainerSummary>, LifecycleError> {
    let containers = engine
        .list_containers(&managed_filter(name))
        .await
        .map_err(|error| LifecycleError::engine(name, "find the container of", error))?;
    Ok(active_container(name, &containers).cloned())
}

/// Makes sure the managed container of definition `name` runs: starts it when stopped, or, for a
/// non-persistent definition, recreates it fresh from its generation image first.
/// [`LifecycleError::NotInstalled`] when there is no managed container for it.
pub async fn ensure_running<E: Engine>(
    engine: &E,
    name: &str,
) -> Result<ContainerDetails, LifecycleError> {
    start(engine, name).await.map(|(_, details)| details)
}

/// [`ensure_running`], also saying what it did.
pub async fn start<E: Engine>(
    engine: &E,
    name: &str,
) -> Result<(StartOutcome, ContainerDetails), LifecycleError> {
    let container =
        find_managed(engine, name)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled {
                name: name.to_owned(),
            })?;
    let persistent = container.labels.get(labels::PERSISTENT).map(String::as_str) != Some("false");
    let outcome = if container.state == RunState::Running {
        StartOutcome::AlreadyRunning
    } else if persistent || container.state == RunState::Created {
        // Created and never started: still fresh.
        StartOutcome::Started
    } else {
        recreate(engine, name, &container).await?;
        StartOutcome::Recreated
    };
    let target = if outcome == StartOutcome::Recreated {
        crate::naming::container_name(name)
    } else {
        container.id.clone()
    };
    // The agent's socket directory lives on a tmpfs: after a reboot it must be made again before
    // Podman can bind it. A container without a recorded spec predates the agent: nothing to do.
    if outcome != StartOutcome::AlreadyRunning
        && let Ok(spec) = recorded_spec(name, &container.name, &container.labels)
    {
        super::agent::prepare_agent_dir(&spec.mounts, &spec.labels).map_err(|source| {
            LifecycleError::AgentDir {
                name: name.to_owned(),
                dir: super::agent::agent_instance_dir(&spec.mounts).unwrap_or_default(),
                source,
            }
        })?;
    }
    // A running container's mounts were checked when it started; a start checks them again.
    let change = if outcome == StartOutcome::AlreadyRunning {
        engine
            .start_container(&target)
            .await
            .map_err(|error| LifecycleError::engine(name, "start", error))?
    } else {
        let before = engine
            .inspect_container(&target)
            .await
            .map_err(|error| LifecycleError::engine(name, "inspect", error))?;
        super::confine::start_checked(engine, name, &target, &before).await?
    };
    let outcome = match change {
        StateChange::AlreadyInState if outcome == StartOutcome::Started => {
            StartOutcome::AlreadyRunning
        }
        _ => outcome,
    };
    let details = engine
        .inspect_container(&target)
        .await
        .map_err(|error| LifecycleError::engine(name, "inspect", error))?;
    if details.name.trim_start_matches('/') == crate::naming::container_name(name) {
        activate(name, &details.mounts);
    }
    Ok((outcome, details))
}

/// Points `name`'s wrappers at the agent of the container with `mounts`. A failure is not fatal:
/// the wrappers then take the API path, which runs this again.
pub(crate) fn activate(name: &str, mounts: &[crate::engine::BindMount]) {
    if let Err(error) = super::agent::activate_agent(mounts) {
        tracing::warn!(%error, definition = name, "cannot mark the container's agent active");
    }
}

/// Replaces a stopped non-persistent container by a fresh one made from the same spec.
async fn recreate<E: Engine>(
    engine: &E,
    name: &str,
    old: &ContainerSummary,
) -> Result<(), LifecycleError> {
    let spec = recorded_spec(name, &old.name, &old.labels)?;
    // Refused mounts refuse before the used container is removed, so it stays to start again
    // once the source is put back (create checks them again, just before the create).
    super::confine::pin(name, &spec)?;
    engine
        .remove_container(&old.id, false)
        .await
        .map_err(|error| LifecycleError::engine(name, "remove the used container of", error))?;
    create_verified(engine, name, &spec, &spec.name)
        .await
        .map(|_| ())
        .map_err(|(_, error, _)| error)
}

/// Stops definition `name`'s managed container (Podman kills it after the stop timeout recorded
/// at create).
pub async fn stop<E: Engine>(engine: &E, name: &str) -> Result<StopOutcome, LifecycleError> {
    let container =
        find_managed(engine, name)
            .await?
            .ok_or_else(|| LifecycleError::NotInstalled {
                name: name.to_owned(),
            })?;
    let timeout = Duration::from_secs(u64::from(super::spec::STOP_TIMEOUT_SECS));
    match engine.stop_container(&container.id, timeout).await {
        Ok(StateChange::Changed) => Ok(StopOutcome::Stopped),
        Ok(StateChange::AlreadyInState) => Ok(StopOutcome::AlreadyStopped),
        Err(error) => Err(LifecycleError::engine(name, "stop", error)),
    }
}
