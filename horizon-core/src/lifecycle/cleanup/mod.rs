//! `cleanup`: what horizon made and nothing needs any more, plus the spec's `podman image prune`.
//!
//! Removed, in this order: stopped managed containers whose definition is gone; stopped build
//! containers an interrupted install left; generation images that no container uses and no
//! install record of an existing definition names; dangling images (untagged, used by no container
//! — what `podman image prune` removes), except the base images those records name (an image
//! pulled by digest is untagged yet is the parent of its generation images); and the install
//! records of definitions that are gone once they have no container left.
//!
//! Containers horizon does not manage are never removed: the spec's `podman container prune`
//! would also delete other tools' stopped containers (and, with them, their data), which is not
//! horizon's to decide. Everything is planned from one container list and one image list by the
//! pure [`plan_cleanup`], so `--dry-run` shows exactly what a real run removes.
//!
//! `plan` decides from the lists (a pure function, tested without Podman); `apply` reads the lists, and
//! removes what the plan says unless it is a dry run. This file holds the report both speak in.

mod apply;
mod plan;

use serde::Serialize;

pub use apply::cleanup;
pub(crate) use plan::plan_cleanup;

/// What kind of object a cleanup item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CleanupKind {
    /// A stopped managed container whose definition no longer exists.
    OrphanedContainer,
    /// A stopped build container an interrupted install left.
    BuildContainer,
    /// A generation image no container uses and no install record names.
    GenerationImage,
    /// An untagged image no container uses.
    DanglingImage,
    /// The install record of a definition that is gone and has no container left.
    InstallRecord,
}

impl CleanupKind {
    /// Containers are removed before images (an image in use cannot go).
    fn is_container(self) -> bool {
        matches!(
            self,
            CleanupKind::OrphanedContainer | CleanupKind::BuildContainer
        )
    }
}

/// One object cleanup removes (or, in a dry run, would remove).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CleanupItem {
    /// What it is.
    pub kind: CleanupKind,
    /// Its id.
    pub id: String,
    /// Its name (a container's name, an image's first name, or `<none>`).
    pub name: String,
    /// The definition it belonged to, when known.
    pub definition: Option<String>,
    /// Its size in bytes (images).
    pub size: Option<u64>,
}

/// What cleanup did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CleanupReport {
    /// Nothing was changed: the items are what a real run would remove.
    pub dry_run: bool,
    /// The items removed (or to remove).
    pub removed: Vec<CleanupItem>,
    /// Items that could not be removed, with why (another process may have started using them).
    pub failed: Vec<CleanupFailure>,
    /// Install records that could not be read: nothing that might be their container's was
    /// removed (its generation images, and every dangling image, since one may be its base).
    pub unreadable_records: Vec<crate::lifecycle::UnreadableRecord>,
}

/// An item that could not be removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CleanupFailure {
    /// The item.
    pub item: CleanupItem,
    /// Podman's answer.
    pub reason: String,
}
