//! An interrupted install against the real test bed: SIGKILL and SIGINT at every step of an
//! install, a verify command killed while it runs, and `cleanup` racing an install in progress.
//! After each, the next `install` completes or reverts what the journal names and installs, so
//! `list`, `status`, the install record and Podman agree, no build container or generation image
//! is left behind, and an exported binary exists only for a recorded, verified container.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use horizon_core::update::failpoint::INSTALL_FAILPOINTS;
use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::json;

use crate::update::{
    RELEASE_PROGRAM, assert_consistent, containers, generation_images, horizon, horizon_with,
    journal_exists, push_release, run, succeed, write_definition,
};
use crate::{assert_exit, text, unique_name};

/// Whether recovery completes (rather than reverts) an install interrupted after `point`: only
/// once verification passed, when only the record (and the start) remain.
fn completes_after(point: &str) -> bool {
    ["install-verified", "install-recorded"].contains(&point)
}

/// Build containers of `name` (`podman ps -a` by the build label).
fn build_containers(session: &Session, name: &str) -> String {
    let output = run(session.service.storage.podman().args([
        "ps",
        "-a",
        "--filter",
        &format!("label=io.horizonos.build-of={name}"),
        "--format",
        "{{.Names}}",
    ]));
    text(&output.stdout)
}

/// Nothing of `name` is left: no container, build container, generation image, record, journal
/// or exported wrapper.
fn assert_nothing_left(session: &Session, name: &str, context: &str) {
    assert_eq!(containers(session, name), [], "{context}: containers");
    assert_eq!(build_containers(session, name), "", "{context}: builds");
    assert_eq!(
        generation_images(session, name),
        [] as [String; 0],
        "{context}"
    );
    let record = session
        .state_dir
        .join("containers")
        .join(format!("{name}.json"));
    assert!(!record.exists(), "{context}: no install record");
    assert!(!journal_exists(session, name), "{context}: no journal");
    assert!(
        !session.export_dir.join(RELEASE_PROGRAM).exists(),
        "{context}: no export without a verified container"
    );
}

/// `list --json`'s entry for `name`.
fn listed_state(session: &Session, name: &str) -> serde_json::Value {
    let listed: serde_json::Value =
        serde_json::from_str(&succeed(session, &["list", "--json"])).expect("list JSON");
    listed["definitions"]
        .as_array()
        .and_then(|definitions| {
            definitions
                .iter()
                .find(|definition| definition["name"] == json!(name))
        })
        .map(|definition| definition["state"].clone())
        .unwrap_or_default()
}

/// After the install of `name`: installed and verified, and `list`, `status`, Podman, the record
/// and the export agree.
fn assert_installed(session: &Session, name: &str, context: &str) {
    assert_consistent(session, name, 1);
    assert_eq!(listed_state(session, name), json!("running"), "{context}");
    let status = horizon(session, &["status", name]);
    assert_exit(&status, 0);
    assert!(
        text(&status.stdout).contains("running"),
        "{context}: {}",
        text(&status.stdout)
    );
    assert!(
        session.export_dir.join(RELEASE_PROGRAM).exists(),
        "{context}"
    );
}

#[test]
fn an_install_killed_at_every_step_is_completed_or_reverted_by_the_next_install() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-kill");
    let name = unique_name("ins-kill");
    let image = push_release(bed, &name, "r1");
    write_definition(&session, &name, &image, json!({"verify": [["true"]]}));
    for point in INSTALL_FAILPOINTS {
        let spec = format!("{point}=kill");
        let output = horizon_with(
            &session,
            &[("HORIZON_FAILPOINTS", spec.as_str())],
            &["install", &name],
        );
        assert_eq!(
            output.status.signal(),
            Some(9),
            "{point}: killed\n{}",
            text(&output.stderr)
        );
        assert!(
            journal_exists(&session, &name),
            "{point}: the journal stays"
        );
        // `list` finishes what nobody holds before it reports.
        let listed = listed_state(&session, &name);
        let completed = completes_after(point);
        let expected = if completed {
            "running"
        } else {
            "not-installed"
        };
        assert_eq!(listed, json!(expected), "{point}");
        if !completed {
            assert_nothing_left(&session, &name, point);
        }
        let again = horizon(&session, &["install", &name]);
        assert_exit(&again, 0);
        let stdout = text(&again.stdout);
        if completed {
            assert!(
                stdout.contains("already installed"),
                "{point}: {stdout}\n{}",
                text(&again.stderr)
            );
        } else {
            assert!(
                stdout.starts_with(&format!("installed {name}")),
                "{point}: {stdout}"
            );
        }
        assert_installed(&session, &name, point);
        succeed(&session, &["remove", &name]);
        assert_nothing_left(&session, &name, point);
    }
}

#[test]
fn an_install_killed_at_each_step_is_recovered_by_status_and_reinstall_works() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-kill-status");
    let name = unique_name("ins-kst");
    let image = push_release(bed, &name, "r1");
    write_definition(&session, &name, &image, json!({}));
    for point in ["build-committed", "container-created", "install-verified"] {
        let spec = format!("{point}=kill");
        let output = horizon_with(
            &session,
            &[("HORIZON_FAILPOINTS", spec.as_str())],
            &["install", &name],
        );
        assert_eq!(output.status.signal(), Some(9), "{point}");
        let status = horizon(&session, &["status", &name]);
        let verb = if completes_after(point) {
            "completed; generation 1 runs"
        } else {
            "reverted; nothing of it is left"
        };
        assert!(
            text(&status.stderr).starts_with(&format!(
                "horizon-container: an interrupted install of {name} was {verb}\n"
            )),
            "{point}: {}",
            text(&status.stderr)
        );
        if completes_after(point) {
            assert_exit(&status, 0);
            // A recorded, verified container: reinstall and update work on it.
            succeed(&session, &["install", "--reinstall", &name]);
            assert_consistent(&session, &name, 2);
            succeed(&session, &["remove", &name]);
        } else {
            assert_nothing_left(&session, &name, point);
        }
    }
}

#[test]
fn sigint_during_install_reverts_once_and_exits_130_saying_what_was_undone() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-int");
    let name = unique_name("ins-int");
    let image = push_release(bed, &name, "r1");
    write_definition(&session, &name, &image, json!({"verify": [["true"]]}));
    for point in INSTALL_FAILPOINTS {
        let spec = format!("{point}=interrupt");
        let output = horizon_with(
            &session,
            &[("HORIZON_FAILPOINTS", spec.as_str())],
            &["install", &name],
        );
        let stderr = text(&output.stderr);
        assert_exit(&output, 130);
        let completed = completes_after(point);
        let what = if completed {
            "completed; generation 1 runs"
        } else {
            "reverted; nothing of it is left"
        };
        assert!(
            stderr.contains(&format!(
                "horizon-container: an interrupted install of {name} was {what}\n"
            )) && stderr.ends_with(&format!(
                "horizon-container: error: the install of {name} was interrupted (SIGINT)\n"
            )),
            "{point}: {stderr}"
        );
        assert_eq!(
            stderr.matches("an interrupted install").count(),
            1,
            "{point}: reverted once: {stderr}"
        );
        if completed {
            assert_consistent(&session, &name, 1);
            // The exports come with the next install, which finds it installed.
            let again = horizon(&session, &["install", &name]);
            assert_exit(&again, 0);
            assert!(text(&again.stdout).contains("already installed"), "{point}");
            assert_installed(&session, &name, point);
            succeed(&session, &["remove", &name]);
        }
        assert_nothing_left(&session, &name, point);
    }
}

/// Waits (up to two minutes) until `ready` holds.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_install_killed_while_a_slow_verify_runs_is_never_called_installed() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-slow-verify");
    let name = unique_name("ins-slow");
    let image = push_release(bed, &name, "r1");
    write_definition(
        &session,
        &name,
        &image,
        json!({"verify": [["sleep", "2"], ["false"]]}),
    );
    let mut child = session
        .horizon_container()
        .args(["install", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the install");
    let active = format!("horizonos-{name}");
    wait_until("the container is created", || {
        containers(&session, &name)
            .iter()
            .any(|(container, _, _)| *container == active)
    });
    child.kill().expect("SIGKILL the install");
    child.wait().expect("reap it");

    assert_eq!(listed_state(&session, &name), json!("not-installed"));
    assert_nothing_left(&session, &name, "after the killed install");
    // The next install does not call it installed: it builds again, and fails its verify.
    let again = horizon(&session, &["install", &name]);
    assert_exit(&again, 1);
    assert!(
        text(&again.stderr).contains(&format!(
            "\nhorizon-container: error: installing `{name}` failed at step \"verify\": verify command `false` exited with status 1"
        )),
        "{}",
        text(&again.stderr)
    );
    assert_nothing_left(&session, &name, "after the failed install");
    for args in [vec!["install", "--reinstall", &name], vec!["update", &name]] {
        let output = horizon(&session, &args);
        assert_exit(&output, 1);
    }
    assert_nothing_left(&session, &name, "after reinstall and update");

    // Fixed, it installs.
    write_definition(&session, &name, &image, json!({"verify": [["true"]]}));
    succeed(&session, &["install", &name]);
    assert_installed(&session, &name, "fixed");
}

#[test]
fn cleanup_leaves_the_objects_of_an_install_in_progress_alone() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-cleanup-race");
    let other = bed.user_session("install-cleanup-race-other");
    let name = unique_name("ins-race");
    let image = push_release(bed, &name, "r1");
    write_definition(&session, &name, &image, json!({}));
    for point in ["build-container-created", "build-committed"] {
        let spec = format!("{point}=sleep(6000)");
        let child = session
            .horizon_container()
            .args(["install", &name])
            .env("HORIZON_FAILPOINTS", &spec)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the install");
        wait_until("the build container exists", || {
            !build_containers(&session, &name).is_empty()
        });
        // This session's cleanup sees the lock held; another user's horizon on the same service
        // sees objects another horizon owns.
        for cleaner in [&session, &other] {
            let cleanup = horizon(cleaner, &["cleanup"]);
            assert_exit(&cleanup, 0);
            assert!(
                !text(&cleanup.stdout).contains(&name),
                "{point}: cleanup touched the install in progress: {}",
                text(&cleanup.stdout)
            );
        }
        assert_eq!(
            build_containers(&session, &name),
            format!("horizonos-{name}-build\n"),
            "{point}"
        );
        let output = child.wait_with_output().expect("the install ends");
        assert_exit(&output, 0);
        assert_installed(&session, &name, point);
        succeed(&session, &["remove", &name]);
    }
}

#[test]
fn cleanup_leaves_an_interrupted_install_to_its_recovery() {
    let bed = TestBed::shared();
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let session = bed.user_session("install-cleanup-journal");
    let name = unique_name("ins-cjour");
    let image = push_release(bed, &name, "r1");
    write_definition(&session, &name, &image, json!({}));
    let output = horizon_with(
        &session,
        &[("HORIZON_FAILPOINTS", "build-committed=kill")],
        &["install", &name],
    );
    assert_eq!(output.status.signal(), Some(9));
    // cleanup recovers the interrupted install first: what it made goes, with the journal.
    let cleanup = horizon(&session, &["cleanup"]);
    assert_exit(&cleanup, 0);
    assert!(
        text(&cleanup.stderr).starts_with(&format!(
            "horizon-container: an interrupted install of {name} was reverted; nothing of it is left\n"
        )),
        "{}",
        text(&cleanup.stderr)
    );
    assert_nothing_left(&session, &name, "after cleanup");
    succeed(&session, &["install", &name]);
    assert_installed(&session, &name, "installed after");
}
