//! Pruning after an update: the containers, generation images and records of generations beyond
//! the kept ones go. The update has succeeded by then, so nothing here fails it: what could not
//! be removed is reported, and the next update tries again.

use std::collections::BTreeSet;

use super::{UpdateStores, kept_generations, remove_container, remove_image};
use crate::engine::Engine;
use crate::lifecycle::{active_container, generation_of, managed_filter};

/// What pruning removed, and what it could not.
#[derive(Debug, Default)]
pub(super) struct Pruned {
    /// The generations removed.
    pub(super) generations: Vec<u64>,
    /// What could not be removed, with why.
    pub(super) failures: Vec<String>,
}

/// Removes the containers, generation images and records of `name`'s generations beyond the
/// `keep_previous` newest ones that do not run. Failures are collected, never fatal.
pub(super) async fn prune<E: Engine>(
    engine: &E,
    stores: &UpdateStores,
    name: &str,
    keep_previous: usize,
) -> Pruned {
    let mut pruned = Pruned::default();
    let (containers, images) = match (
        engine.list_containers(&managed_filter(name)).await,
        engine.list_images(&managed_filter(name)).await,
    ) {
        (Ok(containers), Ok(images)) => (containers, images),
        (Err(error), _) | (_, Err(error)) => {
            pruned.failures.push(format!("listing: {error}"));
            return pruned;
        }
    };
    let Some(active) = active_container(name, &containers) else {
        return pruned;
    };
    let active_generation = generation_of(&active.labels);
    let mut kept = kept_generations(&containers, active);
    kept.sort_unstable_by(|a, b| b.cmp(a));
    let keep: BTreeSet<u64> = kept
        .iter()
        .copied()
        .take(keep_previous)
        .chain([active_generation])
        .collect();
    let mut removed = BTreeSet::new();
    for container in &containers {
        let generation = generation_of(&container.labels);
        if keep.contains(&generation) {
            continue;
        }
        match remove_container(engine, name, &container.id).await {
            Ok(()) => {
                removed.insert(generation);
            }
            Err(error) => pruned
                .failures
                .push(format!("container {}: {error}", container.name)),
        }
    }
    for image in &images {
        let generation = generation_of(&image.labels);
        if keep.contains(&generation) {
            continue;
        }
        match remove_image(engine, name, &image.id).await {
            Ok(()) => {
                removed.insert(generation);
            }
            Err(error) => pruned.failures.push(format!(
                "image {}: {error}",
                image.names.first().unwrap_or(&image.id)
            )),
        }
    }
    for &generation in &removed {
        if let Err(error) = stores.history.remove(name, generation) {
            pruned.failures.push(error.to_string());
        }
    }
    pruned.generations = removed.into_iter().collect();
    pruned
}
