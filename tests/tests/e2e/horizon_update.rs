//! `horizon-update` through its binary against a real OSTree sysroot in a temp dir (its remote
//! served over HTTP on loopback) and a real Flatpak repository with user and system installations:
//! `--check` finds the new base commit without deploying it, `--all` stages it for the next boot
//! and updates the Flatpak apps, `--rollback` makes the previous deployment the default again,
//! `--history` lists the generations. Faults: the remote down, a corrupted object, `kill -9` in the
//! middle of the download, and a rollback with nothing to roll back to.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use horizon_e2e::bins::cargo_bin;
use horizon_e2e::flatpak::{FlatpakBed, Installation};
use horizon_e2e::ostree::{OS_NAME, OstreeBed};
use serde_json::Value;

use crate::{assert_exit, text};

/// PATH of the runs: the system's.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One test's world for horizon-update: its state directory, its Flatpak installations (empty
/// unless a test makes a [`FlatpakBed`]) and, when given, the OSTree sysroot.
struct World {
    dir: tempfile::TempDir,
    sysroot: Option<std::path::PathBuf>,
    flatpak: Vec<(&'static str, OsString)>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        // Never the machine's own installations: empty ones of this test.
        let flatpak = vec![
            (
                "FLATPAK_USER_DIR",
                dir.path().join("no-flatpak-user").into(),
            ),
            (
                "FLATPAK_SYSTEM_DIR",
                dir.path().join("no-flatpak-system").into(),
            ),
        ];
        World {
            dir,
            sysroot: None,
            flatpak,
        }
    }

    fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// `horizon-update ARGS` with a clean environment pointing at this world.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(cargo_bin("horizon-update", "horizon-update"));
        command
            .env_clear()
            .env("PATH", SYSTEM_PATH)
            .env("HOME", self.dir.path())
            .env("LANG", "C.UTF-8")
            .env("HORIZON_STATE_DIR", self.state_dir())
            .envs(self.flatpak.iter().cloned())
            .args(args)
            .stdin(Stdio::null());
        if let Some(sysroot) = &self.sysroot {
            command
                .env("HORIZON_SYSROOT", sysroot)
                .env("HORIZON_OS", OS_NAME);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run horizon-update")
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        let output = self.run(args);
        assert_exit(&output, code);
        let value: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
        assert_eq!(value["schema_version"], 1, "{value:#}");
        value
    }
}

fn short(checksum: &str) -> &str {
    &checksum[..12]
}

fn default_checksum(bed: &OstreeBed) -> String {
    bed.default_checksum().unwrap()
}

fn deployed(bed: &OstreeBed) -> Vec<String> {
    bed.deployments()
        .unwrap()
        .into_iter()
        .map(|deployment| deployment.checksum)
        .collect()
}

const NO_APPS: &str = "Containers: skipped (no container is installed)\nApplications:\n  flatpak (system): up to date (0 installed)\n  flatpak (user): up to date (0 installed)\n  snap: skipped (snapd is not installed)\n";

#[test]
fn check_all_rollback_and_history_on_a_real_sysroot() {
    let mut world = World::new();
    let (bed, v1) = OstreeBed::create(&world.dir.path().join("ostree")).unwrap();
    world.sysroot = Some(bed.sysroot.clone());

    let output = world.run(&["--check"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system (ostree, origin:horizon/stable):\n  next boot: 1 ({})\n  up to date\n{NO_APPS}Everything is up to date.\n",
            short(&v1)
        )
    );

    let v2 = bed.commit("2").unwrap();
    let output = world.run(&["--check"]);
    assert_exit(&output, 100);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system (ostree, origin:horizon/stable):\n  next boot: 1 ({})\n  available: 2 ({}) (not downloaded; horizon-update --all stages it)\n{NO_APPS}Updates are available: horizon-update --all\n",
            short(&v1),
            short(&v2)
        )
    );
    assert_eq!(
        text(&output.stderr),
        "horizon-update: base: checking…\nhorizon-update: containers: checking…\nhorizon-update: apps: checking…\n"
    );
    let check = world.json(&["--check", "--json"], 100);
    assert_eq!(check["base"]["state"], "done");
    assert_eq!(check["base"]["update_available"], true);
    assert_eq!(check["base"]["current"], v1.as_str());
    assert_eq!(check["base"]["latest"], v2.as_str());
    assert_eq!(check["base"]["latest_version"], "2");
    assert_eq!(check["apps"][2]["state"], "skipped");
    // A check deploys nothing.
    assert_eq!(deployed(&bed), std::slice::from_ref(&v1));

    let output = world.run(&["--all"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system: staged 2 ({}) for the next boot (now {}); the running system is unchanged. Reboot to use it.\n{NO_APPS}System generation 2 recorded (previous: 1). To go back: horizon-update --rollback\n",
            short(&v2),
            short(&v1)
        )
    );
    assert_eq!(deployed(&bed), [v2.clone(), v1.clone()]);

    let history = world.json(&["--history", "--json"], 0);
    assert_eq!(history["current"], 2);
    let generations = history["generations"].as_array().unwrap();
    assert_eq!(generations.len(), 2);
    assert_eq!(generations[0]["cause"], "found");
    assert_eq!(generations[0]["base"]["checksum"], v1.as_str());
    assert_eq!(generations[1]["cause"], "update-all");
    assert_eq!(generations[1]["base"]["checksum"], v2.as_str());
    assert_eq!(generations[1]["base"]["version"], "2");
    assert_eq!(generations[1]["base"]["backend"], "ostree");

    // Nothing new: no new generation.
    let output = world.run(&["--all"]);
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).ends_with("Nothing changed; system generation 2 stays in effect.\n"),
        "{}",
        text(&output.stdout)
    );

    let output = world.run(&["--rollback"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "Base system: {} is the default for the next boot again (was {}); the running system is unchanged. Reboot to use it.\nContainers: skipped (the generation recorded no container)\nSystem generation 1 is in effect again (was 2).\n",
            short(&v1),
            short(&v2)
        )
    );
    assert_eq!(default_checksum(&bed), v1);
    let output = world.run(&["--history"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "  GEN  CAUSE              BASE                  CONTAINERS\n*   1  found              1 ({})      -\n    2  update --all       2 ({})      -\n",
            short(&v1),
            short(&v2)
        )
    );

    let output = world.run(&["--rollback"]);
    assert_exit(&output, 6);
    assert_eq!(text(&output.stdout), "");
    assert_eq!(
        text(&output.stderr),
        "horizon-update: error: nothing to roll back to: generation 1 has no earlier generation recorded before it\nhint: horizon-update --history lists the recorded system generations\n"
    );
    assert_eq!(default_checksum(&bed), v1);

    // The update comes back with the next --all.
    let output = world.run(&["--all"]);
    assert_exit(&output, 0);
    assert_eq!(default_checksum(&bed), v2);
}

#[test]
fn a_rollback_without_any_generation_says_how_to_record_one() {
    let mut world = World::new();
    let (bed, v1) = OstreeBed::create(&world.dir.path().join("ostree")).unwrap();
    world.sysroot = Some(bed.sysroot.clone());
    for args in [&["--rollback"][..], &["--rollback", "--base"][..]] {
        let output = world.run(args);
        assert_exit(&output, 6);
        assert_eq!(
            text(&output.stderr),
            "horizon-update: error: nothing to roll back to: no system generation is recorded yet (horizon-update --all records one)\nhint: horizon-update --history lists the recorded system generations\n"
        );
    }
    let output = world.run(&["--history"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        "No system generation recorded yet: horizon-update --all records one.\n"
    );
    let output = world.run(&["--check", "--all"]);
    assert_exit(&output, 2);
    assert_eq!(
        text(&output.stderr),
        "horizon-update: error: --check and --all cannot be used together: choose one\nhint: horizon-update --help lists the actions, with examples\n"
    );
    assert_eq!(deployed(&bed), [v1]);
}

#[test]
fn a_remote_that_is_down_or_corrupted_leaves_the_deployments_as_they_were() {
    let mut world = World::new();
    let (bed, v1) = OstreeBed::create(&world.dir.path().join("ostree")).unwrap();
    world.sysroot = Some(bed.sysroot.clone());
    let v2 = bed.commit("2").unwrap();

    bed.server.stop();
    let output = world.run(&["--check"]);
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "Base system: FAILED: checking for a base update failed: ostree --repo={}/ostree/repo pull --commit-metadata-only origin horizon/stable failed (exit status 1): ",
            bed.sysroot.display()
        )),
        "{stdout}"
    );
    let output = world.run(&["--all"]);
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(
            "Base system: FAILED: upgrading the base system failed: ostree admin upgrade"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("Nothing changed; system generation 1 stays in effect.\n"),
        "{stdout}"
    );
    assert_eq!(deployed(&bed), std::slice::from_ref(&v1));
    bed.server.resume().unwrap();

    bed.corrupt_version_object(&v2).unwrap();
    let report = world.json(&["--all", "--json"], 1);
    assert_eq!(report["base"]["state"], "failed");
    let error = report["base"]["error"].as_str().unwrap();
    assert!(error.contains("Corrupted file object"), "{error}");
    assert_eq!(report["new_generation"], Value::Null);
    assert_eq!(deployed(&bed), [v1]);
}

#[test]
fn kill_9_in_the_middle_of_the_download_changes_nothing_and_a_rerun_succeeds() {
    let mut world = World::new();
    let (bed, v1) = OstreeBed::create(&world.dir.path().join("ostree")).unwrap();
    world.sysroot = Some(bed.sysroot.clone());
    let v2 = bed.commit_with_files("2", 120).unwrap();
    bed.server.set_object_delay(Duration::from_millis(150));
    let before = bed.server.object_requests();

    let mut child = world
        .command(&["--all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so the kill reaches the ostree it runs too, as a power cut would.
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while bed.server.object_requests() < before + 5 {
        assert!(
            Instant::now() < deadline,
            "the upgrade never started downloading"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "horizon-update ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let group = i32::try_from(child.id()).unwrap();
    let killed = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    assert_eq!(deployed(&bed), std::slice::from_ref(&v1));

    bed.server.set_object_delay(Duration::ZERO);
    let output = world.run(&["--all"]);
    assert_exit(&output, 0);
    assert_eq!(deployed(&bed), [v2, v1]);
}

#[test]
fn all_updates_flatpak_apps_in_the_user_and_system_installations() {
    let mut world = World::new();
    let flatpak = FlatpakBed::create(&world.dir.path().join("flatpak")).unwrap();
    world.flatpak = flatpak.environment();
    let v1 = flatpak.installed_commit(Installation::User).unwrap();

    let output = world.run(&["--check"]);
    assert_exit(&output, 0);
    let v2 = flatpak.publish("2").unwrap();
    let check = world.json(&["--check", "--json"], 100);
    // Not an OSTree system here, and no --sysroot: the base layer is skipped, not failed.
    assert_eq!(check["base"]["state"], "skipped");
    for (index, source) in [(0, "flatpak-system"), (1, "flatpak-user")] {
        let report = &check["apps"][index];
        assert_eq!(report["source"], source);
        assert_eq!(report["state"], "changes");
        assert_eq!(
            report["changes"][0]["name"],
            "org.example.Hello/x86_64/stable"
        );
        assert_eq!(report["changes"][0]["from"], &v1[..12]);
        assert_eq!(report["changes"][0]["to"], &v2[..12]);
    }

    let output = world.run(&["--all"]);
    assert_exit(&output, 0);
    let change = format!(
        "    org.example.Hello/x86_64/stable {} -> {}\n",
        &v1[..12],
        &v2[..12]
    );
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(&format!(
            "  flatpak (system): 1 updated\n{change}  flatpak (user): 1 updated\n{change}"
        )),
        "{stdout}"
    );
    for installation in [Installation::User, Installation::System] {
        assert_eq!(flatpak.installed_commit(installation).unwrap(), v2);
        assert_eq!(
            flatpak.installed_hello(installation).unwrap(),
            "#!/bin/sh\necho hello 2\n"
        );
    }
    let output = world.run(&["--check"]);
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains("  flatpak (user): up to date (2 installed)\n"),
        "{}",
        text(&output.stdout)
    );
}
