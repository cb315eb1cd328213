//! `horizon-dev`: the development-container helper (`horizon-dev shell`, `horizon-dev gcc
//! --version`, `horizon-dev setup rust` in the spec). A shim in the bootc style: parse the
//! arguments, set up logging and the runtime, run one command, render its error, choose the exit
//! status. `setup` lives in `setup.rs`; the documentation commands (completions, man pages) are
//! the ones every horizon binary has.

mod setup;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use horizon_cli_support::docs;

/// The development container a command works on unless `--container` names another.
const DEFAULT_CONTAINER: &str = "development";

/// Work inside the HorizonOS development container: open a shell, run a tool, set up a toolchain.
#[derive(Debug, Parser)]
#[command(name = "horizon-dev", version, arg_required_else_help = true)]
struct Cli {
    /// The development container (a definition name).
    #[arg(long, global = true, value_name = "NAME", default_value = DEFAULT_CONTAINER)]
    container: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Set up a development toolchain in the container (rust, python, node, go, c, java), as its
    /// next generation; `horizon-container rollback NAME` takes it away again.
    Setup(setup::SetupArgs),
    #[command(flatten)]
    Docs(docs::DocsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    horizon_cli_support::logging::init_tracing(env!("CARGO_CRATE_NAME"));
    match cli.command {
        Command::Docs(command) => {
            let written = docs::run(Cli::command(), &command, &mut std::io::stdout().lock());
            // A closed pipe (`horizon-dev manpage | head`) is not a failure.
            match horizon_cli_support::output::finish_output(written) {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => failure.report(setup::BINARY),
            }
        }
        Command::Setup(args) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    return horizon_cli_support::exit::Failure::other(error.into())
                        .report(setup::BINARY);
                }
            };
            let session = setup::Session::from_process();
            match runtime.block_on(setup::run(&session, &cli.container, args)) {
                Ok(code) => code,
                Err(failure) => failure.report(setup::BINARY),
            }
        }
    }
}
