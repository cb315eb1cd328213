//! The per-container writer lock: one `STATE_DIR/locks/NAME.lock` file per definition, locked with
//! `File::lock` (an OS file lock, released by the kernel when the holder exits or is killed, so a
//! crash never leaves a stale lock). The holder writes its pid and start time into the file so that
//! a second writer can say who is busy and since when. Install, remove, update and rollback hold
//! it; readers (list, status, run) never take it and never block.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::UpdateError;

/// The directory of lock files inside the state directory.
const LOCKS_DIR: &str = "locks";
/// Suffix of a lock file.
const LOCK_EXTENSION: &str = "lock";

/// Who holds a container's lock, as the holder wrote it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    /// The holder's process id.
    pub pid: u32,
    /// When it took the lock (seconds since the Unix epoch).
    pub since_unix: u64,
    /// What it is doing (`update`, `install`…).
    pub operation: String,
}

/// Whether a writer that finds the lock taken fails at once or waits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LockWait {
    /// Fail at once with [`UpdateError::Busy`].
    #[default]
    FailIfBusy,
    /// Block until the holder releases it.
    Wait,
    /// Fail at once, for an operation that offers no way to wait (`install`, `remove`): the
    /// [`UpdateError::Busy`] says so, so nobody is told to wait with an option that is not there.
    Unavailable,
}

impl LockWait {
    /// [`LockWait::Wait`] when the caller asked to wait, else [`LockWait::FailIfBusy`].
    pub fn when(wait: bool) -> LockWait {
        if wait {
            LockWait::Wait
        } else {
            LockWait::FailIfBusy
        }
    }
}

/// The lock of one container, held until dropped.
#[derive(Debug)]
pub struct ContainerLock {
    name: String,
    path: PathBuf,
    /// Holding the open, locked file is holding the lock.
    _file: File,
}

impl ContainerLock {
    /// The lock file of definition `name` under `state_dir`.
    pub fn path(state_dir: &Path, name: &str) -> PathBuf {
        state_dir
            .join(LOCKS_DIR)
            .join(format!("{name}.{LOCK_EXTENSION}"))
    }

    /// Takes the lock of definition `name` for `operation`. With [`LockWait::FailIfBusy`], a held
    /// lock is [`UpdateError::Busy`] naming the holder; with [`LockWait::Wait`], this blocks the
    /// calling thread until it is free (call it from a blocking context, e.g.
    /// `tokio::task::spawn_blocking`, in async code).
    pub fn acquire(
        state_dir: &Path,
        name: &str,
        operation: &str,
        wait: LockWait,
    ) -> Result<ContainerLock, UpdateError> {
        let path = Self::path(state_dir, name);
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| UpdateError::State {
                action,
                path,
                source,
            }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create the lock directory for"))?;
        }
        let mut file =
            crate::fsutil::open_state(&path, crate::fsutil::StateAccess::ReadWriteCreate)
                .map_err(io("open the lock file"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) if wait != LockWait::Wait => {
                return Err(UpdateError::Busy {
                    name: name.to_owned(),
                    holder: read_holder(&mut file),
                    lock: path,
                    can_wait: wait == LockWait::FailIfBusy,
                });
            }
            Err(TryLockError::WouldBlock) => file.lock().map_err(io("wait for the lock"))?,
            Err(TryLockError::Error(source)) => return Err(io("lock")(source)),
        }
        let holder = LockHolder {
            pid: std::process::id(),
            since_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or_default(),
            operation: operation.to_owned(),
        };
        // A holder that cannot say who it is still holds the lock: the note is for people.
        if let Err(error) = write_holder(&mut file, &holder) {
            tracing::debug!(path = %path.display(), %error, "could not note the lock holder");
        }
        Ok(ContainerLock {
            name: name.to_owned(),
            path,
            _file: file,
        })
    }

    /// The definition this lock is for.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock file.
    pub fn lock_path(&self) -> &Path {
        &self.path
    }

    /// Whether definition `name`'s lock is free right now (a reader's peek; it takes nothing).
    pub fn is_free(state_dir: &Path, name: &str) -> bool {
        let Ok(file) = crate::fsutil::open_state(
            &Self::path(state_dir, name),
            crate::fsutil::StateAccess::Read,
        ) else {
            // A link in place of the lock is not a holder; the writer that tries it says why.
            return true;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                // Dropping the file releases the shared lock at once.
                true
            }
            Err(_) => false,
        }
    }
}

fn write_holder(file: &mut File, holder: &LockHolder) -> std::io::Result<()> {
    file.set_len(0)?;
    file.rewind()?;
    // A holder is a number, a number and a word: it always serialises.
    let bytes = serde_json::to_vec(holder).unwrap_or_default();
    file.write_all(&bytes)?;
    file.flush()
}

fn read_holder(file: &mut File) -> Option<LockHolder> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_told_who_is_busy_and_a_released_lock_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let held =
            ContainerLock::acquire(dir.path(), "tools", "update", LockWait::FailIfBusy).unwrap();
        assert_eq!(held.name(), "tools");
        assert!(!ContainerLock::is_free(dir.path(), "tools"));
        let error = ContainerLock::acquire(dir.path(), "tools", "rollback", LockWait::FailIfBusy)
            .unwrap_err();
        let UpdateError::Busy {
            name, holder, lock, ..
        } = &error
        else {
            panic!("not busy: {error}");
        };
        assert_eq!(name, "tools");
        assert_eq!(lock, &ContainerLock::path(dir.path(), "tools"));
        let holder = holder.clone().unwrap();
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.operation, "update");
        // Another container's lock is independent.
        ContainerLock::acquire(dir.path(), "other", "update", LockWait::FailIfBusy).unwrap();
        drop(held);
        assert!(ContainerLock::is_free(dir.path(), "tools"));
        ContainerLock::acquire(dir.path(), "tools", "rollback", LockWait::FailIfBusy).unwrap();
    }

    #[test]
    fn a_waiting_writer_gets_the_lock_when_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let held =
            ContainerLock::acquire(dir.path(), "tools", "update", LockWait::FailIfBusy).unwrap();
        let state_dir = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            ContainerLock::acquire(&state_dir, "tools", "update", LockWait::Wait).map(|_| ())
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!waiter.is_finished());
        drop(held);
        waiter.join().unwrap().unwrap();
    }
}
