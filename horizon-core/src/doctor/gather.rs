//! Gathering the machine's facts into a [`DoctorInput`]: files (`/etc/subuid`, `/etc/passwd`,
//! the user-namespace switches), programs on PATH (Podman, the id-mapping helpers), and the API
//! service, probed without starting one (a diagnosis changes nothing). Judging them is
//! `diagnose`'s job.

use std::path::{Path, PathBuf};

use super::{
    AgentFinding, DoctorInput, ID_MAP_HELPERS, InstalledProgram, MAX_USER_NAMESPACES_FILE,
    MapHelper, PASSWD_FILE, SUBGID_FILE, SUBUID_FILE, ServiceProbe, StateProblem,
    UNPRIVILEGED_USERNS_CLONE_FILE,
};
use crate::endpoint::{DiscoveryInput, own_service};
use crate::engine::service::{PODMAN_PROGRAM, find_program};
use crate::engine::{Engine, connect};

/// Reads the machine: files, PATH, the programs, and the API service (without starting one: a
/// diagnosis changes nothing); `state` is what the state files' own stores found unreadable.
pub async fn gather(
    discovery: &DiscoveryInput,
    export_dir: PathBuf,
    agent: AgentFinding,
    state: Vec<StateProblem>,
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
        state,
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
pub(super) fn user_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 3 && fields[2].parse() == Ok(uid)).then(|| fields[0].to_owned())
    })
}
