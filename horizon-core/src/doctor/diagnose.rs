//! Judging the facts: [`diagnose`] is a pure function of a [`DoctorInput`], one check per
//! prerequisite, each passed, a warning or failed, with what it found and the [`Fix`] for what is
//! not right. Every check is table-tested on made-up machines.

use super::report::{Check, CheckStatus, DoctorReport, Fix};
use super::{
    AgentFinding, DoctorInput, MINIMUM_PODMAN_MAJOR, RECOMMENDED_SUBORDINATE_IDS, SUBGID_FILE,
    SUBUID_FILE, ServiceProbe,
};
use crate::engine::service::PODMAN_PROGRAM;

/// The subordinate id ranges (`start`, `count`) of a user in an `/etc/subuid`-format text, matched
/// by name or by uid as shadow-utils does.
pub(super) fn subordinate_ranges(text: &str, user_name: Option<&str>, uid: u32) -> Vec<(u64, u64)> {
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
    checks.push(check_state(input));
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
    fix: Fix,
) -> Check {
    Check {
        id,
        title,
        status,
        detail,
        fix: Some(fix),
    }
}

/// The major version in `podman version 4.3.1`.
pub(super) fn major_version(version: &str) -> Option<u32> {
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
            Fix::InstallPodman,
        );
    };
    match &podman.version {
        Err(error) => not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            format!("{} does not run: {error}", podman.path.display()),
            Fix::ReinstallPodman,
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
                Fix::UpgradePodman,
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
            Fix::KeepServiceRunning { uid: input.uid },
        ),
        ServiceProbe::NoAnswer {
            error, explicit, ..
        } => {
            let fix = if input.podman.is_none() {
                Fix::InstallPodman
            } else if *explicit {
                Fix::StartServiceAtEndpoint
            } else {
                Fix::StartService { uid: input.uid }
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
    let fix = Fix::AddSubordinateIds { user: user.clone() };
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
    let fix = Fix::InstallIdMapHelpers;
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
            Fix::EnableUserNamespaces,
        ),
        (Some(_), Some(_), clone) if clone != Some(1) => not_passed(
            ID,
            TITLE,
            CheckStatus::Failed,
            "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces"
                .to_owned(),
            Fix::EnableUnprivilegedUserNamespaces,
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
                Fix::StartServiceThenCheckAgain,
            );
        }
    };
    match info {
        Err(error) => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!("not checked: {error}"),
            Fix::SeeServiceLog,
        ),
        Ok(info) if info.storage_driver == "vfs" => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!(
                "vfs in {}: every layer is a full copy, so containers are slow to create and large",
                info.graph_root
            ),
            Fix::UseOverlayStorage,
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
    not_passed(
        ID,
        TITLE,
        CheckStatus::Failed,
        format!("{dir} is not on PATH: exported binaries are not found"),
        Fix::AddExportDirToPath {
            dir: input.export_dir.clone(),
            uid: input.uid,
        },
    )
}

fn check_agent(input: &DoctorInput) -> Check {
    const ID: &str = "agent";
    const TITLE: &str = "In-container agent";
    const SLOW: &str = "new containers are made without it, and their exported binaries and `shell` \
                        take the API path (a libpod exec per call, ~150 ms instead of ~3 ms)";
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
            Fix::InstallAgent,
        ),
        AgentFinding::Unusable(why) => not_passed(
            ID,
            TITLE,
            CheckStatus::Warning,
            format!("{why}: {SLOW}"),
            Fix::InstallAgent,
        ),
    }
}

/// Every state file that cannot be read, one per line; each container's are repaired from its
/// container and generation history, an unreadable export ledger is set aside.
fn check_state(input: &DoctorInput) -> Check {
    const ID: &str = "state-files";
    const TITLE: &str = "horizon's state files";
    if input.state.is_empty() {
        return passed(ID, TITLE, "every one can be read".to_owned());
    }
    let mut names: Vec<String> = input
        .state
        .iter()
        .filter_map(|problem| problem.container.clone())
        .collect();
    names.sort();
    names.dedup();
    let ledger = input
        .state
        .iter()
        .find(|problem| problem.container.is_none())
        .map(|problem| problem.path.clone());
    let detail: Vec<&str> = input
        .state
        .iter()
        .map(|problem| problem.message.as_str())
        .collect();
    not_passed(
        ID,
        TITLE,
        CheckStatus::Failed,
        detail.join("\n"),
        Fix::RepairState { names, ledger },
    )
}
