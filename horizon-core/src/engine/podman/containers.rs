//! Containers after create: inspect (raw, without the size podman-api always asks for), start
//! and remove (podman-api), stop (raw: podman-api's timeout is ignored by 4.3.1), rename (the
//! compat endpoint: 4.3.1 has no working libpod one), list by label (podman-api) and commit (raw:
//! podman-api drops the new image's id). "Already in that state" (Podman's 304) is a success, so
//! start and stop are idempotent.

use std::collections::BTreeMap;
use std::time::Duration;

use hyper::Method;
use podman_api::opts::{ContainerDeleteOpts, ContainerListFilter, ContainerListOpts};
use serde::Deserialize;
use serde_json::Value;

use super::PodmanEngine;
use super::crate_calls::PODMAN_API_PREFIX;
use super::pull::COMPAT_PREFIX;
use super::query::encode_query;
use super::raw::{Patience, check_status, podman_message};
use crate::engine::{
    AppliedSecurity, BindMount, ContainerDetails, ContainerState, ContainerSummary, EngineError,
    LabelFilter, StateChange,
};

/// Inspects a container by name or id.
pub(super) async fn inspect_container(
    engine: &PodmanEngine,
    name: &str,
) -> Result<ContainerDetails, EngineError> {
    // Raw: podman-api always asks for `size=true`, which measures the whole rootfs.
    let inspected: Value = engine
        .raw_json(
            "inspect container",
            Method::GET,
            &format!("/containers/{name}/json"),
            None,
        )
        .await?;
    Ok(container_details(&inspected))
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

/// Starts a container; "already running" is [`StateChange::AlreadyInState`].
pub(super) async fn start_container(
    engine: &PodmanEngine,
    name: &str,
) -> Result<StateChange, EngineError> {
    match engine
        .timed(
            "start container",
            (
                Method::POST,
                format!("{PODMAN_API_PREFIX}/containers/{name}/start"),
                204,
            ),
            engine.podman.containers().get(name).start(None),
        )
        .await
    {
        Ok(()) => Ok(StateChange::Changed),
        // Podman's "already running" is a 304 with an empty body.
        Err(EngineError::Api { status: 304, .. }) => Ok(StateChange::AlreadyInState),
        Err(other) => Err(other),
    }
}

/// Stops a container, killing it after `timeout`; "not running" is
/// [`StateChange::AlreadyInState`].
pub(super) async fn stop_container(
    engine: &PodmanEngine,
    name: &str,
    timeout: Duration,
) -> Result<StateChange, EngineError> {
    // podman-api sends `Timeout`, which Podman 4.3.1 ignores: pass `?timeout=` ourselves.
    let path = format!("/containers/{name}/stop?timeout={}", timeout.as_secs());
    let response = engine
        .raw
        .send_with("stop container", Method::POST, &path, None, Patience::Long)
        .await?;
    if response.status == 304 {
        return Ok(StateChange::AlreadyInState);
    }
    check_status("stop container", &response).map(|()| StateChange::Changed)
}

/// Removes a container (and its anonymous volumes); `force` also stops a running one.
pub(super) async fn remove_container(
    engine: &PodmanEngine,
    name: &str,
    force: bool,
) -> Result<(), EngineError> {
    let options = ContainerDeleteOpts::builder()
        .force(force)
        .volumes(true)
        .build();
    engine
        .timed(
            "remove container",
            (
                Method::DELETE,
                format!("{PODMAN_API_PREFIX}/containers/{name}"),
                200,
            ),
            engine.podman.containers().get(name).delete(&options),
        )
        .await
}

/// Renames a container.
pub(super) async fn rename_container(
    engine: &PodmanEngine,
    name: &str,
    new_name: &str,
) -> Result<(), EngineError> {
    // The compat endpoint: Podman 4.3.1 has no working libpod rename.
    let path = format!(
        "{COMPAT_PREFIX}/containers/{name}/rename?name={}",
        encode_query(new_name)
    );
    let (status, mut body) = engine
        .raw
        .stream("rename container", Method::POST, &path)
        .await?;
    let bytes = engine.raw.read_all("rename container", &mut body).await?;
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

/// All containers (running or not) that match `filter`, in one call.
pub(super) async fn list_containers(
    engine: &PodmanEngine,
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
    let listed = engine
        .timed(
            "list containers",
            (
                Method::GET,
                format!("{PODMAN_API_PREFIX}/containers/json"),
                200,
            ),
            engine.podman.containers().list(&options),
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

/// Commits a container's filesystem as image `repository:tag` with extra labels; returns the new
/// image's id.
pub(super) async fn commit_container(
    engine: &PodmanEngine,
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
    let response = engine
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
