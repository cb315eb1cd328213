//! `install` and `install --reinstall` as one call: under the container's lock, a definition with
//! no container is installed (pull, build the generation, create, verify, start, record); one
//! that has a container is left alone, or with `reinstall` rebuilt by the update transaction
//! (journaled, verified beside the running container, the replaced generation kept for
//! rollback). Either way the definition's `export_binaries` are exported afterwards, and a
//! definition with `autostart` has its unit enabled and started (`Horizon::enable`).

use super::exports::DeclaredExports;
use super::{Call, Error, Event, Horizon};
use crate::engine::Engine;
use crate::lifecycle::{self, InstallOutcome, InstallRecord, InstallRequest};
use crate::update::{UpdateOutcome, UpdateRequest};

/// How to install.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Rebuild an installed definition even when nothing changed.
    pub reinstall: bool,
    /// Previous generations a reinstall keeps (`None`: the settings' default).
    pub keep_previous: Option<usize>,
}

/// What an install did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Installed {
    /// A new generation was built, its container created, verified, started and recorded.
    Installed {
        /// The record.
        record: InstallRecord,
    },
    /// It has a container already; nothing changed.
    AlreadyInstalled {
        /// The container's generation (from its label).
        generation: Option<u64>,
        /// The container's name.
        container: String,
        /// Its install record.
        record: Option<InstallRecord>,
        /// The definition changed since (a reinstall applies it).
        drifted: bool,
    },
    /// It was rebuilt by the update transaction.
    Reinstalled {
        /// What the transaction did.
        outcome: UpdateOutcome,
        /// The record it wrote.
        record: Option<InstallRecord>,
    },
}

/// The report of [`Horizon::install`].
#[derive(Debug)]
pub struct InstallReport {
    /// The definition.
    pub name: String,
    /// What was done.
    pub installed: Installed,
    /// The exports of its `export_binaries`.
    pub exports: DeclaredExports,
    /// With `autostart`: its unit enabled and started, or why not (the container is installed
    /// either way).
    pub autostart: Option<Result<super::ServiceReport, Error>>,
}

impl<E: Engine> Horizon<E> {
    /// Installs definition `name` (see the module documentation).
    pub async fn install(
        &self,
        call: Call<'_>,
        name: &str,
        options: InstallOptions,
    ) -> Result<InstallReport, Error> {
        let resolved = self.resolve_to_build(name, "installed")?;
        self.engine(call).await?;
        self.warn_unusable_agent(call);
        let operation = if options.reinstall {
            "reinstall"
        } else {
            "install"
        };
        let installed = self
            .until_cancelled(call, operation, &[name], async {
                let lock = self
                    .lock_for_write(call, name, "install", crate::update::LockWait::Unavailable)
                    .await?;
                let engine = self.engine(call).await?;
                let state = self.state_store();
                let stores = self.settings.update_stores();
                let request = InstallRequest {
                    resolved,
                    desktop: &self.settings.desktop,
                    state: &state,
                    journals: &stores.journals,
                    agent: self.settings.agent_host(),
                    registry: &self.settings.registry,
                };
                let progress = |progress: &lifecycle::InstallProgress<'_>| {
                    call.emit(Event::Install { name, progress });
                };
                let outcome = lifecycle::install(engine, request, &progress).await?;
                let installed = match (options.reinstall, outcome) {
                    (true, InstallOutcome::AlreadyInstalled { .. }) => {
                        let request = UpdateRequest {
                            resolved,
                            stores: &stores,
                            desktop: &self.settings.desktop,
                            registry: &self.settings.registry,
                            keep_previous: options
                                .keep_previous
                                .unwrap_or(self.settings.keep_previous),
                            agent: self.settings.agent_host(),
                            rebuild: true,
                            definition_change: None,
                        };
                        let progress = |progress: &crate::update::UpdateProgress<'_>| {
                            call.emit(Event::Update { name, progress });
                        };
                        let outcome =
                            crate::update::update(engine, &lock, request, &progress).await?;
                        Installed::Reinstalled {
                            outcome,
                            record: state.read(name)?,
                        }
                    }
                    (_, InstallOutcome::Installed { record }) => Installed::Installed { record },
                    (
                        _,
                        InstallOutcome::AlreadyInstalled {
                            container,
                            record,
                            drifted,
                        },
                    ) => Installed::AlreadyInstalled {
                        generation: container
                            .labels
                            .get(crate::labels::GENERATION)
                            .and_then(|generation| generation.parse().ok()),
                        container: container.name,
                        record,
                        drifted,
                    },
                };
                // The exports are written under the container's lock, as the container is.
                let exports = self.export_declared(name, &resolved.definition.export_binaries);
                drop(lock);
                Ok((installed, exports))
            })
            .await?;
        let autostart = if resolved.definition.autostart {
            let now = super::ServiceOptions { now: true };
            Some(self.enable(call, name, now).await)
        } else {
            None
        };
        Ok(InstallReport {
            name: name.to_owned(),
            installed: installed.0,
            exports: installed.1,
            autostart,
        })
    }
}
