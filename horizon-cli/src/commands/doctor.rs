//! `horizon-container doctor`: runs horizon-core's checks of the machine and renders them, one line
//! per check with the fix under each warning and failure, or as JSON. Exit status 0 when no check
//! failed, 1 otherwise. The library names each fix as data ([`Fix`]); the commands that carry it
//! out, this binary's own among them, are written here.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::{self, Failure};
use horizon_cli_support::hint::enable_socket_command;
use horizon_cli_support::output::Json;
use horizon_core::doctor::{Check, CheckStatus, DoctorReport, Fix};
use serde::Serialize;

use super::{BINARY, Session, finish_output};

/// Width of the status column (`[warning] ` is the widest).
const STATUS_WIDTH: usize = 10;
/// How Podman is installed on the distributions horizon is tested on.
const INSTALL_PODMAN: &str = "install Podman: `sudo apt-get install podman` (Debian, Ubuntu) or `sudo dnf install podman` (Fedora)";

/// The `--json` document: the report, each fix rendered as the text the human output shows.
#[derive(Serialize)]
struct DoctorJson<'a> {
    healthy: bool,
    checks: Vec<CheckJson<'a>>,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    id: &'a str,
    title: &'a str,
    status: CheckStatus,
    detail: &'a str,
    fix: Option<String>,
}

impl<'a> From<&'a Check> for CheckJson<'a> {
    fn from(check: &'a Check) -> Self {
        CheckJson {
            id: check.id,
            title: check.title,
            status: check.status,
            detail: &check.detail,
            fix: check.fix.as_ref().map(render_fix),
        }
    }
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
            writeln!(out, "{indent}fix: {}", render_fix(fix))?;
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

/// The commands (or the change) that carry `fix` out.
fn render_fix(fix: &Fix) -> String {
    match fix {
        Fix::InstallPodman => INSTALL_PODMAN.to_owned(),
        Fix::ReinstallPodman => format!("reinstall Podman ({INSTALL_PODMAN})"),
        Fix::UpgradePodman => format!("upgrade Podman ({INSTALL_PODMAN})"),
        Fix::KeepServiceRunning { uid } => format!(
            "keep the service running: `{}`",
            enable_socket_command(*uid)
        ),
        Fix::StartService { uid } => {
            format!("start the service: `{}`", enable_socket_command(*uid))
        }
        Fix::StartServiceAtEndpoint => {
            "start the service at that endpoint, or drop --url / CONTAINER_HOST to use your own"
                .to_owned()
        }
        Fix::StartServiceThenCheckAgain => {
            "start the service (see above), then run doctor again".to_owned()
        }
        Fix::SeeServiceLog => "see the Podman service's log".to_owned(),
        Fix::AddSubordinateIds { user } => format!(
            "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then \
             `podman system migrate`"
        ),
        Fix::InstallIdMapHelpers => "install them setuid root: `sudo apt-get install uidmap` \
                                     (Debian, Ubuntu) or `sudo dnf install shadow-utils` (Fedora)"
            .to_owned(),
        Fix::EnableUserNamespaces => "sudo sysctl -w user.max_user_namespaces=15000 (and set it \
                                      in /etc/sysctl.d/ to keep it)"
            .to_owned(),
        Fix::EnableUnprivilegedUserNamespaces => "sudo sysctl -w \
                                                  kernel.unprivileged_userns_clone=1 (and set it \
                                                  in /etc/sysctl.d/ to keep it)"
            .to_owned(),
        Fix::UseOverlayStorage => "use overlay: install fuse-overlayfs (or run Linux 5.13 or \
                                   later), set driver = \"overlay\" in \
                                   ~/.config/containers/storage.conf, then `podman system reset` \
                                   (removes all images and containers)"
            .to_owned(),
        Fix::AddExportDirToPath { dir, uid } => {
            let profile = if *uid == 0 {
                "/etc/profile"
            } else {
                "~/.profile"
            };
            format!(
                "echo 'export PATH=\"{}:$PATH\"' >> {profile}, then log in again",
                dir.display()
            )
        }
        Fix::RepairState { names, ledger } => {
            let mut steps: Vec<String> = names
                .iter()
                .map(|name| format!("{BINARY} repair {name}"))
                .collect();
            if let Some(ledger) = ledger {
                steps.push(format!(
                    "move {} aside (the wrappers stay: `{BINARY} export BINARY --from NAME \
                     --force` records each again)",
                    ledger.display()
                ));
            }
            steps.join("; ")
        }
        Fix::InstallAgent => format!(
            "install the static agent as /usr/libexec/horizon/horizon-agent (or beside {BINARY}), \
             or set HORIZON_AGENT to it (`scripts/build-agent` builds it); then \
             `{BINARY} install NAME --reinstall` gives a container it"
        ),
        _ => format!("see `{BINARY} doctor --help`"),
    }
}

fn render_json(out: &mut impl Write, report: &DoctorReport) -> std::io::Result<()> {
    let document = DoctorJson {
        healthy: report.healthy(),
        checks: report.checks.iter().map(CheckJson::from).collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &Json::new(&document))?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
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
                    detail:
                        "no Podman service answered; tried:\n  unix:///s (rootless socket): gone"
                            .into(),
                    fix: Some(Fix::KeepServiceRunning { uid: 1000 }),
                },
                Check {
                    id: "export-dir-on-path",
                    title: "Export directory on PATH",
                    status: CheckStatus::Failed,
                    detail: "/h/.local/bin is not on PATH: exported binaries are not found".into(),
                    fix: Some(Fix::AddExportDirToPath {
                        dir: "/h/.local/bin".into(),
                        uid: 1000,
                    }),
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

    /// What the agent check says to do when there is no usable agent.
    const AGENT_FIX: &str = "install the static agent as /usr/libexec/horizon/horizon-agent (or beside \
                             horizon-container), or set HORIZON_AGENT to it (`scripts/build-agent` \
                             builds it); then `horizon-container install NAME --reinstall` gives a \
                             container it";

    #[test]
    fn every_fix_renders_as_the_commands_that_carry_it_out() {
        let cases = [
            (Fix::InstallPodman, INSTALL_PODMAN),
            (
                Fix::UpgradePodman,
                "upgrade Podman (install Podman: `sudo apt-get install podman` (Debian, Ubuntu) or `sudo dnf install podman` (Fedora))",
            ),
            (
                Fix::ReinstallPodman,
                "reinstall Podman (install Podman: `sudo apt-get install podman` (Debian, Ubuntu) or `sudo dnf install podman` (Fedora))",
            ),
            (
                Fix::KeepServiceRunning { uid: 1000 },
                "keep the service running: `systemctl --user enable --now podman.socket`",
            ),
            (
                Fix::StartService { uid: 0 },
                "start the service: `systemctl enable --now podman.socket`",
            ),
            (
                Fix::StartServiceAtEndpoint,
                "start the service at that endpoint, or drop --url / CONTAINER_HOST to use your own",
            ),
            (
                Fix::AddSubordinateIds {
                    user: "alice".into(),
                },
                "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 alice, then `podman system migrate`",
            ),
            (
                Fix::InstallIdMapHelpers,
                "install them setuid root: `sudo apt-get install uidmap` (Debian, Ubuntu) or `sudo dnf install shadow-utils` (Fedora)",
            ),
            (
                Fix::EnableUserNamespaces,
                "sudo sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to keep it)",
            ),
            (
                Fix::EnableUnprivilegedUserNamespaces,
                "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)",
            ),
            (
                Fix::UseOverlayStorage,
                "use overlay: install fuse-overlayfs (or run Linux 5.13 or later), set driver = \"overlay\" in ~/.config/containers/storage.conf, then `podman system reset` (removes all images and containers)",
            ),
            (
                Fix::StartServiceThenCheckAgain,
                "start the service (see above), then run doctor again",
            ),
            (Fix::SeeServiceLog, "see the Podman service's log"),
            (
                Fix::AddExportDirToPath {
                    dir: "/home/alice/.local/bin".into(),
                    uid: 1000,
                },
                "echo 'export PATH=\"/home/alice/.local/bin:$PATH\"' >> ~/.profile, then log in again",
            ),
            (
                Fix::AddExportDirToPath {
                    dir: "/usr/local/bin".into(),
                    uid: 0,
                },
                "echo 'export PATH=\"/usr/local/bin:$PATH\"' >> /etc/profile, then log in again",
            ),
            (Fix::InstallAgent, AGENT_FIX),
        ];
        for (fix, expected) in cases {
            assert_eq!(render_fix(&fix), expected, "{fix:?}");
        }
    }
}
