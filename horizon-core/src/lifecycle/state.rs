//! Install records: one JSON file per installed definition under `STATE_DIR/containers/`, written
//! atomically (temp file in the same directory, fsync, rename, fsync of the directory), so a crash
//! leaves the old record or the new one, never half of one. The export issue reads
//! `export_binaries` from here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::LifecycleError;
use crate::fsutil::{JsonFileError, read_json};

/// Version of the record format; bumped on any incompatible change.
pub const INSTALL_RECORD_SCHEMA_VERSION: u32 = 1;
/// The directory of install records inside the state directory.
const RECORDS_DIR: &str = "containers";
/// Suffix of a record file.
const RECORD_EXTENSION: &str = "json";

/// What an install made, as recorded on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    /// [`INSTALL_RECORD_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The definition name.
    pub name: String,
    /// The layer the definition came from (`built-in`, `system`, `user`).
    pub layer: String,
    /// The definition's content hash at install time.
    pub definition_hash: String,
    /// The generation installed.
    pub generation: u64,
    /// The definition's image reference.
    pub image: String,
    /// The manifest digest the image was pulled at (`sha256:…`), when the registry reported one.
    pub image_digest: Option<String>,
    /// The local id of the pulled image.
    pub image_id: String,
    /// The generation image (`localhost/horizonos/NAME:GENERATION`).
    pub generation_image: String,
    /// Its local id.
    pub generation_image_id: String,
    /// The managed container's id.
    pub container_id: String,
    /// The package manager used, when packages were installed.
    pub package_manager: Option<String>,
    /// The packages installed.
    pub packages: Vec<String>,
    /// Whether the container keeps its state across stop and start.
    pub persistent: bool,
    /// When the container was created (RFC 3339, as Podman reports it).
    pub installed_at: String,
    /// The binaries the definition exports (the export issue creates and records the wrappers).
    pub export_binaries: Vec<String>,
}

/// The install records in one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateStore {
    dir: PathBuf,
}

impl StateStore {
    /// The records kept under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        StateStore {
            dir: state_dir.join(RECORDS_DIR),
        }
    }

    /// The state directory the records are kept under: the owner horizon labels its build
    /// containers and generation images with ([`crate::labels::OWNER`]).
    pub(crate) fn owner(&self) -> String {
        self.dir.parent().unwrap_or(&self.dir).display().to_string()
    }

    /// The file of definition `name`'s record.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{RECORD_EXTENSION}"))
    }

    /// The record of `name`, if it is installed.
    pub fn read(&self, name: &str) -> Result<Option<InstallRecord>, LifecycleError> {
        let path = self.path(name);
        read_json(
            &path,
            |record: &InstallRecord| record.schema_version,
            INSTALL_RECORD_SCHEMA_VERSION,
        )
        .map_err(|error| match error {
            JsonFileError::Io(source) => LifecycleError::State {
                action: "read install record",
                path,
                source,
            },
            JsonFileError::Invalid(message) => LifecycleError::BadState { path, message },
        })
    }

    /// Every install record, by name. A record that cannot be read is an error: callers decide
    /// what to delete from these, and must not decide on partial knowledge.
    pub fn list(&self) -> Result<Vec<InstallRecord>, LifecycleError> {
        let names = crate::fsutil::list_stems(&self.dir, RECORD_EXTENSION).map_err(|source| {
            LifecycleError::State {
                action: "read state directory",
                path: self.dir.clone(),
                source,
            }
        })?;
        let mut records = Vec::new();
        for name in names {
            records.extend(self.read(&name)?);
        }
        Ok(records)
    }

    /// Writes `record` atomically, replacing any previous one.
    pub fn write(&self, record: &InstallRecord) -> Result<(), LifecycleError> {
        // Serialising a record cannot fail: strings, numbers and lists only.
        let mut bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        bytes.push(b'\n');
        crate::fsutil::write_atomic(&self.path(&record.name), &bytes).map_err(|(path, source)| {
            LifecycleError::State {
                action: "write install record",
                path,
                source,
            }
        })
    }

    /// Removes `name`'s record; returns it if there was one.
    pub fn remove(&self, name: &str) -> Result<Option<InstallRecord>, LifecycleError> {
        let record = self.read(name)?;
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                crate::fsutil::sync_dir(&self.dir).map_err(|source| LifecycleError::State {
                    action: "sync state directory",
                    path: self.dir.clone(),
                    source,
                })?
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LifecycleError::State {
                    action: "remove install record",
                    path,
                    source,
                });
            }
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> InstallRecord {
        InstallRecord {
            schema_version: INSTALL_RECORD_SCHEMA_VERSION,
            name: name.into(),
            layer: "user".into(),
            definition_hash: "ab".repeat(32),
            generation: 2,
            image: "127.0.0.1:5000/horizon/busybox:latest".into(),
            image_digest: Some(format!("sha256:{}", "cd".repeat(32))),
            image_id: "1234".into(),
            generation_image: "localhost/horizonos/tools:2".into(),
            generation_image_id: "5678".into(),
            container_id: "9abc".into(),
            package_manager: None,
            packages: vec![],
            persistent: true,
            installed_at: "2024-01-01T00:00:00Z".into(),
            export_binaries: vec!["git".into()],
        }
    }

    #[test]
    fn records_round_trip_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        assert_eq!(store.read("tools").unwrap(), None);
        assert_eq!(store.list().unwrap(), []);
        store.write(&record("tools")).unwrap();
        store.write(&record("other")).unwrap();
        let names: Vec<String> = store.list().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["other", "tools"]);
        store.remove("other").unwrap();
        let mut newer = record("tools");
        newer.generation = 3;
        store.write(&newer).unwrap();
        assert_eq!(store.read("tools").unwrap(), Some(newer.clone()));
        let files: Vec<_> = std::fs::read_dir(dir.path().join("containers"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files, ["tools.json"]);
        assert_eq!(store.remove("tools").unwrap(), Some(newer));
        assert_eq!(store.remove("tools").unwrap(), None);
    }

    #[test]
    fn a_record_of_another_schema_is_refused_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        let mut future = record("tools");
        future.schema_version = 99;
        store.write(&future).unwrap();
        let error = store.read("tools").unwrap_err().to_string();
        assert_eq!(
            error,
            format!(
                "{}: not a valid install record: schema_version 99 (this horizon reads 1)",
                store.path("tools").display()
            )
        );
    }
}
