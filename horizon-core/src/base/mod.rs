//! The immutable base system: its deployments, checking for a new one, staging it for the next
//! boot, and making an earlier one the default again. One trait, [`BaseSystem`], with three
//! backends: plain `ostree admin` ([`ostree::OstreeAdmin`], with a configurable sysroot and OS name
//! so tests use a real sysroot in a temp dir), and `rpm-ostree` and `bootc` (detected when present,
//! read through their `--json` status). [`detect`] chooses one from facts about the host.
//!
//! The running deployment is never modified: an upgrade writes a new deployment that becomes the
//! default for the next boot, and a rollback changes only which deployment boots next. Every
//! outcome is computed by comparing the deployments before and after the tool ran, never by
//! parsing what the tool printed about itself.

mod bootc;
mod detect;
pub mod ostree;
mod rpm_ostree;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::host_command::{HostCommand, HostCommandError, Runner, run_checked};

pub use bootc::Bootc;
pub use detect::{BaseDetection, DetectInput, OSTREE_BOOTED_MARKER, detect};
pub use ostree::OstreeAdmin;
pub use rpm_ostree::RpmOstree;

/// Which tool manages the base system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    /// Plain OSTree, through `ostree admin`.
    Ostree,
    /// rpm-ostree (Fedora Atomic and kin).
    RpmOstree,
    /// bootc (an OSTree base shipped as a container image).
    Bootc,
}

impl BackendKind {
    /// The tool's name, as users type it.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Ostree => "ostree",
            BackendKind::RpmOstree => "rpm-ostree",
            BackendKind::Bootc => "bootc",
        }
    }
}

/// One deployment of the base system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// The OSTree commit it was checked out from.
    pub checksum: String,
    /// The deploy serial (several deployments may share a commit).
    pub serial: Option<u32>,
    /// The commit's version metadata.
    pub version: Option<String>,
    /// Where updates come from: an OSTree refspec (`remote:ref`) or a container image reference.
    pub origin: Option<String>,
    /// The image digest, for image-based (bootc / OSTree native container) systems.
    pub image_digest: Option<String>,
    /// The system is running this deployment now.
    pub booted: bool,
    /// Written but only finalised at shutdown.
    pub staged: bool,
    /// Kept whatever happens.
    pub pinned: bool,
}

/// The base system's deployments, in boot order: the first is the default for the next boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BaseStatus {
    /// The tool that reported these deployments.
    pub backend: BackendKind,
    /// The OS name (stateroot), when the tool reports one.
    pub os: Option<String>,
    /// Every deployment, the default for the next boot first.
    pub deployments: Vec<Deployment>,
}

impl BaseStatus {
    /// The deployment the next boot starts.
    pub fn default_deployment(&self) -> Option<&Deployment> {
        self.deployments.first()
    }

    /// The deployment running now (none in an offline sysroot).
    pub fn booted(&self) -> Option<&Deployment> {
        self.deployments.iter().find(|deployment| deployment.booted)
    }

    /// The default deployment, or [`BaseError::NoDeployment`].
    pub fn require_default(&self) -> Result<&Deployment, BaseError> {
        self.default_deployment().ok_or(BaseError::NoDeployment {
            backend: self.backend,
        })
    }
}

/// What a check found, without deploying anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BaseCheck {
    /// The tool that checked.
    pub backend: BackendKind,
    /// The default deployment's commit (what the next boot starts today).
    pub current: String,
    /// The version label of that commit, when it has one.
    pub current_version: Option<String>,
    /// Where updates come from.
    pub origin: Option<String>,
    /// The newest commit (or image digest, for bootc) the origin offers.
    pub latest: String,
    /// The version label of the newest commit, when it has one.
    pub latest_version: Option<String>,
    /// `latest` differs from what the next boot starts.
    pub update_available: bool,
}

/// What an upgrade did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum UpgradeOutcome {
    /// A new deployment was written; it becomes active at the next boot.
    Staged {
        /// The commit the next boot started before.
        from: String,
        /// The commit of the new deployment.
        to: String,
        /// Its version label, when it has one.
        version: Option<String>,
    },
    /// The origin offers nothing newer than the default deployment.
    UpToDate {
        /// The default deployment's commit, already the newest.
        checksum: String,
    },
}

/// What a rollback did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RollbackOutcome {
    /// `to` is now the default for the next boot (it was `from`).
    MadeDefault {
        /// The commit that was the default.
        from: String,
        /// The commit that is the default now.
        to: String,
    },
    /// `checksum` was the default already.
    AlreadyDefault {
        /// The commit asked for, already the default.
        checksum: String,
    },
}

/// A base-system operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BaseError {
    /// The tool failed (its stderr is in the source).
    #[error("{action} failed")]
    Tool {
        /// What horizon was doing, e.g. "checking for a base update".
        action: &'static str,
        /// How the tool failed (its command line, status and stderr).
        #[source]
        source: HostCommandError,
    },
    /// The system has no deployment at all.
    #[error("{} reports no deployment", backend.name())]
    NoDeployment {
        /// The tool asked.
        backend: BackendKind,
    },
    /// The tool's status could not be understood.
    #[error("could not read the {} status: {message}", backend.name())]
    BadStatus {
        /// The tool asked.
        backend: BackendKind,
        /// What in its status could not be read.
        message: String,
    },
    /// The default deployment has no remote origin to check or upgrade from.
    #[error("the default deployment's origin {origin:?} names no remote ref to update from")]
    NoRemote {
        /// The deployment's origin refspec, when it has one.
        origin: Option<String>,
    },
    /// The deployment to return to is not on this system any more.
    #[error("no deployment of commit {checksum} is left on this system (deployments: {present})")]
    NotDeployed {
        /// The commit asked for.
        checksum: String,
        /// The commits that are deployed, comma-separated.
        present: String,
    },
    /// The tool cannot make that deployment the default (only the previous one).
    #[error(
        "{} can only make the previous deployment ({previous}) the default, not {checksum}",
        backend.name()
    )]
    UnsupportedRollback {
        /// The tool that manages the base.
        backend: BackendKind,
        /// The commit asked for.
        checksum: String,
        /// The previous deployment's commit, the only one it can return to.
        previous: String,
    },
}

impl BaseError {
    /// A [`BaseError::Tool`] for `action`.
    pub(crate) fn tool(action: &'static str) -> impl FnOnce(HostCommandError) -> BaseError {
        move |source| BaseError::Tool { action, source }
    }
}

/// A tool that manages the base system. Every method leaves the running deployment alone.
pub trait BaseSystem: Send + Sync {
    /// Which tool this is.
    fn kind(&self) -> BackendKind;

    /// The deployments, in boot order.
    fn status(
        &self,
        runner: &impl Runner,
    ) -> impl Future<Output = Result<BaseStatus, BaseError>> + Send;

    /// Asks the origin for its newest commit without deploying it.
    fn check(
        &self,
        runner: &impl Runner,
    ) -> impl Future<Output = Result<BaseCheck, BaseError>> + Send;

    /// Downloads the newest commit and writes a deployment of it that boots next.
    fn upgrade(
        &self,
        runner: &impl Runner,
    ) -> impl Future<Output = Result<UpgradeOutcome, BaseError>> + Send;

    /// Makes the deployment of commit `checksum` the default for the next boot.
    fn rollback_to(
        &self,
        runner: &impl Runner,
        checksum: &str,
    ) -> impl Future<Output = Result<RollbackOutcome, BaseError>> + Send;
}

/// Whichever backend [`detect`] chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyBackend {
    /// `ostree admin`.
    Ostree(OstreeAdmin),
    /// `rpm-ostree`.
    RpmOstree(RpmOstree),
    /// `bootc`.
    Bootc(Bootc),
}

impl BaseSystem for AnyBackend {
    fn kind(&self) -> BackendKind {
        match self {
            AnyBackend::Ostree(backend) => backend.kind(),
            AnyBackend::RpmOstree(backend) => backend.kind(),
            AnyBackend::Bootc(backend) => backend.kind(),
        }
    }

    async fn status(&self, runner: &impl Runner) -> Result<BaseStatus, BaseError> {
        match self {
            AnyBackend::Ostree(backend) => backend.status(runner).await,
            AnyBackend::RpmOstree(backend) => backend.status(runner).await,
            AnyBackend::Bootc(backend) => backend.status(runner).await,
        }
    }

    async fn check(&self, runner: &impl Runner) -> Result<BaseCheck, BaseError> {
        match self {
            AnyBackend::Ostree(backend) => backend.check(runner).await,
            AnyBackend::RpmOstree(backend) => backend.check(runner).await,
            AnyBackend::Bootc(backend) => backend.check(runner).await,
        }
    }

    async fn upgrade(&self, runner: &impl Runner) -> Result<UpgradeOutcome, BaseError> {
        match self {
            AnyBackend::Ostree(backend) => backend.upgrade(runner).await,
            AnyBackend::RpmOstree(backend) => backend.upgrade(runner).await,
            AnyBackend::Bootc(backend) => backend.upgrade(runner).await,
        }
    }

    async fn rollback_to(
        &self,
        runner: &impl Runner,
        checksum: &str,
    ) -> Result<RollbackOutcome, BaseError> {
        match self {
            AnyBackend::Ostree(backend) => backend.rollback_to(runner, checksum).await,
            AnyBackend::RpmOstree(backend) => backend.rollback_to(runner, checksum).await,
            AnyBackend::Bootc(backend) => backend.rollback_to(runner, checksum).await,
        }
    }
}

/// Runs the upgrade `command` of `backend` and tells from the default deployment before and after
/// whether it staged a new one.
pub(crate) async fn upgrade_with(
    backend: &impl BaseSystem,
    runner: &impl Runner,
    command: &HostCommand,
) -> Result<UpgradeOutcome, BaseError> {
    let before = backend.status(runner).await?;
    let before = before.require_default()?.clone();
    run_checked(runner, command)
        .await
        .map_err(BaseError::tool("upgrading the base system"))?;
    let after = backend.status(runner).await?;
    Ok(upgrade_outcome(&before, after.require_default()?))
}

/// For tools whose rollback verb swaps in the previous deployment (`rpm-ostree rollback`, `bootc
/// rollback`): runs `command` when `checksum` is the previous deployment.
pub(crate) async fn swap_rollback(
    backend: &impl BaseSystem,
    runner: &impl Runner,
    checksum: &str,
    command: &HostCommand,
) -> Result<RollbackOutcome, BaseError> {
    let status = backend.status(runner).await?;
    let Some(from) = swap_target(&status, checksum)? else {
        return Ok(RollbackOutcome::AlreadyDefault {
            checksum: checksum.to_owned(),
        });
    };
    run_checked(runner, command)
        .await
        .map_err(BaseError::tool("rolling the base system back"))?;
    Ok(RollbackOutcome::MadeDefault {
        from,
        to: checksum.to_owned(),
    })
}

/// The upgrade outcome from the default deployments before and after the tool ran.
pub(crate) fn upgrade_outcome(before: &Deployment, after: &Deployment) -> UpgradeOutcome {
    if before.checksum == after.checksum && before.serial == after.serial {
        UpgradeOutcome::UpToDate {
            checksum: after.checksum.clone(),
        }
    } else {
        UpgradeOutcome::Staged {
            from: before.checksum.clone(),
            to: after.checksum.clone(),
            version: after.version.clone(),
        }
    }
}

/// Whether `checksum` is already the default (`None`), is the previous one (`Some(current
/// default)`), or neither (an error).
fn swap_target(status: &BaseStatus, checksum: &str) -> Result<Option<String>, BaseError> {
    let current = status.require_default()?;
    if current.checksum == checksum {
        return Ok(None);
    }
    match status.deployments.get(1) {
        Some(previous) if previous.checksum == checksum => Ok(Some(current.checksum.clone())),
        Some(previous) => Err(BaseError::UnsupportedRollback {
            backend: status.backend,
            checksum: checksum.to_owned(),
            previous: previous.checksum.clone(),
        }),
        None => Err(not_deployed(status, checksum)),
    }
}

/// [`BaseError::NotDeployed`], listing what is deployed.
pub(crate) fn not_deployed(status: &BaseStatus, checksum: &str) -> BaseError {
    let present: Vec<&str> = status
        .deployments
        .iter()
        .map(|deployment| deployment.checksum.as_str())
        .collect();
    BaseError::NotDeployed {
        checksum: checksum.to_owned(),
        present: if present.is_empty() {
            "none".to_owned()
        } else {
            present.join(", ")
        },
    }
}
