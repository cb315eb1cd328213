//! [`PodmanEngine`]: the [`Engine`] on a real Podman service. The podman-api crate carries the calls
//! it gets right (start, remove, list, tag); raw libpod requests carry the ones it gets wrong or
//! lacks (see `shared/design/podman-api-notes.md`): the create spec (its builder misspells
//! `no_new_privileges`), stop with a timeout, inspect without measuring the rootfs, commit (its
//! result id is dropped), rename, the compat pull (the only one with byte progress), prune, and the
//! attached exec and logs streams (its demultiplexer panics on Podman's error stream). This module
//! and its children are the only ones that name `podman_api`; its errors are converted here.
//!
//! One file per job: `system` (ping, version, info), `images`, `pull`, `create`, `containers`,
//! `prune`, `exec` (with `lifeline`, which ends an exec'd process whose client died) and `logs`
//! (with `frames`, the stream demultiplexer), `answers` (Podman's answers as typed values, every
//! field horizon reads required unless Podman omits it) with `fields` (reading them field by
//! field), `crate_calls` (calls through podman-api and its error mapping), `raw` (the raw HTTP
//! client), `query` (encoded query strings and label filters), `races` (Podman's transient
//! failures, tried again) and `create_lock` (one keep-id create at a time).

mod answers;
mod containers;
mod crate_calls;
mod create;
mod create_lock;
mod exec;
mod fields;
mod frames;
mod images;
mod lifeline;
mod logs;
mod prune;
mod pull;
mod query;
mod races;
mod raw;
mod system;

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::Method;
use podman_api::Podman;
use serde_json::Value;

pub use raw::EngineTimeouts;
use raw::RawClient;

use super::{
    ContainerDetails, ContainerSpec, ContainerSummary, Engine, EngineError, EngineInfo,
    EngineVersion, ExecRequest, ExecStreams, ImageDetails, ImageSummary, LabelFilter, PruneReport,
    PullEvent, PulledImage, StateChange,
};
use crate::Endpoint;

/// A Podman service reached at one endpoint.
#[derive(Clone)]
pub struct PodmanEngine {
    endpoint: Endpoint,
    podman: Podman,
    raw: RawClient,
}

impl std::fmt::Debug for PodmanEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodmanEngine")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl PodmanEngine {
    /// A client for the service at `endpoint` with default timeouts. Nothing is sent until the
    /// first call.
    pub fn new(endpoint: &Endpoint) -> Self {
        Self::with_timeouts(endpoint, EngineTimeouts::default())
    }

    /// A client with explicit timeouts.
    pub fn with_timeouts(endpoint: &Endpoint, timeouts: EngineTimeouts) -> Self {
        let podman = match endpoint {
            Endpoint::Unix(socket) => Podman::unix(socket),
            // `Podman::tcp` fails only on an unparsable host, which `Endpoint` already refused; the
            // fallback client then fails its first call with a clear connection error.
            Endpoint::Tcp { host, port } => Podman::tcp(format!("{host}:{port}"))
                .unwrap_or_else(|_| Podman::unix("/nonexistent/podman.sock")),
        };
        PodmanEngine {
            endpoint: endpoint.clone(),
            podman,
            raw: RawClient::new(endpoint, timeouts),
        }
    }

    /// The endpoint this engine talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends a raw libpod request with an optional JSON body and decodes its JSON answer.
    async fn raw_json<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, EngineError> {
        let body = body.map(|value| value.to_string().into_bytes());
        self.raw.json(operation, method, path, body).await
    }
}

impl Engine for PodmanEngine {
    async fn ping(&self) -> Result<(), EngineError> {
        system::ping(self).await
    }

    async fn version(&self) -> Result<EngineVersion, EngineError> {
        system::version(self).await
    }

    async fn info(&self) -> Result<EngineInfo, EngineError> {
        system::info(self).await
    }

    async fn pull_image(
        &self,
        reference: &str,
        on_event: &(dyn Fn(&PullEvent) + Send + Sync),
    ) -> Result<PulledImage, EngineError> {
        pull::pull_image(self, reference, on_event).await
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, EngineError> {
        images::inspect_image(self, reference).await
    }

    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> Result<(), EngineError> {
        images::tag_image(self, image, repository, tag).await
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<(), EngineError> {
        images::remove_image(self, reference, force).await
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageSummary>, EngineError> {
        images::list_images(self, filter).await
    }

    async fn prune_images(&self, all_unused: bool) -> Result<PruneReport, EngineError> {
        prune::prune_images(self, all_unused).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        create::create_container(self, spec).await
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerDetails, EngineError> {
        containers::inspect_container(self, name).await
    }

    async fn start_container(&self, name: &str) -> Result<StateChange, EngineError> {
        containers::start_container(self, name).await
    }

    async fn stop_container(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<StateChange, EngineError> {
        containers::stop_container(self, name, timeout).await
    }

    async fn remove_container(&self, name: &str, force: bool) -> Result<(), EngineError> {
        containers::remove_container(self, name, force).await
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        containers::rename_container(self, name, new_name).await
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        containers::list_containers(self, filter).await
    }

    async fn prune_containers(&self, filter: &LabelFilter) -> Result<PruneReport, EngineError> {
        prune::prune_containers(self, filter).await
    }

    async fn commit_container(
        &self,
        name: &str,
        repository: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        containers::commit_container(self, name, repository, tag, labels).await
    }

    async fn exec_attached(
        &self,
        container: &str,
        request: &ExecRequest,
        streams: ExecStreams<'_>,
    ) -> Result<i64, EngineError> {
        exec::attached_exec(&self.raw, container, request, streams).await
    }

    async fn logs(
        &self,
        container: &str,
        follow: bool,
        tail: Option<u64>,
        streams: ExecStreams<'_>,
    ) -> Result<(), EngineError> {
        logs::stream_logs(&self.raw, container, follow, tail, streams).await
    }
}
