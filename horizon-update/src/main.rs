//! `horizon-update`: updates the OSTree base system, the containers and the user applications
//! together, and rolls them back together (`--all`, `--containers`, `--check`, `--rollback`,
//! `--history`). A shim in the bootc style: parse and validate the arguments, gather the host facts
//! (which base-system tool, which application sources, where the state is), call one
//! horizon-core operation, render its report, choose the exit status.

mod cli;
mod render;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use clap::{CommandFactory, Parser};
use horizon_core::apps::AppHost;
use horizon_core::base::{BackendKind, BaseDetection, DetectInput, OSTREE_BOOTED_MARKER, detect};
use horizon_core::definition::{Catalog, DefinitionSources};
use horizon_core::endpoint::DiscoveryInput;
use horizon_core::engine::PodmanEngine;
use horizon_core::host_command::{SystemRunner, find_program};
use horizon_core::lifecycle::{DesktopHost, StateStore};
use horizon_core::paths::{HorizonPaths, PathInputs};
use horizon_core::system_update::containers::ContainersContext;
use horizon_core::system_update::{
    self, Progress, RollbackScope, SystemContext, SystemUpdateError, UpdateScope,
};
use horizon_core::update::{
    DEFAULT_KEEP_PREVIOUS, RegistryClient, UpdateStores, recover_if_interrupted,
};

use crate::cli::{Action, BackendChoice, Cli, Options};
use crate::exit::Failure;
use crate::interrupt::Interrupt;
use crate::progress::ProgressView;

// Shared with the other binaries: one implementation of completions and man pages.
#[path = "../../horizon-cli/src/commands/completions.rs"]
mod docs;
// The failure type (error, exit status, hint) of horizon-container; horizon-update uses its
// general statuses and adds its own below.
#[allow(dead_code)] // horizon-container's exec statuses are not horizon-update's.
#[path = "../../horizon-cli/src/exit.rs"]
mod exit;
// One tracing setup for every binary.
#[path = "../../horizon-cli/src/logging.rs"]
mod logging;
// Progress of long work, as horizon-container shows it.
#[path = "../../horizon-cli/src/progress.rs"]
mod progress;
// Ctrl-C and SIGTERM during an update or a rollback, as horizon-container handles them.
#[path = "../../horizon-cli/src/interrupt.rs"]
mod interrupt;

/// Another horizon-update holds the lock.
pub const BUSY: u8 = 4;
/// `--check` only: some layer has an update (and none failed). 100, as `dnf check-update` uses.
pub const UPDATES_AVAILABLE: u8 = 100;
/// snapd's socket: snaps are a layer only where snapd runs.
const SNAPD_SOCKET: &str = "/run/snapd.socket";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(docs) = &cli.docs {
        let written = docs::run(Cli::command(), docs, &mut std::io::stdout().lock());
        return match written {
            Ok(()) => ExitCode::SUCCESS,
            // A closed pipe (`horizon-update manpage | head`) is not a failure.
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(error) => Failure::other(error.into()).report(),
        };
    }
    logging::init_tracing();
    // Test builds only: the failpoints the end-to-end fault tests name.
    #[cfg(feature = "failpoints")]
    if let Err(error) = horizon_core::update::failpoint::configure_from_env() {
        return Failure::new(exit::INVALID_INPUT, anyhow!(error)).report();
    }
    let action = match Action::from_flags(&cli.flags) {
        Ok(action) => action,
        Err(message) => {
            return Failure::new(exit::INVALID_INPUT, anyhow!(message))
                .with_hint("horizon-update --help lists the actions, with examples")
                .report();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Failure::other(error.into()).report(),
    };
    match runtime.block_on(run(action, &cli.options)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

/// The host facts every action needs.
struct Host {
    runner: SystemRunner,
    base: BaseDetection,
    apps: AppHost,
    state_dir: PathBuf,
    catalog: Catalog,
    registry: RegistryClient,
    desktop: DesktopHost,
    /// The in-container agent updated containers get (as `horizon-container` finds it).
    agent: Option<horizon_core::lifecycle::AgentHost>,
    /// Podman, when the action changes containers and some are installed; else why not.
    engine: Result<PodmanEngine, String>,
}

impl Host {
    async fn gather(options: &Options, action: Action) -> Host {
        let runner = SystemRunner::default();
        let base = detect(&DetectInput {
            backend: match options.backend {
                BackendChoice::Auto => None,
                BackendChoice::Ostree => Some(BackendKind::Ostree),
                BackendChoice::RpmOstree => Some(BackendKind::RpmOstree),
                BackendChoice::Bootc => Some(BackendKind::Bootc),
            },
            sysroot: options.sysroot.clone(),
            os: options.os.clone(),
            ostree_booted: Path::new(OSTREE_BOOTED_MARKER).exists(),
            has_ostree: find_program("ostree", None).is_some(),
            has_rpm_ostree: find_program("rpm-ostree", None).is_some(),
            has_bootc: find_program("bootc", None).is_some(),
        });
        let apps = AppHost {
            has_flatpak: find_program("flatpak", None).is_some(),
            has_snapd: find_program("snap", None).is_some() && Path::new(SNAPD_SOCKET).exists(),
        };
        let state_dir = options
            .state_dir
            .clone()
            .unwrap_or_else(|| HorizonPaths::from_inputs(&PathInputs::from_process()).state_dir);
        let mut sources = DefinitionSources::from_environment(
            std::env::var_os("HOME"),
            std::env::var_os("XDG_CONFIG_HOME"),
        );
        if let Some(dir) = &options.system_dir {
            sources.system_dir = dir.clone();
        }
        if let Some(dir) = &options.user_dir {
            sources.user_dir = Some(dir.clone());
        }
        let registry = RegistryClient::for_this_process();
        let mut paths = HorizonPaths::from_inputs(&PathInputs::from_process());
        if let Some(dir) = std::env::var_os("HORIZON_RUNTIME_DIR") {
            paths.runtime_dir = PathBuf::from(dir);
        }
        let agent = horizon_core::lifecycle::AgentHost::locate_for_this_process(paths.runtime_dir)
            .unwrap_or_else(|reason| {
                // Quiet: most runs update no container; horizon-container install says it loudly.
                tracing::debug!("{reason}");
                None
            });
        let desktop = DesktopHost::probe(
            std::env::var("DISPLAY").ok(),
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            std::env::var("WAYLAND_DISPLAY").ok(),
        );
        let engine = if changes_containers(action) && has_containers(&state_dir) {
            connect(options.url.clone()).await
        } else {
            Err("Podman is not needed for this action".to_owned())
        };
        Host {
            runner,
            base,
            apps,
            catalog: horizon_core::definition::load(&sources),
            state_dir,
            registry,
            desktop,
            agent,
            engine,
        }
    }

    fn containers(&self) -> ContainersContext<'_, PodmanEngine> {
        ContainersContext {
            engine: self.engine.as_ref().map_err(Clone::clone),
            catalog: &self.catalog,
            registry: &self.registry,
            desktop: &self.desktop,
            keep_previous: DEFAULT_KEEP_PREVIOUS,
            agent: self.agent.as_ref(),
        }
    }
}

/// True for the actions that update or roll back containers.
fn changes_containers(action: Action) -> bool {
    matches!(
        action,
        Action::All
            | Action::Containers
            | Action::Rollback(RollbackScope::Both | RollbackScope::Containers)
    )
}

/// True when some container is installed (or its records cannot be read: the layer then says why).
fn has_containers(state_dir: &Path) -> bool {
    StateStore::new(state_dir)
        .list()
        .map_or(true, |records| !records.is_empty())
}

/// Podman, found as horizon-container finds it (`--url`, `CONTAINER_HOST`, the rootless socket,
/// the rootful one), without starting a service; or what went wrong and how to fix it.
async fn connect(url: Option<String>) -> Result<PodmanEngine, String> {
    horizon_core::engine::connect(&DiscoveryInput::from_process(url), None)
        .await
        .map(|connection| connection.engine)
        .map_err(|error| {
            format!(
                "{error} (start Podman's service: `systemctl enable --now podman.socket`, or \
                 `systemctl --user enable --now podman.socket` for your own containers)"
            )
        })
}

async fn run(action: Action, options: &Options) -> Result<ExitCode, Failure> {
    let host = Host::gather(options, action).await;
    let containers = host.containers();
    let context = SystemContext {
        runner: &host.runner,
        base: &host.base,
        containers: &containers,
        apps: &host.apps,
        state_dir: &host.state_dir,
    };
    let view = ProgressView::new(std::io::stderr().is_terminal(), "horizon-update: ", false);
    let progress = |step: Progress| show_progress(&view, &step);
    match action {
        Action::History => {
            let history = system_update::history(&host.state_dir).map_err(failure)?;
            print(options.json, &history, |out| render::history(out, &history))?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Check => {
            let report = system_update::check(&context, &progress).await;
            view.finish();
            print(options.json, &report, |out| render::check(out, &report))?;
            Ok(ExitCode::from(if report.any_failed() {
                exit::FAILURE
            } else if report.updates_available() {
                UPDATES_AVAILABLE
            } else {
                0
            }))
        }
        Action::All | Action::Containers => {
            let lock = system_update::lock(&host.state_dir).map_err(failure)?;
            let scope = if action == Action::All {
                UpdateScope::All
            } else {
                UpdateScope::Containers
            };
            let work = system_update::update(&context, &lock, scope, now_unix(), &progress);
            let report = unless_interrupted(&host, &view, work).await?;
            print(options.json, &report, |out| render::update(out, &report))?;
            Ok(status_of(report.any_failed()))
        }
        Action::Rollback(scope) => {
            let lock = system_update::lock(&host.state_dir).map_err(failure)?;
            let work = system_update::rollback(&context, &lock, scope, &progress);
            let report = unless_interrupted(&host, &view, work).await?;
            print(options.json, &report, |out| render::rollback(out, &report))?;
            Ok(status_of(report.any_failed()))
        }
    }
}

/// Runs `work` (an update or a rollback) until it ends or Ctrl-C / SIGTERM stops it; then
/// [`interrupted`] finishes what it left. The progress view is finished either way.
async fn unless_interrupted<T>(
    host: &Host,
    view: &ProgressView,
    work: impl Future<Output = Result<T, SystemUpdateError>>,
) -> Result<T, Failure> {
    let mut interrupt = Interrupt::listen()?;
    let outcome = tokio::select! {
        // A signal that arrived wins over a step that finished meanwhile.
        biased;
        signal = interrupt.received() => Err(signal),
        outcome = work => Ok(outcome),
    };
    view.finish();
    match outcome {
        Ok(outcome) => outcome.map_err(failure),
        Err(signal) => Err(interrupted(host, signal).await),
    }
}

/// After Ctrl-C or SIGTERM stopped an update or a rollback at an await point: every container
/// transaction it left in its journal is reverted or completed (as `horizon-container` does),
/// each said on stderr, and the run ends with exit status 130. No system generation is recorded
/// for the interrupted run: the next one records what the machine then runs. A base deployment
/// being staged is ostree's own transaction (its tool got the terminal's SIGINT too).
async fn interrupted(host: &Host, signal: &str) -> Failure {
    let mut unfinished = Vec::new();
    if let Ok(engine) = &host.engine {
        let stores = UpdateStores::new(&host.state_dir);
        let names = StateStore::new(&host.state_dir)
            .list()
            .map(|records| records.into_iter().map(|record| record.name))
            .into_iter()
            .flatten();
        for name in names {
            match recover_if_interrupted(engine, &stores, &name).await {
                // Losing the notice is not worth failing the rest of the recovery for.
                Ok(Some(recovery)) => {
                    let _ = writeln!(std::io::stderr().lock(), "horizon-update: {recovery}");
                }
                Ok(None) => {}
                Err(error) => unfinished.push(format!("{name}: {error:#}")),
            }
        }
    }
    let failure = Failure::new(
        exit::INTERRUPTED,
        anyhow!("interrupted ({signal}); no system generation was recorded for this run"),
    );
    if unfinished.is_empty() {
        failure.with_hint("horizon-update --history shows the generation in effect")
    } else {
        failure.with_hint(format!(
            "these could not be finished now; the next horizon-container or horizon-update \
             command finishes them: {}",
            unfinished.join("; ")
        ))
    }
}

fn status_of(any_failed: bool) -> ExitCode {
    ExitCode::from(if any_failed { exit::FAILURE } else { 0 })
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// A library error as a failure with its exit status and the command that helps.
fn failure(error: SystemUpdateError) -> Failure {
    match &error {
        SystemUpdateError::NothingToRollBack { .. } => Failure::other(anyhow!(error))
            .with_hint("horizon-update --history lists the recorded system generations"),
        SystemUpdateError::Busy { .. } => Failure::new(BUSY, anyhow!(error))
            .with_hint("wait for it to finish, then run this again"),
        _ => Failure::other(anyhow!(error)),
    }
}

/// Shows one step of a long run: a line per step in a log, a spinner per step on a terminal
/// (horizon-container's view: a base download or a container build takes minutes).
fn show_progress(view: &ProgressView, step: &Progress) {
    let (layer, subject) = match step {
        Progress::Layer { layer, action } => (*layer, format!("{action}…")),
        Progress::Container { name, step } => ("containers", format!("{name}: {step}")),
    };
    view.show(&progress::Progress::Step {
        step: &layer,
        subject: &subject,
        pull: false,
    });
}

/// Prints a report on stdout: JSON with its schema version, or the human rendering. A closed
/// stdout is not an error.
fn print<T: serde::Serialize>(
    json: bool,
    report: &T,
    render: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut stdout, &render::Json::new(report))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else {
        render(&mut stdout)
    };
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
