//! `horizon-container info`: the Podman service in use (endpoint, version) and the containers
//! horizon manages there.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::usecase::InfoReport;

use super::{Session, print_report};

pub async fn run(session: &Session) -> Result<ExitCode, Failure> {
    let report = session.horizon.info(session.call()).await?;
    print_report(session.json, &report, |out| render(out, &report))?;
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, report: &InfoReport) -> std::io::Result<()> {
    writeln!(out, "endpoint: {}", report.endpoint)?;
    writeln!(
        out,
        "podman:   {} (API {}, {})",
        report.podman.version, report.podman.api_version, report.podman.os_arch
    )?;
    if report.managed_containers.is_empty() {
        return writeln!(out, "managed containers: none");
    }
    writeln!(out, "managed containers:")?;
    for container in &report.managed_containers {
        writeln!(
            out,
            "  {:<30} {:<10} {}",
            container.name, container.state, container.image
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use horizon_core::engine::{ContainerSummary, EngineVersion, RunState};

    use super::*;

    #[test]
    fn renders_version_and_containers() {
        let version = EngineVersion {
            version: "4.3.1".into(),
            api_version: "4.3.1".into(),
            os_arch: "linux/amd64".into(),
        };
        let containers = vec![ContainerSummary {
            id: "abc".into(),
            name: "horizonos-development".into(),
            image: "localhost/horizonos/development:1".into(),
            image_id: "f00".into(),
            state: RunState::Running,
            labels: Default::default(),
        }];
        let report = InfoReport {
            endpoint: "unix:///run/podman/podman.sock".into(),
            podman: version,
            managed_containers: containers,
        };
        let mut out = Vec::new();
        render(&mut out, &report).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "endpoint: unix:///run/podman/podman.sock\n\
             podman:   4.3.1 (API 4.3.1, linux/amd64)\n\
             managed containers:\n  \
             horizonos-development          running    localhost/horizonos/development:1\n"
        );
        let empty = InfoReport {
            managed_containers: vec![],
            ..report
        };
        let mut out = Vec::new();
        render(&mut out, &empty).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("managed containers: none\n")
        );
    }
}
