//! `horizon-container doctor` on the real machine and test bed: as root (the rootless checks are
//! not run) and as the unprivileged test user (they are), as text and as JSON; and a broken setup
//! (no service at the given endpoint, the export directory off PATH) failing with exit status 1.

use std::process::Output;

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;

use crate::{assert_exit, text};

fn doctor(session: &Session, extra: &[&str]) -> Output {
    session
        .horizon_container()
        .arg("doctor")
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn doctor_as_root_passes_the_system_checks() {
    let bed = TestBed::shared();
    let session = bed.root_session("doctor-root");
    let output = doctor(&session, &[]);
    assert_exit(&output, 0);
    assert_eq!(text(&output.stderr), "");
    assert_eq!(
        text(&output.stdout),
        format!(
            "[passed]  Podman installed: podman version 4.3.1 (/usr/bin/podman)\n\
             [passed]  Podman API service: Podman 4.3.1 (API 4.3.1) answers at {} (CONTAINER_HOST)\n\
             [passed]  Storage driver: overlay in {}\n\
             [passed]  Export directory on PATH: {} is on PATH\n\
             [passed]  In-container agent: {} (static)\n\
             [passed]  horizon's state files: every one can be read\n\
             summary: 6 passed, 0 warnings, 0 failed\n",
            bed.rootful.url(),
            bed.rootful.storage.root.display(),
            session.export_dir.display(),
            agent().display()
        )
    );
}

/// The static agent the sessions point HORIZON_AGENT at, as doctor shows it (its real path).
fn agent() -> std::path::PathBuf {
    std::fs::canonicalize(horizon_e2e::bins::static_agent()).unwrap()
}

/// The first range of `user` in an `/etc/subuid`-format file, as doctor prints it.
fn range_of(file: &str, user: &str) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{user}:")))
        .unwrap_or_else(|| panic!("no {user} in {file}: run scripts/setup"));
    let fields: Vec<u64> = line
        .split(':')
        .skip(1)
        .map(|field| field.parse().unwrap())
        .collect();
    format!(
        "{user}: {}-{} ({} ids) in {file}",
        fields[0],
        fields[0] + fields[1] - 1,
        fields[1]
    )
}

#[test]
fn doctor_as_the_rootless_user_also_checks_the_rootless_prerequisites() {
    let bed = TestBed::shared();
    let session = bed.user_session("doctor-user");
    let output = doctor(&session, &["--json"]);
    assert_exit(&output, 0);
    assert_eq!(text(&output.stderr), "");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["healthy"], true);
    let max_user_namespaces = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
        .unwrap()
        .trim()
        .to_owned();
    let namespaces = match std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone") {
        Ok(_) => format!(
            "user.max_user_namespaces = {max_user_namespaces}, kernel.unprivileged_userns_clone = 1"
        ),
        Err(_) => format!("user.max_user_namespaces = {max_user_namespaces}"),
    };
    let expected = [
        (
            "podman-installed",
            "Podman installed",
            "podman version 4.3.1 (/usr/bin/podman)".to_owned(),
        ),
        (
            "api-service",
            "Podman API service",
            format!(
                "Podman 4.3.1 (API 4.3.1) answers at {} (CONTAINER_HOST)",
                session.service.url()
            ),
        ),
        (
            "subuid",
            "Subordinate uids (rootless)",
            range_of("/etc/subuid", horizon_e2e::TEST_USER),
        ),
        (
            "subgid",
            "Subordinate gids (rootless)",
            range_of("/etc/subgid", horizon_e2e::TEST_USER),
        ),
        (
            "id-map-helpers",
            "newuidmap and newgidmap (rootless)",
            "/usr/bin/newuidmap, /usr/bin/newgidmap".to_owned(),
        ),
        (
            "user-namespaces",
            "User namespaces enabled (rootless)",
            namespaces,
        ),
        (
            "storage-driver",
            "Storage driver",
            format!("overlay in {}", session.service.storage.root.display()),
        ),
        (
            "export-dir-on-path",
            "Export directory on PATH",
            format!("{} is on PATH", session.export_dir.display()),
        ),
        (
            "agent",
            "In-container agent",
            format!("{} (static)", agent().display()),
        ),
        (
            "state-files",
            "horizon's state files",
            "every one can be read".to_owned(),
        ),
    ];
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), expected.len(), "{report:#}");
    for (check, (id, title, detail)) in checks.iter().zip(expected) {
        assert_eq!(
            check,
            &serde_json::json!({
                "id": id, "title": title, "status": "passed", "detail": detail, "fix": null
            })
        );
    }
}

#[test]
fn doctor_fails_with_the_fixes_when_the_service_is_gone_and_exports_are_off_path() {
    let bed = TestBed::shared();
    let session = bed.user_session("doctor-broken");
    let output = session
        .horizon_container()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .args(["doctor", "--url", "unix:///nonexistent/podman.sock"])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    let export_dir = session.export_dir.display();
    let expected_tail = format!(
        "[failed]  Export directory on PATH: {export_dir} is not on PATH: exported binaries are not found\n\
         \x20         fix: echo 'export PATH=\"{export_dir}:$PATH\"' >> ~/.profile, then log in again\n\
         [passed]  In-container agent: {} (static)\n\
         [passed]  horizon's state files: every one can be read\n\
         summary: 7 passed, 1 warning, 2 failed\n",
        agent().display()
    );
    assert!(stdout.ends_with(&expected_tail), "{stdout}");
    let service_check = "[failed]  Podman API service: no Podman service answered; tried:\n\
         \x20           unix:///nonexistent/podman.sock (--url): cannot reach the Podman service at unix:///nonexistent/podman.sock: ";
    assert!(stdout.contains(service_check), "{stdout}");
    assert!(
        stdout.contains(
            "\n          fix: start the service at that endpoint, or drop --url / CONTAINER_HOST to use your own\n\
             [passed]  Subordinate uids (rootless): "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "[warning] Storage driver: not checked: no Podman service answered\n\
             \x20         fix: start the service (see above), then run doctor again\n"
        ),
        "{stdout}"
    );
}
