//! What is installed: the state of every definition's managed container from ONE list call (for
//! `list`), and one container in detail (for `status`): state, images, generation, times, exports,
//! mounts, security and drift (the definition's hash differs from the hash it was installed with).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::definition::{Catalog, ResolvedDefinition};
use crate::engine::{
    AppliedSecurity, BindMount, ContainerState, ContainerSummary, Engine, LabelFilter, RunState,
    Timestamp,
};
use crate::labels;

use super::error::LifecycleError;
use super::start::{active_container, generation_of, managed_filter};
use super::state::{InstallRecord, StateStore};

/// Whether a definition's container exists and runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum InstalledState {
    /// Its container runs.
    Running,
    /// Its container exists and does not run.
    Stopped,
    /// It has no container.
    NotInstalled,
}

impl InstalledState {
    /// The word `list` and `status` show.
    pub fn as_str(self) -> &'static str {
        match self {
            InstalledState::Running => "running",
            InstalledState::Stopped => "stopped",
            InstalledState::NotInstalled => "not installed",
        }
    }
}

/// One definition's installed state, as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StateSummary {
    /// Running, stopped or not installed.
    pub state: InstalledState,
    /// The definition changed since it was installed.
    pub drifted: bool,
    /// The installed generation.
    pub generation: Option<u64>,
    /// The managed container's name.
    pub container: Option<String>,
}

/// The installed state of each definition of a catalog, and the managed containers no definition
/// owns any more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstalledStates {
    /// By definition name; every definition of the catalog has an entry.
    pub by_definition: BTreeMap<String, StateSummary>,
    /// Managed containers whose definition is gone (`cleanup` removes them once stopped).
    pub orphans: Vec<ContainerSummary>,
}

/// The state of a definition whose current hash is `current_hash`, given its managed container.
pub fn summarize(container: Option<&ContainerSummary>, current_hash: &str) -> StateSummary {
    match container {
        None => StateSummary {
            state: InstalledState::NotInstalled,
            drifted: false,
            generation: None,
            container: None,
        },
        Some(container) => StateSummary {
            state: if container.state == RunState::Running {
                InstalledState::Running
            } else {
                InstalledState::Stopped
            },
            drifted: container
                .labels
                .get(labels::DEFINITION_HASH)
                .map(String::as_str)
                != Some(current_hash),
            generation: Some(generation_of(&container.labels)),
            container: Some(container.name.clone()),
        },
    }
}

/// Matches `containers` (horizon's managed containers) with `catalog`'s definitions. When a
/// definition has several containers (previous generations kept for rollback), the active one
/// counts.
pub fn match_states(catalog: &Catalog, containers: &[ContainerSummary]) -> InstalledStates {
    let mut by_name: BTreeMap<&str, Vec<&ContainerSummary>> = BTreeMap::new();
    for container in containers {
        if let Some(definition) = container.labels.get(labels::DEFINITION) {
            by_name
                .entry(definition.as_str())
                .or_default()
                .push(container);
        }
    }
    let newest: BTreeMap<&str, &ContainerSummary> = by_name
        .iter()
        .filter_map(|(name, all)| {
            active_container(name, all.iter().copied()).map(|active| (*name, active))
        })
        .collect();
    let by_definition = catalog
        .definitions
        .iter()
        .map(|resolved| {
            let name = resolved.definition.name.as_str();
            let summary = summarize(
                newest.get(name).copied(),
                &resolved.definition.content_hash(),
            );
            (name.to_owned(), summary)
        })
        .collect();
    let orphans = containers
        .iter()
        .filter(|container| {
            container
                .labels
                .get(labels::DEFINITION)
                .is_some_and(|definition| catalog.get(definition).is_none())
        })
        .cloned()
        .collect();
    InstalledStates {
        by_definition,
        orphans,
    }
}

/// The installed state of every definition of `catalog`, from one list call.
pub async fn installed_states<E: Engine>(
    engine: &E,
    catalog: &Catalog,
) -> Result<InstalledStates, LifecycleError> {
    let containers = engine
        .list_containers(&LabelFilter::managed())
        .await
        .map_err(|error| LifecycleError::engine("*", "list the managed containers", error))?;
    Ok(match_states(catalog, &containers))
}

/// Everything `status` shows about one definition's container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerStatus {
    /// The definition name.
    pub name: String,
    /// Running, stopped or not installed.
    pub state: InstalledState,
    /// Whether a definition of that name exists now.
    pub definition_exists: bool,
    /// The definition changed since install (or no longer exists).
    pub drifted: bool,
    /// The hash the container was installed with.
    pub installed_hash: Option<String>,
    /// The current definition's hash.
    pub current_hash: Option<String>,
    /// The managed container, when installed.
    pub container: Option<ContainerFacts>,
    /// The install record, when one exists.
    pub record: Option<InstallRecord>,
    /// The generations kept beside the active one (previous ones from updates, newer ones after a
    /// rollback), ascending: what `rollback` can return to.
    pub kept_generations: Vec<u64>,
}

/// The inspected facts of a managed container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerFacts {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// The generation it runs.
    pub generation: u64,
    /// The generation image it was created from.
    pub image: String,
    /// That image's id.
    pub image_id: String,
    /// Keeps its writable layer across stop and start.
    pub persistent: bool,
    /// The layer its definition came from at install.
    pub layer: Option<String>,
    /// Creation time.
    pub created: Timestamp,
    /// Run state and times.
    pub run: ContainerState,
    /// Bind mounts as applied (the definition's; horizon's own agent mounts are left out).
    pub mounts: Vec<BindMount>,
    /// Security settings as applied.
    pub security: AppliedSecurity,
    /// It runs horizon's in-container agent (exported binaries and `shell` take the fast path);
    /// containers made without one take the API path.
    pub agent: bool,
}

/// The status of definition `name` (`current` is its definition now, if one exists).
/// [`LifecycleError::NotInstalled`] when there is neither a definition nor a container nor a record.
pub async fn status<E: Engine>(
    engine: &E,
    name: &str,
    current: Option<&ResolvedDefinition>,
    state: &StateStore,
) -> Result<ContainerStatus, LifecycleError> {
    let record = state.read(name)?;
    let all = engine
        .list_containers(&managed_filter(name))
        .await
        .map_err(|error| LifecycleError::engine(name, "find the container of", error))?;
    let found = active_container(name, &all).cloned();
    let mut kept_generations: Vec<u64> = all
        .iter()
        .filter(|container| {
            found
                .as_ref()
                .is_some_and(|active| active.id != container.id)
        })
        .map(|container| generation_of(&container.labels))
        .collect();
    kept_generations.sort_unstable();
    let current_hash = current.map(|resolved| resolved.definition.content_hash());
    let Some(found) = found else {
        if current.is_none() && record.is_none() {
            return Err(LifecycleError::NotInstalled {
                name: name.to_owned(),
            });
        }
        return Ok(ContainerStatus {
            name: name.to_owned(),
            state: InstalledState::NotInstalled,
            definition_exists: current.is_some(),
            drifted: false,
            installed_hash: None,
            current_hash,
            container: None,
            record,
            kept_generations,
        });
    };
    let details = engine
        .inspect_container(&found.id)
        .await
        .map_err(|error| LifecycleError::engine(name, "inspect the container of", error))?;
    let summary = summarize(Some(&found), current_hash.as_deref().unwrap_or_default());
    let label = |key: &str| details.labels.get(key).cloned();
    Ok(ContainerStatus {
        name: name.to_owned(),
        state: summary.state,
        definition_exists: current.is_some(),
        drifted: summary.drifted,
        installed_hash: label(labels::DEFINITION_HASH),
        current_hash,
        container: Some(ContainerFacts {
            name: details.name.clone(),
            id: details.id.clone(),
            generation: generation_of(&details.labels),
            image: details.image_name.clone(),
            image_id: details.image_id.clone(),
            persistent: label(labels::PERSISTENT).as_deref() != Some("false"),
            layer: label(labels::LAYER),
            created: details.created,
            run: details.state.clone(),
            mounts: details
                .mounts
                .iter()
                .filter(|mount| !horizon_agent_protocol::layout::is_agent_mount(&mount.target))
                .cloned()
                .collect(),
            security: details.security.clone(),
            agent: super::agent_instance_dir(&details.mounts).is_some(),
        }),
        record,
        kept_generations,
    })
}
