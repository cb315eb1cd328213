//! Which of the caller's environment variables reach a command in a container. An allowlist, not a
//! blocklist: the host's PATH, HOME, LD_* and the like describe the host and would break (or
//! subvert) the container's userland, while the terminal, locale, display and agent variables
//! describe the person at the keyboard and must follow them in. Shared by both exec paths: the
//! API path (horizon-core's `exec_plan`) and the agent, which enforces it again on what it receives.

/// Variables forwarded by exact name: the terminal, the locale, the time zone, the display
/// servers, the session type and the SSH agent.
pub const FORWARDED_VARIABLES: &[&str] = &[
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "LANG",
    "LANGUAGE",
    "TZ",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
    "SSH_AUTH_SOCK",
];

/// Variables forwarded by prefix: the locale categories (`LC_ALL`, `LC_CTYPE`, …).
pub const FORWARDED_PREFIXES: &[&str] = &["LC_"];

/// True when a variable of this name is forwarded.
pub fn is_forwarded(name: &str) -> bool {
    FORWARDED_VARIABLES.contains(&name)
        || FORWARDED_PREFIXES
            .iter()
            .any(|prefix| name.len() > prefix.len() && name.starts_with(prefix))
}

/// True when `name` can name a variable the caller sets explicitly (`-e NAME=VALUE`, any name, as
/// `podman exec -e`): not empty, without `=` (which ends the name in `NAME=VALUE`) or NUL (which
/// ends a C string).
pub fn is_valid_explicit_name(name: &[u8]) -> bool {
    !name.is_empty() && !name.contains(&b'=') && !name.contains(&0)
}
