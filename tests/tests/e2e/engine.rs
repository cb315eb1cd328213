//! horizon-core's engine against real Podman services: ping and version, a pull from the local
//! registry, create, start, exec with exit codes and separate output streams, stop/start
//! idempotence, listing by label, and removal — rootful, rootless, and on the Debian image.

use std::collections::BTreeMap;
use std::time::Duration;

use horizon_core::engine::{
    ContainerSpec, Engine, EngineError, ExecRequest, LabelFilter, PodmanEngine, StateChange,
    UserNamespace,
};
use horizon_core::labels;
use horizon_e2e::podman::PodmanService;
use horizon_e2e::{TEST_LABEL, TestBed, process};

use crate::unique_name;

fn spec(name: &str, image: &str, test: &str) -> ContainerSpec {
    ContainerSpec {
        name: name.to_owned(),
        image: image.to_owned(),
        command: vec!["sleep".into(), "infinity".into()],
        labels: BTreeMap::from([
            (labels::MANAGED.to_owned(), labels::MANAGED_VALUE.to_owned()),
            (TEST_LABEL.to_owned(), test.to_owned()),
        ]),
        env: BTreeMap::from([("HORIZON_E2E".to_owned(), "yes".to_owned())]),
        stop_timeout_secs: 1,
        ..Default::default()
    }
}

fn argv(args: &[&str]) -> ExecRequest {
    ExecRequest {
        argv: args.iter().map(|arg| arg.to_string()).collect(),
        ..Default::default()
    }
}

/// What the `podman` CLI on the service's own storage lists with our test label: `NAME STATE` lines.
fn podman_lists(service: &PodmanService, test: &str) -> String {
    let output = process::run(service.storage.podman().args([
        "ps",
        "--all",
        "--filter",
        &format!("label={TEST_LABEL}={test}"),
        "--format",
        "json",
    ]))
    .unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    listed
        .iter()
        .map(|container| {
            format!(
                "{} {}\n",
                container["Names"][0].as_str().unwrap(),
                container["State"].as_str().unwrap()
            )
        })
        .collect()
}

/// The whole engine walk on one service.
async fn engine_lifecycle(service: &PodmanService, image: &str, test: &str) {
    let engine = PodmanEngine::new(&service.endpoint());
    engine.ping().await.unwrap();
    let version = engine.version().await.unwrap();
    assert!(version.version.starts_with("4."), "{version:?}");
    assert!(version.api_version.starts_with("4."), "{version:?}");

    let progress = std::sync::Mutex::new(Vec::new());
    let pulled = engine
        .pull_image(image, &|line| {
            progress.lock().unwrap().push(line.to_owned())
        })
        .await
        .unwrap();
    assert_eq!(pulled.id.len(), 64, "{pulled:?}");
    assert!(
        !progress.lock().unwrap().is_empty(),
        "a real pull reports progress"
    );

    let name = unique_name(test);
    let _ = engine.remove_container(&name, true).await; // leftover of an earlier run, if any
    let id = engine
        .create_container(&spec(&name, image, test))
        .await
        .unwrap();
    assert_eq!(id.len(), 64);
    assert_eq!(podman_lists(service, test), format!("{name} created\n"));
    let duplicate = engine
        .create_container(&spec(&name, image, test))
        .await
        .unwrap_err();
    assert!(
        matches!(
            duplicate,
            EngineError::Conflict { .. } | EngineError::Api { .. }
        ),
        "{duplicate:?}"
    );

    assert_eq!(
        engine.start_container(&name).await.unwrap(),
        StateChange::Changed
    );
    assert_eq!(
        engine.start_container(&name).await.unwrap(),
        StateChange::AlreadyInState
    );

    let output = engine
        .exec(
            &name,
            &argv(&[
                "sh",
                "-c",
                "echo out; echo err >&2; echo \"$HORIZON_E2E\"; exit 7",
            ]),
        )
        .await
        .unwrap();
    assert_eq!(output.exit_code, 7);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "out\nyes\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "err\n");
    let missing = engine
        .exec(&name, &argv(&["no-such-program"]))
        .await
        .unwrap();
    assert_eq!(missing.exit_code, 127, "{missing:?}");
    let with_dir = ExecRequest {
        working_dir: Some("/tmp".into()),
        ..argv(&["pwd"])
    };
    assert_eq!(
        engine.exec(&name, &with_dir).await.unwrap().stdout,
        b"/tmp\n"
    );

    let listed = engine
        .list_containers(&LabelFilter::managed().with(TEST_LABEL, Some(test)))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].name.as_str(), listed[0].state.as_str()),
        (name.as_str(), "running")
    );
    assert_eq!(listed[0].id, id);
    assert_eq!(
        listed[0].labels.get(TEST_LABEL).map(String::as_str),
        Some(test)
    );

    let timeout = Duration::from_secs(1);
    assert_eq!(
        engine.stop_container(&name, timeout).await.unwrap(),
        StateChange::Changed
    );
    assert_eq!(
        engine.stop_container(&name, timeout).await.unwrap(),
        StateChange::AlreadyInState
    );
    assert_eq!(podman_lists(service, test), format!("{name} exited\n"));

    engine.remove_container(&name, true).await.unwrap();
    assert_eq!(podman_lists(service, test), "");
    let gone = engine.remove_container(&name, true).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
    let gone = engine.start_container(&name).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
}

#[tokio::test]
async fn rootful_engine_pulls_creates_starts_execs_and_removes() {
    let bed = TestBed::shared();
    engine_lifecycle(&bed.rootful, &bed.busybox_image(), "rootful-lifecycle").await;
}

#[tokio::test]
async fn rootless_engine_pulls_creates_starts_execs_and_removes() {
    let bed = TestBed::shared();
    let service = bed.rootless();
    engine_lifecycle(service, &bed.busybox_image(), "rootless-lifecycle").await;
    // The service really is the test user's: its storage belongs to that user.
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(&service.storage.root).unwrap().uid();
    assert_eq!(
        Some(owner),
        service.storage.account.as_ref().map(|account| account.uid)
    );
}

/// Concurrent keep-id creates on one rootless service all succeed: Podman 4.3.1 misreads the
/// user's subordinate ids for a few of them (libsubid is not thread-safe), which the engine
/// recognises and tries again.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_keep_id_creates_on_a_rootless_service_all_succeed() {
    const CREATES: usize = 64;
    let bed = TestBed::shared();
    let service = bed.rootless();
    let image = bed.busybox_image();
    let test = "rootless-keep-id-race";
    let engine = PodmanEngine::new(&service.endpoint());
    engine.pull_image(&image, &|_| {}).await.unwrap();
    let names: Vec<String> = (0..CREATES)
        .map(|index| unique_name(&format!("{test}-{index}")))
        .collect();
    let creates: Vec<_> = names
        .iter()
        .map(|name| {
            let engine = engine.clone();
            let spec = ContainerSpec {
                userns: Some(UserNamespace::KeepId),
                ..spec(name, &image, test)
            };
            tokio::spawn(async move { engine.create_container(&spec).await })
        })
        .collect();
    let mut failed = Vec::new();
    for create in creates {
        if let Err(error) = create.await.unwrap() {
            failed.push(error.to_string());
        }
    }
    let listed = podman_lists(service, test);
    for name in &names {
        let _ = engine.remove_container(name, true).await;
    }
    assert_eq!(failed, Vec::<String>::new());
    assert_eq!(listed.lines().count(), CREATES, "{listed}");
    assert!(
        listed.lines().all(|line| line.ends_with(" created")),
        "{listed}"
    );
}

#[tokio::test]
async fn debian_image_runs_a_debian_userland() {
    let bed = TestBed::shared();
    let image = bed.debian_image();
    let engine = PodmanEngine::new(&bed.rootful.endpoint());
    engine.pull_image(&image, &|_| {}).await.unwrap();
    let name = unique_name("debian");
    let _ = engine.remove_container(&name, true).await;
    engine
        .create_container(&spec(&name, &image, "debian"))
        .await
        .unwrap();
    engine.start_container(&name).await.unwrap();
    let output = engine
        .exec(
            &name,
            &argv(&["sh", "-c", "cat /etc/debian_version; command -v apt-get"]),
        )
        .await
        .unwrap();
    engine.remove_container(&name, true).await.unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.exit_code, 0, "{stdout}");
    assert!(stdout.starts_with("12."), "{stdout}");
    assert!(stdout.ends_with("/usr/bin/apt-get\n"), "{stdout}");
}

#[tokio::test]
async fn pull_of_a_missing_image_is_a_stream_error() {
    let bed = TestBed::shared();
    let engine = PodmanEngine::new(&bed.rootful.endpoint());
    let missing = bed.image_reference("does-not-exist", "v0");
    let error = engine.pull_image(&missing, &|_| {}).await.unwrap_err();
    // Podman answers 200 and reports the failure inside the stream.
    assert!(
        matches!(error, EngineError::StreamError { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("does-not-exist"), "{error}");
}

#[tokio::test]
async fn a_missing_socket_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = horizon_core::Endpoint::Unix(dir.path().join("absent.sock"));
    let error = PodmanEngine::new(&endpoint).ping().await.unwrap_err();
    assert!(
        matches!(error, EngineError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("absent.sock"), "{error}");
}
