//! `horizon-container info` against the real service: the endpoint, Podman's version and the
//! containers horizon manages, as text and as JSON; and exit status 3 when nothing answers.

use std::process::Command;

use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;

fn horizon_container() -> Command {
    let mut command = Command::new(cargo_bin("horizon-cli", "horizon-container"));
    command
        .env_remove("CONTAINER_HOST")
        .env_remove("HORIZON_DEBUG")
        .env_remove("RUST_LOG");
    command
}

#[test]
fn info_reports_the_service_as_json() {
    let bed = TestBed::shared();
    let output = horizon_container()
        .args(["info", "--json", "--url", &bed.rootful.url()])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["endpoint"], bed.rootful.url());
    assert_eq!(report["podman"]["version"], "4.3.1");
    assert_eq!(report["podman"]["api_version"], "4.3.1");
    assert!(report["managed_containers"].is_array(), "{report}");
}

#[test]
fn info_reads_container_host() {
    let bed = TestBed::shared();
    let output = horizon_container()
        .arg("info")
        .env("CONTAINER_HOST", bed.rootful.url())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(&format!(
            "endpoint: {}\npodman:   4.3.1 (API 4.3.1, ",
            bed.rootful.url()
        )),
        "{text}"
    );
}

#[test]
fn no_service_exits_3_with_what_was_tried_and_the_fix() {
    let output = horizon_container()
        .args(["info", "--url", "unix:///nonexistent/podman.sock"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "horizon-container: error: no Podman service answered; tried:\n  unix:///nonexistent/podman.sock (--url): cannot reach the Podman service at unix:///nonexistent/podman.sock: "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("\nhint: start the service: `systemctl --user enable --now podman.socket`"),
        "{stderr}"
    );
}

#[test]
fn malformed_url_exits_2() {
    let output = horizon_container()
        .args(["info", "--url", "ftp://x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "horizon-container: error: unsupported endpoint scheme in \"ftp://x\": use unix:///path/to/podman.sock, tcp://HOST:PORT or http://HOST:PORT\n"
    );
}

#[test]
fn info_as_the_rootless_user_reports_its_own_service() {
    let session = TestBed::shared().user_session("info-rootless");
    let output = session
        .horizon_container()
        .args(["info", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["endpoint"], session.service.url());
}
