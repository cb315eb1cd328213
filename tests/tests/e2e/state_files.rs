//! horizon's state files are never followed through a symbolic link and never trusted to point
//! outside horizon's own directories: a lock file, the export ledger's lock or an install record
//! replaced by a link to another file is refused with the path and what to do, and the file it
//! points at is untouched; a ledger entry (or its backup) that names a file outside the export
//! directory is never removed or moved by `unexport`, `remove` or `cleanup`. A user session
//! with a busybox container.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::export::Exporting;
use crate::{assert_exit, text};

const VICTIM: &[u8] = b"precious: not horizon's\n";

/// A file of the user's that an attacker would like horizon to overwrite or delete.
fn victim(exporting: &Exporting, name: &str) -> PathBuf {
    let path = exporting.session.home.join(name);
    std::fs::write(&path, VICTIM).unwrap();
    if let Some(account) = &exporting.session.account {
        std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid)).unwrap();
    }
    path
}

fn replace_with_link(path: &Path, target: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if path.exists() || path.is_symlink() {
        std::fs::remove_file(path).unwrap();
    }
    symlink(target, path).unwrap();
}

#[test]
fn state_files_replaced_by_symlinks_are_refused_and_their_targets_untouched() {
    let name = "sf-links";
    let exporting = Exporting::new("state_file_links", &[(name, &[])]);
    let state = exporting.session.state_dir.clone();

    // The container's lock: every writer of the container refuses it.
    let target = victim(&exporting, "lock-victim");
    let lock = state.join(format!("locks/{name}.lock"));
    replace_with_link(&lock, &target);
    for args in [
        vec!["update", name],
        vec!["rollback", name],
        vec!["remove", name],
    ] {
        let output = exporting.hc(&args);
        assert_exit(&output, 1);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("{}: it is a symbolic link", lock.display())),
            "{args:?}: {stderr}"
        );
        assert_eq!(std::fs::read(&target).unwrap(), VICTIM, "{args:?}");
    }
    std::fs::remove_file(&lock).unwrap();
    let status = exporting.hc(&["status", name]);
    assert_exit(&status, 0);

    // The export ledger's lock: export refuses, nothing is written through it.
    let target = victim(&exporting, "ledger-lock-victim");
    let ledger_lock = state.join("exports.lock");
    replace_with_link(&ledger_lock, &target);
    let output = exporting.hc(&["export", "sha3sum", "--from", name]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).contains(&format!("{}: it is a symbolic link", ledger_lock.display())),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read(&target).unwrap(), VICTIM);
    assert!(!exporting.wrapper("sha3sum").exists());
    std::fs::remove_file(&ledger_lock).unwrap();

    // The install record: a link is not read as the record (status says so), nor written
    // through.
    let record = state.join(format!("containers/{name}.json"));
    let saved = std::fs::read(&record).unwrap();
    let target = victim(&exporting, "record-victim");
    replace_with_link(&record, &target);
    let output = exporting.hc(&["status", name]);
    assert!(
        text(&output.stderr).contains(&format!("{}: it is a symbolic link", record.display())),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read(&target).unwrap(), VICTIM);
    std::fs::remove_file(&record).unwrap();
    std::fs::write(&record, saved).unwrap();
    assert_exit(&exporting.hc(&["remove", name]), 0);
}

#[test]
fn ledger_entries_naming_files_outside_the_export_directory_are_never_removed() {
    let name = "sf-ledger";
    let exporting = Exporting::new("state_file_ledger", &[(name, &["sha3sum", "ipcalc"])]);
    let ledger_path = exporting.session.state_dir.join("exports.json");

    // An entry rewritten to name a file outside the export directory, whose content hash
    // matches it (what an attacker who can write the ledger would do), and a backup outside.
    let outside = victim(&exporting, "outside-victim");
    let backup = victim(&exporting, "backup-victim");
    let mut ledger = exporting.ledger();
    for entry in ledger["exports"].as_array_mut().unwrap() {
        if entry["name"] == "sha3sum" {
            entry["path"] = json!(outside);
            entry["content_hash"] = json!(horizon_core::export::content_hash(VICTIM));
        }
        if entry["name"] == "ipcalc" {
            entry["backup"] = json!(backup);
        }
    }
    std::fs::write(&ledger_path, ledger.to_string()).unwrap();

    let kept = "the ledger named a file outside the export directory, which horizon never \
                removes or restores on its word";
    let output = exporting.hc(&["unexport", "sha3sum"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "unexported sha3sum (from {name}): kept {}: {kept}\n",
            outside.display()
        )
    );
    assert_eq!(std::fs::read(&outside).unwrap(), VICTIM);
    // A backup outside is not moved into the wrapper's place, nor is the wrapper removed.
    let output = exporting.hc(&["unexport", "ipcalc"]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "unexported ipcalc (from {name}): kept {} and its backup {}: {kept}\n",
            exporting.wrapper("ipcalc").display(),
            backup.display()
        )
    );
    assert_eq!(std::fs::read(&backup).unwrap(), VICTIM);
    assert!(exporting.wrapper("ipcalc").is_file());
    // The entries are gone from the ledger; removing the container touches neither file.
    assert_eq!(exporting.ledger()["exports"], json!([]));
    assert_exit(&exporting.hc(&["remove", name]), 0);
    assert_eq!(std::fs::read(&outside).unwrap(), VICTIM);
    assert_eq!(std::fs::read(&backup).unwrap(), VICTIM);
}
