//! The lifecycle of managed containers: install (pull, build the generation image, create, verify
//! the security Podman applied, start, record), start/stop (non-persistent containers are recreated
//! fresh from their generation image on each start), status, list state, remove and cleanup.
//!
//! Everything goes through the [`Engine`](crate::Engine) seam and returns data: outcomes, reports and
//! [`LifecycleError`]s naming the step that failed. Managed containers are found by label
//! ([`crate::labels`]), never by parsing names. Host facts (rootless or not, desktop sockets, the
//! state directory) come in as values; nothing here reads the environment or prints.

mod agent;
mod cleanup;
mod confine;
mod create;
mod error;
mod install;
mod packages;
mod rebuild;
mod remove;
mod security;
mod spec;
mod start;
mod state;
mod status;
#[cfg(test)]
pub(crate) mod tests;

pub use agent::{
    AGENT_ENV, AGENT_START_TIMEOUT, AgentHost, activate_agent, agent_instance_dir,
    prepare_agent_dir, remove_agent_dirs, wait_for_agent,
};
pub use cleanup::{CleanupFailure, CleanupItem, CleanupKind, CleanupReport, cleanup};
pub use error::{InstallStep, LifecycleError};
pub use install::{InstallOutcome, InstallProgress, InstallRequest, install};
// The steps install and update share (the update module builds and verifies generations with them).
pub(crate) use create::recorded_spec;
pub(crate) use install::{
    BuiltGeneration, Made, beside_name, build_generation, create_and_start, exec_with_tail,
    host_context, install_record, next_generation, remove_stale_builds,
};
pub use packages::{PackageCommand, PackageManager, package_commands};
pub(crate) use rebuild::record_from_container;
pub use remove::{RemoveOptions, RemoveReport, remove};
pub use security::{SecurityMismatch, check_security, keeps_user_id};
pub use spec::{
    DRI_DEVICES, DesktopHost, DesktopResources, HostContext, INPUT_DEVICES, KEEPALIVE_COMMAND,
    PIPEWIRE_SOCKET, PULSE_SOCKET, STOP_TIMEOUT_SECS, X11_SOCKET_DIR, container_spec,
    desktop_resources,
};
pub use start::{StartOutcome, StopOutcome, ensure_running, find_managed, start, stop};
pub(crate) use start::{active_container, generation_of, managed_filter};
pub use state::{
    INSTALL_RECORD_SCHEMA_VERSION, InstallRecord, RecordScan, RemovedRecord, SET_ASIDE_SUFFIX,
    StateStore, UnreadableRecord,
};
pub use status::{
    ContainerFacts, ContainerStatus, InstalledState, InstalledStates, StateSummary,
    installed_states, match_states, status, summarize,
};
