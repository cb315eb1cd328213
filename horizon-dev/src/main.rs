//! `horizon-dev`: the development-container helper (`horizon-dev shell`, `horizon-dev gcc
//! --version`, `horizon-dev setup rust` in the spec). Its commands land with the horizon-dev issue;
//! until then it has the documentation commands every horizon binary has: shell completions and
//! man pages generated from its command line.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

// Shared with the other binaries: one implementation of completions and man pages.
#[path = "../../horizon-cli/src/commands/completions.rs"]
mod docs;

/// Work inside the HorizonOS development container: open a shell, run a tool, set up a toolchain.
#[derive(Debug, Parser)]
#[command(name = "horizon-dev", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: docs::DocsCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match docs::run(Cli::command(), &cli.command, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`horizon-dev manpage | head`) is not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)] // The binary's one error report.
            {
                eprintln!("horizon-dev: error: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
