//! Which of the caller's environment variables reach a command in a container. An allowlist, not a
//! blocklist: the host's PATH, HOME, LD_* and the like describe the host and would break (or
//! subvert) the container's userland, while the terminal, locale, display and agent variables
//! describe the person at the keyboard and must follow them in.

use std::collections::BTreeMap;
use std::ffi::OsString;

// The allowlist lives in the agent's protocol crate, because the agent enforces it too (the agent
// path never sees this crate): one list for both exec paths.
pub use horizon_agent_protocol::environment::{
    FORWARDED_PREFIXES, FORWARDED_VARIABLES, is_forwarded,
};

/// The forwarded part of the caller's environment. Variables whose name or value is not UTF-8
/// are left out: Podman's API carries strings, and a mangled locale is worse than none.
pub fn forwarded_environment(caller: &[(OsString, OsString)]) -> BTreeMap<String, String> {
    caller
        .iter()
        .filter_map(|(name, value)| Some((name.to_str()?, value.to_str()?)))
        .filter(|(name, _)| is_forwarded(name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn pair(name: &str, value: &str) -> (OsString, OsString) {
        (name.into(), value.into())
    }

    #[test]
    fn only_the_allowlist_is_forwarded() {
        let caller = vec![
            pair("TERM", "xterm-256color"),
            pair("LANG", "de_DE.UTF-8"),
            pair("LC_ALL", "C.UTF-8"),
            pair("LC_", "not a category"),
            pair("DISPLAY", ":0"),
            pair("WAYLAND_DISPLAY", "wayland-0"),
            pair("XDG_RUNTIME_DIR", "/run/user/1000"),
            pair("SSH_AUTH_SOCK", "/run/user/1000/ssh"),
            pair("PATH", "/host/bin"),
            pair("HOME", "/home/me"),
            pair("LD_PRELOAD", "/evil.so"),
            pair("CONTAINER_HOST", "unix:///x"),
            pair("term", "lowercase is another variable"),
            (
                OsString::from("LC_CTYPE"),
                OsString::from_vec(b"\xffbad".to_vec()),
            ),
        ];
        let expected: BTreeMap<String, String> = [
            ("DISPLAY", ":0"),
            ("LANG", "de_DE.UTF-8"),
            ("LC_ALL", "C.UTF-8"),
            ("SSH_AUTH_SOCK", "/run/user/1000/ssh"),
            ("TERM", "xterm-256color"),
            ("WAYLAND_DISPLAY", "wayland-0"),
            ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        assert_eq!(forwarded_environment(&caller), expected);
    }
}
