//! The cleanup plan: from one container list, one image list, the catalog and the install
//! records, what to remove and in which order. Pure, so a dry run and a real run remove the same.

use std::collections::{BTreeMap, BTreeSet};

use crate::definition::Catalog;
use crate::engine::{ContainerSummary, ImageSummary};
use crate::labels;
use crate::lifecycle::state::InstallRecord;

use super::{CleanupItem, CleanupKind};

/// Placeholder name of an untagged image.
const NO_NAME: &str = "<none>";

/// What to remove, given every container, every image, the catalog, the install records and the
/// names whose record cannot be read. Containers first, then images, then records, each group in
/// a fixed order (kind, name, id), so a dry run lists exactly what a real run does, in the same
/// order. What an unreadable record names is unknown, so nothing that might be its container's
/// goes: neither its containers, nor its generation images, nor any dangling image (its base
/// image, pulled by digest, is one).
pub(crate) fn plan_cleanup(
    containers: &[ContainerSummary],
    images: &[ImageSummary],
    catalog: &Catalog,
    records: &[InstallRecord],
    unreadable: &[&str],
) -> Vec<CleanupItem> {
    let unknown = |item: &CleanupItem| {
        item.definition
            .as_deref()
            .is_some_and(|definition| unreadable.contains(&definition))
            || (!unreadable.is_empty() && item.kind == CleanupKind::DanglingImage)
    };
    let container_plan: Vec<CleanupItem> = container_items(containers, catalog)
        .into_iter()
        .filter(|item| !unknown(item))
        .collect();
    let removed: BTreeSet<&str> = container_plan.iter().map(|item| item.id.as_str()).collect();
    let remaining: Vec<&ContainerSummary> = containers
        .iter()
        .filter(|container| !removed.contains(container.id.as_str()))
        .collect();
    let image_plan: Vec<CleanupItem> = image_items(images, &remaining, catalog, records)
        .into_iter()
        .filter(|item| !unknown(item))
        .collect();
    let record_plan = record_items(records, &remaining, catalog);

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

/// The stopped managed containers whose definition is gone, and the stopped build containers.
fn container_items(containers: &[ContainerSummary], catalog: &Catalog) -> Vec<CleanupItem> {
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

/// The generation images and dangling images that no `remaining` container uses and no install
/// record of an existing definition names.
fn image_items(
    images: &[ImageSummary],
    remaining: &[&ContainerSummary],
    catalog: &Catalog,
    records: &[InstallRecord],
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
