//! `horizon-update` with containers, through its binary, as root against the test bed's rootful
//! Podman service and local registry and a real OSTree sysroot: v1 deployed and a container of
//! image v1 installed → v2 committed and pushed → `--check` reports both → `--all` stages v2 and
//! updates the container → `--rollback` makes v1 the default again and the container's previous
//! generation active. And the locks: two horizon-update runs never interleave; a container whose
//! lock another writer holds is reported busy while the others go on.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;
use horizon_e2e::ostree::{OS_NAME, OstreeBed};
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::{assert_exit, text, unique_name};

/// What the v1 and v2 images carry.
const RELEASE_FILE: &str = "/etc/horizon-release";

/// `horizon-update ARGS` in `session`, on `sysroot`, with empty Flatpak installations of its own.
fn horizon_update(session: &Session, sysroot: &OstreeBed, args: &[&str]) -> Command {
    let mut command = session.command(cargo_bin("horizon-update", "horizon-update"));
    command
        .env("HORIZON_SYSROOT", &sysroot.sysroot)
        .env("HORIZON_OS", OS_NAME)
        .env("FLATPAK_USER_DIR", session.home.join("no-flatpak-user"))
        .env("FLATPAK_SYSTEM_DIR", session.home.join("no-flatpak-system"))
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Runs `command` on a terminal: script(1) runs it with its environment, with a terminal on stdin,
/// stdout and stderr; the screen is the output's stdout.
fn on_terminal(session: &Session, command: Command) -> Output {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    let mut script = session.command("script");
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    run(script
        .env("TERM", "xterm")
        .args(["-qec", &line, "/dev/null"]))
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run a command")
}

fn horizon_container(session: &Session, args: &[&str]) -> Output {
    run(session.horizon_container().args(args).stdin(Stdio::null()))
}

/// Installs a persistent container of a busybox image whose release file says v1.
fn install_v1(bed: &'static TestBed, session: &Session, name: &str) {
    let image = bed.push_busybox_variant(name, "latest", &[(RELEASE_FILE, b"v1\n")]);
    let definition = json!({"name": name, "image": image, "persistent": true});
    session.write_user_definition(name, &definition.to_string());
    assert_exit(&horizon_container(session, &["install", name]), 0);
}

/// The release the active container runs.
fn running_release(session: &Session, name: &str) -> String {
    let output = horizon_container(session, &["run", name, "cat", RELEASE_FILE]);
    assert_exit(&output, 0);
    text(&output.stdout).trim().to_owned()
}

fn record(session: &Session, name: &str) -> Value {
    let path = session
        .state_dir
        .join("containers")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("install record")).expect("JSON")
}

fn short_digest(digest: &Value) -> String {
    digest.as_str().expect("a digest")[7..19].to_owned()
}

#[test]
fn all_updates_base_and_container_together_and_rollback_restores_both() {
    let bed = TestBed::shared();
    let session = bed.root_session("hu-containers-all");
    let name = unique_name("hu-all");
    install_v1(bed, &session, &name);
    let d1 = record(&session, &name)["image_digest"].clone();
    let dir = tempfile::tempdir().unwrap();
    let (ostree, v1) = OstreeBed::create(dir.path()).unwrap();

    let v2 = ostree.commit("2").unwrap();
    bed.push_busybox_variant(&name, "latest", &[(RELEASE_FILE, b"v2\n")]);
    let output = run(&mut horizon_update(&session, &ostree, &["--check"]));
    assert_exit(&output, 100);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "Containers:\n  {name}: update available (generation 1: image "
        )),
        "{stdout}"
    );
    assert!(stdout.contains("  available: 2 ("), "{stdout}");
    let output = run(&mut horizon_update(
        &session,
        &ostree,
        &["--check", "--json"],
    ));
    assert_exit(&output, 100);
    let check: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(check["schema_version"], 1);
    assert_eq!(check["base"]["latest"], v2.as_str());
    assert_eq!(check["containers"]["state"], "done");
    let container = &check["containers"]["results"][0];
    assert_eq!(container["name"], name.as_str());
    assert_eq!(container["generation"], 1);
    assert_eq!(container["installed_digest"], d1);
    assert_eq!(container["image_update"], true);
    assert_eq!(container["error"], Value::Null);
    // A check changes nothing.
    assert_eq!(record(&session, &name)["generation"], 1);
    assert_eq!(ostree.deployments().unwrap().len(), 1);

    let output = run(&mut horizon_update(&session, &ostree, &["--all"]));
    assert_exit(&output, 0);
    let d2 = record(&session, &name)["image_digest"].clone();
    assert_ne!(d1, d2);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system: staged 2 ({}) for the next boot (now {}); the running system is unchanged. Reboot to use it.\nContainers:\n  {name}: updated from generation 1 ({}) to generation 2 ({})\nApplications:\n  flatpak (system): up to date (0 installed)\n  flatpak (user): up to date (0 installed)\n  snap: skipped (snapd is not installed)\nSystem generation 2 recorded (previous: 1). To go back: horizon-update --rollback\n",
            &v2[..12],
            &v1[..12],
            short_digest(&d1),
            short_digest(&d2)
        )
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("horizon-update: base: downloading and staging…\nhorizon-update: containers: updating…\n"), "{stderr}");
    assert!(
        stderr.contains(&format!("horizon-update: containers: {name}: ")),
        "{stderr}"
    );
    assert_eq!(ostree.default_checksum().unwrap(), v2);
    assert_eq!(running_release(&session, &name), "v2");

    let output = run(&mut horizon_update(
        &session,
        &ostree,
        &["--history", "--json"],
    ));
    assert_exit(&output, 0);
    let history: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(history["schema_version"], 1);
    assert_eq!(history["current"], 2);
    assert_eq!(
        history["generations"][0]["containers"],
        json!([{"name": name, "generation": 1, "image_digest": d1}])
    );
    assert_eq!(history["generations"][0]["base"]["checksum"], v1.as_str());
    assert_eq!(
        history["generations"][1]["containers"],
        json!([{"name": name, "generation": 2, "image_digest": d2}])
    );
    assert_eq!(history["generations"][1]["base"]["checksum"], v2.as_str());

    let output = run(&mut horizon_update(
        &session,
        &ostree,
        &["--rollback", "--json"],
    ));
    assert_exit(&output, 0);
    let rollback: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (
            &rollback["from_generation"],
            &rollback["to_generation"],
            &rollback["base"]["outcome"],
            &rollback["containers"]["results"][0]["outcome"],
            &rollback["containers"]["results"][0]["to"]["generation"],
        ),
        (
            &json!(2),
            &json!(1),
            &json!("made-default"),
            &json!("rolled-back"),
            &json!(1)
        )
    );
    assert_eq!(ostree.default_checksum().unwrap(), v1);
    assert_eq!(running_release(&session, &name), "v1");
    // Update again (generation 3, whose parent is 1), and roll that back in text.
    let output = run(&mut horizon_update(&session, &ostree, &["--history"]));
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains("*   1  found "),
        "{}",
        text(&output.stdout)
    );
    let output = run(&mut horizon_update(&session, &ostree, &["--all"]));
    assert_exit(&output, 0);
    assert_eq!(running_release(&session, &name), "v2");
    let output = run(&mut horizon_update(&session, &ostree, &["--rollback"]));
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system: {} is the default for the next boot again (was {}); the running system is unchanged. Reboot to use it.\nContainers:\n  {name}: generation 1 ({}) is active again (was generation 3 ({}))\nSystem generation 1 is in effect again (was 3).\n",
            &v1[..12],
            &v2[..12],
            short_digest(&d1),
            short_digest(&d2)
        )
    );
    assert_eq!(ostree.default_checksum().unwrap(), v1);
    assert_eq!(running_release(&session, &name), "v1");
    assert_eq!(record(&session, &name)["generation"], 1);

    // --rollback --containers alone, once more: nothing was recorded before generation 1.
    let output = run(&mut horizon_update(
        &session,
        &ostree,
        &["--rollback", "--containers"],
    ));
    assert_exit(&output, 6);
    assert!(
        text(&output.stderr).starts_with(
            "horizon-update: error: nothing to roll back to: generation 1 has no earlier generation recorded before it\n"
        ),
        "{}",
        text(&output.stderr)
    );
    assert_exit(&horizon_container(&session, &["remove", &name]), 0);
}

#[test]
fn two_runs_never_interleave_and_a_busy_container_is_reported_while_others_go_on() {
    let bed = TestBed::shared();
    let session = bed.root_session("hu-containers-locks");
    let busy = unique_name("hu-busy");
    let free = unique_name("hu-free");
    install_v1(bed, &session, &busy);
    install_v1(bed, &session, &free);
    let dir = tempfile::tempdir().unwrap();
    let (ostree, _v1) = OstreeBed::create(dir.path()).unwrap();

    // A horizon-update that is slow to download holds the system lock.
    ostree.commit_with_files("2", 60).unwrap();
    ostree.server.set_object_delay(Duration::from_millis(100));
    let before = ostree.server.object_requests();
    let mut first = horizon_update(&session, &ostree, &["--all"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ostree.server.object_requests() < before + 3 {
        assert!(
            Instant::now() < deadline,
            "the first run never started downloading"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = run(&mut horizon_update(&session, &ostree, &["--all"]));
    assert_exit(&second, 5);
    let lock = session.state_dir.join("locks/.horizon-update.lock");
    let stderr = text(&second.stderr);
    assert!(
        stderr.starts_with(&format!(
            "horizon-update: error: another horizon-update is running: pid {} since ",
            first.id()
        )) && stderr.ends_with(&format!(
            " (lock {})\nhint: wait for it to finish, then run this again\n",
            lock.display()
        )),
        "{stderr}"
    );
    let rollback = run(&mut horizon_update(&session, &ostree, &["--rollback"]));
    assert_exit(&rollback, 5);
    ostree.server.set_object_delay(Duration::ZERO);
    let first_status = first.wait().unwrap();
    assert!(first_status.success(), "the first run failed");

    // A writer (as `horizon-container update` would) holds one container's lock.
    bed.push_busybox_variant(&busy, "latest", &[(RELEASE_FILE, b"v2\n")]);
    bed.push_busybox_variant(&free, "latest", &[(RELEASE_FILE, b"v2\n")]);
    let lock_path = session.state_dir.join("locks").join(format!("{busy}.lock"));
    std::fs::create_dir_all(lock_path.parent().unwrap()).unwrap();
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let output = run(&mut horizon_update(&session, &ostree, &["--containers"]));
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("Base system: skipped (not part of --containers)\nContainers:\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "  {busy}: FAILED (the running container is untouched): `{busy}` is busy: another process holds {}\n",
            lock_path.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  {free}: updated from generation 1 (")),
        "{stdout}"
    );
    assert_eq!(running_release(&session, &busy), "v1");
    assert_eq!(running_release(&session, &free), "v2");
    drop(held);
    for name in [&busy, &free] {
        assert_exit(&horizon_container(&session, &["remove", name]), 0);
    }
}

/// Ctrl-C (SIGINT, sent by a failpoint at a step boundary of the container's update) stops
/// `horizon-update --containers`: the container's transaction is reverted before the swap, and
/// completed after it, before the run exits 130 saying so; the locks are free and the journal is
/// gone, so the next run updates normally.
#[test]
fn ctrl_c_mid_update_reverts_or_completes_the_container_and_exits_130() {
    let bed = TestBed::shared();
    let session = bed.root_session("hu-containers-ctrl-c");
    let name = unique_name("hu-int");
    install_v1(bed, &session, &name);
    let dir = tempfile::tempdir().unwrap();
    let (ostree, _v1) = OstreeBed::create(dir.path()).unwrap();
    let journal = session
        .state_dir
        .join("journal")
        .join(format!("{name}.json"));
    for (point, release, done, generation) in [
        ("swap-stopped-old", "v2", "reverted", 1),
        ("swap-started-new", "v3", "completed", 2),
    ] {
        let contents = format!("{release}\n");
        bed.push_busybox_variant(&name, "latest", &[(RELEASE_FILE, contents.as_bytes())]);
        let output = run(horizon_update(&session, &ostree, &["--containers"])
            .env("HORIZON_FAILPOINTS", format!("{point}=interrupt")));
        assert_exit(&output, 130);
        assert_eq!(
            text(&output.stderr)
                .lines()
                // Progress lines aside.
                .filter(|line| !line.starts_with("horizon-update: containers:"))
                .collect::<Vec<_>>()
                .join("\n"),
            format!(
                "horizon-update: an interrupted update of {name} was {done}; generation {generation} runs\n\
                 horizon-update: error: interrupted (SIGINT); no system generation was recorded for this run\n\
                 hint: horizon-update --history shows the generation in effect"
            ),
            "{point}"
        );
        assert!(!journal.exists(), "{point}: the journal is left");
        let expected = if done == "completed" { release } else { "v1" };
        assert_eq!(running_release(&session, &name), expected, "{point}");
    }
    // Nothing is held: the next run updates (v3 is already running: nothing to do but succeed),
    // here on a terminal, where the steps are drawn in place and ticked off.
    let next = on_terminal(
        &session,
        horizon_update(&session, &ostree, &["--containers"]),
    );
    let screen = text(&next.stdout);
    assert_exit(&next, 0);
    assert!(screen.contains("\u{1b}[2K"), "redrawn in place: {screen:?}");
    assert!(
        screen.contains("✓ horizon-update: containers: updating…"),
        "{screen:?}"
    );
    assert_eq!(running_release(&session, &name), "v3");
    assert_exit(&horizon_container(&session, &["remove", &name]), 0);
}

/// What an update run did to one fixture, with the fixture's names replaced by their roles, so
/// that two runs on two fixtures compare: each container's outcome (generations, exports, error)
/// and what the machine holds afterwards (install records' generations, the exports).
fn outcome_of(session: &Session, entries: &Value, names: &[(&str, &str)]) -> Value {
    let role = |text: &str| {
        names.iter().fold(text.to_owned(), |text, (name, role)| {
            text.replace(name, role)
        })
    };
    let mut containers: Vec<Value> = entries
        .as_array()
        .expect("per-container entries")
        .iter()
        .map(|entry| {
            json!({
                "name": role(entry["name"].as_str().unwrap()),
                "outcome": entry["outcome"],
                "from": entry["from"]["generation"],
                "to": entry["to"]["generation"],
                "exported": entry["exports"]["exported"]
                    .as_array()
                    .map(|exported| exported.iter().map(|e| e["name"].clone()).collect::<Vec<_>>()),
                "error": entry["error"].as_str().map(role),
            })
        })
        .collect();
    containers.sort_by_key(|entry| entry["name"].to_string());
    let generations: Vec<Value> = names
        .iter()
        .map(|(name, role)| json!([role, record(session, name)["generation"]]))
        .collect();
    let exports = horizon_container(session, &["exports", "--json"]);
    assert_exit(&exports, 0);
    let exports: Value = serde_json::from_slice(&exports.stdout).unwrap();
    for export in exports["exports"].as_array().unwrap() {
        // Both binaries write where the session's HORIZON_EXPORT_DIR says, never elsewhere.
        let path = PathBuf::from(export["path"].as_str().unwrap());
        assert_eq!(
            path.parent(),
            Some(session.export_dir.as_path()),
            "{export}"
        );
    }
    let mut exported: Vec<Value> = exports["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|export| {
            json!([
                role(export["container"].as_str().unwrap()),
                export["name"],
                export["state"]
            ])
        })
        .collect();
    exported.sort_by_key(Value::to_string);
    json!({"containers": containers, "generations": generations, "exports": exported})
}

/// Two containers, as both runs find them: `changed`'s definition now declares an export (an
/// update builds generation 2 and exports it), `gone`'s definition was deleted (it cannot be
/// updated; the other is updated regardless).
fn fixture(bed: &'static TestBed, session: &Session, changed: &str, gone: &str) {
    install_v1(bed, session, changed);
    install_v1(bed, session, gone);
    let image = bed.push_busybox_variant(changed, "latest", &[(RELEASE_FILE, b"v1\n")]);
    let definition = json!({"name": changed, "image": image, "persistent": true, "export_binaries": ["sha3sum"]});
    session.write_user_definition(changed, &definition.to_string());
    let gone_file = session.write_user_definition(gone, "{}");
    std::fs::remove_file(gone_file).unwrap();
}

#[test]
fn update_all_and_horizon_update_containers_do_the_same() {
    let bed = TestBed::shared();
    let dir = tempfile::tempdir().unwrap();
    let (ostree, _) = OstreeBed::create(dir.path()).unwrap();
    let mut outcomes = Vec::new();
    for (binary, suffix) in [("horizon-container", "c"), ("horizon-update", "u")] {
        let session = bed.root_session(&format!("hu-same-{suffix}"));
        let changed = unique_name(&format!("same-changed-{suffix}"));
        let gone = unique_name(&format!("same-gone-{suffix}"));
        fixture(bed, &session, &changed, &gone);
        let (output, entries) = if binary == "horizon-container" {
            let output = horizon_container(&session, &["update", "--all", "--json"]);
            let report: Value = serde_json::from_slice(&output.stdout).unwrap();
            (output, report["containers"].clone())
        } else {
            let output = run(&mut horizon_update(
                &session,
                &ostree,
                &["--containers", "--json"],
            ));
            let report: Value = serde_json::from_slice(&output.stdout).unwrap();
            (output, report["containers"]["results"].clone())
        };
        assert_exit(&output, 1);
        outcomes.push(outcome_of(
            &session,
            &entries,
            &[(&changed, "changed"), (&gone, "gone")],
        ));
    }
    assert_eq!(
        outcomes[0],
        json!({
            "containers": [
                {"name": "changed", "outcome": "updated", "from": 1, "to": 2, "exported": ["sha3sum"], "error": null},
                {"name": "gone", "outcome": null, "from": null, "to": null, "exported": null,
                 "error": "there is no container definition named `gone`"},
            ],
            "generations": [["changed", 2], ["gone", 1]],
            "exports": [["changed", "sha3sum", "ok"]],
        })
    );
    assert_eq!(
        outcomes[0], outcomes[1],
        "horizon-update --containers differs"
    );
}
