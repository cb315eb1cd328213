//! horizon-core: the library behind HorizonOS's container layer.
//!
//! It models container definitions, talks to Podman through its libpod REST API (the [`engine`]
//! seam), and — as the issues land — installs, runs, exports, updates and rolls back system
//! containers. It returns data and typed errors; it never prints and never exits: the binaries
//! (`horizon-container`, `horizon-dev`, `horizon-update`) and embedders render.

pub mod apps;
pub mod base;
pub mod definition;
pub mod doctor;
pub mod endpoint;
pub mod engine;
pub mod exec_plan;
pub mod export;
pub mod fsutil;
pub mod host_command;
pub mod labels;
pub mod lifecycle;
pub mod naming;
pub mod paths;
pub mod system_update;
pub mod update;
pub mod usecase;

pub use definition::{
    Catalog, Definition, DefinitionError, DefinitionSources, Layer, ResolvedDefinition,
};
pub use endpoint::{Endpoint, EndpointError};
pub use engine::{Engine, EngineError};
pub use usecase::{Call, Cancel, Error, ErrorKind, Event, Hint, Horizon, Observer, Settings};

/// The version of this library, recorded in the state horizon writes (exports, journals).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
