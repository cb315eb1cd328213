//! `repair`: the way back from a container's state files that cannot be read — an install
//! record, an update journal, the record of a kept generation — and the list of every such file
//! that `doctor` shows. Each is reported where it is needed (the container's own commands fail
//! with [`super::Hint::Repair`]; commands about every container go on with the others); a repair
//! takes the container's lock and rebuilds what can be known from Podman and the generation
//! history, setting each unreadable file aside (`FILE.unreadable`) rather than deleting it:
//!
//! - an unreadable journal is set aside, and the container that has the active name runs as it
//!   is (what the interrupted transaction made besides is what `cleanup` and `remove` find);
//! - the install record is rebuilt from the active generation's kept record when the history has
//!   a readable one, else from the container itself (`lifecycle::record_from_container`);
//! - the record of each kept generation that cannot be read (or is missing) is rebuilt from its
//!   container, so a rollback to it works again.
//!
//! A record that reads fine and names the running generation is left alone.

use std::path::PathBuf;

use serde::Serialize;

use super::guard::take_lock;
use super::{Call, Error, Horizon};
use crate::doctor::StateProblem;
use crate::engine::Engine;
use crate::lifecycle::{self, InstallRecord, LifecycleError};
use crate::update::UpdateError;

/// Where a rebuilt install record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RebuiltFrom {
    /// The generation history's record of the running generation.
    GenerationHistory,
    /// The container's labels and inspection, and the definition.
    Container,
}

/// What a repair did to the install record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RecordRepair {
    /// It was readable and names the running generation: left alone.
    Intact,
    /// It was rebuilt.
    Rebuilt {
        /// The generation it names.
        generation: u64,
        /// From what.
        from: RebuiltFrom,
        /// Where the unreadable file was set aside, if there was one.
        set_aside: Option<PathBuf>,
    },
}

/// A kept generation's record that was rebuilt from its container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeptRepair {
    /// The generation.
    pub generation: u64,
    /// Where the unreadable file was set aside (none when it was missing).
    pub set_aside: Option<PathBuf>,
}

/// The report of [`Horizon::repair`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// The definition.
    pub name: String,
    /// The generation that runs.
    pub generation: u64,
    /// Where an unreadable journal was set aside.
    pub journal_set_aside: Option<PathBuf>,
    /// The install record.
    pub record: RecordRepair,
    /// The kept generations' records that were rebuilt.
    pub kept: Vec<KeptRepair>,
}

impl RepairReport {
    /// Whether nothing needed repairing.
    pub fn nothing_done(&self) -> bool {
        self.journal_set_aside.is_none()
            && self.record == RecordRepair::Intact
            && self.kept.is_empty()
    }
}

impl<E: Engine> Horizon<E> {
    /// Repairs definition `name`'s state files (see the module documentation).
    pub async fn repair(&self, call: Call<'_>, name: &str) -> Result<RepairReport, Error> {
        let engine = self.engine(call).await?;
        let stores = self.settings.update_stores();
        // Not `lock_for_write`: finishing the journal is what may be impossible here.
        let lock = take_lock(
            &stores,
            name,
            "repair",
            crate::update::LockWait::Unavailable,
        )
        .await?;
        let journal_set_aside = match stores.journals.read(name) {
            Ok(_) => {
                crate::update::recover(engine, &lock, &stores).await?;
                None
            }
            Err(UpdateError::BadState { .. } | UpdateError::State { .. }) => {
                Some(stores.journals.set_aside(name)?)
            }
            Err(error) => return Err(error.into()),
        };
        let containers = engine
            .list_containers(&lifecycle::managed_filter(name))
            .await
            .map_err(|error| LifecycleError::engine(name, "find the containers of", error))?;
        let active = lifecycle::active_container(name, &containers)
            .cloned()
            .ok_or_else(|| Error::NotInstalled {
                name: name.to_owned(),
            })?;
        let generation = lifecycle::generation_of(&active.labels);
        let current = self.catalog().get(name);

        let (readable, unreadable) = match stores.records.read(name) {
            Ok(record) => (record, false),
            Err(LifecycleError::UnreadableRecord(_)) => (None, true),
            Err(error) => return Err(error.into()),
        };
        let record = match readable {
            Some(record) if record.generation == generation => RecordRepair::Intact,
            _ => {
                let kept = stores.history.read(name, generation).ok().flatten();
                let (mut rebuilt, from) = match kept {
                    Some(record) => (record, RebuiltFrom::GenerationHistory),
                    None => (
                        lifecycle::record_from_container(engine, name, &active, current, true)
                            .await?,
                        RebuiltFrom::Container,
                    ),
                };
                rebuilt.container_id = active.id.clone();
                let set_aside = if unreadable {
                    Some(stores.records.set_aside(name)?)
                } else {
                    None
                };
                stores.records.write(&rebuilt)?;
                RecordRepair::Rebuilt {
                    generation,
                    from,
                    set_aside,
                }
            }
        };

        let mut kept = Vec::new();
        for container in containers
            .iter()
            .filter(|container| container.id != active.id)
        {
            let kept_generation = lifecycle::generation_of(&container.labels);
            let set_aside = match stores.history.read(name, kept_generation) {
                Ok(Some(_)) => continue,
                Ok(None) => None,
                Err(_) => Some(stores.history.set_aside(name, kept_generation)?),
            };
            let rebuilt: InstallRecord =
                lifecycle::record_from_container(engine, name, container, current, false).await?;
            stores.history.write(&rebuilt)?;
            kept.push(KeptRepair {
                generation: kept_generation,
                set_aside,
            });
        }
        drop(lock);
        Ok(RepairReport {
            name: name.to_owned(),
            generation,
            journal_set_aside,
            record,
            kept,
        })
    }

    /// Every state file of this user that cannot be read: install records, update journals,
    /// kept generations' records, the export ledger.
    pub fn unreadable_state(&self) -> Vec<StateProblem> {
        let stores = self.settings.update_stores();
        let mut problems = Vec::new();
        let mut found = |path: PathBuf, container: Option<&str>, message: String| {
            problems.push(StateProblem {
                path,
                container: container.map(str::to_owned),
                message,
            });
        };
        match stores.records.scan() {
            Ok(scan) => {
                for record in scan.unreadable {
                    found(record.path.clone(), Some(&record.name), record.to_string());
                }
            }
            Err(error) => found(
                self.settings.paths.state_dir.clone(),
                None,
                error_text(&error),
            ),
        }
        match stores.journals.names() {
            Ok(names) => {
                for name in names {
                    if let Err(error) = stores.journals.read(&name) {
                        found(stores.journals.path(&name), Some(&name), error_text(&error));
                    }
                }
            }
            Err(error) => found(
                self.settings.paths.state_dir.clone(),
                None,
                error_text(&error),
            ),
        }
        for name in stores.history.names().unwrap_or_default() {
            for generation in stores.history.generations(&name).unwrap_or_default() {
                if let Err(error) = stores.history.read(&name, generation) {
                    found(
                        stores.history.path(&name, generation),
                        Some(&name),
                        error_text(&error),
                    );
                }
            }
        }
        let ledger = crate::export::Ledger::new(&self.settings.paths.state_dir);
        if let Err(error) = ledger.read() {
            found(ledger.path(), None, error_text(&error));
        }
        problems
    }
}

/// An error and its causes on one line.
fn error_text(error: &dyn std::error::Error) -> String {
    crate::update::error_chain(error)
}
