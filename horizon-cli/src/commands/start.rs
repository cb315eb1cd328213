//! `horizon-container start NAME`: one call to `Horizon::start` (a non-persistent container is
//! recreated fresh first), its outcome on stdout.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::lifecycle::StartOutcome;
use serde::Serialize;

use super::{Session, print_report};

#[derive(Debug, Serialize)]
struct StartReport<'a> {
    name: &'a str,
    container: &'a str,
    outcome: StartOutcome,
}

pub async fn run(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let started = session.horizon.start(session.call(), name).await?;
    let report = StartReport {
        name,
        container: &started.container.name,
        outcome: started.outcome,
    };
    print_report(session.json, &report, |out| render(out, &report))?;
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
