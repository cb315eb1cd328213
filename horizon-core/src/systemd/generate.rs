//! Units for people who want Podman's own tooling rather than horizon's: a service running
//! `podman run` and a Quadlet `.container` file (Podman 4.4 and later), each equivalent to a
//! managed container — its generation image, mounts, devices, environment, network, user
//! namespace and security — rendered from the create spec the container records. Their container
//! is a separate one (`NAME-unit`, without horizon's labels): horizon never takes it for its own,
//! and the unit never replaces horizon's container.

use std::path::Path;

use crate::engine::{ContainerSpec, NetworkMode, UserNamespace};

use super::SystemdError;
use super::escape::{environment_assignment, exec_line, plain_value};
use super::units::UnitScope;

/// The label that names the definition a generated unit's container was made from.
pub const GENERATED_FROM_LABEL: &str = "io.horizonos.generated-from";

/// Which file to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A service unit running `podman run`.
    Systemd,
    /// A Quadlet `.container` file.
    Quadlet,
}

/// A generated file: its conventional name and its text.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GeneratedUnit {
    /// What it is.
    pub kind: UnitKind,
    /// The file name it is installed under (`horizon-NAME.service`, `horizon-NAME.container`).
    pub file_name: String,
    /// The generation of the managed container it reproduces.
    pub generation: Option<u64>,
    /// The file's text.
    pub text: String,
}

/// The name of the generated unit's container.
pub fn unit_container_name(spec: &ContainerSpec) -> String {
    format!("{}-unit", spec.name)
}

/// The arguments of `podman run` (after `run`) that make `spec`'s container, minus the options
/// the caller adds (name, detach, cidfile).
fn run_options(definition: &str, spec: &ContainerSpec) -> Vec<String> {
    let mut args = vec![format!("--label={GENERATED_FROM_LABEL}={definition}")];
    for (name, value) in &spec.env {
        args.push(format!("--env={name}={value}"));
    }
    for mount in &spec.mounts {
        args.push(format!("--volume={}", volume(mount)));
    }
    for device in &spec.devices {
        args.push(format!(
            "--device={}:{}:{}",
            device.host, device.container, device.permissions
        ));
    }
    args.extend(network_option(spec.network));
    args.extend(security_options(spec));
    args.extend(userns_option(spec.userns));
    if let Some(user) = &spec.user {
        args.push(format!("--user={user}"));
    }
    if let Some(hostname) = &spec.hostname {
        args.push(format!("--hostname={hostname}"));
    }
    if spec.init {
        args.push("--init".to_owned());
    }
    args.push(format!("--stop-timeout={}", spec.stop_timeout_secs));
    args.extend(entrypoint_option(spec.entrypoint.as_deref()));
    args
}

fn volume(mount: &crate::engine::BindMount) -> String {
    let mut volume = format!("{}:{}", mount.source, mount.target);
    if mount.read_only {
        volume.push_str(":ro");
    }
    volume
}

fn network_option(network: NetworkMode) -> Option<String> {
    match network {
        NetworkMode::Private => None,
        NetworkMode::Host => Some("--network=host".to_owned()),
        NetworkMode::None => Some("--network=none".to_owned()),
    }
}

fn security_options(spec: &ContainerSpec) -> Vec<String> {
    let mut args = Vec::new();
    if spec.privileged {
        args.push("--privileged".to_owned());
    } else {
        args.push("--cap-drop=all".to_owned());
        args.extend(spec.cap_add.iter().map(|cap| format!("--cap-add={cap}")));
    }
    if spec.no_new_privileges {
        args.push("--security-opt=no-new-privileges".to_owned());
    }
    args
}

fn userns_option(userns: Option<UserNamespace>) -> Option<String> {
    match userns? {
        UserNamespace::KeepId => Some("--userns=keep-id".to_owned()),
        UserNamespace::Host => Some("--userns=host".to_owned()),
    }
}

fn entrypoint_option(entrypoint: Option<&[String]>) -> Option<String> {
    let entrypoint = entrypoint?;
    if entrypoint.is_empty() {
        // Podman's way to say "no entrypoint": an empty string.
        return Some("--entrypoint=".to_owned());
    }
    // A list is given to Podman as JSON; strings always serialise.
    Some(format!(
        "--entrypoint={}",
        serde_json::to_string(entrypoint).unwrap_or_default()
    ))
}

/// The `[Unit]` description of a generated file.
fn description(definition: &str, generation: Option<u64>) -> String {
    match generation {
        Some(generation) => format!("HorizonOS container {definition} (generation {generation})"),
        None => format!("HorizonOS container {definition}"),
    }
}

/// A service unit running `podman` (the absolute path `podman`) with `spec`, the way
/// `podman generate systemd --new` writes one.
pub fn podman_unit(
    definition: &str,
    generation: Option<u64>,
    spec: &ContainerSpec,
    podman: &Path,
    scope: UnitScope,
) -> GeneratedUnit {
    let podman = podman.to_string_lossy();
    let container = unit_container_name(spec);
    // `%t` (the manager's runtime directory) and `%n` (the unit's name) are specifiers, written
    // unescaped; everything else goes through the escaping.
    let cidfile = "--cidfile=%t/%n.ctr-id";
    let mut run: Vec<String> = vec![
        podman.to_string(),
        "run".to_owned(),
        "--rm".to_owned(),
        "--replace".to_owned(),
        "--detach".to_owned(),
        "--sdnotify=conmon".to_owned(),
        "--cgroups=no-conmon".to_owned(),
        format!("--name={container}"),
    ];
    run.extend(run_options(definition, spec));
    run.push(spec.image.clone());
    run.extend(spec.command.iter().cloned());
    let exec_start = format!("{} {cidfile}", exec_line(&run));
    let stop = |verb: &[&str]| {
        let mut line = vec![podman.as_ref()];
        line.extend_from_slice(verb);
        format!("{} {cidfile}", exec_line(&line))
    };
    let exec_stop = stop(&[
        "stop",
        "--ignore",
        &format!("--time={}", spec.stop_timeout_secs),
    ]);
    let exec_stop_post = stop(&["rm", "--force", "--ignore"]);
    let text = format!(
        "# Generated by horizon-container {version} from the managed container {definition}: \
         Podman runs it as {container}.\n\
         [Unit]\n\
         Description={description}\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         RequiresMountsFor=%t/containers\n\
         \n\
         [Service]\n\
         Environment=PODMAN_SYSTEMD_UNIT=%n\n\
         Type=notify\n\
         NotifyAccess=all\n\
         Restart=on-failure\n\
         TimeoutStopSec={stop_timeout}\n\
         ExecStart={exec_start}\n\
         ExecStop={exec_stop}\n\
         ExecStopPost={exec_stop_post}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        version = crate::VERSION,
        description = description(definition, generation),
        stop_timeout = spec.stop_timeout_secs + 60,
        wanted_by = scope.wanted_by(),
    );
    GeneratedUnit {
        kind: UnitKind::Systemd,
        file_name: format!("horizon-{definition}.service"),
        generation,
        text,
    }
}

/// A Quadlet `.container` file with `spec`. Its keys are those of Podman 4.4's Quadlet; what it
/// has no key for goes to `PodmanArgs=` (4.5). Plain values (`Image=`, `Volume=`…) cannot hold
/// control characters: a spec with one is refused, naming the field.
pub fn quadlet(
    definition: &str,
    generation: Option<u64>,
    spec: &ContainerSpec,
    scope: UnitScope,
) -> Result<GeneratedUnit, SystemdError> {
    let plain = |field: &str, value: &str| {
        plain_value(value).ok_or_else(|| SystemdError::Unrepresentable {
            field: field.to_owned(),
            value: value.to_owned(),
        })
    };
    let mut lines: Vec<String> = vec![
        format!("Image={}", plain("image", &spec.image)?),
        format!("ContainerName={}", unit_container_name(spec)),
        format!("Label={GENERATED_FROM_LABEL}={definition}"),
    ];
    for (name, value) in &spec.env {
        lines.push(format!(
            "Environment={}",
            environment_assignment(name, value)
        ));
    }
    for mount in &spec.mounts {
        lines.push(format!("Volume={}", plain("mounts", &volume(mount))?));
    }
    for device in &spec.devices {
        let value = format!(
            "{}:{}:{}",
            device.host, device.container, device.permissions
        );
        lines.push(format!("AddDevice={}", plain("devices", &value)?));
    }
    match spec.network {
        NetworkMode::Private => {}
        NetworkMode::Host => lines.push("Network=host".to_owned()),
        NetworkMode::None => lines.push("Network=none".to_owned()),
    }
    let mut podman_args: Vec<String> = Vec::new();
    if spec.privileged {
        podman_args.push("--privileged".to_owned());
    } else {
        lines.push("DropCapability=all".to_owned());
        if !spec.cap_add.is_empty() {
            lines.push(format!("AddCapability={}", spec.cap_add.join(" ")));
        }
    }
    if spec.no_new_privileges {
        lines.push("NoNewPrivileges=true".to_owned());
    }
    if spec.init {
        lines.push("RunInit=true".to_owned());
    }
    if let Some(user) = &spec.user {
        lines.push(format!("User={}", plain("user", user)?));
    }
    podman_args.extend(userns_option(spec.userns));
    if let Some(hostname) = &spec.hostname {
        podman_args.push(format!("--hostname={hostname}"));
    }
    podman_args.push(format!("--stop-timeout={}", spec.stop_timeout_secs));
    podman_args.extend(entrypoint_option(spec.entrypoint.as_deref()));
    lines.push(format!("PodmanArgs={}", exec_line(&podman_args)));
    if !spec.command.is_empty() {
        lines.push(format!("Exec={}", exec_line(&spec.command)));
    }
    let text = format!(
        "# Generated by horizon-container {version} from the managed container {definition}.\n\
         [Unit]\n\
         Description={description}\n\
         \n\
         [Container]\n\
         {container}\n\
         \n\
         [Service]\n\
         Restart=on-failure\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        version = crate::VERSION,
        description = description(definition, generation),
        container = lines.join("\n"),
        wanted_by = scope.wanted_by(),
    );
    Ok(GeneratedUnit {
        kind: UnitKind::Quadlet,
        file_name: format!("horizon-{definition}.container"),
        generation,
        text,
    })
}
