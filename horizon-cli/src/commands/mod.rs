//! One module per verb. Each maps parsed arguments onto one horizon-core call and renders the result
//! into `impl Write` with a pure function, so output is tested as an exact string.

mod cleanup;
pub(crate) mod completions;
mod connection;
mod definition;
mod doctor;
mod export;
mod guard;
mod info;
mod install;
mod installed;
mod list;
mod logs;
mod remove;
mod rollback;
mod run;
pub mod shell;
mod start;
mod status;
mod stop;
mod update;

use std::process::ExitCode;

use horizon_core::engine::PodmanEngine;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::Failure;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Info => info::run(&cli.global).await,
        Command::List => list::run(&cli.global).await,
        Command::Definition(command) => definition::run(&cli.global, command),
        Command::Doctor => doctor::run(&cli.global).await,
        Command::Docs(docs) => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut stdout = std::io::stdout().lock();
            finish_output(completions::run(command, &docs, &mut stdout))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Install {
            name,
            reinstall,
            keep,
        } => {
            let reinstall = reinstall.then_some(install::Reinstall {
                keep_previous: keep,
            });
            install::run(&cli.global, &name, reinstall).await
        }
        Command::Status { name } => status::run(&cli.global, &name).await,
        Command::Start { name } => start::run(&cli.global, &name).await,
        Command::Stop { name } => stop::run(&cli.global, &name).await,
        Command::Remove { name, keep_images } => remove::run(&cli.global, &name, keep_images).await,
        Command::Cleanup { dry_run } => cleanup::run(&cli.global, dry_run).await,
        Command::Export(args) => export::run(&cli.global, args).await,
        Command::Unexport { name } => export::unexport(&cli.global, &name),
        Command::Exports => export::list(&cli.global),
        Command::Run(args) => run::run(&cli.global, args).await,
        Command::Shell { name } => shell::run(&cli.global, name).await,
        Command::Logs { name, follow, tail } => logs::run(&cli.global, &name, follow, tail).await,
        Command::Update(args) => update::run(&cli.global, &args).await,
        Command::Rollback { name, to, wait } => rollback::run(&cli.global, &name, to, wait).await,
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

/// horizon's directories for this user (from the environment), with the global `--state-dir`
/// and `--export-dir` applied.
pub fn horizon_paths(global: &GlobalArgs) -> horizon_core::paths::HorizonPaths {
    let mut paths = horizon_core::paths::HorizonPaths::from_inputs(
        &horizon_core::paths::PathInputs::from_process(),
    );
    if let Some(dir) = &global.state_dir {
        paths.state_dir = dir.clone();
    }
    if let Some(dir) = &global.export_dir {
        paths.export_dir = dir.clone();
    }
    if let Some(dir) = &global.runtime_dir {
        paths.runtime_dir = dir.clone();
    }
    paths
}

/// The in-container agent for new containers: `$HORIZON_AGENT`, else the one installed beside
/// this binary (`../libexec/horizon/horizon-agent`, or `horizon-agent` in the same directory).
/// Only a static build is used (it must run in any image); without one, containers are made
/// the old way and their exports take the API path.
pub fn agent_host(global: &GlobalArgs) -> Option<horizon_core::lifecycle::AgentHost> {
    locate_agent(global).unwrap_or_else(|reason| {
        tracing::warn!("{reason}; containers are made without it");
        None
    })
}

/// Where [`agent_host`] looks, with why one found is unusable (`doctor` shows it).
pub fn locate_agent(
    global: &GlobalArgs,
) -> Result<Option<horizon_core::lifecycle::AgentHost>, String> {
    horizon_core::lifecycle::AgentHost::locate_for_this_process(horizon_paths(global).runtime_dir)
}

/// Connects to Podman as the global options say (starting the user's service when none answers),
/// mapping "nothing answers" to exit status 3.
pub async fn connect_engine(global: &GlobalArgs) -> Result<PodmanEngine, Failure> {
    connection::connect_engine(global).await
}

/// Ends a command's output: a closed pipe (`horizon-container list | head -1`) is not an error.
/// Prints a command's report on stdout: pretty JSON with `--json`, else the human rendering. A
/// closed stdout is not an error (see [`finish_output`]).
pub fn print_report<T: serde::Serialize>(
    json: bool,
    report: &T,
    render: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut stdout, report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else {
        render(&mut stdout)
    };
    finish_output(written)
}

pub fn finish_output(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::debug!("stdout closed early");
            Ok(())
        }
        other => Ok(other?),
    }
}
