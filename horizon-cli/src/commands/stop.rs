//! `horizon-container stop NAME`: one call to `Horizon::stop`, its outcome on stdout.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::lifecycle::StopOutcome;
use horizon_core::naming;
use serde::Serialize;

use super::{Session, print_report};

#[derive(Debug, Serialize)]
struct StopReport<'a> {
    name: &'a str,
    container: String,
    outcome: StopOutcome,
}

pub async fn run(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let outcome = session.horizon.stop(session.call(), name).await?;
    let report = StopReport {
        name,
        container: naming::container_name(name),
        outcome,
    };
    print_report(session.json, &report, |out| render(out, &report))?;
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
