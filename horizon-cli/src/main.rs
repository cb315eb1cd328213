//! `horizon-container`: manage HorizonOS system containers. A shim in the bootc style: parse the
//! arguments, set up logging and the runtime, run one command, render its error, choose the exit
//! status. Every command lives in `commands/` and is a short mapping onto one horizon-core call.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use horizon_cli_support::exit;

use crate::commands::BINARY;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    horizon_cli_support::logging::init_tracing(env!("CARGO_CRATE_NAME"));
    // Test builds only: the failpoints the end-to-end fault tests name.
    #[cfg(feature = "failpoints")]
    if let Err(error) = horizon_core::update::failpoint::configure_from_env() {
        return exit::Failure::new(exit::INVALID_INPUT, anyhow::anyhow!(error)).report(BINARY);
    }
    // `run` and `shell` through the container's agent run before any other thread exists: the
    // agent's client blocks the forwarded signals, which must hold for every thread.
    let through_agent = match &cli.command {
        cli::Command::Run(args) => commands::run::through_agent(&cli.global, args),
        cli::Command::Shell(args) => commands::shell::through_agent(&cli.global, args),
        _ => None,
    };
    if let Some(code) = through_agent {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return exit::Failure::other(error.into()).report(BINARY),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.report(BINARY),
    }
}
