//! `remove`: a definition's managed containers (and any build container an interrupted install
//! left), its generation images unless kept, and its install record — found by label, so it also
//! works after the definition file is gone. Exports belong to the export issue: the report names
//! the binaries the removed record exported, for it to unexport.

use serde::Serialize;

use crate::engine::{Engine, LabelFilter};
use crate::labels;

use super::error::LifecycleError;
use super::start::managed_filter;
use super::state::{InstallRecord, RemovedRecord, StateStore, UnreadableRecord};

/// How to remove.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveOptions {
    /// Keep the generation images.
    pub keep_images: bool,
}

/// What [`remove`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoveReport {
    /// Names of the removed containers.
    pub containers: Vec<String>,
    /// The removed generation images (their names, or ids when untagged).
    pub images: Vec<String>,
    /// The removed install record.
    pub record: Option<InstallRecord>,
    /// The removed record file that could not be read as one.
    pub unreadable_record: Option<UnreadableRecord>,
    /// The binaries the record exported: their wrappers are the export issue's to remove.
    pub exports: Vec<String>,
}

/// Removes everything installed for definition `name` (see the module documentation). Containers
/// first, then images, then the record (read or not: a broken record never keeps a container
/// from being removed), so that a failure part-way leaves what a rerun finds.
/// [`LifecycleError::NotInstalled`] when nothing was there.
pub async fn remove<E: Engine>(
    engine: &E,
    name: &str,
    state: &StateStore,
    options: RemoveOptions,
) -> Result<RemoveReport, LifecycleError> {
    let mut report = RemoveReport::default();
    let builds = LabelFilter::managed().with(labels::BUILD_OF, Some(name));
    for filter in [managed_filter(name), builds] {
        let containers = engine
            .list_containers(&filter)
            .await
            .map_err(|error| LifecycleError::engine(name, "find the containers of", error))?;
        for container in containers {
            engine
                .remove_container(&container.id, true)
                .await
                .map_err(|error| LifecycleError::engine(name, "remove the container of", error))?;
            report.containers.push(container.name);
        }
    }
    if !options.keep_images {
        let images = engine
            .list_images(&managed_filter(name))
            .await
            .map_err(|error| LifecycleError::engine(name, "find the images of", error))?;
        for image in images {
            match engine.remove_image(&image.id, false).await {
                Ok(()) => {}
                // Removed meanwhile (another tag of the same image went first).
                Err(error) if error.is_not_found() => continue,
                Err(error) => {
                    return Err(LifecycleError::engine(name, "remove the images of", error));
                }
            }
            report
                .images
                .push(image.names.first().cloned().unwrap_or(image.id));
        }
        report.images.sort();
    }
    match state.remove(name)? {
        RemovedRecord::Absent => {}
        RemovedRecord::Removed(record) => report.record = Some(*record),
        RemovedRecord::Unreadable(unreadable) => report.unreadable_record = Some(unreadable),
    }
    report.exports = report
        .record
        .as_ref()
        .map(|record| record.export_binaries.clone())
        .unwrap_or_default();
    if report.containers.is_empty()
        && report.images.is_empty()
        && report.record.is_none()
        && report.unreadable_record.is_none()
    {
        return Err(LifecycleError::NotInstalled {
            name: name.to_owned(),
        });
    }
    Ok(report)
}
