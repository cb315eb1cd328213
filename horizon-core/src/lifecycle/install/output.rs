//! Running a command in a container and keeping the end of what it printed, as a terminal would
//! have shown it: a failed package manager of a build or a failed verify command carries those
//! last lines. An update's export checks run through here too.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

use crate::engine::{Engine, ExecRequest, ExecStreams};
use crate::lifecycle::error::LifecycleError;

/// How many of the package manager's last output lines a failure carries.
pub(crate) const OUTPUT_TAIL_LINES: usize = 20;

/// Runs `request` in `container`; returns its exit code and the last lines of its output (stdout
/// and stderr into one buffer, in the order they arrive, as a terminal shows them).
pub(crate) async fn exec_with_tail<E: Engine>(
    engine: &E,
    definition: &str,
    container: &str,
    request: &ExecRequest,
) -> Result<(i64, Vec<String>), LifecycleError> {
    let output = SharedOutput::default();
    let mut stdout = output.clone();
    let mut stderr = output.clone();
    let streams = ExecStreams {
        stdin: None,
        stdout: &mut stdout,
        stderr: &mut stderr,
        resize: None,
        signals: None,
    };
    let exit_code = engine
        .exec_attached(container, request, streams)
        .await
        .map_err(|error| LifecycleError::engine(definition, "run a command for", error))?;
    Ok((exit_code, output.tail(OUTPUT_TAIL_LINES)))
}

/// A writer whose clones all append to one buffer.
#[derive(Clone, Debug, Default)]
struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// The last `count` non-empty lines, decoded lossily.
    fn tail(&self, count: usize) -> Vec<String> {
        let bytes = self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        last_lines(&bytes, count)
    }
}

/// The last `count` non-empty lines of `bytes` (carriage returns of progress lines dropped).
pub(crate) fn last_lines(bytes: &[u8], count: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.rsplit('\r')
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        })
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

impl AsyncWrite for SharedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.0.lock() {
            Ok(mut bytes) => {
                bytes.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Err(_) => Poll::Ready(Err(std::io::Error::other("output buffer poisoned"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
