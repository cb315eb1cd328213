//! Podman's answers, typed: what horizon reads from a container or image inspection, an image
//! list, a container list, an exec inspection and the service's version and info, each turned into
//! the seam's types (`ContainerDetails`, `ImageDetails`…). Every field horizon reads is one of:
//!
//! - **required** — absent or `null` is [`EngineError::MissingField`]: the ids and names, the
//!   container's state and times, and every field the post-create security check compares
//!   (`HostConfig.Privileged`, `HostConfig.SecurityOpt`, `HostConfig.NetworkMode`,
//!   `HostConfig.UsernsMode`, `EffectiveCaps`, and `Type`, `Source`, `Destination` and `RW` of each
//!   bind mount). Podman 4.3.1 always sends them; reading a missing one as a default would make a
//!   missing `Privileged` "not privileged" and a missing `RW` "writable";
//! - **required, `null` as empty** — lists and maps Go writes as `null` when empty (`Mounts`,
//!   `EffectiveCaps`, `SecurityOpt`, labels, tags);
//! - **optional** — only where Podman itself omits the field (Go's `omitempty`) or may write
//!   `null` for "none": `HostConfig.IDMappings` (no user namespace), an image's `Labels` (it has
//!   none) and `Created` (its configuration has no time), an image list item's `Names` (a dangling
//!   image).
//!
//! A value of the wrong shape — a word that is not a Podman state, a malformed time, a string
//! where a flag belongs — is [`EngineError::InvalidField`]. Both name the operation and the field.
//!
//! Our own types, not podman-api's models (podman-api-stubs), for what is read raw: the models
//! make every field an `Option`, which cannot tell a missing key from Go's `null`; they read times
//! as `DateTime<Utc>`, which drops the offset Podman wrote and fails the whole answer, unnamed, on
//! one bad time; and they decode all of a large answer, so a surprise in a field horizon never
//! reads would fail it too. The container list still comes through podman-api (its call is right),
//! so its `ListContainer` model is read here with the same rules, as far as an `Option` allows.

use std::collections::BTreeMap;

use podman_api::models::ListContainer;
use serde::Deserialize;

use super::fields::{Field, Place};
use crate::engine::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerState, ContainerSummary, EngineError,
    EngineInfo, EngineVersion, ImageDetails, ImageSummary, RunState, Timestamp,
};

/// The operations whose answers are read here, as their errors name them.
pub(super) const INSPECT_CONTAINER: &str = "inspect container";
pub(super) const INSPECT_IMAGE: &str = "inspect image";
pub(super) const LIST_IMAGES: &str = "list images";
pub(super) const LIST_CONTAINERS: &str = "list containers";
/// The component of the version answer that carries the libpod API version.
const PODMAN_COMPONENT: &str = "Podman Engine";
/// The security option that sets no-new-privileges, and the prefix of the seccomp profile's.
const NO_NEW_PRIVILEGES: &str = "no-new-privileges";
const SECCOMP_PREFIX: &str = "seccomp=";
/// The mount type of a bind mount.
const BIND: &str = "bind";

/// `GET /containers/{name}/json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(super) struct ContainerInspect {
    id: Field<String>,
    name: Field<String>,
    image: Field<String>,
    image_name: Field<String>,
    created: Field<Timestamp>,
    state: Field<StateAnswer>,
    config: Field<ConfigAnswer>,
    mounts: Field<Vec<MountAnswer>>,
    effective_caps: Field<Vec<String>>,
    host_config: Field<HostConfigAnswer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct StateAnswer {
    status: Field<RunState>,
    running: Field<bool>,
    pid: Field<i64>,
    exit_code: Field<i64>,
    started_at: Field<Timestamp>,
    finished_at: Field<Timestamp>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ConfigAnswer {
    labels: Field<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct MountAnswer {
    #[serde(rename = "Type")]
    kind: Field<String>,
    source: Field<String>,
    destination: Field<String>,
    #[serde(rename = "RW")]
    rw: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct HostConfigAnswer {
    privileged: Field<bool>,
    security_opt: Field<Vec<String>>,
    network_mode: Field<String>,
    userns_mode: Field<String>,
    #[serde(rename = "IDMappings")]
    id_mappings: Field<IdMappingsAnswer>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct IdMappingsAnswer {
    uid_map: Field<Vec<String>>,
}

impl ContainerInspect {
    /// The inspection as [`ContainerDetails`].
    pub(super) fn into_details(self) -> Result<ContainerDetails, EngineError> {
        let at = Place::answer(INSPECT_CONTAINER);
        let config = self.config.required(&at, "Config")?;
        let effective_caps = self.effective_caps.or_empty(&at, "EffectiveCaps")?;
        let host = self.host_config.required(&at, "HostConfig")?;
        Ok(ContainerDetails {
            id: self.id.required(&at, "Id")?,
            name: self
                .name
                .required(&at, "Name")?
                .trim_start_matches('/')
                .to_owned(),
            image_id: self.image.required(&at, "Image")?,
            image_name: self.image_name.required(&at, "ImageName")?,
            created: self.created.required(&at, "Created")?,
            state: self
                .state
                .required(&at, "State")?
                .read(&at.within("State"))?,
            labels: config.labels.or_empty(&at.within("Config"), "Labels")?,
            mounts: bind_mounts(&at, self.mounts.or_empty(&at, "Mounts")?)?,
            security: host.read(&at.within("HostConfig"), effective_caps)?,
        })
    }
}

impl StateAnswer {
    fn read(self, at: &Place) -> Result<ContainerState, EngineError> {
        Ok(ContainerState {
            status: self.status.required(at, "Status")?,
            running: self.running.required(at, "Running")?,
            pid: self.pid.required(at, "Pid")?,
            exit_code: self.exit_code.required(at, "ExitCode")?,
            started_at: ever(self.started_at.required(at, "StartedAt")?),
            finished_at: ever(self.finished_at.required(at, "FinishedAt")?),
        })
    }
}

/// A time Podman reported, `None` for its "never".
fn ever(time: Timestamp) -> Option<Timestamp> {
    (!time.is_podman_never()).then_some(time)
}

/// The bind mounts among `mounts` (volumes, tmpfs and the like are not horizon's).
fn bind_mounts(at: &Place, mounts: Vec<MountAnswer>) -> Result<Vec<BindMount>, EngineError> {
    let mut binds = Vec::new();
    for (index, mount) in mounts.into_iter().enumerate() {
        let at = at.within("Mounts").nth(index);
        if mount.kind.required(&at, "Type")? != BIND {
            continue;
        }
        binds.push(BindMount {
            source: mount.source.required(&at, "Source")?,
            target: mount.destination.required(&at, "Destination")?,
            read_only: !mount.rw.required(&at, "RW")?,
        });
    }
    Ok(binds)
}

impl HostConfigAnswer {
    fn read(
        self,
        at: &Place,
        mut effective_caps: Vec<String>,
    ) -> Result<AppliedSecurity, EngineError> {
        effective_caps.sort();
        let mut security_options = self.security_opt.or_empty(at, "SecurityOpt")?;
        security_options.sort();
        let uid_map = match self.id_mappings.optional(at, "IDMappings")? {
            Some(mappings) => {
                let mut map = mappings
                    .uid_map
                    .or_empty(&at.within("IDMappings"), "UidMap")?;
                map.sort();
                map
            }
            None => Vec::new(),
        };
        Ok(AppliedSecurity {
            effective_caps,
            privileged: self.privileged.required(at, "Privileged")?,
            no_new_privileges: security_options
                .iter()
                .any(|option| option == NO_NEW_PRIVILEGES),
            seccomp_profile: security_options
                .iter()
                .find_map(|option| option.strip_prefix(SECCOMP_PREFIX).map(str::to_owned))
                .unwrap_or_default(),
            network_mode: self.network_mode.required(at, "NetworkMode")?,
            userns_mode: self.userns_mode.required(at, "UsernsMode")?,
            uid_map,
        })
    }
}

/// `GET /images/{name}/json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(super) struct ImageInspect {
    id: Field<String>,
    digest: Field<String>,
    repo_digests: Field<Vec<String>>,
    repo_tags: Field<Vec<String>>,
    labels: Field<BTreeMap<String, String>>,
    created: Field<Timestamp>,
    size: Field<u64>,
}

impl ImageInspect {
    /// The inspection as [`ImageDetails`].
    pub(super) fn into_details(self) -> Result<ImageDetails, EngineError> {
        let at = Place::answer(INSPECT_IMAGE);
        // An image that came from no registry has an empty digest.
        let digest = self.digest.required(&at, "Digest")?;
        Ok(ImageDetails {
            id: self.id.required(&at, "Id")?,
            digest: (!digest.is_empty()).then_some(digest),
            repo_digests: self.repo_digests.or_empty(&at, "RepoDigests")?,
            repo_tags: self.repo_tags.or_empty(&at, "RepoTags")?,
            // Omitted when the image has none.
            labels: self.labels.optional(&at, "Labels")?.unwrap_or_default(),
            created: self.created.optional(&at, "Created")?,
            size: self.size.required(&at, "Size")?,
        })
    }
}

/// One item of `GET /images/json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(super) struct ImageListItem {
    id: Field<String>,
    names: Field<Vec<String>>,
    labels: Field<BTreeMap<String, String>>,
    size: Field<u64>,
}

impl ImageListItem {
    /// Item `index` of the list as an [`ImageSummary`].
    pub(super) fn into_summary(self, index: usize) -> Result<ImageSummary, EngineError> {
        let at = Place::answer(LIST_IMAGES).nth(index);
        Ok(ImageSummary {
            id: self.id.required(&at, "Id")?,
            // Omitted for a dangling image.
            names: self.names.optional(&at, "Names")?.unwrap_or_default(),
            labels: self.labels.or_empty(&at, "Labels")?,
            size: self.size.required(&at, "Size")?,
        })
    }
}

/// Item `index` of podman-api's container list as a [`ContainerSummary`]. Its model has every
/// field as an `Option`: `None` is missing, except for the labels, where it may be Go's `null` of
/// a container without any (`None` then reads as none).
pub(super) fn container_summary(
    index: usize,
    listed: ListContainer,
) -> Result<ContainerSummary, EngineError> {
    let at = Place::answer(LIST_CONTAINERS).nth(index);
    let given = |value: Option<String>, name: &str| value.ok_or_else(|| at.missing(name));
    let state = given(listed.state, "State")?;
    Ok(ContainerSummary {
        id: given(listed.id, "Id")?,
        name: given(
            listed.names.and_then(|names| names.into_iter().next()),
            "Names",
        )?,
        image: given(listed.image, "Image")?,
        image_id: given(listed.image_id, "ImageID")?,
        state: Field::from_json(Some(state.into())).required(&at, "State")?,
        labels: listed.labels.unwrap_or_default().into_iter().collect(),
    })
}

/// `GET /exec/{id}/json`: whether the session still runs, its exit code and its process.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(super) struct ExecInspect {
    running: Field<bool>,
    exit_code: Field<i64>,
    pid: Field<i64>,
}

/// Where an exec session is, from [`ExecInspect::progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ExecProgress {
    /// Its process has not been started yet (Podman reports no pid).
    NotStarted,
    /// Its process runs with this host pid.
    Running(u32),
    /// Its process has ended.
    Ended,
}

impl ExecInspect {
    /// The exit code once the session ended, `None` while it runs.
    pub(super) fn exit_code(self, operation: &'static str) -> Result<Option<i64>, EngineError> {
        let at = Place::answer(operation);
        if self.running.required(&at, "Running")? {
            return Ok(None);
        }
        self.exit_code.required(&at, "ExitCode").map(Some)
    }

    /// Where the session is: not started yet (no pid), running as a host pid, or ended.
    pub(super) fn progress(self, operation: &'static str) -> Result<ExecProgress, EngineError> {
        let at = Place::answer(operation);
        let running = self.running.required(&at, "Running")?;
        let pid = self.pid.required(&at, "Pid")?;
        Ok(match (running, u32::try_from(pid)) {
            (_, Ok(0) | Err(_)) => ExecProgress::NotStarted,
            (true, Ok(pid)) => ExecProgress::Running(pid),
            (false, Ok(_)) => ExecProgress::Ended,
        })
    }

    /// The host pid of the session's process, if it has one.
    pub(super) fn pid(self, operation: &'static str) -> Result<Option<i64>, EngineError> {
        let pid = self.pid.required(&Place::answer(operation), "Pid")?;
        Ok((pid > 0).then_some(pid))
    }
}

/// `GET /version`. The top-level `ApiVersion` is the Docker-compatible API's (1.41); the libpod
/// API version is in the "Podman Engine" component's details.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub(super) struct VersionAnswer {
    version: Field<String>,
    os: Field<String>,
    arch: Field<String>,
    components: Field<Vec<ComponentAnswer>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct ComponentAnswer {
    name: Field<String>,
    details: Field<ComponentDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ComponentDetails {
    #[serde(rename = "APIVersion")]
    api_version: Field<String>,
}

impl VersionAnswer {
    /// The answer as [`EngineVersion`].
    pub(super) fn into_version(
        self,
        operation: &'static str,
    ) -> Result<EngineVersion, EngineError> {
        let at = Place::answer(operation);
        let components = self.components.or_empty(&at, "Components")?;
        let mut api_version = None;
        for (index, component) in components.into_iter().enumerate() {
            let at = at.within("Components").nth(index);
            if component.name.required(&at, "Name")? == PODMAN_COMPONENT {
                let details = component.details.required(&at, "Details")?;
                api_version = Some(
                    details
                        .api_version
                        .required(&at.within("Details"), "APIVersion")?,
                );
                break;
            }
        }
        Ok(EngineVersion {
            version: self.version.required(&at, "Version")?,
            api_version: api_version
                .ok_or_else(|| at.missing("Components[Podman Engine].Details.APIVersion"))?,
            os_arch: format!(
                "{}/{}",
                self.os.required(&at, "Os")?,
                self.arch.required(&at, "Arch")?
            ),
        })
    }
}

/// `GET /info`, the parts horizon reads (`rootless` decides whether keep-id can be asked for).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct InfoAnswer {
    host: Field<HostInfo>,
    store: Field<StoreInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct HostInfo {
    security: Field<HostSecurity>,
    oci_runtime: Field<OciRuntime>,
    cgroup_manager: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HostSecurity {
    rootless: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OciRuntime {
    name: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct StoreInfo {
    graph_driver_name: Field<String>,
    graph_root: Field<String>,
}

impl InfoAnswer {
    /// The answer as [`EngineInfo`].
    pub(super) fn into_info(self, operation: &'static str) -> Result<EngineInfo, EngineError> {
        let at = Place::answer(operation);
        let host = self.host.required(&at, "host")?;
        let store = self.store.required(&at, "store")?;
        let at_host = at.within("host");
        let at_store = at.within("store");
        Ok(EngineInfo {
            rootless: host
                .security
                .required(&at_host, "security")?
                .rootless
                .required(&at_host.within("security"), "rootless")?,
            storage_driver: store
                .graph_driver_name
                .required(&at_store, "graphDriverName")?,
            graph_root: store.graph_root.required(&at_store, "graphRoot")?,
            oci_runtime: host
                .oci_runtime
                .required(&at_host, "ociRuntime")?
                .name
                .required(&at_host.within("ociRuntime"), "name")?,
            cgroup_manager: host.cgroup_manager.required(&at_host, "cgroupManager")?,
        })
    }
}
