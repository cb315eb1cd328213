//! Table tests of every doctor check on made-up machines.

use super::diagnose::{major_version, subordinate_ranges};
use super::gather::user_name;
use super::*;

const SUBIDS: &str = "root:200000:65536\nalice:100000:65536\n";

fn engine_version() -> EngineVersion {
    EngineVersion {
        version: "4.3.1".into(),
        api_version: "4.3.1".into(),
        os_arch: "linux/amd64".into(),
    }
}

fn engine_info(driver: &str) -> EngineInfo {
    EngineInfo {
        rootless: true,
        storage_driver: driver.into(),
        graph_root: "/home/alice/.local/share/containers/storage".into(),
        oci_runtime: "crun".into(),
        cgroup_manager: "systemd".into(),
    }
}

/// A healthy rootless machine for user `alice` (uid 1000).
fn healthy() -> DoctorInput {
    DoctorInput {
        uid: 1000,
        user_name: Some("alice".into()),
        path: Some("/home/alice/.local/bin:/usr/bin:/bin".into()),
        podman: Some(InstalledProgram {
            path: "/usr/bin/podman".into(),
            version: Ok("podman version 4.3.1".into()),
        }),
        map_helpers: ID_MAP_HELPERS
            .iter()
            .map(|&name| MapHelper {
                name,
                path: Some(PathBuf::from("/usr/bin").join(name)),
                privileged: true,
            })
            .collect(),
        subuid: Some(SUBIDS.into()),
        subgid: Some(SUBIDS.into()),
        max_user_namespaces: Some("15000\n".into()),
        unprivileged_userns_clone: Some("1\n".into()),
        service: ServiceProbe::Answered {
            endpoint: "unix:///run/user/1000/podman/podman.sock".into(),
            origin: "rootless socket".into(),
            version: engine_version(),
            info: Ok(engine_info("overlay")),
        },
        export_dir: "/home/alice/.local/bin".into(),
        agent: AgentFinding::Found("/usr/libexec/horizon/horizon-agent".into()),
        state: Vec::new(),
    }
}

fn check<'a>(report: &'a DoctorReport, id: &str) -> &'a Check {
    report
        .checks
        .iter()
        .find(|check| check.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:?}"))
}

#[test]
fn a_healthy_rootless_machine_passes_every_check_in_order() {
    let report = diagnose(&healthy());
    let ids: Vec<&str> = report.checks.iter().map(|check| check.id).collect();
    assert_eq!(
        ids,
        [
            "podman-installed",
            "api-service",
            "subuid",
            "subgid",
            "id-map-helpers",
            "user-namespaces",
            "storage-driver",
            "export-dir-on-path",
            "agent",
            "state-files"
        ]
    );
    assert!(report.healthy());
    assert_eq!(report.count(CheckStatus::Passed), 10);
    let details: Vec<(&str, &str)> = report
        .checks
        .iter()
        .map(|check| (check.id, check.detail.as_str()))
        .collect();
    assert_eq!(
        details,
        [
            ("podman-installed", "podman version 4.3.1 (/usr/bin/podman)"),
            (
                "api-service",
                "Podman 4.3.1 (API 4.3.1) answers at unix:///run/user/1000/podman/podman.sock (rootless socket)"
            ),
            ("subuid", "alice: 100000-165535 (65536 ids) in /etc/subuid"),
            ("subgid", "alice: 100000-165535 (65536 ids) in /etc/subgid"),
            ("id-map-helpers", "/usr/bin/newuidmap, /usr/bin/newgidmap"),
            (
                "user-namespaces",
                "user.max_user_namespaces = 15000, kernel.unprivileged_userns_clone = 1"
            ),
            (
                "storage-driver",
                "overlay in /home/alice/.local/share/containers/storage"
            ),
            ("export-dir-on-path", "/home/alice/.local/bin is on PATH"),
            ("agent", "/usr/libexec/horizon/horizon-agent (static)"),
            ("state-files", "every one can be read"),
        ]
    );
    assert!(report.checks.iter().all(|check| check.fix.is_none()));
}

#[test]
fn root_skips_the_rootless_checks() {
    let input = DoctorInput {
        uid: 0,
        user_name: Some("root".into()),
        subuid: None,
        map_helpers: Vec::new(),
        max_user_namespaces: Some("0".into()),
        export_dir: "/usr/local/bin".into(),
        path: Some("/usr/local/bin:/usr/bin".into()),
        ..healthy()
    };
    let report = diagnose(&input);
    let ids: Vec<&str> = report.checks.iter().map(|check| check.id).collect();
    assert_eq!(
        ids,
        [
            "podman-installed",
            "api-service",
            "storage-driver",
            "export-dir-on-path",
            "agent",
            "state-files"
        ]
    );
    assert!(report.healthy());
}

/// One broken fact, the check it breaks, and what that check must say.
struct Case {
    name: &'static str,
    input: DoctorInput,
    id: &'static str,
    status: CheckStatus,
    detail: &'static str,
    fix: Fix,
}

#[test]
fn each_broken_fact_fails_or_warns_its_check_with_the_fix() {
    let cases = [
        Case {
            name: "podman missing",
            input: DoctorInput {
                podman: None,
                ..healthy()
            },
            id: "podman-installed",
            status: CheckStatus::Failed,
            detail: "no `podman` on PATH",
            fix: Fix::InstallPodman,
        },
        Case {
            name: "podman too old",
            input: DoctorInput {
                podman: Some(InstalledProgram {
                    path: "/usr/bin/podman".into(),
                    version: Ok("podman version 3.4.4".into()),
                }),
                ..healthy()
            },
            id: "podman-installed",
            status: CheckStatus::Failed,
            detail: "podman version 3.4.4 (/usr/bin/podman): horizon needs Podman 4 or later",
            fix: Fix::UpgradePodman,
        },
        Case {
            name: "podman does not run",
            input: DoctorInput {
                podman: Some(InstalledProgram {
                    path: "/usr/bin/podman".into(),
                    version: Err("cannot run /usr/bin/podman: Permission denied".into()),
                }),
                ..healthy()
            },
            id: "podman-installed",
            status: CheckStatus::Failed,
            detail: "/usr/bin/podman does not run: cannot run /usr/bin/podman: Permission denied",
            fix: Fix::ReinstallPodman,
        },
        Case {
            name: "no service, but horizon starts one on demand",
            input: DoctorInput {
                service: ServiceProbe::NoAnswer {
                    error: "no Podman service answered; tried: …".into(),
                    explicit: false,
                    own_socket: Some("unix:///run/user/1000/podman/podman.sock".into()),
                },
                ..healthy()
            },
            id: "api-service",
            status: CheckStatus::Warning,
            detail: "no Podman service answered; tried: …\nhorizon-container starts `podman system service` on unix:///run/user/1000/podman/podman.sock when needed",
            fix: Fix::KeepServiceRunning { uid: 1000 },
        },
        Case {
            name: "explicit endpoint does not answer",
            input: DoctorInput {
                service: ServiceProbe::NoAnswer {
                    error: "no Podman service answered; tried: unix:///x.sock (--url): …".into(),
                    explicit: true,
                    own_socket: None,
                },
                ..healthy()
            },
            id: "api-service",
            status: CheckStatus::Failed,
            detail: "no Podman service answered; tried: unix:///x.sock (--url): …",
            fix: Fix::StartServiceAtEndpoint,
        },
        Case {
            name: "no service and no podman",
            input: DoctorInput {
                podman: None,
                service: ServiceProbe::NoAnswer {
                    error: "no Podman service answered".into(),
                    explicit: false,
                    own_socket: Some("unix:///run/user/1000/podman/podman.sock".into()),
                },
                ..healthy()
            },
            id: "api-service",
            status: CheckStatus::Failed,
            detail: "no Podman service answered",
            fix: Fix::InstallPodman,
        },
        Case {
            name: "no subuid entry",
            input: DoctorInput {
                subuid: Some("bob:100000:65536\n".into()),
                ..healthy()
            },
            id: "subuid",
            status: CheckStatus::Failed,
            detail: "/etc/subuid has no entry for alice",
            fix: Fix::AddSubordinateIds {
                user: "alice".into(),
            },
        },
        Case {
            name: "no subgid file",
            input: DoctorInput {
                subgid: None,
                ..healthy()
            },
            id: "subgid",
            status: CheckStatus::Failed,
            detail: "/etc/subgid does not exist or cannot be read",
            fix: Fix::AddSubordinateIds {
                user: "alice".into(),
            },
        },
        Case {
            name: "subuid entry by uid, too small",
            input: DoctorInput {
                subuid: Some("1000:100000:1000\n".into()),
                ..healthy()
            },
            id: "subuid",
            status: CheckStatus::Warning,
            detail: "alice: 100000-100999 (1000 ids) in /etc/subuid: images using ids up to 65535 will not unpack",
            fix: Fix::AddSubordinateIds {
                user: "alice".into(),
            },
        },
        Case {
            name: "newgidmap missing",
            input: DoctorInput {
                map_helpers: vec![
                    MapHelper {
                        name: "newuidmap",
                        path: Some("/usr/bin/newuidmap".into()),
                        privileged: true,
                    },
                    MapHelper {
                        name: "newgidmap",
                        path: None,
                        privileged: false,
                    },
                ],
                ..healthy()
            },
            id: "id-map-helpers",
            status: CheckStatus::Failed,
            detail: "not on PATH: newgidmap",
            fix: Fix::InstallIdMapHelpers,
        },
        Case {
            name: "newuidmap not setuid",
            input: DoctorInput {
                map_helpers: vec![
                    MapHelper {
                        name: "newuidmap",
                        path: Some("/usr/bin/newuidmap".into()),
                        privileged: false,
                    },
                    MapHelper {
                        name: "newgidmap",
                        path: Some("/usr/bin/newgidmap".into()),
                        privileged: true,
                    },
                ],
                ..healthy()
            },
            id: "id-map-helpers",
            status: CheckStatus::Failed,
            detail: "neither setuid root nor with file capabilities: /usr/bin/newuidmap",
            fix: Fix::InstallIdMapHelpers,
        },
        Case {
            name: "user namespaces limited to 0",
            input: DoctorInput {
                max_user_namespaces: Some("0\n".into()),
                ..healthy()
            },
            id: "user-namespaces",
            status: CheckStatus::Failed,
            detail: "user.max_user_namespaces is 0",
            fix: Fix::EnableUserNamespaces,
        },
        Case {
            name: "unprivileged user namespaces switched off",
            input: DoctorInput {
                unprivileged_userns_clone: Some("0\n".into()),
                ..healthy()
            },
            id: "user-namespaces",
            status: CheckStatus::Failed,
            detail: "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces",
            fix: Fix::EnableUnprivilegedUserNamespaces,
        },
        Case {
            name: "vfs storage",
            input: DoctorInput {
                service: ServiceProbe::Answered {
                    endpoint: "unix:///s".into(),
                    origin: "rootless socket".into(),
                    version: engine_version(),
                    info: Ok(engine_info("vfs")),
                },
                ..healthy()
            },
            id: "storage-driver",
            status: CheckStatus::Warning,
            detail: "vfs in /home/alice/.local/share/containers/storage: every layer is a full copy, so containers are slow to create and large",
            fix: Fix::UseOverlayStorage,
        },
        Case {
            name: "storage not checkable without a service",
            input: DoctorInput {
                service: ServiceProbe::NoAnswer {
                    error: "x".into(),
                    explicit: true,
                    own_socket: None,
                },
                ..healthy()
            },
            id: "storage-driver",
            status: CheckStatus::Warning,
            detail: "not checked: no Podman service answered",
            fix: Fix::StartServiceThenCheckAgain,
        },
        Case {
            name: "export directory not on PATH",
            input: DoctorInput {
                path: Some("/usr/bin:/bin".into()),
                ..healthy()
            },
            id: "export-dir-on-path",
            status: CheckStatus::Failed,
            detail: "/home/alice/.local/bin is not on PATH: exported binaries are not found",
            fix: Fix::AddExportDirToPath {
                dir: "/home/alice/.local/bin".into(),
                uid: 1000,
            },
        },
        Case {
            name: "no agent",
            input: DoctorInput {
                agent: AgentFinding::Missing,
                ..healthy()
            },
            id: "agent",
            status: CheckStatus::Warning,
            detail: "none found ($HORIZON_AGENT, ../libexec/horizon/horizon-agent, horizon-agent \
                     beside horizon-container): new containers are made without it, and their \
                     exported binaries and `shell` take the API path (a libpod exec per call, \
                     ~150 ms instead of ~3 ms)",
            fix: Fix::InstallAgent,
        },
        Case {
            name: "an agent that is not static",
            input: DoctorInput {
                agent: AgentFinding::Unusable(
                    "the agent binary /x is not statically linked".into(),
                ),
                ..healthy()
            },
            id: "agent",
            status: CheckStatus::Warning,
            detail: "the agent binary /x is not statically linked: new containers are made \
                     without it, and their exported binaries and `shell` take the API path (a \
                     libpod exec per call, ~150 ms instead of ~3 ms)",
            fix: Fix::InstallAgent,
        },
        Case {
            name: "unreadable state files",
            input: DoctorInput {
                state: vec![
                    StateProblem {
                        path: "/s/containers/b.json".into(),
                        container: Some("b".into()),
                        message: "/s/containers/b.json: not a valid install record: EOF".into(),
                    },
                    StateProblem {
                        path: "/s/journal/a.json".into(),
                        container: Some("a".into()),
                        message: "/s/journal/a.json: not a valid update journal: EOF".into(),
                    },
                    StateProblem {
                        path: "/s/exports.json".into(),
                        container: None,
                        message: "/s/exports.json: not a valid export ledger: EOF".into(),
                    },
                ],
                ..healthy()
            },
            id: "state-files",
            status: CheckStatus::Failed,
            detail: "/s/containers/b.json: not a valid install record: EOF\n\
                     /s/journal/a.json: not a valid update journal: EOF\n\
                     /s/exports.json: not a valid export ledger: EOF",
            fix: Fix::RepairState {
                names: vec!["a".into(), "b".into()],
                ledger: Some("/s/exports.json".into()),
            },
        },
    ];
    for case in cases {
        let report = diagnose(&case.input);
        let found = check(&report, case.id);
        assert_eq!(
            (found.status, found.detail.as_str(), found.fix.as_ref()),
            (case.status, case.detail, Some(&case.fix)),
            "{}",
            case.name
        );
        // Exactly this check is not passed (the storage check follows the service's).
        let others_not_passed: Vec<&str> = report
            .checks
            .iter()
            .filter(|other| other.id != case.id && other.status != CheckStatus::Passed)
            .map(|other| other.id)
            .collect();
        let allowed: &[&str] = match case.id {
            "api-service" => &["storage-driver", "podman-installed"],
            "storage-driver" => &["api-service"],
            "podman-installed" => &[],
            _ => &[],
        };
        assert!(
            others_not_passed.iter().all(|id| allowed.contains(id)),
            "{}: {others_not_passed:?}",
            case.name
        );
        assert_eq!(
            report.healthy(),
            case.status != CheckStatus::Failed
                && others_not_passed
                    .iter()
                    .all(|id| check(&report, id).status != CheckStatus::Failed),
            "{}",
            case.name
        );
    }
}

#[test]
fn subordinate_ranges_match_by_name_or_uid_and_skip_garbage() {
    let text = "alice:100000:65536\n1000:300000:10\n# comment\nbob:1:2\nalice:bad:1\n";
    assert_eq!(
        subordinate_ranges(text, Some("alice"), 1000),
        [(100_000, 65_536), (300_000, 10)]
    );
    assert_eq!(subordinate_ranges(text, None, 1000), [(300_000, 10)]);
    assert_eq!(subordinate_ranges("", Some("alice"), 1000), []);
}

#[test]
fn user_names_come_from_the_passwd_text() {
    let passwd =
        "root:x:0:0:root:/root:/bin/bash\nhorizon-test:x:1001:1001::/home/horizon-test:/bin/sh\n";
    assert_eq!(user_name(passwd, 1001).as_deref(), Some("horizon-test"));
    assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
    assert_eq!(user_name(passwd, 7), None);
}

#[test]
fn major_versions_are_read_from_version_lines() {
    assert_eq!(major_version("podman version 4.3.1"), Some(4));
    assert_eq!(major_version("podman version 5.0.0-dev"), Some(5));
    assert_eq!(major_version("garbage"), None);
}
