//! The journal of an install, update or rollback in progress: one JSON file per container,
//! `STATE_DIR/journal/NAME.json`, rewritten atomically (temp file, fsync, rename, fsync of the
//! directory) after every step, and deleted when the transaction is over. A journal that exists
//! when no process holds the container's lock is an interrupted transaction: the next command that
//! touches the container first completes or reverts it ([`super::recover`]) from what the journal
//! says was made (ids of containers and images, never guesses from names).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::UpdateError;
use crate::fsutil::read_json;

/// Version of the journal format; bumped on any incompatible change.
pub const JOURNAL_SCHEMA_VERSION: u32 = 1;
/// The directory of journals inside the state directory.
const JOURNAL_DIR: &str = "journal";

/// What the transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// Build the first generation of a definition that has no container, and create, start and
    /// verify its container under the active name (nothing ran before it).
    Install,
    /// Build the next generation and swap it in.
    Update,
    /// The same, rebuilding even what is up to date (`install --reinstall`).
    Reinstall,
    /// Swap a kept generation back in.
    Rollback,
}

impl Operation {
    /// Whether it builds a new generation (an update or a reinstall), rather than swapping a kept
    /// one back in: what recovery removes when it reverts, and whether it prunes.
    pub fn builds_next(self) -> bool {
        matches!(
            self,
            Operation::Install | Operation::Update | Operation::Reinstall
        )
    }

    /// Whether a container ran before it (every operation but an install): what recovery puts
    /// back when it reverts, and what it keeps for rollback when it completes.
    pub fn replaces(self) -> bool {
        self != Operation::Install
    }

    /// The operation in a sentence: "update", "reinstall", "rollback".
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::Update => "update",
            Operation::Reinstall => "reinstall",
            Operation::Rollback => "rollback",
        }
    }
}

/// The steps a journal records, in the order a transaction passes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalStep {
    /// The transaction began; nothing was made yet.
    Begun,
    /// The next generation's image was built: pulled, packages installed, committed (an update).
    Built,
    /// Its container runs beside the old one and passed the definition's verify commands and the
    /// export check (an update); an install's container runs under the active name and passed
    /// the verify commands. From here on, recovery completes an install.
    Verified,
    /// The old container was stopped: the swap began.
    StoppedOld,
    /// The old container was renamed to its generation's name.
    RenamedOld,
    /// The new container was named `horizonos-NAME`: from here on, recovery completes.
    RenamedNew,
    /// The new container runs under its final name.
    StartedNew,
    /// The install record names the new generation.
    Recorded,
}

/// The journal of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// [`JOURNAL_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Update or rollback.
    pub operation: Operation,
    /// The definition name.
    pub name: String,
    /// The process that ran it.
    pub pid: u32,
    /// When it began (RFC 3339, UTC).
    pub started_at: String,
    /// The generation that ran before (0 for an install: none did).
    pub from_generation: u64,
    /// The container that ran before (its id; empty for an install).
    pub from_container: String,
    /// Whether it was running when the transaction began (recovery restores that).
    pub from_was_running: bool,
    /// The generation being put in place.
    pub to_generation: u64,
    /// The install record the new generation gets (an update: once verified; a rollback: from
    /// the generation's kept record).
    pub to_record: Option<crate::lifecycle::InstallRecord>,
    /// Previous generations to keep when the update completes.
    pub keep_previous: usize,
    /// The base image an update pulled that was not there before (its id).
    pub pulled_image: Option<String>,
    /// The steps done so far, in order.
    pub steps: Vec<JournalStep>,
    /// The change of the user layer's definition file the transaction makes when it completes
    /// (a toolchain set up or removed, a rollback past one); absent for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_change: Option<DefinitionChange>,
}

/// A change of a user-layer definition file that a transaction makes when it completes, never
/// before: until then the file is as it was, so a transaction that reverts changed nothing. When
/// it completes, `before` becomes the definition snapshot of the generation that ran before (what
/// a rollback to that generation puts back), then the file gets `after`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionChange {
    /// The file.
    pub path: PathBuf,
    /// Its content before the transaction (`None`: there was no file).
    pub before: Option<String>,
    /// Its content after it (`None`: the file is removed).
    pub after: Option<String>,
}

impl DefinitionChange {
    /// Gives the file its `after` content, atomically (idempotent: recovery may apply it again).
    pub(crate) fn apply(&self) -> Result<(), UpdateError> {
        match &self.after {
            Some(text) => crate::fsutil::write_atomic(&self.path, text.as_bytes()).map_err(
                |(path, source)| UpdateError::State {
                    action: "write the user definition",
                    path,
                    source,
                },
            ),
            None => {
                crate::fsutil::remove_durably(&self.path).map_err(|source| UpdateError::State {
                    action: "remove the user definition",
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }
}

impl Journal {
    /// The journal of an install of `name` as generation `generation` that begins now, with
    /// nothing made yet.
    pub(crate) fn install(name: &str, generation: u64) -> Self {
        Journal {
            schema_version: JOURNAL_SCHEMA_VERSION,
            operation: Operation::Install,
            name: name.to_owned(),
            pid: std::process::id(),
            started_at: super::timestamp::rfc3339(super::timestamp::now_unix()),
            from_generation: 0,
            from_container: String::new(),
            from_was_running: false,
            to_generation: generation,
            to_record: None,
            keep_previous: 0,
            pulled_image: None,
            steps: vec![JournalStep::Begun],
            definition_change: None,
        }
    }

    /// Whether recovery completes the transaction rather than reverting it: once the new
    /// container has the active name (an update, a rollback), or once it was verified (an
    /// install, whose container has that name from its creation; only the start and the record
    /// remain).
    pub fn completes_on_recovery(&self) -> bool {
        match self.operation {
            Operation::Install => self.reached(JournalStep::Verified),
            _ => self.reached(JournalStep::RenamedNew),
        }
    }

    /// Whether `step` was recorded.
    pub fn reached(&self, step: JournalStep) -> bool {
        self.steps.contains(&step)
    }

    /// The furthest step recorded.
    pub fn last_step(&self) -> JournalStep {
        self.steps
            .iter()
            .copied()
            .max()
            .unwrap_or(JournalStep::Begun)
    }
}

/// The journals of one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalStore {
    dir: PathBuf,
}

impl JournalStore {
    /// The journals kept under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        JournalStore {
            dir: state_dir.join(JOURNAL_DIR),
        }
    }

    /// The journal file of definition `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Whether definition `name` has a journal (one `stat`: cheap enough for every command).
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Definition `name`'s journal, if a transaction is in progress or was interrupted.
    pub fn read(&self, name: &str) -> Result<Option<Journal>, UpdateError> {
        let path = self.path(name);
        read_json(
            &path,
            |journal: &Journal| journal.schema_version,
            JOURNAL_SCHEMA_VERSION,
        )
        .map_err(|error| UpdateError::from_state_file(error, name, "update journal", path))
    }

    /// Writes `journal` atomically and durably.
    pub fn write(&self, journal: &Journal) -> Result<(), UpdateError> {
        // Strings, numbers and lists: it always serialises.
        let mut bytes = serde_json::to_vec_pretty(journal).unwrap_or_default();
        bytes.push(b'\n');
        crate::fsutil::write_atomic(&self.path(&journal.name), &bytes).map_err(|(path, source)| {
            UpdateError::State {
                action: "write the update journal",
                path,
                source,
            }
        })
    }

    /// Records `step` in `journal` and writes it.
    pub fn record(&self, journal: &mut Journal, step: JournalStep) -> Result<(), UpdateError> {
        if !journal.reached(step) {
            journal.steps.push(step);
        }
        self.write(journal)
    }

    /// The names that have a journal file, sorted.
    pub fn names(&self) -> Result<Vec<String>, UpdateError> {
        crate::fsutil::list_stems(&self.dir, "json").map_err(|source| UpdateError::State {
            action: "list the update journals",
            path: self.dir.clone(),
            source,
        })
    }

    /// Moves definition `name`'s journal aside (it cannot be read): returns where it went.
    pub fn set_aside(&self, name: &str) -> Result<PathBuf, UpdateError> {
        let path = self.path(name);
        crate::fsutil::set_aside(&path, crate::lifecycle::SET_ASIDE_SUFFIX).map_err(|source| {
            UpdateError::State {
                action: "set aside the update journal",
                path,
                source,
            }
        })
    }

    /// Deletes definition `name`'s journal: the transaction is over.
    pub fn clear(&self, name: &str) -> Result<(), UpdateError> {
        let path = self.path(name);
        crate::fsutil::remove_durably(&path).map_err(|source| UpdateError::State {
            action: "remove the update journal",
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal() -> Journal {
        Journal {
            schema_version: JOURNAL_SCHEMA_VERSION,
            operation: Operation::Update,
            name: "tools".into(),
            pid: 42,
            started_at: "2026-01-01T00:00:00Z".into(),
            from_generation: 1,
            from_container: "c1".into(),
            from_was_running: true,
            to_generation: 2,
            to_record: None,
            keep_previous: 2,
            pulled_image: None,
            steps: vec![JournalStep::Begun],
            definition_change: None,
        }
    }

    #[test]
    fn steps_are_recorded_durably_once_and_the_journal_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::new(dir.path());
        assert!(!store.exists("tools"));
        assert_eq!(store.read("tools").unwrap(), None);
        let mut written = journal();
        store.write(&written).unwrap();
        store.record(&mut written, JournalStep::Built).unwrap();
        store.record(&mut written, JournalStep::Built).unwrap();
        store.record(&mut written, JournalStep::StoppedOld).unwrap();
        let read = store.read("tools").unwrap().unwrap();
        assert_eq!(
            read.steps,
            [
                JournalStep::Begun,
                JournalStep::Built,
                JournalStep::StoppedOld
            ]
        );
        assert_eq!(read.last_step(), JournalStep::StoppedOld);
        assert!(read.reached(JournalStep::Built) && !read.reached(JournalStep::RenamedNew));
        store.clear("tools").unwrap();
        store.clear("tools").unwrap();
        assert!(!store.exists("tools"));
    }

    #[test]
    fn a_torn_or_foreign_journal_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let store = JournalStore::new(dir.path());
        std::fs::create_dir_all(dir.path().join("journal")).unwrap();
        std::fs::write(store.path("tools"), b"{\"schema_version\": 1, \"oper").unwrap();
        let error = store.read("tools").unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "{}: not a valid update journal: ",
                store.path("tools").display()
            )),
            "{error}"
        );
        let mut future = journal();
        future.schema_version = 9;
        store.write(&future).unwrap();
        assert_eq!(
            store.read("tools").unwrap_err().to_string(),
            format!(
                "{}: not a valid update journal: schema_version 9 (this horizon reads 1)",
                store.path("tools").display()
            )
        );
    }
}
