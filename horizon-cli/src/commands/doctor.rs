//! `horizon-container doctor`: runs horizon-core's checks of the machine and renders them, one line
//! per check with the fix under each warning and failure, or as JSON. Exit status 0 when no check
//! failed, 1 otherwise.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::{self, Failure};
use horizon_cli_support::output::Json;
use horizon_core::doctor::{CheckStatus, DoctorReport};
use serde::Serialize;

use super::{Session, finish_output};

/// Width of the status column (`[warning] ` is the widest).
const STATUS_WIDTH: usize = 10;

#[derive(Serialize)]
struct DoctorJson<'a> {
    healthy: bool,
    #[serde(flatten)]
    report: &'a DoctorReport,
}

pub async fn run(session: &Session) -> Result<ExitCode, Failure> {
    let report = session.horizon.doctor().await;
    let mut stdout = std::io::stdout().lock();
    let written = if session.json {
        render_json(&mut stdout, &report)
    } else {
        render(&mut stdout, &report)
    };
    finish_output(written)?;
    Ok(if report.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::FAILURE)
    })
}

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Passed => "[passed]",
        CheckStatus::Warning => "[warning]",
        CheckStatus::Failed => "[failed]",
    }
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

fn render(out: &mut impl Write, report: &DoctorReport) -> std::io::Result<()> {
    let indent = " ".repeat(STATUS_WIDTH);
    for check in &report.checks {
        let mut lines = check.detail.lines();
        writeln!(
            out,
            "{:<STATUS_WIDTH$}{}: {}",
            status_word(check.status),
            check.title,
            lines.next().unwrap_or_default()
        )?;
        for line in lines {
            writeln!(out, "{indent}{line}")?;
        }
        if let Some(fix) = &check.fix {
            writeln!(out, "{indent}fix: {fix}")?;
        }
    }
    writeln!(
        out,
        "summary: {} passed, {}, {} failed",
        report.count(CheckStatus::Passed),
        plural(report.count(CheckStatus::Warning), "warning"),
        report.count(CheckStatus::Failed)
    )
}

fn render_json(out: &mut impl Write, report: &DoctorReport) -> std::io::Result<()> {
    let document = DoctorJson {
        healthy: report.healthy(),
        report,
    };
    serde_json::to_writer_pretty(&mut *out, &Json::new(&document))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use horizon_core::doctor::Check;

    use super::*;

    fn report() -> DoctorReport {
        DoctorReport {
            checks: vec![
                Check {
                    id: "podman-installed",
                    title: "Podman installed",
                    status: CheckStatus::Passed,
                    detail: "podman version 4.3.1 (/usr/bin/podman)".into(),
                    fix: None,
                },
                Check {
                    id: "api-service",
                    title: "Podman API service",
                    status: CheckStatus::Warning,
                    detail: "no Podman service answered; tried:\n  unix:///s (rootless socket): gone"
                        .into(),
                    fix: Some("keep the service running: `systemctl --user enable --now podman.socket`".into()),
                },
                Check {
                    id: "export-dir-on-path",
                    title: "Export directory on PATH",
                    status: CheckStatus::Failed,
                    detail: "/h/.local/bin is not on PATH: exported binaries are not found".into(),
                    fix: Some("echo 'export PATH=\"/h/.local/bin:$PATH\"' >> ~/.profile, then log in again".into()),
                },
            ],
        }
    }

    #[test]
    fn renders_one_line_per_check_with_continuations_and_fixes() {
        let mut out = Vec::new();
        render(&mut out, &report()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[passed]  Podman installed: podman version 4.3.1 (/usr/bin/podman)\n\
             [warning] Podman API service: no Podman service answered; tried:\n\
             \x20           unix:///s (rootless socket): gone\n\
             \x20         fix: keep the service running: `systemctl --user enable --now podman.socket`\n\
             [failed]  Export directory on PATH: /h/.local/bin is not on PATH: exported binaries are not found\n\
             \x20         fix: echo 'export PATH=\"/h/.local/bin:$PATH\"' >> ~/.profile, then log in again\n\
             summary: 1 passed, 1 warning, 1 failed\n"
        );
    }

    #[test]
    fn json_carries_the_schema_version_and_every_field() {
        let mut out = Vec::new();
        render_json(&mut out, &report()).unwrap();
        let document: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(document["schema_version"], 1);
        assert_eq!(document["healthy"], false);
        assert_eq!(
            document["checks"][2],
            serde_json::json!({
                "id": "export-dir-on-path",
                "title": "Export directory on PATH",
                "status": "failed",
                "detail": "/h/.local/bin is not on PATH: exported binaries are not found",
                "fix": "echo 'export PATH=\"/h/.local/bin:$PATH\"' >> ~/.profile, then log in again"
            })
        );
        assert_eq!(document["checks"][0]["fix"], serde_json::Value::Null);
        assert_eq!(document.as_object().unwrap().len(), 3);
    }
}
