//! `horizon-container cleanup [--dry-run]`: one call to `Horizon::cleanup` (containers, images
//! and records no longer needed, and the exported wrappers of containers that are not installed);
//! what was (or would be) removed on stdout, what could not be removed and the install records
//! that could not be read (whose containers' things were kept) on stderr (exit status 1).

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::{self, Failure};
use horizon_core::export::UnexportOutcome;
use horizon_core::lifecycle::{CleanupItem, CleanupKind, CleanupReport};
use serde::Serialize;

use super::export::render_unexported;
use super::{Session, print_report};

#[derive(Debug, Serialize)]
struct CleanupJson<'a> {
    #[serde(flatten)]
    report: &'a CleanupReport,
    exports: &'a [UnexportOutcome],
}

pub async fn run(session: &Session, dry_run: bool) -> Result<ExitCode, Failure> {
    let done = session.horizon.cleanup(session.call(), dry_run).await?;
    let (report, exports) = (&done.report, &done.exports);
    let json = CleanupJson { report, exports };
    print_report(session.json, &json, |out| {
        render(out, report, exports.is_empty())?;
        render_orphans(out, exports, dry_run)
    })?;
    if report.failed.is_empty() && report.unreadable_records.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stderr = std::io::stderr().lock();
    for record in &report.unreadable_records {
        // As below: the exit status says it already.
        let _ = writeln!(
            stderr,
            "horizon-container: could not judge what of {} is still needed: {record}\nhint: {}",
            record.name,
            horizon_cli_support::hint::render(&horizon_core::Hint::Repair {
                name: record.name.clone()
            })
        );
    }
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
    let id = horizon_cli_support::text::short_id(&item.id);
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
            unreadable_records: vec![],
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
