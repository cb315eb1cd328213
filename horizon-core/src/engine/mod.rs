//! The engine seam: the narrow set of Podman operations horizon needs, as a trait.
//!
//! Workflows (install, update, export…) are written against [`Engine`], so they run unchanged on the
//! real [`PodmanEngine`] and on a fake that injects faults (`fake`, public with the cargo feature
//! `fake-engine`). Only [`podman`] names the `podman_api` crate; foreign errors are mapped to
//! [`EngineError`] at that boundary, and Podman's answers are read into typed values there, every
//! field horizon relies on required ([`EngineError::MissingField`], [`EngineError::InvalidField`]).

mod connect;
mod error;
#[cfg(any(test, feature = "fake-engine"))]
pub mod fake;
pub mod podman;
pub mod service;
mod timestamp;
mod types;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

pub use connect::{ConnectError, Connection, FailedAttempt, connect};
pub use error::EngineError;
pub use podman::{EngineTimeouts, PodmanEngine};
pub use service::{AutoStart, ServiceStartError, StartedService};
pub use timestamp::{PODMAN_NEVER, Timestamp, TimestampError};
pub use types::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerSpec, ContainerState, ContainerSummary,
    DeviceMapping, EngineInfo, EngineVersion, ExecOutput, ExecRequest, ExecStreams, ImageDetails,
    ImageSummary, LabelFilter, NetworkMode, PruneReport, PullEvent, PulledImage, RunState,
    StateChange, TerminalSize, UserNamespace,
};

/// The operations horizon performs on a container engine. Every method maps engine failures to
/// [`EngineError`]; "already in that state" is a success ([`StateChange::AlreadyInState`]).
pub trait Engine: Send + Sync {
    /// Checks that the service answers.
    fn ping(&self) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// The service's version.
    fn version(&self) -> impl Future<Output = Result<EngineVersion, EngineError>> + Send;

    /// Facts about the service (rootless, storage driver…).
    fn info(&self) -> impl Future<Output = Result<EngineInfo, EngineError>> + Send;

    /// Pulls `reference`, reporting each step to `on_event`, and returns the image. A stream that
    /// reports an error, or ends without the image being there, is a failure.
    fn pull_image(
        &self,
        reference: &str,
        on_event: &(dyn Fn(&PullEvent) + Send + Sync),
    ) -> impl Future<Output = Result<PulledImage, EngineError>> + Send;

    /// Inspects a local image by id or reference.
    fn inspect_image(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<ImageDetails, EngineError>> + Send;

    /// Adds the name `repository:tag` to an image.
    fn tag_image(
        &self,
        image: &str,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Removes an image by id or reference.
    fn remove_image(
        &self,
        reference: &str,
        force: bool,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// Local images matching `filter`.
    fn list_images(
        &self,
        filter: &LabelFilter,
    ) -> impl Future<Output = Result<Vec<ImageSummary>, EngineError>> + Send;

    /// Removes dangling images, or every image no container uses when `all_unused`.
    fn prune_images(
        &self,
        all_unused: bool,
    ) -> impl Future<Output = Result<PruneReport, EngineError>> + Send;

    /// Creates a container (not started) and returns its id.
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;

    /// Inspects a container by name or id.
    fn inspect_container(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<ContainerDetails, EngineError>> + Send;

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

    /// Renames a container.
    fn rename_container(
        &self,
        name: &str,
        new_name: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;

    /// All containers (running or not) that match `filter`, in one call.
    fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> impl Future<Output = Result<Vec<ContainerSummary>, EngineError>> + Send;

    /// Removes the stopped containers that match `filter`.
    fn prune_containers(
        &self,
        filter: &LabelFilter,
    ) -> impl Future<Output = Result<PruneReport, EngineError>> + Send;

    /// Commits a container's filesystem as image `repository:tag` with extra labels; returns the
    /// new image's id.
    fn commit_container(
        &self,
        name: &str,
        repository: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;

    /// Runs a command in a running container attached to the caller's streams and returns its
    /// exit code (126 not executable, 127 not found, as the runtime reports).
    fn exec_attached(
        &self,
        container: &str,
        request: &ExecRequest,
        streams: ExecStreams<'_>,
    ) -> impl Future<Output = Result<i64, EngineError>> + Send;

    /// Runs a command with `stdin` as its input and captures its output.
    fn exec(
        &self,
        container: &str,
        request: &ExecRequest,
    ) -> impl Future<Output = Result<ExecOutput, EngineError>> + Send {
        async move {
            let mut output = ExecOutput::default();
            let streams = ExecStreams {
                stdin: None,
                stdout: &mut output.stdout,
                stderr: &mut output.stderr,
                resize: None,
                signals: None,
            };
            output.exit_code = self.exec_attached(container, request, streams).await?;
            Ok(output)
        }
    }

    /// Copies a container's output to `streams` (the tail of it, if given); with `follow`, until
    /// it stops.
    fn logs(
        &self,
        container: &str,
        follow: bool,
        tail: Option<u64>,
        streams: ExecStreams<'_>,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
}
