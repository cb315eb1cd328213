//! One keep-id create at a time per Podman service, across every horizon process. Rootless Podman
//! 4.3.1 reads the user's subordinate ids for each keep-id create through libsubid, which is not
//! thread-safe: concurrent creates on one service misread them ("keep-id requires additional UIDs
//! or GIDs…", 2 of 60 in batches of 12) or crash the whole service with SIGSEGV in
//! `subid_get_gid_ranges` (within 6 batches of 24, measured) — every running exec dies with it.
//!
//! The lock is an OS file lock (flock) on the directory holding the service's socket: it names
//! the service itself, so every process and every horizon state directory talking to that service
//! shares it, the kernel releases it when a holder dies, and nothing is written there. A service
//! reached over TCP has no such directory; its creates go unserialised (the retry in `races.rs`
//! still covers misreads).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Endpoint;

/// Held while one keep-id create runs; dropping it lets the next one go.
#[derive(Debug)]
pub(crate) struct CreateLock {
    /// Holding the open, locked directory is holding the lock.
    _directory: File,
}

/// The directory whose lock serialises creates on `endpoint`, if it has one.
pub(crate) fn lock_directory(endpoint: &Endpoint) -> Option<PathBuf> {
    match endpoint {
        Endpoint::Unix(socket) => socket.parent().map(Path::to_path_buf),
        Endpoint::Tcp { .. } => None,
    }
}

/// Waits for the create lock of the service whose socket is in `directory` (off the async
/// threads: taking it blocks). A lock that cannot be taken — the directory unreadable to this
/// user, a file system without flock — is logged and skipped: the create is still tried, as it
/// would be without the lock.
pub(crate) async fn acquire(directory: PathBuf) -> Option<CreateLock> {
    let taken = tokio::task::spawn_blocking(move || {
        let file = File::open(&directory)?;
        file.lock()?;
        Ok::<_, std::io::Error>(CreateLock { _directory: file })
    })
    .await;
    match taken {
        Ok(Ok(lock)) => Some(lock),
        Ok(Err(error)) => {
            tracing::debug!(%error, "no create lock on the socket's directory; creating without");
            None
        }
        Err(error) => {
            tracing::debug!(%error, "taking the create lock stopped; creating without");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_socket_is_locked_through_its_directory_and_tcp_not_at_all() {
        assert_eq!(
            lock_directory(&Endpoint::Unix("/run/user/1000/podman/podman.sock".into())),
            Some(PathBuf::from("/run/user/1000/podman"))
        );
        assert_eq!(
            lock_directory(&Endpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 8080
            }),
            None
        );
    }

    #[tokio::test]
    async fn a_second_holder_waits_until_the_first_lets_go() {
        let directory = tempfile::tempdir().unwrap();
        let first = acquire(directory.path().to_path_buf()).await.unwrap();
        let second = tokio::spawn(acquire(directory.path().to_path_buf()));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            !second.is_finished(),
            "the second waits while the first holds it"
        );
        drop(first);
        let second = tokio::time::timeout(std::time::Duration::from_secs(5), second)
            .await
            .expect("the second gets it once the first lets go")
            .unwrap();
        assert!(second.is_some());
    }

    #[tokio::test]
    async fn a_directory_that_is_not_there_is_no_lock_and_no_error() {
        assert!(
            acquire(PathBuf::from("/nonexistent/horizon"))
                .await
                .is_none()
        );
    }
}
