//! [`PodmanEngine`]: the [`Engine`] on a real Podman service, through the podman-api crate, with raw
//! libpod requests where the crate is wrong (create spec, stop timeout, image removal report).
//! This is the only module that names `podman_api`; its errors are converted here.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use hyper::Method;
use podman_api::Podman;
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ExecCreateOpts, ExecStartOpts,
    PullOpts,
};
use serde::Serialize;

use super::raw::{RawClient, check_status};
use super::{
    ContainerSpec, ContainerSummary, Engine, EngineError, EngineVersion, ExecOutput, ExecRequest,
    LabelFilter, PulledImage, StateChange,
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
    /// A client for the service at `endpoint`. Nothing is sent until the first call.
    pub fn new(endpoint: &Endpoint) -> Self {
        let podman = match endpoint {
            Endpoint::Unix(socket) => Podman::unix(socket),
            Endpoint::Tcp { host, port } => {
                // `Podman::tcp` only fails on an unparsable host, which `Endpoint` already refused.
                Podman::tcp(format!("{host}:{port}"))
                    .unwrap_or_else(|_| Podman::unix("/nonexistent"))
            }
        };
        PodmanEngine {
            endpoint: endpoint.clone(),
            podman,
            raw: RawClient::new(endpoint),
        }
    }

    /// The endpoint this engine talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn map_error(&self, operation: &'static str, error: podman_api::Error) -> EngineError {
        use podman_api::conn::Error as ConnError;
        match error {
            podman_api::Error::Fault { code, message }
            | podman_api::Error::Error(ConnError::Fault { code, message }) => {
                EngineError::from_status(operation, code.as_u16(), message)
            }
            podman_api::Error::Error(ConnError::Hyper(error)) => EngineError::Unreachable {
                endpoint: self.endpoint.to_string(),
                reason: error.to_string(),
            },
            podman_api::Error::Error(ConnError::IO(error)) | podman_api::Error::IO(error) => {
                EngineError::Unreachable {
                    endpoint: self.endpoint.to_string(),
                    reason: error.to_string(),
                }
            }
            other => EngineError::Protocol {
                operation,
                message: other.to_string(),
            },
        }
    }
}

/// libpod's create spec (`SpecGenerator`), with only the fields horizon sets.
#[derive(Serialize)]
struct CreateSpec<'a> {
    name: &'a str,
    image: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    command: &'a [String],
    labels: &'a BTreeMap<String, String>,
    env: &'a BTreeMap<String, String>,
    stop_timeout: u32,
}

#[derive(serde::Deserialize)]
struct CreateReply {
    #[serde(rename = "Id")]
    id: String,
}

fn label_query(filter: &LabelFilter) -> Vec<ContainerListFilter> {
    filter
        .labels
        .iter()
        .map(|(key, value)| match value {
            Some(value) => ContainerListFilter::LabelKeyVal(key.clone(), value.clone()),
            None => ContainerListFilter::LabelKey(key.clone()),
        })
        .collect()
}

impl Engine for PodmanEngine {
    async fn ping(&self) -> Result<(), EngineError> {
        self.podman
            .ping()
            .await
            .map(drop)
            .map_err(|error| self.map_error("ping", error))
    }

    async fn version(&self) -> Result<EngineVersion, EngineError> {
        // Raw, because the top-level `ApiVersion` is the Docker-compatible API's (1.41); the libpod
        // API version is in the "Podman Engine" component's details.
        let version: serde_json::Value = self
            .raw
            .json("version", Method::GET, "/version", None)
            .await?;
        let text = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
        let engine = version["Components"]
            .as_array()
            .and_then(|components| components.iter().find(|c| c["Name"] == "Podman Engine"));
        Ok(EngineVersion {
            version: text(&version["Version"]),
            api_version: engine
                .map(|engine| text(&engine["Details"]["APIVersion"]))
                .unwrap_or_default(),
            os_arch: format!("{}/{}", text(&version["Os"]), text(&version["Arch"])),
        })
    }

    async fn pull_image(
        &self,
        reference: &str,
        on_progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<PulledImage, EngineError> {
        const OPERATION: &str = "pull image";
        let images = self.podman.images();
        let options = PullOpts::builder().reference(reference).build();
        let mut stream = images.pull(&options);
        let mut pulled = None;
        while let Some(item) = stream.next().await {
            let report = item.map_err(|error| self.map_error(OPERATION, error))?;
            // Podman reports a failed pull as HTTP 200 with `error` in a stream item.
            if let Some(message) = report.error.filter(|message| !message.is_empty()) {
                return Err(EngineError::StreamError {
                    operation: OPERATION,
                    message,
                });
            }
            if let Some(line) = report.stream.as_deref() {
                on_progress(line.trim_end());
            }
            if let Some(id) = report.id.filter(|id| !id.is_empty()) {
                pulled = Some(PulledImage { id });
            }
        }
        pulled.ok_or(EngineError::StreamTruncated {
            operation: OPERATION,
        })
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<(), EngineError> {
        let path = format!("/images/{reference}?force={force}");
        let response = self.raw.send(Method::DELETE, &path, None).await?;
        check_status("remove image", &response)
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        const OPERATION: &str = "create container";
        let body = CreateSpec {
            name: &spec.name,
            image: &spec.image,
            command: &spec.command,
            labels: &spec.labels,
            env: &spec.env,
            stop_timeout: spec.stop_timeout_secs,
        };
        let body = serde_json::to_vec(&body).map_err(|error| EngineError::Protocol {
            operation: OPERATION,
            message: error.to_string(),
        })?;
        let reply: CreateReply = self
            .raw
            .json(OPERATION, Method::POST, "/containers/create", Some(body))
            .await?;
        Ok(reply.id)
    }

    async fn start_container(&self, name: &str) -> Result<StateChange, EngineError> {
        match self.podman.containers().get(name).start(None).await {
            Ok(()) => Ok(StateChange::Changed),
            Err(error) => match self.map_error("start container", error) {
                EngineError::Api { status: 304, .. } => Ok(StateChange::AlreadyInState),
                other => Err(other),
            },
        }
    }

    async fn stop_container(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<StateChange, EngineError> {
        // podman-api sends `Timeout`, which Podman 4.3.1 ignores: pass `?timeout=` ourselves.
        let path = format!("/containers/{name}/stop?timeout={}", timeout.as_secs());
        let response = self.raw.send(Method::POST, &path, None).await?;
        if response.status == 304 {
            return Ok(StateChange::AlreadyInState);
        }
        check_status("stop container", &response).map(|()| StateChange::Changed)
    }

    async fn remove_container(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let options = ContainerDeleteOpts::builder()
            .force(force)
            .volumes(true)
            .build();
        self.podman
            .containers()
            .get(name)
            .delete(&options)
            .await
            .map_err(|error| self.map_error("remove container", error))
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let options = ContainerListOpts::builder()
            .all(true)
            .filter(label_query(filter))
            .build();
        let listed = self
            .podman
            .containers()
            .list(&options)
            .await
            .map_err(|error| self.map_error("list containers", error))?;
        Ok(listed
            .into_iter()
            .map(|container| ContainerSummary {
                id: container.id.unwrap_or_default(),
                name: container
                    .names
                    .and_then(|names| names.into_iter().next())
                    .unwrap_or_default(),
                image: container.image.unwrap_or_default(),
                state: container.state.unwrap_or_default(),
                labels: container.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    async fn exec(
        &self,
        container: &str,
        request: &ExecRequest,
    ) -> Result<ExecOutput, EngineError> {
        const OPERATION: &str = "exec";
        let mut options = ExecCreateOpts::builder()
            .command(&request.argv)
            .attach_stdout(true)
            .attach_stderr(true)
            .env(&request.env);
        if let Some(dir) = &request.working_dir {
            options = options.working_dir(dir);
        }
        if let Some(user) = &request.user {
            options = options.user(podman_api::opts::UserOpt::User(user.clone()));
        }
        let exec = self
            .podman
            .containers()
            .get(container)
            .create_exec(&options.build())
            .await
            .map_err(|error| self.map_error(OPERATION, error))?;
        let start_options = ExecStartOpts::builder().build();
        let mut output = ExecOutput::default();
        if let Some(mut stream) = exec
            .start(&start_options)
            .await
            .map_err(|error| self.map_error(OPERATION, error))?
        {
            while let Some(chunk) = stream.next().await {
                match chunk.map_err(|error| self.map_error(OPERATION, error.into()))? {
                    TtyChunk::StdOut(bytes) => output.stdout.extend_from_slice(&bytes),
                    TtyChunk::StdErr(bytes) => output.stderr.extend_from_slice(&bytes),
                    TtyChunk::StdIn(_) => {}
                }
            }
        }
        let inspected = exec
            .inspect()
            .await
            .map_err(|error| self.map_error(OPERATION, error))?;
        output.exit_code = inspected
            .get("ExitCode")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| EngineError::Protocol {
                operation: OPERATION,
                message: "exec inspect has no ExitCode".into(),
            })?;
        Ok(output)
    }
}
