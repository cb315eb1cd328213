//! Container updates that cannot break what works: `--check` (the registry's digest against the
//! installed one, and definition drift), the verified A/B update (the next generation is built
//! and verified beside the running container, then swapped in one short step), rollback to a kept
//! generation without any network, and what makes them safe — the per-container [`ContainerLock`]
//! (one writer at a time; readers never block) and the [`journal`] that lets every later command
//! complete or revert a transaction a crash interrupted ([`recover`]).
//!
//! Like the lifecycle, everything here returns data and typed errors ([`UpdateError`]); the
//! binaries render. `docs/updates.md` describes the transaction for users.

mod check;
mod error;
pub mod failpoint;
mod history;
pub mod journal;
mod lock;
mod registry;
#[cfg(test)]
mod tests;
mod timestamp;
mod transaction;

pub use check::{CheckRequest, ContainerCheck, available_digest, check, check_one, error_chain};
pub use error::{RegistryError, UpdateError, UpdateStep};
pub use history::{DefinitionSnapshot, GenerationHistory};
pub use journal::{DefinitionChange, Journal, JournalStep, JournalStore, Operation};
pub use lock::{ContainerLock, LockHolder, LockWait};
pub use registry::{
    DEFAULT_REGISTRY_TIMEOUT, REGISTRIES_CONF_ENV, RegistryClient, SKOPEO, manifest_digest,
};
pub use timestamp::{now_unix, rfc3339};
pub use transaction::{
    DEFAULT_KEEP_PREVIOUS, GenerationRef, Recovery, RecoveryAction, RollbackOutcome,
    RollbackTarget, UpdateOutcome, UpdateProgress, UpdateRequest, UpdateStores, recover,
    recover_if_interrupted, rollback, update,
};
