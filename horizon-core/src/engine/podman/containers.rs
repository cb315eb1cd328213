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

use super::PodmanEngine;
use super::answers::{ContainerInspect, INSPECT_CONTAINER, LIST_CONTAINERS, container_summary};
use super::crate_calls::PODMAN_API_PREFIX;
use super::pull::COMPAT_PREFIX;
use super::query::encode_query;
use super::raw::{Patience, check_status, podman_message};
use crate::engine::{ContainerDetails, ContainerSummary, EngineError, LabelFilter, StateChange};

/// Inspects a container by name or id.
pub(super) async fn inspect_container(
    engine: &PodmanEngine,
    name: &str,
) -> Result<ContainerDetails, EngineError> {
    // Raw: podman-api always asks for `size=true`, which measures the whole rootfs.
    let answer: ContainerInspect = engine
        .raw_json(
            INSPECT_CONTAINER,
            Method::GET,
            &format!("/containers/{name}/json"),
            None,
        )
        .await?;
    answer.into_details()
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
            LIST_CONTAINERS,
            (
                Method::GET,
                format!("{PODMAN_API_PREFIX}/containers/json"),
                200,
            ),
            engine.podman.containers().list(&options),
        )
        .await?;
    listed
        .into_iter()
        .enumerate()
        .map(|(index, container)| container_summary(index, container))
        .collect()
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
