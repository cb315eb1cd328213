//! Attached exec over raw libpod streams, in steps: the exec session is created, started on a
//! hijacked connection, and driven until its output ends — stdout and stderr read down (demultiplexed
//! unless a TTY was asked for) and written to the caller as they arrive, byte for byte, stdin
//! written up, the terminal size and signals forwarded — and its exit code is read when the stream
//! ends. A lifeline (`lifeline`) ends the process should this client die while it runs.

use std::time::Duration;

use hyper::Method;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::answers::{ExecInspect, ExecProgress};
use super::frames::{Frame, FrameDecoder};
use super::lifeline::Lifeline;
use super::raw::RawClient;
use crate::engine::{EngineError, ExecRequest, ExecStreams, TerminalSize};

/// What every exec error names.
const OPERATION: &str = "exec";
/// What an error reading the session's state names.
const INSPECT_EXEC: &str = "inspect exec";
/// How long to wait for Podman to record an exec's exit code after its stream closed.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(10);
/// How often to ask whether a started session's process has its pid yet.
const PID_POLL: Duration = Duration::from_millis(5);
/// Read buffer for the output stream.
const READ_BUFFER: usize = 32 * 1024;

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
    writer
        .write_all(bytes)
        .await
        .map_err(|e| output_error(OPERATION, &e))?;
    writer
        .flush()
        .await
        .map_err(|e| output_error(OPERATION, &e))
}

/// A failed write of the process's output to the caller.
pub(super) fn output_error(operation: &'static str, error: &std::io::Error) -> EngineError {
    EngineError::Output {
        operation,
        kind: error.kind(),
        message: error.to_string(),
    }
}

/// Runs `request` in `container` attached to `streams`; returns the process's exit code.
pub(super) async fn attached_exec(
    raw: &RawClient,
    container: &str,
    request: &ExecRequest,
    streams: ExecStreams<'_>,
) -> Result<i64, EngineError> {
    let ExecStreams {
        stdin,
        stdout,
        stderr,
        resize,
        signals,
    } = streams;
    let exec_id = create_session(raw, container, request, stdin.is_some()).await?;
    let initial_size = resize.as_ref().map(|receiver| *receiver.borrow());
    // Spawned before the start, so the guard is ready the moment the process is.
    let mut lifeline = if raw.is_local() {
        Lifeline::spawn()
    } else {
        None
    };
    let connection = start_session(raw, &exec_id, request.tty, initial_size).await?;
    let (reader, writer) = tokio::io::split(connection);
    let output = copy_output(raw, reader, request.tty, stdout, stderr);
    let session = Session {
        raw,
        exec_id: &exec_id,
        resize,
        signals,
    };
    // Armed while the output flows, not before: a session that fails to start is removed by
    // Podman soon after its stream ends, and its exit code must be read by then.
    let arm = async {
        if let Some(lifeline) = lifeline.as_mut() {
            arm_lifeline(raw, &exec_id, lifeline).await;
        }
    };
    session
        .drive(output, pump_stdin(stdin, writer), arm)
        .await?;
    // The output ends when the process does. On every earlier way out (an error above) the
    // lifeline is dropped unreleased, and the process, which nobody follows any more, is killed.
    if let Some(lifeline) = lifeline {
        lifeline.release().await;
    }
    exit_code(raw, &exec_id).await
}

/// Tells `lifeline` the session's host pid as soon as Podman reports it. A session that ended
/// already needs no guard; one Podman cannot tell about runs unguarded (logged): the guard never
/// fails the command.
async fn arm_lifeline(raw: &RawClient, exec_id: &str, lifeline: &mut Lifeline) {
    let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
    loop {
        let progress = inspect_exec(raw, exec_id)
            .await
            .and_then(|answer| answer.progress(INSPECT_EXEC));
        match progress {
            Ok(ExecProgress::Running(pid)) => return lifeline.arm(pid).await,
            Ok(ExecProgress::Ended) => return,
            Ok(ExecProgress::NotStarted) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(PID_POLL).await;
            }
            Ok(ExecProgress::NotStarted) => {
                tracing::debug!("the exec session reports no pid; it runs unguarded");
                return;
            }
            Err(error) => {
                tracing::debug!(%error, "cannot read the exec session's pid; it runs unguarded");
                return;
            }
        }
    }
}

/// Creates the exec session and returns its id.
async fn create_session(
    raw: &RawClient,
    container: &str,
    request: &ExecRequest,
    attach_stdin: bool,
) -> Result<String, EngineError> {
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let mut create = json!({
        "AttachStdin": attach_stdin,
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
    Ok(created.id)
}

/// Starts the session on a hijacked connection (sized like the terminal, for a TTY).
async fn start_session(
    raw: &RawClient,
    exec_id: &str,
    tty: bool,
    size: Option<TerminalSize>,
) -> Result<hyper::upgrade::Upgraded, EngineError> {
    let mut start = json!({ "Detach": false, "Tty": tty });
    if let Some(size) = size {
        start["h"] = json!(size.rows);
        start["w"] = json!(size.columns);
    }
    raw.upgrade(
        "start exec",
        &format!("/exec/{exec_id}/start"),
        start.to_string().into_bytes(),
    )
    .await
}

/// Copies the process's output to the caller until the stream ends: raw with a TTY, else
/// demultiplexed into stdout and stderr. Podman's own error frames, a frame cut short, or a
/// connection that fails are errors.
async fn copy_output(
    raw: &RawClient,
    mut reader: impl AsyncRead + Unpin,
    tty: bool,
    stdout: &mut (dyn AsyncWrite + Send + Unpin),
    stderr: &mut (dyn AsyncWrite + Send + Unpin),
) -> Result<(), EngineError> {
    let mut decoder = FrameDecoder::default();
    let mut buffer = vec![0u8; READ_BUFFER];
    let mut podman_error = Vec::new();
    loop {
        let read = reader
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
        while let Some(frame) = decoder.next_frame_of(OPERATION)? {
            match frame {
                Frame::Stdout(bytes) => write_through(&mut *stdout, &bytes).await?,
                Frame::Stderr(bytes) => {
                    let bytes = without_attach_noise(&bytes);
                    if !bytes.is_empty() {
                        write_through(&mut *stderr, &bytes).await?;
                    }
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
}

/// Podman's report of its own attach connection, which it writes on the exec's stderr after the
/// runtime's message when the program could not be started (126, 127): not the program's output.
const ATTACH_NOISE_PREFIX: &[u8] = b"Error: read unixpacket ";
const ATTACH_NOISE_SUFFIX: &[u8] = b"/attach: read: connection reset by peer";

/// `bytes` without the lines that are Podman's attach noise ([`ATTACH_NOISE_PREFIX`]).
fn without_attach_noise(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let is_noise = |line: &[u8]| {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        line.starts_with(ATTACH_NOISE_PREFIX) && line.ends_with(ATTACH_NOISE_SUFFIX)
    };
    if !bytes.split_inclusive(|byte| *byte == b'\n').any(is_noise) {
        return std::borrow::Cow::Borrowed(bytes);
    }
    std::borrow::Cow::Owned(
        bytes
            .split_inclusive(|byte| *byte == b'\n')
            .filter(|line| !is_noise(line))
            .flatten()
            .copied()
            .collect(),
    )
}

/// Copies the caller's stdin up to the process, then half-closes the connection so the process
/// sees end of file; without a stdin it does nothing.
async fn pump_stdin(
    stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    mut writer: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    if let Some(stdin) = stdin {
        tokio::io::copy(stdin, &mut writer).await?;
        writer.shutdown().await?;
    }
    Ok(())
}

/// A started exec session and what the caller forwards to it while it runs.
struct Session<'a> {
    raw: &'a RawClient,
    exec_id: &'a str,
    resize: Option<watch::Receiver<TerminalSize>>,
    signals: Option<mpsc::UnboundedReceiver<i32>>,
}

impl Session<'_> {
    /// Runs until `output` ends, meanwhile feeding stdin, arming the lifeline and forwarding size
    /// changes and signals.
    async fn drive(
        mut self,
        output: impl Future<Output = Result<(), EngineError>>,
        stdin: impl Future<Output = std::io::Result<()>>,
        arm: impl Future<Output = ()>,
    ) -> Result<(), EngineError> {
        tokio::pin!(output);
        tokio::pin!(stdin);
        tokio::pin!(arm);
        let mut stdin_open = true;
        let mut arming = true;
        loop {
            tokio::select! {
                result = &mut output => return result,
                () = &mut arm, if arming => arming = false,
                result = &mut stdin, if stdin_open => {
                    stdin_open = false;
                    if let Err(error) = result {
                        // The process may exit or close its stdin before reading everything.
                        tracing::debug!(%error, "exec stdin closed early");
                    }
                }
                changed = async { self.resize.as_mut()?.changed().await.ok() }, if self.resize.is_some() => {
                    match changed {
                        Some(()) => {
                            let size = self.resize.as_ref().map(|receiver| *receiver.borrow()).unwrap_or_default();
                            resize_exec(self.raw, self.exec_id, size).await;
                        }
                        None => self.resize = None,
                    }
                }
                signal = async { self.signals.as_mut()?.recv().await }, if self.signals.is_some() => {
                    match signal {
                        Some(signal) => signal_exec(self.raw, self.exec_id, signal).await,
                        None => self.signals = None,
                    }
                }
            }
        }
    }
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
    let pid = match inspect_exec(raw, exec_id)
        .await
        .and_then(|answer| answer.pid(INSPECT_EXEC))
    {
        Ok(pid) => pid,
        Err(error) => {
            tracing::debug!(%error, "cannot read the exec session's pid");
            None
        }
    };
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
    let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
    loop {
        if let Some(code) = inspect_exec(raw, exec_id).await?.exit_code(INSPECT_EXEC)? {
            return Ok(code);
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

/// The exec session as Podman reports it now.
async fn inspect_exec(raw: &RawClient, exec_id: &str) -> Result<ExecInspect, EngineError> {
    raw.json(
        INSPECT_EXEC,
        Method::GET,
        &format!("/exec/{exec_id}/json"),
        None,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_attach_noise_is_dropped_and_nothing_else() {
        let runtime =
            b"Error: runc: exec failed: exec: \"x\": executable file not found in $PATH\n";
        let noise =
            b"Error: read unixpacket @->/proc/self/fd/17/attach: read: connection reset by peer\n";
        let mut both = runtime.to_vec();
        both.extend_from_slice(noise);
        assert_eq!(&*without_attach_noise(&both), &runtime[..]);
        assert_eq!(&*without_attach_noise(noise), b"");
        assert_eq!(&*without_attach_noise(&noise[..noise.len() - 1]), b"");
        for kept in [
            &runtime[..],
            b"Error: read unixpacket elsewhere\n",
            b"partial line",
        ] {
            assert_eq!(&*without_attach_noise(kept), kept);
        }
    }
}
