//! The host facts every use case needs, gathered once per process: horizon's directories, where
//! definitions are read from, how Podman is found, the in-container agent, the desktop, the
//! registry client, the exported wrappers' client, and what systemd units run. [`Settings::from_process`] is the one place
//! the library reads the process environment for them; embedders and tests build the value by
//! hand instead.

use std::path::PathBuf;

use crate::definition::DefinitionSources;
use crate::endpoint::DiscoveryInput;
use crate::lifecycle::{AgentHost, DesktopHost};
use crate::paths::{HorizonPaths, PathInputs};
use crate::update::{DEFAULT_KEEP_PREVIOUS, RegistryClient};

/// Overrides the system definition directory.
pub(super) const SYSTEM_DIR_ENV: &str = "HORIZON_SYSTEM_DIR";
/// Overrides the user definition directory.
pub(super) const USER_DIR_ENV: &str = "HORIZON_USER_DIR";
/// Overrides horizon's state directory.
pub const STATE_DIR_ENV: &str = "HORIZON_STATE_DIR";
/// Overrides the directory exported wrappers are written to.
pub const EXPORT_DIR_ENV: &str = "HORIZON_EXPORT_DIR";
/// Overrides horizon's runtime directory (the agents' sockets).
pub const RUNTIME_DIR_ENV: &str = "HORIZON_RUNTIME_DIR";
/// Overrides the directory systemd units are installed in.
pub const UNIT_DIR_ENV: &str = "HORIZON_UNIT_DIR";
/// Overrides the file of the unattended update's checks.
pub const UPDATE_CONFIG_ENV: &str = "HORIZON_UPDATE_CONFIG";
/// Variables a unit passes on as they were when it was written, besides horizon's directories:
/// the agent new containers get, the exec path, and where Podman's tools read their settings.
const UNIT_PASSED_ENV: &[&str] = &[
    "HORIZON_AGENT",
    EXEC_PATH_ENV,
    "CONTAINERS_CONF",
    "CONTAINERS_REGISTRIES_CONF",
];

/// Chooses the exec path: `api` skips the agent, `agent` allows nothing else.
pub const EXEC_PATH_ENV: &str = "HORIZON_EXEC_PATH";

/// Which way commands go into a container ([`EXEC_PATH_ENV`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecPath {
    /// The container's agent when it has one and the request allows it, else the libpod API.
    #[default]
    Auto,
    /// Always the libpod API (`api`: to compare the paths, or to debug).
    Api,
    /// Only the agent: a container without one is a failure, never the API (`agent`: to prove
    /// which path ran, in tests and benchmarks).
    Agent,
}

impl ExecPath {
    /// The choice a value of [`EXEC_PATH_ENV`] names (anything else is [`ExecPath::Auto`]).
    pub fn from_value(value: Option<&std::ffi::OsStr>) -> ExecPath {
        match value.and_then(std::ffi::OsStr::to_str) {
            Some("api") => ExecPath::Api,
            Some("agent") => ExecPath::Agent,
            _ => ExecPath::Auto,
        }
    }
}

/// What a process (a binary's command line) overrides of the standard locations. `None` keeps
/// the standard value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The Podman endpoint (`--url`).
    pub url: Option<String>,
    /// The system definition directory.
    pub system_dir: Option<PathBuf>,
    /// The user definition directory.
    pub user_dir: Option<PathBuf>,
    /// The uid that must own system definition files.
    pub system_owner: Option<u32>,
    /// horizon's state directory.
    pub state_dir: Option<PathBuf>,
    /// Where wrappers are exported to.
    pub export_dir: Option<PathBuf>,
    /// horizon's runtime directory (the agents' sockets).
    pub runtime_dir: Option<PathBuf>,
}

/// Whether a use case may start the caller's own Podman service when none answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceStart {
    /// Start `podman system service` for the user (and say so through the observer).
    WhenMissing,
    /// Never start one: no answer is an error.
    Never,
}

/// The host facts of one process; see the module documentation.
#[derive(Clone, Debug)]
pub struct Settings {
    /// horizon's directories (state, exports, runtime).
    pub paths: HorizonPaths,
    /// Where definitions are read from.
    pub sources: DefinitionSources,
    /// How the Podman endpoint is found.
    pub discovery: DiscoveryInput,
    /// Whether a missing service is started.
    pub service_start: ServiceStart,
    /// The agent new containers get: none found, or why the one found is unusable.
    pub agent: Result<Option<AgentHost>, String>,
    /// The desktop resources of the host.
    pub desktop: DesktopHost,
    /// How registries are asked for digests.
    pub registry: RegistryClient,
    /// The client exported wrappers run (`horizon-exec`).
    pub export_client: PathBuf,
    /// The directories of `$PATH` (exports must not shadow a host command).
    pub search_path: Vec<PathBuf>,
    /// Previous generations an update or a reinstall keeps for rollback.
    pub keep_previous: usize,
    /// Which way `run`, `shell` and horizon-dev go into a container.
    pub exec_path: ExecPath,
    /// horizon-dev's configuration file (`None` without a home or config directory).
    pub dev_config: Option<PathBuf>,
    /// What the systemd units horizon writes run, and how.
    pub services: ServiceHost,
}

/// What the systemd use cases need of the host: whose manager, the installed binaries the units
/// run (absolute paths), the environment they pass on, and the manager's notification socket
/// when this process runs as a service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceHost {
    /// Whose service manager: the user's, or the system's for root.
    pub scope: crate::systemd::UnitScope,
    /// `horizon-container`, which `container@.service` runs.
    pub horizon_container: PathBuf,
    /// `horizon-update`, which the update service runs.
    pub horizon_update: PathBuf,
    /// `podman`, which generated units run.
    pub podman: PathBuf,
    /// The variables written into units (horizon's directories, the Podman endpoint, …).
    pub environment: Vec<(String, String)>,
    /// `$NOTIFY_SOCKET`: set when systemd runs this process as a `Type=notify` service.
    pub notify_socket: Option<PathBuf>,
    /// A service manager of this scope runs: systemd is PID 1 (`/run/systemd/system`), and for
    /// the user scope the user's manager answers in `$XDG_RUNTIME_DIR/systemd/private`.
    pub manager_running: bool,
}

/// Present while systemd runs as PID 1 (what `sd_booted` checks).
const SYSTEMD_BOOTED: &str = "/run/systemd/system";
/// The user manager's private socket, in the user's runtime directory.
const USER_MANAGER_SOCKET: &str = "systemd/private";

impl Settings {
    /// The settings of this process: its environment (`$HOME`, the XDG directories, `$PATH`,
    /// `$CONTAINER_HOST`, `$DISPLAY`, `$WAYLAND_DISPLAY`, `$HORIZON_AGENT`, the `HORIZON_*_DIR`
    /// variables, the registries.conf Podman is pointed at) with `overrides` applied. The exec
    /// client is looked for beside the running executable, then on `$PATH`.
    pub fn from_process(overrides: Overrides) -> Settings {
        // Every binary honours the same directory variables, whether or not its command line
        // has the matching option.
        let from_env = |key: &str| {
            std::env::var_os(key)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        // Relative directories are taken from where the command runs and kept absolute: they
        // are stored (ledger paths, journals) and bind-mounted (the runtime directory), and
        // must mean the same from any other directory later.
        let overrides = Overrides {
            system_dir: absolute(overrides.system_dir.or_else(|| from_env(SYSTEM_DIR_ENV))),
            user_dir: absolute(overrides.user_dir.or_else(|| from_env(USER_DIR_ENV))),
            state_dir: absolute(overrides.state_dir.or_else(|| from_env(STATE_DIR_ENV))),
            export_dir: absolute(overrides.export_dir.or_else(|| from_env(EXPORT_DIR_ENV))),
            runtime_dir: absolute(overrides.runtime_dir.or_else(|| from_env(RUNTIME_DIR_ENV))),
            ..overrides
        };
        let mut paths = HorizonPaths::from_inputs(&PathInputs::from_process());
        if let Some(dir) = overrides.state_dir {
            paths.state_dir = dir;
        }
        if let Some(dir) = overrides.export_dir {
            paths.export_dir = dir;
        }
        if let Some(dir) = overrides.runtime_dir {
            paths.runtime_dir = dir;
        }
        if let Some(dir) = absolute(from_env(UNIT_DIR_ENV)) {
            paths.unit_dir = dir;
        }
        if let Some(file) = absolute(from_env(UPDATE_CONFIG_ENV)) {
            paths.update_config = file;
        }
        let mut sources = DefinitionSources::from_environment(
            std::env::var_os("HOME"),
            std::env::var_os("XDG_CONFIG_HOME"),
        );
        if let Some(dir) = overrides.system_dir {
            sources.system_dir = dir;
        }
        if let Some(dir) = overrides.user_dir {
            sources.user_dir = Some(dir);
        }
        if let Some(uid) = overrides.system_owner {
            sources.system_owner = uid;
        }
        let agent = AgentHost::locate_for_this_process(paths.runtime_dir.clone());
        let desktop = DesktopHost::probe(
            std::env::var("DISPLAY").ok(),
            std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
            std::env::var("WAYLAND_DISPLAY").ok(),
        );
        let search_path: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect())
            .unwrap_or_default();
        let executable = std::env::current_exe().ok();
        let export_client = exec_client(executable.clone(), &search_path);
        let discovery = DiscoveryInput::from_process(overrides.url);
        let passed = UNIT_PASSED_ENV.iter().filter_map(|name| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.is_empty())
                .map(|value| (*name, value))
        });
        let scope = crate::systemd::UnitScope::for_uid(discovery.uid);
        let manager_running = std::path::Path::new(SYSTEMD_BOOTED).is_dir()
            && (scope == crate::systemd::UnitScope::System
                || discovery
                    .xdg_runtime_dir
                    .as_ref()
                    .is_some_and(|dir| dir.join(USER_MANAGER_SOCKET).exists()));
        let services = ServiceHost {
            scope,
            manager_running,
            horizon_container: installed_program(
                "horizon-container",
                executable.clone(),
                &search_path,
            ),
            horizon_update: installed_program("horizon-update", executable, &search_path),
            podman: crate::host_command::find_program("podman", None)
                .unwrap_or_else(|| PathBuf::from("/usr/bin/podman")),
            environment: unit_environment(&paths, &sources, &discovery, passed),
            notify_socket: from_env("NOTIFY_SOCKET"),
        };
        let dev_config = crate::devconfig::dev_config_path(
            std::env::var_os("HOME").map(PathBuf::from).as_deref(),
            std::env::var_os("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .as_deref(),
        );
        Settings {
            paths,
            sources,
            discovery,
            service_start: ServiceStart::WhenMissing,
            agent,
            desktop,
            registry: RegistryClient::for_this_process(),
            export_client,
            search_path,
            keep_previous: DEFAULT_KEEP_PREVIOUS,
            exec_path: ExecPath::from_value(std::env::var_os(EXEC_PATH_ENV).as_deref()),
            dev_config,
            services,
        }
    }

    /// The agent new containers get (`None` without a usable one).
    pub fn agent_host(&self) -> Option<&AgentHost> {
        self.agent.as_ref().ok().and_then(Option::as_ref)
    }

    /// Where exports go and what they run.
    pub(crate) fn export_setup(&self) -> crate::export::ExportSetup {
        crate::export::ExportSetup {
            export_dir: self.paths.export_dir.clone(),
            state_dir: self.paths.state_dir.clone(),
            client: self.export_client.clone(),
            search_path: self.search_path.clone(),
            version: crate::VERSION.to_owned(),
        }
    }

    /// horizon's update state (records, journals, generation history, locks).
    pub(crate) fn update_stores(&self) -> crate::update::UpdateStores {
        crate::update::UpdateStores::new(&self.paths.state_dir)
    }
}

/// `path` made absolute against the current directory (lexically: a symlink in it is resolved
/// when used, as for any absolute path). Without a current directory it stays as given, and the
/// paths checks that need an absolute path refuse it.
fn absolute(path: Option<PathBuf>) -> Option<PathBuf> {
    path.map(|path| std::path::absolute(&path).unwrap_or(path))
}

/// The exec client exported wrappers run: the one installed beside `executable` (every horizon
/// binary is installed with it), else the first on `search_path` (an embedder installed
/// elsewhere). With neither, the path beside `executable`: exporting then fails, naming it.
fn exec_client(executable: Option<PathBuf>, search_path: &[PathBuf]) -> PathBuf {
    installed_program(crate::export::CLIENT_BINARY, executable, search_path)
}

/// The variables a unit written by this process passes on: horizon's directories as this process
/// resolved them (so the service finds the same state and definitions), the Podman endpoint it
/// was pointed at, and the `passed` variables set here.
fn unit_environment<'a>(
    paths: &HorizonPaths,
    sources: &DefinitionSources,
    discovery: &DiscoveryInput,
    passed: impl Iterator<Item = (&'a str, String)>,
) -> Vec<(String, String)> {
    let mut environment: Vec<(String, String)> = Vec::new();
    let mut dir = |name: &str, path: &std::path::Path| {
        environment.push((name.to_owned(), path.display().to_string()));
    };
    dir(STATE_DIR_ENV, &paths.state_dir);
    dir(EXPORT_DIR_ENV, &paths.export_dir);
    dir(RUNTIME_DIR_ENV, &paths.runtime_dir);
    dir(SYSTEM_DIR_ENV, &sources.system_dir);
    if let Some(user_dir) = &sources.user_dir {
        dir(USER_DIR_ENV, user_dir);
    }
    if let Some(endpoint) = discovery
        .flag
        .as_ref()
        .or(discovery.container_host.as_ref())
    {
        environment.push(("CONTAINER_HOST".to_owned(), endpoint.clone()));
    }
    environment.extend(passed.map(|(name, value)| (name.to_owned(), value)));
    environment
}

/// The horizon binary `program`: the one installed beside `executable`, else the first on
/// `search_path`; with neither, the path beside `executable` (what fails then names it).
fn installed_program(
    program: &str,
    executable: Option<PathBuf>,
    search_path: &[PathBuf],
) -> PathBuf {
    let beside = executable.and_then(|exe| exe.parent().map(|dir| dir.join(program)));
    beside
        .iter()
        .cloned()
        .chain(search_path.iter().map(|dir| dir.join(program)))
        .find(|candidate| candidate.is_absolute() && candidate.is_file())
        .or(beside)
        .unwrap_or_else(|| PathBuf::from(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_client_is_found_beside_the_executable_then_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let (app, bin) = (dir.path().join("app"), dir.path().join("bin"));
        std::fs::create_dir_all(&app).unwrap();
        std::fs::create_dir_all(&bin).unwrap();
        let executable = Some(app.join("gui"));
        let search_path = vec![PathBuf::from("relative"), bin.clone()];

        // Nowhere: the path beside the executable, which exporting names in its refusal.
        assert_eq!(
            exec_client(executable.clone(), &search_path),
            app.join("horizon-exec")
        );
        std::fs::write(bin.join("horizon-exec"), "").unwrap();
        assert_eq!(
            exec_client(executable.clone(), &search_path),
            bin.join("horizon-exec")
        );
        std::fs::write(app.join("horizon-exec"), "").unwrap();
        assert_eq!(
            exec_client(executable, &search_path),
            app.join("horizon-exec")
        );
    }
}
