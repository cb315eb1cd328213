//! `cleanup`: what horizon made and nothing needs any more, plus the spec's `podman image prune`.
//!
//! Removed, in this order: stopped managed containers whose definition is gone; stopped build
//! containers an interrupted install left; generation images that no container uses and no
//! install record of an existing definition names; dangling images (untagged, used by no container
//! — what `podman image prune` removes), except the base images those records name (an image
//! pulled by digest is untagged yet is the parent of its generation images); and the install
//! records of definitions that are gone once they have no container left.
//!
//! Containers horizon does not manage are never removed: the spec's `podman container prune`
//! would also delete other tools' stopped containers (and, with them, their data), which is not
//! horizon's to decide. Everything is planned from one container list and one image list by the
//! pure [`plan_cleanup`], so `--dry-run` shows exactly what a real run removes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::definition::Catalog;
use crate::engine::{ContainerSummary, Engine, ImageSummary, LabelFilter, RunState};
use crate::labels;

use super::error::LifecycleError;
use super::state::{InstallRecord, StateStore};

/// What kind of object a cleanup item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CleanupKind {
    /// A stopped managed container whose definition no longer exists.
    OrphanedContainer,
    /// A stopped build container an interrupted install left.
    BuildContainer,
    /// A generation image no container uses and no install record names.
    GenerationImage,
    /// An untagged image no container uses.
    DanglingImage,
    /// The install record of a definition that is gone and has no container left.
    InstallRecord,
}

impl CleanupKind {
    /// Containers are removed before images (an image in use cannot go).
    fn is_container(self) -> bool {
        matches!(
            self,
            CleanupKind::OrphanedContainer | CleanupKind::BuildContainer
        )
    }
}

/// One object cleanup removes (or, in a dry run, would remove).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CleanupItem {
    /// What it is.
    pub kind: CleanupKind,
    /// Its id.
    pub id: String,
    /// Its name (a container's name, an image's first name, or `<none>`).
    pub name: String,
    /// The definition it belonged to, when known.
    pub definition: Option<String>,
    /// Its size in bytes (images).
    pub size: Option<u64>,
}

/// What cleanup did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Nothing was changed: the items are what a real run would remove.
    pub dry_run: bool,
    /// The items removed (or to remove).
    pub removed: Vec<CleanupItem>,
    /// Items that could not be removed, with why (another process may have started using them).
    pub failed: Vec<CleanupFailure>,
}

/// An item that could not be removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CleanupFailure {
    /// The item.
    pub item: CleanupItem,
    /// Podman's answer.
    pub reason: String,
}

/// Placeholder name of an untagged image.
const NO_NAME: &str = "<none>";

/// What to remove, given every container, every image, the catalog and the install records.
/// Containers first, then images, then records, each group in a fixed order (kind, name, id), so
/// a dry run lists exactly what a real run does, in the same order.
pub fn plan_cleanup(
    containers: &[ContainerSummary],
    images: &[ImageSummary],
    catalog: &Catalog,
    records: &[InstallRecord],
) -> Vec<CleanupItem> {
    let managed = |object_labels: &BTreeMap<String, String>| {
        object_labels.get(labels::MANAGED).map(String::as_str) == Some(labels::MANAGED_VALUE)
    };
    let order = |item: &CleanupItem| (item.kind as u8, item.name.clone(), item.id.clone());

    let mut container_plan = Vec::new();
    for container in containers {
        if !managed(&container.labels) || container.state == RunState::Running {
            continue;
        }
        let kind = match (
            container.labels.get(labels::DEFINITION),
            container.labels.get(labels::BUILD_OF),
        ) {
            (Some(definition), _) if catalog.get(definition).is_none() => {
                (CleanupKind::OrphanedContainer, definition)
            }
            (None, Some(definition)) if !definition.is_empty() => {
                (CleanupKind::BuildContainer, definition)
            }
            _ => continue,
        };
        container_plan.push(CleanupItem {
            kind: kind.0,
            id: container.id.clone(),
            name: container.name.clone(),
            definition: Some(kind.1.clone()),
            size: None,
        });
    }
    container_plan.sort_by_key(order);
    let removed: BTreeSet<&str> = container_plan.iter().map(|item| item.id.as_str()).collect();
    let remaining: Vec<&ContainerSummary> = containers
        .iter()
        .filter(|container| !removed.contains(container.id.as_str()))
        .collect();

    let used: BTreeSet<&str> = remaining
        .iter()
        .map(|container| container.image_id.as_str())
        .collect();
    // Only the records of definitions that still exist protect their images.
    let protected: BTreeSet<&str> = records
        .iter()
        .filter(|record| catalog.get(&record.name).is_some())
        .flat_map(|record| {
            [
                record.generation_image_id.as_str(),
                record.image_id.as_str(),
            ]
        })
        .collect();
    let mut image_plan = Vec::new();
    for image in images {
        if used.contains(image.id.as_str()) || protected.contains(image.id.as_str()) {
            continue;
        }
        let kind = if managed(&image.labels) && image.labels.contains_key(labels::DEFINITION) {
            CleanupKind::GenerationImage
        } else if image.names.is_empty() {
            CleanupKind::DanglingImage
        } else {
            continue;
        };
        image_plan.push(CleanupItem {
            kind,
            id: image.id.clone(),
            name: image
                .names
                .first()
                .cloned()
                .unwrap_or_else(|| NO_NAME.to_owned()),
            definition: image.labels.get(labels::DEFINITION).cloned(),
            size: Some(image.size),
        });
    }
    image_plan.sort_by_key(order);

    let installed_left: BTreeSet<&str> = remaining
        .iter()
        .filter_map(|container| container.labels.get(labels::DEFINITION).map(String::as_str))
        .collect();
    let record_plan = records
        .iter()
        .filter(|record| {
            catalog.get(&record.name).is_none() && !installed_left.contains(record.name.as_str())
        })
        .map(|record| CleanupItem {
            kind: CleanupKind::InstallRecord,
            id: record.container_id.clone(),
            name: record.name.clone(),
            definition: Some(record.name.clone()),
            size: None,
        });

    let mut plan = container_plan;
    plan.extend(image_plan);
    plan.extend(record_plan);
    plan
}

/// Plans the cleanup and, unless `dry_run`, carries it out. A failure to remove one item is
/// reported in [`CleanupReport::failed`] and does not stop the others.
pub async fn cleanup<E: Engine>(
    engine: &E,
    catalog: &Catalog,
    state: &StateStore,
    dry_run: bool,
) -> Result<CleanupReport, LifecycleError> {
    let records = state.list()?;
    let everything = LabelFilter::default();
    let containers = engine
        .list_containers(&everything)
        .await
        .map_err(|error| LifecycleError::engine("*", "list containers for cleanup", error))?;
    let images = engine
        .list_images(&everything)
        .await
        .map_err(|error| LifecycleError::engine("*", "list images for cleanup", error))?;
    let plan = plan_cleanup(&containers, &images, catalog, &records);
    let mut report = CleanupReport {
        dry_run,
        ..Default::default()
    };
    if dry_run {
        report.removed = plan;
        return Ok(report);
    }
    for item in plan {
        let result = match item.kind {
            CleanupKind::InstallRecord => state
                .remove(&item.name)
                .map(drop)
                .map_err(|error| error.to_string()),
            kind if kind.is_container() => engine
                .remove_container(&item.id, false)
                .await
                .map_err(|error| error.to_string()),
            _ => engine
                .remove_image(&item.id, false)
                .await
                .map_err(|error| error.to_string()),
        };
        match result {
            Ok(()) => report.removed.push(item),
            Err(reason) => report.failed.push(CleanupFailure { item, reason }),
        }
    }
    Ok(report)
}
