//! horizon-core's `ostree` backend against a real OSTree sysroot in a temp dir whose remote is
//! served over HTTP on loopback: check without deploying, upgrade staging v2 for the next boot,
//! rollback making v1 the default again, and the faults — the remote down, a corrupted object.

use horizon_core::base::{BaseError, BaseSystem, OstreeAdmin, RollbackOutcome, UpgradeOutcome};
use horizon_core::host_command::SystemRunner;
use horizon_e2e::ostree::{OS_NAME, OstreeBed};

fn backend(bed: &OstreeBed) -> OstreeAdmin {
    OstreeAdmin {
        sysroot: Some(bed.sysroot.clone()),
        os: Some(OS_NAME.to_owned()),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn check_upgrade_and_rollback_on_a_real_sysroot() {
    let dir = tempfile::tempdir().unwrap();
    let (bed, v1) = OstreeBed::create(dir.path()).unwrap();
    let backend = backend(&bed);
    let runner = SystemRunner::default();
    let runtime = runtime();

    let check = runtime.block_on(backend.check(&runner)).unwrap();
    assert!(!check.update_available, "{check:?}");
    assert_eq!(
        (check.current.as_str(), check.latest.as_str()),
        (v1.as_str(), v1.as_str())
    );

    let v2 = bed.commit("2").unwrap();
    let check = runtime.block_on(backend.check(&runner)).unwrap();
    assert!(check.update_available);
    assert_eq!(check.latest, v2);
    assert_eq!(check.latest_version.as_deref(), Some("2"));
    // Checking deploys nothing.
    assert_eq!(bed.deployments().unwrap().len(), 1);

    let outcome = runtime.block_on(backend.upgrade(&runner)).unwrap();
    assert_eq!(
        outcome,
        UpgradeOutcome::Staged {
            from: v1.clone(),
            to: v2.clone(),
            version: Some("2".into())
        }
    );
    let deployments = bed.deployments().unwrap();
    let order: Vec<&str> = deployments.iter().map(|d| d.checksum.as_str()).collect();
    assert_eq!(order, [v2.as_str(), v1.as_str()]);
    let again = runtime.block_on(backend.upgrade(&runner)).unwrap();
    assert_eq!(
        again,
        UpgradeOutcome::UpToDate {
            checksum: v2.clone()
        }
    );

    let rolled = runtime.block_on(backend.rollback_to(&runner, &v1)).unwrap();
    assert_eq!(
        rolled,
        RollbackOutcome::MadeDefault {
            from: v2.clone(),
            to: v1.clone()
        }
    );
    assert_eq!(bed.default_checksum().unwrap(), v1);
    let same = runtime.block_on(backend.rollback_to(&runner, &v1)).unwrap();
    assert_eq!(same, RollbackOutcome::AlreadyDefault { checksum: v1 });
}

#[test]
fn a_remote_that_is_down_or_serves_a_corrupted_object_changes_no_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let (bed, v1) = OstreeBed::create(dir.path()).unwrap();
    let backend = backend(&bed);
    let runner = SystemRunner::default();
    let runtime = runtime();
    let v2 = bed.commit("2").unwrap();

    bed.server.stop();
    let error = runtime.block_on(backend.check(&runner)).unwrap_err();
    assert!(
        matches!(
            error,
            BaseError::Tool {
                action: "checking for a base update",
                ..
            }
        ),
        "{error}"
    );
    let error = runtime.block_on(backend.upgrade(&runner)).unwrap_err();
    assert!(
        horizon_core::update::error_chain(&error)
            .starts_with("upgrading the base system failed: ostree admin upgrade"),
        "{error}"
    );
    assert_eq!(bed.default_checksum().unwrap(), v1);
    bed.server.resume().unwrap();

    bed.corrupt_version_object(&v2).unwrap();
    let error = runtime.block_on(backend.upgrade(&runner)).unwrap_err();
    let message = horizon_core::update::error_chain(&error);
    assert!(message.contains("Corrupted file object"), "{message}");
    let deployments = bed.deployments().unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].checksum, v1);
}
