//! Where a command starts inside the container. The caller's directory is used when the container
//! sees that same directory, which is when it lies inside one of the container's bind mounts (the
//! home, /tmp, a project directory): the path is translated through the mount, so `/data/x`
//! mounted at `/mnt/data` becomes `/mnt/data/x`. A directory of the image that merely has the same
//! name (`/etc`, `/usr/bin`) is not the caller's directory, so it does not count.

use std::path::PathBuf;

use crate::engine::BindMount;

/// The caller's directory as the container sees it: the first of `candidates` (most preferred
/// first) that lies within a mount, translated through the mount whose source is longest (the
/// most specific). `None` when no candidate is shared or the translated path is not UTF-8 (Podman
/// takes the directory as a string).
pub fn shared_working_dir(candidates: &[PathBuf], mounts: &[BindMount]) -> Option<String> {
    let pairs: Vec<(&str, &str)> = mounts
        .iter()
        .map(|mount| (mount.source.as_str(), mount.target.as_str()))
        .collect();
    horizon_agent_protocol::workdir::translate_working_dir(candidates, &pairs)
        .and_then(|dir| dir.to_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn mount(source: &str, target: &str) -> BindMount {
        BindMount {
            source: source.into(),
            target: target.into(),
            read_only: false,
        }
    }

    #[test]
    fn translation_through_the_most_specific_mount() {
        let mounts = vec![
            mount("/home", "/home"),
            mount("/home/me/data", "/mnt/data"),
            mount("/tmp", "/tmp"),
        ];
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["/home/me/src"], Some("/home/me/src")),
            (&["/home"], Some("/home")),
            (&["/home/me/data/x y"], Some("/mnt/data/x y")),
            (&["/home/me/data"], Some("/mnt/data")),
            (&["/tmp/a/b"], Some("/tmp/a/b")),
            // Same name in the image is not the same directory.
            (&["/etc"], None),
            (&["/"], None),
            // Whole components only: /homework is not inside /home.
            (&["/homework"], None),
            // The physical path is tried when the logical one is not shared.
            (&["/elsewhere", "/home/me"], Some("/home/me")),
            (&["relative/dir"], None),
            (&[], None),
        ];
        for (candidates, expected) in cases {
            let candidates: Vec<PathBuf> = candidates.iter().map(PathBuf::from).collect();
            assert_eq!(
                shared_working_dir(&candidates, &mounts).as_deref(),
                *expected,
                "{candidates:?}"
            );
        }
    }

    #[test]
    fn a_non_utf8_directory_is_not_passed() {
        let dir = PathBuf::from(OsString::from_vec(b"/home/\xff".to_vec()));
        assert_eq!(shared_working_dir(&[dir], &[mount("/home", "/home")]), None);
    }
}
