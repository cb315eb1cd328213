//! `horizon-container install NAME [--reinstall]`: one call to `lifecycle::install`, with its
//! progress shown on stderr (a bar with layers and bytes on a terminal, one plain line per step and
//! per layer change otherwise) and its outcome on stdout (text, or `--json`). Then every binary of
//! the definition's `export_binaries` is exported (a name that is taken is reported, not forced,
//! and does not fail the install).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use horizon_core::lifecycle::{
    DesktopHost, InstallOutcome, InstallRecord, InstallRequest, install,
};
use horizon_core::naming;
use serde::Serialize;

use super::export::{DeclaredExports, export_declared, render_declared, render_refused};
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
    /// `installed` or `already-installed`.
    outcome: &'static str,
    container: String,
    generation: Option<u64>,
    /// The generation a reinstall replaced.
    replaced_generation: Option<u64>,
    /// The definition changed since the install (only for `already-installed`).
    drifted: bool,
    record: Option<&'a InstallRecord>,
}

pub async fn run(global: &GlobalArgs, name: &str, reinstall: bool) -> Result<ExitCode, Failure> {
    let catalog = catalog(global);
    let resolved = resolve(&catalog, name)?;
    let engine = connect_engine(global).await?;
    let _lock = super::guard::lock_for_write(global, &engine, name, "install", false).await?;
    let state = state_store(global);
    let desktop = DesktopHost::probe(
        std::env::var("DISPLAY").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        std::env::var("WAYLAND_DISPLAY").ok(),
    );
    let agent = super::agent_host(global);
    let request = InstallRequest {
        resolved: &resolved,
        reinstall,
        desktop: &desktop,
        state: &state,
        agent: agent.as_ref(),
    };
    let view = ProgressView::new(std::io::stderr().is_terminal(), "", true);
    let outcome = install(&engine, request, &|progress| view.show(&progress.into())).await;
    view.finish();
    let outcome = outcome.map_err(lifecycle_failure)?;
    let report = report(name, &outcome);
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
        InstallOutcome::Installed {
            record,
            replaced_generation,
        } => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "installed",
            container: naming::container_name(name),
            generation: Some(record.generation),
            replaced_generation: *replaced_generation,
            drifted: false,
            record: Some(record),
        },
        InstallOutcome::AlreadyInstalled {
            container,
            record,
            drifted,
        } => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "already-installed",
            container: container.name.clone(),
            generation: container
                .labels
                .get(horizon_core::labels::GENERATION)
                .and_then(|generation| generation.parse().ok()),
            replaced_generation: None,
            drifted: *drifted,
            record: record.as_ref(),
        },
        // A future outcome: say what is known.
        _ => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "unknown",
            container: naming::container_name(name),
            generation: None,
            replaced_generation: None,
            drifted: false,
            record: None,
        },
    }
}

fn render(out: &mut impl Write, report: &InstallReport<'_>) -> std::io::Result<()> {
    let name = report.name;
    let generation = report
        .generation
        .map_or_else(|| "?".to_owned(), |generation| generation.to_string());
    match (report.outcome, report.record) {
        ("installed", Some(record)) => {
            let digest = record
                .image_digest
                .as_deref()
                .map(|digest| format!(" ({digest})"))
                .unwrap_or_default();
            writeln!(
                out,
                "installed {name}: generation {generation}, container {} running",
                report.container
            )?;
            writeln!(out, "image: {}{digest}", record.image)?;
            if let Some(replaced) = report.replaced_generation {
                writeln!(
                    out,
                    "replaced generation {replaced} (`horizon-container cleanup` removes its image)"
                )?;
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
        let installed = InstallOutcome::Installed {
            record: record(),
            replaced_generation: Some(1),
        };
        let mut out = Vec::new();
        render(&mut out, &report("tools", &installed)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "installed tools: generation 2, container horizonos-tools running\n\
             image: 127.0.0.1:5000/horizon/busybox:latest (sha256:cd)\n\
             replaced generation 1 (`horizon-container cleanup` removes its image)\n"
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
