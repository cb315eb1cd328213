//! From a definition to the [`ContainerSpec`] of its managed container: image, labels, mounts,
//! environment, devices and the security settings of the spec's "Security Model" (only the
//! definition's effective capabilities, no-new-privileges unless privileged, the user's id kept in a
//! rootless user namespace, a private network unless the definition says otherwise, read-only
//! mounts where it says so). Also the pure mapping of the desktop integration flags onto the host's
//! sockets and devices.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::definition::{Network, ResolvedDefinition};
use crate::engine::{BindMount, ContainerSpec, DeviceMapping, NetworkMode, UserNamespace};
use crate::{labels, naming};

/// Seconds `stop` waits before killing a managed container. Its init (catatonit) forwards SIGTERM,
/// so a container that only sleeps stops at once; programs started in it get this long to finish.
pub const STOP_TIMEOUT_SECS: u32 = 10;

/// The main process of a managed container: it only keeps the container alive (commands run in it
/// through exec), with catatonit as PID 1 reaping the zombies those commands leave.
pub const KEEPALIVE_COMMAND: [&str; 2] = ["sleep", "infinity"];

/// Where the X11 server's sockets live on every Linux host.
pub const X11_SOCKET_DIR: &str = "/tmp/.X11-unix";
/// PipeWire's socket name in the runtime directory.
pub const PIPEWIRE_SOCKET: &str = "pipewire-0";
/// PulseAudio's (or pipewire-pulse's) socket, relative to the runtime directory.
pub const PULSE_SOCKET: &str = "pulse/native";
/// The GPU's device directory (DRM render and card nodes).
pub const DRI_DEVICES: &str = "/dev/dri";
/// The input devices' directory.
pub const INPUT_DEVICES: &str = "/dev/input";
/// cgroup permissions of desktop devices.
const DEVICE_PERMISSIONS: &str = "rwm";

/// Facts about the host an install depends on (the caller probes them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostContext {
    /// The Podman service is rootless (the user's id is then kept in the user namespace).
    pub rootless: bool,
    /// What desktop integration can use.
    pub desktop: DesktopHost,
    /// The in-container agent, when horizon has one: it becomes the container's main process.
    /// `None` makes the container the old way (`sleep infinity` under catatonit; API exec only).
    pub agent: Option<super::agent::AgentHost>,
}

/// The desktop resources present on the host; each is `Some` only when it exists there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesktopHost {
    /// `$DISPLAY`, when set.
    pub x11_display: Option<String>,
    /// The X11 socket directory.
    pub x11_socket_dir: Option<PathBuf>,
    /// The caller's runtime directory (`$XDG_RUNTIME_DIR`), shared sockets live below it.
    pub runtime_dir: Option<PathBuf>,
    /// `$WAYLAND_DISPLAY`, when its socket exists in the runtime directory.
    pub wayland_display: Option<String>,
    /// Whether the PipeWire socket exists in the runtime directory.
    pub pipewire: bool,
    /// Whether the PulseAudio socket exists in the runtime directory.
    pub pulse: bool,
    /// The GPU device directory.
    pub dri: Option<PathBuf>,
    /// The input device directory.
    pub input: Option<PathBuf>,
}

impl DesktopHost {
    /// Looks at the host: `display` is `$DISPLAY`, `runtime_dir` `$XDG_RUNTIME_DIR` and
    /// `wayland_display` `$WAYLAND_DISPLAY` (the caller reads the environment).
    pub fn probe(
        display: Option<String>,
        runtime_dir: Option<PathBuf>,
        wayland_display: Option<String>,
    ) -> Self {
        let present = |path: &Path| path.exists().then(|| path.to_path_buf());
        let runtime_dir = runtime_dir.filter(|dir| dir.is_absolute() && dir.is_dir());
        let in_runtime = |name: &str| {
            runtime_dir
                .as_ref()
                .is_some_and(|dir| dir.join(name).exists())
        };
        DesktopHost {
            x11_display: display.filter(|display| !display.is_empty()),
            x11_socket_dir: present(Path::new(X11_SOCKET_DIR)),
            wayland_display: wayland_display
                .filter(|name| !name.is_empty() && !name.contains('/') && in_runtime(name)),
            pipewire: in_runtime(PIPEWIRE_SOCKET),
            pulse: in_runtime(PULSE_SOCKET),
            dri: present(Path::new(DRI_DEVICES)),
            input: present(Path::new(INPUT_DEVICES)),
            runtime_dir,
        }
    }
}

/// What a definition's desktop flags add to its container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesktopResources {
    /// Sockets and socket directories bind-mounted at the same path.
    pub mounts: Vec<BindMount>,
    /// Device directories made available.
    pub devices: Vec<DeviceMapping>,
    /// Environment that points programs at them.
    pub env: BTreeMap<String, String>,
}

fn same_path_bind(path: &Path) -> BindMount {
    BindMount {
        source: path.display().to_string(),
        target: path.display().to_string(),
        read_only: false,
    }
}

fn same_path_device(path: &Path) -> DeviceMapping {
    DeviceMapping {
        host: path.display().to_string(),
        container: path.display().to_string(),
        permissions: DEVICE_PERMISSIONS.to_owned(),
    }
}

/// The sockets, devices and environment the desktop flags ask for, limited to what `host` has:
/// display → the X11 socket directory and `DISPLAY`, the Wayland socket and `WAYLAND_DISPLAY`;
/// audio → the PipeWire and PulseAudio sockets; gpu → `/dev/dri`; input → `/dev/input`. Sockets in
/// the runtime directory are mounted at the same path and `XDG_RUNTIME_DIR` points there.
pub fn desktop_resources(
    desktop: &crate::definition::Desktop,
    host: &DesktopHost,
) -> DesktopResources {
    let mut resources = DesktopResources::default();
    let mut uses_runtime_dir = false;
    if desktop.display {
        if let Some(dir) = &host.x11_socket_dir {
            resources.mounts.push(same_path_bind(dir));
            if let Some(display) = &host.x11_display {
                resources.env.insert("DISPLAY".into(), display.clone());
            }
        }
        if let (Some(runtime_dir), Some(wayland)) = (&host.runtime_dir, &host.wayland_display) {
            resources
                .mounts
                .push(same_path_bind(&runtime_dir.join(wayland)));
            resources
                .env
                .insert("WAYLAND_DISPLAY".into(), wayland.clone());
            uses_runtime_dir = true;
        }
    }
    if desktop.audio
        && let Some(runtime_dir) = &host.runtime_dir
    {
        if host.pipewire {
            resources
                .mounts
                .push(same_path_bind(&runtime_dir.join(PIPEWIRE_SOCKET)));
            uses_runtime_dir = true;
        }
        if host.pulse {
            let socket = runtime_dir.join(PULSE_SOCKET);
            resources.mounts.push(same_path_bind(&socket));
            resources
                .env
                .insert("PULSE_SERVER".into(), format!("unix:{}", socket.display()));
        }
    }
    if uses_runtime_dir && let Some(runtime_dir) = &host.runtime_dir {
        resources
            .env
            .insert("XDG_RUNTIME_DIR".into(), runtime_dir.display().to_string());
    }
    if desktop.gpu
        && let Some(dri) = &host.dri
    {
        resources.devices.push(same_path_device(dri));
    }
    if desktop.input
        && let Some(input) = &host.input
    {
        resources.devices.push(same_path_device(input));
    }
    resources
}

/// The labels of a managed container (and of its generation image) for `resolved` at `generation`.
pub(crate) fn managed_labels(
    resolved: &ResolvedDefinition,
    generation: u64,
) -> BTreeMap<String, String> {
    let definition = &resolved.definition;
    BTreeMap::from([
        (labels::MANAGED.to_owned(), labels::MANAGED_VALUE.to_owned()),
        (labels::DEFINITION.to_owned(), definition.name.clone()),
        (
            labels::DEFINITION_HASH.to_owned(),
            definition.content_hash(),
        ),
        (labels::GENERATION.to_owned(), generation.to_string()),
        (
            labels::LAYER.to_owned(),
            resolved.layer().as_str().to_owned(),
        ),
        (
            labels::PERSISTENT.to_owned(),
            definition.persistent.to_string(),
        ),
    ])
}

/// The managed container of `resolved`, running generation `generation` (image
/// `generation_image`), on `host`.
pub fn container_spec(
    resolved: &ResolvedDefinition,
    generation_image: &str,
    generation: u64,
    host: &HostContext,
) -> ContainerSpec {
    let definition = &resolved.definition;
    let desktop = desktop_resources(&definition.desktop, &host.desktop);
    let mut env = desktop.env;
    // The definition's own environment wins over the desktop defaults.
    env.extend(definition.environment.clone());
    // How exported wrappers know they run in this container; nothing overrides it.
    env.insert(
        crate::export::CONTAINER_MARKER_VAR.to_owned(),
        definition.name.clone(),
    );
    let mut mounts: Vec<BindMount> = definition
        .mounts
        .iter()
        .map(|mount| BindMount {
            source: mount.source.display().to_string(),
            target: mount.target.display().to_string(),
            read_only: mount.read_only,
        })
        .collect();
    mounts.extend(
        desktop
            .mounts
            .into_iter()
            .filter(|extra| !mounts.iter().any(|mount| mount.target == extra.target))
            .collect::<Vec<_>>(),
    );
    let mut devices: Vec<DeviceMapping> = definition
        .devices
        .iter()
        .map(|device| DeviceMapping {
            host: device.host.display().to_string(),
            container: device.container.display().to_string(),
            permissions: device.permissions.clone(),
        })
        .collect();
    devices.extend(
        desktop
            .devices
            .into_iter()
            .filter(|extra| {
                !devices
                    .iter()
                    .any(|device| device.container == extra.container)
            })
            .collect::<Vec<_>>(),
    );
    // With the agent, it is the main process (and init: it reaps what it starts); it learns the
    // container's bind mounts (to translate the caller's directory) and which variables the
    // container is configured with (they win over the caller's, as on the API path) from its
    // command line.
    let mut labels = managed_labels(resolved, generation);
    if let Some(user_mounts) = super::confine::label(&resolved.user_mounts) {
        labels.insert(labels::USER_MOUNTS.to_owned(), user_mounts);
    }
    // An agent running as root in a container others may not use refuses them itself, besides
    // the directory that keeps them out. A rootless service's agent runs as the user and serves
    // no one else anyway (and agents from before the option would not start with it).
    let private = !host.rootless && !super::agent::is_shared(&labels);
    let (command, init) = match &host.agent {
        Some(agent) => {
            let shared: Vec<(String, String)> = mounts
                .iter()
                .map(|mount| (mount.source.clone(), mount.target.clone()))
                .collect();
            let configured_env: Vec<String> = env.keys().cloned().collect();
            let command =
                horizon_agent_protocol::layout::serve_command(private, &shared, &configured_env);
            mounts.extend(super::agent::agent_mounts(
                agent,
                &definition.name,
                generation,
            ));
            (command, false)
        }
        None => (
            KEEPALIVE_COMMAND
                .iter()
                .map(|&arg| arg.to_owned())
                .collect(),
            true,
        ),
    };
    ContainerSpec {
        name: naming::container_name(&definition.name),
        image: generation_image.to_owned(),
        command,
        // horizon owns the main process: an image's entrypoint would wrap (or replace) it.
        entrypoint: Some(Vec::new()),
        labels,
        env,
        stop_timeout_secs: STOP_TIMEOUT_SECS,
        mounts,
        devices,
        network: match definition.network {
            Network::Private => NetworkMode::Private,
            Network::Host => NetworkMode::Host,
            Network::None => NetworkMode::None,
        },
        privileged: definition.privileged,
        cap_add: definition
            .effective_capabilities()
            .iter()
            .map(|capability| capability.kernel_name())
            .collect(),
        no_new_privileges: !definition.privileged,
        userns: host.rootless.then_some(UserNamespace::KeepId),
        user: None,
        hostname: None,
        init,
    }
}
