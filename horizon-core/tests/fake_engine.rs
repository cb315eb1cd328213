//! An embedder's workflow test on the fake engine (cargo feature `fake-engine`): a whole use case,
//! `Horizon::install`, driven through `Horizon::with_engine` with a failure injected at one engine
//! call. The engine moves into the `Horizon`; its `FakeHandle` stays here to inject the failure and
//! to look at what the call left behind.

// Test code: a panic with the value is the most useful failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use horizon_core::DiscoveryInput;
use horizon_core::HorizonPaths;
use horizon_core::definition::DefinitionSources;
use horizon_core::engine::RunState;
use horizon_core::engine::fake::{EngineCall, FakeEngine};
use horizon_core::lifecycle::{DesktopHost, InstalledState};
use horizon_core::update::{DEFAULT_KEEP_PREVIOUS, RegistryClient};
use horizon_core::usecase::{
    ExecPath, InstallOptions, Installed, ServiceHost, ServiceStart, Unobserved,
};
use horizon_core::{Call, Cancel, EngineError, ErrorKind, Horizon, Settings};

/// The image the fake registry has.
const IMAGE: &str = "registry.example.com/tools/base:1";

/// Settings for a Horizon whose every directory is below `dir`, with one user definition, `tools`.
fn settings(dir: &Path) -> Settings {
    let user = dir.join("user");
    std::fs::create_dir_all(&user).unwrap();
    std::fs::write(
        user.join("tools.json"),
        serde_json::json!({"name": "tools", "image": IMAGE}).to_string(),
    )
    .unwrap();
    Settings {
        paths: HorizonPaths {
            state_dir: dir.join("state"),
            export_dir: dir.join("bin"),
            runtime_dir: dir.join("run"),
            unit_dir: dir.join("units"),
            update_config: dir.join("update.json"),
        },
        sources: DefinitionSources {
            system_dir: dir.join("system"),
            user_dir: Some(user),
            home: Some(dir.to_path_buf()),
            system_owner: std::fs::metadata(dir).unwrap().uid(),
        },
        discovery: DiscoveryInput {
            flag: None,
            container_host: None,
            xdg_runtime_dir: None,
            uid: 1000,
            path: None,
        },
        service_start: ServiceStart::Never,
        agent: Ok(None),
        desktop: DesktopHost::default(),
        registry: RegistryClient::default(),
        export_client: PathBuf::from("/nonexistent/horizon-exec"),
        search_path: Vec::new(),
        keep_previous: DEFAULT_KEEP_PREVIOUS,
        exec_path: ExecPath::Auto,
        dev_config: None,
        services: ServiceHost::default(),
    }
}

#[tokio::test]
async fn an_install_whose_create_fails_leaves_nothing_behind_and_the_next_one_installs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = FakeEngine::new(&[IMAGE]);
    let fake = engine.handle();
    // The first create is the build container's, the second the managed container's.
    fake.fail(EngineCall::CreateContainer, 2);
    let horizon = Horizon::with_engine(settings(dir.path()), engine);
    let cancel = Cancel::never();
    let call = Call::new(&cancel, &Unobserved);

    let error = horizon
        .install(call, "tools", InstallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Failed);
    assert_eq!(
        error.to_string(),
        "installing `tools` failed at step \"create\""
    );
    match error.engine_error() {
        Some(EngineError::Api {
            operation,
            status,
            message,
        }) => assert_eq!(
            (*operation, *status, message.as_str()),
            (
                "create_container",
                500,
                "injected failure of create_container #2"
            )
        ),
        other => panic!("expected the injected failure, got {other:?}"),
    }
    assert_eq!(
        fake.calls_of(EngineCall::CreateContainer),
        ["horizonos-tools-build", "horizonos-tools"]
    );
    // Nothing behind: no container, neither the pulled image nor the generation image, no record.
    assert!(fake.containers().is_empty(), "{:?}", fake.containers());
    assert!(fake.images().is_empty(), "{:?}", fake.images());
    let status = horizon.status(call, "tools").await.unwrap();
    assert_eq!(status.status.state, InstalledState::NotInstalled);
    assert_eq!(status.status.record, None);

    // The failure was the second create only: installing again succeeds.
    let report = horizon
        .install(call, "tools", InstallOptions::default())
        .await
        .unwrap();
    let Installed::Installed { record } = report.installed else {
        panic!("{:?}", report.installed);
    };
    assert_eq!(record.generation, 1);
    let containers = fake.containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(
        (containers[0].spec.name.as_str(), containers[0].run_state()),
        ("horizonos-tools", RunState::Running)
    );
}
