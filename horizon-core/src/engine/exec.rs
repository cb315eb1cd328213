//! Attached exec and logs over raw libpod streams: the exec session is created, started on a
//! hijacked connection (stdin written up, stdout and stderr read down, demultiplexed unless a TTY
//! was asked for), resized when the terminal changes, signalled on request, and its exit code read
//! when the stream ends. Output goes to the caller's writers as it arrives, byte for byte.

use std::time::Duration;

use hyper::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::EngineError;
use super::frames::{Frame, FrameDecoder};
use super::raw::RawClient;
use super::types::{ExecRequest, TerminalSize};

/// How long to wait for Podman to record an exec's exit code after its stream closed.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(10);
/// Read buffer for the output stream.
const READ_BUFFER: usize = 32 * 1024;

/// The caller's side of an attached exec (or a logs stream).
pub struct ExecStreams<'a> {
    /// Fed to the process's stdin until it ends (then stdin is closed); `None` attaches no stdin.
    pub stdin: Option<&'a mut (dyn AsyncRead + Send + Unpin)>,
    /// Receives the process's stdout (and, with a TTY, everything).
    pub stdout: &'a mut (dyn AsyncWrite + Send + Unpin),
    /// Receives the process's stderr.
    pub stderr: &'a mut (dyn AsyncWrite + Send + Unpin),
    /// Terminal size changes to forward (TTY sessions).
    pub resize: Option<watch::Receiver<TerminalSize>>,
    /// Signal numbers to deliver to the process (e.g. SIGINT on Ctrl-C without a TTY).
    pub signals: Option<mpsc::UnboundedReceiver<i32>>,
}

impl std::fmt::Debug for ExecStreams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecStreams")
            .field("stdin", &self.stdin.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "Id")]
    id: String,
}

/// Writes a piece of the process's output and flushes it, so the caller sees it as it arrives.
async fn write_through(
    writer: &mut (dyn AsyncWrite + Send + Unpin),
    bytes: &[u8],
) -> Result<(), EngineError> {
    const OPERATION: &str = "exec";
    writer
        .write_all(bytes)
        .await
        .map_err(|e| output_error(OPERATION, &e))?;
    writer
        .flush()
        .await
        .map_err(|e| output_error(OPERATION, &e))
}

fn output_error(operation: &'static str, error: &std::io::Error) -> EngineError {
    EngineError::Output {
        operation,
        kind: error.kind(),
        message: error.to_string(),
    }
}

/// Runs `request` in `container` attached to `streams`; returns the process's exit code.
pub(crate) async fn attached_exec(
    raw: &RawClient,
    container: &str,
    request: &ExecRequest,
    streams: ExecStreams<'_>,
) -> Result<i64, EngineError> {
    const OPERATION: &str = "exec";
    let ExecStreams {
        stdin,
        stdout,
        stderr,
        mut resize,
        mut signals,
    } = streams;
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let mut create = json!({
        "AttachStdin": stdin.is_some(),
        "AttachStdout": true,
        "AttachStderr": true,
        "Tty": request.tty,
        "Cmd": request.argv,
        "Env": env,
    });
    if let Some(dir) = &request.working_dir {
        create["WorkingDir"] = json!(dir);
    }
    if let Some(user) = &request.user {
        create["User"] = json!(user);
    }
    let created: Created = raw
        .json(
            "create exec",
            Method::POST,
            &format!("/containers/{container}/exec"),
            Some(create.to_string().into_bytes()),
        )
        .await?;
    let exec_id = created.id;

    let mut start = json!({ "Detach": false, "Tty": request.tty });
    if let Some(size) = resize.as_ref().map(|receiver| *receiver.borrow()) {
        start["h"] = json!(size.rows);
        start["w"] = json!(size.columns);
    }
    let connection = raw
        .upgrade(
            "start exec",
            &format!("/exec/{exec_id}/start"),
            start.to_string().into_bytes(),
        )
        .await?;
    let (mut reader, mut writer) = tokio::io::split(connection);

    let tty = request.tty;
    let output = async {
        let mut decoder = FrameDecoder::default();
        let mut buffer = vec![0u8; READ_BUFFER];
        let mut podman_error = Vec::new();
        loop {
            let read =
                reader
                    .read(&mut buffer)
                    .await
                    .map_err(|error| EngineError::Unreachable {
                        endpoint: raw.endpoint_text(),
                        reason: format!("exec stream: {error}"),
                    })?;
            if read == 0 {
                break;
            }
            if tty {
                write_through(&mut *stdout, &buffer[..read]).await?;
                continue;
            }
            decoder.push(&buffer[..read]);
            while let Some(frame) = decoder
                .next_frame()
                .map_err(|error| EngineError::Protocol {
                    operation: OPERATION,
                    message: error.to_string(),
                })?
            {
                match frame {
                    Frame::Stdout(bytes) => {
                        write_through(&mut *stdout, &bytes).await?;
                    }
                    Frame::Stderr(bytes) => {
                        write_through(&mut *stderr, &bytes).await?;
                    }
                    Frame::Error(bytes) => podman_error.extend_from_slice(&bytes),
                }
            }
        }
        if decoder.has_partial_frame() {
            return Err(EngineError::StreamTruncated {
                operation: OPERATION,
            });
        }
        if !podman_error.is_empty() {
            return Err(EngineError::StreamError {
                operation: OPERATION,
                message: String::from_utf8_lossy(&podman_error).trim().to_owned(),
            });
        }
        Ok(())
    };
    tokio::pin!(output);

    let has_stdin = stdin.is_some();
    let stdin_pump = async {
        if let Some(stdin) = stdin {
            tokio::io::copy(stdin, &mut writer).await?;
            // Half-close: the process sees end of file on its stdin.
            writer.shutdown().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::pin!(stdin_pump);
    let mut stdin_open = has_stdin;

    loop {
        tokio::select! {
            result = &mut output => {
                result?;
                break;
            }
            result = &mut stdin_pump, if stdin_open => {
                stdin_open = false;
                if let Err(error) = result {
                    // The process may exit or close its stdin before reading everything.
                    tracing::debug!(%error, "exec stdin closed early");
                }
            }
            changed = async { resize.as_mut()?.changed().await.ok() }, if resize.is_some() => {
                match changed {
                    Some(()) => {
                        let size = resize.as_ref().map(|receiver| *receiver.borrow()).unwrap_or_default();
                        resize_exec(raw, &exec_id, size).await;
                    }
                    None => resize = None,
                }
            }
            signal = async { signals.as_mut()?.recv().await }, if signals.is_some() => {
                match signal {
                    Some(signal) => signal_exec(raw, &exec_id, signal).await,
                    None => signals = None,
                }
            }
        }
    }
    exit_code(raw, &exec_id).await
}

/// Forwards a terminal size; a failure only makes the display wrong, so it is logged.
async fn resize_exec(raw: &RawClient, exec_id: &str, size: TerminalSize) {
    let path = format!("/exec/{exec_id}/resize?h={}&w={}", size.rows, size.columns);
    if let Err(error) = raw.send(Method::POST, &path, None).await {
        tracing::debug!(%error, "exec resize failed");
    }
}

/// Delivers a signal to the exec'd process and its children. libpod has no endpoint for it, so
/// the process is signalled on the host by the pid Podman reports (local endpoints only). The
/// runtime makes that process a session and process-group leader, so the group is signalled, as a
/// terminal signals its foreground job: Ctrl-C reaches `make`'s compilers too, not only `make`.
async fn signal_exec(raw: &RawClient, exec_id: &str, signal: i32) {
    let inspected: Result<Value, _> = raw
        .json(
            "inspect exec",
            Method::GET,
            &format!("/exec/{exec_id}/json"),
            None,
        )
        .await;
    let pid = inspected
        .ok()
        .and_then(|value| value["Pid"].as_i64())
        .filter(|pid| *pid > 0);
    let (Some(pid), Some(signal)) = (pid, rustix::process::Signal::from_named_raw(signal)) else {
        tracing::debug!(signal, "cannot forward signal: no pid for the exec session");
        return;
    };
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    // A pid that leads no group (a runtime that does not call setsid) gets the signal alone.
    let delivered = rustix::process::kill_process_group(pid, signal)
        .or_else(|_| rustix::process::kill_process(pid, signal));
    if let Err(error) = delivered {
        tracing::debug!(%error, "forwarding signal failed");
    }
}

/// Waits until Podman has recorded the exec's exit code.
async fn exit_code(raw: &RawClient, exec_id: &str) -> Result<i64, EngineError> {
    const OPERATION: &str = "exec";
    let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
    loop {
        let inspected: Value = raw
            .json(
                "inspect exec",
                Method::GET,
                &format!("/exec/{exec_id}/json"),
                None,
            )
            .await?;
        if inspected["Running"] != json!(true) {
            return inspected["ExitCode"]
                .as_i64()
                .ok_or_else(|| EngineError::Protocol {
                    operation: OPERATION,
                    message: "exec inspect has no ExitCode".into(),
                });
        }
        if tokio::time::Instant::now() > deadline {
            return Err(EngineError::Timeout {
                operation: OPERATION,
                after: EXIT_CODE_WAIT,
            });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Copies a container's logs (stdout and stderr separately) to `streams`; with `follow`, until the
/// container stops.
pub(crate) async fn stream_logs(
    raw: &RawClient,
    container: &str,
    follow: bool,
    tail: Option<u64>,
    streams: ExecStreams<'_>,
) -> Result<(), EngineError> {
    const OPERATION: &str = "container logs";
    let mut path = format!(
        "{}/containers/{container}/logs?follow={follow}&stdout=true&stderr=true",
        super::raw::LIBPOD_PREFIX
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
            super::raw::next_piece(&mut body)
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
        while let Some(frame) = decoder
            .next_frame()
            .map_err(|error| EngineError::Protocol {
                operation: OPERATION,
                message: error.to_string(),
            })?
        {
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
            super::raw::podman_message(&raw_bytes),
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
