//! Carrying a cleanup out: list every container and image once, plan, and remove the plan's
//! items in its order (containers before the images they use, records last), each failure
//! reported beside the others rather than stopping them. An install record that cannot be read
//! is reported too, and keeps what might be its container's (see [`plan_cleanup`]).

use crate::definition::Catalog;
use crate::engine::{Engine, LabelFilter};
use crate::lifecycle::error::LifecycleError;
use crate::lifecycle::state::StateStore;

use super::{CleanupFailure, CleanupKind, CleanupReport, plan_cleanup};

/// Plans the cleanup and, unless `dry_run`, carries it out, leaving the objects of `busy`
/// definitions alone. A failure to remove one item is reported in [`CleanupReport::failed`] and
/// does not stop the others.
pub async fn cleanup<E: Engine>(
    engine: &E,
    catalog: &Catalog,
    state: &StateStore,
    busy: &dyn Fn(&str) -> bool,
    dry_run: bool,
) -> Result<CleanupReport, LifecycleError> {
    let scan = state.scan()?;
    let unreadable: Vec<&str> = scan
        .unreadable
        .iter()
        .map(|record| record.name.as_str())
        .collect();
    let everything = LabelFilter::default();
    let containers = engine
        .list_containers(&everything)
        .await
        .map_err(|error| LifecycleError::engine("*", "list containers for cleanup", error))?;
    let images = engine
        .list_images(&everything)
        .await
        .map_err(|error| LifecycleError::engine("*", "list images for cleanup", error))?;
    // What an unreadable record names is unknown: nothing that might be its container's goes —
    // neither its objects (it counts as busy) nor any dangling image (its base image, pulled by
    // digest, is one).
    let busy_or_unreadable = |name: &str| busy(name) || unreadable.contains(&name);
    let plan: Vec<_> = plan_cleanup(
        &containers,
        &images,
        catalog,
        &scan.records,
        &state.owner(),
        &busy_or_unreadable,
    )
    .into_iter()
    .filter(|item| unreadable.is_empty() || item.kind != CleanupKind::DanglingImage)
    .collect();
    let mut report = CleanupReport {
        dry_run,
        unreadable_records: scan.unreadable.clone(),
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
