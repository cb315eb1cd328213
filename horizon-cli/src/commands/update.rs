//! `horizon-container update`: `--check [NAME...]` (one concurrent registry check, a table or
//! `--json`, exit 100 when an update is available), `update NAME...` and `update --all` (one
//! verified A/B update per container, each under its lock; one failing does not stop the others).
//! Ctrl-C or SIGTERM during an update stops it, and the journal reverts (or, past the swap,
//! completes) it before the command exits 130.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use horizon_core::engine::PodmanEngine;
use horizon_core::lifecycle::DesktopHost;
use horizon_core::update::{
    CheckRequest, ContainerCheck, ContainerLock, RegistryClient, UpdateError, UpdateOutcome,
    UpdateProgress, UpdateRequest, check, recover, update,
};
use serde::Serialize;

use super::export::{DeclaredExports, export_declared, render_refused};
use super::guard::{lock_for_write, render_recovery, update_failure, update_stores};
use super::installed::{catalog, resolve};
use super::{connect_engine, print_report};
use crate::cli::{GlobalArgs, UpdateArgs};
use crate::exit::{self, Failure};
use crate::interrupt::Interrupt;
use crate::progress::ProgressView;

/// Version of the `--json` documents below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;
/// How many hex digits of a digest the text output shows (as `podman images` does).
const SHORT_DIGEST: usize = 12;

#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    schema_version: u32,
    updates_available: bool,
    containers: Vec<CheckEntry<'a>>,
}

#[derive(Debug, Serialize)]
struct CheckEntry<'a> {
    #[serde(flatten)]
    check: &'a ContainerCheck,
    update_available: bool,
}

#[derive(Debug, Serialize)]
struct UpdateReport {
    schema_version: u32,
    containers: Vec<UpdateEntry>,
}

#[derive(Debug, Serialize)]
struct UpdateEntry {
    name: String,
    #[serde(flatten)]
    outcome: Option<UpdateOutcome>,
    /// The definition's `export_binaries`, exported after an update (as `install` does: a
    /// binary the new definition added gets its wrapper; existing wrappers are unchanged).
    exports: Option<DeclaredExports>,
    /// Why it failed, when it did.
    error: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: &UpdateArgs) -> Result<ExitCode, Failure> {
    let registry = RegistryClient {
        timeout: Duration::from_secs(args.registry_timeout),
        ..RegistryClient::for_this_process()
    };
    if args.check {
        return run_check(global, args, &registry).await;
    }
    let stores = update_stores(global);
    let names: Vec<String> = if args.all {
        stores
            .records
            .list()
            .map_err(|error| Failure::other(anyhow!(error)))?
            .into_iter()
            .map(|record| record.name)
            .collect()
    } else if args.names.is_empty() {
        return Err(Failure::new(
            exit::INVALID_INPUT,
            anyhow!("no container named: say which to update, or --all"),
        )
        .with_hint("horizon-container update NAME, horizon-container update --all, or horizon-container update --check"));
    } else {
        args.names.clone()
    };
    let catalog = catalog(global);
    let resolved = names
        .iter()
        .map(|name| resolve(&catalog, name))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = connect_engine(global).await?;
    let desktop = DesktopHost::probe(
        std::env::var("DISPLAY").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        std::env::var("WAYLAND_DISPLAY").ok(),
    );
    let agent = super::agent_host(global);
    let mut entries = Vec::new();
    let mut failures = Vec::new();
    for resolved in &resolved {
        let name = resolved.definition.name.clone();
        let request = UpdateRequest {
            resolved,
            stores: &stores,
            desktop: &desktop,
            registry: &registry,
            keep_previous: args.keep,
            agent: agent.as_ref(),
            rebuild: false,
        };
        match update_one(global, &engine, request, args.wait).await {
            Ok(outcome) => {
                let exports = matches!(outcome, UpdateOutcome::Updated { .. })
                    .then(|| export_declared(global, &name, &resolved.definition.export_binaries));
                if let Some(exports) = &exports {
                    // A warning that cannot be shown must not fail the update (the JSON has it).
                    let _ = render_refused(&mut std::io::stderr().lock(), exports);
                }
                entries.push(UpdateEntry {
                    name,
                    outcome: Some(outcome),
                    exports,
                    error: None,
                });
            }
            Err(failure) if failure.status == exit::INTERRUPTED || names.len() == 1 => {
                return Err(failure);
            }
            Err(failure) => {
                entries.push(UpdateEntry {
                    name: name.clone(),
                    outcome: None,
                    exports: None,
                    error: Some(format!("{:#}", failure.error)),
                });
                failures.push(failure);
            }
        }
    }
    let report = UpdateReport {
        schema_version: SCHEMA_VERSION,
        containers: entries,
    };
    print_report(global.json, &report, |out| render_updates(out, &report))?;
    if failures.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let status = if failures
        .iter()
        .all(|failure| failure.status == exit::UPDATE_REFUSED)
    {
        exit::UPDATE_REFUSED
    } else {
        exit::FAILURE
    };
    Err(Failure::new(
        status,
        anyhow!("{} of {} updates failed", failures.len(), names.len()),
    ))
}

/// One container's update under its lock.
async fn update_one(
    global: &GlobalArgs,
    engine: &PodmanEngine,
    request: UpdateRequest<'_>,
    wait: bool,
) -> Result<UpdateOutcome, Failure> {
    let name = request.resolved.definition.name.as_str();
    let lock = lock_for_write(global, engine, name, "update", wait).await?;
    update_locked(engine, &lock, request).await
}

/// The update transaction (an update, or a reinstall) with its progress on stderr, stopped by
/// Ctrl-C or SIGTERM and then recovered: reverted before the swap, completed after it.
pub(super) async fn update_locked(
    engine: &PodmanEngine,
    lock: &ContainerLock,
    request: UpdateRequest<'_>,
) -> Result<UpdateOutcome, Failure> {
    let name = request.resolved.definition.name.as_str();
    let operation = request.operation().as_str();
    let mut interrupt = Interrupt::listen()?;
    let view = ProgressView::new(std::io::stderr().is_terminal(), &format!("{name}: "), false);
    let progress = |progress: &UpdateProgress<'_>| view.show(&progress.into());
    let outcome = tokio::select! {
        // A signal that arrived wins over a step that finished meanwhile.
        biased;
        signal = interrupt.received() => {
            view.finish();
            // The update stopped at an await point; its journal says what it had done.
            let recovery = recover(engine, lock, request.stores).await.map_err(update_failure)?;
            if let Some(recovery) = &recovery {
                let _ = render_recovery(&mut std::io::stderr().lock(), recovery);
            }
            return Err(Failure::new(
                exit::INTERRUPTED,
                anyhow!("the {operation} of {name} was interrupted ({signal})"),
            ));
        }
        outcome = update(engine, lock, request, &progress) => outcome,
    };
    view.finish();
    outcome.map_err(update_failure)
}

async fn run_check(
    global: &GlobalArgs,
    args: &UpdateArgs,
    registry: &RegistryClient,
) -> Result<ExitCode, Failure> {
    let catalog = catalog(global);
    let stores = update_stores(global);
    let checks = check(CheckRequest {
        catalog: &catalog,
        state: &stores.records,
        names: &args.names,
        registry,
    })
    .await
    .map_err(|error| match error {
        // Naming a container that is not installed is a mistake in the input.
        UpdateError::Lifecycle(horizon_core::lifecycle::LifecycleError::NotInstalled {
            ..
        }) => Failure::new(exit::INVALID_INPUT, anyhow!(error))
            .with_hint("`horizon-container list` shows what is installed"),
        other => update_failure(other),
    })?;
    let report = CheckReport {
        schema_version: SCHEMA_VERSION,
        updates_available: checks.iter().any(ContainerCheck::update_available),
        containers: checks
            .iter()
            .map(|check| CheckEntry {
                check,
                update_available: check.update_available(),
            })
            .collect(),
    };
    print_report(global.json, &report, |out| render_check(out, &checks))?;
    let failed: Vec<&ContainerCheck> = checks
        .iter()
        .filter(|check| check.error.is_some())
        .collect();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|check| check.name.as_str()).collect();
        return Err(Failure::new(
            exit::FAILURE,
            anyhow!("could not check {}", names.join(", ")),
        ));
    }
    Ok(if report.updates_available {
        ExitCode::from(exit::UPDATES_AVAILABLE)
    } else {
        ExitCode::SUCCESS
    })
}

fn short(digest: Option<&str>) -> String {
    match digest {
        Some(digest) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            hex.get(..SHORT_DIGEST).unwrap_or(hex).to_owned()
        }
        None => "unknown".to_owned(),
    }
}

/// One line per container, then what to do.
fn render_check(out: &mut impl Write, checks: &[ContainerCheck]) -> std::io::Result<()> {
    if checks.is_empty() {
        return writeln!(out, "no containers are installed");
    }
    for check in checks {
        let name = &check.name;
        let generation = check.generation;
        if let Some(error) = &check.error {
            writeln!(
                out,
                "{name}: check failed (generation {generation}): {error}"
            )?;
            continue;
        }
        let mut changes = Vec::new();
        if check.image_update {
            changes.push(format!(
                "new image {} ({} -> {})",
                check.image,
                short(check.installed_digest.as_deref()),
                short(check.available_digest.as_deref())
            ));
        }
        if check.definition_changed {
            changes.push("definition changed".to_owned());
        }
        if !check.definition_exists {
            writeln!(
                out,
                "{name}: no definition any more (generation {generation}); `horizon-container remove {name}` removes it"
            )?;
        } else if changes.is_empty() {
            writeln!(
                out,
                "{name}: up to date (generation {generation}, {})",
                short(check.installed_digest.as_deref())
            )?;
        } else {
            writeln!(
                out,
                "{name}: update available (generation {generation}): {}",
                changes.join("; ")
            )?;
        }
    }
    let available: Vec<&str> = checks
        .iter()
        .filter(|check| check.update_available())
        .map(|check| check.name.as_str())
        .collect();
    if !available.is_empty() {
        writeln!(
            out,
            "to update: horizon-container update {}",
            available.join(" ")
        )?;
    }
    Ok(())
}

fn render_updates(out: &mut impl Write, report: &UpdateReport) -> std::io::Result<()> {
    for entry in &report.containers {
        let name = &entry.name;
        match (&entry.outcome, &entry.error) {
            (
                Some(UpdateOutcome::Updated {
                    from,
                    to,
                    pruned,
                    prune_failures,
                }),
                _,
            ) => {
                writeln!(
                    out,
                    "updated {name}: generation {} -> {} (image {} -> {}); generation {} is kept: `horizon-container rollback {name}` returns to it",
                    from.generation,
                    to.generation,
                    short(from.image_digest.as_deref()),
                    short(to.image_digest.as_deref()),
                    from.generation
                )?;
                if !pruned.is_empty() {
                    let list: Vec<String> = pruned.iter().map(u64::to_string).collect();
                    writeln!(out, "  pruned generations {}", list.join(", "))?;
                }
                for failure in prune_failures {
                    writeln!(out, "  could not prune {failure}")?;
                }
            }
            (Some(UpdateOutcome::UpToDate { current }), _) => writeln!(
                out,
                "{name} is up to date (generation {}, image {})",
                current.generation,
                short(current.image_digest.as_deref())
            )?,
            (_, Some(error)) => writeln!(out, "{name}: update failed: {error}")?,
            _ => writeln!(out, "{name}: done")?,
        }
    }
    Ok(())
}
