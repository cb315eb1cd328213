//! Updates through the `horizon-container` binary against the real test bed: a v2 of an image
//! pushed to the local registry is found by `update --check`, `update` swaps it in (the container
//! runs v2, its exported binaries resolve, the mounted home is untouched), `rollback` returns to v1
//! without the registry, and each fault — the registry down or stalled, a failing verify command,
//! a failing package install, SIGINT and SIGKILL at every step boundary, the Podman service killed
//! mid-update, two concurrent updates — leaves the old container running and the state consistent.

use std::process::{Command, Output, Stdio};

use horizon_core::update::failpoint::FAILPOINTS;
use horizon_e2e::TestBed;
use horizon_e2e::proxy::ProxyMode;
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::{assert_exit, text, unique_name};

/// What the v1 and v2 images carry in /etc/horizon-release.
const RELEASE_FILE: &str = "/etc/horizon-release";

pub(crate) fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null());
    command.output().expect("run a command")
}

/// `horizon-container ARGS` in `session`.
pub(crate) fn horizon(session: &Session, args: &[&str]) -> Output {
    run(session.horizon_container().args(args))
}

/// `horizon-container ARGS` with extra environment.
pub(crate) fn horizon_with(session: &Session, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = session.horizon_container();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    run(&mut command)
}

/// The error report of a failed command: its stderr from the `error:` line on (progress lines
/// come before it).
pub(crate) fn error_report(output: &Output) -> String {
    let stderr = text(&output.stderr);
    match stderr.find("horizon-container: error: ") {
        Some(start) => stderr[start..].to_owned(),
        None => panic!("no error reported:\n{stderr}"),
    }
}

/// `horizon-container ARGS` that must exit 0; its stdout.
pub(crate) fn succeed(session: &Session, args: &[&str]) -> String {
    let output = horizon(session, args);
    assert_exit(&output, 0);
    text(&output.stdout)
}

/// A program of the test images that prints their release: the definitions export it.
pub(crate) const RELEASE_PROGRAM: &str = "horizon-release";

/// Pushes a busybox image whose release file says `release` as `horizon/IMAGE:latest`, with
/// [`RELEASE_PROGRAM`] in /usr/bin.
pub(crate) fn push_release(bed: &TestBed, image: &str, release: &str) -> String {
    let program = format!("#!/bin/sh\ncat {RELEASE_FILE}\n");
    bed.push_busybox_variant(
        image,
        "latest",
        &[
            (RELEASE_FILE, format!("{release}\n").as_bytes()),
            ("/usr/bin/horizon-release", program.as_bytes()),
        ],
    )
}

/// The release as the exported wrapper of [`RELEASE_PROGRAM`] prints it on the host.
pub(crate) fn exported_release(session: &Session) -> String {
    let output = run(&mut session.command(session.export_dir.join(RELEASE_PROGRAM)));
    assert_exit(&output, 0);
    text(&output.stdout).trim().to_owned()
}

/// The release the active container runs (through `run`, as a user would ask).
fn running_release(session: &Session, name: &str) -> String {
    let output = horizon(session, &["run", name, "cat", RELEASE_FILE]);
    assert_exit(&output, 0);
    text(&output.stdout).trim().to_owned()
}

/// `podman ps -a` of the definition's managed containers: (name, generation label, state),
/// sorted by name.
pub(crate) fn containers(session: &Session, name: &str) -> Vec<(String, String, String)> {
    let output = run(session.service.storage.podman().args([
        "ps",
        "-a",
        "--filter",
        &format!("label=io.horizonos.definition={name}"),
        "--format",
        "json",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let parsed: Value = serde_json::from_slice(&output.stdout).expect("ps JSON");
    let mut listed: Vec<(String, String, String)> = parsed
        .as_array()
        .expect("a list")
        .iter()
        .map(|container| {
            (
                container["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                container["Labels"]["io.horizonos.generation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                container["State"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    listed.sort();
    listed
}

/// Generation labels of the definition's generation images, sorted.
pub(crate) fn generation_images(session: &Session, name: &str) -> Vec<String> {
    let output = run(session.service.storage.podman().args([
        "images",
        "--filter",
        &format!("label=io.horizonos.definition={name}"),
        "--format",
        "{{index .Labels \"io.horizonos.generation\"}}",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut generations: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    generations.sort();
    generations.dedup();
    generations
}

pub(crate) fn record(session: &Session, name: &str) -> Value {
    let path = session
        .state_dir
        .join("containers")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).expect("the install record")).expect("JSON")
}

pub(crate) fn journal_exists(session: &Session, name: &str) -> bool {
    session
        .state_dir
        .join("journal")
        .join(format!("{name}.json"))
        .exists()
}

/// "running" / "exited" / "created" in Podman's words.
const RUNNING: &str = "running";

/// The consistent state of an installed container running `generation`: exactly one container
/// named horizonos-NAME, running that generation, the record saying so, no journal, no build
/// container, and every other container a stopped kept generation named for it.
pub(crate) fn assert_consistent(session: &Session, name: &str, generation: u64) {
    let listed = containers(session, name);
    let active = format!("horizonos-{name}");
    let actives: Vec<_> = listed.iter().filter(|(n, _, _)| *n == active).collect();
    assert_eq!(
        actives,
        [&(active.clone(), generation.to_string(), RUNNING.to_owned())],
        "containers: {listed:?}"
    );
    for (container, label, state) in &listed {
        if *container != active {
            assert_eq!(
                (container.clone(), state.as_str()),
                (format!("horizonos-{name}-{label}"), "exited"),
                "a kept generation: {listed:?}"
            );
        }
    }
    assert_eq!(record(session, name)["generation"], json!(generation));
    assert!(!journal_exists(session, name), "the journal is gone");
    let builds = run(session.service.storage.podman().args([
        "ps",
        "-a",
        "--filter",
        &format!("label=io.horizonos.build-of={name}"),
        "--format",
        "{{.Names}}",
    ]));
    assert_eq!(text(&builds.stdout), "", "no build container is left");
    // Every generation that has a container has its image, and no image is left without one.
    let mut with_containers: Vec<String> = listed.iter().map(|(_, g, _)| g.clone()).collect();
    with_containers.sort();
    with_containers.dedup();
    assert_eq!(generation_images(session, name), with_containers);
}

/// A user definition of `image` with a home mount and an exported binary.
pub(crate) fn write_definition(session: &Session, name: &str, image: &str, extra: Value) {
    let mut definition = json!({
        "name": name,
        "image": image,
        "persistent": true,
        "export_binaries": [RELEASE_PROGRAM],
        "mounts": [format!("{}/project:/project", session.home.display())],
    });
    if let (Some(target), Some(extra)) = (definition.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    if !session.home.join("project").exists() {
        session.write_home_file("project/.keep", b"");
    }
    session.write_user_definition(name, &definition.to_string());
}

#[test]
fn check_update_and_rollback_round_trip() {
    let bed = TestBed::shared();
    // Wrappers point at horizon-exec beside horizon-container: build it first.
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    // "Without the registry" is the fault proxy going down, never the shared registry itself:
    // stopping that broke other tests' pushes running at the same moment.
    let _turn = PROXY_TURN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let session = bed.user_session("update-round-trip");
    let name = unique_name("upd-rt");
    let image = push_release_via_proxy(bed, &name, "v1");
    let notes = session.write_home_file("project/notes.txt", b"written before the update\n");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    assert_consistent(&session, &name, 1);
    assert_eq!(exported_release(&session), "v1");
    let installed_digest = record(&session, &name)["image_digest"].clone();

    // Nothing new yet.
    let output = horizon(&session, &["update", "--check", &name]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "{name}: up to date (generation 1, {})\n",
            &installed_digest.as_str().unwrap()[7..19]
        )
    );

    // v2 at the registry: --check finds it, without pulling it.
    push_release(bed, &name, "v2");
    let output = horizon(&session, &["update", "--check", "--json"]);
    assert_exit(&output, 100);
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checked["schema_version"], 1);
    assert_eq!(checked["updates_available"], true);
    let entry = &checked["containers"][0];
    assert_eq!(entry["name"], json!(name));
    assert_eq!(entry["generation"], 1);
    assert_eq!(entry["installed_digest"], installed_digest);
    assert_eq!(entry["image_update"], true);
    assert_eq!(entry["definition_changed"], false);
    assert_eq!(entry["update_available"], true);
    assert_eq!(entry["error"], Value::Null);
    let available = entry["available_digest"].as_str().unwrap().to_owned();
    assert!(available.starts_with("sha256:") && json!(available) != installed_digest);
    assert_eq!(generation_images(&session, &name), ["1"], "nothing pulled");

    // update: v2 runs, v1 is kept, the home is untouched.
    let output = horizon(&session, &["update", &name]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!("updated {name}: generation 1 -> 2 (image ")),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!(
            "generation 1 is kept: `horizon-container rollback {name}` returns to it\n"
        )),
        "{stdout}"
    );
    assert_eq!(running_release(&session, &name), "v2");
    assert_eq!(
        exported_release(&session),
        "v2",
        "the exported wrapper reaches v2"
    );
    assert_consistent(&session, &name, 2);
    assert_eq!(
        containers(&session, &name),
        [
            (format!("horizonos-{name}"), "2".into(), RUNNING.into()),
            (format!("horizonos-{name}-1"), "1".into(), "exited".into()),
        ]
    );
    assert_eq!(record(&session, &name)["image_digest"], json!(available));
    let status = succeed(&session, &["status", &name]);
    assert!(
        status.contains(&format!(
            "\nkept:         1 (`horizon-container rollback {name}` returns to 1)\n"
        )),
        "{status}"
    );
    let status: Value =
        serde_json::from_str(&succeed(&session, &["status", &name, "--json"])).unwrap();
    assert_eq!(status["kept_generations"], json!([1]));
    assert_eq!(status["container"]["generation"], 2);
    assert_eq!(
        std::fs::read(&notes).unwrap(),
        b"written before the update\n"
    );
    // The mount is reattached: the new container sees the same home files.
    let output = horizon(&session, &["run", &name, "cat", "/project/notes.txt"]);
    assert_exit(&output, 0);
    assert_eq!(text(&output.stdout), "written before the update\n");

    // Up to date now: --check says so, update changes nothing.
    assert_exit(&horizon(&session, &["update", "--check", &name]), 0);
    let output = horizon(&session, &["update", &name, "--json"]);
    assert_exit(&output, 0);
    let updated: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(updated["schema_version"], 1);
    assert_eq!(updated["containers"][0]["outcome"], "up-to-date");
    assert_eq!(updated["containers"][0]["current"]["generation"], 2);

    // rollback: v1 again, without the registry.
    bed.registry_proxy.set_mode(ProxyMode::Down);
    let output = horizon(&session, &["rollback", &name]);
    bed.registry_proxy.set_mode(ProxyMode::Forward);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "rolled {name} back: generation 1 runs again (generation 2 is kept; \
             `horizon-container rollback {name} --to 2` returns to it)\n"
        )
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_eq!(exported_release(&session), "v1");
    assert_consistent(&session, &name, 1);
    assert_eq!(record(&session, &name)["image_digest"], installed_digest);

    // Nothing older is kept: a second rollback says so and changes nothing.
    let output = horizon(&session, &["rollback", &name]);
    assert_exit(&output, 6);
    assert_eq!(
        text(&output.stderr),
        format!(
            "horizon-container: error: `{name}` has nothing to roll back to: generation 1 runs \
             and no older generation is kept (kept: 2)\n"
        )
    );
    assert_consistent(&session, &name, 1);

    // Forward again to the kept generation 2.
    let output = horizon(&session, &["rollback", &name, "--to", "2", "--json"]);
    assert_exit(&output, 0);
    let rolled: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        rolled,
        json!({
            "schema_version": 1,
            "name": name,
            "outcome": "rolled-back",
            "from": {"generation": 1, "image_digest": installed_digest},
            "to": {"generation": 2, "image_digest": available},
        })
    );
    assert_eq!(running_release(&session, &name), "v2");
    assert_consistent(&session, &name, 2);

    succeed(&session, &["remove", &name]);
    assert_eq!(containers(&session, &name), []);
    assert!(!session.export_dir.join(RELEASE_PROGRAM).exists());
    assert!(!session.state_dir.join("generations").join(&name).exists());
}

/// The proxy is one per test bed: the tests that switch it take turns.
static PROXY_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Pushes release `release` of `image` and returns its reference through the fault proxy.
fn push_release_via_proxy(bed: &TestBed, image: &str, release: &str) -> String {
    push_release(bed, image, release);
    format!("{}/horizon/{image}:latest", bed.registry_proxy.host())
}

#[test]
fn a_registry_that_is_down_or_stalled_leaves_the_running_container_alone() {
    let bed = TestBed::shared();
    let _turn = PROXY_TURN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let session = bed.user_session("update-registry-faults");
    let name = unique_name("upd-reg");
    let image = push_release_via_proxy(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");

    // Down: the check reports the failure per container, the update fails at "check" (4).
    bed.registry_proxy.set_mode(ProxyMode::Down);
    let output = horizon(&session, &["update", "--check", &name, "--json"]);
    assert_exit(&output, 1);
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    let error = checked["containers"][0]["error"].as_str().unwrap();
    assert!(error.contains("connection refused"), "{error}");
    assert_eq!(checked["updates_available"], false);
    let output = horizon(&session, &["update", &name]);
    assert_exit(&output, 7);
    let stderr = error_report(&output);
    assert!(
        stderr.starts_with(&format!(
            "horizon-container: error: updating `{name}` failed at step \"check\": resolving {image} at its registry: "
        )) && stderr.contains("connection refused")
            && stderr.ends_with("hint: the running container is untouched; fix the cause and run the update again\n"),
        "{stderr}"
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);

    // Stalled: the registry timeout fires.
    bed.registry_proxy.set_mode(ProxyMode::Stall);
    let timeout = [("HORIZON_REGISTRY_TIMEOUT", "2")];
    let started = std::time::Instant::now();
    let output = horizon_with(&session, &timeout, &["update", &name]);
    assert_exit(&output, 7);
    let stderr = error_report(&output);
    assert!(
        stderr.contains("failed at step \"check\"")
            && stderr.contains("the registry did not answer within 2 s"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let output = horizon_with(&session, &timeout, &["update", "--check"]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stdout).contains("the registry did not answer within 2 s"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);

    // Back up: the same update goes through.
    bed.registry_proxy.set_mode(ProxyMode::Forward);
    succeed(&session, &["update", &name]);
    assert_eq!(running_release(&session, &name), "v2");
    assert_consistent(&session, &name, 2);
}

#[test]
fn a_v2_that_fails_its_verify_command_or_its_packages_is_never_swapped_in() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-verify-fails");
    let name = unique_name("upd-verify");
    let image = push_release(bed, &name, "v1");
    let verify = json!({"verify": [["grep", "-q", "v1", RELEASE_FILE]]});
    write_definition(&session, &name, &image, verify.clone());
    succeed(&session, &["install", &name]);

    // v2 fails the definition's verify command.
    push_release(bed, &name, "v2");
    let output = horizon(&session, &["update", &name]);
    assert_exit(&output, 7);
    let stderr = error_report(&output);
    assert!(
        stderr.starts_with(&format!(
            "horizon-container: error: updating `{name}` failed at step \"verify\": verify command `grep -q v1 {RELEASE_FILE}` exited with status 1"
        )),
        "{stderr}"
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);

    // This v2 passes the verify command but lacks the exported program.
    bed.push_busybox_variant(&name, "latest", &[(RELEASE_FILE, b"v1 again\n")]);
    let output = horizon(&session, &["update", &name]);
    assert_exit(&output, 7);
    assert_eq!(
        error_report(&output),
        format!(
            "horizon-container: error: updating `{name}` failed at step \"verify exports\": \
             exported binary `{RELEASE_PROGRAM}` is not found in the new container (export_binaries)\n\
             hint: the running container is untouched; fix the cause and run the update again\n"
        )
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);

    // v3 has a package manager that fails to install the definition's package.
    let failing_apk: &[u8] = b"#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'apk-tools 2.14 (test double)'; exit 0; fi\necho \"ERROR: unable to select packages: $3 (no such package)\" >&2\nexit 1\n";
    bed.push_busybox_variant(
        &name,
        "latest",
        &[(RELEASE_FILE, b"v3\n"), ("/sbin/apk", failing_apk)],
    );
    let mut with_packages = verify;
    with_packages["packages"] = json!(["horizon-missing"]);
    write_definition(&session, &name, &image, with_packages);
    let output = horizon(&session, &["update", &name]);
    assert_exit(&output, 7);
    let stderr = error_report(&output);
    assert!(
        stderr.starts_with(&format!(
            "horizon-container: error: updating `{name}` failed at step \"install packages\": `apk add --no-cache horizon-missing` exited with status 1; its last lines:\n    ERROR: unable to select packages: horizon-missing (no such package)\n"
        )),
        "{stderr}"
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);
}

/// `install --reinstall` of an installed, up-to-date container is the update transaction told to
/// rebuild: the next generation (the same image digest) is verified beside the running one and
/// swapped in, the previous one kept, `rollback` returns to it, `--keep` prunes, and a reinstall
/// killed mid-swap is finished by the next command like an update.
#[test]
fn reinstall_rebuilds_through_the_update_transaction_and_can_be_rolled_back() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-reinstall");
    let name = unique_name("upd-re");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    // Not installed yet: --reinstall is a plain install.
    let stdout = succeed(&session, &["install", &name, "--reinstall"]);
    assert!(
        stdout.starts_with(&format!(
            "installed {name}: generation 1, container horizonos-{name} running\n"
        )),
        "{stdout}"
    );
    let digest = record(&session, &name)["image_digest"].clone();
    let first_id = record(&session, &name)["container_id"].clone();

    let output = horizon(&session, &["install", &name, "--reinstall", "--json"]);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (
            &report["outcome"],
            &report["generation"],
            &report["replaced_generation"],
            &report["pruned"],
        ),
        (&json!("reinstalled"), &json!(2), &json!(1), &json!([]))
    );
    assert_eq!(report["record"]["generation"], 2);
    assert_eq!(report["record"]["image_digest"], digest, "the same image");
    assert_ne!(
        report["record"]["container_id"], first_id,
        "a new container"
    );
    assert_consistent(&session, &name, 2);
    assert_eq!(
        containers(&session, &name),
        [
            (format!("horizonos-{name}"), "2".into(), RUNNING.into()),
            (format!("horizonos-{name}-1"), "1".into(), "exited".into()),
        ]
    );
    assert_eq!(exported_release(&session), "v1");

    // Text, keeping one previous generation: generation 1 goes.
    let stdout = succeed(&session, &["install", &name, "--reinstall", "--keep", "1"]);
    assert_eq!(
        stdout,
        format!(
            "reinstalled {name}: generation 2 -> 3, container horizonos-{name} running\n\
             image: {image} ({})\n\
             generation 2 is kept: `horizon-container rollback {name}` returns to it\n\
             pruned generations 1\n",
            digest.as_str().unwrap()
        )
    );
    assert_consistent(&session, &name, 3);
    assert_eq!(generation_images(&session, &name), ["2", "3"]);

    succeed(&session, &["rollback", &name]);
    assert_consistent(&session, &name, 2);

    // Killed once the new container has the name: the next command completes it.
    let output = horizon_with(
        &session,
        &[("HORIZON_FAILPOINTS", "swap-renamed-new=kill")],
        &["install", &name, "--reinstall"],
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(9), "{}", text(&output.stderr));
    let status = horizon(&session, &["status", &name]);
    assert_exit(&status, 0);
    assert!(
        text(&status.stderr).starts_with(&format!(
            "horizon-container: an interrupted reinstall of {name} was completed; generation 4 runs"
        )),
        "{}",
        text(&status.stderr)
    );
    assert_consistent(&session, &name, 4);
    assert_eq!(exported_release(&session), "v1");
}

/// Updates `name` with failpoint `point` set to `action` (`kill` or `interrupt`); returns the
/// command's output.
fn update_with_failpoint(session: &Session, name: &str, point: &str, action: &str) -> Output {
    let spec = format!("{point}={action}");
    horizon_with(
        session,
        &[("HORIZON_FAILPOINTS", spec.as_str())],
        &["update", name],
    )
}

/// Whether recovery completes (rather than reverts) a transaction interrupted after `point`.
fn completes_after(point: &str) -> bool {
    [
        "swap-renamed-new",
        "swap-started-new",
        "update-recorded",
        "update-pruned",
    ]
    .contains(&point)
}

/// At every failpoint: interrupt the update with `action`, then check that the next command (or
/// the interrupted one itself, for SIGINT) left a consistent state running the right release.
fn interrupt_at_every_step(test: &str, action: &str) {
    let bed = TestBed::shared();
    let session = bed.user_session(test);
    let name = unique_name(test);
    let image = push_release(bed, &name, "r0");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    let mut running = "r0".to_owned();
    for (round, point) in FAILPOINTS.iter().enumerate() {
        let release = format!("r{}", round + 1);
        push_release(bed, &name, &release);
        let output = update_with_failpoint(&session, &name, point, action);
        let completed = completes_after(point);
        match action {
            "kill" => {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(
                    output.status.signal(),
                    Some(9),
                    "{point}: killed\n{}",
                    text(&output.stderr)
                );
                // The next command recovers.
                let status = horizon(&session, &["status", &name]);
                assert_exit(&status, 0);
                let verb = if completed { "completed" } else { "reverted" };
                assert!(
                    text(&status.stderr).starts_with(&format!(
                        "horizon-container: an interrupted update of {name} was {verb}; generation "
                    )),
                    "{point}: {}",
                    text(&status.stderr)
                );
            }
            _ => {
                assert_exit(&output, 130);
                let stderr = text(&output.stderr);
                let verb = if completed { "completed" } else { "reverted" };
                assert!(
                    stderr.contains(&format!(
                        "horizon-container: an interrupted update of {name} was {verb}; generation "
                    )) && stderr.ends_with(&format!(
                        "horizon-container: error: the update of {name} was interrupted (SIGINT)\n"
                    )),
                    "{point}: {stderr}"
                );
            }
        }
        if completed {
            running = release;
        }
        assert_eq!(running_release(&session, &name), running, "{point}");
        let generation = record(&session, &name)["generation"].as_u64().unwrap();
        assert_consistent(&session, &name, generation);
    }
}

#[test]
fn sigkill_at_every_step_boundary_is_recovered_by_the_next_command() {
    interrupt_at_every_step("upd-kill", "kill");
}

#[test]
fn sigint_at_every_step_boundary_reverts_or_completes_before_exiting() {
    interrupt_at_every_step("upd-int", "interrupt");
}

/// Waits until `name`'s journal has recorded `step`.
pub(crate) fn wait_for_journal_step(session: &Session, name: &str, step: &str) {
    let path = session
        .state_dir
        .join("journal")
        .join(format!("{name}.json"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(journal) = serde_json::from_slice::<Value>(&bytes)
            && journal["steps"]
                .as_array()
                .is_some_and(|steps| steps.contains(&json!(step)))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the journal never reached {step}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_second_update_is_told_who_is_busy_or_waits_its_turn() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-busy");
    let name = unique_name("upd-busy");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");

    let mut first = session.horizon_container();
    first
        .args(["update", &name])
        .env("HORIZON_FAILPOINTS", "update-built=sleep(4000)")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let first = first.spawn().unwrap();
    wait_for_journal_step(&session, &name, "built");

    let second = horizon(&session, &["update", &name]);
    assert_exit(&second, 5);
    let stderr = text(&second.stderr);
    let busy = format!(
        "horizon-container: error: `{name}` is busy: update by pid {} since ",
        first.id()
    );
    assert!(
        stderr.starts_with(&busy)
            && stderr.ends_with("hint: wait for it to finish, or pass --wait to queue behind it\n"),
        "{stderr}"
    );
    // Readers do not wait: status answers while the update holds the lock, and shows v1.
    assert_exit(&horizon(&session, &["status", &name]), 0);
    assert_eq!(running_release(&session, &name), "v1");

    let mut third = session.horizon_container();
    third
        .args(["update", &name, "--wait"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let third = third.spawn().unwrap();
    let first = first.wait_with_output().unwrap();
    assert_exit(&first, 0);
    let third = third.wait_with_output().unwrap();
    assert_exit(&third, 0);
    assert_eq!(
        text(&third.stdout),
        format!("{name} is up to date (generation 2, image {})\n", {
            let digest = record(&session, &name)["image_digest"]
                .as_str()
                .unwrap()
                .to_owned();
            digest[7..19].to_owned()
        })
    );
    assert_eq!(running_release(&session, &name), "v2");
    assert_consistent(&session, &name, 2);
}

#[test]
fn the_podman_service_killed_mid_swap_is_recovered_after_it_restarts() {
    use horizon_e2e::podman::{PodmanService, Storage};
    let bed = TestBed::shared();
    // Short: Podman refuses a runroot path longer than 50 bytes.
    let dir = bed.dir.join("svc-upd");
    let start_service = || {
        let storage = Storage::create(
            &dir,
            None,
            &bed.rootful.storage.containers_conf,
            &bed.rootful.storage.registries_conf,
        )
        .unwrap();
        PodmanService::start(
            "update test podman service",
            storage,
            dir.join("podman.sock"),
            &dir.join("service.log"),
        )
        .unwrap()
    };
    let service: &'static PodmanService = Box::leak(Box::new(start_service()));
    let session = bed.root_session_on("update-own-service", service);
    let name = unique_name("upd-svc");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");

    let mut update = session.horizon_container();
    update
        .args(["update", &name])
        .env("HORIZON_FAILPOINTS", "swap-stopped-old=sleep(3000)")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let update = update.spawn().unwrap();
    wait_for_journal_step(&session, &name, "stopped-old");
    // The old container is stopped and the service dies.
    horizon_e2e::process::signal(service.pid(), libc::SIGKILL);
    let output = update.wait_with_output().unwrap();
    assert_exit(&output, 3);
    assert!(
        journal_exists(&session, &name),
        "the journal stays for recovery"
    );

    // A new service on the same storage and socket; the next command puts v1 back.
    let restarted = start_service();
    let status = horizon(&session, &["status", &name]);
    assert_exit(&status, 0);
    assert!(
        text(&status.stderr).starts_with(&format!(
            "horizon-container: an interrupted update of {name} was reverted; generation 1 runs"
        )),
        "{}",
        text(&status.stderr)
    );
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);
    succeed(&session, &["update", &name]);
    assert_eq!(running_release(&session, &name), "v2");
    assert_consistent(&session, &name, 2);
    succeed(&session, &["remove", &name]);
    restarted.stop();
    // The killed service may leave the storage's overlay directory mounted (seen once in a full
    // run); this storage is not one the bed's teardown knows, so unmount what is there, if any.
    let overlay = dir.join("root/overlay");
    while run(Command::new("umount").arg(&overlay)).status.success() {}
}

#[test]
fn update_all_updates_each_container_and_reports_each_outcome() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-all");
    let good = unique_name("upd-all-good");
    let bad = unique_name("upd-all-bad");
    for name in [&good, &bad] {
        let image = push_release(bed, name, "v1");
        let verify = json!({"verify": [["grep", "-q", "v1", RELEASE_FILE]]});
        let extra = if *name == bad { verify } else { json!({}) };
        write_definition(&session, name, &image, extra);
        succeed(&session, &["install", name]);
    }
    push_release(bed, &good, "v2");
    push_release(bed, &bad, "v2");
    let output = horizon(&session, &["update", "--check"]);
    assert_exit(&output, 100);

    // One failing does not stop the other; every failure left its container untouched: 4.
    let output = horizon(&session, &["update", "--all", "--json"]);
    assert_exit(&output, 7);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let entries = report["containers"].as_array().unwrap();
    let entry = |name: &str| {
        entries
            .iter()
            .find(|entry| entry["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {report}"))
            .clone()
    };
    let updated = entry(&good);
    assert_eq!(updated["outcome"], "updated");
    assert_eq!(updated["to"]["generation"], 2);
    assert_eq!(updated["error"], Value::Null);
    let failed = entry(&bad);
    assert_eq!(failed["outcome"], Value::Null);
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("updating `{bad}` failed at step \"verify\"")),
        "{failed}"
    );
    assert_eq!(running_release(&session, &good), "v2");
    assert_eq!(running_release(&session, &bad), "v1");
    assert_consistent(&session, &good, 2);
    assert_consistent(&session, &bad, 1);
}

#[test]
fn a_rollback_killed_mid_swap_is_reverted_or_completed_by_the_next_command() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-rollback-kill");
    let name = unique_name("upd-rbk");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");
    succeed(&session, &["update", &name]);
    for (point, release, generation, verb) in [
        ("swap-renamed-old", "v2", 2, "reverted"),
        ("swap-renamed-new", "v1", 1, "completed"),
    ] {
        let spec = format!("{point}=kill");
        let output = horizon_with(
            &session,
            &[("HORIZON_FAILPOINTS", spec.as_str())],
            &["rollback", &name],
        );
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(output.status.signal(), Some(9), "{point}");
        let status = horizon(&session, &["status", &name]);
        assert_exit(&status, 0);
        assert_eq!(
            text(&status.stderr),
            format!(
                "horizon-container: an interrupted rollback of {name} was {verb}; generation {generation} runs\n"
            ),
            "{point}"
        );
        assert_eq!(running_release(&session, &name), release, "{point}");
        assert_consistent(&session, &name, generation);
    }
}

#[test]
fn a_non_persistent_container_is_updated_and_rolled_back_from_its_generation_images() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-non-persistent");
    let name = unique_name("upd-np");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({"persistent": false}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");
    succeed(&session, &["update", &name]);
    assert_eq!(running_release(&session, &name), "v2");
    assert_consistent(&session, &name, 2);

    // A stopped non-persistent generation comes back fresh from its image on rollback.
    let output = horizon(&session, &["run", &name, "touch", "/tmp/used"]);
    assert_exit(&output, 0);
    succeed(&session, &["rollback", &name]);
    assert_eq!(running_release(&session, &name), "v1");
    assert_consistent(&session, &name, 1);
    succeed(&session, &["rollback", &name, "--to", "2"]);
    assert_eq!(running_release(&session, &name), "v2");
    let output = horizon(&session, &["run", &name, "test", "-e", "/tmp/used"]);
    assert_exit(&output, 1);
    assert_consistent(&session, &name, 2);
}

/// `update` on a terminal draws install's progress display: each step ticked off in place, named
/// with the container (script(1) gives it a terminal on stdin, stdout and stderr).
#[test]
fn update_on_a_terminal_draws_a_progress_display_instead_of_lines() {
    let bed = TestBed::shared();
    let session = bed.user_session("update-terminal");
    let name = unique_name("upd-term");
    let image = push_release(bed, &name, "v1");
    write_definition(&session, &name, &image, json!({}));
    succeed(&session, &["install", &name]);
    push_release(bed, &name, "v2");
    let binary = horizon_e2e::bins::cargo_bin("horizon-cli", "horizon-container");
    let output = run(session.command("script").env("TERM", "xterm").args([
        "-qec",
        &format!("{} update {name}", binary.display()),
        "/dev/null",
    ]));
    let screen = text(&output.stdout);
    assert_exit(&output, 0);
    assert!(screen.contains("\u{1b}[2K"), "redrawn in place: {screen:?}");
    for done in [
        format!("✓ {name}: check: {image}"),
        format!("✓ {name}: commit: localhost/horizonos/{name}:2"),
        format!("✓ {name}: verify exports"),
        format!("✓ {name}: swap: horizonos-{name}"),
    ] {
        assert!(screen.contains(&done), "{done}: {screen:?}");
    }
    assert!(
        screen.contains(&format!("updated {name}: generation 1 -> 2")),
        "{screen:?}"
    );
    assert_eq!(running_release(&session, &name), "v2");
    succeed(&session, &["remove", &name]);
}
