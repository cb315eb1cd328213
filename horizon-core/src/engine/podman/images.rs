//! Local images: inspect, tag, remove and list.

use hyper::Method;
use podman_api::opts::ImageTagOpts;
use serde_json::Value;

use super::PodmanEngine;
use super::crate_calls::PODMAN_API_PREFIX;
use super::query::label_filters;
use super::races::{IMAGE_REMOVED_WHILE_LISTED, again_after_race};
use super::raw::{Patience, check_status};
use crate::engine::{EngineError, ImageDetails, ImageSummary, LabelFilter};

/// Inspects a local image by id or reference.
pub(super) async fn inspect_image(
    engine: &PodmanEngine,
    reference: &str,
) -> Result<ImageDetails, EngineError> {
    let inspected: Value = engine
        .raw_json(
            "inspect image",
            Method::GET,
            &format!("/images/{reference}/json"),
            None,
        )
        .await?;
    Ok(image_details(&inspected))
}

/// Reads an image inspection into [`ImageDetails`].
fn image_details(inspected: &Value) -> ImageDetails {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect()
    };
    let digest = text(&inspected["Digest"]);
    ImageDetails {
        id: text(&inspected["Id"]),
        digest: (!digest.is_empty()).then_some(digest),
        repo_digests: strings(&inspected["RepoDigests"]),
        repo_tags: strings(&inspected["RepoTags"]),
        labels: inspected["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), text(value)))
            .collect(),
        created: text(&inspected["Created"]),
        size: inspected["Size"].as_u64().unwrap_or(0),
    }
}

/// Adds the name `repository:tag` to an image.
pub(super) async fn tag_image(
    engine: &PodmanEngine,
    image: &str,
    repository: &str,
    tag: &str,
) -> Result<(), EngineError> {
    let options = ImageTagOpts::builder().repo(repository).tag(tag).build();
    engine
        .timed(
            "tag image",
            (
                Method::POST,
                format!("{PODMAN_API_PREFIX}/images/{image}/tag"),
                201,
            ),
            engine.podman.images().get(image).tag(&options),
        )
        .await
}

/// Removes an image by id or reference.
pub(super) async fn remove_image(
    engine: &PodmanEngine,
    reference: &str,
    force: bool,
) -> Result<(), EngineError> {
    let path = format!("/images/{reference}?force={force}");
    let response = engine
        .raw
        .send_with("remove image", Method::DELETE, &path, None, Patience::Long)
        .await?;
    check_status("remove image", &response)
}

/// Local images matching `filter`.
pub(super) async fn list_images(
    engine: &PodmanEngine,
    filter: &LabelFilter,
) -> Result<Vec<ImageSummary>, EngineError> {
    // Podman 4.3.1 matches no image at all when given two label filters, and refuses an empty
    // label list: send at most the first condition and check them all here.
    let path = match filter.labels.first() {
        Some(first) => {
            let first = LabelFilter {
                labels: vec![first.clone()],
            };
            format!("/images/json?filters={}", label_filters(&first))
        }
        None => "/images/json".to_owned(),
    };
    let listed: Vec<Value> = again_after_race(IMAGE_REMOVED_WHILE_LISTED, || {
        engine.raw_json("list images", Method::GET, &path, None)
    })
    .await?;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    Ok(listed
        .iter()
        .map(|image| ImageSummary {
            id: text(&image["Id"]),
            names: image["Names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect(),
            labels: image["Labels"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| (key.clone(), text(value)))
                .collect(),
            size: image["Size"].as_u64().unwrap_or(0),
        })
        .filter(|image| filter.matches(&image.labels))
        .collect())
}
