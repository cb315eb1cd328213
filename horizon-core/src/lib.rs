//! horizon-core: the library behind HorizonOS's container layer.
//!
//! Every use case is one call of [`Horizon`]: install, remove, start, stop, status, list, run,
//! export, update, rollback, cleanup, doctor and the system update, each taking a [`Call`] (a
//! cancel input and an [`Observer`] of its progress) and returning a typed report or an
//! [`Error`] whose [`Hint`]s say what to do next. Podman is reached through its libpod REST API
//! behind the [`Engine`] seam. The library returns data; it never prints and never exits: the
//! binaries (`horizon-container`, `horizon-dev`, `horizon-update`) and embedders render. The
//! types a caller needs are re-exported here; `examples/` holds programs built on them.

#![cfg_attr(not(test), warn(unreachable_pub))]
#![cfg_attr(not(test), warn(missing_docs))]

pub mod apps;
pub mod base;
pub mod definition;
pub mod devconfig;
pub mod doctor;
mod endpoint;
pub mod engine;
pub mod exec_plan;
pub mod export;
mod fsutil;
pub mod host_command;
pub mod labels;
pub mod lifecycle;
pub mod naming;
mod paths;
pub mod printable;
pub mod system_update;
pub mod systemd;
pub mod toolchain;
pub mod update;
pub mod usecase;

pub use definition::{
    Catalog, Definition, DefinitionError, DefinitionSources, Layer, ResolvedDefinition,
};
pub use endpoint::{Candidate, DiscoveryInput, Endpoint, EndpointError, EndpointOrigin};
pub use engine::{Engine, EngineError};
pub use exec_plan::{ExecOptions, Invocation, TerminalChoice};
pub use lifecycle::{
    ContainerStatus, InstallProgress, InstallRecord, InstallStep, InstalledState, StateSummary,
};
pub use paths::{HorizonPaths, PathInputs};
pub use toolchain::{Family, Recipe, Toolchain, ToolchainError};
pub use update::{
    ContainerCheck, GenerationRef, RollbackOutcome, RollbackTarget, UpdateOutcome, UpdateProgress,
    UpdateStep,
};
pub use usecase::{
    AgentRun, Call, Cancel, CancelTrigger, CheckOutcome, CleanupOutcome, ContainerUpdate,
    DeclaredExports, Error, ErrorKind, Event, ExecOutcome, ExecPath, ExportsReport, Hint, Horizon,
    InfoReport, InstallOptions, InstallReport, Installed, InstalledWithoutDefinition, ListReport,
    ListedToolchain, Observer, Overrides, RefusedExport, RemoveOutcome, RollbackOptions,
    RollbackReport, ServeOutcome, ServiceOptions, ServiceReport, Settings, SetupOptions,
    SetupReport, StartReport, StatusReport, ToolchainChange, ToolchainList, Unobserved,
    UpdateOptions, UpdateSelection, UpdatesReport,
};

/// The version of this library, recorded in the state horizon writes (exports, journals).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
