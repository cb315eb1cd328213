//! Unit tests of the rendered units, the Quadlet keys, and the pre-update checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::checks::*;
use super::generate::{podman_unit, quadlet};
use super::units::*;
use crate::engine::{BindMount, ContainerSpec, DeviceMapping, NetworkMode, UserNamespace};

fn spec() -> ContainerSpec {
    ContainerSpec {
        name: "horizonos-dev".to_owned(),
        image: "localhost/horizonos/dev:gen-3".to_owned(),
        command: vec!["sleep".to_owned(), "infinity".to_owned()],
        entrypoint: Some(Vec::new()),
        labels: BTreeMap::from([("io.horizonos.managed".to_owned(), "true".to_owned())]),
        env: BTreeMap::from([
            ("GREETING".to_owned(), "100% \"sure\" $HOME\nbye".to_owned()),
            ("PLAIN".to_owned(), "x".to_owned()),
        ]),
        stop_timeout_secs: 10,
        mounts: vec![
            BindMount {
                source: "/home/u/My Files".to_owned(),
                target: "/data".to_owned(),
                read_only: true,
            },
            BindMount {
                source: "/srv/50%".to_owned(),
                target: "/srv".to_owned(),
                read_only: false,
            },
        ],
        devices: vec![DeviceMapping {
            host: "/dev/dri".to_owned(),
            container: "/dev/dri".to_owned(),
            permissions: "rwm".to_owned(),
        }],
        network: NetworkMode::None,
        privileged: false,
        cap_add: vec!["CAP_CHOWN".to_owned(), "CAP_KILL".to_owned()],
        no_new_privileges: true,
        userns: Some(UserNamespace::KeepId),
        user: None,
        hostname: Some("dev".to_owned()),
        init: true,
    }
}

/// The `KEY=value` lines of `section` in `text`, in order.
fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (key, value) = line.split_once('=').expect("KEY=value");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn the_template_runs_start_wait_for_its_instance_with_the_environment_it_was_enabled_with() {
    let environment = vec![
        (
            "HORIZON_STATE_DIR".to_owned(),
            "/home/u/100% state".to_owned(),
        ),
        (
            "CONTAINER_HOST".to_owned(),
            "unix:///run/user/1000/podman/podman.sock".to_owned(),
        ),
    ];
    let context = UnitContext {
        scope: UnitScope::User,
        program: Path::new("/opt/horizon bin/horizon-container"),
        environment: &environment,
    };
    let text = container_template(&context);
    assert_eq!(
        section(&text, "Unit"),
        pairs(&[
            ("Description", "HorizonOS container %i"),
            ("Wants", "podman.socket"),
            ("After", "podman.socket network-online.target"),
            ("StartLimitIntervalSec", "60"),
            ("StartLimitBurst", "5"),
        ])
    );
    assert_eq!(
        section(&text, "Service"),
        pairs(&[
            ("Type", "notify"),
            ("NotifyAccess", "main"),
            ("Environment", "\"HORIZON_STATE_DIR=/home/u/100%% state\""),
            (
                "Environment",
                "\"CONTAINER_HOST=unix:///run/user/1000/podman/podman.sock\""
            ),
            (
                "ExecStart",
                "\"/opt/horizon bin/horizon-container\" start --wait %i"
            ),
            ("KillMode", "mixed"),
            ("Restart", "on-failure"),
            ("RestartSec", "2"),
            ("TimeoutStartSec", "300"),
            ("TimeoutStopSec", "30"),
        ])
    );
    assert_eq!(
        section(&text, "Install"),
        pairs(&[("WantedBy", "default.target")])
    );
    let system = container_template(&UnitContext {
        scope: UnitScope::System,
        ..context
    });
    assert_eq!(
        section(&system, "Install"),
        pairs(&[("WantedBy", "multi-user.target")])
    );
    assert_eq!(container_unit("dev"), "container@dev.service");
}

#[test]
fn the_update_timer_is_daily_randomised_and_persistent() {
    assert_eq!(
        section(&update_timer(), "Timer"),
        pairs(&[
            ("OnCalendar", "daily"),
            ("RandomizedDelaySec", "1h"),
            ("Persistent", "true"),
        ])
    );
    let service = update_service(&UnitContext {
        scope: UnitScope::System,
        program: Path::new("/usr/bin/horizon-update"),
        environment: &[],
    });
    assert_eq!(
        section(&service, "Service"),
        pairs(&[
            ("Type", "oneshot"),
            ("ExecStart", "/usr/bin/horizon-update --all --unattended"),
            ("Nice", "10"),
            ("IOSchedulingClass", "idle"),
        ])
    );
}

#[test]
fn the_quadlet_file_has_a_key_for_each_part_of_the_container() {
    let unit = quadlet("dev", Some(3), &spec(), UnitScope::User).unwrap();
    assert_eq!(unit.file_name, "horizon-dev.container");
    assert_eq!(
        section(&unit.text, "Unit"),
        pairs(&[("Description", "HorizonOS container dev (generation 3)")])
    );
    assert_eq!(
        section(&unit.text, "Container"),
        pairs(&[
            ("Image", "localhost/horizonos/dev:gen-3"),
            ("ContainerName", "horizonos-dev-unit"),
            ("Label", "io.horizonos.generated-from=dev"),
            ("Environment", "\"GREETING=100%% \\\"sure\\\" $HOME\\nbye\""),
            ("Environment", "\"PLAIN=x\""),
            ("Volume", "/home/u/My Files:/data:ro"),
            ("Volume", "/srv/50%%:/srv"),
            ("AddDevice", "/dev/dri:/dev/dri:rwm"),
            ("Network", "none"),
            ("DropCapability", "all"),
            ("AddCapability", "CAP_CHOWN CAP_KILL"),
            ("NoNewPrivileges", "true"),
            ("RunInit", "true"),
            (
                "PodmanArgs",
                "--userns=keep-id --hostname=dev --stop-timeout=10 --entrypoint="
            ),
            ("Exec", "sleep infinity"),
        ])
    );
    assert_eq!(
        section(&unit.text, "Install"),
        pairs(&[("WantedBy", "default.target")])
    );

    let mut privileged = spec();
    privileged.privileged = true;
    privileged.network = NetworkMode::Host;
    privileged.no_new_privileges = false;
    let text = quadlet("dev", None, &privileged, UnitScope::System)
        .unwrap()
        .text;
    let container = section(&text, "Container");
    assert!(container.contains(&("Network".to_owned(), "host".to_owned())));
    assert!(container.contains(&(
        "PodmanArgs".to_owned(),
        "--privileged --userns=keep-id --hostname=dev --stop-timeout=10 --entrypoint=".to_owned()
    )));
    assert!(
        !container
            .iter()
            .any(|(key, _)| key == "DropCapability" || key == "NoNewPrivileges")
    );

    let mut newline = spec();
    newline.mounts[0].source = "/home/u/a\nb".to_owned();
    assert_eq!(
        quadlet("dev", None, &newline, UnitScope::User)
            .unwrap_err()
            .to_string(),
        "the mounts value /home/u/a\\nb:/data:ro cannot be written in a unit file (it holds a control character)"
    );
}

#[test]
fn the_podman_unit_runs_the_generation_image_with_every_option_escaped() {
    let unit = podman_unit(
        "dev",
        Some(3),
        &spec(),
        Path::new("/usr/bin/podman"),
        UnitScope::System,
    );
    assert_eq!(unit.file_name, "horizon-dev.service");
    let service = section(&unit.text, "Service");
    let exec_start = &service
        .iter()
        .find(|(key, _)| key == "ExecStart")
        .unwrap()
        .1;
    assert_eq!(
        exec_start,
        "/usr/bin/podman run --rm --replace --detach --sdnotify=conmon --cgroups=no-conmon \
         --name=horizonos-dev-unit --label=io.horizonos.generated-from=dev \
         \"--env=GREETING=100%% \\\"sure\\\" $$HOME\\nbye\" --env=PLAIN=x \
         \"--volume=/home/u/My Files:/data:ro\" \"--volume=/srv/50%%:/srv\" \
         --device=/dev/dri:/dev/dri:rwm --network=none --cap-drop=all --cap-add=CAP_CHOWN \
         --cap-add=CAP_KILL --security-opt=no-new-privileges --userns=keep-id --hostname=dev \
         --init --stop-timeout=10 --entrypoint= localhost/horizonos/dev:gen-3 sleep infinity \
         --cidfile=%t/%n.ctr-id"
    );
    assert_eq!(
        service.iter().find(|(key, _)| key == "ExecStop").unwrap().1,
        "/usr/bin/podman stop --ignore --time=10 --cidfile=%t/%n.ctr-id"
    );
    assert_eq!(
        section(&unit.text, "Install"),
        pairs(&[("WantedBy", "multi-user.target")])
    );
}

#[test]
fn update_checks_are_read_strictly_with_positions() {
    let path = PathBuf::from("/etc/horizonos/update.json");
    let read = |text: &str| parse_update_checks(&path, text.as_bytes());
    assert_eq!(read("{}").unwrap(), UpdateChecks::default());
    assert_eq!(
        read(
            "{\"min_battery_percent\": 40, \"skip_on_metered\": false, \"max_load\": 2.5,\n \"check_script\": \"/usr/local/bin/ok\"}"
        )
        .unwrap(),
        UpdateChecks {
            min_battery_percent: Some(40),
            skip_on_metered: false,
            max_load: Some(2.5),
            check_script: Some(PathBuf::from("/usr/local/bin/ok")),
        }
    );
    assert_eq!(
        read("{\"min_battery_percent\": null}")
            .unwrap()
            .min_battery_percent,
        None
    );
    let cases = [
        (
            "[]",
            "/etc/horizonos/update.json:1:1: expected an object, found an array",
        ),
        (
            "{\n  \"min_battery_percent\": 140}",
            "/etc/horizonos/update.json:2:26: min_battery_percent: expected a whole number from 0 to 100, found a number",
        ),
        (
            "{\"skip_on_metered\": \"yes\"}",
            "/etc/horizonos/update.json:1:21: skip_on_metered: expected true or false, found a string",
        ),
        (
            "{\"max_load\": -1}",
            "/etc/horizonos/update.json:1:14: max_load: expected a positive number, found a number",
        ),
        (
            "{\"check_script\": \"relative.sh\"}",
            "/etc/horizonos/update.json:1:18: check_script: expected an absolute path, found a string",
        ),
        (
            "{\"battery\": 1}",
            "/etc/horizonos/update.json:1:2: battery: unknown key; the keys are min_battery_percent, skip_on_metered, max_load, check_script",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(read(text).unwrap_err().to_string(), expected, "{text}");
    }
    let syntax = read("{\"max_load\": 1,}").unwrap_err();
    assert_eq!(syntax.position.map(|p| (p.line, p.column)), Some((1, 15)));
}

#[test]
fn each_check_says_whether_to_skip_and_why() {
    let facts = |batteries: Vec<Battery>, metered, load| HostFacts {
        batteries,
        metered,
        load,
    };
    let checks = UpdateChecks {
        max_load: Some(4.0),
        ..UpdateChecks::default()
    };
    let low = Battery {
        percent: 12,
        charging: false,
    };
    let cases = [
        (
            facts(vec![], Metered::Unknown, Some(0.5)),
            vec![
                (false, "no battery"),
                (false, "no network manager says the connection is metered"),
                (false, "load 0.50 (at most 4)"),
            ],
        ),
        (
            facts(vec![low], Metered::Yes, Some(7.25)),
            vec![
                (true, "battery at 12% is below 20%"),
                (true, "the connection is metered"),
                (true, "load 7.25 is above 4"),
            ],
        ),
        (
            facts(
                vec![Battery {
                    charging: true,
                    ..low
                }],
                Metered::No,
                None,
            ),
            vec![
                (false, "battery at 12%, charging"),
                (false, "the connection is not metered"),
                (false, "the load average could not be read"),
            ],
        ),
    ];
    for (facts, expected) in cases {
        let verdicts: Vec<(bool, String)> = judge(&checks, &facts)
            .into_iter()
            .map(|verdict| (verdict.skip, verdict.detail))
            .collect();
        let expected: Vec<(bool, String)> = expected
            .into_iter()
            .map(|(skip, detail)| (skip, detail.to_owned()))
            .collect();
        assert_eq!(verdicts, expected);
    }
    let script = Path::new("/bin/check");
    assert_eq!(
        script_verdict(script, Some(3), "on a train\n").detail,
        "/bin/check exited 3: on a train"
    );
    assert!(!script_verdict(script, Some(0), "").skip);
    assert_eq!(parse_busctl_metered("u 1\n"), Metered::Yes);
    assert_eq!(parse_busctl_metered("u 4\n"), Metered::No);
    assert_eq!(parse_busctl_metered(""), Metered::Unknown);
}

#[test]
fn batteries_and_load_are_read_from_the_given_files() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, capacity, status) in [
        ("AC", "Mains", "", ""),
        ("BAT0", "Battery", "55", "Discharging"),
        ("BAT1", "Battery", "9", "Charging"),
    ] {
        let supply = dir.path().join(name);
        std::fs::create_dir(&supply).unwrap();
        std::fs::write(supply.join("type"), format!("{kind}\n")).unwrap();
        if !capacity.is_empty() {
            std::fs::write(supply.join("capacity"), format!("{capacity}\n")).unwrap();
            std::fs::write(supply.join("status"), format!("{status}\n")).unwrap();
        }
    }
    assert_eq!(
        read_batteries(dir.path()),
        vec![
            Battery {
                percent: 9,
                charging: true
            },
            Battery {
                percent: 55,
                charging: false
            },
        ]
    );
    assert_eq!(read_batteries(&dir.path().join("missing")), vec![]);
    let loadavg = dir.path().join("loadavg");
    std::fs::write(&loadavg, "1.25 0.80 0.50 2/300 4242\n").unwrap();
    assert_eq!(read_load(&loadavg), Some(1.25));
}
