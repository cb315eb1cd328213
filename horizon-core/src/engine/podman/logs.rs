//! A container's logs over a raw libpod stream, demultiplexed into the caller's stdout and
//! stderr; with `follow`, until the container stops (no no-progress limit then).

use hyper::Method;
use tokio::io::AsyncWriteExt;

use super::exec::output_error;
use super::frames::{Frame, FrameDecoder};
use super::raw::{LIBPOD_PREFIX, RawClient, next_piece, podman_message};
use crate::engine::{EngineError, ExecStreams};

/// Copies a container's logs (stdout and stderr separately) to `streams`; with `follow`, until the
/// container stops.
pub(super) async fn stream_logs(
    raw: &RawClient,
    container: &str,
    follow: bool,
    tail: Option<u64>,
    streams: ExecStreams<'_>,
) -> Result<(), EngineError> {
    const OPERATION: &str = "container logs";
    let mut path = format!(
        "{}/containers/{container}/logs?follow={follow}&stdout=true&stderr=true",
        LIBPOD_PREFIX
    );
    if let Some(tail) = tail {
        path.push_str(&format!("&tail={tail}"));
    }
    let (status, mut body) = raw.stream(OPERATION, Method::GET, &path).await?;
    let mut decoder = FrameDecoder::default();
    let mut raw_bytes = Vec::new();
    loop {
        // Following waits for new lines indefinitely: no no-progress limit then.
        let chunk = if follow {
            next_piece(&mut body)
                .await
                .map_err(|error| raw.unreachable(error))?
        } else {
            raw.next_chunk(OPERATION, &mut body).await?
        };
        let Some(chunk) = chunk else { break };
        if !(200..300).contains(&status) {
            raw_bytes.extend_from_slice(&chunk);
            continue;
        }
        decoder.push(&chunk);
        while let Some(frame) = decoder.next_frame_of(OPERATION)? {
            match frame {
                Frame::Stdout(bytes) => streams
                    .stdout
                    .write_all(&bytes)
                    .await
                    .map_err(|e| output_error(OPERATION, &e))?,
                Frame::Stderr(bytes) | Frame::Error(bytes) => streams
                    .stderr
                    .write_all(&bytes)
                    .await
                    .map_err(|e| output_error(OPERATION, &e))?,
            }
        }
    }
    if !(200..300).contains(&status) {
        return Err(EngineError::from_status(
            OPERATION,
            status,
            podman_message(&raw_bytes),
        ));
    }
    // A stream cut mid-frame lost output: say so rather than end quietly.
    if decoder.has_partial_frame() {
        return Err(EngineError::StreamTruncated {
            operation: OPERATION,
        });
    }
    streams
        .stdout
        .flush()
        .await
        .map_err(|e| output_error(OPERATION, &e))?;
    streams
        .stderr
        .flush()
        .await
        .map_err(|e| output_error(OPERATION, &e))
}
