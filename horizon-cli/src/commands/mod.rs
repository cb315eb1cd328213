//! One module per verb. Each maps parsed arguments onto one horizon-core call and renders the result
//! into `impl Write` with a pure function, so output is tested as an exact string.

mod cleanup;
mod definition;
mod doctor;
mod enable;
mod export;
mod generate;
mod info;
mod install;
mod list;
mod logs;
mod remove;
mod repair;
mod rollback;
pub mod run;
pub mod shell;
mod start;
mod status;
mod stop;
mod update;

use std::process::ExitCode;

use horizon_cli_support::exit::Failure;

use crate::cli::{Cli, Command};

pub use horizon_cli_support::output::{finish_output, print_report};
pub use horizon_cli_support::session::{Session, cancel_on_signals, settings};

/// This binary's name, before every line it writes on stderr.
pub const BINARY: &str = "horizon-container";

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let session = Session::new(BINARY, &cli.global);
    let session = &session;
    match cli.command {
        Command::Info => info::run(session).await,
        Command::List => list::run(session).await,
        Command::Definition(command) => definition::run(session, command),
        Command::Doctor => doctor::run(session).await,
        Command::Docs(docs) => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut stdout = std::io::stdout().lock();
            finish_output(horizon_cli_support::docs::run(command, &docs, &mut stdout))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Install {
            name,
            reinstall,
            keep,
        } => install::run(session, &name, reinstall, keep).await,
        Command::Status { name } => status::run(session, &name).await,
        Command::Start { name, wait: false } => start::run(session, &name).await,
        Command::Start { name, wait: true } => enable::serve(session, &name).await,
        Command::Enable { name, now } => enable::enable(session, &name, now).await,
        Command::Disable { name, now } => enable::disable(session, &name, now).await,
        Command::Generate { kind, name } => generate::run(session, kind, &name).await,
        Command::Stop { name } => stop::run(session, &name).await,
        Command::Remove { name, keep_images } => remove::run(session, &name, keep_images).await,
        Command::Cleanup { dry_run } => cleanup::run(session, dry_run).await,
        Command::Repair { name } => repair::run(session, &name).await,
        Command::Export(args) => export::run(session, args).await,
        Command::Unexport { name } => export::unexport(session, &name),
        Command::Exports => export::list(session),
        Command::Run(args) => run::run(session, args).await,
        Command::Shell(args) => shell::run(session, args).await,
        Command::Logs { name, follow, tail } => logs::run(session, &name, follow, tail).await,
        Command::Update(args) => update::run(session, &args).await,
        Command::Rollback { name, to, wait } => rollback::run(session, &name, to, wait).await,
    }
}
