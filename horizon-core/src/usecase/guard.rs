//! The rules every call that touches one container follows before and around its work. Writers
//! (install, remove, update, rollback) take the container's lock — failing at once when another
//! horizon process holds it, or queueing with `wait` — and then complete or revert a transaction
//! an earlier command left in its journal; readers (status, start, stop, run, shell, logs) never
//! wait: they finish only an interrupted transaction nobody holds. And the one place a cancelled
//! call stops: [`Horizon::until_cancelled`] races the work against the cancel input and, when the
//! input wins, lets the journal put the container back before the call returns.

use std::future::Future;

use super::{Call, Error, Event, Horizon};
use crate::engine::Engine;
use crate::update::{ContainerLock, LockWait, UpdateStores, recover, recover_if_interrupted};

impl<E: Engine> Horizon<E> {
    /// Takes definition `name`'s lock for `operation` and finishes an interrupted transaction.
    pub(crate) async fn lock_for_write(
        &self,
        call: Call<'_>,
        name: &str,
        operation: &'static str,
        wait: LockWait,
    ) -> Result<ContainerLock, Error> {
        let engine = self.engine(call).await?;
        let lock = take_lock(&self.settings.update_stores(), name, operation, wait).await?;
        if let Some(recovery) = recover(engine, &lock, &self.settings.update_stores()).await? {
            call.emit(Event::Recovered {
                name,
                recovery: &recovery,
            });
        }
        Ok(lock)
    }

    /// For readers: finishes an interrupted transaction of `name` that nobody holds. One that
    /// cannot be finished is reported; the reader goes on with what is there.
    pub(crate) async fn recover_before_reading(
        &self,
        call: Call<'_>,
        name: &str,
    ) -> Result<(), Error> {
        let engine = self.engine(call).await?;
        match recover_if_interrupted(engine, &self.settings.update_stores(), name).await {
            Ok(Some(recovery)) => call.emit(Event::Recovered {
                name,
                recovery: &recovery,
            }),
            Ok(None) => {}
            Err(error) => call.emit(Event::RecoveryFailed {
                name,
                error: &error,
            }),
        }
        Ok(())
    }

    /// Runs `work` until it ends or the call is cancelled. When cancelled, the transactions of
    /// `names` left in their journals are reverted (before their swap) or completed (after it),
    /// each reported, and the call ends with [`Error::Interrupted`].
    pub(crate) async fn until_cancelled<T>(
        &self,
        call: Call<'_>,
        operation: &str,
        names: &[&str],
        work: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let reason = tokio::select! {
            // A cancel that arrived wins over a step that finished meanwhile.
            biased;
            reason = call.cancel.cancelled() => reason,
            outcome = work => return outcome,
        };
        // The work stopped at an await point, its lock released with it; each journal says
        // what it had done.
        let mut unfinished = Vec::new();
        if let Ok(engine) = self.engine(call).await {
            let stores = self.settings.update_stores();
            for &name in names {
                match recover_if_interrupted(engine, &stores, name).await {
                    Ok(Some(recovery)) => call.emit(Event::Recovered {
                        name,
                        recovery: &recovery,
                    }),
                    Ok(None) => {}
                    Err(error) => {
                        unfinished.push(format!("{name}: {}", crate::update::error_chain(&error)))
                    }
                }
            }
        }
        Err(Error::Interrupted {
            operation: operation.to_owned(),
            name: match names {
                [one] => Some((*one).to_owned()),
                _ => None,
            },
            reason,
            unfinished: (!unfinished.is_empty()).then(|| unfinished.join("; ")),
        })
    }
}

/// Takes the lock, in a blocking thread when it waits.
pub(crate) async fn take_lock(
    stores: &UpdateStores,
    name: &str,
    operation: &'static str,
    mode: LockWait,
) -> Result<ContainerLock, Error> {
    let state_dir = stores.state_dir.clone();
    let owned = name.to_owned();
    let acquired = tokio::task::spawn_blocking(move || {
        ContainerLock::acquire(&state_dir, &owned, operation, mode)
    })
    .await
    .map_err(|error| Error::InvalidRequest {
        message: format!("taking the lock of {name}: {error}"),
    })?;
    Ok(acquired?)
}
