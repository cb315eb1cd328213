//! One module per verb. Each maps parsed arguments onto one horizon-core call and renders the result
//! into `impl Write` with a pure function, so output is tested as an exact string.

mod definition;
mod info;
mod list;

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
        Command::List => list::run(&cli.global),
        Command::Definition(command) => definition::run(&cli.global, command),
    }
}

/// Where definitions are read from: the standard locations for this user (from `$HOME` and
/// `$XDG_CONFIG_HOME`), with the global directory options applied.
pub fn definition_sources(global: &GlobalArgs) -> horizon_core::DefinitionSources {
    let mut sources = horizon_core::DefinitionSources::from_environment(
        std::env::var_os("HOME"),
        std::env::var_os("XDG_CONFIG_HOME"),
    );
    if let Some(dir) = &global.system_dir {
        sources.system_dir = dir.clone();
    }
    if let Some(dir) = &global.user_dir {
        sources.user_dir = Some(dir.clone());
    }
    if let Some(uid) = global.system_owner {
        sources.system_owner = uid;
    }
    sources
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

/// Ends a command's output: a closed pipe (`horizon-container list | head -1`) is not an error.
pub fn finish_output(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::debug!("stdout closed early");
            Ok(())
        }
        other => Ok(other?),
    }
}
