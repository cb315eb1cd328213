//! The cleanup plan: from one container list, one image list, the catalog and the install
//! records, what to remove and in which order. Pure, so a dry run and a real run remove the same.
//! The objects of a definition that is busy (its lock held by an install or update in progress,
//! or a journal not yet recovered) are never planned: they are that transaction's to finish or
//! undo, and its journal names them.

use std::collections::{BTreeMap, BTreeSet};

use crate::definition::Catalog;
use crate::engine::{ContainerSummary, ImageSummary};
use crate::labels;
use crate::lifecycle::state::InstallRecord;

use super::{CleanupItem, CleanupKind};

/// Placeholder name of an untagged image.
const NO_NAME: &str = "<none>";

/// What to remove, given every container, every image, the catalog, the install records and which
/// definitions are `busy` (whose objects stay, see the module documentation), for the horizon
/// whose state directory is `owner` (objects labelled with another owner stay).
/// Containers first, then images, then records, each group in a fixed order (kind, name, id), so
/// a dry run lists exactly what a real run does, in the same order.
pub(crate) fn plan_cleanup(
    containers: &[ContainerSummary],
    images: &[ImageSummary],
    catalog: &Catalog,
    records: &[InstallRecord],
    owner: &str,
    busy: &dyn Fn(&str) -> bool,
) -> Vec<CleanupItem> {
    // Several horizon states (users with their own state directory, test sessions) may share one
    // Podman service: only the objects of definitions this state knows — defined here, or with an
    // install record here — are ever planned; another state's objects (its stopped containers, a
    // build or a generation image of an install in progress there) are not this cleanup's.
    let known: BTreeSet<&str> = catalog
        .definitions
        .iter()
        .map(|resolved| resolved.definition.name.as_str())
        .chain(records.iter().map(|record| record.name.as_str()))
        .collect();
    // Another horizon's objects (another user's, on a shared service) are its own to clean: its
    // locks and journals are not visible from here.
    let foreign = |object_labels: &BTreeMap<String, String>| {
        object_labels
            .get(labels::OWNER)
            .is_some_and(|object_owner| object_owner != owner)
    };
    let ours: BTreeSet<&str> = containers
        .iter()
        .filter(|container| !foreign(&container.labels))
        .map(|container| container.id.as_str())
        .chain(
            images
                .iter()
                .filter(|image| !foreign(&image.labels))
                .map(|image| image.id.as_str()),
        )
        .collect();
    let container_plan: Vec<CleanupItem> = container_items(containers, catalog, &known)
        .into_iter()
        .filter(|item| ours.contains(item.id.as_str()))
        .filter(|item| !item.definition.as_deref().is_some_and(busy))
        .collect();
    let removed: BTreeSet<&str> = container_plan.iter().map(|item| item.id.as_str()).collect();
    let remaining: Vec<&ContainerSummary> = containers
        .iter()
        .filter(|container| !removed.contains(container.id.as_str()))
        .collect();
    let image_plan = image_items(images, &remaining, catalog, records, &known)
        .into_iter()
        .filter(|item| ours.contains(item.id.as_str()))
        .filter(|item| !item.definition.as_deref().is_some_and(busy));
    let record_plan = record_items(records, &remaining, catalog)
        .into_iter()
        .filter(|item| !item.definition.as_deref().is_some_and(busy));

    let mut plan = container_plan;
    plan.extend(image_plan);
    plan.extend(record_plan);
    plan
}

/// Labelled as horizon's.
fn managed(object_labels: &BTreeMap<String, String>) -> bool {
    object_labels.get(labels::MANAGED).map(String::as_str) == Some(labels::MANAGED_VALUE)
}

/// The order items of one group are removed (and listed) in.
fn order(item: &CleanupItem) -> (u8, String, String) {
    (item.kind as u8, item.name.clone(), item.id.clone())
}

/// The stopped managed containers whose definition is gone, and the stopped build containers, of
/// the `known` definitions.
fn container_items(
    containers: &[ContainerSummary],
    catalog: &Catalog,
    known: &BTreeSet<&str>,
) -> Vec<CleanupItem> {
    let mut container_plan = Vec::new();
    for container in containers {
        if !managed(&container.labels) || container.state == crate::engine::RunState::Running {
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
        if !known.contains(kind.1.as_str()) {
            continue;
        }
        container_plan.push(CleanupItem {
            kind: kind.0,
            id: container.id.clone(),
            name: container.name.clone(),
            definition: Some(kind.1.clone()),
            size: None,
        });
    }
    container_plan.sort_by_key(order);
    container_plan
}

/// The generation images of the `known` definitions and the dangling images that no `remaining`
/// container uses and no install record of an existing definition names.
fn image_items(
    images: &[ImageSummary],
    remaining: &[&ContainerSummary],
    catalog: &Catalog,
    records: &[InstallRecord],
    known: &BTreeSet<&str>,
) -> Vec<CleanupItem> {
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
        let definition = image.labels.get(labels::DEFINITION);
        let kind = if managed(&image.labels) && definition.is_some() {
            if !definition.is_some_and(|name| known.contains(name.as_str())) {
                continue;
            }
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
    image_plan
}

/// The install records of definitions that are gone and have no `remaining` container.
fn record_items(
    records: &[InstallRecord],
    remaining: &[&ContainerSummary],
    catalog: &Catalog,
) -> Vec<CleanupItem> {
    let installed_left: BTreeSet<&str> = remaining
        .iter()
        .filter_map(|container| container.labels.get(labels::DEFINITION).map(String::as_str))
        .collect();
    records
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
        })
        .collect()
}
