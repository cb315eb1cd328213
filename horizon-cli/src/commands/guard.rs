//! What every command that touches one container does before its real work: writers (install,
//! remove, update, rollback) take the container's lock — failing at once with "busy (pid, since
//! when)", or waiting with `--wait` — and then complete or revert an interrupted update; readers
//! (status, start, stop, run, shell, logs) never wait: they recover only an interrupted transaction
//! nobody holds. A recovery is announced on stderr. Also the exit statuses of update errors.

use std::io::Write;

use anyhow::anyhow;
use horizon_core::engine::{EngineError, PodmanEngine};
use horizon_core::update::{
    ContainerLock, LockWait, Recovery, UpdateError, UpdateStores, recover, recover_if_interrupted,
};

use super::connection::NO_SERVICE_HINT;
use super::horizon_paths;
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// horizon's update state (records, journals, generation history, locks) of this user.
pub fn update_stores(global: &GlobalArgs) -> UpdateStores {
    UpdateStores::new(&horizon_paths(global).state_dir)
}

/// Takes definition `name`'s lock for `operation` and recovers an interrupted transaction.
pub async fn lock_for_write(
    global: &GlobalArgs,
    engine: &PodmanEngine,
    name: &str,
    operation: &'static str,
    wait: bool,
) -> Result<ContainerLock, Failure> {
    let stores = update_stores(global);
    let lock = take_lock(&stores, name, operation, wait).await?;
    if let Some(recovery) = recover(engine, &lock, &stores)
        .await
        .map_err(update_failure)?
    {
        announce(&recovery);
    }
    Ok(lock)
}

/// Takes the lock, in a blocking thread when it waits.
pub async fn take_lock(
    stores: &UpdateStores,
    name: &str,
    operation: &'static str,
    wait: bool,
) -> Result<ContainerLock, Failure> {
    let mode = if wait {
        LockWait::Wait
    } else {
        LockWait::FailIfBusy
    };
    let state_dir = stores.state_dir.clone();
    let owned = name.to_owned();
    let acquired = tokio::task::spawn_blocking(move || {
        ContainerLock::acquire(&state_dir, &owned, operation, mode)
    })
    .await
    .map_err(|error| Failure::other(anyhow!(error)))?;
    acquired.map_err(update_failure)
}

/// For readers: recovers an interrupted transaction of `name` that nobody holds. A recovery that
/// fails is reported as a warning; the reader goes on with what is there.
pub async fn recover_before_reading(global: &GlobalArgs, engine: &PodmanEngine, name: &str) {
    match recover_if_interrupted(engine, &update_stores(global), name).await {
        Ok(Some(recovery)) => announce(&recovery),
        Ok(None) => {}
        Err(error) => {
            // Losing the warning is not worth failing the command for.
            let _ = writeln!(
                std::io::stderr().lock(),
                "horizon-container: warning: could not finish an interrupted update of {name}: {:#}",
                anyhow!(error)
            );
        }
    }
}

/// Says on stderr that an interrupted transaction was finished, and how.
fn announce(recovery: &Recovery) {
    let mut stderr = std::io::stderr().lock();
    // Losing the notice is not worth failing the command for.
    let _ = render_recovery(&mut stderr, recovery);
}

/// The notice of a recovery.
pub fn render_recovery(out: &mut impl Write, recovery: &Recovery) -> std::io::Result<()> {
    writeln!(out, "horizon-container: {recovery}")
}

/// The exit status and hint of an update error (see `exit.rs`).
pub fn update_failure(error: UpdateError) -> Failure {
    if matches!(error.engine_error(), Some(EngineError::Unreachable { .. })) {
        return Failure::new(exit::NO_SERVICE, anyhow!(error)).with_hint(NO_SERVICE_HINT);
    }
    let (status, hint) = match &error {
        UpdateError::Busy { .. } => (
            exit::BUSY,
            Some("wait for it to finish, or pass --wait to queue behind it".to_owned()),
        ),
        UpdateError::Lifecycle(horizon_core::lifecycle::LifecycleError::NotInstalled { name }) => (
            exit::FAILURE,
            Some(format!("install it: `horizon-container install {name}`")),
        ),
        UpdateError::NothingToRollBack { .. } | UpdateError::GenerationNotKept { .. } => {
            (exit::NOTHING_TO_ROLL_BACK, None)
        }
        error if error.left_running_container_untouched() => (
            exit::UPDATE_REFUSED,
            Some(
                "the running container is untouched; fix the cause and run the update again"
                    .to_owned(),
            ),
        ),
        _ => (exit::FAILURE, None),
    };
    let failure = Failure::new(status, anyhow!(error));
    match hint {
        Some(hint) => failure.with_hint(hint),
        None => failure,
    }
}
