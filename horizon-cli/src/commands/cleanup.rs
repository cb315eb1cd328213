//! `horizon-container cleanup [--dry-run]`: one call to `lifecycle::cleanup`, then the exported
//! wrappers of containers that are no longer installed; what was (or would be) removed on stdout,
//! what could not be removed on stderr (exit status 1).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use horizon_core::export::UnexportOutcome;
use horizon_core::lifecycle::{CleanupItem, CleanupKind, CleanupReport, cleanup};
use serde::Serialize;

use super::export::{clean_orphans, render_unexported};
use super::installed::{catalog, lifecycle_failure, state_store};
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct CleanupJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a CleanupReport,
    /// Exported wrappers of containers that are not installed, removed (or to remove).
    exports: &'a [UnexportOutcome],
}

pub async fn run(global: &GlobalArgs, dry_run: bool) -> Result<ExitCode, Failure> {
    let catalog = catalog(global);
    let state = state_store(global);
    let engine = connect_engine(global).await?;
    let report = cleanup(&engine, &catalog, &state, dry_run)
        .await
        .map_err(lifecycle_failure)?;
    // Exports are orphans when their container has no install record after this cleanup.
    let records_removed: BTreeSet<&str> = report
        .removed
        .iter()
        .filter(|item| item.kind == CleanupKind::InstallRecord)
        .map(|item| item.name.as_str())
        .collect();
    let installed: BTreeSet<String> = state
        .list()
        .map_err(lifecycle_failure)?
        .into_iter()
        .map(|record| record.name)
        .filter(|name| !records_removed.contains(name.as_str()))
        .collect();
    let exports = clean_orphans(global, &installed, dry_run)?;
    let json = CleanupJson {
        schema_version: SCHEMA_VERSION,
        report: &report,
        exports: &exports,
    };
    print_report(global.json, &json, |out| {
        render(out, &report, exports.is_empty())?;
        render_orphans(out, &exports, dry_run)
    })?;
    if report.failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stderr = std::io::stderr().lock();
    for failure in &report.failed {
        // The exit status says it already; losing the detail on a closed stderr is acceptable.
        let _ = writeln!(
            stderr,
            "horizon-container: could not remove {}: {}",
            describe(&failure.item),
            failure.reason
        );
    }
    Ok(ExitCode::from(exit::FAILURE))
}

fn describe(item: &CleanupItem) -> String {
    let kind = match item.kind {
        CleanupKind::OrphanedContainer => "container (definition gone)",
        CleanupKind::BuildContainer => "build container (interrupted install)",
        CleanupKind::GenerationImage => "generation image (unused)",
        CleanupKind::DanglingImage => "dangling image",
        CleanupKind::InstallRecord => "install record (definition gone)",
        _ => "object",
    };
    let id: String = item.id.chars().take(12).collect();
    format!("{kind} {} {id}", item.name)
}

/// The wrappers of containers that are gone.
fn render_orphans(
    out: &mut impl Write,
    exports: &[UnexportOutcome],
    dry_run: bool,
) -> std::io::Result<()> {
    if dry_run {
        for outcome in exports {
            writeln!(
                out,
                "would remove export {} (container {} not installed) {}",
                outcome.entry.name,
                outcome.entry.container,
                outcome.entry.path.display()
            )?;
        }
        return Ok(());
    }
    render_unexported(out, exports)
}

fn render(out: &mut impl Write, report: &CleanupReport, no_exports: bool) -> std::io::Result<()> {
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    if report.removed.is_empty() && report.failed.is_empty() {
        if !no_exports {
            return Ok(());
        }
        return writeln!(out, "nothing to clean up");
    }
    for item in &report.removed {
        writeln!(out, "{verb} {}", describe(item))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_each_item_with_its_kind() {
        let items = vec![
            CleanupItem {
                kind: CleanupKind::OrphanedContainer,
                id: "0123456789abcdef".into(),
                name: "horizonos-old".into(),
                definition: Some("old".into()),
                size: None,
            },
            CleanupItem {
                kind: CleanupKind::DanglingImage,
                id: "fedcba9876543210".into(),
                name: "<none>".into(),
                definition: None,
                size: Some(10),
            },
        ];
        let mut report = CleanupReport {
            dry_run: true,
            removed: items,
            failed: vec![],
        };
        let mut out = Vec::new();
        render(&mut out, &report, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "would remove container (definition gone) horizonos-old 0123456789ab\n\
             would remove dangling image <none> fedcba987654\n"
        );
        report.dry_run = false;
        report.removed.truncate(1);
        let mut out = Vec::new();
        render(&mut out, &report, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "removed container (definition gone) horizonos-old 0123456789ab\n"
        );
        let mut out = Vec::new();
        render(&mut out, &CleanupReport::default(), true).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "nothing to clean up\n");
    }
}
