//! Install records: one JSON file per installed definition under `STATE_DIR/containers/`, written
//! atomically (temp file in the same directory, fsync, rename, fsync of the directory), so a crash
//! leaves the old record or the new one, never half of one. The export issue reads
//! `export_binaries` from here.
//!
//! A record that cannot be read (truncated, garbage, another schema, a link) concerns its
//! container alone: [`StateStore::scan`] returns it beside the readable ones, so a command about
//! every container goes on with the others and reports it, and [`StateStore::remove`] removes it
//! unread. A repair sets such a file aside ([`StateStore::set_aside`]) before writing the rebuilt
//! record, so what was there stays for a look.

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

/// An install record that exists but cannot be read or understood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}: {problem}", .path.display())]
pub struct UnreadableRecord {
    /// The definition it is the record of.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// Every install record of a state directory: those that can be read, and those that cannot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordScan {
    /// The readable records, by name.
    pub records: Vec<InstallRecord>,
    /// The unreadable ones, by name.
    pub unreadable: Vec<UnreadableRecord>,
}

impl RecordScan {
    /// The names of every installed definition, readable or not, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .records
            .iter()
            .map(|record| record.name.clone())
            .chain(self.unreadable.iter().map(|record| record.name.clone()))
            .collect();
        names.sort();
        names
    }

    /// The scan as a whole, for a caller that cannot go on without every record: the first
    /// unreadable one is the error.
    pub fn all(self) -> Result<Vec<InstallRecord>, LifecycleError> {
        match self.unreadable.into_iter().next() {
            Some(unreadable) => Err(LifecycleError::UnreadableRecord(unreadable)),
            None => Ok(self.records),
        }
    }
}

/// What [`StateStore::remove`] removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RemovedRecord {
    /// There was no record.
    Absent,
    /// This record.
    Removed(Box<InstallRecord>),
    /// A file that could not be read as a record.
    Unreadable(UnreadableRecord),
}

/// The suffix a file set aside gets: it is no longer state, and listings skip it.
pub const SET_ASIDE_SUFFIX: &str = "unreadable";

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
        .map_err(|error| {
            let problem = match error {
                JsonFileError::Io(source) => source.to_string(),
                JsonFileError::Invalid(message) => format!("not a valid install record: {message}"),
            };
            LifecycleError::UnreadableRecord(UnreadableRecord {
                name: name.to_owned(),
                path,
                problem,
            })
        })
    }

    /// Every install record, by name, the unreadable ones apart (see the module documentation).
    /// Only a state directory that cannot be listed is an error.
    pub fn scan(&self) -> Result<RecordScan, LifecycleError> {
        let names = crate::fsutil::list_stems(&self.dir, RECORD_EXTENSION).map_err(|source| {
            LifecycleError::State {
                action: "read state directory",
                path: self.dir.clone(),
                source,
            }
        })?;
        let mut scan = RecordScan::default();
        for name in names {
            match self.read(&name) {
                Ok(record) => scan.records.extend(record),
                Err(LifecycleError::UnreadableRecord(unreadable)) => {
                    scan.unreadable.push(unreadable);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(scan)
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

    /// Removes `name`'s record, readable or not.
    pub fn remove(&self, name: &str) -> Result<RemovedRecord, LifecycleError> {
        let removed = match self.read(name) {
            Ok(None) => return Ok(RemovedRecord::Absent),
            Ok(Some(record)) => RemovedRecord::Removed(Box::new(record)),
            Err(LifecycleError::UnreadableRecord(unreadable)) => {
                RemovedRecord::Unreadable(unreadable)
            }
            Err(error) => return Err(error),
        };
        let path = self.path(name);
        crate::fsutil::remove_durably(&path).map_err(|source| LifecycleError::State {
            action: "remove install record",
            path,
            source,
        })?;
        Ok(removed)
    }

    /// Moves `name`'s record file aside (to `NAME.json.unreadable`, replacing an older one);
    /// returns where it went.
    pub fn set_aside(&self, name: &str) -> Result<PathBuf, LifecycleError> {
        let path = self.path(name);
        crate::fsutil::set_aside(&path, SET_ASIDE_SUFFIX).map_err(|source| LifecycleError::State {
            action: "set aside install record",
            path,
            source,
        })
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
        assert_eq!(store.scan().unwrap(), RecordScan::default());
        store.write(&record("tools")).unwrap();
        store.write(&record("other")).unwrap();
        assert_eq!(store.scan().unwrap().names(), ["other", "tools"]);
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
        assert_eq!(
            store.remove("tools").unwrap(),
            RemovedRecord::Removed(Box::new(newer))
        );
        assert_eq!(store.remove("tools").unwrap(), RemovedRecord::Absent);
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

    #[test]
    fn an_unreadable_record_is_listed_apart_removed_unread_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::new(dir.path());
        store.write(&record("tools")).unwrap();
        store.write(&record("broken")).unwrap();
        std::fs::write(store.path("broken"), b"{\"schema_version\": 1, \"na").unwrap();
        let scan = store.scan().unwrap();
        assert_eq!(scan.records, [record("tools")]);
        let [unreadable] = scan.unreadable.as_slice() else {
            panic!("{scan:?}")
        };
        assert_eq!(
            (unreadable.name.as_str(), &unreadable.path),
            ("broken", &store.path("broken"))
        );
        assert!(
            unreadable.to_string().starts_with(&format!(
                "{}: not a valid install record: ",
                store.path("broken").display()
            )),
            "{unreadable}"
        );
        assert_eq!(scan.names(), ["broken", "tools"]);
        assert!(matches!(
            scan.clone().all(),
            Err(LifecycleError::UnreadableRecord(_))
        ));
        let aside = store.set_aside("broken").unwrap();
        assert_eq!(aside, dir.path().join("containers/broken.json.unreadable"));
        assert_eq!(store.scan().unwrap().names(), ["tools"]);
        std::fs::write(store.path("broken"), b"garbage").unwrap();
        assert!(matches!(
            store.remove("broken").unwrap(),
            RemovedRecord::Unreadable(_)
        ));
        assert!(!store.path("broken").exists());
    }
}
