//! The service itself: ping, version and info.

use hyper::Method;
use serde_json::Value;

use super::PodmanEngine;
use super::raw::{Patience, check_status};
use crate::engine::{EngineError, EngineInfo, EngineVersion};

/// Checks that the service answers.
pub(super) async fn ping(engine: &PodmanEngine) -> Result<(), EngineError> {
    let response = engine
        .raw
        .send_with("ping", Method::GET, "/_ping", None, Patience::Short)
        .await?;
    check_status("ping", &response)
}

/// The service's version.
pub(super) async fn version(engine: &PodmanEngine) -> Result<EngineVersion, EngineError> {
    // The top-level `ApiVersion` is the Docker-compatible API's (1.41); the libpod API version
    // is in the "Podman Engine" component's details.
    let version: Value = engine
        .raw_json("version", Method::GET, "/version", None)
        .await?;
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    let component = version["Components"]
        .as_array()
        .and_then(|components| components.iter().find(|c| c["Name"] == "Podman Engine"));
    Ok(EngineVersion {
        version: text(&version["Version"]),
        api_version: component
            .map(|component| text(&component["Details"]["APIVersion"]))
            .unwrap_or_default(),
        os_arch: format!("{}/{}", text(&version["Os"]), text(&version["Arch"])),
    })
}

/// Facts about the service.
pub(super) async fn info(engine: &PodmanEngine) -> Result<EngineInfo, EngineError> {
    let info: Value = engine.raw_json("info", Method::GET, "/info", None).await?;
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
