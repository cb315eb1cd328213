//! The in-container agent's side of the lifecycle (see the agent protocol's `layout` for the whole
//! layout): a managed container's spec gets the agent as its main process, with the static binary
//! and its per-instance socket directory bind-mounted in; before any start that directory must
//! exist on the host (it lives in the runtime directory, a tmpfs gone after a reboot), and once the
//! container named `horizonos-NAME` runs, its instance becomes the `active` one wrappers reach.
//! Everything is derived from the container's own mounts, so a container made before the agent
//! (no such mount) is simply left alone: its exports use the API path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use horizon_agent_protocol::layout::{self, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME};

use crate::definition::Layer;
use crate::engine::BindMount;
use crate::labels;

/// How long a freshly started container's agent may take to listen.
pub const AGENT_START_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the socket is looked for meanwhile.
const AGENT_POLL: Duration = Duration::from_millis(20);

/// What the host provides for agent-managed containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentHost {
    /// The static `horizon-agent` binary on the host (bind-mounted read-only).
    pub binary: PathBuf,
    /// horizon's runtime directory (instance directories live below it).
    pub runtime_dir: PathBuf,
}

/// Names the agent binary new containers get, overriding where it is installed.
pub const AGENT_ENV: &str = "HORIZON_AGENT";

impl AgentHost {
    /// [`AgentHost::locate`] for this process: `$HORIZON_AGENT`, else the one installed beside
    /// the running binary.
    pub fn locate_for_this_process(runtime_dir: PathBuf) -> Result<Option<AgentHost>, String> {
        let exe = std::env::current_exe().ok();
        AgentHost::locate(
            std::env::var_os(AGENT_ENV).map(PathBuf::from),
            exe.as_deref(),
            runtime_dir,
        )
    }

    /// The agent for new containers: `explicit` (`$HORIZON_AGENT`, passed in), else the one
    /// installed beside the running binary `exe` (`../libexec/horizon/horizon-agent`, or
    /// `horizon-agent` in the same directory). `Ok(None)` when there is none; an error (for the
    /// caller to report) when the one found is unusable: only a static build runs in every image.
    pub fn locate(
        explicit: Option<PathBuf>,
        exe: Option<&Path>,
        runtime_dir: PathBuf,
    ) -> Result<Option<AgentHost>, String> {
        let Some(binary) = explicit.or_else(|| exe.and_then(layout::find_agent_beside)) else {
            return Ok(None);
        };
        let binary = std::fs::canonicalize(&binary).map_err(|error| {
            format!(
                "the agent binary {} is not usable: {error}",
                binary.display()
            )
        })?;
        if !layout::is_static_executable(&binary).unwrap_or(false) {
            return Err(format!(
                "the agent binary {} is not statically linked (build it with scripts/build-agent)",
                binary.display()
            ));
        }
        Ok(Some(AgentHost {
            binary,
            runtime_dir,
        }))
    }
}

/// The host directory of a container's agent socket (the source of its
/// [`SOCKET_DIR_IN_CONTAINER`] mount), or `None` for a container without the agent.
pub fn agent_instance_dir(mounts: &[BindMount]) -> Option<PathBuf> {
    mounts
        .iter()
        .find(|mount| mount.target == SOCKET_DIR_IN_CONTAINER)
        .map(|mount| PathBuf::from(&mount.source))
}

/// Whether other users may reach the agent of a container with these labels: only containers of
/// the system and built-in layers are shared (their exports are every user's); a user-layer
/// container is its owner's alone, root's included.
pub(crate) fn is_shared(container_labels: &BTreeMap<String, String>) -> bool {
    container_labels.get(labels::LAYER).map(String::as_str) != Some(Layer::User.as_str())
}

/// Creates the socket directory of the container with these mounts and labels on the host
/// (needed before create and every start), reachable by others only for a system or built-in
/// container; nothing for a container without the agent.
pub fn prepare_agent_dir(
    mounts: &[BindMount],
    container_labels: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    match agent_instance_dir(mounts) {
        Some(dir) => layout::prepare_instance_dir(&dir, is_shared(container_labels)),
        None => Ok(()),
    }
}

/// Removes definition `name`'s agent directory under `runtime_dir` (every instance's socket
/// directory and the `active` mark) once its containers are gone; nothing when there is none.
/// What a container planted there (links to anywhere) is removed, never followed.
pub fn remove_agent_dirs(
    runtime_dir: &Path,
    name: &str,
) -> Result<(), crate::lifecycle::LifecycleError> {
    let dir = layout::definition_dir(runtime_dir, name);
    match std::fs::remove_dir_all(&dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(crate::lifecycle::LifecycleError::State {
                action: "remove the agent directory",
                path: dir,
                source: error,
            })
        }
        _ => Ok(()),
    }
}

/// Makes the container with these mounts the one wrappers of its definition reach; nothing for a
/// container without the agent. Call it for the container named `horizonos-NAME` only, once it
/// runs (`lifecycle::start` does).
pub fn activate_agent(mounts: &[BindMount]) -> std::io::Result<()> {
    match agent_instance_dir(mounts) {
        Some(dir) => layout::activate(&dir),
        None => Ok(()),
    }
}

/// Waits until the agent of a started container listens (its socket exists); `false` after
/// [`AGENT_START_TIMEOUT`]. True at once for a container without the agent.
pub async fn wait_for_agent(mounts: &[BindMount]) -> bool {
    let Some(dir) = agent_instance_dir(mounts) else {
        return true;
    };
    let socket = dir.join(SOCKET_NAME);
    let deadline = tokio::time::Instant::now() + AGENT_START_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if is_socket(&socket) {
            return true;
        }
        tokio::time::sleep(AGENT_POLL).await;
    }
    is_socket(&socket)
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_socket())
}

/// The mounts the agent adds to a container of definition `name` at `generation`.
pub(crate) fn agent_mounts(agent: &AgentHost, name: &str, generation: u64) -> [BindMount; 2] {
    [
        BindMount {
            source: agent.binary.display().to_string(),
            target: layout::AGENT_IN_CONTAINER.to_owned(),
            read_only: true,
        },
        BindMount {
            source: layout::instance_dir(&agent.runtime_dir, name, generation)
                .display()
                .to_string(),
            target: SOCKET_DIR_IN_CONTAINER.to_owned(),
            read_only: false,
        },
    ]
}
