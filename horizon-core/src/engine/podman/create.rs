//! Creating a container: libpod's create spec (`SpecGenerator`) written by hand — podman-api's
//! builder misspells `no_new_privileges`, and Podman ignores what it does not know — sent one
//! keep-id create at a time per service (see `create_lock.rs`) and tried again after Podman's
//! subordinate-id race.

use hyper::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::races::{KEEP_ID_MAPPINGS_UNREAD, again_after_race};
use super::{PodmanEngine, create_lock};
use crate::engine::{ContainerSpec, EngineError, NetworkMode, UserNamespace};

/// Creates a container (not started) and returns its id.
pub(super) async fn create_container(
    engine: &PodmanEngine,
    spec: &ContainerSpec,
) -> Result<String, EngineError> {
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "Id")]
        id: String,
    }
    let body = create_body(spec);
    // Podman 4.3.1 cannot run two keep-id creates at once (see create_lock.rs).
    let _one_at_a_time = match (spec.userns, create_lock::lock_directory(&engine.endpoint)) {
        (Some(UserNamespace::KeepId), Some(directory)) => create_lock::acquire(directory).await,
        _ => None,
    };
    let created: Created = again_after_race(KEEP_ID_MAPPINGS_UNREAD, || {
        engine.raw_json(
            "create container",
            Method::POST,
            "/containers/create",
            Some(body.clone()),
        )
    })
    .await?;
    Ok(created.id)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::BindMount;

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
