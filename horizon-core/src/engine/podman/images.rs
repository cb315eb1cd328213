//! Local images: inspect, tag, remove and list.

use hyper::Method;
use podman_api::opts::ImageTagOpts;

use super::PodmanEngine;
use super::answers::{INSPECT_IMAGE, ImageInspect, ImageListItem, LIST_IMAGES};
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
    let answer: ImageInspect = engine
        .raw_json(
            INSPECT_IMAGE,
            Method::GET,
            &format!("/images/{reference}/json"),
            None,
        )
        .await?;
    answer.into_details()
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
    let listed: Vec<ImageListItem> = again_after_race(IMAGE_REMOVED_WHILE_LISTED, || {
        engine.raw_json(LIST_IMAGES, Method::GET, &path, None)
    })
    .await?;
    let mut images = Vec::new();
    for (index, item) in listed.into_iter().enumerate() {
        let image = item.into_summary(index)?;
        if filter.matches(&image.labels) {
            images.push(image);
        }
    }
    Ok(images)
}
