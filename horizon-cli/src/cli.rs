//! The command line of `horizon-container`, declared with clap. Help texts teach: each command says
//! what it does, and the long help gives an example.

use clap::{Args, Parser, Subcommand};

/// Manage HorizonOS system containers: install them from definitions, run commands in them, export
/// their binaries to the host, update and roll them back.
#[derive(Debug, Parser)]
#[command(name = "horizon-container", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Podman API endpoint: unix:///path/podman.sock, tcp://HOST:PORT or http://HOST:PORT.
    /// Default: CONTAINER_HOST, then the rootless socket, then /run/podman/podman.sock.
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Print machine-readable JSON (with a "schema_version") instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the Podman service horizon uses and the containers it manages.
    ///
    /// Example: horizon-container info --url unix:///run/podman/podman.sock
    Info,
}
