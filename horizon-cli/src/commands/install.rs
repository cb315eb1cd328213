//! `horizon-container install NAME [--reinstall]`: one call to `lifecycle::install`, with its
//! progress shown on stderr (a bar with layers and bytes on a terminal, one plain line per step and
//! per layer change otherwise) and its outcome on stdout (text, or `--json`). Then every binary of
//! the definition's `export_binaries` is exported (a name that is taken is reported, not forced,
//! and does not fail the install). `--reinstall` of an installed definition is the update
//! transaction told to rebuild (journaled, verified beside the running container, the current
//! generation kept for rollback), shown as an install.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use horizon_core::lifecycle::{
    DesktopHost, InstallOutcome, InstallRecord, InstallRequest, install,
};
use horizon_core::naming;
use horizon_core::update::{RegistryClient, UpdateOutcome, UpdateRequest};
use serde::Serialize;

use super::export::{DeclaredExports, export_declared, render_declared, render_refused};
use super::guard::update_stores;
use super::installed::{catalog, lifecycle_failure, resolve, state_store};
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::Failure;
use crate::progress::ProgressView;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct InstallReport<'a> {
    schema_version: u32,
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

/// `--reinstall`: rebuild an installed definition.
#[derive(Clone, Copy, Debug)]
pub struct Reinstall {
    /// Previous generations to keep for rollback.
    pub keep_previous: usize,
}

pub async fn run(
    global: &GlobalArgs,
    name: &str,
    reinstall: Option<Reinstall>,
) -> Result<ExitCode, Failure> {
    let catalog = catalog(global);
    let resolved = resolve(&catalog, name)?;
    let engine = connect_engine(global).await?;
    let lock = super::guard::lock_for_write(global, &engine, name, "install", false).await?;
    let state = state_store(global);
    let desktop = DesktopHost::probe(
        std::env::var("DISPLAY").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        std::env::var("WAYLAND_DISPLAY").ok(),
    );
    let agent = super::agent_host(global);
    let request = InstallRequest {
        resolved: &resolved,
        desktop: &desktop,
        state: &state,
        agent: agent.as_ref(),
    };
    let view = ProgressView::new(std::io::stderr().is_terminal(), "", true);
    let installed = install(&engine, request, &|progress| view.show(&progress.into())).await;
    view.finish();
    let installed = installed.map_err(lifecycle_failure)?;
    // What has a container is rebuilt by the update transaction; what had none was just installed.
    let (outcome, record) = match (reinstall, installed) {
        (Some(reinstall), InstallOutcome::AlreadyInstalled { .. }) => {
            let stores = update_stores(global);
            let request = UpdateRequest {
                resolved: &resolved,
                stores: &stores,
                desktop: &desktop,
                registry: &RegistryClient::for_this_process(),
                keep_previous: reinstall.keep_previous,
                agent: agent.as_ref(),
                rebuild: true,
            };
            let outcome = super::update::update_locked(&engine, &lock, request).await?;
            let record = state.read(name).map_err(lifecycle_failure)?;
            (Done::Reinstalled(outcome), record)
        }
        (_, installed) => (Done::Installed(Box::new(installed)), None),
    };
    let report = match &outcome {
        Done::Installed(outcome) => report(name, outcome),
        Done::Reinstalled(outcome) => reinstall_report(name, outcome, record.as_ref()),
    };
    let exports = export_declared(global, name, &resolved.definition.export_binaries);
    let json = InstallJson {
        report: &report,
        exports: &exports,
    };
    print_report(global.json, &json, |out| {
        render(out, &report)?;
        render_declared(out, &exports)
    })?;
    // A warning that cannot be shown must not fail the install (the JSON carries it too).
    if let Err(error) = render_refused(&mut std::io::stderr().lock(), &exports) {
        tracing::debug!(%error, "cannot write export warnings to stderr");
    }
    Ok(ExitCode::SUCCESS)
}

/// What the command did: an install (or nothing), or a reinstall through the update transaction.
enum Done {
    Installed(Box<InstallOutcome>),
    Reinstalled(UpdateOutcome),
}

/// The `--json` document: the install report and the exports of the definition's
/// `export_binaries`.
#[derive(Debug, Serialize)]
struct InstallJson<'a> {
    #[serde(flatten)]
    report: &'a InstallReport<'a>,
    exports: &'a DeclaredExports,
}

fn report<'a>(name: &'a str, outcome: &'a InstallOutcome) -> InstallReport<'a> {
    match outcome {
        InstallOutcome::Installed { record } => InstallReport {
            generation: Some(record.generation),
            record: Some(record),
            ..InstallReport::new(name, "installed")
        },
        InstallOutcome::AlreadyInstalled {
            container,
            record,
            drifted,
        } => InstallReport {
            container: container.name.clone(),
            generation: container
                .labels
                .get(horizon_core::labels::GENERATION)
                .and_then(|generation| generation.parse().ok()),
            drifted: *drifted,
            record: record.as_ref(),
            ..InstallReport::new(name, "already-installed")
        },
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
            schema_version: SCHEMA_VERSION,
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
    use std::collections::BTreeMap;

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
        let installed = InstallOutcome::Installed { record: record() };
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
        let container = horizon_core::engine::ContainerSummary {
            id: "9abc".into(),
            name: "horizonos-tools".into(),
            image: "localhost/horizonos/tools:2".into(),
            image_id: "5678".into(),
            state: "running".into(),
            labels: BTreeMap::from([(horizon_core::labels::GENERATION.to_owned(), "2".to_owned())]),
        };
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
            let outcome = InstallOutcome::AlreadyInstalled {
                container: container.clone(),
                record: None,
                drifted,
            };
            let mut out = Vec::new();
            render(&mut out, &report("tools", &outcome)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
