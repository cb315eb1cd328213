//! Prunes: libpod answers `[{Id, Size, Err}]`, one item per object it tried to remove; an item that
//! carries an error fails the whole prune (Podman still answers HTTP 200).

use hyper::Method;
use serde::Deserialize;

use super::PodmanEngine;
use super::query::label_filters;
use super::raw::{Patience, check_status};
use crate::engine::{EngineError, LabelFilter, PruneReport};

#[derive(Deserialize)]
struct PruneItem {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Size", default)]
    size: u64,
    #[serde(rename = "Err", default)]
    error: Option<String>,
}

/// Removes dangling images, or every image no container uses when `all_unused`.
pub(super) async fn prune_images(
    engine: &PodmanEngine,
    all_unused: bool,
) -> Result<PruneReport, EngineError> {
    let path = format!("/images/prune?all={all_unused}");
    prune(engine, "prune images", &path).await
}

/// Removes the stopped containers that match `filter`.
pub(super) async fn prune_containers(
    engine: &PodmanEngine,
    filter: &LabelFilter,
) -> Result<PruneReport, EngineError> {
    let path = format!("/containers/prune?filters={}", label_filters(filter));
    prune(engine, "prune containers", &path).await
}

/// POSTs a libpod prune and reads its `[{Id, Size, Err}]` answer.
async fn prune(
    engine: &PodmanEngine,
    operation: &'static str,
    path: &str,
) -> Result<PruneReport, EngineError> {
    let response = engine
        .raw
        .send_with(operation, Method::POST, path, None, Patience::Long)
        .await?;
    check_status(operation, &response)?;
    let items: Option<Vec<PruneItem>> =
        serde_json::from_slice(&response.body).map_err(|error| EngineError::Protocol {
            operation,
            message: error.to_string(),
        })?;
    prune_report(operation, items.unwrap_or_default())
}

fn prune_report(
    operation: &'static str,
    items: Vec<PruneItem>,
) -> Result<PruneReport, EngineError> {
    let mut report = PruneReport::default();
    for item in items {
        if let Some(message) = item.error.filter(|message| !message.is_empty()) {
            return Err(EngineError::StreamError {
                operation,
                message: format!("{}: {message}", item.id),
            });
        }
        report.removed.push(item.id);
        report.reclaimed_bytes += item.size;
    }
    Ok(report)
}
