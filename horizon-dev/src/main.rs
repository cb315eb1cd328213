//! `horizon-dev`: the development-container helper (spec, "Development Workflow"): `horizon-dev
//! shell`, `horizon-dev gcc --version`, `horizon-dev setup rust`. A shim like the other binaries:
//! it parses, picks the development container (`--container`, `HORIZON_DEV_CONTAINER`, the
//! `container` key of `~/.config/horizonos/dev.json`, else the built-in `development`), and maps
//! each command onto horizon-core. Commands run as `horizon-container run` runs them, through the
//! same code (`horizon_cli_support::exec`): the agent first, before any other thread exists, the
//! libpod API otherwise. A development container that is not installed is offered for install.

mod offer;
mod setup;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use horizon_cli_support::docs;
use horizon_cli_support::exec::{self, ExecArgs};
use horizon_cli_support::exit::Failure;
use horizon_cli_support::session::{GlobalArgs, Session};
use horizon_core::{Horizon, Invocation};

/// This binary's name, before every line it writes on stderr.
pub(crate) const BINARY: &str = "horizon-dev";

/// The end of `--help`.
const EXAMPLES: &str = "Examples:
  horizon-dev shell
  horizon-dev gcc --version
  horizon-dev -e RUST_LOG=debug -w /tmp cargo run
  horizon-dev setup rust
  horizon-dev --container rusty -- setup.py build";

/// Work inside the HorizonOS development container: open a shell, run a tool, set up a
/// toolchain.
///
/// `horizon-dev CMD ARGS...` runs CMD in the development container from the current directory,
/// with its arguments, streams, terminal, exit status and signals passed through as
/// `horizon-container run` passes them. A command named like one of horizon-dev's own
/// (`shell`, `setup`, `help`…) follows `--`: `horizon-dev -- setup.py build`.
///
/// The development container is, first found: --container, HORIZON_DEV_CONTAINER, the
/// "container" key of $XDG_CONFIG_HOME/horizonos/dev.json (e.g. {"container": "rusty"}), else
/// the built-in definition `development`.
#[derive(Debug, Parser)]
#[command(
    name = "horizon-dev",
    after_help = EXAMPLES,
    version,
    arg_required_else_help = true,
    subcommand_value_name = "COMMAND",
    override_usage = "horizon-dev [OPTIONS] shell\n       horizon-dev [OPTIONS] CMD [ARGS]...\n       horizon-dev [OPTIONS] -- CMD [ARGS]...\n       horizon-dev completions|manpage …"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(flatten)]
    dev: DevArgs,
    #[command(flatten)]
    exec: ExecArgs,
    #[command(subcommand)]
    command: Option<DevCommand>,
}

/// Options of every horizon-dev command.
#[derive(Debug, Args)]
struct DevArgs {
    /// The development container (a definition's name) instead of the configured one.
    #[arg(
        long,
        global = true,
        value_name = "NAME",
        env = "HORIZON_DEV_CONTAINER"
    )]
    container: Option<String>,
    /// When the development container is not installed, install it without asking.
    #[arg(short = 'y', long, global = true)]
    yes: bool,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Open an interactive login shell in the development container, in the current directory.
    ///
    /// The container user's login shell with a real terminal (raw mode, window size, job
    /// control), through the container's agent when it has one. When the container is not
    /// installed, offers to install it (asked on a terminal; --yes installs without asking).
    ///
    /// Example: horizon-dev shell
    Shell(ShellArgs),
    /// Set up a development toolchain in the development container: rust, python, node, go, c
    /// (gcc, clang, make, cmake) or java.
    ///
    /// Installed with the image's package manager as the container's next generation, verified
    /// by the toolchain's probe (`cargo --version`, …), its binaries exported. The toolchain is
    /// recorded in your definition of the container; `horizon-container rollback NAME` takes it
    /// away again. --list shows every toolchain and which are set up; --remove takes one out.
    ///
    /// Example: horizon-dev setup rust
    Setup(setup::SetupArgs),
    #[command(flatten)]
    Docs(docs::DocsCommand),
    /// Any other word is a command to run in the development container.
    #[command(external_subcommand)]
    Command(Vec<OsString>),
}

/// `shell`'s arguments.
#[derive(Debug, Args)]
struct ShellArgs {
    #[command(flatten)]
    exec: ExecArgs,
}

/// What to run, once parsed.
struct ExecRequest {
    invocation: Invocation,
    args: ExecArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    horizon_cli_support::logging::init_tracing(env!("CARGO_CRATE_NAME"));
    let request = match cli.command {
        Some(DevCommand::Docs(command)) => return print_docs(&command),
        Some(DevCommand::Setup(args)) => {
            return match run_setup(&cli.global, &cli.dev, args) {
                Ok(code) => code,
                Err(failure) => failure.report(BINARY),
            };
        }
        Some(DevCommand::Shell(shell)) => ExecRequest {
            invocation: Invocation::LoginShell,
            args: merge(cli.exec, shell.exec),
        },
        Some(DevCommand::Command(argv)) => ExecRequest {
            invocation: Invocation::Command(argv),
            args: cli.exec,
        },
        None => ExecRequest {
            invocation: Invocation::Command(Vec::new()),
            args: cli.exec,
        },
    };
    match exec_in_dev_container(&cli.global, &cli.dev, request) {
        Ok(code) => code,
        Err(failure) => failure.report(BINARY),
    }
}

/// `completions` and `manpage`.
fn print_docs(command: &docs::DocsCommand) -> ExitCode {
    let written = docs::run(Cli::command(), command, &mut std::io::stdout().lock());
    // A closed pipe (`horizon-dev manpage | head`) is not a failure.
    match horizon_cli_support::output::finish_output(written) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(BINARY),
    }
}

/// `setup`, in the development container.
fn run_setup(
    global: &GlobalArgs,
    dev: &DevArgs,
    args: setup::SetupArgs,
) -> Result<ExitCode, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::other(error.into()))?;
    let session = Session::new(BINARY, global);
    let container = session.horizon.dev_container(dev.container.as_deref())?;
    runtime.block_on(setup::run(&session, &container.name, args))
}

/// Options given before `shell` and after it count alike (`horizon-dev -T shell`,
/// `horizon-dev shell -T`).
fn merge(before: ExecArgs, after: ExecArgs) -> ExecArgs {
    ExecArgs {
        env: before.env.into_iter().chain(after.env).collect(),
        workdir: after.workdir.or(before.workdir),
        tty: before.tty || after.tty,
        no_tty: before.no_tty || after.no_tty,
        user: after.user.or(before.user),
    }
}

/// Runs the request in the development container: through its agent when it has one (before
/// the runtime starts), else on the API path, offering to install the container first when it
/// is not installed.
fn exec_in_dev_container(
    global: &GlobalArgs,
    dev: &DevArgs,
    request: ExecRequest,
) -> Result<ExitCode, Failure> {
    let options = request.args.options()?;
    if let Invocation::Command(argv) = &request.invocation
        && argv.is_empty()
    {
        return Err(Failure::new(
            horizon_cli_support::exit::EXEC_FAILURE,
            anyhow::anyhow!("no command given"),
        )
        .with_hint("horizon-dev COMMAND [ARGS...], or horizon-dev shell"));
    }
    let horizon = Horizon::new(horizon_cli_support::session::settings(global));
    let container = horizon
        .dev_container(dev.container.as_deref())
        .map_err(|error| exec::as_exec_failure(error.into()))?;
    if let Some(code) = exec::through_agent(
        &horizon,
        BINARY,
        &container.name,
        &request.invocation,
        &options,
    ) {
        return Ok(code);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::other(error.into()))?;
    let session = Session::new(BINARY, global);
    runtime.block_on(async {
        let first = exec::execute(
            &session,
            &container.name,
            request.invocation.clone(),
            options.clone(),
        )
        .await;
        match first {
            Err(failure) if offer::is_not_installed(&failure) => {
                offer::install(&session, &container, dev.yes, failure).await?;
                exec::execute(&session, &container.name, request.invocation, options).await
            }
            other => other,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `horizon-dev ARGS...` parses to: the command's words, or `None` for `shell`.
    fn parsed(args: &[&str]) -> Option<Vec<OsString>> {
        let cli = Cli::try_parse_from(std::iter::once("horizon-dev").chain(args.iter().copied()))
            .unwrap();
        match cli.command {
            Some(DevCommand::Command(argv)) => Some(argv),
            Some(DevCommand::Shell(_)) => None,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_word_from_the_command_on_is_the_commands_and_dashes_reach_verbs_names() {
        let os = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            parsed(&["gcc", "--version", "-e", "x"]),
            Some(os(&["gcc", "--version", "-e", "x"]))
        );
        assert_eq!(
            parsed(&["-e", "A=1", "--container", "c", "cargo", "run"]),
            Some(os(&["cargo", "run"]))
        );
        assert_eq!(parsed(&["--", "setup", "x"]), Some(os(&["setup", "x"])));
        assert_eq!(parsed(&["--", "shell"]), Some(os(&["shell"])));
        assert_eq!(parsed(&["shell"]), None);
    }
}
