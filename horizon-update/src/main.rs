//! `horizon-update`: updates the OSTree base system and the containers together, with rollback
//! (`--all`, `--containers`, `--check`, `--rollback` in the spec). Its commands land with the
//! horizon-update issue; until then it has the documentation commands every horizon binary has:
//! shell completions and man pages generated from its command line.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

// Shared with the other binaries: one implementation of completions and man pages.
#[path = "../../horizon-cli/src/commands/completions.rs"]
mod docs;

/// Update HorizonOS: the immutable base system and its containers, recorded together so that one
/// rollback restores both.
#[derive(Debug, Parser)]
#[command(name = "horizon-update", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: docs::DocsCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match docs::run(Cli::command(), &cli.command, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`horizon-update manpage | head`) is not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)] // The binary's one error report.
            {
                eprintln!("horizon-update: error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
