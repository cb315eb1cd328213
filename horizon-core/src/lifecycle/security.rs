//! After create, what Podman applied is compared with what was asked: Podman silently ignores
//! unknown or misspelled fields of a create spec, so "asked for" is not "got". [`check_security`] is
//! a pure comparison of a [`ContainerSpec`] with the inspected [`ContainerDetails`].

use serde::Serialize;

use crate::engine::{AppliedSecurity, ContainerDetails, ContainerSpec, NetworkMode, UserNamespace};

/// Podman's name of the user namespace mode that keeps the caller's uid.
const KEEP_ID: &str = "keep-id";
/// The seccomp profile value Podman reports when filtering is off.
const SECCOMP_UNCONFINED: &str = "unconfined";
/// Network modes Podman reports for a private namespace: rootful bridge, rootless slirp4netns or
/// pasta.
const PRIVATE_NETWORK_MODES: &[&str] = &["bridge", "slirp4netns", "pasta"];

/// One security setting that differs from what was asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SecurityMismatch {
    /// The setting (`effective capabilities`, `no-new-privileges`…).
    pub setting: &'static str,
    /// What was asked.
    pub expected: String,
    /// What Podman applied.
    pub actual: String,
}

impl std::fmt::Display for SecurityMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: asked {}, got {}",
            self.setting, self.expected, self.actual
        )
    }
}

fn mismatch(
    setting: &'static str,
    expected: impl ToString,
    actual: impl ToString,
) -> SecurityMismatch {
    SecurityMismatch {
        setting,
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

/// Whether a rootless container keeps the user's uid: Podman 4.3 reports keep-id as `private`,
/// but its uid map then sends one non-root container uid to 0 of the service's namespace (the
/// user itself) instead of container root.
pub fn keeps_user_id(applied: &AppliedSecurity) -> bool {
    applied.userns_mode.starts_with(KEEP_ID)
        || applied.uid_map.iter().any(|entry| {
            let mut parts = entry.split(':');
            matches!(
                (parts.next(), parts.next(), parts.next()),
                (Some(container), Some("0"), Some("1")) if container != "0"
            )
        })
}

/// Every security-relevant difference between `spec` and what `details` shows Podman applied:
/// effective capabilities (exactly `cap_add`, unless privileged), privileged, no-new-privileges,
/// seccomp (never off unless privileged), the network mode, the user namespace, and each mount's
/// source and read-only flag. Empty when everything matches.
pub fn check_security(spec: &ContainerSpec, details: &ContainerDetails) -> Vec<SecurityMismatch> {
    let applied = &details.security;
    let mut mismatches = Vec::new();
    if applied.privileged != spec.privileged {
        mismatches.push(mismatch("privileged", spec.privileged, applied.privileged));
    }
    if !spec.privileged {
        let mut expected = spec.cap_add.clone();
        expected.sort();
        expected.dedup();
        let mut actual = applied.effective_caps.clone();
        actual.sort();
        if expected != actual {
            mismatches.push(mismatch(
                "effective capabilities",
                format!("[{}]", expected.join(", ")),
                format!("[{}]", actual.join(", ")),
            ));
        }
        if applied.seccomp_profile == SECCOMP_UNCONFINED {
            mismatches.push(mismatch(
                "seccomp",
                "the default profile",
                SECCOMP_UNCONFINED,
            ));
        }
    }
    if applied.no_new_privileges != spec.no_new_privileges {
        mismatches.push(mismatch(
            "no-new-privileges",
            spec.no_new_privileges,
            applied.no_new_privileges,
        ));
    }
    let network_ok = match spec.network {
        NetworkMode::Private => PRIVATE_NETWORK_MODES.contains(&applied.network_mode.as_str()),
        NetworkMode::Host => applied.network_mode == "host",
        NetworkMode::None => applied.network_mode == "none",
    };
    if !network_ok {
        let expected = match spec.network {
            NetworkMode::Private => "private",
            NetworkMode::Host => "host",
            NetworkMode::None => "none",
        };
        mismatches.push(mismatch("network", expected, &applied.network_mode));
    }
    if spec.userns == Some(UserNamespace::KeepId) && !keeps_user_id(applied) {
        mismatches.push(mismatch(
            "user namespace",
            "keep-id",
            format!(
                "{} (uid map [{}])",
                applied.userns_mode,
                applied.uid_map.join(", ")
            ),
        ));
    }
    for mount in &spec.mounts {
        match details
            .mounts
            .iter()
            .find(|applied| applied.target == mount.target)
        {
            None => mismatches.push(mismatch(
                "mount",
                format!("{} at {}", mount.source, mount.target),
                "no such mount",
            )),
            Some(applied)
                if applied.read_only != mount.read_only || applied.source != mount.source =>
            {
                let describe = |source: &str, read_only: bool| {
                    format!(
                        "{source} at {} ({})",
                        mount.target,
                        if read_only { "read-only" } else { "read-write" }
                    )
                };
                mismatches.push(mismatch(
                    "mount",
                    describe(&mount.source, mount.read_only),
                    describe(&applied.source, applied.read_only),
                ));
            }
            Some(_) => {}
        }
    }
    mismatches
}
