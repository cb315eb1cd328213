//! Workflow tests of the lifecycle on the fake engine (a failure injected at every install step
//! leaves nothing behind and names the step; recreation of non-persistent containers;
//! cleanup's plan), and tests of the pure mappings (desktop resources, the security check).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::definition::{DefinitionSources, Desktop, ResolvedDefinition, load};
use crate::engine::fake::{EngineCall, FakeEngine};
use crate::engine::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerSummary, DeviceMapping, Engine,
    ImageSummary, RunState,
};
use crate::labels;

use super::cleanup::plan_cleanup;
use super::install::output::OUTPUT_TAIL_LINES;
use super::*;

const IMAGE: &str = "registry.example.com/tools/base:1";

/// A temporary home with a user definition `NAME.json`, read back as a resolved definition (the
/// update module's workflow tests use it too).
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) resolved: ResolvedDefinition,
}

impl Fixture {
    pub(crate) fn new(definition: serde_json::Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let name = definition["name"].as_str().unwrap().to_owned();
        let user = dir.path().join("user");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join(format!("{name}.json")), definition.to_string()).unwrap();
        let sources = DefinitionSources {
            system_dir: dir.path().join("system"),
            user_dir: Some(user),
            home: Some(dir.path().to_path_buf()),
            system_owner: std::fs::metadata(dir.path()).unwrap().uid(),
        };
        let catalog = load(&sources);
        let resolved = catalog
            .get(&name)
            .unwrap_or_else(|| panic!("{:?}", catalog.invalid))
            .clone();
        Fixture { dir, resolved }
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn state(&self) -> StateStore {
        StateStore::new(&self.state_dir())
    }

    pub(crate) async fn install(
        &self,
        engine: &FakeEngine,
    ) -> Result<InstallOutcome, LifecycleError> {
        let state = self.state();
        let journals = crate::update::journal::JournalStore::new(&self.state_dir());
        let desktop = DesktopHost::default();
        let request = InstallRequest {
            resolved: &self.resolved,
            desktop: &desktop,
            state: &state,
            journals: &journals,
            agent: None,
            registry: &crate::update::RegistryClient::default(),
        };
        install(engine, request, &|_| {}).await
    }
}

fn with_packages() -> serde_json::Value {
    serde_json::json!({
        "name": "tools", "image": IMAGE, "packages": ["git", "make"], "persistent": true,
        "verify": [["git", "--version"]]
    })
}

/// An exec script: apt-get exists (the other managers do not), and its commands succeed.
fn apt_image(request: &crate::engine::ExecRequest) -> (i64, Vec<u8>) {
    match request.argv[0].as_str() {
        "apt-get" => (0, b"ok\n".to_vec()),
        _ => (127, Vec::new()),
    }
}

#[tokio::test]
async fn install_builds_creates_starts_and_records_then_says_it_is_installed() {
    let fixture = Fixture::new(with_packages());
    let mut engine = FakeEngine::new(&[IMAGE]);
    engine.exec_script = Box::new(|request| match request.argv[0].as_str() {
        "git" => (0, b"git version 2\n".to_vec()),
        _ => apt_image(request),
    });
    let outcome = fixture.install(&engine).await.unwrap();
    let InstallOutcome::Installed { record } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(record.generation, 1);
    assert_eq!(record.package_manager.as_deref(), Some("apt-get"));
    let execs: Vec<String> = engine
        .calls()
        .into_iter()
        .filter(|call| call.starts_with("exec "))
        .collect();
    assert_eq!(
        execs,
        [
            "exec apt-get --version",
            "exec apt-get update",
            "exec apt-get install -y --no-install-recommends git make",
            "exec git --version",
        ]
    );
    let containers = engine.containers();
    assert_eq!(containers.len(), 1, "the build container is gone");
    let container = &containers[0];
    assert_eq!(container.spec.name, "horizonos-tools");
    assert!(container.running);
    assert_eq!(container.spec.image, "localhost/horizonos/tools:1");
    assert_eq!(container.spec.labels[labels::GENERATION], "1");
    assert!(container.spec.labels.contains_key(labels::CREATE_SPEC));
    assert_eq!(fixture.state().read("tools").unwrap(), Some(record.clone()));
    let generation_image = engine
        .images()
        .into_iter()
        .find(|image| image.names == ["localhost/horizonos/tools:1"])
        .unwrap();
    assert_eq!(generation_image.labels[labels::DEFINITION], "tools");
    assert_eq!(
        generation_image.labels[labels::BUILD_OF],
        "",
        "never taken for a build"
    );

    let calls_before = engine.calls().len();
    let again = fixture.install(&engine).await.unwrap();
    assert!(
        matches!(
            again,
            InstallOutcome::AlreadyInstalled { drifted: false, .. }
        ),
        "{again:?}"
    );
    let changing: Vec<String> = engine.calls()[calls_before..]
        .iter()
        .filter(|call| !call.starts_with("list_") && !call.starts_with("inspect_"))
        .cloned()
        .collect();
    assert_eq!(changing, Vec::<String>::new(), "nothing changed");
}

/// The steps and how to make each fail.
fn inject(engine: &mut FakeEngine, step: InstallStep) {
    match step {
        InstallStep::Pull => engine.pullable.clear(),
        InstallStep::PrepareBuild => engine.fail(EngineCall::CreateContainer, 1),
        InstallStep::DetectPackageManager => engine.exec_script = Box::new(|_| (127, Vec::new())),
        InstallStep::InstallPackages => {
            engine.exec_script =
                Box::new(|request| match request.argv.get(1).map(String::as_str) {
                    Some("install") => {
                        let lines: String = (1..=30).map(|n| format!("line {n}\n")).collect();
                        (
                            100,
                            format!("{lines}E: Unable to locate package make\n").into_bytes(),
                        )
                    }
                    _ => apt_image(request),
                });
        }
        InstallStep::Commit => engine.fail(EngineCall::CommitContainer, 1),
        InstallStep::Create => engine.fail(EngineCall::CreateContainer, 2),
        InstallStep::VerifySecurity => {
            engine.tamper = Some(Box::new(|details: &mut ContainerDetails| {
                details.security.no_new_privileges = false;
            }));
        }
        // The first start is the build container's.
        InstallStep::Start => engine.fail(EngineCall::StartContainer, 2),
        InstallStep::Verify => {
            engine.exec_script = Box::new(|request| match request.argv[0].as_str() {
                "git" => (1, b"git: broken\n".to_vec()),
                _ => apt_image(request),
            });
        }
        // Not a step a fresh install passes.
        InstallStep::Record | InstallStep::RemoveIncomplete => {}
    }
}

#[tokio::test]
async fn a_failure_at_every_step_leaves_nothing_and_names_the_step() {
    let steps = [
        InstallStep::Pull,
        InstallStep::PrepareBuild,
        InstallStep::DetectPackageManager,
        InstallStep::InstallPackages,
        InstallStep::Commit,
        InstallStep::Create,
        InstallStep::VerifySecurity,
        InstallStep::Start,
        InstallStep::Verify,
        InstallStep::Record,
    ];
    for step in steps {
        let fixture = Fixture::new(with_packages());
        let mut engine = FakeEngine::new(&[IMAGE]);
        engine.exec_script = Box::new(|request| match request.argv[0].as_str() {
            "git" => (0, Vec::new()),
            _ => apt_image(request),
        });
        inject(&mut engine, step);
        if step == InstallStep::Record {
            // A file where the records directory should be: the journal is written, the record
            // cannot be.
            std::fs::create_dir_all(fixture.state_dir()).unwrap();
            std::fs::write(fixture.state_dir().join("containers"), b"").unwrap();
        }
        let error = fixture.install(&engine).await.unwrap_err();
        assert_eq!(error.failed_step(), Some(step), "{step}: {error}");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("installing `tools` failed at step \"{step}\"")),
            "{message}"
        );
        assert_eq!(engine.containers().len(), 0, "{step}: containers left");
        assert_eq!(
            engine.images().len(),
            0,
            "{step}: images left (the pulled one too)"
        );
        if step != InstallStep::Record {
            assert_eq!(fixture.state().read("tools").unwrap(), None, "{step}");
        }
        let LifecycleError::InstallFailed {
            source,
            cleanup_failures,
            ..
        } = error
        else {
            unreachable!()
        };
        assert_eq!(cleanup_failures, Vec::<String>::new());
        match step {
            InstallStep::DetectPackageManager => {
                assert!(
                    matches!(*source, LifecycleError::NoPackageManager { .. }),
                    "{source}"
                );
            }
            InstallStep::InstallPackages => {
                let LifecycleError::PackagesFailed {
                    command,
                    exit_code,
                    output_tail,
                } = *source
                else {
                    panic!("{source}");
                };
                assert_eq!(
                    (command.as_str(), exit_code),
                    ("apt-get install -y --no-install-recommends git make", 100)
                );
                assert_eq!(output_tail.len(), OUTPUT_TAIL_LINES);
                assert_eq!(output_tail.first().map(String::as_str), Some("line 12"));
                assert_eq!(
                    output_tail.last().map(String::as_str),
                    Some("E: Unable to locate package make")
                );
            }
            InstallStep::Verify => {
                let LifecycleError::VerifyFailed {
                    command,
                    exit_code,
                    output_tail,
                } = *source
                else {
                    panic!("{source}");
                };
                assert_eq!(
                    (command.as_str(), exit_code, output_tail),
                    ("git --version", 1, vec!["git: broken".to_owned()])
                );
            }
            InstallStep::VerifySecurity => {
                let LifecycleError::SecurityMismatch { mismatches, .. } = *source else {
                    panic!("{source}");
                };
                assert_eq!(
                    mismatches,
                    [SecurityMismatch {
                        setting: "no-new-privileges",
                        expected: "true".into(),
                        actual: "false".into()
                    }]
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_failed_install_keeps_an_image_that_was_there_before() {
    let fixture = Fixture::new(with_packages());
    let mut engine = FakeEngine::new(&[IMAGE]);
    engine.pull_image(IMAGE, &|_| {}).await.unwrap();
    inject(&mut engine, InstallStep::Commit);
    fixture.install(&engine).await.unwrap_err();
    let names: Vec<Vec<String>> = engine
        .images()
        .into_iter()
        .map(|image| image.names)
        .collect();
    assert_eq!(names, [vec![IMAGE.to_owned()]]);
}

#[tokio::test]
async fn ensure_running_recreates_a_used_non_persistent_container_and_starts_a_persistent_one() {
    for persistent in [false, true] {
        let fixture = Fixture::new(
            serde_json::json!({"name": "tools", "image": IMAGE, "persistent": persistent}),
        );
        let engine = FakeEngine::new(&[IMAGE]);
        fixture.install(&engine).await.unwrap();
        let first = engine.containers()[0].id.clone();
        let details = ensure_running(&engine, "tools").await.unwrap();
        assert_eq!(details.id, first, "a running container is kept");
        assert_eq!(stop(&engine, "tools").await.unwrap(), StopOutcome::Stopped);
        assert_eq!(
            stop(&engine, "tools").await.unwrap(),
            StopOutcome::AlreadyStopped
        );
        let (outcome, details) = start(&engine, "tools").await.unwrap();
        let containers = engine.containers();
        assert_eq!(containers.len(), 1);
        assert!(containers[0].running);
        if persistent {
            assert_eq!(
                (outcome, details.id.as_str()),
                (StartOutcome::Started, first.as_str())
            );
        } else {
            assert_eq!(outcome, StartOutcome::Recreated);
            assert_ne!(details.id, first);
            assert_eq!(containers[0].spec.name, "horizonos-tools");
        }
    }
    let engine = FakeEngine::new(&[IMAGE]);
    let error = ensure_running(&engine, "tools").await.unwrap_err();
    assert!(
        matches!(error, LifecycleError::NotInstalled { ref name } if name == "tools"),
        "{error}"
    );
}

#[tokio::test]
async fn remove_takes_containers_images_and_record_and_names_the_exports() {
    let fixture = Fixture::new(
        serde_json::json!({"name": "tools", "image": IMAGE, "export_binaries": ["git"]}),
    );
    let engine = FakeEngine::new(&[IMAGE]);
    fixture.install(&engine).await.unwrap();
    let report = remove(&engine, "tools", &fixture.state(), RemoveOptions::default())
        .await
        .unwrap();
    assert_eq!(report.containers, ["horizonos-tools"]);
    assert_eq!(report.images, ["localhost/horizonos/tools:1"]);
    assert_eq!(report.exports, ["git"]);
    let left: Vec<Vec<String>> = engine
        .images()
        .into_iter()
        .map(|image| image.names)
        .collect();
    assert_eq!(
        left,
        [vec![IMAGE.to_owned()]],
        "the base image is not ours to remove"
    );
    assert_eq!(fixture.state().read("tools").unwrap(), None);
    let error = remove(&engine, "tools", &fixture.state(), RemoveOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, LifecycleError::NotInstalled { .. }),
        "{error}"
    );
}

fn summary(id: &str, state: &str, image_id: &str, labels: &[(&str, &str)]) -> ContainerSummary {
    ContainerSummary {
        id: id.into(),
        name: format!("c-{id}"),
        image: String::new(),
        image_id: image_id.into(),
        state: RunState::from_word(state).expect("a Podman state word"),
        labels: labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
    }
}

fn image(id: &str, names: &[&str], labels: &[(&str, &str)]) -> ImageSummary {
    ImageSummary {
        id: id.into(),
        names: names.iter().map(|name| (*name).to_owned()).collect(),
        labels: labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect(),
        size: 1,
    }
}

#[test]
fn cleanup_plans_only_what_nothing_owns() {
    let fixture = Fixture::new(serde_json::json!({"name": "tools", "image": IMAGE}));
    let catalog = load(&DefinitionSources {
        system_dir: fixture.dir.path().join("system"),
        user_dir: Some(fixture.dir.path().join("user")),
        home: None,
        system_owner: 0,
    });
    let managed = (labels::MANAGED, "true");
    let containers = [
        summary(
            "a",
            "running",
            "img-tools-2",
            &[managed, (labels::DEFINITION, "tools")],
        ),
        summary(
            "b",
            "exited",
            "img-gone-1",
            &[managed, (labels::DEFINITION, "gone")],
        ),
        summary(
            "c",
            "running",
            "img-live-1",
            &[managed, (labels::DEFINITION, "live-orphan")],
        ),
        summary(
            "d",
            "exited",
            "base",
            &[managed, (labels::BUILD_OF, "tools")],
        ),
        summary("e", "exited", "base", &[]),
        // Another state's (a definition neither defined nor recorded here): never this cleanup's.
        summary(
            "f",
            "exited",
            "img-elsewhere-1",
            &[managed, (labels::DEFINITION, "elsewhere")],
        ),
        summary(
            "g",
            "exited",
            "base",
            &[managed, (labels::BUILD_OF, "elsewhere")],
        ),
    ];
    let ours = |definition| [managed, (labels::DEFINITION, definition)];
    let images = [
        image(
            "img-tools-1",
            &["localhost/horizonos/tools:1"],
            &ours("tools"),
        ),
        image(
            "img-tools-2",
            &["localhost/horizonos/tools:2"],
            &ours("tools"),
        ),
        image("img-gone-1", &["localhost/horizonos/gone:1"], &ours("gone")),
        image(
            "img-live-1",
            &["localhost/horizonos/live-orphan:1"],
            &ours("live-orphan"),
        ),
        image("base", &[IMAGE], &[]),
        image("dangling", &[], &[]),
        image("digest-base", &[], &[]),
        image(
            "img-elsewhere-2",
            &["localhost/horizonos/elsewhere:2"],
            &ours("elsewhere"),
        ),
    ];
    let record = |name: &str, generation_image_id: &str, image_id: &str| InstallRecord {
        schema_version: INSTALL_RECORD_SCHEMA_VERSION,
        name: name.into(),
        layer: "user".into(),
        definition_hash: String::new(),
        generation: 1,
        image: IMAGE.into(),
        image_digest: None,
        image_id: image_id.into(),
        generation_image: String::new(),
        generation_image_id: generation_image_id.into(),
        container_id: format!("{name}-container"),
        package_manager: None,
        packages: vec![],
        persistent: false,
        installed_at: String::new(),
        export_binaries: vec![],
    };
    let records = [
        record("tools", "img-tools-2", "digest-base"),
        record("gone", "img-gone-1", "base"),
    ];
    let plan: Vec<(CleanupKind, String)> =
        plan_cleanup(&containers, &images, &catalog, &records, "/state", &|_| {
            false
        })
        .into_iter()
        .map(|item| (item.kind, item.id))
        .collect();
    assert_eq!(
        plan,
        [
            (CleanupKind::OrphanedContainer, "b".to_owned()),
            (CleanupKind::BuildContainer, "d".to_owned()),
            (CleanupKind::GenerationImage, "img-gone-1".to_owned()),
            (CleanupKind::GenerationImage, "img-tools-1".to_owned()),
            (CleanupKind::DanglingImage, "dangling".to_owned()),
            (CleanupKind::InstallRecord, "gone-container".to_owned()),
        ]
    );
}

#[test]
fn desktop_flags_map_to_what_the_host_has() {
    let host = DesktopHost {
        x11_display: Some(":0".into()),
        x11_socket_dir: Some(PathBuf::from(X11_SOCKET_DIR)),
        runtime_dir: Some(PathBuf::from("/run/user/1000")),
        wayland_display: Some("wayland-0".into()),
        pipewire: true,
        pulse: false,
        dri: Some(PathBuf::from(DRI_DEVICES)),
        input: None,
    };
    let all = Desktop {
        display: true,
        audio: true,
        gpu: true,
        input: true,
    };
    let bind = |path: &str| BindMount {
        source: path.into(),
        target: path.into(),
        read_only: false,
    };
    let resources = desktop_resources(&all, &host);
    assert_eq!(
        resources.mounts,
        [
            bind("/tmp/.X11-unix"),
            bind("/run/user/1000/wayland-0"),
            bind("/run/user/1000/pipewire-0")
        ]
    );
    assert_eq!(
        resources.devices,
        [DeviceMapping {
            host: "/dev/dri".into(),
            container: "/dev/dri".into(),
            permissions: "rwm".into()
        }],
        "no /dev/input on this host, so none asked"
    );
    assert_eq!(
        resources.env,
        BTreeMap::from([
            ("DISPLAY".to_owned(), ":0".to_owned()),
            ("WAYLAND_DISPLAY".to_owned(), "wayland-0".to_owned()),
            ("XDG_RUNTIME_DIR".to_owned(), "/run/user/1000".to_owned()),
        ])
    );
    assert_eq!(
        desktop_resources(&Desktop::default(), &host),
        DesktopResources::default()
    );
    let audio_only = Desktop {
        audio: true,
        ..Desktop::default()
    };
    let bare = DesktopHost::default();
    assert_eq!(
        desktop_resources(&audio_only, &bare),
        DesktopResources::default()
    );
    let probed = DesktopHost::probe(None, Some(PathBuf::from("relative")), Some("w".into()));
    assert_eq!((probed.runtime_dir, probed.wayland_display), (None, None));
}

#[test]
fn the_spec_asks_for_the_security_model_and_the_check_finds_every_difference() {
    let fixture = Fixture::new(serde_json::json!({
        "name": "tools", "image": IMAGE, "network": "none",
        "mounts": [{"source": "/tmp", "target": "/scratch", "read_only": true}],
        "environment": {"A": "1"}
    }));
    let host = HostContext {
        rootless: true,
        desktop: DesktopHost::default(),
        agent: None,
    };
    let spec = container_spec(&fixture.resolved, "localhost/horizonos/tools:3", 3, &host);
    assert_eq!(spec.name, "horizonos-tools");
    assert_eq!(spec.command, KEEPALIVE_COMMAND);
    assert!(spec.init && spec.no_new_privileges && !spec.privileged);
    assert_eq!(
        spec.cap_add.len(),
        crate::definition::DEFAULT_CAPABILITIES.len()
    );
    assert_eq!(spec.userns, Some(crate::engine::UserNamespace::KeepId));
    assert_eq!(spec.network, crate::engine::NetworkMode::None);
    assert_eq!(
        spec.env,
        BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            ("HORIZONOS_CONTAINER".to_owned(), "tools".to_owned())
        ])
    );
    assert_eq!(spec.labels[labels::GENERATION], "3");
    assert_eq!(spec.labels[labels::PERSISTENT], "false");
    let rootful = container_spec(&fixture.resolved, "x", 3, &HostContext::default());
    assert_eq!(rootful.userns, None);

    let mut caps = spec.cap_add.clone();
    caps.sort();
    let faithful = ContainerDetails {
        mounts: vec![BindMount {
            source: "/tmp".into(),
            target: "/scratch".into(),
            read_only: true,
        }],
        security: AppliedSecurity {
            effective_caps: caps.clone(),
            privileged: false,
            no_new_privileges: true,
            seccomp_profile: String::new(),
            network_mode: "none".into(),
            userns_mode: "private".into(),
            uid_map: vec!["0:1:1000".into(), "1000:0:1".into()],
        },
        ..ContainerDetails::fixture("horizonos-tools")
    };
    assert_eq!(check_security(&spec, &faithful), []);
    let mut ignored = faithful.clone();
    ignored.security.effective_caps.push("CAP_SYS_ADMIN".into());
    ignored.security.seccomp_profile = "unconfined".into();
    ignored.security.network_mode = "slirp4netns".into();
    ignored.security.uid_map = vec!["0:1000:1".into()];
    ignored.mounts[0].read_only = false;
    let settings: Vec<&str> = check_security(&spec, &ignored)
        .iter()
        .map(|mismatch| mismatch.setting)
        .collect();
    assert_eq!(
        settings,
        [
            "effective capabilities",
            "seccomp",
            "network",
            "user namespace",
            "mount"
        ]
    );
    ignored.mounts.clear();
    let missing = check_security(&spec, &ignored);
    assert_eq!(
        missing.last().map(ToString::to_string).as_deref(),
        Some("mount: asked /tmp at /scratch, got no such mount")
    );
}

#[test]
fn only_the_last_non_empty_lines_are_kept() {
    let bytes = b"a\n\nb\r\nprogress 10%\rprogress 100%\nc\n";
    assert_eq!(
        install::output::last_lines(bytes, 3),
        ["b", "progress 100%", "c"]
    );
    assert_eq!(install::output::last_lines(b"", 3), Vec::<String>::new());
}
