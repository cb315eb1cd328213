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
fn the_client_path_must_be_absolute_text() {
    assert!(check_client_path(Path::new("horizon-exec")).is_err());
    assert!(check_client_path(Path::new("/a\nb")).is_err());
    assert_eq!(check_client_path(Path::new("/a b")).unwrap(), "/a b");
}
