//! The update use cases: `check` (the registries' digests against what is installed, nothing
//! changed), `update` of one container or many (each the verified A/B transaction under its own
//! lock, then the exports its definition declares), and `rollback` to a kept generation. Every
//! binary updates containers through [`Horizon::update`]: `horizon-container update` and
//! `horizon-update --containers` take the same steps, export the same binaries and report the
//! same outcomes. One container that fails carries its error and does not stop the others.

use std::time::Duration;

use serde::Serialize;

use super::exports::DeclaredExports;
use super::{Call, Error, Event, Horizon};
use crate::definition::{Catalog, ResolvedDefinition};
use crate::engine::Engine;
use crate::export::UnexportOutcome;
use crate::update::{
    self, CheckRequest, ContainerCheck, ContainerLock, DefinitionChange, LockWait, RegistryClient,
    RollbackOutcome, RollbackTarget, UpdateOutcome, UpdateProgress, UpdateRequest,
};

/// Which containers to update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateSelection {
    /// These definitions (each must be defined).
    Names(Vec<String>),
    /// Every installed container (one whose definition is gone fails alone).
    All,
}

/// How to update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateOptions {
    /// Queue behind another horizon process holding a container's lock instead of failing.
    pub wait: bool,
    /// Previous generations to keep (`None`: the settings' default).
    pub keep_previous: Option<usize>,
    /// The registry timeout (`None`: the settings' client as it is).
    pub registry_timeout: Option<Duration>,
    /// The operation named in each container's lock (what a busy command reports).
    pub lock_operation: Option<&'static str>,
}

/// How to roll back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RollbackOptions {
    /// Queue behind another horizon process holding the container's lock instead of failing.
    pub wait: bool,
    /// The operation named in the container's lock (what a busy command reports).
    pub lock_operation: Option<&'static str>,
}

/// One container's update. Its JSON: `name`, the outcome's fields (absent on failure),
/// `exports`, and `error` (null on success).
#[derive(Debug)]
pub struct ContainerUpdate {
    /// The definition.
    pub name: String,
    /// What the update did, or why it failed (the running container is then untouched unless
    /// the error says otherwise).
    pub result: Result<UpdateOutcome, Error>,
    /// The definition's `export_binaries`, exported after an update (a binary the new definition
    /// added gets its wrapper; existing wrappers are unchanged).
    pub exports: Option<DeclaredExports>,
}

/// The report of [`Horizon::update`].
#[derive(Debug, Serialize)]
pub struct UpdatesReport {
    /// One entry per container, in the order asked (name order for all).
    pub containers: Vec<ContainerUpdate>,
}

impl UpdatesReport {
    /// The failure of the whole call: none when every update succeeded.
    pub fn failure(&self) -> Option<Error> {
        let failed: Vec<&Error> = self
            .containers
            .iter()
            .filter_map(|update| update.result.as_ref().err())
            .collect();
        (!failed.is_empty()).then(|| Error::Partial {
            operation: "update",
            failed: failed.len(),
            total: self.containers.len(),
            all_refused: failed
                .iter()
                .all(|error| error.kind() == super::ErrorKind::UpdateRefused),
        })
    }
}

/// What `check` found.
pub type CheckOutcome = Vec<ContainerCheck>;

/// What a rollback did.
#[derive(Debug, Serialize)]
pub struct RollbackReport {
    /// The definition.
    pub name: String,
    /// What changed.
    #[serde(flatten)]
    pub outcome: RollbackOutcome,
    /// When the rollback put back the user definition the generation was built from (past a
    /// toolchain's setup): the exports of the definition as it is again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exports: Option<DeclaredExports>,
    /// The wrappers removed with the binaries the definition put back no longer declares.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unexported: Vec<UnexportOutcome>,
}

impl Serialize for ContainerUpdate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            name: &'a str,
            #[serde(flatten)]
            outcome: Option<&'a UpdateOutcome>,
            exports: Option<&'a DeclaredExports>,
            error: Option<String>,
        }
        Entry {
            name: &self.name,
            outcome: self.result.as_ref().ok(),
            exports: self.exports.as_ref(),
            error: self
                .result
                .as_ref()
                .err()
                .map(|error| update::error_chain(error)),
        }
        .serialize(serializer)
    }
}

impl<E: Engine> Horizon<E> {
    /// Checks the installed containers `names` (none: every one) against their registries.
    pub async fn check(
        &self,
        names: &[String],
        timeout: Option<Duration>,
    ) -> Result<CheckOutcome, Error> {
        let registry = self.registry(timeout);
        let checks = update::check(CheckRequest {
            catalog: self.catalog(),
            state: &self.state_store(),
            names,
            registry: &registry,
        })
        .await
        .map_err(|error| match error {
            // Naming a container that is not installed is a mistake in the input.
            update::UpdateError::Lifecycle(crate::lifecycle::LifecycleError::NotInstalled {
                name,
            }) => Error::InvalidRequest {
                message: format!("`{name}` is not installed"),
            },
            other => other.into(),
        })?;
        Ok(checks)
    }

    /// Updates the containers of `selection`, one after the other, each under its lock. The
    /// report holds each container's outcome or error; the call itself fails only when the
    /// request is invalid, no service answers, or it is cancelled.
    pub async fn update(
        &self,
        call: Call<'_>,
        selection: UpdateSelection,
        options: &UpdateOptions,
    ) -> Result<UpdatesReport, Error> {
        let names: Vec<String> = match selection {
            UpdateSelection::Names(names) if names.is_empty() => {
                return Err(Error::InvalidRequest {
                    message: "no container named: say which to update, or all".to_owned(),
                });
            }
            UpdateSelection::Names(names) => {
                for name in &names {
                    self.resolve_to_build(name, "updated")?;
                }
                names
            }
            // A container whose record cannot be read is tried too: its update fails alone.
            UpdateSelection::All => self.state_store().scan()?.names(),
        };
        if names.is_empty() {
            return Ok(UpdatesReport {
                containers: Vec::new(),
            });
        }
        self.engine(call).await?;
        self.warn_unusable_agent(call);
        let all: Vec<&str> = names.iter().map(String::as_str).collect();
        self.until_cancelled(call, "update", &all, async {
            let mut containers = Vec::new();
            for name in &names {
                let result = self.update_one(call, name, options).await;
                let exports = matches!(result, Ok(UpdateOutcome::Updated { .. })).then(|| {
                    let declared = self
                        .resolve(name)
                        .map(|resolved| resolved.definition.export_binaries.clone())
                        .unwrap_or_default();
                    self.export_declared(name, &declared)
                });
                containers.push(ContainerUpdate {
                    name: name.clone(),
                    result,
                    exports,
                });
            }
            Ok(UpdatesReport { containers })
        })
        .await
    }

    /// One container's update under its lock.
    async fn update_one(
        &self,
        call: Call<'_>,
        name: &str,
        options: &UpdateOptions,
    ) -> Result<UpdateOutcome, Error> {
        let resolved = self.resolve_to_build(name, "updated")?;
        let operation = options.lock_operation.unwrap_or("update");
        let lock = self
            .lock_for_write(call, name, operation, LockWait::when(options.wait))
            .await?;
        self.update_locked(call, &lock, resolved, options, None)
            .await
    }

    /// The update transaction of `resolved`'s container, whose lock the caller holds (and whose
    /// journal it recovered): the one place a use case updates a container. `definition_change`
    /// is the user file the transaction writes when it completes (a toolchain's setup).
    pub(crate) async fn update_locked(
        &self,
        call: Call<'_>,
        lock: &ContainerLock,
        resolved: &ResolvedDefinition,
        options: &UpdateOptions,
        definition_change: Option<&DefinitionChange>,
    ) -> Result<UpdateOutcome, Error> {
        let name = resolved.definition.name.as_str();
        let stores = self.settings.update_stores();
        let registry = self.registry(options.registry_timeout);
        let request = UpdateRequest {
            resolved,
            stores: &stores,
            desktop: &self.settings.desktop,
            registry: &registry,
            keep_previous: options.keep_previous.unwrap_or(self.settings.keep_previous),
            agent: self.settings.agent_host(),
            rebuild: false,
            definition_change,
        };
        let progress = |progress: &UpdateProgress<'_>| call.emit(Event::Update { name, progress });
        Ok(update::update(self.engine(call).await?, lock, request, &progress).await?)
    }

    /// Returns definition `name`'s container to `target`, without any network.
    pub async fn rollback(
        &self,
        call: Call<'_>,
        name: &str,
        target: RollbackTarget,
        options: RollbackOptions,
    ) -> Result<RollbackReport, Error> {
        self.engine(call).await?;
        self.until_cancelled(call, "rollback", &[name], async {
            let lock = self
                .lock_for_write(
                    call,
                    name,
                    options.lock_operation.unwrap_or("rollback"),
                    LockWait::when(options.wait),
                )
                .await?;
            let stores = self.settings.update_stores();
            let declared = |catalog: &Catalog| {
                catalog
                    .get(name)
                    .map(|resolved| resolved.definition.export_binaries.clone())
            };
            let before = declared(self.catalog());
            let outcome =
                update::rollback(self.engine(call).await?, &lock, &stores, target).await?;
            // The rollback may have put back the user file: the definition is read again.
            let after = declared(&crate::definition::load(&self.settings.sources));
            let (exports, unexported) = match (&outcome, before, after) {
                (RollbackOutcome::RolledBack { .. }, Some(before), Some(after))
                    if before != after =>
                {
                    let (exports, unexported) = self.follow_declared(name, &before, &after, &[])?;
                    (Some(exports), unexported)
                }
                _ => (None, Vec::new()),
            };
            Ok(RollbackReport {
                name: name.to_owned(),
                outcome,
                exports,
                unexported,
            })
        })
        .await
    }

    /// The registry client, with `timeout` when given.
    fn registry(&self, timeout: Option<Duration>) -> RegistryClient {
        let mut registry = self.settings.registry.clone();
        if let Some(timeout) = timeout {
            registry.timeout = timeout;
        }
        registry
    }
}
