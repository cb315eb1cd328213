//! The export rules on a temporary directory: creation, idempotence, collisions with their owner
//! named, `force` and its backup (put back by unexport), a changed wrapper left alone, orphans,
//! listing states and repair.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    setup: ExportSetup,
    host_bin: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let host_bin = dir.path().join("host-bin");
        std::fs::create_dir_all(&host_bin).unwrap();
        let setup = ExportSetup {
            export_dir: dir.path().join("bin"),
            state_dir: dir.path().join("state"),
            client: PathBuf::from("/opt/horizon/horizon-exec"),
            search_path: vec![dir.path().join("bin"), host_bin.clone()],
            version: "1.0.0".into(),
        };
        Fixture {
            _dir: dir,
            setup,
            host_bin,
        }
    }

    fn request(&self, container: &str, binary: &str) -> ExportRequest {
        ExportRequest {
            container: container.into(),
            binary: binary.into(),
            alias: None,
            force: false,
        }
    }

    fn wrapper(&self, name: &str) -> PathBuf {
        self.setup.export_dir.join(name)
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.setup.export_dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn installed(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|&name| name.to_owned()).collect()
    }
}

fn executable(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn export_writes_an_executable_wrapper_and_records_it() {
    let fixture = Fixture::new();
    let outcome = export(&fixture.setup, &fixture.request("dev", "git")).unwrap();
    assert_eq!(outcome.change, ExportChange::Created);
    assert_eq!(outcome.overridden, None);
    let path = fixture.wrapper("git");
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        wrapper::render(&WrapperSpec {
            container: "dev",
            binary: "git",
            client: "/opt/horizon/horizon-exec",
            version: "1.0.0"
        })
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, WRAPPER_MODE);
    let expected = ExportEntry {
        name: "git".into(),
        path: path.clone(),
        container: "dev".into(),
        binary: "git".into(),
        content_hash: content_hash(&bytes),
        horizon_version: "1.0.0".into(),
        backup: None,
    };
    assert_eq!(outcome.entry, expected);
    assert_eq!(
        Ledger::new(&fixture.setup.state_dir).read().unwrap(),
        [expected]
    );
    let again = export(&fixture.setup, &fixture.request("dev", "git")).unwrap();
    assert_eq!(again.change, ExportChange::Unchanged);
    assert_eq!(fixture.files(), ["git"]);
}

#[test]
fn an_alias_names_the_wrapper_and_the_binary_stays() {
    let fixture = Fixture::new();
    let request = ExportRequest {
        alias: Some("dev-git".into()),
        ..fixture.request("dev", "git")
    };
    let outcome = export(&fixture.setup, &request).unwrap();
    assert_eq!(
        (outcome.entry.name.as_str(), outcome.entry.binary.as_str()),
        ("dev-git", "git")
    );
    let text = std::fs::read_to_string(fixture.wrapper("dev-git")).unwrap();
    assert!(text.ends_with("exec '/opt/horizon/horizon-exec' 'dev' 'git' \"$@\"\n"));
}

#[test]
fn invalid_names_change_nothing() {
    let fixture = Fixture::new();
    for (request, message) in [
        (
            fixture.request("Dev", "git"),
            "container \"Dev\" is not a valid name",
        ),
        (
            fixture.request("dev", "../sh"),
            "binary \"../sh\" is not a valid binary name",
        ),
        (
            ExportRequest {
                alias: Some("a;b".into()),
                ..fixture.request("dev", "git")
            },
            "alias \"a;b\" is not a valid binary name",
        ),
    ] {
        let error = export(&fixture.setup, &request).unwrap_err().to_string();
        assert!(error.starts_with(message), "{error}");
    }
    assert!(!fixture.setup.export_dir.exists());
}

#[test]
fn a_foreign_file_is_refused_and_force_keeps_it_as_a_backup_that_unexport_restores() {
    let fixture = Fixture::new();
    std::fs::create_dir_all(&fixture.setup.export_dir).unwrap();
    executable(&fixture.wrapper("git"), "#!/bin/sh\necho mine\n");
    let error = export(&fixture.setup, &fixture.request("dev", "git")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot export git: {} exists and was not written by horizon",
            fixture.wrapper("git").display()
        )
    );
    assert_eq!(fixture.files(), ["git"]);
    let forced = ExportRequest {
        force: true,
        ..fixture.request("dev", "git")
    };
    let outcome = export(&fixture.setup, &forced).unwrap();
    assert_eq!(outcome.change, ExportChange::Replaced);
    let backup = fixture.setup.export_dir.join("git.horizon-backup");
    assert_eq!(outcome.entry.backup.as_deref(), Some(backup.as_path()));
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    assert_eq!(fixture.files(), ["git", "git.horizon-backup"]);
    let removed = unexport(&fixture.setup, "git").unwrap();
    assert_eq!(removed.file, RemovedFile::Removed);
    assert_eq!(removed.restored, Some(backup));
    assert_eq!(fixture.files(), ["git"]);
    assert_eq!(
        std::fs::read_to_string(fixture.wrapper("git")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}

#[test]
fn another_containers_export_and_host_commands_are_named() {
    let fixture = Fixture::new();
    export(&fixture.setup, &fixture.request("dev", "git")).unwrap();
    let error = export(&fixture.setup, &fixture.request("tools", "git")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "cannot export git: {} is already exported from the container dev (its git)",
            fixture.wrapper("git").display()
        )
    );
    executable(&fixture.host_bin.join("make"), "\x7fELF");
    let error = export(&fixture.setup, &fixture.request("dev", "make")).unwrap_err();
    assert!(matches!(
        &error,
        ExportError::Collision { owner: Owner::HostCommand { path }, .. } if *path == fixture.host_bin.join("make")
    ));
    // Another export directory's wrapper (the system's, seen from a user) is named with its
    // container.
    let system_wrapper = wrapper::render(&WrapperSpec {
        container: "tools",
        binary: "cc",
        client: "/x",
        version: "1",
    });
    executable(&fixture.host_bin.join("cc"), &system_wrapper);
    let error = export(&fixture.setup, &fixture.request("dev", "cc")).unwrap_err();
    assert!(matches!(
        &error,
        ExportError::Collision { owner: Owner::OtherExport { container, .. }, .. } if container == "tools"
    ));
    let forced = ExportRequest {
        force: true,
        ..fixture.request("tools", "git")
    };
    let outcome = export(&fixture.setup, &forced).unwrap();
    assert_eq!(outcome.change, ExportChange::Replaced);
    assert_eq!(
        outcome.entry.backup, None,
        "our own wrapper needs no backup"
    );
    assert_eq!(fixture.files(), ["git"]);
}

#[test]
fn a_changed_wrapper_is_never_deleted_or_overwritten() {
    let fixture = Fixture::new();
    export(&fixture.setup, &fixture.request("dev", "git")).unwrap();
    executable(&fixture.wrapper("git"), "#!/bin/sh\n# edited by hand\n");
    let listed = list(&fixture.setup, None).unwrap();
    assert_eq!(listed[0].state, ExportState::Modified);
    assert!(matches!(
        export(&fixture.setup, &fixture.request("dev", "git")).unwrap_err(),
        ExportError::Collision {
            owner: Owner::ModifiedWrapper { .. },
            ..
        }
    ));
    let repaired = repair(&fixture.setup, false).unwrap();
    assert_eq!(repaired[0].action, RepairAction::SkippedModified);
    let removed = unexport(&fixture.setup, "git").unwrap();
    assert_eq!(removed.file, RemovedFile::KeptChanged);
    assert_eq!(
        std::fs::read_to_string(fixture.wrapper("git")).unwrap(),
        "#!/bin/sh\n# edited by hand\n"
    );
    assert_eq!(list(&fixture.setup, None).unwrap(), []);
}

#[test]
fn repair_rewrites_stale_and_missing_wrappers() {
    let mut fixture = Fixture::new();
    export(&fixture.setup, &fixture.request("dev", "git")).unwrap();
    export(&fixture.setup, &fixture.request("dev", "make")).unwrap();
    std::fs::remove_file(fixture.wrapper("make")).unwrap();
    fixture.setup.version = "2.0.0".into();
    fixture.setup.client = "/usr/libexec/horizon-exec".into();
    let states: Vec<ExportState> = list(&fixture.setup, None)
        .unwrap()
        .into_iter()
        .map(|listed| listed.state)
        .collect();
    assert_eq!(states, [ExportState::Stale, ExportState::Missing]);
    let actions: Vec<RepairAction> = repair(&fixture.setup, false)
        .unwrap()
        .into_iter()
        .map(|item| item.action)
        .collect();
    assert_eq!(actions, [RepairAction::Rewritten, RepairAction::Recreated]);
    for listed in list(&fixture.setup, None).unwrap() {
        assert_eq!(listed.state, ExportState::Ok);
        assert_eq!(listed.entry.horizon_version, "2.0.0");
    }
    let text = std::fs::read_to_string(fixture.wrapper("make")).unwrap();
    assert!(text.contains("exec '/usr/libexec/horizon-exec' 'dev' 'make'"));
    let again: Vec<RepairAction> = repair(&fixture.setup, false)
        .unwrap()
        .into_iter()
        .map(|item| item.action)
        .collect();
    assert_eq!(again, [RepairAction::Unchanged, RepairAction::Unchanged]);
}

#[test]
fn removing_a_container_and_orphans() {
    let fixture = Fixture::new();
    for (container, binary) in [
        ("dev", "git"),
        ("dev", "make"),
        ("tools", "jq"),
        ("old", "vi"),
    ] {
        export(&fixture.setup, &fixture.request(container, binary)).unwrap();
    }
    let removed = remove_container_exports(&fixture.setup, "dev").unwrap();
    let names: Vec<&str> = removed.iter().map(|o| o.entry.name.as_str()).collect();
    assert_eq!(names, ["git", "make"]);
    assert_eq!(fixture.files(), ["jq", "vi"]);
    let installed = Fixture::installed(&["tools"]);
    let states: Vec<(String, ExportState)> = list(&fixture.setup, Some(&installed))
        .unwrap()
        .into_iter()
        .map(|listed| (listed.entry.name, listed.state))
        .collect();
    assert_eq!(
        states,
        [
            ("jq".to_owned(), ExportState::Ok),
            ("vi".to_owned(), ExportState::Orphaned)
        ]
    );
    let orphaned: Vec<String> = orphans(&fixture.setup, &installed)
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(orphaned, ["vi"]);
    remove_orphans(&fixture.setup, &installed).unwrap();
    assert_eq!(fixture.files(), ["jq"]);
    assert!(matches!(
        unexport(&fixture.setup, "vi").unwrap_err(),
        ExportError::NotExported { .. }
    ));
}

#[test]
fn concurrent_exports_never_lose_an_entry() {
    let fixture = Fixture::new();
    let names: Vec<String> = (0..16).map(|n| format!("tool{n}")).collect();
    std::thread::scope(|scope| {
        for name in &names {
            let (setup, request) = (&fixture.setup, fixture.request("dev", name));
            scope.spawn(move || export(setup, &request).unwrap());
        }
    });
    let mut recorded: Vec<String> = Ledger::new(&fixture.setup.state_dir)
        .read()
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    recorded.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(recorded, expected);
    assert_eq!(fixture.files(), expected, "and no temp file is left");
}

#[test]
fn the_client_path_must_be_absolute_text() {
    assert!(check_client_path(Path::new("horizon-exec")).is_err());
    assert!(check_client_path(Path::new("/a\nb")).is_err());
    assert_eq!(check_client_path(Path::new("/a b")).unwrap(), "/a b");
}

/// Provider resolution on the recording fake engine: the definitions' `export_binaries` decide
/// without asking Podman; otherwise only running containers are searched (looking never starts
/// one), and stopped ones are named.
mod provider_resolution {
    use std::collections::BTreeMap;

    use crate::definition::tests_support;
    use crate::definition::{Catalog, load};
    use crate::engine::fake::FakeEngine;
    use crate::engine::{ContainerSpec, Engine};
    use crate::lifecycle::{INSTALL_RECORD_SCHEMA_VERSION, InstallRecord};
    use crate::{labels, naming};

    use super::super::{ExportError, resolve_provider};

    const IMAGE: &str = "registry.test/tools:1";

    fn catalog(definitions: &[serde_json::Value]) -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let sources = tests_support::sources(dir.path());
        let user = sources.user_dir.clone().unwrap();
        std::fs::create_dir_all(&user).unwrap();
        for definition in definitions {
            let name = definition["name"].as_str().unwrap();
            std::fs::write(user.join(format!("{name}.json")), definition.to_string()).unwrap();
        }
        let catalog = load(&sources);
        (dir, catalog)
    }

    fn record(name: &str) -> InstallRecord {
        InstallRecord {
            schema_version: INSTALL_RECORD_SCHEMA_VERSION,
            name: name.into(),
            layer: "user".into(),
            definition_hash: String::new(),
            generation: 1,
            image: IMAGE.into(),
            image_digest: None,
            image_id: String::new(),
            generation_image: IMAGE.into(),
            generation_image_id: String::new(),
            container_id: String::new(),
            package_manager: None,
            packages: vec![],
            persistent: true,
            installed_at: String::new(),
            export_binaries: vec![],
        }
    }

    /// A fake engine holding the managed containers of `running` (started) and `stopped`, whose
    /// exec answers the PATH lookup with `found`.
    async fn engine(running: &[&str], stopped: &[&str], found: bool) -> FakeEngine {
        let mut engine = FakeEngine::new(&[IMAGE]);
        engine.exec_script = Box::new(move |_| {
            if found {
                (0, b"/usr/bin/rg\n".to_vec())
            } else {
                (1, Vec::new())
            }
        });
        engine.pull_image(IMAGE, &|_| {}).await.unwrap();
        for (name, start) in running
            .iter()
            .map(|name| (name, true))
            .chain(stopped.iter().map(|name| (name, false)))
        {
            let spec = ContainerSpec {
                name: naming::container_name(name),
                image: IMAGE.into(),
                labels: BTreeMap::from([
                    (labels::MANAGED.to_owned(), labels::MANAGED_VALUE.to_owned()),
                    (labels::DEFINITION.to_owned(), (*name).to_owned()),
                ]),
                ..ContainerSpec::default()
            };
            engine.create_container(&spec).await.unwrap();
            if start {
                engine.start_container(&spec.name).await.unwrap();
            }
        }
        engine
    }

    fn exec_calls(engine: &FakeEngine) -> usize {
        engine
            .calls()
            .iter()
            .filter(|call| call.starts_with("exec"))
            .count()
    }

    #[tokio::test]
    async fn a_definition_that_lists_the_binary_decides_without_podman() {
        let (_dir, catalog) = catalog(&[
            serde_json::json!({"name": "dev", "image": IMAGE, "export_binaries": ["rg"]}),
            serde_json::json!({"name": "tools", "image": IMAGE}),
        ]);
        let engine = engine(&["tools"], &[], true).await;
        let before = engine.calls().len();
        let records = [record("dev"), record("tools")];
        let found = resolve_provider(&engine, &catalog, &records, "rg")
            .await
            .unwrap();
        assert_eq!(found, "dev");
        assert_eq!(engine.calls().len(), before, "no Podman call");
    }

    #[tokio::test]
    async fn only_running_containers_are_searched_and_stopped_ones_are_named() {
        let (_dir, catalog) = catalog(&[]);
        let records = [record("a"), record("b"), record("c")];
        let engine = engine(&["a"], &["b", "c"], true).await;
        let found = resolve_provider(&engine, &catalog, &records, "rg")
            .await
            .unwrap();
        assert_eq!(found, "a");
        assert_eq!(exec_calls(&engine), 1);
        let running = engine.containers().iter().filter(|c| c.running).count();
        assert_eq!(running, 1, "looking started nothing");

        let engine = self::engine(&["a"], &["b", "c"], false).await;
        let error = resolve_provider(&engine, &catalog, &records, "rg")
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "no container provides rg (searched: a) (not searched, stopped: b, c)"
        );

        let engine = self::engine(&["a", "b"], &[], true).await;
        let error = resolve_provider(&engine, &catalog, &records, "rg")
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            ExportError::Ambiguous { ref candidates, .. } if candidates == &["a", "b"]
        ));
    }
}
