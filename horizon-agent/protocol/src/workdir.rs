//! Where a command starts inside the container. The caller's directory is used when the container
//! sees that same directory, which is when it lies inside one of the container's bind mounts (the
//! home, /tmp, a project directory): the path is translated through the mount, so `/data/x`
//! mounted at `/mnt/data` becomes `/mnt/data/x`. A directory of the image that merely has the same
//! name (`/etc`, `/usr/bin`) is not the caller's directory, so it does not count. Shared by the API
//! path (horizon-core) and the agent, which knows its container's mounts from its command line.

use std::path::{Path, PathBuf};

/// The caller's directory as the container sees it: the first of `candidates` (most preferred
/// first) that lies within a mount (`(source on the host, target in the container)`), translated
/// through the mount whose source is longest (the most specific). `None` when no candidate is
/// shared.
pub fn translate_working_dir<S: AsRef<Path>, T: AsRef<Path>>(
    candidates: &[PathBuf],
    mounts: &[(S, T)],
) -> Option<PathBuf> {
    candidates
        .iter()
        .filter(|candidate| candidate.is_absolute())
        .find_map(|candidate| translate(candidate, mounts))
}

fn translate<S: AsRef<Path>, T: AsRef<Path>>(dir: &Path, mounts: &[(S, T)]) -> Option<PathBuf> {
    let (target, rest) = mounts
        .iter()
        .filter_map(|(source, target)| {
            let rest = dir.strip_prefix(source.as_ref()).ok()?;
            Some((source.as_ref().as_os_str().len(), target.as_ref(), rest))
        })
        .max_by_key(|(source_len, _, _)| *source_len)
        .map(|(_, target, rest)| (target, rest))?;
    // Joining an empty rest would add a trailing slash.
    Some(if rest.as_os_str().is_empty() {
        target.to_path_buf()
    } else {
        target.join(rest)
    })
}
