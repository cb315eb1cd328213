//! System generations: what the whole machine ran at one moment — the base deployment that boots
//! next and every container's generation and image digest — recorded by each `horizon-update
//! --all`/`--containers` run, so that one rollback restores both sides together.
//!
//! On disk: `STATE_DIR/system-generations/N.json`, one immutable file per generation, and
//! `STATE_DIR/system-generations/current`, the number of the generation in effect. Each generation
//! names its parent, the generation that was in effect when it was recorded: a rollback goes to the
//! parent of the one in effect (what the machine ran before the last run changed it), and a second
//! rollback to the parent's parent. Every file is written atomically,
//! so a crash leaves the old state or the new one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::BackendKind;

/// Version of the generation file format; bumped on any incompatible change.
pub const SYSTEM_GENERATION_SCHEMA_VERSION: u32 = 1;
/// The directory of system generations inside the state directory.
const GENERATIONS_DIR: &str = "system-generations";
/// The file naming the generation in effect.
const CURRENT_FILE: &str = "current";
/// Suffix of a generation file.
const GENERATION_EXTENSION: &str = "json";

/// The base system as a generation records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseRecord {
    /// The tool that manages it.
    pub backend: BackendKind,
    /// The OS name (stateroot), when known.
    pub os: Option<String>,
    /// The commit of the deployment that boots next.
    pub checksum: String,
    /// Its version, when the commit has one.
    pub version: Option<String>,
}

/// One container as a generation records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// The definition name.
    pub name: String,
    /// Its generation (`localhost/horizonos/NAME:GENERATION`).
    pub generation: u64,
    /// The image digest that generation was built from.
    pub image_digest: Option<String>,
}

/// Why a generation was recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GenerationCause {
    /// The state found before an update run (first run, or changed since by other tools).
    Found,
    /// The result of `horizon-update --all`.
    UpdateAll,
    /// The result of `horizon-update --containers`.
    UpdateContainers,
}

/// What the machine ran at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemGeneration {
    /// [`SYSTEM_GENERATION_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// 1, 2, 3… in the order they were recorded.
    pub generation: u64,
    /// When it was recorded (seconds since the Unix epoch).
    pub recorded_unix: u64,
    /// The generation that was in effect when this one was recorded (`None` for the first).
    pub parent: Option<u64>,
    /// Why it was recorded: the state found before an update run, or an update's result.
    pub cause: GenerationCause,
    /// `None` when the machine has no OSTree base (or it could not be read).
    pub base: Option<BaseRecord>,
    /// Every installed container, by name.
    pub containers: Vec<ContainerRecord>,
}

impl SystemGeneration {
    /// True when both record the same base commit and the same containers.
    pub fn same_state(&self, base: Option<&BaseRecord>, containers: &[ContainerRecord]) -> bool {
        self.base.as_ref().map(|base| &base.checksum) == base.map(|base| &base.checksum)
            && self.containers == containers
    }
}

/// Reading or writing generations failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerationError {
    /// A file or directory could not be read or written.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `list`…).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a generation this horizon can read.
    #[error("{}: not a valid system generation: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// The system generations kept in one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerationStore {
    dir: PathBuf,
}

impl GenerationStore {
    /// The generations kept under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        GenerationStore {
            dir: state_dir.join(GENERATIONS_DIR),
        }
    }

    /// The directory the generations live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, generation: u64) -> PathBuf {
        self.dir
            .join(format!("{generation}.{GENERATION_EXTENSION}"))
    }

    /// Every generation, oldest first.
    pub fn list(&self) -> Result<Vec<SystemGeneration>, GenerationError> {
        let stems =
            crate::fsutil::list_stems(&self.dir, GENERATION_EXTENSION).map_err(|source| {
                GenerationError::Io {
                    action: "read",
                    path: self.dir.clone(),
                    source,
                }
            })?;
        let mut numbers: Vec<u64> = stems.iter().filter_map(|stem| stem.parse().ok()).collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|number| self.read(number))
            .collect()
    }

    /// Generation `generation`.
    pub fn read(&self, generation: u64) -> Result<SystemGeneration, GenerationError> {
        use crate::fsutil::{JsonFileError, read_json};
        let path = self.path(generation);
        let read = read_json(
            &path,
            |generation: &SystemGeneration| generation.schema_version,
            SYSTEM_GENERATION_SCHEMA_VERSION,
        );
        let io = |path: PathBuf, source| GenerationError::Io {
            action: "read",
            path,
            source,
        };
        match read {
            Ok(Some(generation)) => Ok(generation),
            Ok(None) => Err(io(path, std::io::ErrorKind::NotFound.into())),
            Err(JsonFileError::Io(source)) => Err(io(path, source)),
            Err(JsonFileError::Invalid(message)) => Err(GenerationError::Invalid { path, message }),
        }
    }

    /// The number of the generation in effect (the newest when no pointer was written yet).
    pub fn current(&self) -> Result<Option<u64>, GenerationError> {
        let path = self.dir.join(CURRENT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| GenerationError::Invalid {
                    path,
                    message: format!("{:?} is not a generation number", text.trim()),
                }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(self.list()?.last().map(|newest| newest.generation))
            }
            Err(source) => Err(GenerationError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Records a new generation (numbered after the newest, its parent the one in effect) and
    /// makes it current.
    pub fn record(
        &self,
        cause: GenerationCause,
        recorded_unix: u64,
        base: Option<BaseRecord>,
        containers: Vec<ContainerRecord>,
    ) -> Result<SystemGeneration, GenerationError> {
        let next = self
            .list()?
            .last()
            .map_or(1, |newest| newest.generation + 1);
        let generation = SystemGeneration {
            schema_version: SYSTEM_GENERATION_SCHEMA_VERSION,
            generation: next,
            recorded_unix,
            parent: self.current()?,
            cause,
            base,
            containers,
        };
        // Serialising a generation cannot fail: strings, numbers and lists only.
        let mut bytes = serde_json::to_vec_pretty(&generation).unwrap_or_default();
        bytes.push(b'\n');
        self.write(&self.path(next), &bytes)?;
        self.set_current(next)?;
        Ok(generation)
    }

    /// Makes `generation` the one in effect.
    pub fn set_current(&self, generation: u64) -> Result<(), GenerationError> {
        self.write(
            &self.dir.join(CURRENT_FILE),
            format!("{generation}\n").as_bytes(),
        )
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), GenerationError> {
        crate::fsutil::write_atomic(path, bytes).map_err(|(path, source)| GenerationError::Io {
            action: "write",
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(checksum: &str) -> BaseRecord {
        BaseRecord {
            backend: BackendKind::Ostree,
            os: Some("horizon".into()),
            checksum: checksum.into(),
            version: None,
        }
    }

    fn container(generation: u64) -> ContainerRecord {
        ContainerRecord {
            name: "tools".into(),
            generation,
            image_digest: Some(format!("sha256:{generation}")),
        }
    }

    #[test]
    fn generations_are_numbered_kept_and_the_pointer_moves() {
        let dir = tempfile::tempdir().unwrap();
        let store = GenerationStore::new(dir.path());
        assert_eq!(store.list().unwrap(), []);
        assert_eq!(store.current().unwrap(), None);
        let first = store
            .record(
                GenerationCause::Found,
                10,
                Some(base("v1")),
                vec![container(1)],
            )
            .unwrap();
        let second = store
            .record(
                GenerationCause::UpdateAll,
                20,
                Some(base("v2")),
                vec![container(2)],
            )
            .unwrap();
        assert_eq!((first.generation, second.generation), (1, 2));
        assert_eq!(store.current().unwrap(), Some(2));
        assert_eq!(store.list().unwrap(), [first.clone(), second.clone()]);
        store.set_current(1).unwrap();
        assert_eq!(store.current().unwrap(), Some(1));
        // A new record is numbered after the newest; its parent is the one in effect.
        let third = store
            .record(GenerationCause::UpdateContainers, 30, None, vec![])
            .unwrap();
        assert_eq!((third.generation, third.parent), (3, Some(1)));
        assert_eq!((first.parent, second.parent), (None, Some(1)));
        assert!(first.same_state(Some(&base("v1")), &[container(1)]));
        assert!(!first.same_state(Some(&base("v2")), &[container(1)]));
        let files: Vec<String> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with('.'))
            .collect();
        assert_eq!(files, Vec::<String>::new(), "no temp files left");
    }

    #[test]
    fn a_damaged_pointer_or_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = GenerationStore::new(dir.path());
        store
            .record(GenerationCause::Found, 1, None, vec![])
            .unwrap();
        std::fs::write(store.dir().join("current"), "two\n").unwrap();
        assert_eq!(
            store.current().unwrap_err().to_string(),
            format!(
                "{}: not a valid system generation: \"two\" is not a generation number",
                store.dir().join("current").display()
            )
        );
        std::fs::write(store.dir().join("1.json"), "{").unwrap();
        assert!(store.list().unwrap_err().to_string().starts_with(&format!(
            "{}: not a valid",
            store.dir().join("1.json").display()
        )));
    }
}
