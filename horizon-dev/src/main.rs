//! `horizon-dev`: the development-container helper (`horizon-dev shell`, `horizon-dev gcc
//! --version`, `horizon-dev setup rust` in the spec). Its commands land with the horizon-dev issue;
//! until then it has the documentation commands every horizon binary has: shell completions and
//! man pages generated from its command line.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use horizon_cli_support::docs;

/// Work inside the HorizonOS development container: open a shell, run a tool, set up a toolchain.
#[derive(Debug, Parser)]
#[command(name = "horizon-dev", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: docs::DocsCommand,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let written = docs::run(Cli::command(), &cli.command, &mut std::io::stdout().lock());
    // A closed pipe (`horizon-dev manpage | head`) is not a failure.
    match horizon_cli_support::output::finish_output(written) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report("horizon-dev"),
    }
}
