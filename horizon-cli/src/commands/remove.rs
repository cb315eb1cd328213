//! `horizon-container remove NAME [--keep-images]`: one call to `Horizon::remove` (the container,
//! its generation images, its records and its exported wrappers); what it removed on stdout.
//! Works without the definition file (containers are found by label).

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::export::UnexportOutcome;
use horizon_core::lifecycle::{RemoveOptions, RemoveReport};
use serde::Serialize;

use super::export::render_unexported;
use super::{Session, print_report};

#[derive(Debug, Serialize)]
struct RemoveJson<'a> {
    name: &'a str,
    containers: &'a [String],
    images: &'a [String],
    record_removed: bool,
    exports: &'a [String],
    /// The wrappers of this container that were removed.
    unexported: &'a [UnexportOutcome],
}

pub async fn run(session: &Session, name: &str, keep_images: bool) -> Result<ExitCode, Failure> {
    let done = session
        .horizon
        .remove(session.call(), name, RemoveOptions { keep_images })
        .await?;
    let report = &done.removed;
    let json = RemoveJson {
        name,
        containers: &report.containers,
        images: &report.images,
        record_removed: report.record.is_some() || report.unreadable_record.is_some(),
        exports: &report.exports,
        unexported: &done.unexported,
    };
    print_report(session.json, &json, |out| {
        render(out, name, report, keep_images)?;
        render_unexported(out, &done.unexported)
    })?;
    super::enable::report_service(session, name, "disabled", &done.service);
    Ok(ExitCode::SUCCESS)
}

fn render(
    out: &mut impl Write,
    name: &str,
    report: &RemoveReport,
    keep_images: bool,
) -> std::io::Result<()> {
    writeln!(out, "removed {name}")?;
    for container in &report.containers {
        writeln!(out, "  container {container}")?;
    }
    for image in &report.images {
        writeln!(out, "  image {image}")?;
    }
    if keep_images {
        writeln!(out, "  (generation images kept)")?;
    }
    if report.record.is_some() {
        writeln!(out, "  install record")?;
    }
    if report.unreadable_record.is_some() {
        writeln!(out, "  install record (unreadable)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_what_was_removed() {
        let report = RemoveReport {
            containers: vec!["horizonos-tools".into()],
            images: vec![
                "localhost/horizonos/tools:1".into(),
                "localhost/horizonos/tools:2".into(),
            ],
            record: None,
            unreadable_record: None,
            exports: vec![],
        };
        let mut out = Vec::new();
        render(&mut out, "tools", &report, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "removed tools\n  container horizonos-tools\n  image localhost/horizonos/tools:1\n  \
             image localhost/horizonos/tools:2\n"
        );
        let kept = RemoveReport {
            images: vec![],
            ..report
        };
        let mut out = Vec::new();
        render(&mut out, "tools", &kept, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "removed tools\n  container horizonos-tools\n  (generation images kept)\n"
        );
    }
}
