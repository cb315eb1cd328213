//! The `bootc` backend (image-based hosts booted from a container image), read through `bootc
//! status --json`: a `BootcHost` with `staged`, `booted` and `rollback` entries. Updates are
//! identified by image digest (`bootc upgrade --check` records the newest in `cachedUpdate`); an
//! upgrade stages the new image for the next boot; a rollback is `bootc rollback`, which queues the
//! previous deployment (and discards a staged one).

use serde::Deserialize;

use super::{
    BackendKind, BaseCheck, BaseError, BaseStatus, BaseSystem, Deployment, RollbackOutcome,
    UpgradeOutcome, swap_rollback, upgrade_with,
};
use crate::host_command::{HostCommand, Runner, run_checked};

/// The program.
const BOOTC: &str = "bootc";

/// bootc on the running system.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bootc;

#[derive(Debug, Deserialize)]
struct HostJson {
    status: HostStatusJson,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HostStatusJson {
    staged: Option<EntryJson>,
    booted: Option<EntryJson>,
    rollback: Option<EntryJson>,
    #[serde(default)]
    rollback_queued: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    image: Option<ImageStatusJson>,
    #[serde(default)]
    cached_update: Option<ImageStatusJson>,
    #[serde(default)]
    pinned: bool,
    ostree: Option<OstreeJson>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageStatusJson {
    image: ImageReferenceJson,
    #[serde(default)]
    version: Option<String>,
    image_digest: String,
}

#[derive(Debug, Deserialize)]
struct ImageReferenceJson {
    image: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OstreeJson {
    checksum: String,
    #[serde(default)]
    deploy_serial: Option<u32>,
    #[serde(default)]
    stateroot: Option<String>,
}

/// The newest image bootc knows of (from `cachedUpdate`): digest and version.
pub(super) type CachedImage = (String, Option<String>);

/// Reads `bootc status --json` into a status in boot order (staged, booted, rollback; the rollback
/// before the booted one when it is queued) and the cached update. A host bootc does not manage
/// (no booted entry) is [`BaseError::NoDeployment`].
pub(super) fn parse_status(json: &str) -> Result<(BaseStatus, Option<CachedImage>), BaseError> {
    let host: HostJson = serde_json::from_str(json).map_err(|error| BaseError::BadStatus {
        backend: BackendKind::Bootc,
        message: error.to_string(),
    })?;
    let status = host.status;
    if status.booted.is_none() {
        return Err(BaseError::NoDeployment {
            backend: BackendKind::Bootc,
        });
    }
    let cached = status
        .booted
        .as_ref()
        .and_then(|entry| entry.cached_update.as_ref())
        .map(|image| (image.image_digest.clone(), image.version.clone()));
    let mut ordered = Vec::new();
    if let Some(staged) = status.staged {
        ordered.push((staged, false, true));
    }
    let booted = status.booted.map(|entry| (entry, true, false));
    let rollback = status.rollback.map(|entry| (entry, false, false));
    if status.rollback_queued {
        ordered.extend(rollback);
        ordered.extend(booted);
    } else {
        ordered.extend(booted);
        ordered.extend(rollback);
    }
    let mut os = None;
    let mut deployments = Vec::new();
    for (entry, booted, staged) in ordered {
        let Some(ostree) = entry.ostree else {
            return Err(BaseError::BadStatus {
                backend: BackendKind::Bootc,
                message:
                    "a deployment has no ostree checksum (only ostree-backed hosts are supported)"
                        .to_owned(),
            });
        };
        if booted {
            os = ostree.stateroot.clone();
        }
        deployments.push(Deployment {
            checksum: ostree.checksum,
            serial: ostree.deploy_serial,
            version: entry.image.as_ref().and_then(|image| image.version.clone()),
            origin: entry.image.as_ref().map(|image| image.image.image.clone()),
            image_digest: entry.image.map(|image| image.image_digest),
            booted,
            staged,
            pinned: entry.pinned,
        });
    }
    Ok((
        BaseStatus {
            backend: BackendKind::Bootc,
            os,
            deployments,
        },
        cached,
    ))
}

impl Bootc {
    async fn read(
        &self,
        runner: &impl Runner,
    ) -> Result<(BaseStatus, Option<CachedImage>), BaseError> {
        let command = HostCommand::new(BOOTC).args(["status", "--json"]);
        let output = run_checked(runner, &command)
            .await
            .map_err(BaseError::tool("reading the bootc status"))?;
        parse_status(&output.stdout)
    }
}

impl BaseSystem for Bootc {
    fn kind(&self) -> BackendKind {
        BackendKind::Bootc
    }

    async fn status(&self, runner: &impl Runner) -> Result<BaseStatus, BaseError> {
        Ok(self.read(runner).await?.0)
    }

    async fn check(&self, runner: &impl Runner) -> Result<BaseCheck, BaseError> {
        run_checked(
            runner,
            &HostCommand::new(BOOTC).args(["upgrade", "--check"]),
        )
        .await
        .map_err(BaseError::tool("checking for a base update"))?;
        let (status, cached) = self.read(runner).await?;
        let current = status.require_default()?;
        // bootc identifies images by digest; fall back to the commit for an entry without one.
        let current_id = current
            .image_digest
            .clone()
            .unwrap_or_else(|| current.checksum.clone());
        let (latest, latest_version) =
            cached.unwrap_or_else(|| (current_id.clone(), current.version.clone()));
        Ok(BaseCheck {
            backend: BackendKind::Bootc,
            update_available: latest != current_id,
            current: current_id,
            current_version: current.version.clone(),
            origin: current.origin.clone(),
            latest,
            latest_version,
        })
    }

    async fn upgrade(&self, runner: &impl Runner) -> Result<UpgradeOutcome, BaseError> {
        upgrade_with(self, runner, &HostCommand::new(BOOTC).arg("upgrade")).await
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
            &HostCommand::new(BOOTC).arg("rollback"),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_command::scripted::ScriptedRunner;

    const STAGED: &str = include_str!("testdata/bootc-staged.json");
    const NOT_BOOTC: &str = include_str!("testdata/bootc-not-bootc.json");

    #[test]
    fn staged_booted_and_rollback_come_in_boot_order_with_digests() {
        let (status, cached) = parse_status(STAGED).unwrap();
        let summary: Vec<(String, Option<String>, bool, bool, bool)> = status
            .deployments
            .iter()
            .map(|d| {
                (
                    d.checksum[..6].to_owned(),
                    d.version.clone(),
                    d.staged,
                    d.booted,
                    d.pinned,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("b7e1c0".into(), Some("2.0".into()), true, false, false),
                ("a6d0b9".into(), Some("1.0".into()), false, true, false),
                ("95c0a8".into(), Some("0.9".into()), false, false, true),
            ]
        );
        assert_eq!(status.os.as_deref(), Some("default"));
        assert_eq!(
            status.deployments[0].origin.as_deref(),
            Some("quay.io/horizonos/base:stable")
        );
        assert_eq!(
            cached.map(|(digest, _)| digest),
            Some(format!("sha256:{}", "2".repeat(64)))
        );
        let queued = STAGED.replace("\"rollbackQueued\":false", "\"rollbackQueued\":true");
        let (status, _) = parse_status(&queued).unwrap();
        assert_eq!(status.deployments[1].version.as_deref(), Some("0.9"));
    }

    #[test]
    fn a_host_bootc_does_not_manage_has_no_deployment() {
        let error = parse_status(NOT_BOOTC).unwrap_err();
        assert_eq!(error.to_string(), "bootc reports no deployment");
    }

    #[tokio::test]
    async fn check_compares_image_digests() {
        let runner = ScriptedRunner::default()
            .expect("bootc upgrade --check", 0, "")
            .expect("bootc status --json", 0, STAGED);
        let check = Bootc.check(&runner).await.unwrap();
        // The staged image (digest 22…) is what boots next, and it is the newest: nothing to do.
        assert_eq!(check.current, format!("sha256:{}", "2".repeat(64)));
        assert!(!check.update_available);
    }
}
