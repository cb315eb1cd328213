//! `horizon-container logs NAME [-f] [--tail N]`: what a container's main process printed, its
//! stdout to stdout and its stderr to stderr (the spec's troubleshooting step `podman logs
//! horizonos-NAME`, found by label like every managed container). A closed pipe (`logs … | head`)
//! ends quietly.

use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::engine::{EngineError, ExecStreams};

use super::Session;

/// `logs`: copy the container's output, following it with `follow`.
pub async fn run(
    session: &Session,
    name: &str,
    follow: bool,
    tail: Option<u64>,
) -> Result<ExitCode, Failure> {
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let streams = ExecStreams {
        stdin: None,
        stdout: &mut stdout,
        stderr: &mut stderr,
        resize: None,
        signals: None,
    };
    match session
        .horizon
        .logs(session.call(), name, follow, tail, streams)
        .await
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(horizon_core::Error::Engine(EngineError::Output {
            kind: std::io::ErrorKind::BrokenPipe,
            ..
        })) => {
            tracing::debug!("output closed early");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(error.into()),
    }
}
