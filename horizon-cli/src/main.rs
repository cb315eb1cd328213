//! `horizon-container`: manage HorizonOS system containers. A shim in the bootc style: parse the
//! arguments, set up logging and the runtime, run one command, render its error, choose the exit
//! status. Every command lives in `commands/` and is a short mapping onto one horizon-core call.

mod cli;
mod commands;
mod exit;
mod terminal;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing();
    // Test builds only: the failpoints the end-to-end fault tests name.
    #[cfg(feature = "failpoints")]
    if let Some(spec) = std::env::var_os("HORIZON_FAILPOINTS")
        && let Err(error) = horizon_core::update::failpoint::configure(&spec.to_string_lossy())
    {
        return report(&exit::Failure::new(
            exit::INVALID_INPUT,
            anyhow::anyhow!(error),
        ));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return report(&exit::Failure::other(error.into())),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(failure) => report(&failure),
    }
}

/// What `HORIZON_DEBUG=1` shows: horizon's own debug events (every Podman API call with method,
/// path, status and duration), not the HTTP library's chatter.
const DEBUG_FILTER: &str = "warn,horizon_core=debug,horizon_container=debug";

/// `HORIZON_DEBUG=1` (or `RUST_LOG`) turns on tracing on stderr; colours only on a terminal.
fn init_tracing() {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => filter,
        Err(_) if std::env::var_os("HORIZON_DEBUG").is_some_and(|v| v != "0") => {
            DEBUG_FILTER.into()
        }
        Err(_) => "warn".into(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}

/// Prints the error chain on stderr and returns its exit status.
fn report(failure: &exit::Failure) -> ExitCode {
    let mut stderr = std::io::stderr().lock();
    // If stderr itself is gone there is nobody left to tell.
    let _ = writeln!(stderr, "horizon-container: error: {:#}", failure.error);
    if let Some(hint) = &failure.hint {
        let _ = writeln!(stderr, "hint: {hint}");
    }
    ExitCode::from(failure.status)
}
