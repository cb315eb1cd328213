//! horizon under a real systemd: systemd boots as PID 1 in a container of the bed's rootful
//! Podman (`horizon_e2e::systemd`), with the bed's sockets and horizon's binaries inside, and
//! `container@.service` runs managed containers of the bed's services — system units for a root
//! session's containers, user units (a lingering user) for a user session's. One shared systemd
//! container, one test for both kinds of unit, so it boots once (and once more, for autostart).
//! The unit files horizon writes or prints are checked with `systemd-analyze verify` on the host;
//! the unattended update's checks run on the host, where nothing needs systemd.

use std::path::Path;
use std::time::Duration;

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use horizon_e2e::systemd::{SystemdContainer, eventually};
use serde_json::json;

use crate::{assert_exit, text, unique_name};

/// How long a unit gets to notice a killed container and start it again (the unit polls every
/// 2 s and restarts after 2 s).
const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

fn horizon_container() -> String {
    horizon_e2e::bins::cargo_bin("horizon-cli", "horizon-container")
        .display()
        .to_string()
}

/// `podman inspect` of the managed container of `name`: (running, started at).
fn container_state(session: &Session, name: &str) -> Option<(bool, String)> {
    let output = session
        .service
        .storage
        .podman()
        .args([
            "inspect",
            "--format",
            "{{.State.Running}} {{.State.StartedAt}}",
            &format!("horizonos-{name}"),
        ])
        .output()
        .expect("podman inspect");
    if !output.status.success() {
        return None;
    }
    let stdout = text(&output.stdout);
    let (running, started) = stdout.trim().split_once(' ')?;
    Some((running == "true", started.to_owned()))
}

fn podman_kill(session: &Session, name: &str) {
    let output = session
        .service
        .storage
        .podman()
        .args(["kill", &format!("horizonos-{name}")])
        .output()
        .expect("podman kill");
    assert_exit(&output, 0);
}

/// `systemctl [--user] show -p PROPERTY --value UNIT` inside.
fn unit_property(
    run: &dyn Fn(&[&str]) -> std::process::Output,
    user: bool,
    unit: &str,
    property: &str,
) -> String {
    let mut args = vec!["systemctl"];
    if user {
        args.push("--user");
    }
    args.extend(["show", "-p", property, "--value", unit]);
    text(&run(&args).stdout).trim().to_owned()
}

/// Asserts a command's last line of output.
fn assert_last_line(output: &std::process::Output, line: &str) {
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().last(), Some(line), "{stdout}");
}

/// `systemd-analyze verify` of unit files on the host: exit 0 and nothing said about them.
fn assert_verified(files: &[&Path]) {
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(files)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .expect("systemd-analyze (scripts/setup installs systemd)");
    assert_exit(&output, 0);
    let said = text(&output.stderr);
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(
            !said.contains(name.as_ref()),
            "systemd-analyze verify about {name}:\n{said}"
        );
    }
}

fn write_definition(session: &Session, system: bool, name: &str, extra: serde_json::Value) {
    let mut definition = json!({"name": name, "image": TestBed::shared().busybox_image()});
    definition
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    if system {
        session.write_system_definition(name, &definition.to_string());
    } else {
        session.write_user_definition(name, &definition.to_string());
    }
}

#[test]
fn container_units_start_stop_report_restart_and_autostart_in_a_real_systemd() {
    let bed = TestBed::shared();
    let sd = SystemdContainer::shared(bed);
    let horizon = horizon_container();

    // System units, for a root session's containers.
    let root = bed.root_session("systemd_units_root");
    let sys = unique_name("sd-sys");
    let auto = unique_name("sd-auto");
    write_definition(&root, true, &sys, json!({}));
    write_definition(&root, true, &auto, json!({"autostart": true}));
    assert_exit(&root.horizon(&["install", &sys]), 0);
    let in_sd = |args: &[&str]| sd.as_root(&root, args);

    let enabled = in_sd(&[&horizon, "enable", "--now", &sys]);
    assert_exit(&enabled, 0);
    let unit = format!("container@{sys}.service");
    assert_eq!(
        text(&enabled.stdout),
        format!(
            "installed /etc/systemd/system/container@.service\n\
             enabled {unit} and started it: {sys} starts with the system\n  systemctl status {unit}\n"
        )
    );
    let (running, started) = container_state(&root, &sys).expect("the managed container");
    assert!(running, "enable --now started the container");
    assert_eq!(unit_property(&in_sd, false, &unit, "ActiveState"), "active");
    assert_eq!(
        unit_property(&in_sd, false, &unit, "StatusText"),
        format!("running container {sys}, generation 1")
    );
    let status = in_sd(&["systemctl", "status", "--no-pager", &unit]);
    assert_exit(&status, 0);
    let status = text(&status.stdout);
    assert!(status.contains("Active: active (running)"), "{status}");
    assert!(
        status.contains(&format!(
            "Status: \"running container {sys}, generation 1\""
        )),
        "{status}"
    );

    // Killed behind systemd's back: the unit sees it end and starts it again.
    podman_kill(&root, &sys);
    let restarted = eventually(RESTART_TIMEOUT, || {
        let state = container_state(&root, &sys);
        let restarts = unit_property(&in_sd, false, &unit, "NRestarts");
        match &state {
            Some((true, again)) if *again != started && restarts == "1" => Ok(()),
            _ => Err(format!("container {state:?}, NRestarts {restarts}")),
        }
    });
    restarted.unwrap();
    assert_eq!(unit_property(&in_sd, false, &unit, "ActiveState"), "active");

    // systemctl stop stops the container, and the unit is inactive, not failed.
    assert_exit(&in_sd(&["systemctl", "stop", &unit]), 0);
    assert_eq!(
        container_state(&root, &sys).map(|state| state.0),
        Some(false)
    );
    assert_eq!(
        unit_property(&in_sd, false, &unit, "ActiveState"),
        "inactive"
    );
    assert_eq!(unit_property(&in_sd, false, &unit, "Result"), "success");

    // autostart: install enables and starts the unit.
    let installed = in_sd(&[&horizon, "install", &auto]);
    assert_exit(&installed, 0);
    let auto_unit = format!("container@{auto}.service");
    assert_last_line(&installed, &format!("enabled {auto_unit}"));
    assert_eq!(
        unit_property(&in_sd, false, &auto_unit, "ActiveState"),
        "active"
    );
    let (_, auto_started) = container_state(&root, &auto).unwrap();

    // User units, for a user session's containers: `horizon-container enable` installs the
    // template, after which the spec's `systemctl --user enable` works on its own.
    let user = bed.user_session("systemd_units_user");
    let first = unique_name("sd-user");
    let second = unique_name("sd-user2");
    write_definition(&user, false, &first, json!({}));
    write_definition(&user, false, &second, json!({}));
    assert_exit(&user.horizon(&["install", &first]), 0);
    assert_exit(&user.horizon(&["install", &second]), 0);
    let as_user = |args: &[&str]| sd.as_user(&user, args);
    let enabled = as_user(&[&horizon, "enable", &first]);
    assert_exit(&enabled, 0);
    assert_eq!(
        text(&enabled.stdout),
        format!(
            "installed {}/container@.service\n\
             enabled container@{first}.service: {first} starts with the user's service manager\n  \
             systemctl --user status container@{first}.service\n",
            sd.user_unit_dir().display()
        )
    );
    let second_unit = format!("container@{second}.service");
    assert_exit(
        &as_user(&["systemctl", "--user", "enable", "--now", &second_unit]),
        0,
    );
    let (running, user_started) = container_state(&user, &second).unwrap();
    assert!(running);
    let status = as_user(&["systemctl", "--user", "status", "--no-pager", &second_unit]);
    assert_exit(&status, 0);
    assert!(
        text(&status.stdout).contains(&format!(
            "Status: \"running container {second}, generation 1\""
        )),
        "{}",
        text(&status.stdout)
    );
    podman_kill(&user, &second);
    eventually(RESTART_TIMEOUT, || match container_state(&user, &second) {
        Some((true, again)) if again != user_started => Ok(()),
        other => Err(format!("{other:?}")),
    })
    .unwrap();
    assert_exit(&as_user(&["systemctl", "--user", "stop", &second_unit]), 0);
    assert_eq!(
        container_state(&user, &second).map(|state| state.0),
        Some(false)
    );
    assert_eq!(
        unit_property(&as_user, true, &second_unit, "ActiveState"),
        "inactive"
    );
    let (_, user_stopped) = container_state(&user, &second).unwrap();

    // The unattended update's units, written by horizon-update inside.
    let timer = sd.as_root(
        &root,
        &[
            &horizon_e2e::bins::cargo_bin("horizon-update", "horizon-update")
                .display()
                .to_string(),
            "--enable-timer",
        ],
    );
    assert_exit(&timer, 0);
    assert_eq!(
        unit_property(&in_sd, false, "horizon-update.timer", "ActiveState"),
        "active"
    );

    // Across a restart of the systemd container: every enabled unit starts its container again
    // (the system's at boot, the lingering user's with its manager).
    sd.restart().unwrap();
    let after_boot = |session: &Session, name: &str, before: &str| {
        eventually(RESTART_TIMEOUT, || match container_state(session, name) {
            Some((true, started)) if started != before => Ok(()),
            other => Err(format!("{name}: {other:?}")),
        })
        .unwrap()
    };
    after_boot(&root, &auto, &auto_started);
    after_boot(&root, &sys, "");
    after_boot(&user, &second, &user_stopped);
    after_boot(&user, &first, "");

    // Every unit horizon wrote passes systemd-analyze verify (on the host, same paths).
    let dir = tempfile::tempdir().unwrap();
    let copy = |inside: &str, as_name: &str| {
        let output = sd.exec(&["cat", inside]);
        assert_exit(&output, 0);
        let path = dir.path().join(as_name);
        std::fs::write(&path, &output.stdout).unwrap();
        path
    };
    let system_template = copy(
        "/etc/systemd/system/container@.service",
        "container@system.service",
    );
    let user_template = copy(
        &format!("{}/container@.service", sd.user_unit_dir().display()),
        "container@user.service",
    );
    let update_service = copy(
        "/etc/systemd/system/horizon-update.service",
        "horizon-update.service",
    );
    let update_timer = copy(
        "/etc/systemd/system/horizon-update.timer",
        "horizon-update.timer",
    );
    assert_verified(&[
        &system_template,
        &user_template,
        &update_service,
        &update_timer,
    ]);
    let timer_text = std::fs::read_to_string(&update_timer).unwrap();
    let calendar = timer_text
        .lines()
        .find_map(|line| line.strip_prefix("OnCalendar="))
        .expect("OnCalendar");
    let analysed = std::process::Command::new("systemd-analyze")
        .args(["calendar", calendar])
        .output()
        .unwrap();
    assert_exit(&analysed, 0);
    assert!(
        text(&analysed.stdout).contains("Normalized form: *-*-* 00:00:00"),
        "{}",
        text(&analysed.stdout)
    );

    // remove disables the unit (stopping it) before the container goes.
    let removed = in_sd(&[&horizon, "remove", &auto]);
    assert_exit(&removed, 0);
    assert_last_line(&removed, &format!("disabled {auto_unit}"));
    assert_eq!(
        unit_property(&in_sd, false, &auto_unit, "UnitFileState"),
        "disabled"
    );
    assert_eq!(container_state(&root, &auto), None);
    for (session, name) in [(&root, &sys), (&user, &first), (&user, &second)] {
        let run = |args: &[&str]| {
            if session.account.is_some() {
                sd.as_user(session, args)
            } else {
                sd.as_root(session, args)
            }
        };
        assert_exit(&run(&[&horizon, "remove", name]), 0);
    }
}

#[test]
fn generated_units_reproduce_the_container_and_pass_systemd_analyze() {
    let bed = TestBed::shared();
    let session = bed.root_session("systemd_generate");
    let name = unique_name("sd-gen");
    let data = session.home.join("100% data dir");
    std::fs::create_dir_all(&data).unwrap();
    write_definition(
        &session,
        true,
        &name,
        json!({
            "mounts": [format!("{}:/data:ro", data.display())],
            "environment": {"GREETING": "50% \"quoted\" $HOME and more"},
            "network": "none",
        }),
    );
    assert_exit(&session.horizon(&["install", &name]), 0);

    // Without systemd as PID 1 (this machine), enable refuses before writing anything.
    let refused = session.horizon(&["enable", &name]);
    assert_exit(&refused, 1);
    assert_eq!(
        text(&refused.stderr),
        "horizon-container: error: no systemd service manager runs here (systemd is not PID 1)\n"
    );
    assert!(!session.home.join(".units").exists());

    let generated = session.horizon(&["generate", "systemd", &name]);
    assert_exit(&generated, 0);
    let unit = text(&generated.stdout);
    let exec_start = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))
        .expect("ExecStart");
    for part in [
        format!(
            "\"--volume={}:/data:ro\"",
            data.display().to_string().replace('%', "%%")
        ),
        "\"--env=GREETING=50%% \\\"quoted\\\" $$HOME and more\"".to_owned(),
        "--network=none".to_owned(),
        "--cap-drop=all".to_owned(),
        "--security-opt=no-new-privileges".to_owned(),
        format!("--name=horizonos-{name}-unit"),
    ] {
        assert!(exec_start.contains(&part), "{part} in {exec_start}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("horizon-{name}.service"));
    std::fs::write(&path, &unit).unwrap();
    assert_verified(&[&path]);

    let quadlet = session.horizon(&["generate", "quadlet", &name]);
    assert_exit(&quadlet, 0);
    let quadlet = text(&quadlet.stdout);
    for line in [
        format!(
            "Volume={}:/data:ro",
            data.display().to_string().replace('%', "%%")
        ),
        "Environment=\"GREETING=50%% \\\"quoted\\\" $HOME and more\"".to_owned(),
        "Network=none".to_owned(),
        "DropCapability=all".to_owned(),
        "NoNewPrivileges=true".to_owned(),
    ] {
        assert!(
            quadlet.lines().any(|got| got == line),
            "{line} in\n{quadlet}"
        );
    }
    // Podman 4.3 has no Quadlet generator; where one is installed it must accept the file.
    let generator = Path::new("/usr/lib/systemd/system-generators/podman-system-generator");
    if generator.exists() {
        let quadlet_dir = dir.path().join("quadlet");
        std::fs::create_dir(&quadlet_dir).unwrap();
        std::fs::write(
            quadlet_dir.join(format!("horizon-{name}.container")),
            &quadlet,
        )
        .unwrap();
        let output = std::process::Command::new(generator)
            .arg("--dryrun")
            .env("QUADLET_UNIT_DIRS", &quadlet_dir)
            .output()
            .unwrap();
        assert_exit(&output, 0);
    }
    assert_exit(&session.horizon(&["remove", &name]), 0);
}

#[test]
fn an_unattended_update_runs_its_checks_and_a_failing_check_script_skips_it() {
    let bed = TestBed::shared();
    let session = bed.root_session("systemd_unattended");
    let dir = session.home.join("update");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("check");
    std::fs::write(&script, "#!/bin/sh\necho 'on the train' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = dir.join("update.json");
    std::fs::write(
        &config,
        json!({"min_battery_percent": 30, "skip_on_metered": false, "check_script": script})
            .to_string(),
    )
    .unwrap();
    let update = || {
        session
            .command(horizon_e2e::bins::cargo_bin(
                "horizon-update",
                "horizon-update",
            ))
            .args(["--containers", "--unattended"])
            .env("HORIZON_UPDATE_CONFIG", &config)
            .output()
            .unwrap()
    };
    let skipped = update();
    assert_exit(&skipped, 0);
    let battery = "ok   battery: no battery\n";
    assert_eq!(
        text(&skipped.stdout),
        format!(
            "pre-update checks ({config}):\n  {battery}  skip check script: {script} exited 3: on the train\n\
             update skipped: {script} exited 3: on the train\n",
            config = config.display(),
            script = script.display()
        )
    );
    assert!(
        text(&skipped.stderr).contains("unattended update skipped"),
        "the skip is logged: {}",
        text(&skipped.stderr)
    );

    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let ran = update();
    assert_exit(&ran, 0);
    let stdout = text(&ran.stdout);
    assert!(
        stdout.starts_with(&format!(
            "pre-update checks ({}):\n  {battery}  ok   check script: {} exited 0\n",
            config.display(),
            script.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains("update skipped"), "{stdout}");

    std::fs::write(&config, "{\"check_script\": 3}").unwrap();
    let invalid = update();
    assert_exit(&invalid, 2);
    assert!(
        text(&invalid.stderr).contains(&format!(
            "{}:1:18: check_script: expected an absolute path, found a number",
            config.display()
        )),
        "{}",
        text(&invalid.stderr)
    );
}
