//! `doctor`: the spec's "Troubleshooting" section as checks. Each check says passed, warning or
//! failed, what it found, and the command that fixes it: Podman installed (and recent enough), its
//! API service reachable, the rootless prerequisites (subordinate uid and gid ranges, the setuid
//! `newuidmap`/`newgidmap` helpers, user namespaces enabled), the storage driver, and the export
//! directory on PATH.
//!
//! [`gather`] reads the machine (files, PATH, the service) into a [`DoctorInput`];
//! [`diagnose`] is a pure function of it, so every check is table-tested without the machine.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::endpoint::{DiscoveryInput, own_service};
use crate::engine::service::{PODMAN_PROGRAM, enable_socket_command, find_program};
use crate::engine::{Engine, EngineInfo, EngineVersion, connect};

/// The oldest Podman whose libpod API (v4) horizon speaks.
pub const MINIMUM_PODMAN_MAJOR: u32 = 4;
/// Subordinate ids a rootless user needs so images with the usual uid range (0–65535) unpack.
pub const RECOMMENDED_SUBORDINATE_IDS: u64 = 65_536;
/// The helpers rootless Podman maps user namespaces with (package `uidmap`).
pub const ID_MAP_HELPERS: [&str; 2] = ["newuidmap", "newgidmap"];

/// Where the machine's facts are read from.
pub const SUBUID_FILE: &str = "/etc/subuid";
/// Subordinate gid ranges.
pub const SUBGID_FILE: &str = "/etc/subgid";
/// The account database (for the user's name).
pub const PASSWD_FILE: &str = "/etc/passwd";
/// 0 disables user namespaces.
pub const MAX_USER_NAMESPACES_FILE: &str = "/proc/sys/user/max_user_namespaces";
/// Debian's and Ubuntu's switch for unprivileged user namespaces (absent on other kernels).
pub const UNPRIVILEGED_USERNS_CLONE_FILE: &str = "/proc/sys/kernel/unprivileged_userns_clone";

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// All is well.
    Passed,
    /// Works, but worse than it should (slow, fragile, or only on demand).
    Warning,
    /// Something horizon needs is missing.
    Failed,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`podman-installed`, `api-service`…), for scripts.
    pub id: &'static str,
    /// What was checked, for people.
    pub title: &'static str,
    /// The outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// The command or change that fixes it (warnings and failures).
    pub fix: Option<String>,
}

/// Every check, in the order of the spec's troubleshooting section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// The checks run (the rootless ones only for a non-root user).
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// True when no check failed.
    pub fn healthy(&self) -> bool {
        self.count(CheckStatus::Failed) == 0
    }

    /// How many checks came out `status`.
    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }
}

/// An installed program: where, and what `--version` said (or why it could not be run).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledProgram {
    /// Its path.
    pub path: PathBuf,
    /// The first line of `--version`, or the error.
    pub version: Result<String, String>,
}

/// An id-mapping helper: where, and whether it may map ids (setuid root or file capabilities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapHelper {
    /// `newuidmap` or `newgidmap`.
    pub name: &'static str,
    /// Its path, when found.
    pub path: Option<PathBuf>,
    /// Setuid root, or file capabilities present.
    pub privileged: bool,
}

/// What the API service probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceProbe {
    /// A service answered.
    Answered {
        /// Its endpoint (`unix://…`).
        endpoint: String,
        /// Where that endpoint came from (`--url`, `rootless socket`…).
        origin: String,
        /// Its version.
        version: EngineVersion,
        /// Its facts, or why they could not be read.
        info: Result<EngineInfo, String>,
    },
    /// None answered.
    NoAnswer {
        /// The connection error (every endpoint tried).
        error: String,
        /// An endpoint was given explicitly (`--url`, `CONTAINER_HOST`), so horizon will not start
        /// a service by itself.
        explicit: bool,
        /// The socket horizon would start the user's service on.
        own_socket: Option<String>,
    },
}

/// Everything the checks look at, read by [`gather`] or made up by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoctorInput {
    /// The effective uid.
    pub uid: u32,
    /// The user's name (from the account database), for `/etc/subuid` entries by name.
    pub user_name: Option<String>,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `podman` on PATH.
    pub podman: Option<InstalledProgram>,
    /// The id-mapping helpers.
    pub map_helpers: Vec<MapHelper>,
    /// Contents of `/etc/subuid` (`None` when missing or unreadable).
    pub subuid: Option<String>,
    /// Contents of `/etc/subgid`.
    pub subgid: Option<String>,
    /// Contents of `/proc/sys/user/max_user_namespaces`.
    pub max_user_namespaces: Option<String>,
    /// Contents of `/proc/sys/kernel/unprivileged_userns_clone` (`None` when the kernel has none).
    pub unprivileged_userns_clone: Option<String>,
    /// The API service.
    pub service: ServiceProbe,
    /// Where exported binaries go.
    pub export_dir: PathBuf,
    /// The in-container agent new containers get.
    pub agent: AgentFinding,
}

/// What was found of the in-container agent (the binary finds it: `$HORIZON_AGENT`, or installed
/// beside it; see `lifecycle::AgentHost::locate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentFinding {
    /// A static build at this path.
    Found(PathBuf),
    /// None where it is looked for.
    Missing,
    /// One was found but cannot be used (why).
    Unusable(String),
}

/// Reads the machine: files, PATH, the programs, and the API service (without starting one: a
/// diagnosis changes nothing).
pub async fn gather(
    discovery: &DiscoveryInput,
    export_dir: PathBuf,
    agent: AgentFinding,
) -> DoctorInput {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let path = discovery.path.clone();
    let podman = find_program(PODMAN_PROGRAM, path.as_deref()).map(|program| InstalledProgram {
        version: first_line_of_version(&program),
        path: program,
    });
    let map_helpers = ID_MAP_HELPERS
        .iter()
        .map(|&name| {
            let found = find_program(name, path.as_deref());
            MapHelper {
                name,
                privileged: found.as_deref().is_some_and(may_map_ids),
                path: found,
            }
        })
        .collect();
    DoctorInput {
        uid: discovery.uid,
        user_name: read(PASSWD_FILE).and_then(|passwd| user_name(&passwd, discovery.uid)),
        path,
        podman,
        map_helpers,
        subuid: read(SUBUID_FILE),
        subgid: read(SUBGID_FILE),
        max_user_namespaces: read(MAX_USER_NAMESPACES_FILE),
        unprivileged_userns_clone: read(UNPRIVILEGED_USERNS_CLONE_FILE),
        service: probe_service(discovery).await,
        export_dir,
        agent,
    }
}

async fn probe_service(discovery: &DiscoveryInput) -> ServiceProbe {
    match connect(discovery, None).await {
        Ok(connection) => {
            let engine = &connection.engine;
            let version = engine.version().await;
            let info = engine.info().await.map_err(|error| error.to_string());
            match version {
                Ok(version) => ServiceProbe::Answered {
                    endpoint: connection.candidate.endpoint.to_string(),
                    origin: connection.candidate.origin.to_string(),
                    version,
                    info,
                },
                Err(error) => ServiceProbe::NoAnswer {
                    error: error.to_string(),
                    explicit: own_service(discovery).is_none(),
                    own_socket: None,
                },
            }
        }
        Err(error) => ServiceProbe::NoAnswer {
            error: error.to_string(),
            explicit: own_service(discovery).is_none(),
            own_socket: own_service(discovery).map(|own| own.endpoint.to_string()),
        },
    }
}

/// The first line `PROGRAM --version` prints (the one shell-out of doctor).
fn first_line_of_version(program: &Path) -> Result<String, String> {
    let output = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", program.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} --version failed ({}): {}",
            program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// Setuid root, or file capabilities (`security.capability`), as the uidmap package installs them.
fn may_map_ids(program: &Path) -> bool {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let setuid_root = std::fs::metadata(program)
        .is_ok_and(|meta| meta.uid() == 0 && meta.permissions().mode() & 0o4000 != 0);
    let mut capabilities = [0u8; 64];
    setuid_root || rustix::fs::getxattr(program, "security.capability", &mut capabilities).is_ok()
}

/// The name of `uid` in an `/etc/passwd` text.
pub fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 3 && fields[2].parse() == Ok(uid)).then(|| fields[0].to_owned())
    })
}

/// The subordinate id ranges (`start`, `count`) of a user in an `/etc/subuid`-format text, matched
/// by name or by uid as shadow-utils does.
pub fn subordinate_ranges(text: &str, user_name: Option<&str>, uid: u32) -> Vec<(u64, u64)> {
    let uid_text = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let owner = fields.next()?;
            let start = fields.next()?.parse().ok()?;
            let count = fields.next()?.parse().ok()?;
            (Some(owner) == user_name || owner == uid_text).then_some((start, count))
        })
        .collect()
}

/// Runs every check on `input`.
pub fn diagnose(input: &DoctorInput) -> DoctorReport {
    let mut checks = vec![check_podman(input), check_service(input)];
    if input.uid != 0 {
        checks.push(check_subordinate_ids(
            input,
            ("subuid", "Subordinate uids (rootless)"),
            SUBUID_FILE,
            input.subuid.as_deref(),
        ));
        checks.push(check_subordinate_ids(
            input,
            ("subgid", "Subordinate gids (rootless)"),
            SUBGID_FILE,
            input.subgid.as_deref(),
        ));
        checks.push(check_map_helpers(input));
        checks.push(check_user_namespaces(input));
    }
    checks.push(check_storage_driver(input));
    checks.push(check_export_dir(input));
    checks.push(check_agent(input));
    DoctorReport { checks }
}

fn passed(id: &'static str, title: &'static str, detail: String) -> Check {
    Check {
        id,
        title,
        status: CheckStatus::Passed,
        detail,
        fix: None,
    }
}

fn not_passed(
    id: &'static str,
    title: &'static str,
    status: CheckStatus,
    detail: String,
    fix: String,
) -> Check {
    Check {
        id,
        title,
        status,
        detail,
        fix: Some(fix),
    }
}

const INSTALL_PODMAN: &str = "install Podman: `sudo apt-get install podman` (Debian, Ubuntu) or `sudo dnf install podman` (Fedora)";

/// The major version in `podman version 4.3.1`.
fn major_version(version: &str) -> Option<u32> {
    version
        .split_whitespace()
        .last()?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn check_podman(input: &DoctorInput) -> Check {
    const ID: &str = "podman-installed";
    const TITLE: &str = "Podman installed";
    let Some(podman) = &input.podman else {
        return not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!("no `{PODMAN_PROGRAM}` on PATH"),
            INSTALL_PODMAN.to_owned(),
        );
    };
    match &podman.version {
        Err(error) => not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!("{} does not run: {error}", podman.path.display()),
            format!("reinstall Podman ({INSTALL_PODMAN})"),
        ),
        Ok(version) => match major_version(version) {
            Some(major) if major >= MINIMUM_PODMAN_MAJOR => {
                passed(ID, TITLE, format!("{version} ({})", podman.path.display()))
            }
            _ => not_passed(
                ID,
                TITLE,
                CheckStatus::Failed,
                format!(
                    "{version} ({}): horizon needs Podman {MINIMUM_PODMAN_MAJOR} or later",
                    podman.path.display()
                ),
                format!("upgrade Podman ({INSTALL_PODMAN})"),
            ),
        },
    }
}

fn check_service(input: &DoctorInput) -> Check {
    const ID: &str = "api-service";
    const TITLE: &str = "Podman API service";
    match &input.service {
        ServiceProbe::Answered {
            endpoint,
            origin,
            version,
            ..
        } => passed(
            ID,
            TITLE,
            format!(
                "Podman {} (API {}) answers at {endpoint} ({origin})",
                version.version, version.api_version
            ),
        ),
        ServiceProbe::NoAnswer {
            error,
            explicit: false,
            own_socket: Some(socket),
        } if input.podman.is_some() => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!(
                "{error}\nhorizon-container starts `podman system service` on {socket} when needed"
            ),
            format!(
                "keep the service running: `{}`",
                enable_socket_command(input.uid)
            ),
        ),
        ServiceProbe::NoAnswer {
            error, explicit, ..
        } => {
            let fix = if input.podman.is_none() {
                INSTALL_PODMAN.to_owned()
            } else if *explicit {
                "start the service at that endpoint, or drop --url / CONTAINER_HOST to use your own"
                    .to_owned()
            } else {
                format!("start the service: `{}`", enable_socket_command(input.uid))
            };
            not_passed(ID, TITLE, CheckStatus::Failed, error.clone(), fix)
        }
    }
}

fn check_subordinate_ids(
    input: &DoctorInput,
    (id, title): (&'static str, &'static str),
    file: &str,
    text: Option<&str>,
) -> Check {
    let user = input
        .user_name
        .clone()
        .unwrap_or_else(|| input.uid.to_string());
    let fix = format!(
        "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}, then `podman system migrate`"
    );
    let ranges = subordinate_ranges(
        text.unwrap_or_default(),
        input.user_name.as_deref(),
        input.uid,
    );
    let total: u64 = ranges.iter().map(|(_, count)| count).sum();
    if ranges.is_empty() {
        let detail = match text {
            None => format!("{file} does not exist or cannot be read"),
            Some(_) => format!("{file} has no entry for {user}"),
        };
        return not_passed(id, title, CheckStatus::Failed, detail, fix);
    }
    let listed: Vec<String> = ranges
        .iter()
        .map(|(start, count)| format!("{start}-{}", start + count.saturating_sub(1)))
        .collect();
    let detail = format!("{user}: {} ({total} ids) in {file}", listed.join(", "));
    if total < RECOMMENDED_SUBORDINATE_IDS {
        return not_passed(
            id,
            title,
            CheckStatus::Warning,
            format!("{detail}: images using ids up to 65535 will not unpack"),
            fix,
        );
    }
    passed(id, title, detail)
}

fn check_map_helpers(input: &DoctorInput) -> Check {
    const ID: &str = "id-map-helpers";
    const TITLE: &str = "newuidmap and newgidmap (rootless)";
    let fix = "install them setuid root: `sudo apt-get install uidmap` (Debian, Ubuntu) or `sudo dnf install shadow-utils` (Fedora)".to_owned();
    let missing: Vec<&str> = input
        .map_helpers
        .iter()
        .filter(|helper| helper.path.is_none())
        .map(|helper| helper.name)
        .collect();
    if !missing.is_empty() {
        return not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!("not on PATH: {}", missing.join(", ")),
            fix,
        );
    }
    let unprivileged: Vec<String> = input
        .map_helpers
        .iter()
        .filter(|helper| !helper.privileged)
        .filter_map(|helper| helper.path.as_ref().map(|path| path.display().to_string()))
        .collect();
    if !unprivileged.is_empty() {
        return not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!(
                "neither setuid root nor with file capabilities: {}",
                unprivileged.join(", ")
            ),
            fix,
        );
    }
    let found: Vec<String> = input
        .map_helpers
        .iter()
        .filter_map(|helper| helper.path.as_ref().map(|path| path.display().to_string()))
        .collect();
    passed(ID, TITLE, found.join(", "))
}

fn check_user_namespaces(input: &DoctorInput) -> Check {
    const ID: &str = "user-namespaces";
    const TITLE: &str = "User namespaces enabled (rootless)";
    let number = |text: &Option<String>| text.as_deref().and_then(|t| t.trim().parse::<u64>().ok());
    let max = number(&input.max_user_namespaces);
    let clone = number(&input.unprivileged_userns_clone);
    match (max, &input.unprivileged_userns_clone, clone) {
        (None, ..) | (Some(0), ..) => not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!(
                "user.max_user_namespaces is {}",
                max.map_or_else(|| "unreadable".to_owned(), |max| max.to_string())
            ),
            "sudo sysctl -w user.max_user_namespaces=15000 (and set it in /etc/sysctl.d/ to keep it)"
                .to_owned(),
        ),
        (Some(_), Some(_), clone) if clone != Some(1) => not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces"
                .to_owned(),
            "sudo sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"
                .to_owned(),
        ),
        (Some(max), None, _) => passed(ID, TITLE, format!("user.max_user_namespaces = {max}")),
        (Some(max), Some(_), _) => passed(
            ID,
            TITLE,
            format!("user.max_user_namespaces = {max}, kernel.unprivileged_userns_clone = 1"),
        ),
    }
}

fn check_storage_driver(input: &DoctorInput) -> Check {
    const ID: &str = "storage-driver";
    const TITLE: &str = "Storage driver";
    let info = match &input.service {
        ServiceProbe::Answered { info, .. } => info,
        ServiceProbe::NoAnswer { .. } => {
            return not_passed(
                ID,
                TITLE,
                CheckStatus::Warning,
                "not checked: no Podman service answered".to_owned(),
                "start the service (see above), then run doctor again".to_owned(),
            );
        }
    };
    match info {
        Err(error) => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!("not checked: {error}"),
            "see the Podman service's log".to_owned(),
        ),
        Ok(info) if info.storage_driver == "vfs" => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!(
                "vfs in {}: every layer is a full copy, so containers are slow to create and large",
                info.graph_root
            ),
            "use overlay: install fuse-overlayfs (or run Linux 5.13 or later), set driver = \"overlay\" \
             in ~/.config/containers/storage.conf, then `podman system reset` (removes all images \
             and containers)"
                .to_owned(),
        ),
        Ok(info) => passed(
            ID,
            TITLE,
            format!("{} in {}", info.storage_driver, info.graph_root),
        ),
    }
}

fn check_export_dir(input: &DoctorInput) -> Check {
    const ID: &str = "export-dir-on-path";
    const TITLE: &str = "Export directory on PATH";
    let on_path = input
        .path
        .as_deref()
        .is_some_and(|path| std::env::split_paths(path).any(|dir| dir == input.export_dir));
    let dir = input.export_dir.display();
    if on_path {
        return passed(ID, TITLE, format!("{dir} is on PATH"));
    }
    let profile = if input.uid == 0 {
        "/etc/profile"
    } else {
        "~/.profile"
    };
    not_passed(
        ID,
        TITLE,
        CheckStatus::Failed,
        format!("{dir} is not on PATH: exported binaries are not found"),
        format!("echo 'export PATH=\"{dir}:$PATH\"' >> {profile}, then log in again"),
    )
}

fn check_agent(input: &DoctorInput) -> Check {
    const ID: &str = "agent";
    const TITLE: &str = "In-container agent";
    const SLOW: &str = "new containers are made without it, and their exported binaries and `shell` \
                        take the API path (a libpod exec per call, ~150 ms instead of ~3 ms)";
    const FIX: &str = "install the static agent as /usr/libexec/horizon/horizon-agent (or beside \
                       horizon-container), or set HORIZON_AGENT to it (`scripts/build-agent` builds \
                       it); then `horizon-container install NAME --reinstall` gives a container it";
    match &input.agent {
        AgentFinding::Found(path) => passed(ID, TITLE, format!("{} (static)", path.display())),
        AgentFinding::Missing => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!(
                "none found ($HORIZON_AGENT, ../libexec/horizon/horizon-agent, horizon-agent beside \
                 horizon-container): {SLOW}"
            ),
            FIX.to_owned(),
        ),
        AgentFinding::Unusable(why) => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!("{why}: {SLOW}"),
            FIX.to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests;
