//! `horizon-dev setup`: toolchains installed into a user definition of the bed's Debian image
//! from Debian's mirror, built as the next generation, used from the host (`cargo new`, `cargo
//! run`, an exported `python3` on the PATH), kept by `update`, taken away by `rollback` and by
//! `setup --remove`; a setup whose probe fails, an unknown toolchain and an unsupported image
//! change nothing.

use std::path::Path;
use std::process::{Output, Stdio};

use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use super::update::{assert_consistent, record};
use crate::{assert_exit, text, unique_name};

/// `horizon-dev --container NAME ARGS...` in the session, without stdin.
fn dev(session: &Session, name: &str, args: &[&str]) -> Output {
    // The wrappers a setup exports run the exec client installed beside the binary.
    cargo_bin("horizon-exec", "horizon-exec");
    session
        .command(cargo_bin("horizon-dev", "horizon-dev"))
        .args(["--container", name])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run horizon-dev")
}

/// `horizon-container run NAME ARGS...` in `dir` of the session.
fn run_in(session: &Session, dir: &Path, name: &str, args: &[&str]) -> Output {
    session
        .horizon_container()
        .current_dir(dir)
        .arg("run")
        .arg(name)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run horizon-container run")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

/// Which toolchains `setup --list --json` says are installed.
fn installed_toolchains(session: &Session, name: &str) -> Vec<String> {
    let output = dev(session, name, &["setup", "--list", "--json"]);
    assert_exit(&output, 0);
    let list = json_of(&output);
    assert_eq!(list["family"], json!("debian"), "{list}");
    list["toolchains"]
        .as_array()
        .expect("toolchains")
        .iter()
        .filter(|entry| entry["installed"] == json!(true))
        .map(|entry| entry["toolchain"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Whether `binary` is found in the running container.
fn in_container(session: &Session, name: &str, binary: &str) -> bool {
    let output = session
        .service
        .storage
        .podman()
        .args(["exec", &format!("horizonos-{name}"), "sh", "-c"])
        .arg(format!("command -v {binary}"))
        .output()
        .expect("podman exec");
    output.status.success()
}

fn drifted(session: &Session, name: &str) -> Value {
    let output = session.horizon(&["--json", "status", name]);
    assert_exit(&output, 0);
    json_of(&output)["drifted"].clone()
}

/// Writes `definition` as the user definition `name` and installs it.
fn install(session: &Session, name: &str, definition: &Value) {
    session.write_user_definition(name, &serde_json::to_string_pretty(definition).unwrap());
    assert_exit(&session.horizon(&["install", name]), 0);
}

fn user_file(session: &Session, name: &str) -> Vec<u8> {
    std::fs::read(session.definitions_dir().join(format!("{name}.json"))).expect("the user file")
}

#[test]
fn setup_builds_toolchains_update_keeps_them_and_rollback_takes_the_last_away() {
    let bed = TestBed::shared();
    let name = unique_name("dev-setup");
    let session = bed.user_session("dev_setup");
    // The container's user has no home of its own in a test (Podman's keep-id entry): cargo's
    // home is put in the session's, which is mounted, as a user's home is.
    let definition = json!({
        "name": name,
        "image": bed.debian_image(),
        "mounts": [session.home.display().to_string()],
        "environment": {"CARGO_HOME": format!("{}/.cargo", session.home.display())},
    });
    install(&session, &name, &definition);
    assert_eq!(installed_toolchains(&session, &name), Vec::<String>::new());

    // python: generation 2, its python3 exported and working from the host PATH (over the
    // bed's own /usr/bin/python3, which the export would shadow: hence --force-exports).
    let python = dev(&session, &name, &["setup", "python", "--force-exports"]);
    assert_exit(&python, 0);
    let stdout = text(&python.stdout);
    assert!(
        stdout.starts_with(&format!(
            "set up python in {name} (debian): python3 python3-pip python3-venv\n\
             generation 2 runs; generation 1 is kept"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("exported: python3 pip3\n"),
        "{stdout}{}",
        text(&python.stderr)
    );
    assert_consistent(&session, &name, 2);
    assert!(session.export_dir.join("python3").is_file());
    let on_path = session
        .command("python3")
        .args(["-c", "import os; print(os.environ['HORIZONOS_CONTAINER'])"])
        .stdin(Stdio::null())
        .output()
        .expect("python3 from the PATH");
    assert_exit(&on_path, 0);
    assert_eq!(
        text(&on_path.stdout),
        format!("{name}\n"),
        "it ran in the container"
    );
    let after_python = user_file(&session, &name);

    // rust: generation 3; cargo new and cargo run in the home.
    let rust = dev(&session, &name, &["setup", "rust"]);
    assert_exit(&rust, 0);
    assert!(
        text(&rust.stdout).starts_with(&format!("set up rust in {name} (debian): cargo\n")),
        "{}",
        text(&rust.stdout)
    );
    assert_consistent(&session, &name, 3);
    let edited: Value = serde_json::from_slice(&user_file(&session, &name)).unwrap();
    assert_eq!(
        (
            &edited["packages"],
            &edited["export_binaries"],
            &edited["mounts"]
        ),
        (
            &json!(["python3", "python3-pip", "python3-venv", "cargo"]),
            &json!(["python3", "pip3", "cargo", "rustc"]),
            &definition["mounts"],
        ),
        "the user layer has the toolchains and keeps its other fields"
    );
    assert_eq!(edited["environment"], definition["environment"]);
    assert_eq!(
        installed_toolchains(&session, &name),
        ["rust".to_owned(), "python".to_owned()]
    );
    let new = run_in(&session, &session.home, &name, &["cargo", "new", "hello"]);
    assert_exit(&new, 0);
    let hello = session.home.join("hello");
    let ran = run_in(&session, &hello, &name, &["cargo", "run"]);
    assert_exit(&ran, 0);
    assert_eq!(
        text(&ran.stdout),
        "Hello, world!\n",
        "{}",
        text(&ran.stderr)
    );
    assert!(session.export_dir.join("cargo").is_file());
    assert_eq!(drifted(&session, &name), json!(false));

    // update: nothing new in the registry, the definition unchanged: rust stays.
    let update = session.horizon(&["update", &name]);
    assert_exit(&update, 0);
    assert_consistent(&session, &name, 3);
    assert!(in_container(&session, &name, "cargo"));

    // rollback: generation 2 again, rust gone from the container, the exports, the list and
    // the user layer, which is byte for byte what it was before `setup rust`.
    let rollback = session.horizon(&["--json", "rollback", &name]);
    assert_exit(&rollback, 0);
    let report = json_of(&rollback);
    let unexported: Vec<&str> = report["unexported"]
        .as_array()
        .expect("unexported")
        .iter()
        .map(|outcome| outcome["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(unexported, ["cargo", "rustc"], "{report}");
    assert_consistent(&session, &name, 2);
    assert!(!in_container(&session, &name, "cargo"));
    assert!(in_container(&session, &name, "python3"));
    assert!(!session.export_dir.join("cargo").exists());
    assert!(!session.export_dir.join("rustc").exists());
    assert!(session.export_dir.join("python3").is_file());
    assert_eq!(installed_toolchains(&session, &name), ["python".to_owned()]);
    assert_eq!(user_file(&session, &name), after_python);
    assert_eq!(drifted(&session, &name), json!(false));
    assert_eq!(record(&session, &name)["generation"], json!(2));

    // --remove python: generation 4 without it (no package left to install), its exports gone.
    let removed = dev(&session, &name, &["setup", "--remove", "python"]);
    assert_exit(&removed, 0);
    let stdout = text(&removed.stdout);
    assert!(
        stdout.starts_with(&format!(
            "removed python from {name}\ngeneration 4 runs; generation 2 is kept"
        )),
        "{stdout}"
    );
    // In the export ledger's order.
    assert!(stdout.ends_with("unexported: pip3 python3\n"), "{stdout}");
    assert_consistent(&session, &name, 4);
    assert!(!in_container(&session, &name, "python3"));
    assert!(!session.export_dir.join("python3").exists());
    assert_eq!(installed_toolchains(&session, &name), Vec::<String>::new());
    let edited: Value = serde_json::from_slice(&user_file(&session, &name)).unwrap();
    assert_eq!(
        (
            &edited["packages"],
            &edited["export_binaries"],
            &edited["verify"]
        ),
        (&json!([]), &json!([]), &json!([]))
    );
    assert_eq!(drifted(&session, &name), json!(false));

    assert_exit(&session.horizon(&["remove", &name]), 0);
}

#[test]
fn a_setup_whose_probe_fails_changes_nothing() {
    let bed = TestBed::shared();
    let name = unique_name("dev-probe");
    let session = bed.user_session("dev_setup_probe");
    // Python refuses to start with an invalid PYTHONUTF8 (before it even prints its version):
    // python3 installs, its probe cannot pass.
    let definition = json!({
        "name": name,
        "image": bed.debian_image(),
        "environment": {"PYTHONUTF8": "invalid"},
    });
    install(&session, &name, &definition);
    let before = user_file(&session, &name);
    let container_id = record(&session, &name)["container_id"].clone();

    let setup = dev(&session, &name, &["setup", "python"]);
    assert_exit(&setup, 7);
    let stderr = text(&setup.stderr);
    assert!(
        stderr.contains("python3 --version") && stderr.contains("invalid PYTHONUTF8"),
        "the failed probe and its output: {stderr}"
    );
    assert!(
        stderr.ends_with(
            "hint: the running container is untouched; fix the cause and run the update again\n"
        ),
        "{stderr}"
    );
    assert_eq!(
        user_file(&session, &name),
        before,
        "the user layer is unchanged"
    );
    assert_consistent(&session, &name, 1);
    assert_eq!(record(&session, &name)["container_id"], container_id);
    assert!(!session.export_dir.join("python3").exists());
    assert_eq!(drifted(&session, &name), json!(false));
    assert_exit(&session.horizon(&["remove", &name]), 0);
}

#[test]
fn an_unknown_toolchain_or_an_unsupported_image_changes_nothing() {
    let bed = TestBed::shared();
    let name = unique_name("dev-family");
    let session = bed.user_session("dev_setup_family");
    let image = bed.push_busybox_variant(
        "dev-setup-gentoo",
        "1",
        &[(
            "/etc/os-release",
            b"NAME=Gentoo\nID=gentoo\nID_LIKE=\"source\"\n".as_slice(),
        )],
    );
    install(&session, &name, &json!({"name": name, "image": image}));
    let before = user_file(&session, &name);

    let unknown = dev(&session, &name, &["setup", "cobol"]);
    assert_exit(&unknown, 2);
    assert_eq!(
        text(&unknown.stderr),
        "horizon-dev: error: there is no toolchain named `cobol`; known toolchains: rust, \
         python, node, go, c, java\n\
         hint: known toolchains: rust, python, node, go, c, java (`horizon-dev setup --list` \
         shows what each installs)\n"
    );
    let family = dev(&session, &name, &["setup", "rust"]);
    assert_exit(&family, 2);
    assert_eq!(
        text(&family.stderr),
        "horizon-dev: error: the image's family is not supported: its os-release says \
         ID=\"gentoo\", ID_LIKE=\"source\"; toolchains have recipes for debian, ubuntu, fedora, \
         arch, alpine and opensuse images\n"
    );
    let list = dev(&session, &name, &["setup", "--list"]);
    assert_exit(&list, 2);
    assert_eq!(user_file(&session, &name), before);
    assert_consistent(&session, &name, 1);
    assert_exit(&session.horizon(&["remove", &name]), 0);
}
