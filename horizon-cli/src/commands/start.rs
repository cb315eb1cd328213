//! `horizon-container start NAME`: one call to `lifecycle::start` (a non-persistent container is
//! recreated fresh first), its outcome on stdout.

use std::io::Write;
use std::process::ExitCode;

use horizon_core::lifecycle::{StartOutcome, start};
use serde::Serialize;

use super::installed::lifecycle_failure;
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::Failure;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct StartReport<'a> {
    schema_version: u32,
    name: &'a str,
    container: &'a str,
    outcome: StartOutcome,
}

pub async fn run(global: &GlobalArgs, name: &str) -> Result<ExitCode, Failure> {
    let engine = connect_engine(global).await?;
    super::guard::recover_before_reading(global, &engine, name).await;
    let (outcome, details) = start(&engine, name).await.map_err(lifecycle_failure)?;
    let report = StartReport {
        schema_version: SCHEMA_VERSION,
        name,
        container: &details.name,
        outcome,
    };
    print_report(global.json, &report, |out| render(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, report: &StartReport<'_>) -> std::io::Result<()> {
    let StartReport {
        name, container, ..
    } = report;
    match report.outcome {
        StartOutcome::AlreadyRunning => writeln!(out, "{name} is already running ({container})"),
        StartOutcome::Started => writeln!(out, "started {name} ({container})"),
        StartOutcome::Recreated => writeln!(
            out,
            "started {name} ({container}), recreated fresh from its generation image (not persistent)"
        ),
        _ => writeln!(out, "started {name} ({container})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_outcome() {
        for (outcome, expected) in [
            (
                StartOutcome::AlreadyRunning,
                "tools is already running (horizonos-tools)\n",
            ),
            (StartOutcome::Started, "started tools (horizonos-tools)\n"),
            (
                StartOutcome::Recreated,
                "started tools (horizonos-tools), recreated fresh from its generation image (not persistent)\n",
            ),
        ] {
            let report = StartReport {
                schema_version: SCHEMA_VERSION,
                name: "tools",
                container: "horizonos-tools",
                outcome,
            };
            let mut out = Vec::new();
            render(&mut out, &report).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
