//! One module per verb. Each maps parsed arguments onto one horizon-core call and renders the result
//! into `impl Write` with a pure function, so output is tested as an exact string.

mod info;

use std::process::ExitCode;

use anyhow::anyhow;
use horizon_core::endpoint::DiscoveryInput;
use horizon_core::engine::{ConnectError, PodmanEngine, connect};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::{self, Failure};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Info => info::run(&cli.global).await,
    }
}

/// Connects to Podman as the global options say, mapping "nothing answers" to exit status 3.
pub async fn connect_engine(global: &GlobalArgs) -> Result<PodmanEngine, Failure> {
    let input = DiscoveryInput::from_process(global.url.clone());
    match connect(&input).await {
        Ok((engine, candidate)) => {
            tracing::debug!(endpoint = %candidate.endpoint, origin = %candidate.origin, "connected");
            Ok(engine)
        }
        Err(error @ ConnectError::BadEndpoint(_)) => {
            Err(Failure::new(exit::INVALID_INPUT, anyhow!(error)))
        }
        Err(error) => Err(Failure::new(exit::NO_SERVICE, anyhow!(error)).with_hint(
            "start the service: `systemctl --user enable --now podman.socket` (rootless), \
             `systemctl enable --now podman.socket` (root), or `podman system service --time=0 &`",
        )),
    }
}
