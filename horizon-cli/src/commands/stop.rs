//! `horizon-container stop NAME`: one call to `lifecycle::stop`, its outcome on stdout.

use std::io::Write;
use std::process::ExitCode;

use horizon_core::lifecycle::{StopOutcome, stop};
use horizon_core::naming;
use serde::Serialize;

use super::installed::lifecycle_failure;
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::Failure;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct StopReport<'a> {
    schema_version: u32,
    name: &'a str,
    container: String,
    outcome: StopOutcome,
}

pub async fn run(global: &GlobalArgs, name: &str) -> Result<ExitCode, Failure> {
    let engine = connect_engine(global).await?;
    super::guard::recover_before_reading(global, &engine, name).await;
    let outcome = stop(&engine, name).await.map_err(lifecycle_failure)?;
    let report = StopReport {
        schema_version: SCHEMA_VERSION,
        name,
        container: naming::container_name(name),
        outcome,
    };
    print_report(global.json, &report, |out| render(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, report: &StopReport<'_>) -> std::io::Result<()> {
    let StopReport {
        name, container, ..
    } = report;
    match report.outcome {
        StopOutcome::AlreadyStopped => writeln!(out, "{name} is not running ({container})"),
        _ => writeln!(out, "stopped {name} ({container})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_outcome() {
        for (outcome, expected) in [
            (StopOutcome::Stopped, "stopped tools (horizonos-tools)\n"),
            (
                StopOutcome::AlreadyStopped,
                "tools is not running (horizonos-tools)\n",
            ),
        ] {
            let report = StopReport {
                schema_version: SCHEMA_VERSION,
                name: "tools",
                container: "horizonos-tools".into(),
                outcome,
            };
            let mut out = Vec::new();
            render(&mut out, &report).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
