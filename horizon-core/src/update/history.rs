//! The install records of a definition's kept generations: `STATE_DIR/generations/NAME/GEN.json`,
//! each the record that was active while that generation ran (image digest, packages, generation
//! image). A rollback makes the target generation's record the active one again, without asking
//! any registry; pruning a generation deletes its record.
//!
//! Beside a record, `GEN.definition.json` is the definition snapshot of that generation: the
//! user-layer file it was built from, kept when a transaction changed that file (a toolchain set
//! up or removed; see [`super::journal::DefinitionChange`]). A rollback to the generation puts the
//! file back, so the definition says again what that generation has.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::UpdateError;
use crate::fsutil::read_json;
use crate::lifecycle::{INSTALL_RECORD_SCHEMA_VERSION, InstallRecord};

/// The directory of generation records inside the state directory.
const GENERATIONS_DIR: &str = "generations";
/// Version of the definition snapshot format.
const SNAPSHOT_SCHEMA_VERSION: u32 = 1;

/// The user-layer definition file a generation was built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionSnapshot {
    /// The format version (1).
    pub schema_version: u32,
    /// The file.
    pub path: PathBuf,
    /// Its content (`None`: there was no user file).
    pub content: Option<String>,
}

/// The generation records of one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationHistory {
    dir: PathBuf,
}

impl GenerationHistory {
    /// The records kept under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        GenerationHistory {
            dir: state_dir.join(GENERATIONS_DIR),
        }
    }

    /// The file of generation `generation` of definition `name`.
    pub fn path(&self, name: &str, generation: u64) -> PathBuf {
        self.dir.join(name).join(format!("{generation}.json"))
    }

    /// Keeps `record` as its generation's record.
    pub fn write(&self, record: &InstallRecord) -> Result<(), UpdateError> {
        let mut bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        bytes.push(b'\n');
        crate::fsutil::write_atomic(&self.path(&record.name, record.generation), &bytes).map_err(
            |(path, source)| UpdateError::State {
                action: "write the generation record",
                path,
                source,
            },
        )
    }

    /// The file of generation `generation`'s definition snapshot.
    pub fn snapshot_path(&self, name: &str, generation: u64) -> PathBuf {
        self.dir
            .join(name)
            .join(format!("{generation}.definition.json"))
    }

    /// Keeps `content` of the user file `path` as generation `generation`'s definition snapshot.
    pub fn write_snapshot(
        &self,
        name: &str,
        generation: u64,
        path: &Path,
        content: Option<&str>,
    ) -> Result<(), UpdateError> {
        let snapshot = DefinitionSnapshot {
            schema_version: SNAPSHOT_SCHEMA_VERSION,
            path: path.to_owned(),
            content: content.map(str::to_owned),
        };
        let mut bytes = serde_json::to_vec_pretty(&snapshot).unwrap_or_default();
        bytes.push(b'\n');
        crate::fsutil::write_atomic(&self.snapshot_path(name, generation), &bytes).map_err(
            |(path, source)| UpdateError::State {
                action: "write the definition snapshot",
                path,
                source,
            },
        )
    }

    /// Generation `generation`'s definition snapshot, if one was kept.
    pub fn read_snapshot(
        &self,
        name: &str,
        generation: u64,
    ) -> Result<Option<DefinitionSnapshot>, UpdateError> {
        let path = self.snapshot_path(name, generation);
        read_json(
            &path,
            |snapshot: &DefinitionSnapshot| snapshot.schema_version,
            SNAPSHOT_SCHEMA_VERSION,
        )
        .map_err(|error| UpdateError::from_state_file(error, name, "definition snapshot", path))
    }

    /// The record of generation `generation` of `name`, if kept.
    pub fn read(&self, name: &str, generation: u64) -> Result<Option<InstallRecord>, UpdateError> {
        let path = self.path(name, generation);
        read_json(
            &path,
            |record: &InstallRecord| record.schema_version,
            INSTALL_RECORD_SCHEMA_VERSION,
        )
        .map_err(|error| UpdateError::from_state_file(error, name, "generation record", path))
    }

    /// The definitions that have generation records, sorted.
    pub fn names(&self) -> Result<Vec<String>, UpdateError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(self.list_error(self.dir.clone(), source)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.list_error(self.dir.clone(), source))?;
            if entry.file_type().is_ok_and(|kind| kind.is_dir())
                && let Some(name) = entry.file_name().to_str()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The generations of `name` that have a record file, ascending.
    pub fn generations(&self, name: &str) -> Result<Vec<u64>, UpdateError> {
        let dir = self.dir.join(name);
        let stems = crate::fsutil::list_stems(&dir, "json")
            .map_err(|source| self.list_error(dir.clone(), source))?;
        let mut generations: Vec<u64> = stems.iter().filter_map(|stem| stem.parse().ok()).collect();
        generations.sort_unstable();
        Ok(generations)
    }

    fn list_error(&self, path: PathBuf, source: std::io::Error) -> UpdateError {
        UpdateError::State {
            action: "list the generation records",
            path,
            source,
        }
    }

    /// Moves the record of generation `generation` of `name` aside (it cannot be read): returns
    /// where it went.
    pub fn set_aside(&self, name: &str, generation: u64) -> Result<PathBuf, UpdateError> {
        let path = self.path(name, generation);
        crate::fsutil::set_aside(&path, crate::lifecycle::SET_ASIDE_SUFFIX).map_err(|source| {
            UpdateError::State {
                action: "set aside the generation record",
                path,
                source,
            }
        })
    }

    /// Forgets generation `generation` of `name` (its record and its definition snapshot).
    pub fn remove(&self, name: &str, generation: u64) -> Result<(), UpdateError> {
        let snapshot = self.snapshot_path(name, generation);
        crate::fsutil::remove_durably(&snapshot).map_err(|source| UpdateError::State {
            action: "remove the definition snapshot",
            path: snapshot,
            source,
        })?;
        let path = self.path(name, generation);
        crate::fsutil::remove_durably(&path).map_err(|source| UpdateError::State {
            action: "remove the generation record",
            path,
            source,
        })
    }

    /// Forgets every generation of `name` (when it is removed).
    pub fn remove_all(&self, name: &str) -> Result<(), UpdateError> {
        let dir = self.dir.join(name);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(UpdateError::State {
                action: "remove the generation records",
                path: dir,
                source,
            }),
        }
    }
}
