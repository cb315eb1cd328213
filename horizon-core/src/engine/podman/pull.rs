//! The pull, through the Docker-compatible endpoint: the only one that reports bytes per layer.
//! Podman answers HTTP 200 even for a failed pull and puts `{"error": …}` in the stream; the stream
//! has no final object either, so completion is checked by inspecting the image afterwards.

use hyper::Method;
use serde::Deserialize;

use super::raw::podman_message;
use super::{PodmanEngine, images, query::encode_query};
use crate::engine::{EngineError, PullEvent, PulledImage};

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
        Ok(image) => Ok(PulledImage {
            id: image.id,
            digest: image.digest,
        }),
        Err(error) if error.is_not_found() => Err(EngineError::StreamTruncated {
            operation: OPERATION,
        }),
        Err(error) => Err(error),
    }
}
