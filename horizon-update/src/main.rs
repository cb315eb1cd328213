//! `horizon-update`: updates the OSTree base system, the containers and the user applications
//! together, and rolls them back together (`--all`, `--containers`, `--check`, `--rollback`,
//! `--history`). A shim in the bootc style: parse and validate the arguments, gather the host facts
//! (which base-system tool, which application sources, where the state is), call one
//! horizon-core operation, render its report, choose the exit status.

mod cli;
mod render;

use std::process::ExitCode;

use anyhow::anyhow;
use clap::{CommandFactory, Parser};
use horizon_cli_support::exit::{self, Failure};
use horizon_cli_support::notices::{ProgressLayout, StderrObserver};
use horizon_cli_support::output::print_report;
use horizon_core::base::BackendKind;
use horizon_core::system_update::UpdateScope;
use horizon_core::usecase::{Overrides, ServiceStart, SystemOptions};
use horizon_core::{Call, Horizon, Settings};

use crate::cli::{Action, BackendChoice, Cli, Options};

/// This binary's name, before every line it writes on stderr.
const BINARY: &str = "horizon-update";

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(docs) = &cli.docs {
        let written =
            horizon_cli_support::docs::run(Cli::command(), docs, &mut std::io::stdout().lock());
        return match horizon_cli_support::output::finish_output(written) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => failure.report(BINARY),
        };
    }
    horizon_cli_support::logging::init_tracing(env!("CARGO_CRATE_NAME"));
    // Test builds only: the failpoints the end-to-end fault tests name.
    #[cfg(feature = "failpoints")]
    if let Err(error) = horizon_core::update::failpoint::configure_from_env() {
        return Failure::new(exit::INVALID_INPUT, anyhow!(error)).report(BINARY);
    }
    let action = match Action::from_flags(&cli.flags) {
        Ok(action) => action,
        Err(message) => {
            return Failure::new(exit::INVALID_INPUT, anyhow!(message))
                .with_hint("horizon-update --help lists the actions, with examples")
                .report(BINARY);
        }
    };
    if cli.options.unattended && !matches!(action, Action::All | Action::Containers) {
        return Failure::new(
            exit::INVALID_INPUT,
            anyhow!("--unattended goes with --all or --containers"),
        )
        .report(BINARY);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Failure::other(error.into()).report(BINARY),
    };
    match runtime.block_on(run(action, &cli.options)) {
        Ok(code) => code,
        Err(failure) => failure.report(BINARY),
    }
}

/// This process's settings with the options applied; a missing Podman service is never started
/// (a system update runs unattended).
fn settings(options: &Options) -> Settings {
    let mut settings = Settings::from_process(Overrides {
        url: options.url.clone(),
        system_dir: options.system_dir.clone(),
        user_dir: options.user_dir.clone(),
        state_dir: options.state_dir.clone(),
        ..Overrides::default()
    });
    settings.service_start = ServiceStart::Never;
    settings
}

async fn run(action: Action, options: &Options) -> Result<ExitCode, Failure> {
    let horizon = Horizon::new(settings(options));
    let system = SystemOptions {
        backend: match options.backend {
            BackendChoice::Auto => None,
            BackendChoice::Ostree => Some(BackendKind::Ostree),
            BackendChoice::RpmOstree => Some(BackendKind::RpmOstree),
            BackendChoice::Bootc => Some(BackendKind::Bootc),
        },
        sysroot: options.sysroot.clone(),
        os: options.os.clone(),
    };
    let observer = StderrObserver::new(BINARY, ProgressLayout::System);
    let cancel = horizon_cli_support::interrupt::cancel_on_signals()?;
    let call = Call::new(&cancel, &observer);
    let json = options.json;
    match action {
        Action::History => {
            let history = horizon.system_history().map_err(failure)?;
            print_report(json, &history, |out| render::history(out, &history))?;
            Ok(ExitCode::SUCCESS)
        }
        Action::Check => {
            let report = horizon.system_check(call, &system).await;
            observer.finish();
            print_report(json, &report, |out| render::check(out, &report))?;
            Ok(ExitCode::from(if report.any_failed() {
                exit::FAILURE
            } else if report.updates_available() {
                exit::UPDATES_AVAILABLE
            } else {
                exit::SUCCESS
            }))
        }
        Action::EnableTimer => {
            let report = horizon.enable_update_timer(call).await.map_err(failure)?;
            print_report(json, &report, |out| {
                use std::io::Write;
                writeln!(
                    out,
                    "enabled {} (runs {} daily)",
                    report.timer.display(),
                    report.service.display()
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Action::All | Action::Containers if options.unattended => {
            let scope = update_scope(action);
            let report = horizon.unattended_update(call, scope, &system).await;
            observer.finish();
            let report = report.map_err(failure)?;
            print_report(json, &report, |out| render::unattended(out, &report))?;
            let failed = report
                .update
                .as_ref()
                .is_some_and(|update| update.any_failed());
            Ok(status_of(failed))
        }
        Action::All | Action::Containers => {
            let scope = update_scope(action);
            let report = horizon.system_update(call, scope, &system).await;
            observer.finish();
            let report = report.map_err(failure)?;
            print_report(json, &report, |out| render::update(out, &report))?;
            Ok(status_of(report.any_failed()))
        }
        Action::Rollback(scope) => {
            let report = horizon.system_rollback(call, scope, &system).await;
            observer.finish();
            let report = report.map_err(failure)?;
            print_report(json, &report, |out| render::rollback(out, &report))?;
            Ok(status_of(report.any_failed()))
        }
    }
}

/// What `--all` or `--containers` update.
fn update_scope(action: Action) -> UpdateScope {
    if action == Action::All {
        UpdateScope::All
    } else {
        UpdateScope::Containers
    }
}

fn status_of(any_failed: bool) -> ExitCode {
    ExitCode::from(if any_failed {
        exit::FAILURE
    } else {
        exit::SUCCESS
    })
}

/// A library error as a failure with its exit status and the command that helps. An
/// interruption records no system generation for the run, and says so.
fn failure(error: horizon_core::Error) -> Failure {
    match &error {
        horizon_core::Error::Interrupted {
            reason, unfinished, ..
        } => {
            let failure = Failure::new(
                exit::INTERRUPTED,
                anyhow!("interrupted ({reason}); no system generation was recorded for this run"),
            );
            match unfinished {
                None => {
                    failure.with_hint("horizon-update --history shows the generation in effect")
                }
                Some(unfinished) => failure.with_hint(format!(
                    "these could not be finished now; the next horizon-container or horizon-update \
                     command finishes them: {unfinished}"
                )),
            }
        }
        horizon_core::Error::System(horizon_core::system_update::SystemUpdateError::Busy {
            ..
        }) => Failure::new(exit::BUSY, anyhow!(error))
            .with_hint("wait for it to finish, then run this again"),
        _ => Failure::from(error),
    }
}
