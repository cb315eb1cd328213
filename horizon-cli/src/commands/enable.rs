//! `horizon-container enable NAME [--now]`, `disable NAME [--now]` and `start --wait NAME` (what
//! `container@.service` runs): one call each to `Horizon::enable`, `disable` and `serve`, the
//! outcome rendered on stdout.

use std::io::Write;
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_cli_support::exit::{self, Failure};
use horizon_core::systemd::UnitScope;
use horizon_core::usecase::{ServeOutcome, ServiceOptions, ServiceReport};

use super::{Session, cancel_on_signals, print_report};

pub async fn enable(session: &Session, name: &str, now: bool) -> Result<ExitCode, Failure> {
    let report = session
        .horizon
        .enable(session.call(), name, ServiceOptions { now })
        .await?;
    print_report(session.json, &report, |out| render_enable(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn disable(session: &Session, name: &str, now: bool) -> Result<ExitCode, Failure> {
    let report = session
        .horizon
        .disable(session.call(), name, ServiceOptions { now })
        .await?;
    print_report(session.json, &report, |out| render_disable(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs in the foreground as the unit's main process: SIGTERM (the unit stopped) stops the
/// container and exits 0; a container that ends otherwise exits 1, so `Restart=on-failure`
/// starts it again.
pub async fn serve(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let cancel = cancel_on_signals()?;
    let outcome = session
        .horizon
        .serve(session.call_with(&cancel), name)
        .await?;
    match outcome {
        ServeOutcome::Stopped { reason } => {
            print_report(session.json, &outcome_json(name, &reason), |out| {
                writeln!(out, "stopped {name} ({reason})")
            })?;
            Ok(ExitCode::SUCCESS)
        }
        ServeOutcome::ContainerEnded { exit_code } => Err(Failure::new(
            exit::FAILURE,
            anyhow!("{}", ended_message(name, exit_code)),
        )),
    }
}

/// After `install` (autostart: `verb` is "enabled") or `remove` ("disabled"): what happened to
/// the container's unit. A failure is a warning on stderr: the install or remove itself succeeded.
pub fn report_service(
    session: &Session,
    name: &str,
    verb: &str,
    service: &Option<Result<ServiceReport, horizon_core::Error>>,
) {
    let written = match service {
        None => Ok(()),
        Some(Ok(_)) if session.json => Ok(()),
        Some(Ok(report)) => writeln!(std::io::stdout().lock(), "{verb} {}", report.unit),
        Some(Err(error)) => writeln!(
            std::io::stderr().lock(),
            "{}: warning: {} was not {verb}: {}",
            super::BINARY,
            horizon_core::systemd::container_unit(name),
            horizon_core::update::error_chain(error)
        ),
    };
    if let Err(error) = written {
        tracing::debug!(%error, "cannot write the unit's outcome");
    }
}

/// `start --wait`'s `--json` document when the unit was stopped.
fn outcome_json(name: &str, reason: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "stopped": true, "reason": reason})
}

fn ended_message(name: &str, exit_code: Option<i64>) -> String {
    match exit_code {
        Some(code) => format!("the container of {name} stopped (exit code {code})"),
        None => format!("the container of {name} is gone"),
    }
}

fn systemctl(scope: UnitScope) -> &'static str {
    match scope {
        UnitScope::User => "systemctl --user",
        UnitScope::System => "systemctl",
    }
}

fn render_enable(out: &mut impl Write, report: &ServiceReport) -> std::io::Result<()> {
    if report.template_written {
        writeln!(out, "installed {}", report.template.display())?;
    }
    writeln!(
        out,
        "enabled {}{}: {} starts with the {}",
        report.unit,
        if report.now { " and started it" } else { "" },
        report.name,
        match report.scope {
            UnitScope::User => "user's service manager",
            UnitScope::System => "system",
        }
    )?;
    writeln!(out, "  {} status {}", systemctl(report.scope), report.unit)
}

fn render_disable(out: &mut impl Write, report: &ServiceReport) -> std::io::Result<()> {
    writeln!(
        out,
        "disabled {}{}",
        report.unit,
        if report.now { " and stopped it" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(scope: UnitScope, written: bool, now: bool) -> ServiceReport {
        ServiceReport {
            name: "dev".to_owned(),
            unit: "container@dev.service".to_owned(),
            scope,
            template: "/home/u/.config/systemd/user/container@.service".into(),
            template_written: written,
            now,
        }
    }

    #[test]
    fn renders_enable_and_disable() {
        let cases = [
            (
                report(UnitScope::User, true, true),
                "installed /home/u/.config/systemd/user/container@.service\n\
                 enabled container@dev.service and started it: dev starts with the user's service manager\n  \
                 systemctl --user status container@dev.service\n",
            ),
            (
                report(UnitScope::System, false, false),
                "enabled container@dev.service: dev starts with the system\n  \
                 systemctl status container@dev.service\n",
            ),
        ];
        for (report, expected) in cases {
            let mut out = Vec::new();
            render_enable(&mut out, &report).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
        let mut out = Vec::new();
        render_disable(&mut out, &report(UnitScope::User, false, true)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "disabled container@dev.service and stopped it\n"
        );
        assert_eq!(
            ended_message("dev", Some(137)),
            "the container of dev stopped (exit code 137)"
        );
    }
}
