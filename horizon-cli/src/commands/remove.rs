//! `horizon-container remove NAME [--keep-images]`: one call to `lifecycle::remove`, then the
//! container's exported wrappers are removed; what it removed on stdout. Works without the definition file (containers are found by label).

use std::io::Write;
use std::process::ExitCode;

use horizon_core::export::UnexportOutcome;
use horizon_core::lifecycle::{RemoveOptions, RemoveReport, remove};
use serde::Serialize;

use super::export::{remove_exports_of, render_unexported};
use super::installed::{lifecycle_failure, state_store};
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::Failure;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct RemoveJson<'a> {
    schema_version: u32,
    name: &'a str,
    containers: &'a [String],
    images: &'a [String],
    record_removed: bool,
    exports: &'a [String],
    /// The wrappers of this container that were removed.
    unexported: &'a [UnexportOutcome],
}

pub async fn run(global: &GlobalArgs, name: &str, keep_images: bool) -> Result<ExitCode, Failure> {
    let engine = connect_engine(global).await?;
    let _lock = super::guard::lock_for_write(global, &engine, name, "remove", false).await?;
    let state = state_store(global);
    let report = remove(&engine, name, &state, RemoveOptions { keep_images })
        .await
        .map_err(lifecycle_failure)?;
    let unexported = remove_exports_of(global, name)?;
    // The records of its kept generations went with their containers.
    super::guard::update_stores(global)
        .history
        .remove_all(name)
        .map_err(super::guard::update_failure)?;
    let json = RemoveJson {
        schema_version: SCHEMA_VERSION,
        name,
        containers: &report.containers,
        images: &report.images,
        record_removed: report.record.is_some(),
        exports: &report.exports,
        unexported: &unexported,
    };
    print_report(global.json, &json, |out| {
        render(out, name, &report, keep_images)?;
        render_unexported(out, &unexported)
    })?;
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
