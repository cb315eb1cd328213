//! Small promises, each once broken: an error says its cause once; Podman's own connection noise
//! never reaches `run`'s stderr; `remove` leaves no agent runtime directory behind (nor follows
//! the links a container planted there); `list` shows installed containers whose definition is
//! gone or invalid; a definition cannot set the container marker variable; a busy `install` or
//! `remove` offers no `--wait` it does not have.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use horizon_agent_protocol::layout::AGENT_DIR;
use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::run::{Installed, outcome};
use crate::{assert_exit, text};

/// Writes a busybox definition `name` (with `extra` fields) and installs it.
fn install(session: &Session, name: &str, extra: Value) {
    let mut definition = json!({"name": name, "image": TestBed::shared().busybox_image()});
    for (key, value) in extra.as_object().unwrap() {
        definition[key] = value.clone();
    }
    session.write_user_definition(name, &definition.to_string());
    assert_exit(&session.horizon(&["install", name]), 0);
}

#[tokio::test]
async fn an_error_names_its_cause_once() {
    let installed = Installed::new("edge-cause").await;
    let session = &installed.session;
    // An export directory the test user cannot write.
    let locked = session.home.join("locked-bin");
    std::fs::create_dir(&locked).unwrap();
    let export = session
        .horizon_container()
        .env("HORIZON_EXPORT_DIR", &locked)
        .args(["export", "sh", "--from", &installed.name, "--as", "edge-sh"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = text(&export.stderr);
    assert_eq!(export.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("Permission denied (os error 13)").count(),
        1,
        "{stderr}"
    );

    // A command line the API path cannot pass on is refused with its reason, once (the agent
    // passes any argv as it is, so that path is forced).
    let output = installed
        .via("api")
        .run([OsString::from("-x"), OsString::from_vec(vec![0xff])]);
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            "horizon-container: error: program name \"-x\" starts with '-', which cannot be run \
             together with non-UTF-8 arguments\n"
                .into()
        )
    );
}

#[tokio::test]
async fn a_missing_or_unexecutable_program_gets_podmans_message_alone() {
    let installed = Installed::new("edge-127").await;
    for _ in 0..5 {
        for (program, status) in [("no-such-program", 127), ("/etc/passwd", 126)] {
            let output = installed.run([program]);
            let (code, stdout, stderr) = outcome(&output);
            assert_eq!((code, stdout.as_str()), (Some(status), ""), "{stderr}");
            assert!(
                stderr.contains(program)
                    && !stderr.contains("unixpacket")
                    && !stderr.contains("connection reset"),
                "{program}: {stderr}"
            );
        }
    }
}

#[tokio::test]
async fn remove_takes_the_agent_runtime_directory_and_follows_no_link_in_it() {
    let installed = Installed::new("edge-agent-dir").await;
    let session = &installed.session;
    let agent_dir = session.runtime_dir.join(AGENT_DIR).join(&installed.name);
    assert!(agent_dir.is_dir(), "{}", agent_dir.display());
    // What a container could plant in its agent directory: links to the user's files.
    let precious = session.write_home_file("precious/keep.txt", b"keep");
    let planted = |link: &str, target: &std::path::Path| {
        let output = session
            .command("ln")
            .arg("-s")
            .arg(target)
            .arg(agent_dir.join(link))
            .output()
            .unwrap();
        assert_exit(&output, 0);
    };
    planted("file-link", &precious);
    planted("dir-link", precious.parent().unwrap());

    assert_exit(&session.horizon(&["remove", &installed.name]), 0);
    assert!(
        !agent_dir.exists() && std::fs::symlink_metadata(&agent_dir).is_err(),
        "{} is left",
        agent_dir.display()
    );
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep");
}

#[tokio::test]
async fn list_shows_installed_containers_whose_definition_is_gone_or_invalid() {
    let bed = TestBed::shared();
    let session = bed.user_session("edge-list");
    let (gone, invalid) = ("edge-gone", "edge-invalid");
    install(&session, gone, json!({}));
    install(&session, invalid, json!({}));
    std::fs::remove_file(session.definitions_dir().join(format!("{gone}.json"))).unwrap();
    let invalid_file =
        session.write_user_definition(invalid, &json!({"name": invalid, "imgae": "x"}).to_string());

    let list = session.horizon(&["list"]);
    assert_exit(&list, 0);
    let stdout = text(&list.stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    // The image is what the container runs: its generation image.
    assert_eq!(
        row(gone),
        format!("{gone} - - running (definition missing) localhost/horizonos/{gone}:1"),
        "{stdout}"
    );
    assert_eq!(
        row(invalid),
        format!("{invalid} - - running (definition invalid) localhost/horizonos/{invalid}:1"),
        "{stdout}"
    );

    let json = session.horizon(&["list", "--json"]);
    assert_exit(&json, 0);
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let entries = report["installed_without_definition"].as_array().unwrap();
    let entry = |name: &str| {
        entries
            .iter()
            .find(|entry| entry["name"] == name)
            .unwrap_or_else(|| panic!("no entry for {name}: {report}"))
            .clone()
    };
    assert_eq!(
        entry(gone),
        json!({"name": gone, "state": "running", "generation": 1, "definition": "missing",
               "definition_file": null, "image": format!("localhost/horizonos/{gone}:1")})
    );
    assert_eq!(
        entry(invalid),
        json!({"name": invalid, "state": "running", "generation": 1, "definition": "invalid",
               "definition_file": invalid_file,
               "image": format!("localhost/horizonos/{invalid}:1")})
    );
    for name in [gone, invalid] {
        assert_exit(&session.horizon(&["remove", name]), 0);
    }
}

#[tokio::test]
async fn a_definition_cannot_set_the_container_marker_variable() {
    let bed = TestBed::shared();
    let session = bed.user_session("edge-marker");
    let name = "edge-marker";
    let path = session.write_user_definition(
        name,
        &json!({"name": name, "image": bed.busybox_image(),
                "environment": {"HORIZONOS_CONTAINER": "someone-else"}})
        .to_string(),
    );
    let validate = session.horizon(&["definition", "validate", path.to_str().unwrap()]);
    assert_exit(&validate, 2);
    let said = format!("{}{}", text(&validate.stdout), text(&validate.stderr));
    assert!(
        said.contains("environment.HORIZONOS_CONTAINER")
            && said.contains(
                "is reserved: horizon sets it to the container's definition name in every \
                 managed container"
            ),
        "{said}"
    );
    let install = session.horizon(&["install", name]);
    assert_exit(&install, 2);
    assert!(
        !text(&install.stderr).contains("installed"),
        "{}",
        text(&install.stderr)
    );
}

/// Holds `name`'s container lock from another process until it is killed.
// The caller kills and waits for the returned holder.
#[allow(clippy::zombie_processes)]
fn hold_lock(session: &Session, name: &str) -> Child {
    let lock = session.state_dir.join("locks").join(format!("{name}.lock"));
    let mut child = session
        .command("flock")
        // -o: flock alone holds the lock, so killing it frees the lock.
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "30"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = session
            .command("flock")
            .args(["-n"])
            .arg(&lock)
            .arg("true")
            .output()
            .unwrap();
        if probe.status.code() == Some(1) {
            return child;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the lock was never taken");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn busy_install_and_remove_offer_no_wait_they_do_not_have() {
    let bed = TestBed::shared();
    let session = bed.user_session("edge-busy");
    let name = "edge-busy";
    install(&session, name, json!({}));
    let mut holder = hold_lock(&session, name);
    for args in [&["install", name, "--reinstall"][..], &["remove", name]] {
        let output = session.horizon(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("horizon-container: error: `{name}` is busy: "))
                && stderr.ends_with("hint: wait for it to finish, then run the command again\n")
                && !stderr.contains("--wait"),
            "{args:?}: {stderr}"
        );
    }
    // `update` has --wait, and says so.
    let update = session.horizon(&["update", name]);
    assert_eq!(update.status.code(), Some(5), "{}", text(&update.stderr));
    assert!(
        text(&update.stderr)
            .ends_with("hint: wait for it to finish, or pass --wait to queue behind it\n"),
        "{}",
        text(&update.stderr)
    );
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_exit(&session.horizon(&["remove", name]), 0);
}
