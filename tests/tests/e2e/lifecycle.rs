//! The container lifecycle through the `horizon-container` binary against the real test bed:
//! install (busybox, and a real Debian whose packages apt installs from Debian's mirror), list,
//! status, stop, start, persistence, remove and cleanup; the security Podman applied, as the
//! rootless test user and, for a system definition, as root; and failures that name their step and
//! leave nothing behind.

use std::path::Path;
use std::process::{Command, Output};

use horizon_e2e::TestBed;
use horizon_e2e::podman::{PodmanService, Storage};
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::text;

/// The spec's default capability set, as Podman names it, sorted.
pub(crate) const DEFAULT_CAPS: [&str; 11] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

fn output(command: &mut Command) -> Output {
    command.stdin(std::process::Stdio::null());
    command.output().expect("run a command")
}

/// `horizon-container ARGS` in `session`: exit status, stdout, stderr.
pub(crate) fn horizon(session: &Session, args: &[&str]) -> (Option<i32>, String, String) {
    let result = output(session.horizon_container().args(args));
    (
        result.status.code(),
        text(&result.stdout),
        text(&result.stderr),
    )
}

/// `horizon-container ARGS` that must exit 0; returns stdout and stderr.
pub(crate) fn succeed(session: &Session, args: &[&str]) -> (String, String) {
    let (code, stdout, stderr) = horizon(session, args);
    assert_eq!(
        code,
        Some(0),
        "horizon-container {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

/// `podman ARGS` (the CLI, on the session's storage, as its user) that must succeed.
fn podman(session: &Session, args: &[&str]) -> String {
    let result = output(session.service.storage.podman().args(args));
    assert!(
        result.status.success(),
        "podman {args:?}: {}{}",
        text(&result.stdout),
        text(&result.stderr)
    );
    text(&result.stdout)
}

/// `podman inspect OBJECT`, or `None` when it does not exist.
pub(crate) fn inspect(session: &Session, object: &str) -> Option<Value> {
    let result = output(session.service.storage.podman().args(["inspect", object]));
    if !result.status.success() {
        return None;
    }
    let parsed: Value = serde_json::from_slice(&result.stdout).expect("inspect JSON");
    Some(parsed[0].clone())
}

/// Names of every container (running or not) carrying `label`.
pub(crate) fn containers_labelled(session: &Session, label: &str) -> Vec<String> {
    let listed = podman(
        session,
        &[
            "ps",
            "-a",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.Names}}",
        ],
    );
    listed.lines().map(str::to_owned).collect()
}

/// Ids of every image carrying `label`.
fn images_labelled(session: &Session, label: &str) -> Vec<String> {
    let listed = podman(
        session,
        &[
            "images",
            "-a",
            "--filter",
            &format!("label={label}"),
            "--format",
            "{{.ID}}",
        ],
    );
    listed.lines().map(str::to_owned).collect()
}

fn state_file(session: &Session, name: &str) -> std::path::PathBuf {
    session
        .state_dir
        .join("containers")
        .join(format!("{name}.json"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read JSON file")).expect("JSON")
}

/// The content hash `list --json` reports for definition `name`.
fn content_hash(session: &Session, name: &str) -> String {
    let (stdout, _) = succeed(session, &["list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    listed["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {listed}"))["content_hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Asserts that nothing of definition `name` exists: no container, no build container, no
/// generation image, no install record.
fn assert_nothing_left(session: &Session, name: &str) {
    assert_eq!(
        containers_labelled(session, &format!("io.horizonos.definition={name}")),
        Vec::<String>::new(),
        "containers of {name}"
    );
    assert_eq!(
        containers_labelled(session, &format!("io.horizonos.build-of={name}")),
        Vec::<String>::new(),
        "build containers of {name}"
    );
    assert_eq!(
        images_labelled(session, &format!("io.horizonos.definition={name}")),
        Vec::<String>::new(),
        "images of {name}"
    );
    assert!(inspect(session, &format!("localhost/horizonos/{name}:1")).is_none());
    assert!(
        !state_file(session, name).exists(),
        "install record of {name}"
    );
}

/// Runs `argv` in the container as root through the Podman CLI; returns exit status and stdout.
fn exec_root(session: &Session, container: &str, argv: &[&str]) -> (Option<i32>, String) {
    let result = output(
        session
            .service
            .storage
            .podman()
            .args(["exec", "--user", "0", container])
            .args(argv),
    );
    (result.status.code(), text(&result.stdout))
}

/// The step lines of an install's plain progress, in order (pull lines left out).
fn step_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| !line.starts_with("pulling "))
        .collect()
}

#[test]
fn a_user_installs_manages_and_removes_a_busybox_container() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_busybox");
    let name = "lc-busybox";
    let container = format!("horizonos-{name}");
    let image = bed.busybox_image();
    session.write_home_file("data/hello.txt", b"hello from the host\n");
    let data = session.home.join("data").display().to_string();
    session.write_user_definition(
        name,
        &json!({
            "name": name,
            "image": image,
            "persistent": true,
            "export_binaries": ["busybox"],
            "mounts": [format!("{data}:/data:ro")],
            "environment": {"HORIZON_TEST": "lifecycle"},
        })
        .to_string(),
    );
    let hash = content_hash(&session, name);

    // install: it exports export_binaries, but the host has a busybox of its own, which the
    // export would shadow (the export tests cover exporting).
    let host_busybox = horizon_e2e::session::host_command("busybox")
        .expect("the host's busybox (scripts/setup installs busybox-static)");
    let busybox_not_exported = [
        format!(
            "horizon-container: warning: busybox not exported: cannot export busybox: it would \
             shadow the host command {}",
            host_busybox.display()
        ),
        format!(
            "hint: `horizon-container export busybox --from {name} --force` exports it anyway, \
             `--as ALIAS` under another name"
        ),
    ];
    let (stdout, stderr) = succeed(&session, &["install", name]);
    let record = read_json(&state_file(&session, name));
    let digest = record["image_digest"].as_str().unwrap().to_owned();
    assert_eq!(
        stdout,
        format!(
            "installed {name}: generation 1, container {container} running\nimage: {image} ({digest})\n"
        )
    );
    assert_eq!(
        step_lines(&stderr),
        [
            format!("pull: {image}"),
            format!("prepare build container: {container}-build"),
            format!("commit: localhost/horizonos/{name}:1"),
            format!("create: {container}"),
            format!("start: {container}"),
            format!("record: {}", state_file(&session, name).display()),
            busybox_not_exported[0].clone(),
            busybox_not_exported[1].clone(),
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pulling {image}: layer ")),
        "{stderr}"
    );

    // What Podman holds: the container, running, labelled, with the security asked for.
    let inspected = inspect(&session, &container).expect("the managed container exists");
    assert_eq!(inspected["State"]["Running"], true);
    let labels = &inspected["Config"]["Labels"];
    for (key, value) in [
        ("io.horizonos.managed", "true"),
        ("io.horizonos.definition", name),
        ("io.horizonos.definition-hash", hash.as_str()),
        ("io.horizonos.generation", "1"),
        ("io.horizonos.layer", "user"),
        ("io.horizonos.persistent", "true"),
    ] {
        assert_eq!(labels[key], value, "label {key}: {labels}");
    }
    assert_eq!(inspected["EffectiveCaps"], json!(DEFAULT_CAPS));
    assert_eq!(inspected["HostConfig"]["Privileged"], false);
    assert_eq!(
        inspected["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges"])
    );
    assert_eq!(inspected["HostConfig"]["NetworkMode"], "slirp4netns");
    let uid = session.account.as_ref().unwrap().uid;
    let uid_map = inspected["HostConfig"]["IDMappings"]["UidMap"].clone();
    assert!(
        uid_map
            .as_array()
            .unwrap()
            .contains(&json!(format!("{uid}:0:1"))),
        "keep-id maps the user's uid onto itself: {uid_map}"
    );
    // horizon's agent is the container's init (it reaps what it starts), not catatonit.
    assert_eq!(
        inspected["Config"]["Annotations"]["io.podman.annotations.init"],
        "FALSE"
    );
    let mounts = inspected["Mounts"].as_array().unwrap();
    let data_mount = mounts
        .iter()
        .find(|mount| mount["Destination"] == "/data")
        .expect("the /data mount");
    assert_eq!(
        (data_mount["Source"].as_str(), data_mount["RW"].as_bool()),
        (Some(data.as_str()), Some(false))
    );
    assert!(
        inspected["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("HORIZON_TEST=lifecycle"))
    );
    let (code, whoami) = exec_root(&session, &container, &["cat", "/data/hello.txt"]);
    assert_eq!((code, whoami.as_str()), (Some(0), "hello from the host\n"));
    assert_eq!(
        exec_root(&session, &container, &["touch", "/data/nope"]).0,
        Some(1),
        "the read-only mount refuses writes"
    );
    // The main process runs as the user on the host (keep-id), not as a subordinate uid.
    let pid = inspected["State"]["Pid"].as_i64().unwrap();
    let main_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = main_status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .unwrap();
    assert_eq!(
        uids.split_whitespace().nth(1),
        Some(uid.to_string().as_str()),
        "{uids}"
    );
    assert_eq!(
        containers_labelled(&session, &format!("io.horizonos.build-of={name}")),
        Vec::<String>::new(),
        "the build container is gone"
    );
    let generation_image = inspect(&session, &format!("localhost/horizonos/{name}:1")).unwrap();
    let generation_image_id = generation_image["Id"].as_str().unwrap();
    assert_eq!(generation_image["Labels"]["io.horizonos.definition"], name);
    assert_eq!(
        inspect(&session, &image).unwrap()["Digest"],
        digest.as_str()
    );

    // The install record.
    assert_eq!(
        record,
        json!({
            "schema_version": 1,
            "name": name,
            "layer": "user",
            "definition_hash": hash,
            "generation": 1,
            "image": image,
            "image_digest": digest,
            "image_id": inspect(&session, &image).unwrap()["Id"],
            "generation_image": format!("localhost/horizonos/{name}:1"),
            "generation_image_id": generation_image_id,
            "container_id": inspected["Id"],
            "package_manager": null,
            "packages": [],
            "persistent": true,
            "installed_at": record["installed_at"],
            "export_binaries": ["busybox"],
        })
    );

    // Installing again changes nothing.
    let (stdout, stderr) = succeed(&session, &["install", name]);
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        (
            format!(
                "{name} is already installed (generation 1, container {container}); nothing changed. \
                 To rebuild it: horizon-container install {name} --reinstall\n"
            )
            .as_str(),
            format!("{}\n", busybox_not_exported.join("\n")).as_str()
        )
    );
    let again = inspect(&session, &container).unwrap();
    assert_eq!(
        (&again["Id"], &again["State"]["StartedAt"]),
        (&inspected["Id"], &inspected["State"]["StartedAt"])
    );
    assert_eq!(read_json(&state_file(&session, name)), record);

    // list and status, text and JSON.
    let (stdout, _) = succeed(&session, &["list"]);
    let row = stdout
        .lines()
        .find(|line| line.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [name, "-", "user", "running", image.as_str()]
    );
    let (stdout, _) = succeed(&session, &["list", "--json"]);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let entry = listed["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == name)
        .unwrap();
    assert_eq!(
        (&entry["state"], &entry["drifted"], &entry["generation"]),
        (&json!("running"), &json!(false), &json!(1))
    );
    assert_eq!(listed["schema_version"], 1);
    let development = listed["definitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == "development")
        .unwrap();
    assert_eq!(development["state"], "not-installed");

    let (stdout, _) = succeed(&session, &["status", name]);
    let started = inspected["State"]["StartedAt"].as_str().unwrap();
    let created = inspected["Created"].as_str().unwrap();
    assert_eq!(
        stdout,
        format!(
            "name:         {name}\n\
             state:        running\n\
             definition:   unchanged since install\n\
             container:    {container}\n\
             generation:   1 (localhost/horizonos/{name}:1)\n\
             image:        {image}\n\
             digest:       {digest}\n\
             packages:     none\n\
             persistent:   yes\n\
             created:      {created}\n\
             started:      {started}\n\
             exports:      none\n\
             exec path:    agent (exported binaries and shell start in milliseconds)\n\
             mounts:       {data} -> /data (ro)\n\
             security:     privileged no, no-new-privileges yes, seccomp default, network slirp4netns, user namespace keep-id\n\
             capabilities: {}\n",
            DEFAULT_CAPS
                .map(|cap| cap.trim_start_matches("CAP_"))
                .join(" ")
        )
    );
    let (stdout, _) = succeed(&session, &["status", name, "--json"]);
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["schema_version"], 1);
    assert_eq!(
        (
            &status["name"],
            &status["state"],
            &status["drifted"],
            &status["definition_exists"]
        ),
        (&json!(name), &json!("running"), &json!(false), &json!(true))
    );
    assert_eq!(status["installed_hash"], hash.as_str());
    assert_eq!(status["container"]["id"], inspected["Id"]);
    assert_eq!(status["container"]["generation"], 1);
    assert_eq!(status["container"]["agent"], true);
    assert_eq!(
        status["container"]["security"]["effective_caps"],
        json!(DEFAULT_CAPS)
    );
    assert_eq!(status["container"]["security"]["no_new_privileges"], true);
    assert_eq!(
        status["container"]["mounts"],
        json!([{"source": data, "target": "/data", "read_only": true}])
    );
    assert_eq!(status["record"], record);

    // A file written inside survives stop and start (persistent).
    assert_eq!(
        exec_root(&session, &container, &["touch", "/kept"]).0,
        Some(0)
    );
    let (stdout, _) = succeed(&session, &["stop", name]);
    assert_eq!(stdout, format!("stopped {name} ({container})\n"));
    assert_eq!(
        inspect(&session, &container).unwrap()["State"]["Running"],
        false
    );
    let (stdout, _) = succeed(&session, &["stop", name]);
    assert_eq!(stdout, format!("{name} is not running ({container})\n"));
    let (stdout, _) = succeed(&session, &["list", "--json"]);
    assert!(stdout.contains("\"state\": \"stopped\""), "{stdout}");
    let (stdout, _) = succeed(&session, &["start", name]);
    assert_eq!(stdout, format!("started {name} ({container})\n"));
    let restarted = inspect(&session, &container).unwrap();
    assert_eq!(
        (&restarted["Id"], &restarted["State"]["Running"]),
        (&inspected["Id"], &json!(true))
    );
    assert_eq!(
        exec_root(&session, &container, &["test", "-e", "/kept"]).0,
        Some(0)
    );
    let (stdout, _) = succeed(&session, &["start", name]);
    assert_eq!(stdout, format!("{name} is already running ({container})\n"));

    // A changed definition shows as drift.
    session.write_user_definition(
        name,
        &json!({
            "name": name,
            "image": image,
            "persistent": true,
            "export_binaries": ["busybox"],
            "mounts": [format!("{data}:/data:ro")],
            "environment": {"HORIZON_TEST": "changed"},
        })
        .to_string(),
    );
    let (stdout, _) = succeed(&session, &["list"]);
    assert!(stdout.contains("running (drifted)"), "{stdout}");

    // remove
    let (stdout, stderr) = succeed(&session, &["remove", name]);
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        (
            format!(
                "removed {name}\n  container {container}\n  image localhost/horizonos/{name}:1\n  install record\n"
            )
            .as_str(),
            ""
        )
    );
    assert_nothing_left(&session, name);
    let (code, _, stderr) = horizon(&session, &["remove", name]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            Some(1),
            format!(
                "horizon-container: error: `{name}` is not installed\nhint: install it: `horizon-container install {name}`\n"
            )
            .as_str()
        )
    );
}

#[test]
fn a_non_persistent_container_starts_fresh_from_its_generation_image() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_fresh");
    let name = "lc-fresh";
    let container = format!("horizonos-{name}");
    session.write_user_definition(
        name,
        &json!({"name": name, "image": bed.busybox_image(), "persistent": false}).to_string(),
    );
    succeed(&session, &["install", name]);
    let first = inspect(&session, &container).unwrap();
    assert_eq!(
        first["Config"]["Labels"]["io.horizonos.persistent"],
        "false"
    );
    assert_eq!(
        exec_root(&session, &container, &["touch", "/scratch"]).0,
        Some(0)
    );
    succeed(&session, &["stop", name]);
    let (stdout, _) = succeed(&session, &["start", name]);
    assert_eq!(
        stdout,
        format!(
            "started {name} ({container}), recreated fresh from its generation image (not persistent)\n"
        )
    );
    let second = inspect(&session, &container).unwrap();
    assert_ne!(second["Id"], first["Id"], "a new container");
    assert_eq!(second["State"]["Running"], true);
    assert_eq!(
        second["Image"], first["Image"],
        "from the same generation image"
    );
    assert_eq!(
        exec_root(&session, &container, &["test", "-e", "/scratch"]).0,
        Some(1),
        "the file written before the stop is gone"
    );
    // The recreated container was verified like the first: same security, same labels.
    assert_eq!(second["EffectiveCaps"], first["EffectiveCaps"]);
    assert_eq!(
        second["HostConfig"]["SecurityOpt"],
        first["HostConfig"]["SecurityOpt"]
    );
    assert_eq!(second["Config"]["Labels"], first["Config"]["Labels"]);
    assert_eq!(
        containers_labelled(&session, &format!("io.horizonos.definition={name}")),
        std::slice::from_ref(&container)
    );
    succeed(&session, &["remove", name]);
    assert_nothing_left(&session, name);
}

#[test]
fn a_debian_container_gets_its_packages_from_debians_mirror() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_debian");
    let name = "lc-debian";
    let container = format!("horizonos-{name}");
    session.write_user_definition(
        name,
        &json!({
            "name": name,
            "image": bed.debian_image(),
            "packages": ["git", "make"],
            "persistent": true,
            "verify": [["git", "--version"], ["make", "--version"]],
        })
        .to_string(),
    );
    let (stdout, stderr) = succeed(&session, &["install", name]);
    assert!(
        stdout.starts_with(&format!(
            "installed {name}: generation 1, container {container} running\n"
        )),
        "{stdout}"
    );
    let steps = step_lines(&stderr);
    assert_eq!(
        steps[..5],
        [
            format!("pull: {}", bed.debian_image()),
            format!("prepare build container: {container}-build"),
            format!("detect package manager: {}", bed.debian_image()),
            "install packages: apt-get: git make".to_owned(),
            format!("commit: localhost/horizonos/{name}:1"),
        ],
        "{stderr}"
    );
    assert!(
        steps.contains(&"verify: git --version; make --version"),
        "the definition's verify commands ran: {stderr}"
    );
    for argv in [["git", "--version"], ["make", "--version"]] {
        let result = output(
            session
                .service
                .storage
                .podman()
                .args(["exec", &container])
                .args(argv),
        );
        assert_eq!(
            result.status.code(),
            Some(0),
            "{argv:?}: {}",
            text(&result.stderr)
        );
        assert!(
            text(&result.stdout).to_lowercase().starts_with(&format!(
                "{} ",
                if argv[0] == "git" {
                    "git version"
                } else {
                    "gnu make"
                }
            )),
            "{}",
            text(&result.stdout)
        );
    }
    let record = read_json(&state_file(&session, name));
    assert_eq!(
        (&record["package_manager"], &record["packages"]),
        (&json!("apt-get"), &json!(["git", "make"]))
    );
    succeed(&session, &["remove", name]);
    assert_nothing_left(&session, name);
}

#[test]
fn a_package_that_does_not_exist_fails_the_install_and_leaves_nothing() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_bad_package");
    let name = "lc-bad-package";
    session.write_user_definition(
        name,
        &json!({"name": name, "image": bed.debian_image(), "packages": ["horizon-no-such-package"]})
            .to_string(),
    );
    let (code, stdout, stderr) = horizon(&session, &["install", name]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    let error = stderr
        .lines()
        .skip_while(|line| !line.starts_with("horizon-container: error:"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        error.starts_with(&format!(
            "horizon-container: error: installing `{name}` failed at step \"install packages\": \
             `apt-get install -y --no-install-recommends horizon-no-such-package` exited with status 100; its last lines:\n"
        )),
        "{error}"
    );
    assert!(
        error.contains("    E: Unable to locate package horizon-no-such-package"),
        "apt's own last lines: {error}"
    );
    assert_nothing_left(&session, name);
}

#[test]
fn an_unreachable_registry_fails_at_the_pull_and_leaves_nothing() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_no_registry");
    let name = "lc-no-registry";
    // Port 1 on loopback: nothing listens there.
    let image = "127.0.0.1:1/horizon/x:1";
    session.write_user_definition(name, &json!({"name": name, "image": image}).to_string());
    let (code, stdout, stderr) = horizon(&session, &["install", name]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    let error = stderr
        .lines()
        .find(|line| line.starts_with("horizon-container: error:"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        error.starts_with(&format!(
            "horizon-container: error: installing `{name}` failed at step \"pull\": pull the image of `{name}`: pull image failed: "
        )),
        "{error}"
    );
    assert!(error.contains("127.0.0.1:1"), "{error}");
    assert_eq!(step_lines(&stderr)[0], format!("pull: {image}"));
    assert_nothing_left(&session, name);
    assert!(inspect(&session, image).is_none(), "no image pulled");
}

#[test]
fn an_unknown_definition_is_invalid_input_with_the_known_names() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_unknown");
    session.write_user_definition(
        "lc-known",
        &json!({"name": "lc-known", "image": bed.busybox_image()}).to_string(),
    );
    for verb in ["install", "status"] {
        let (code, stdout, stderr) = horizon(&session, &[verb, "lc-nothing"]);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (
                Some(2),
                "",
                "horizon-container: error: there is no container definition named `lc-nothing`\n\
                 hint: known definitions: desktop, development, gaming, lc-known, multimedia \
                 (`horizon-container list` shows them)\n"
            ),
            "{verb}"
        );
    }
}

#[test]
fn root_applies_and_verifies_a_system_definitions_capability_and_read_only_mount() {
    let bed = TestBed::shared();
    let session = bed.root_session("lifecycle_system");
    let name = "lc-system";
    let container = format!("horizonos-{name}");
    let shared = session.home.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("config"), "system data\n").unwrap();
    session.write_system_definition(
        name,
        &json!({
            "name": name,
            "image": bed.busybox_image(),
            "capabilities": ["NET_ADMIN"],
            "mounts": [{"source": shared.display().to_string(), "target": "/shared", "read_only": true}],
        })
        .to_string(),
    );
    let (stdout, _) = succeed(&session, &["install", name]);
    assert!(
        stdout.starts_with(&format!("installed {name}: generation 1")),
        "{stdout}"
    );
    let inspected = inspect(&session, &container).unwrap();
    let mut caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    caps.push("CAP_NET_ADMIN");
    caps.sort();
    assert_eq!(inspected["EffectiveCaps"], json!(caps));
    assert_eq!(
        inspected["Config"]["Labels"]["io.horizonos.layer"],
        "system"
    );
    assert_eq!(inspected["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(
        inspected["HostConfig"]["SecurityOpt"],
        json!(["no-new-privileges"])
    );
    let mount = inspected["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["Destination"] == "/shared")
        .unwrap()
        .clone();
    assert_eq!(
        (mount["RW"].as_bool(), mount["Source"].as_str()),
        (Some(false), shared.to_str())
    );
    // Inside, a process has exactly those capabilities: bits 0-1, 3-8, 10, 12 (NET_ADMIN), 18, 31.
    let (code, proc_status) = exec_root(&session, &container, &["cat", "/proc/self/status"]);
    assert_eq!(code, Some(0));
    assert!(
        proc_status.contains("CapEff:\t00000000800415fb\n"),
        "{proc_status}"
    );
    assert_eq!(
        exec_root(&session, &container, &["touch", "/shared/x"]).0,
        Some(1)
    );
    let (stdout, _) = succeed(&session, &["status", name]);
    assert!(
        stdout.contains(
            "\ncapabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_ADMIN NET_BIND_SERVICE \
             SETFCAP SETGID SETPCAP SETUID SYS_CHROOT\n"
        ),
        "{stdout}"
    );
    succeed(&session, &["remove", name]);
    assert_nothing_left(&session, name);
}

/// A Podman service of its own for one test, so that cleanup (which looks at everything in the
/// storage) never sees what parallel tests are doing. Stopped and emptied on drop.
struct OwnService {
    service: &'static PodmanService,
}

impl OwnService {
    /// `short` names its directory: Podman limits the runroot path to 50 bytes.
    fn start(short: &str) -> OwnService {
        let test = short;
        let bed = TestBed::shared();
        let dir = bed.dir.join(short);
        let storage = Storage::create(
            &dir,
            None,
            &bed.dir.join("containers-rootful.conf"),
            &bed.dir.join("registries.conf"),
        )
        .expect("storage");
        let service = PodmanService::start(
            test,
            storage,
            dir.join("podman.sock"),
            &bed.dir.join("logs").join(format!("{test}.log")),
        )
        .expect("a Podman service of its own");
        OwnService {
            service: Box::leak(Box::new(service)),
        }
    }
}

impl Drop for OwnService {
    // Reporting to the developer on stderr is the test harness's job.
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        // A leftover container of a stopped service only costs disk until the bed's directory goes:
        // worth a line, not a second panic.
        if let Err(error) = self.service.storage.remove_all_containers() {
            eprintln!("removing the containers of the test's own service: {error:#}");
        }
        self.service.stop();
    }
}

#[test]
fn cleanup_removes_only_what_nothing_owns_and_dry_run_changes_nothing() {
    let bed = TestBed::shared();
    let own = OwnService::start("own-cl");
    let session = Session {
        service: own.service,
        ..bed.root_session("lifecycle_cleanup")
    };
    let image = bed.busybox_image();
    for name in ["lc-kept", "lc-orphan"] {
        session.write_system_definition(name, &json!({"name": name, "image": image}).to_string());
        succeed(&session, &["install", name]);
    }
    // A reinstall keeps generation 1 of lc-kept for rollback; its container removed by hand
    // leaves that generation's image unused.
    let (stdout, _) = succeed(&session, &["install", "lc-kept", "--reinstall"]);
    assert_eq!(
        stdout.lines().next(),
        Some("reinstalled lc-kept: generation 1 -> 2, container horizonos-lc-kept running")
    );
    podman(&session, &["rm", "horizonos-lc-kept-1"]);
    // lc-orphan's definition goes away while its container is stopped.
    succeed(&session, &["stop", "lc-orphan"]);
    std::fs::remove_file(session.system_dir.join("lc-orphan.json")).unwrap();
    // Not horizon's: a stopped container of the user's own, and a dangling image.
    podman(&session, &["create", "--name", "users-own", &image, "true"]);
    let empty = session.home.join("empty.tar");
    let status = Command::new("tar")
        .args(["-cf", empty.to_str().unwrap(), "-T", "/dev/null"])
        .status()
        .unwrap();
    assert!(status.success());
    let dangling = podman(&session, &["import", "--quiet", empty.to_str().unwrap()]);
    let dangling = dangling.trim().trim_start_matches("sha256:").to_owned();

    let id =
        |object: &str| inspect(&session, object).unwrap()["Id"].as_str().unwrap()[..12].to_owned();
    let expected = [
        format!(
            "container (definition gone) horizonos-lc-orphan {}",
            id("horizonos-lc-orphan")
        ),
        format!(
            "generation image (unused) localhost/horizonos/lc-kept:1 {}",
            id("localhost/horizonos/lc-kept:1")
        ),
        format!(
            "generation image (unused) localhost/horizonos/lc-orphan:1 {}",
            id("localhost/horizonos/lc-orphan:1")
        ),
        format!("dangling image <none> {}", &dangling[..12]),
        format!(
            "install record (definition gone) lc-orphan {}",
            &read_json(&state_file(&session, "lc-orphan"))["container_id"]
                .as_str()
                .unwrap()[..12]
        ),
    ];
    let everything = |session: &Session| {
        (
            podman(
                session,
                &["ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}}"],
            ),
            podman(
                session,
                &[
                    "images",
                    "-a",
                    "--format",
                    "{{.ID}} {{.Repository}}:{{.Tag}}",
                ],
            ),
            std::fs::read_dir(session.state_dir.join("containers"))
                .unwrap()
                .count(),
        )
    };
    let before = everything(&session);
    let (stdout, stderr) = succeed(&session, &["cleanup", "--dry-run"]);
    let would: Vec<String> = expected
        .iter()
        .map(|line| format!("would remove {line}"))
        .collect();
    assert_eq!(
        (stdout.lines().collect::<Vec<_>>(), stderr.as_str()),
        (would.iter().map(String::as_str).collect(), "")
    );
    assert_eq!(everything(&session), before, "a dry run changes nothing");
    let (stdout, _) = succeed(&session, &["cleanup", "--dry-run", "--json"]);
    let planned: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&planned["schema_version"], &planned["dry_run"]),
        (&json!(1), &json!(true))
    );
    assert_eq!(planned["removed"].as_array().unwrap().len(), expected.len());

    let (stdout, stderr) = succeed(&session, &["cleanup"]);
    let removed: Vec<String> = expected
        .iter()
        .map(|line| format!("removed {line}"))
        .collect();
    assert_eq!(
        (stdout.lines().collect::<Vec<_>>(), stderr.as_str()),
        (removed.iter().map(String::as_str).collect(), "")
    );
    assert!(inspect(&session, "horizonos-lc-orphan").is_none());
    assert!(inspect(&session, "localhost/horizonos/lc-kept:1").is_none());
    assert!(inspect(&session, &dangling).is_none());
    assert!(!state_file(&session, "lc-orphan").exists());
    // What is in use or not horizon's stays.
    assert!(
        inspect(&session, "users-own").is_some(),
        "never touch a container that is not ours"
    );
    assert_eq!(
        inspect(&session, "horizonos-lc-kept").unwrap()["State"]["Running"],
        true
    );
    assert!(inspect(&session, "localhost/horizonos/lc-kept:2").is_some());
    assert!(
        inspect(&session, &image).is_some(),
        "a tagged base image stays"
    );
    let (stdout, _) = succeed(&session, &["cleanup"]);
    assert_eq!(stdout, "nothing to clean up\n");
}

#[test]
fn install_on_a_terminal_draws_a_progress_display_instead_of_lines() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_terminal");
    let name = "lc-terminal";
    session.write_user_definition(
        name,
        &json!({"name": name, "image": bed.busybox_image()}).to_string(),
    );
    let binary = horizon_e2e::bins::cargo_bin("horizon-cli", "horizon-container");
    // script(1) gives the command a terminal on stdin, stdout and stderr.
    let result = output(session.command("script").env("TERM", "xterm").args([
        "-qec",
        &format!("{} install {name}", binary.display()),
        "/dev/null",
    ]));
    let screen = text(&result.stdout);
    assert_eq!(result.status.code(), Some(0), "{screen}");
    assert!(screen.contains("\u{1b}[2K"), "redrawn in place: {screen:?}");
    assert!(
        screen.contains(&format!("pulling {}: layers 2/2", bed.busybox_image())),
        "{screen:?}"
    );
    for done in [
        format!("✓ pull: {}", bed.busybox_image()),
        format!("✓ commit: localhost/horizonos/{name}:1"),
        format!("✓ start: horizonos-{name}"),
    ] {
        assert!(screen.contains(&done), "{done}: {screen:?}");
    }
    assert!(
        !screen.contains(&format!("pulling {}: layer ", bed.busybox_image())),
        "no plain lines on a terminal: {screen:?}"
    );
    assert!(screen.contains(&format!("installed {name}: generation 1")));
    succeed(&session, &["remove", name]);

    // A terminal that cannot redraw gets the plain lines.
    let result = output(session.command("script").env("TERM", "dumb").args([
        "-qec",
        &format!("{} install {name}", binary.display()),
        "/dev/null",
    ]));
    let screen = text(&result.stdout);
    assert_eq!(result.status.code(), Some(0), "{screen}");
    assert!(
        screen.contains(&format!("\r\ncommit: localhost/horizonos/{name}:1\r\n")),
        "{screen:?}"
    );
    succeed(&session, &["remove", name]);
}

#[test]
fn a_failing_verify_command_fails_the_install_and_leaves_nothing() {
    let bed = TestBed::shared();
    let session = bed.user_session("lifecycle_verify");
    let name = "lc-verify";
    session.write_user_definition(
        name,
        &json!({
            "name": name,
            "image": bed.busybox_image(),
            "verify": [["true"], ["ls", "/no-such-directory"]],
        })
        .to_string(),
    );
    install_fails_at_verify_of_ls(&session, name, "/no-such-directory");
    assert_nothing_left(&session, name);
}

/// Installs `name`, whose last verify command is `ls PATH` of a path that does not exist, and
/// asserts that the install fails naming that command and the last line it printed, the path
/// shown as `shown`. Returns stderr.
pub(crate) fn install_fails_at_verify_of_ls(session: &Session, name: &str, shown: &str) -> String {
    let (code, stdout, stderr) = horizon(session, &["install", name]);
    assert_eq!((code, stdout.as_str()), (Some(1), ""), "{stderr}");
    let error: Vec<&str> = stderr
        .lines()
        .skip_while(|line| !line.starts_with("horizon-container: error:"))
        .collect();
    assert_eq!(
        error,
        [
            format!(
                "horizon-container: error: installing `{name}` failed at step \"verify\": verify \
                 command `ls {shown}` exited with status 1; its last lines:"
            ),
            format!("    ls: {shown}: No such file or directory"),
        ]
    );
    stderr
}

#[test]
fn an_images_entrypoint_does_not_replace_horizons_main_process() {
    let bed = TestBed::shared();
    // An image whose entrypoint exits at once: with it, a container would stop as soon as it started.
    let reference = bed.image_reference("entrypoint-false", "1");
    let storage = &bed.rootful.storage;
    let run = |args: &[&str]| {
        horizon_e2e::process::run(storage.podman().args(args))
            .unwrap_or_else(|error| panic!("{error:#}"))
    };
    let builder = "lc-entrypoint-builder";
    run(&["create", "--name", builder, &bed.busybox_image(), "true"]);
    run(&[
        "commit",
        "--change",
        r#"ENTRYPOINT ["/bin/false"]"#,
        builder,
        &reference,
    ]);
    run(&["rm", builder]);
    run(&["push", &reference]);

    let session = bed.user_session("lifecycle_entrypoint");
    let name = "lc-entrypoint";
    session.write_user_definition(name, &json!({"name": name, "image": reference}).to_string());
    succeed(&session, &["install", name]);
    let inspected = inspect(&session, &format!("horizonos-{name}")).unwrap();
    assert_eq!(
        inspected["State"]["Running"], true,
        "{}",
        inspected["State"]
    );
    assert_eq!(
        (&inspected["Path"], &inspected["Args"][0]),
        (&json!("/run/horizon/agent"), &json!("serve")),
        "horizon's agent is the main process, not the image's entrypoint"
    );
    succeed(&session, &["remove", name]);
}
