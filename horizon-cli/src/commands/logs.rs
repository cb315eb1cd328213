//! `horizon-container logs NAME [-f] [--tail N]`: what a container's main process printed, its
//! stdout to stdout and its stderr to stderr (the spec's troubleshooting step `podman logs
//! horizonos-NAME`, found by label like every managed container). A closed pipe (`logs … | head`)
//! ends quietly.

use std::process::ExitCode;

use anyhow::anyhow;
use horizon_core::engine::{Engine, EngineError, ExecStreams};
use horizon_core::lifecycle;

use super::connect_engine;
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// `logs`: copy the container's output, following it with `follow`.
pub async fn run(
    global: &GlobalArgs,
    name: &str,
    follow: bool,
    tail: Option<u64>,
) -> Result<ExitCode, Failure> {
    let engine = connect_engine(global).await?;
    super::guard::recover_before_reading(global, &engine, name).await;
    let container = lifecycle::find_managed(&engine, name)
        .await
        .map_err(|error| Failure::other(anyhow!(error)))?
        .ok_or_else(|| {
            Failure::new(exit::FAILURE, anyhow!("{name} is not installed"))
                .with_hint(format!("install it: `horizon-container install {name}`"))
        })?;
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let streams = ExecStreams {
        stdin: None,
        stdout: &mut stdout,
        stderr: &mut stderr,
        resize: None,
        signals: None,
    };
    match engine.logs(&container.id, follow, tail, streams).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(EngineError::Output {
            kind: std::io::ErrorKind::BrokenPipe,
            ..
        }) => {
            tracing::debug!("output closed early");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Err(Failure::other(anyhow!(error))),
    }
}
