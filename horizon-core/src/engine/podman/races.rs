//! Podman's transient failures, tried again: an image list that fails because another process
//! removed an image meanwhile, and a rootless keep-id create that misread the subordinate ids.
//! Only HTTP 500 answers naming one of these races are repeated, a few times, with a growing
//! pause; every other failure is returned at once.

use std::future::Future;
use std::time::Duration;

use crate::engine::EngineError;

/// Podman 4.3 measures every image it lists; an image that another process removes meanwhile
/// fails the whole list with HTTP 500 "… locating image with ID …: image not known" (seen with
/// parallel installs and updates on one storage). Listing again sees the store without it.
pub(super) const IMAGE_REMOVED_WHILE_LISTED: &str = "image not known";
/// Rootless Podman 4.3.1 reads the user's subordinate ids through libsubid, which is not
/// thread-safe: a keep-id create concurrent with another (one not serialised by create_lock.rs: a
/// `podman --remote` client, a TCP endpoint) can fail with HTTP 500 "keep-id requires additional
/// UIDs or GIDs defined in /etc/subuid and /etc/subgid" although the entries are there. A missing
/// entry fails every attempt alike.
pub(super) const KEEP_ID_MAPPINGS_UNREAD: &str = "keep-id requires additional UIDs or GIDs";
/// How many times a request that failed with one of those transient errors is tried again.
const RACE_RETRIES: u32 = 3;
/// The pause before the first retry; each next one waits twice as long.
const RACE_PAUSE: Duration = Duration::from_millis(25);

/// Runs `request` and, while it fails with HTTP 500 naming `race` (one of Podman's transient
/// failures above), again up to [`RACE_RETRIES`] times with a growing pause.
pub(super) async fn again_after_race<T, Request, Answer>(
    race: &str,
    mut request: Request,
) -> Result<T, EngineError>
where
    Request: FnMut() -> Answer,
    Answer: Future<Output = Result<T, EngineError>>,
{
    let mut pause = RACE_PAUSE;
    for _ in 0..RACE_RETRIES {
        match request().await {
            Err(EngineError::Api {
                status: 500,
                message,
                operation,
            }) if message.contains(race) => {
                tracing::debug!(operation, %message, "a known Podman race; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            answer => return answer,
        }
    }
    request().await
}
