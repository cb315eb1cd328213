//! `horizon-container update`: `--check [NAME...]` (one concurrent registry check, a table or
//! `--json`, exit 100 when an update is available), `update NAME...` and `update --all` (one
//! verified A/B update per container, each under its lock; one failing does not stop the others).
//! Ctrl-C or SIGTERM during an update stops it, and the journal reverts (or, past the swap,
//! completes) it before the command exits 130.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::anyhow;
use horizon_cli_support::exit::{self, Failure};
use horizon_cli_support::text::short_digest as short;
use horizon_core::printable::escape_lines;
use horizon_core::update::{ContainerCheck, UpdateOutcome};
use horizon_core::usecase::{ContainerUpdate, UpdateOptions, UpdateSelection, UpdatesReport};
use serde::Serialize;

use super::export::render_refused;
use super::{Session, cancel_on_signals, print_report};
use crate::cli::UpdateArgs;

#[derive(Debug, Serialize)]
struct CheckReport<'a> {
    updates_available: bool,
    containers: Vec<CheckEntry<'a>>,
}

#[derive(Debug, Serialize)]
struct CheckEntry<'a> {
    #[serde(flatten)]
    check: &'a ContainerCheck,
    update_available: bool,
}

pub async fn run(session: &Session, args: &UpdateArgs) -> Result<ExitCode, Failure> {
    let timeout = Duration::from_secs(args.registry_timeout);
    if args.check {
        return run_check(session, args, timeout).await;
    }
    let selection = if args.all {
        UpdateSelection::All
    } else if args.names.is_empty() {
        return Err(Failure::new(
            exit::INVALID_INPUT,
            anyhow!("no container named: say which to update, or --all"),
        )
        .with_hint("horizon-container update NAME, horizon-container update --all, or horizon-container update --check"));
    } else {
        UpdateSelection::Names(args.names.clone())
    };
    let options = UpdateOptions {
        wait: args.wait,
        keep_previous: Some(args.keep),
        registry_timeout: Some(timeout),
        lock_operation: None,
    };
    let cancel = cancel_on_signals()?;
    let report = session
        .horizon
        .update(session.call_with(&cancel), selection, &options)
        .await;
    session.observer.finish();
    let mut report = report?;
    // One container named: its failure is the command's.
    if !args.all
        && report.containers.len() == 1
        && let Some(ContainerUpdate {
            result: Err(error), ..
        }) = report.containers.pop_if(|only| only.result.is_err())
    {
        return Err(error.into());
    }
    for update in &report.containers {
        if let Some(exports) = &update.exports {
            // A warning that cannot be shown must not fail the update (the JSON has it).
            let _ = render_refused(&mut std::io::stderr().lock(), exports);
        }
    }
    print_report(session.json, &report, |out| render_updates(out, &report))?;
    match report.failure() {
        None => Ok(ExitCode::SUCCESS),
        Some(error) => Err(error.into()),
    }
}

async fn run_check(
    session: &Session,
    args: &UpdateArgs,
    timeout: Duration,
) -> Result<ExitCode, Failure> {
    let checks = session
        .horizon
        .check(&args.names, Some(timeout))
        .await
        .map_err(|error| {
            let failure = Failure::from(error);
            if failure.status == exit::INVALID_INPUT {
                failure.with_hint("`horizon-container list` shows what is installed")
            } else {
                failure
            }
        })?;
    let report = CheckReport {
        updates_available: checks.iter().any(ContainerCheck::update_available),
        containers: checks
            .iter()
            .map(|check| CheckEntry {
                check,
                update_available: check.update_available(),
            })
            .collect(),
    };
    print_report(session.json, &report, |out| render_check(out, &checks))?;
    let failed: Vec<&ContainerCheck> = checks
        .iter()
        .filter(|check| check.error.is_some())
        .collect();
    if !failed.is_empty() {
        let names: Vec<&str> = failed.iter().map(|check| check.name.as_str()).collect();
        let mut failure = Failure::new(
            exit::FAILURE,
            anyhow!("could not check {}", names.join(", ")),
        );
        for check in failed.iter().filter(|check| check.record_unreadable) {
            failure = failure.with_hint(horizon_cli_support::hint::render(
                &horizon_core::Hint::Repair {
                    name: check.name.clone(),
                },
            ));
        }
        return Err(failure);
    }
    Ok(if report.updates_available {
        ExitCode::from(exit::UPDATES_AVAILABLE)
    } else {
        ExitCode::SUCCESS
    })
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
            match generation {
                Some(generation) => writeln!(
                    out,
                    "{name}: check failed (generation {generation}): {}",
                    escape_lines(error)
                )?,
                None => writeln!(out, "{name}: check failed: {}", escape_lines(error))?,
            }
            continue;
        }
        let generation = generation.unwrap_or_default();
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

fn render_updates(out: &mut impl Write, report: &UpdatesReport) -> std::io::Result<()> {
    for entry in &report.containers {
        let ContainerUpdate { name, result, .. } = entry;
        match result {
            Ok(UpdateOutcome::Updated {
                from,
                to,
                pruned,
                prune_failures,
            }) => {
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
            Ok(UpdateOutcome::UpToDate { current }) => writeln!(
                out,
                "{name} is up to date (generation {}, image {})",
                current.generation,
                short(current.image_digest.as_deref())
            )?,
            // The error can quote the definition (a verify command) and what the container printed.
            Err(error) => writeln!(
                out,
                "{name}: update failed: {}",
                escape_lines(&horizon_core::update::error_chain(error))
            )?,
            Ok(_) => writeln!(out, "{name}: done")?,
        }
    }
    Ok(())
}
