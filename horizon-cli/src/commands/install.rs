//! `horizon-container install NAME [--reinstall]`: one call to `Horizon::install` (which also
//! exports the definition's `export_binaries`, and with `--reinstall` rebuilds an installed one
//! through the update transaction), with its progress shown on stderr (a bar with layers and
//! bytes on a terminal, one plain line per step and per layer change otherwise) and its outcome on
//! stdout (text, or `--json`). An export refused because its name is taken is a warning, not a
//! failure.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::lifecycle::InstallRecord;
use horizon_core::naming;
use horizon_core::update::UpdateOutcome;
use horizon_core::usecase::{InstallOptions, Installed};
use serde::Serialize;

use super::export::{DeclaredJson, render_declared, render_refused};
use super::{Session, cancel_on_signals, print_report};

#[derive(Debug, Serialize)]
struct InstallReport<'a> {
    name: &'a str,
    /// `installed`, `reinstalled` or `already-installed`.
    outcome: &'static str,
    container: String,
    generation: Option<u64>,
    /// The generation a reinstall replaced (kept for rollback).
    replaced_generation: Option<u64>,
    /// Kept generations a reinstall removed (beyond `--keep`).
    pruned: Vec<u64>,
    /// Kept generations' objects a reinstall could not remove, with why.
    prune_failures: Vec<String>,
    /// The definition changed since the install (only for `already-installed`).
    drifted: bool,
    record: Option<&'a InstallRecord>,
}

pub async fn run(
    session: &Session,
    name: &str,
    reinstall: bool,
    keep: usize,
) -> Result<ExitCode, Failure> {
    let cancel = cancel_on_signals()?;
    let options = InstallOptions {
        reinstall,
        keep_previous: Some(keep),
    };
    let done = session
        .horizon
        .install(session.call_with(&cancel), name, options)
        .await;
    session.observer.finish();
    let done = done?;
    let report = report(name, &done.installed);
    let exports = DeclaredJson::new(&done.exports);
    let json = InstallJson {
        report: &report,
        exports: &exports,
    };
    print_report(session.json, &json, |out| {
        render(out, &report)?;
        render_declared(out, &done.exports)
    })?;
    // A warning that cannot be shown must not fail the install (the JSON carries it too).
    if let Err(error) = render_refused(&mut std::io::stderr().lock(), &done.exports) {
        tracing::debug!(%error, "cannot write export warnings to stderr");
    }
    super::enable::report_service(session, name, "enabled", &done.autostart);
    Ok(ExitCode::SUCCESS)
}

/// The `--json` document: the install report and the exports of the definition's
/// `export_binaries`.
#[derive(Debug, Serialize)]
struct InstallJson<'a> {
    #[serde(flatten)]
    report: &'a InstallReport<'a>,
    exports: &'a DeclaredJson<'a>,
}

fn report<'a>(name: &'a str, installed: &'a Installed) -> InstallReport<'a> {
    match installed {
        Installed::Installed { record } => InstallReport {
            generation: Some(record.generation),
            record: Some(record),
            ..InstallReport::new(name, "installed")
        },
        Installed::AlreadyInstalled {
            generation,
            container,
            record,
            drifted,
        } => InstallReport {
            container: container.clone(),
            generation: *generation,
            drifted: *drifted,
            record: record.as_ref(),
            ..InstallReport::new(name, "already-installed")
        },
        Installed::Reinstalled { outcome, record } => {
            reinstall_report(name, outcome, record.as_ref())
        }
        // A future outcome: say what is known.
        _ => InstallReport::new(name, "unknown"),
    }
}

/// A reinstall's report: the update transaction's outcome and the record it wrote.
fn reinstall_report<'a>(
    name: &'a str,
    outcome: &'a UpdateOutcome,
    record: Option<&'a InstallRecord>,
) -> InstallReport<'a> {
    match outcome {
        UpdateOutcome::Updated {
            from,
            to,
            pruned,
            prune_failures,
        } => InstallReport {
            generation: Some(to.generation),
            replaced_generation: Some(from.generation),
            pruned: pruned.clone(),
            prune_failures: prune_failures.clone(),
            record,
            ..InstallReport::new(name, "reinstalled")
        },
        // A rebuild is never up to date; a future outcome: say what is known.
        _ => InstallReport {
            record,
            ..InstallReport::new(name, "unknown")
        },
    }
}

impl<'a> InstallReport<'a> {
    /// A report of `outcome` that knows nothing more yet.
    fn new(name: &'a str, outcome: &'static str) -> Self {
        InstallReport {
            name,
            outcome,
            container: naming::container_name(name),
            generation: None,
            replaced_generation: None,
            pruned: Vec::new(),
            prune_failures: Vec::new(),
            drifted: false,
            record: None,
        }
    }
}

fn render(out: &mut impl Write, report: &InstallReport<'_>) -> std::io::Result<()> {
    let name = report.name;
    let generation = report
        .generation
        .map_or_else(|| "?".to_owned(), |generation| generation.to_string());
    match (report.outcome, report.record) {
        ("installed", Some(record)) => {
            writeln!(
                out,
                "installed {name}: generation {generation}, container {} running",
                report.container
            )?;
            writeln!(out, "image: {}{}", record.image, digest_suffix(record))
        }
        ("reinstalled", Some(record)) => {
            let replaced = report
                .replaced_generation
                .map_or_else(|| "?".to_owned(), |generation| generation.to_string());
            writeln!(
                out,
                "reinstalled {name}: generation {replaced} -> {generation}, container {} running",
                report.container
            )?;
            writeln!(out, "image: {}{}", record.image, digest_suffix(record))?;
            writeln!(
                out,
                "generation {replaced} is kept: `horizon-container rollback {name}` returns to it"
            )?;
            if !report.pruned.is_empty() {
                let list: Vec<String> = report.pruned.iter().map(u64::to_string).collect();
                writeln!(out, "pruned generations {}", list.join(", "))?;
            }
            for failure in &report.prune_failures {
                writeln!(out, "could not prune {failure}")?;
            }
            Ok(())
        }
        (_, _) if report.drifted => writeln!(
            out,
            "{name} is installed (generation {generation}, container {}), but its definition \
             changed since; nothing changed. To apply the change: horizon-container install \
             {name} --reinstall",
            report.container
        ),
        (_, _) => writeln!(
            out,
            "{name} is already installed (generation {generation}, container {}); nothing \
             changed. To rebuild it: horizon-container install {name} --reinstall",
            report.container
        ),
    }
}

/// " (sha256:…)" when the record knows the image's digest.
fn digest_suffix(record: &InstallRecord) -> String {
    record
        .image_digest
        .as_deref()
        .map(|digest| format!(" ({digest})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> InstallRecord {
        InstallRecord {
            schema_version: 1,
            name: "tools".into(),
            layer: "user".into(),
            definition_hash: "ab".into(),
            generation: 2,
            image: "127.0.0.1:5000/horizon/busybox:latest".into(),
            image_digest: Some("sha256:cd".into()),
            image_id: "1234".into(),
            generation_image: "localhost/horizonos/tools:2".into(),
            generation_image_id: "5678".into(),
            container_id: "9abc".into(),
            package_manager: None,
            packages: vec![],
            persistent: true,
            installed_at: "2024-01-01T00:00:00Z".into(),
            export_binaries: vec![],
        }
    }

    #[test]
    fn renders_each_outcome() {
        let installed = Installed::Installed { record: record() };
        let mut out = Vec::new();
        render(&mut out, &report("tools", &installed)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "installed tools: generation 2, container horizonos-tools running\n\
             image: 127.0.0.1:5000/horizon/busybox:latest (sha256:cd)\n"
        );
        let generation = |generation| horizon_core::update::GenerationRef {
            generation,
            image_digest: Some("sha256:cd".into()),
        };
        let reinstalled = UpdateOutcome::Updated {
            from: generation(1),
            to: generation(2),
            pruned: vec![],
            prune_failures: vec![],
        };
        let record = record();
        let mut out = Vec::new();
        render(
            &mut out,
            &reinstall_report("tools", &reinstalled, Some(&record)),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "reinstalled tools: generation 1 -> 2, container horizonos-tools running\n\
             image: 127.0.0.1:5000/horizon/busybox:latest (sha256:cd)\n\
             generation 1 is kept: `horizon-container rollback tools` returns to it\n"
        );
        for (drifted, expected) in [
            (
                false,
                "tools is already installed (generation 2, container horizonos-tools); nothing \
                 changed. To rebuild it: horizon-container install tools --reinstall\n",
            ),
            (
                true,
                "tools is installed (generation 2, container horizonos-tools), but its definition \
                 changed since; nothing changed. To apply the change: horizon-container install \
                 tools --reinstall\n",
            ),
        ] {
            let outcome = Installed::AlreadyInstalled {
                generation: Some(2),
                container: "horizonos-tools".into(),
                record: None,
                drifted,
            };
            let mut out = Vec::new();
            render(&mut out, &report("tools", &outcome)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
