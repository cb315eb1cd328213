//! The pull, through the Docker-compatible endpoint: the only one that reports bytes per layer.
//! Podman answers HTTP 200 even for a failed pull and puts `{"error": …}` in the stream; the stream
//! has no final object either, so completion is checked by inspecting the image afterwards.

use hyper::Method;
use serde::Deserialize;

use super::raw::podman_message;
use super::{PodmanEngine, images, query::encode_query};
use crate::engine::{EngineError, ImageDetails, PullEvent, PulledImage};

const OPERATION: &str = "pull image";
/// The Docker-compatible API version Podman 4 serves; the pull with byte progress and the rename
/// use it.
pub(super) const COMPAT_PREFIX: &str = "/v1.41";

/// One line of the compat pull stream.
#[derive(Deserialize)]
struct CompatPullLine {
    #[serde(default)]
    status: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "progressDetail")]
    progress: Option<CompatProgress>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct CompatProgress {
    current: Option<u64>,
    total: Option<u64>,
}

/// Pulls `reference`, reporting each line of the stream to `on_event`, and returns the image.
pub(super) async fn pull_image(
    engine: &PodmanEngine,
    reference: &str,
    on_event: &(dyn Fn(&PullEvent) + Send + Sync),
) -> Result<PulledImage, EngineError> {
    let path = format!(
        "{COMPAT_PREFIX}/images/create?fromImage={}",
        encode_query(reference)
    );
    let (status, mut body) = engine.raw.stream(OPERATION, Method::POST, &path).await?;
    if !(200..300).contains(&status) {
        let bytes = engine.raw.read_all(OPERATION, &mut body).await?;
        return Err(EngineError::from_status(
            OPERATION,
            status,
            podman_message(&bytes),
        ));
    }
    let mut pending = Vec::new();
    while let Some(chunk) = engine.raw.next_chunk(OPERATION, &mut body).await? {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            report_line(&line, on_event)?;
        }
    }
    confirm(engine, reference).await
}

/// Reports one line of the stream; a line that carries an error fails the pull.
fn report_line(
    line: &[u8],
    on_event: &(dyn Fn(&PullEvent) + Send + Sync),
) -> Result<(), EngineError> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let parsed: CompatPullLine =
        serde_json::from_slice(line).map_err(|error| EngineError::Protocol {
            operation: OPERATION,
            message: error.to_string(),
        })?;
    // Podman reports a failed pull as HTTP 200 with `error` in the stream.
    if let Some(message) = parsed.error.filter(|message| !message.is_empty()) {
        return Err(EngineError::StreamError {
            operation: OPERATION,
            message,
        });
    }
    let progress = parsed.progress.unwrap_or(CompatProgress {
        current: None,
        total: None,
    });
    on_event(&PullEvent {
        layer: parsed.id,
        status: parsed.status,
        current: progress.current,
        total: progress.total.filter(|total| *total > 0),
    });
    Ok(())
}

/// The pulled image, by inspecting it: a stream that ended without the image there was cut short.
async fn confirm(engine: &PodmanEngine, reference: &str) -> Result<PulledImage, EngineError> {
    match images::inspect_image(engine, reference).await {
        Ok(image) => Ok(pulled(reference, image)),
        Err(error) if error.is_not_found() => Err(EngineError::StreamTruncated {
            operation: OPERATION,
        }),
        Err(error) => Err(error),
    }
}

/// What the pull of `reference` made, from the image's inspection.
fn pulled(reference: &str, image: ImageDetails) -> PulledImage {
    PulledImage {
        digest: image.digest_of(reference),
        digests: image.manifest_digests(),
        id: image.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digest: Option<&str>, repo_digests: &[&str]) -> ImageDetails {
        ImageDetails {
            id: "1d".into(),
            digest: digest.map(str::to_owned),
            repo_digests: repo_digests.iter().map(|&name| name.to_owned()).collect(),
            repo_tags: Vec::new(),
            labels: Default::default(),
            created: None,
            size: 0,
        }
    }

    #[test]
    fn the_digest_is_known_only_when_the_reference_or_a_single_manifest_decides_it() {
        let one = image(Some("sha256:aa"), &["r/a@sha256:aa"]);
        let pulled_one = pulled("r/a:1", one);
        assert_eq!(
            (pulled_one.digest.as_deref(), pulled_one.digests.as_slice()),
            (Some("sha256:aa"), ["sha256:aa".to_owned()].as_slice())
        );
        // Two names, two manifests: Podman pairs each name with each digest.
        let both = &[
            "r/a@sha256:aa",
            "r/a@sha256:bb",
            "r/b@sha256:aa",
            "r/b@sha256:bb",
        ];
        let pulled_tag = pulled("r/b:1", image(Some("sha256:aa"), both));
        assert_eq!(
            (pulled_tag.digest, pulled_tag.digests),
            (None, vec!["sha256:aa".to_owned(), "sha256:bb".to_owned()])
        );
        let by_digest = pulled("r/b@sha256:bb", image(Some("sha256:aa"), both));
        assert_eq!(by_digest.digest.as_deref(), Some("sha256:bb"));
        let local = pulled("localhost/x:1", image(None, &[]));
        assert_eq!((local.digest, local.digests), (None, vec![]));
    }
}
