//! The engine seam: the narrow set of Podman operations horizon needs, as a trait.
//!
//! Workflows (install, update, export…) are written against [`Engine`], so they run unchanged on the
//! real [`PodmanEngine`] and on a fake that injects faults. Only [`podman`] names the `podman_api`
//! crate; foreign errors are mapped to [`EngineError`] at that boundary.

mod connect;
mod error;
pub mod podman;
mod raw;
mod types;

use std::future::Future;
use std::time::Duration;

pub use connect::{ConnectError, FailedAttempt, connect};
pub use error::EngineError;
pub use podman::PodmanEngine;
pub use types::{
    ContainerSpec, ContainerSummary, EngineVersion, ExecOutput, ExecRequest, LabelFilter,
    PulledImage, StateChange,
};

/// The operations horizon performs on a container engine. Every method maps engine failures to
/// [`EngineError`]; "already in that state" is a success ([`StateChange::AlreadyInState`]).
pub trait Engine: Send + Sync {
    /// Checks that the service answers.
    fn ping(&self) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// The service's version.
    fn version(&self) -> impl Future<Output = Result<EngineVersion, EngineError>> + Send;

    /// Pulls `reference`, calling `on_progress` with each status line, and returns the image.
    /// A stream that reports an error, or ends without naming the image, is a failure.
    fn pull_image(
        &self,
        reference: &str,
        on_progress: &(dyn Fn(&str) + Send + Sync),
    ) -> impl Future<Output = Result<PulledImage, EngineError>> + Send;

    /// Removes an image by id or reference.
    fn remove_image(
        &self,
        reference: &str,
        force: bool,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Creates a container (not started) and returns its id.
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;

    /// Starts a container.
    fn start_container(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<StateChange, EngineError>> + Send;

    /// Stops a container, killing it after `timeout`.
    fn stop_container(
        &self,
        name: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<StateChange, EngineError>> + Send;

    /// Removes a container; `force` also stops a running one.
    fn remove_container(
        &self,
        name: &str,
        force: bool,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// All containers (running or not) that match `filter`, in one call.
    fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> impl Future<Output = Result<Vec<ContainerSummary>, EngineError>> + Send;

    /// Runs a command in a running container and waits for it, capturing its output.
    fn exec(
        &self,
        container: &str,
        request: &ExecRequest,
    ) -> impl Future<Output = Result<ExecOutput, EngineError>> + Send;
}
