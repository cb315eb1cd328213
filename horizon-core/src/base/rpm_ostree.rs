//! The `rpm-ostree` backend (Fedora Atomic desktops, CoreOS), read through `rpm-ostree status
//! --json`: deployments in boot order, and `cached-update`, which `rpm-ostree upgrade --check`
//! fills in without deploying. An upgrade stages a deployment for the next boot; a rollback is
//! `rpm-ostree rollback`, which swaps in the previous deployment.

use serde::Deserialize;

use super::{
    BackendKind, BaseCheck, BaseError, BaseStatus, BaseSystem, Deployment, RollbackOutcome,
    UpgradeOutcome, swap_rollback, upgrade_with,
};
use crate::host_command::{HostCommand, Runner, failed, run_checked};

/// The program.
const RPM_OSTREE: &str = "rpm-ostree";
/// `rpm-ostree upgrade --check` exits 77 when there is no update.
const CHECK_NO_UPDATE: i32 = 77;

/// The rpm-ostree daemon's view of the running system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmOstree;

/// `rpm-ostree status --json`, the fields horizon reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StatusJson {
    deployments: Vec<DeploymentJson>,
    #[serde(default)]
    cached_update: Option<CachedUpdateJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct DeploymentJson {
    checksum: String,
    #[serde(default)]
    serial: Option<u32>,
    #[serde(default)]
    osname: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    container_image_reference: Option<String>,
    #[serde(default)]
    container_image_reference_digest: Option<String>,
    #[serde(default)]
    booted: bool,
    #[serde(default)]
    staged: bool,
    #[serde(default)]
    pinned: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct CachedUpdateJson {
    checksum: String,
    #[serde(default)]
    version: Option<String>,
}

/// The update `rpm-ostree upgrade --check` found and cached: commit and version.
pub(super) type CachedUpdate = (String, Option<String>);

/// Reads `rpm-ostree status --json` into a status and the cached update.
pub(super) fn parse_status(json: &str) -> Result<(BaseStatus, Option<CachedUpdate>), BaseError> {
    let parsed: StatusJson = serde_json::from_str(json).map_err(|error| BaseError::BadStatus {
        backend: BackendKind::RpmOstree,
        message: error.to_string(),
    })?;
    let os = parsed
        .deployments
        .iter()
        .find(|deployment| deployment.booted)
        .or(parsed.deployments.first())
        .and_then(|deployment| deployment.osname.clone());
    let deployments = parsed
        .deployments
        .into_iter()
        .map(|deployment| Deployment {
            checksum: deployment.checksum,
            serial: deployment.serial,
            version: deployment.version,
            origin: deployment.origin.or(deployment.container_image_reference),
            image_digest: deployment.container_image_reference_digest,
            booted: deployment.booted,
            staged: deployment.staged,
            pinned: deployment.pinned,
        })
        .collect();
    let cached = parsed
        .cached_update
        .map(|update| (update.checksum, update.version));
    Ok((
        BaseStatus {
            backend: BackendKind::RpmOstree,
            os,
            deployments,
        },
        cached,
    ))
}

impl RpmOstree {
    async fn read(
        &self,
        runner: &impl Runner,
    ) -> Result<(BaseStatus, Option<CachedUpdate>), BaseError> {
        let command = HostCommand::new(RPM_OSTREE).args(["status", "--json"]);
        let output = run_checked(runner, &command)
            .await
            .map_err(BaseError::tool("reading the rpm-ostree status"))?;
        parse_status(&output.stdout)
    }
}

impl BaseSystem for RpmOstree {
    fn kind(&self) -> BackendKind {
        BackendKind::RpmOstree
    }

    async fn status(&self, runner: &impl Runner) -> Result<BaseStatus, BaseError> {
        Ok(self.read(runner).await?.0)
    }

    async fn check(&self, runner: &impl Runner) -> Result<BaseCheck, BaseError> {
        let command = HostCommand::new(RPM_OSTREE).args(["upgrade", "--check"]);
        let output = runner
            .run(&command)
            .await
            .map_err(BaseError::tool("checking for a base update"))?;
        if !matches!(output.code, Some(0 | CHECK_NO_UPDATE)) {
            return Err(BaseError::Tool {
                action: "checking for a base update",
                source: failed(&command, &output),
            });
        }
        let (status, cached) = self.read(runner).await?;
        let current = status.require_default()?;
        let (latest, latest_version) = match cached {
            Some(update) if output.code == Some(0) => update,
            _ => (current.checksum.clone(), current.version.clone()),
        };
        Ok(BaseCheck {
            backend: BackendKind::RpmOstree,
            update_available: latest != current.checksum,
            current: current.checksum.clone(),
            current_version: current.version.clone(),
            origin: current.origin.clone(),
            latest,
            latest_version,
        })
    }

    async fn upgrade(&self, runner: &impl Runner) -> Result<UpgradeOutcome, BaseError> {
        upgrade_with(self, runner, &HostCommand::new(RPM_OSTREE).arg("upgrade")).await
    }

    async fn rollback_to(
        &self,
        runner: &impl Runner,
        checksum: &str,
    ) -> Result<RollbackOutcome, BaseError> {
        swap_rollback(
            self,
            runner,
            checksum,
            &HostCommand::new(RPM_OSTREE).arg("rollback"),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_command::scripted::ScriptedRunner;

    const STAGED: &str = include_str!("testdata/rpm-ostree-staged.json");
    const CONTAINER: &str = include_str!("testdata/rpm-ostree-container.json");

    #[test]
    fn a_staged_update_is_the_default_and_the_booted_deployment_second() {
        let (status, cached) = parse_status(STAGED).unwrap();
        assert_eq!(status.os.as_deref(), Some("fedora-coreos"));
        assert_eq!(cached, None);
        let default = status.default_deployment().unwrap();
        assert_eq!(
            (
                default.checksum.as_str(),
                default.version.as_deref(),
                default.staged,
                default.booted
            ),
            (
                "9e3c0a1f4b8d2e6c7a5b3d1f0e9c8b7a6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
                Some("40.20240507.3.0"),
                true,
                false
            )
        );
        let booted = status.booted().unwrap();
        assert_eq!(booted.version.as_deref(), Some("40.20240416.3.1"));
        assert_eq!(
            booted.origin.as_deref(),
            Some("fedora:fedora/x86_64/coreos/stable")
        );
    }

    #[test]
    fn an_image_based_host_reports_its_image_digest_and_cached_update() {
        let (status, cached) = parse_status(CONTAINER).unwrap();
        let booted = status.booted().unwrap();
        assert_eq!(
            booted.origin.as_deref(),
            Some("ostree-image-signed:docker://quay.io/fedora/fedora-silverblue:41")
        );
        assert_eq!(
            booted.image_digest.as_deref(),
            Some("sha256:6c1f0a2b3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8")
        );
        assert!(status.deployments[1].pinned);
        assert_eq!(
            cached,
            Some((
                "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1".into(),
                Some("41.20241116.0".into())
            ))
        );
        let error = parse_status("{\"deployments\": 3}").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("could not read the rpm-ostree status: invalid type"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn check_reads_the_cached_update_and_exit_77_means_none() {
        let runner = ScriptedRunner::default()
            .expect("rpm-ostree upgrade --check", 0, "")
            .expect("rpm-ostree status --json", 0, CONTAINER);
        let check = RpmOstree.check(&runner).await.unwrap();
        assert!(check.update_available);
        assert_eq!(check.latest_version.as_deref(), Some("41.20241116.0"));
        let runner = ScriptedRunner::default()
            .expect("rpm-ostree upgrade --check", CHECK_NO_UPDATE, "")
            .expect("rpm-ostree status --json", 0, CONTAINER);
        let check = RpmOstree.check(&runner).await.unwrap();
        assert!(!check.update_available);
        assert_eq!(check.latest, check.current);
        let runner = ScriptedRunner::default().expect("rpm-ostree upgrade --check", 1, "");
        let error = RpmOstree.check(&runner).await.unwrap_err();
        assert_eq!(
            crate::update::error_chain(&error),
            "checking for a base update failed: rpm-ostree upgrade --check failed (exit status 1): error from rpm-ostree upgrade --check"
        );
    }

    #[tokio::test]
    async fn rollback_swaps_in_the_previous_deployment_only() {
        let (status, _) = parse_status(CONTAINER).unwrap();
        let previous = status.deployments[1].checksum.clone();
        let runner = ScriptedRunner::default()
            .expect("rpm-ostree status --json", 0, CONTAINER)
            .expect("rpm-ostree rollback", 0, "");
        let outcome = RpmOstree.rollback_to(&runner, &previous).await.unwrap();
        assert!(runner.finished());
        assert_eq!(
            outcome,
            RollbackOutcome::MadeDefault {
                from: status.deployments[0].checksum.clone(),
                to: previous
            }
        );
        let runner = ScriptedRunner::default().expect("rpm-ostree status --json", 0, CONTAINER);
        let error = RpmOstree.rollback_to(&runner, "0123").await.unwrap_err();
        assert!(
            matches!(error, BaseError::UnsupportedRollback { .. }),
            "{error}"
        );
    }
}
