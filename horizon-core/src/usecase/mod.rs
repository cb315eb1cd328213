//! Every use case of horizon, one call each: install (and reinstall), remove, start, stop,
//! status, list, logs, run and shell, export, unexport, exports, repair (of exports, and of a
//! container's unreadable state files), update (one or many),
//! check, rollback, cleanup, doctor, info, the system update of `horizon-update`, the toolchains
//! of `horizon-dev setup`, and horizon under systemd (enable, disable, serve, generate, the
//! unattended update).
//!
//! A [`Horizon`] holds what a process knows once ([`Settings`]: paths, definition sources, how
//! Podman is found, the agent, the desktop, the registry) and the engine, connected on first use.
//! Each call takes the container's lock when it changes it, finishes a transaction an earlier
//! command left in its journal, does the whole job (exports included) and returns a typed report
//! or an [`Error`]. A [`Call`] carries the cancel input and the observer of its events; a
//! cancelled call reverts or completes what it began, once, here, before it returns.
//! `horizon-container`, `horizon-update` and any embedder calling the same function get the same
//! behaviour.

mod call;
mod error;
mod exec;
mod exports;
mod guard;
mod host;
mod install;
mod manage;
mod repair;
mod services;
mod settings;
mod system;
mod toolchain;
mod updates;

use std::path::PathBuf;

use futures_util::future::BoxFuture;

pub use call::{Call, Cancel, CancelTrigger, Event, Observer, Unobserved};
pub use error::{Error, ErrorKind, Hint};
pub use exec::{
    AgentRun, ClientError, DefinitionLookup, ExecOutcome, ExecPlanned, RefusalKind,
    render_working_dir_note, this_process_caller,
};
pub use exports::{DeclaredExports, ExportsReport, RefusedExport};
pub use host::{DoctorOutcome, InfoReport};
pub use install::{InstallOptions, InstallReport, Installed};
pub use manage::{
    CleanupOutcome, InstalledWithoutDefinition, ListReport, RemoveOutcome, StartReport,
    StatusReport,
};
pub use repair::{KeptRepair, RebuiltFrom, RecordRepair, RepairReport};
pub use services::{
    SERVE_POLL_INTERVAL, ServeOutcome, ServiceOptions, ServiceReport, TimerReport, UnattendedReport,
};
pub use settings::{
    EXEC_PATH_ENV, EXPORT_DIR_ENV, ExecPath, Overrides, RUNTIME_DIR_ENV, STATE_DIR_ENV,
    ServiceHost, ServiceStart, Settings, UNIT_DIR_ENV, UPDATE_CONFIG_ENV,
};
pub use system::{SystemAction, SystemOptions};
pub use toolchain::{ListedToolchain, SetupOptions, SetupReport, ToolchainChange, ToolchainList};
pub use updates::{
    CheckOutcome, ContainerUpdate, RollbackOptions, RollbackReport, UpdateOptions, UpdateSelection,
    UpdatesReport,
};

use crate::definition::{Catalog, ResolvedDefinition};
use crate::engine::{AutoStart, ConnectError};
use crate::engine::{Connection, Engine, PodmanEngine};

/// How a [`Horizon`] gets its engine the first time a call needs one.
type Connector<E> =
    Box<dyn Fn(&Settings) -> BoxFuture<'static, Result<Connected<E>, ConnectError>> + Send + Sync>;

/// An engine, with the service started for it if one was.
struct Connected<E> {
    engine: E,
    started: Option<crate::engine::StartedService>,
}

/// horizon for one process (or one GUI session): its settings, its definitions, its engine.
pub struct Horizon<E = PodmanEngine> {
    settings: Settings,
    catalog: std::sync::OnceLock<Catalog>,
    engine: tokio::sync::OnceCell<E>,
    connector: Option<Connector<E>>,
}

impl<E> std::fmt::Debug for Horizon<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Horizon")
            .field("settings", &self.settings)
            .field("connected", &self.engine.initialized())
            .finish_non_exhaustive()
    }
}

impl Horizon<PodmanEngine> {
    /// horizon with these settings, on the Podman service they find (connected when a call first
    /// needs it; started for the user when none answers and the settings allow it).
    pub fn new(settings: Settings) -> Self {
        Horizon {
            settings,
            catalog: std::sync::OnceLock::new(),
            engine: tokio::sync::OnceCell::new(),
            connector: Some(Box::new(|settings: &Settings| {
                let discovery = settings.discovery.clone();
                let auto_start = match settings.service_start {
                    ServiceStart::WhenMissing => {
                        Some(AutoStart::new(settings.paths.runtime_dir.clone()))
                    }
                    ServiceStart::Never => None,
                };
                Box::pin(async move {
                    let Connection {
                        engine,
                        candidate,
                        started,
                    } = crate::engine::connect(&discovery, auto_start.as_ref()).await?;
                    tracing::debug!(endpoint = %candidate.endpoint, origin = %candidate.origin, "connected");
                    Ok(Connected { engine, started })
                })
            })),
        }
    }
}

impl<E: Engine> Horizon<E> {
    /// horizon with these settings on a given engine (a fake one in tests).
    pub fn with_engine(settings: Settings, engine: E) -> Self {
        Horizon {
            settings,
            catalog: std::sync::OnceLock::new(),
            engine: tokio::sync::OnceCell::new_with(Some(engine)),
            connector: None,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every definition of every layer (read once).
    pub fn catalog(&self) -> &Catalog {
        self.catalog
            .get_or_init(|| crate::definition::load(&self.settings.sources))
    }

    /// The engine, connecting on first use (a started service is reported to the observer).
    pub(crate) async fn engine(&self, call: Call<'_>) -> Result<&E, Error> {
        self.engine
            .get_or_try_init(|| async {
                let connector = self
                    .connector
                    .as_ref()
                    .ok_or_else(|| Error::InvalidRequest {
                        message: "no engine was given".to_owned(),
                    })?;
                let connected = connector(&self.settings).await?;
                if let Some(service) = &connected.started {
                    call.emit(Event::ServiceStarted {
                        service,
                        uid: self.settings.discovery.uid,
                    });
                }
                Ok(connected.engine)
            })
            .await
    }

    /// The definition called `name`, or why there is none.
    pub fn resolve(&self, name: &str) -> Result<&ResolvedDefinition, Error> {
        let catalog = self.catalog();
        catalog.get(name).ok_or_else(|| Error::UnknownDefinition {
            name: name.to_owned(),
            invalid_file: self.invalid_file(name),
            known: catalog
                .definitions
                .iter()
                .map(|resolved| resolved.definition.name.clone())
                .collect(),
        })
    }

    /// The definition called `name`, to build a container from: refused when a file that
    /// customises it was refused (the highest such file is named), since building the layers
    /// below it would make a container nobody wrote — the privilege a lower layer grants with
    /// code the refused file wanted to change, or without a change the administrator made.
    pub(crate) fn resolve_to_build(
        &self,
        name: &str,
        operation: &'static str,
    ) -> Result<&ResolvedDefinition, Error> {
        let resolved = self.resolve(name)?;
        let refused = self
            .catalog()
            .invalid
            .iter()
            .rev()
            .find(|file| crate::definition::file_stem(&file.path) == Some(name));
        match refused {
            Some(file) => Err(Error::RefusedCustomisation {
                name: name.to_owned(),
                operation,
                path: file.path.clone(),
                error: file.error.clone(),
                in_force: resolved.layer(),
            }),
            None => Ok(resolved),
        }
    }

    /// The invalid definition file named like `name`, if there is one.
    pub(crate) fn invalid_file(&self, name: &str) -> Option<PathBuf> {
        self.catalog()
            .invalid
            .iter()
            .find(|file| crate::definition::file_stem(&file.path) == Some(name))
            .map(|file| file.path.clone())
    }

    /// Reports once, for a call that makes containers, that the agent found is unusable.
    pub(crate) fn warn_unusable_agent(&self, call: Call<'_>) {
        if let Err(reason) = &self.settings.agent {
            call.emit(Event::AgentUnusable { reason });
        }
    }
}
