//! Choosing the base-system backend from facts about the host (a pure function, so every case is
//! tested without those tools). The order:
//!
//! 1. a backend named explicitly (`--backend`);
//! 2. a sysroot given explicitly (`--sysroot`): plain `ostree` on it;
//! 3. a booted OSTree system ([`OSTREE_BOOTED_MARKER`] exists): `rpm-ostree` when installed (it
//!    manages both repository- and image-based hosts), else `bootc`, else `ostree`;
//! 4. otherwise the base is not an OSTree system, and the base layer is skipped, not failed.

use std::path::PathBuf;

use super::{AnyBackend, BackendKind, Bootc, OstreeAdmin, RpmOstree};

/// The file ostree's initramfs creates on a booted OSTree system.
pub const OSTREE_BOOTED_MARKER: &str = "/run/ostree-booted";

/// What the host looks like (the binary gathers it; tests invent it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectInput {
    /// `--backend`.
    pub backend: Option<BackendKind>,
    /// `--sysroot`.
    pub sysroot: Option<PathBuf>,
    /// `--os`.
    pub os: Option<String>,
    /// [`OSTREE_BOOTED_MARKER`] exists.
    pub ostree_booted: bool,
    /// An `ostree` program is on PATH.
    pub has_ostree: bool,
    /// An `rpm-ostree` program is on PATH.
    pub has_rpm_ostree: bool,
    /// A `bootc` program is on PATH.
    pub has_bootc: bool,
}

/// The backend to use, or why there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseDetection {
    /// The backend that manages this system's base.
    Found(AnyBackend),
    /// Not an OSTree system (or its tool is missing): the reason, for the report.
    Absent {
        /// Why no backend applies, in words for the report.
        reason: String,
    },
}

/// Chooses the backend (see the module documentation for the order).
pub fn detect(input: &DetectInput) -> BaseDetection {
    let ostree = || {
        AnyBackend::Ostree(OstreeAdmin {
            sysroot: input.sysroot.clone(),
            os: input.os.clone(),
        })
    };
    let chosen = match input.backend {
        Some(BackendKind::Ostree) => Some(ostree()),
        Some(BackendKind::RpmOstree) => Some(AnyBackend::RpmOstree(RpmOstree)),
        Some(BackendKind::Bootc) => Some(AnyBackend::Bootc(Bootc)),
        None if input.sysroot.is_some() => Some(ostree()),
        None if input.ostree_booted && input.has_rpm_ostree => {
            Some(AnyBackend::RpmOstree(RpmOstree))
        }
        None if input.ostree_booted && input.has_bootc => Some(AnyBackend::Bootc(Bootc)),
        None if input.ostree_booted => Some(ostree()),
        None => None,
    };
    let Some(backend) = chosen else {
        return BaseDetection::Absent {
            reason: format!(
                "not an OSTree system ({OSTREE_BOOTED_MARKER} does not exist); use --sysroot for an \
                 OSTree sysroot that is not booted"
            ),
        };
    };
    let (tool, present) = match &backend {
        AnyBackend::Ostree(_) => ("ostree", input.has_ostree),
        AnyBackend::RpmOstree(_) => ("rpm-ostree", input.has_rpm_ostree),
        AnyBackend::Bootc(_) => ("bootc", input.has_bootc),
    };
    if !present {
        return BaseDetection::Absent {
            reason: format!("{tool} is not installed"),
        };
    }
    BaseDetection::Found(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(input: &DetectInput) -> Result<BackendKind, String> {
        use super::super::BaseSystem;
        match detect(input) {
            BaseDetection::Found(backend) => Ok(backend.kind()),
            BaseDetection::Absent { reason } => Err(reason),
        }
    }

    #[test]
    fn the_detection_order_is_explicit_then_sysroot_then_booted_tools() {
        let all_tools = DetectInput {
            has_ostree: true,
            has_rpm_ostree: true,
            has_bootc: true,
            ..Default::default()
        };
        let booted = DetectInput {
            ostree_booted: true,
            ..all_tools.clone()
        };
        let cases: Vec<(&str, DetectInput, Result<BackendKind, String>)> =
            vec![
            (
                "explicit wins",
                DetectInput {
                    backend: Some(BackendKind::Bootc),
                    ..booted.clone()
                },
                Ok(BackendKind::Bootc),
            ),
            (
                "a sysroot means plain ostree",
                DetectInput {
                    sysroot: Some("/tmp/s".into()),
                    ..booted.clone()
                },
                Ok(BackendKind::Ostree),
            ),
            ("booted: rpm-ostree first", booted.clone(), Ok(BackendKind::RpmOstree)),
            (
                "booted without rpm-ostree: bootc",
                DetectInput {
                    has_rpm_ostree: false,
                    ..booted.clone()
                },
                Ok(BackendKind::Bootc),
            ),
            (
                "booted with ostree only",
                DetectInput {
                    has_rpm_ostree: false,
                    has_bootc: false,
                    ..booted.clone()
                },
                Ok(BackendKind::Ostree),
            ),
            (
                "not booted from OSTree",
                all_tools.clone(),
                Err("not an OSTree system (/run/ostree-booted does not exist); use --sysroot for \
                     an OSTree sysroot that is not booted"
                    .into()),
            ),
            (
                "the chosen tool is missing",
                DetectInput {
                    backend: Some(BackendKind::RpmOstree),
                    ..Default::default()
                },
                Err("rpm-ostree is not installed".into()),
            ),
        ];
        for (name, input, expected) in cases {
            assert_eq!(kind(&input), expected, "{name}");
        }
    }
}
