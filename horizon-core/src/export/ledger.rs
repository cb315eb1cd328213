//! The export ledger: `STATE_DIR/exports.json`, the record of every wrapper horizon wrote (path,
//! container, binary, content hash, horizon version, and the backup of a file `--force` moved
//! aside). It is what makes a file "ours": a file is horizon's to rewrite or delete only while the
//! ledger names its path and its contents still have the recorded hash. Written atomically; every
//! change happens under an exclusive lock on `STATE_DIR/exports.lock`, so two concurrent exports
//! never lose each other's entry.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ExportError;
use crate::fsutil::write_atomic;

/// Version of the ledger format; bumped on any incompatible change.
pub const LEDGER_SCHEMA_VERSION: u32 = 1;
/// The ledger's file name in the state directory.
pub const LEDGER_FILE: &str = "exports.json";
/// The lock file beside it.
const LOCK_FILE: &str = "exports.lock";

/// One exported wrapper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportEntry {
    /// The wrapper's file name (the command name on the host: the binary, or its `--as` alias).
    pub name: String,
    /// The wrapper's absolute path.
    pub path: PathBuf,
    /// The definition (container) it runs in.
    pub container: String,
    /// The binary it runs there.
    pub binary: String,
    /// `sha256:` of the wrapper's bytes as written.
    pub content_hash: String,
    /// The horizon version that wrote it.
    pub horizon_version: String,
    /// Where a file that was at `path` before (not horizon's) was moved by `--force`; `unexport`
    /// puts it back.
    pub backup: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct LedgerFile {
    schema_version: u32,
    exports: Vec<ExportEntry>,
}

/// The ledger of one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ledger {
    dir: PathBuf,
}

/// An exclusive hold on the ledger; released when dropped.
#[derive(Debug)]
pub struct LedgerLock {
    _file: File,
}

impl Ledger {
    /// The ledger kept in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Ledger {
            dir: state_dir.to_path_buf(),
        }
    }

    /// The ledger file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(LEDGER_FILE)
    }

    /// Takes the exclusive lock (waits for another writer to finish).
    pub fn lock(&self) -> Result<LedgerLock, ExportError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(ExportError::io("create the state directory", &self.dir))?;
        let path = self.dir.join(LOCK_FILE);
        let file = crate::fsutil::open_state(&path, crate::fsutil::StateAccess::ReadWriteCreate)
            .map_err(ExportError::io("open the lock", &path))?;
        file.lock().map_err(ExportError::io("lock", &path))?;
        Ok(LedgerLock { _file: file })
    }

    /// Every entry, in the order written (empty when there is no ledger yet).
    pub fn read(&self) -> Result<Vec<ExportEntry>, ExportError> {
        let path = self.path();
        let bytes = match crate::fsutil::read_state(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(Vec::new()),
            Err(source) => return Err(ExportError::io("read", path)(source)),
        };
        let file: LedgerFile =
            serde_json::from_slice(&bytes).map_err(|error| ExportError::BadLedger {
                path: path.clone(),
                message: error.to_string(),
            })?;
        if file.schema_version != LEDGER_SCHEMA_VERSION {
            return Err(ExportError::BadLedger {
                path,
                message: format!(
                    "schema_version {} (this horizon reads {LEDGER_SCHEMA_VERSION})",
                    file.schema_version
                ),
            });
        }
        Ok(file.exports)
    }

    /// Replaces the ledger with `entries` (sorted by path), atomically. Hold the lock.
    pub fn write(&self, _lock: &LedgerLock, entries: &[ExportEntry]) -> Result<(), ExportError> {
        let mut exports = entries.to_vec();
        exports.sort_by(|a, b| a.path.cmp(&b.path));
        let file = LedgerFile {
            schema_version: LEDGER_SCHEMA_VERSION,
            exports,
        };
        // Serialising strings and paths of UTF-8 text cannot fail; a non-UTF-8 path is refused
        // before it gets here (see `check_client_path` and the export directory check).
        let mut bytes =
            serde_json::to_vec_pretty(&file).map_err(|error| ExportError::BadLedger {
                path: self.path(),
                message: error.to_string(),
            })?;
        bytes.push(b'\n');
        write_atomic(&self.path(), &bytes)
            .map_err(|(path, source)| ExportError::io("write", path)(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ExportEntry {
        ExportEntry {
            name: name.into(),
            path: PathBuf::from("/b").join(name),
            container: "dev".into(),
            binary: name.into(),
            content_hash: "sha256:00".into(),
            horizon_version: "0.1.0".into(),
            backup: None,
        }
    }

    #[test]
    fn entries_round_trip_sorted_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path());
        assert_eq!(ledger.read().unwrap(), []);
        let lock = ledger.lock().unwrap();
        ledger.write(&lock, &[entry("make"), entry("git")]).unwrap();
        let names: Vec<String> = ledger.read().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["git", "make"]);
    }

    #[test]
    fn a_ledger_of_another_schema_is_refused_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::new(dir.path());
        std::fs::write(ledger.path(), r#"{"schema_version": 7, "exports": []}"#).unwrap();
        assert_eq!(
            ledger.read().unwrap_err().to_string(),
            format!(
                "{}: not a valid export ledger: schema_version 7 (this horizon reads 1)",
                ledger.path().display()
            )
        );
    }
}
