//! [`PodmanEngine`]: the [`Engine`] on a real Podman service. The podman-api crate carries the calls
//! it gets right (start, remove, list, tag); raw libpod requests carry the ones it gets wrong or
//! lacks (see `shared/design/podman-api-notes.md`): the create spec (its builder misspells
//! `no_new_privileges`), stop with a timeout, inspect without measuring the rootfs, commit (its
//! result id is dropped), rename, the compat pull (the only one with byte progress), prune, and the
//! attached exec and logs streams (its demultiplexer panics on Podman's error stream). This is the
//! only module that names `podman_api`; its errors are converted here.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use hyper::Method;
use podman_api::Podman;
use podman_api::opts::{ContainerDeleteOpts, ContainerListFilter, ContainerListOpts, ImageTagOpts};
use serde::Deserialize;
use serde_json::{Value, json};

use super::create_lock;
use super::exec::{attached_exec, stream_logs};
use super::raw::{
    CallOutcome, EngineTimeouts, Patience, RawClient, check_status, podman_message, trace_call,
};
use super::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerSpec, ContainerState, ContainerSummary,
    Engine, EngineError, EngineInfo, EngineVersion, ExecRequest, ExecStreams, ImageDetails,
    ImageSummary, LabelFilter, NetworkMode, PruneReport, PullEvent, PulledImage, StateChange,
    UserNamespace,
};
use crate::Endpoint;

/// Podman 4.3 measures every image it lists; an image that another process removes meanwhile
/// fails the whole list with HTTP 500 "… locating image with ID …: image not known" (seen with
/// parallel installs and updates on one storage). Listing again sees the store without it.
const IMAGE_REMOVED_WHILE_LISTED: &str = "image not known";
/// Rootless Podman 4.3.1 reads the user's subordinate ids through libsubid, which is not
/// thread-safe: a keep-id create concurrent with another (one not serialised by create_lock.rs: a
/// `podman --remote` client, a TCP endpoint) can fail with HTTP 500 "keep-id requires additional
/// UIDs or GIDs defined in /etc/subuid and /etc/subgid" although the entries are there. A missing
/// entry fails every attempt alike.
const KEEP_ID_MAPPINGS_UNREAD: &str = "keep-id requires additional UIDs or GIDs";
/// How many times a request that failed with one of those transient errors is tried again.
const RACE_RETRIES: u32 = 3;
/// The pause before the first retry; each next one waits twice as long.
const RACE_PAUSE: Duration = Duration::from_millis(25);

/// The Docker-compatible API version Podman 4 serves; the pull with byte progress and the rename
/// use it.
const COMPAT_PREFIX: &str = "/v1.41";
/// The prefix podman-api 0.11 puts before libpod paths (its `LATEST_API_VERSION`), for the trace.
const PODMAN_API_PREFIX: &str = "/v4.3.1/libpod";

/// A Podman service reached at one endpoint.
#[derive(Clone)]
pub struct PodmanEngine {
    endpoint: Endpoint,
    podman: Podman,
    pub(crate) raw: RawClient,
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

    fn map_error(&self, operation: &'static str, error: podman_api::Error) -> EngineError {
        use podman_api::conn::Error as ConnError;
        match error {
            podman_api::Error::Fault { code, message } => {
                EngineError::from_status(operation, code.as_u16(), without_repeated_cause(message))
            }
            podman_api::Error::Error(ConnError::Fault { code, message }) => {
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

    /// Runs a podman-api call under the request timeout, mapping its error and tracing it like
    /// the raw calls. podman-api hides the response, so `path` is the one it sends (without the
    /// query) and a success is traced with `success_status`, the status that endpoint answers
    /// (both pinned by the contract tests).
    async fn timed<T>(
        &self,
        operation: &'static str,
        (method, path, success_status): (Method, String, u16),
        call: impl Future<Output = Result<T, podman_api::Error>>,
    ) -> Result<T, EngineError> {
        let limit = self.raw.timeouts.request;
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, call).await {
            Err(_) => Err(EngineError::Timeout {
                operation,
                after: limit,
            }),
            Ok(result) => result.map_err(|error| self.map_error(operation, error)),
        };
        let outcome = match &result {
            Ok(_) => CallOutcome::Status(success_status),
            Err(error) => CallOutcome::of_error(error),
        };
        trace_call(operation, &method, &path, outcome, started.elapsed());
        result
    }

    /// POSTs a libpod prune and reads its `[{Id, Size, Err}]` answer; an item with an error fails
    /// the whole prune.
    async fn prune(&self, operation: &'static str, path: &str) -> Result<PruneReport, EngineError> {
        let response = self
            .raw
            .send_with(operation, Method::POST, path, None, Patience::Long)
            .await?;
        check_status(operation, &response)?;
        let items: Option<Vec<PruneItem>> =
            serde_json::from_slice(&response.body).map_err(|error| EngineError::Protocol {
                operation,
                message: error.to_string(),
            })?;
        prune_report(operation, items.unwrap_or_default())
    }

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

/// podman-api turns Podman's error body into `"{message}: {cause}"`, but Podman's message already
/// ends with its cause (`no container with name or ID "x" found: no such container`): keep
/// Podman's message as it is, as the raw calls do.
fn without_repeated_cause(text: String) -> String {
    match text.rsplit_once(": ") {
        Some((message, cause))
            if cause.is_empty() || message == cause || message.ends_with(&format!(": {cause}")) =>
        {
            message.to_owned()
        }
        _ => text,
    }
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode_query(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// `filters={"label":["k=v","k2"]}`, encoded.
fn label_filters(filter: &LabelFilter) -> String {
    let labels: Vec<String> = filter
        .labels
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={value}"),
            None => key.clone(),
        })
        .collect();
    encode_query(&json!({ "label": labels }).to_string())
}

/// Runs `request` and, while it fails with HTTP 500 naming `race` (one of Podman's transient
/// failures above), again up to [`RACE_RETRIES`] times with a growing pause.
async fn again_after_race<T, Request, Answer>(
    race: &str,
    mut request: Request,
) -> Result<T, EngineError>
where
    Request: FnMut() -> Answer,
    Answer: Future<Output = Result<T, EngineError>>,
{
    let mut pause = RACE_PAUSE;
    for _ in 0..RACE_RETRIES {
        match request().await {
            Err(EngineError::Api {
                status: 500,
                message,
                operation,
            }) if message.contains(race) => {
                tracing::debug!(operation, %message, "a known Podman race; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            answer => return answer,
        }
    }
    request().await
}

/// libpod's create spec (`SpecGenerator`) for `spec`.
fn create_body(spec: &ContainerSpec) -> Value {
    let mounts: Vec<Value> = spec
        .mounts
        .iter()
        .map(|mount| {
            let mut options = vec!["rbind"];
            options.push(if mount.read_only { "ro" } else { "rw" });
            json!({ "type": "bind", "source": mount.source, "destination": mount.target, "options": options })
        })
        .collect();
    let devices: Vec<Value> = spec
        .devices
        .iter()
        .map(|device| json!({ "path": format!("{}:{}:{}", device.host, device.container, device.permissions) }))
        .collect();
    let network = match spec.network {
        NetworkMode::Private => "private",
        NetworkMode::Host => "host",
        NetworkMode::None => "none",
    };
    let mut body = json!({
        "name": spec.name,
        "image": spec.image,
        "labels": spec.labels,
        "env": spec.env,
        "stop_timeout": spec.stop_timeout_secs,
        "mounts": mounts,
        "devices": devices,
        "netns": { "nsmode": network },
        "privileged": spec.privileged,
        "cap_drop": ["ALL"],
        "cap_add": spec.cap_add,
        // Sent by hand: podman-api's builder misspells this key and Podman ignores it.
        "no_new_privileges": spec.no_new_privileges,
    });
    if !spec.command.is_empty() {
        body["command"] = json!(spec.command);
    }
    if let Some(userns) = spec.userns {
        let mode = match userns {
            UserNamespace::KeepId => "keep-id",
            UserNamespace::Host => "host",
        };
        body["userns"] = json!({ "nsmode": mode });
    }
    if let Some(user) = &spec.user {
        body["user"] = json!(user);
    }
    if let Some(hostname) = &spec.hostname {
        body["hostname"] = json!(hostname);
    }
    if spec.init {
        body["init"] = json!(true);
    }
    if let Some(entrypoint) = &spec.entrypoint {
        body["entrypoint"] = json!(entrypoint);
    }
    body
}

/// Reads a container inspection into [`ContainerDetails`].
fn container_details(inspected: &Value) -> ContainerDetails {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let strings = |value: &Value| -> Vec<String> {
        let mut list: Vec<String> = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect();
        list.sort();
        list
    };
    let state = &inspected["State"];
    let host = &inspected["HostConfig"];
    let security_options = strings(&host["SecurityOpt"]);
    let seccomp_profile = security_options
        .iter()
        .find_map(|option| option.strip_prefix("seccomp=").map(str::to_owned))
        .unwrap_or_default();
    ContainerDetails {
        id: text(&inspected["Id"]),
        name: text(&inspected["Name"]).trim_start_matches('/').to_owned(),
        image_id: text(&inspected["Image"]),
        image_name: text(&inspected["ImageName"]),
        created: text(&inspected["Created"]),
        state: ContainerState {
            status: text(&state["Status"]),
            running: state["Running"].as_bool().unwrap_or(false),
            pid: state["Pid"].as_i64().unwrap_or(0),
            exit_code: state["ExitCode"].as_i64().unwrap_or(0),
            started_at: text(&state["StartedAt"]),
            finished_at: text(&state["FinishedAt"]),
        },
        labels: inspected["Config"]["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), text(value)))
            .collect(),
        mounts: inspected["Mounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|mount| mount["Type"] == "bind")
            .map(|mount| BindMount {
                source: text(&mount["Source"]),
                target: text(&mount["Destination"]),
                read_only: !mount["RW"].as_bool().unwrap_or(true),
            })
            .collect(),
        security: AppliedSecurity {
            effective_caps: strings(&inspected["EffectiveCaps"]),
            privileged: host["Privileged"].as_bool().unwrap_or(false),
            no_new_privileges: security_options
                .iter()
                .any(|option| option == "no-new-privileges"),
            seccomp_profile,
            network_mode: text(&host["NetworkMode"]),
            userns_mode: text(&host["UsernsMode"]),
            uid_map: strings(&host["IDMappings"]["UidMap"]),
        },
    }
}

/// Reads an image inspection into [`ImageDetails`].
fn image_details(inspected: &Value) -> ImageDetails {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect()
    };
    let digest = text(&inspected["Digest"]);
    ImageDetails {
        id: text(&inspected["Id"]),
        digest: (!digest.is_empty()).then_some(digest),
        repo_digests: strings(&inspected["RepoDigests"]),
        repo_tags: strings(&inspected["RepoTags"]),
        labels: inspected["Labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(key, value)| (key.clone(), text(value)))
            .collect(),
        created: text(&inspected["Created"]),
        size: inspected["Size"].as_u64().unwrap_or(0),
    }
}

/// One line of the compat pull stream.
#[derive(Deserialize)]
struct CompatPullLine {
    #[serde(default)]
    status: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "progressDetail")]
    progress: Option<CompatProgress>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct CompatProgress {
    current: Option<u64>,
    total: Option<u64>,
}

#[derive(Deserialize)]
struct PruneItem {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Size", default)]
    size: u64,
    #[serde(rename = "Err", default)]
    error: Option<String>,
}

fn prune_report(
    operation: &'static str,
    items: Vec<PruneItem>,
) -> Result<PruneReport, EngineError> {
    let mut report = PruneReport::default();
    for item in items {
        if let Some(message) = item.error.filter(|message| !message.is_empty()) {
            return Err(EngineError::StreamError {
                operation,
                message: format!("{}: {message}", item.id),
            });
        }
        report.removed.push(item.id);
        report.reclaimed_bytes += item.size;
    }
    Ok(report)
}

impl Engine for PodmanEngine {
    async fn ping(&self) -> Result<(), EngineError> {
        let response = self
            .raw
            .send_with("ping", Method::GET, "/_ping", None, Patience::Short)
            .await?;
        check_status("ping", &response)
    }

    async fn version(&self) -> Result<EngineVersion, EngineError> {
        // The top-level `ApiVersion` is the Docker-compatible API's (1.41); the libpod API version
        // is in the "Podman Engine" component's details.
        let version: Value = self
            .raw_json("version", Method::GET, "/version", None)
            .await?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
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

    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let info: Value = self.raw_json("info", Method::GET, "/info", None).await?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        Ok(EngineInfo {
            rootless: info["host"]["security"]["rootless"]
                .as_bool()
                .unwrap_or(false),
            storage_driver: text(&info["store"]["graphDriverName"]),
            graph_root: text(&info["store"]["graphRoot"]),
            oci_runtime: text(&info["host"]["ociRuntime"]["name"]),
            cgroup_manager: text(&info["host"]["cgroupManager"]),
        })
    }

    async fn pull_image(
        &self,
        reference: &str,
        on_event: &(dyn Fn(&PullEvent) + Send + Sync),
    ) -> Result<PulledImage, EngineError> {
        const OPERATION: &str = "pull image";
        // The compat endpoint is the one that reports bytes per layer. It has no final object, so
        // completion is checked by inspecting the image afterwards.
        let path = format!(
            "{COMPAT_PREFIX}/images/create?fromImage={}",
            encode_query(reference)
        );
        let (status, mut body) = self.raw.stream(OPERATION, Method::POST, &path).await?;
        if !(200..300).contains(&status) {
            let bytes = self.raw.read_all(OPERATION, &mut body).await?;
            return Err(EngineError::from_status(
                OPERATION,
                status,
                podman_message(&bytes),
            ));
        }
        let mut pending = Vec::new();
        while let Some(chunk) = self.raw.next_chunk(OPERATION, &mut body).await? {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let parsed: CompatPullLine =
                    serde_json::from_slice(&line).map_err(|error| EngineError::Protocol {
                        operation: OPERATION,
                        message: error.to_string(),
                    })?;
                // Podman reports a failed pull as HTTP 200 with `error` in the stream.
                if let Some(message) = parsed.error.filter(|message| !message.is_empty()) {
                    return Err(EngineError::StreamError {
                        operation: OPERATION,
                        message,
                    });
                }
                let progress = parsed.progress.unwrap_or(CompatProgress {
                    current: None,
                    total: None,
                });
                on_event(&PullEvent {
                    layer: parsed.id,
                    status: parsed.status,
                    current: progress.current,
                    total: progress.total.filter(|total| *total > 0),
                });
            }
        }
        match self.inspect_image(reference).await {
            Ok(image) => Ok(PulledImage {
                id: image.id,
                digest: image.digest,
            }),
            Err(error) if error.is_not_found() => Err(EngineError::StreamTruncated {
                operation: OPERATION,
            }),
            Err(error) => Err(error),
        }
    }

    async fn inspect_image(&self, reference: &str) -> Result<ImageDetails, EngineError> {
        let inspected: Value = self
            .raw_json(
                "inspect image",
                Method::GET,
                &format!("/images/{reference}/json"),
                None,
            )
            .await?;
        Ok(image_details(&inspected))
    }

    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> Result<(), EngineError> {
        let options = ImageTagOpts::builder().repo(repository).tag(tag).build();
        self.timed(
            "tag image",
            (
                Method::POST,
                format!("{PODMAN_API_PREFIX}/images/{image}/tag"),
                201,
            ),
            self.podman.images().get(image).tag(&options),
        )
        .await
    }

    async fn remove_image(&self, reference: &str, force: bool) -> Result<(), EngineError> {
        let path = format!("/images/{reference}?force={force}");
        let response = self
            .raw
            .send_with("remove image", Method::DELETE, &path, None, Patience::Long)
            .await?;
        check_status("remove image", &response)
    }

    async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageSummary>, EngineError> {
        // Podman 4.3.1 matches no image at all when given two label filters, and refuses an empty
        // label list: send at most the first condition and check them all here.
        let path = match filter.labels.first() {
            Some(first) => {
                let first = LabelFilter {
                    labels: vec![first.clone()],
                };
                format!("/images/json?filters={}", label_filters(&first))
            }
            None => "/images/json".to_owned(),
        };
        let listed: Vec<Value> = again_after_race(IMAGE_REMOVED_WHILE_LISTED, || {
            self.raw_json("list images", Method::GET, &path, None)
        })
        .await?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        Ok(listed
            .iter()
            .map(|image| ImageSummary {
                id: text(&image["Id"]),
                names: image["Names"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|name| name.as_str().map(str::to_owned))
                    .collect(),
                labels: image["Labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(key, value)| (key.clone(), text(value)))
                    .collect(),
                size: image["Size"].as_u64().unwrap_or(0),
            })
            .filter(|image| filter.matches(&image.labels))
            .collect())
    }

    async fn prune_images(&self, all_unused: bool) -> Result<PruneReport, EngineError> {
        const OPERATION: &str = "prune images";
        let path = format!("/images/prune?all={all_unused}");
        self.prune(OPERATION, &path).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        #[derive(Deserialize)]
        struct Created {
            #[serde(rename = "Id")]
            id: String,
        }
        let body = create_body(spec);
        // Podman 4.3.1 cannot run two keep-id creates at once (see create_lock.rs).
        let _one_at_a_time = match (spec.userns, create_lock::lock_directory(&self.endpoint)) {
            (Some(UserNamespace::KeepId), Some(directory)) => create_lock::acquire(directory).await,
            _ => None,
        };
        let created: Created = again_after_race(KEEP_ID_MAPPINGS_UNREAD, || {
            self.raw_json(
                "create container",
                Method::POST,
                "/containers/create",
                Some(body.clone()),
            )
        })
        .await?;
        Ok(created.id)
    }

    async fn inspect_container(&self, name: &str) -> Result<ContainerDetails, EngineError> {
        // Raw: podman-api always asks for `size=true`, which measures the whole rootfs.
        let inspected: Value = self
            .raw_json(
                "inspect container",
                Method::GET,
                &format!("/containers/{name}/json"),
                None,
            )
            .await?;
        Ok(container_details(&inspected))
    }

    async fn start_container(&self, name: &str) -> Result<StateChange, EngineError> {
        match self
            .timed(
                "start container",
                (
                    Method::POST,
                    format!("{PODMAN_API_PREFIX}/containers/{name}/start"),
                    204,
                ),
                self.podman.containers().get(name).start(None),
            )
            .await
        {
            Ok(()) => Ok(StateChange::Changed),
            // Podman's "already running" is a 304 with an empty body.
            Err(EngineError::Api { status: 304, .. }) => Ok(StateChange::AlreadyInState),
            Err(other) => Err(other),
        }
    }

    async fn stop_container(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<StateChange, EngineError> {
        // podman-api sends `Timeout`, which Podman 4.3.1 ignores: pass `?timeout=` ourselves.
        let path = format!("/containers/{name}/stop?timeout={}", timeout.as_secs());
        let response = self
            .raw
            .send_with("stop container", Method::POST, &path, None, Patience::Long)
            .await?;
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
        self.timed(
            "remove container",
            (
                Method::DELETE,
                format!("{PODMAN_API_PREFIX}/containers/{name}"),
                200,
            ),
            self.podman.containers().get(name).delete(&options),
        )
        .await
    }

    async fn rename_container(&self, name: &str, new_name: &str) -> Result<(), EngineError> {
        // The compat endpoint: Podman 4.3.1 has no working libpod rename.
        let path = format!(
            "{COMPAT_PREFIX}/containers/{name}/rename?name={}",
            encode_query(new_name)
        );
        let (status, mut body) = self
            .raw
            .stream("rename container", Method::POST, &path)
            .await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = self.raw.next_chunk("rename container", &mut body).await? {
            bytes.extend_from_slice(&chunk);
        }
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(EngineError::from_status(
                "rename container",
                status,
                podman_message(&bytes),
            ))
        }
    }

    async fn list_containers(
        &self,
        filter: &LabelFilter,
    ) -> Result<Vec<ContainerSummary>, EngineError> {
        let filters: Vec<ContainerListFilter> = filter
            .labels
            .iter()
            .map(|(key, value)| match value {
                Some(value) => ContainerListFilter::LabelKeyVal(key.clone(), value.clone()),
                None => ContainerListFilter::LabelKey(key.clone()),
            })
            .collect();
        let options = ContainerListOpts::builder()
            .all(true)
            .filter(filters)
            .build();
        let listed = self
            .timed(
                "list containers",
                (
                    Method::GET,
                    format!("{PODMAN_API_PREFIX}/containers/json"),
                    200,
                ),
                self.podman.containers().list(&options),
            )
            .await?;
        Ok(listed
            .into_iter()
            .map(|container| ContainerSummary {
                id: container.id.unwrap_or_default(),
                name: container
                    .names
                    .and_then(|names| names.into_iter().next())
                    .unwrap_or_default(),
                image: container.image.unwrap_or_default(),
                image_id: container.image_id.unwrap_or_default(),
                state: container.state.unwrap_or_default(),
                labels: container.labels.unwrap_or_default().into_iter().collect(),
            })
            .collect())
    }

    async fn prune_containers(&self, filter: &LabelFilter) -> Result<PruneReport, EngineError> {
        const OPERATION: &str = "prune containers";
        let path = format!("/containers/prune?filters={}", label_filters(filter));
        self.prune(OPERATION, &path).await
    }

    async fn commit_container(
        &self,
        name: &str,
        repository: &str,
        tag: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        #[derive(Deserialize)]
        struct Committed {
            #[serde(rename = "Id")]
            id: String,
        }
        let mut path = format!(
            "/commit?container={}&repo={}&tag={}&pause=false",
            encode_query(name),
            encode_query(repository),
            encode_query(tag)
        );
        for (key, value) in labels {
            path.push_str(&format!(
                "&changes={}",
                encode_query(&format!("LABEL {key}={value}"))
            ));
        }
        // Raw: podman-api's commit drops the new image's id.
        let response = self
            .raw
            .send_with(
                "commit container",
                Method::POST,
                &path,
                None,
                Patience::Long,
            )
            .await?;
        check_status("commit container", &response)?;
        let committed: Committed =
            serde_json::from_slice(&response.body).map_err(|error| EngineError::Protocol {
                operation: "commit container",
                message: error.to_string(),
            })?;
        Ok(committed.id)
    }

    async fn exec_attached(
        &self,
        container: &str,
        request: &ExecRequest,
        streams: ExecStreams<'_>,
    ) -> Result<i64, EngineError> {
        attached_exec(&self.raw, container, request, streams).await
    }

    async fn logs(
        &self,
        container: &str,
        follow: bool,
        tail: Option<u64>,
        streams: ExecStreams<'_>,
    ) -> Result<(), EngineError> {
        stream_logs(&self.raw, container, follow, tail, streams).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_api_messages_lose_the_repeated_cause() {
        let cases = [
            (
                "no container with name or ID \"x\" found: no such container: no such container",
                "no container with name or ID \"x\" found: no such container",
            ),
            ("boom: boom", "boom"),
            ("only a message: ", "only a message"),
            ("a: b", "a: b"),
            ("Not Modified", "Not Modified"),
        ];
        for (given, expected) in cases {
            assert_eq!(without_repeated_cause(given.into()), expected, "{given}");
        }
    }

    #[test]
    fn query_encoding_keeps_only_unreserved_characters() {
        assert_eq!(
            encode_query("127.0.0.1:5000/a/b:v1"),
            "127.0.0.1%3A5000%2Fa%2Fb%3Av1"
        );
        assert_eq!(encode_query("LABEL a=b c"), "LABEL%20a%3Db%20c");
        assert_eq!(encode_query("é"), "%C3%A9");
    }

    #[test]
    fn create_body_drops_all_capabilities_and_sets_no_new_privileges() {
        let spec = ContainerSpec {
            name: "horizonos-dev".into(),
            image: "localhost/horizonos/dev:1".into(),
            command: vec!["sleep".into(), "infinity".into()],
            cap_add: vec!["CAP_CHOWN".into()],
            no_new_privileges: true,
            network: NetworkMode::None,
            userns: Some(UserNamespace::KeepId),
            mounts: vec![BindMount {
                source: "/home/u".into(),
                target: "/home/u".into(),
                read_only: true,
            }],
            ..Default::default()
        };
        let body = create_body(&spec);
        assert_eq!(body["cap_drop"], json!(["ALL"]));
        assert_eq!(body["cap_add"], json!(["CAP_CHOWN"]));
        assert_eq!(body["no_new_privileges"], json!(true));
        assert_eq!(body["netns"], json!({"nsmode": "none"}));
        assert_eq!(body["userns"], json!({"nsmode": "keep-id"}));
        assert_eq!(
            body["mounts"],
            json!([{"type": "bind", "source": "/home/u", "destination": "/home/u", "options": ["rbind", "ro"]}])
        );
        assert_eq!(body["command"], json!(["sleep", "infinity"]));
        assert!(body.get("user").is_none());
    }
}
