//! Exit statuses of `horizon-container`, documented in the README, and the failure type that
//! carries one together with the error and an optional hint (the command that fixes it).

/// The operation failed.
pub const FAILURE: u8 = 1;
/// The input (arguments, definition files) was invalid; nothing was changed.
pub const INVALID_INPUT: u8 = 2;
/// No Podman service could be reached.
pub const NO_SERVICE: u8 = 3;
/// `export`: the name is taken (a file that is not horizon's, another container's export, or a
/// host command it would shadow); nothing was changed, `--force` overrides.
pub const CONFLICT: u8 = 4;
/// An exported binary whose container is not installed: as the shell's "command not found".
pub const NOT_INSTALLED_EXPORT: u8 = 127;
/// `update` only: the next generation failed to build or verify, and was removed; the running
/// container is untouched.
pub const UPDATE_REFUSED: u8 = 4;
/// Another horizon-container holds the container's lock (`--wait` queues behind it instead).
pub const BUSY: u8 = 5;
/// `rollback` only: there is no kept generation to return to.
pub const NOTHING_TO_ROLL_BACK: u8 = 6;
/// `update --check` only: at least one container has an update (a new image or a changed
/// definition); 0 means none has. 100, as `dnf check-update` and `yum check-update` use.
pub const UPDATES_AVAILABLE: u8 = 100;
/// `update` and `rollback` were interrupted (Ctrl-C, SIGTERM) and undid or finished their work:
/// 128 + SIGINT, as shells report it.
pub const INTERRUPTED: u8 = 130;
/// `run` and `shell` only: horizon or Podman failed (any failure, including bad arguments and no
/// service), as distinct from the command's own exit status. 125, as `podman run` and `docker
/// run` use; 126 and 127 stay the command's "not executable" and "not found".
pub const EXEC_FAILURE: u8 = 125;

/// A command's failure: what went wrong, the exit status it maps to, and how to fix it.
#[derive(Debug)]
pub struct Failure {
    pub error: anyhow::Error,
    pub status: u8,
    pub hint: Option<String>,
}

impl Failure {
    /// Prints the error chain (and the hint) on stderr, prefixed with the binary's name, and
    /// returns the exit status.
    pub fn report(&self) -> std::process::ExitCode {
        use std::io::Write;
        let mut stderr = std::io::stderr().lock();
        // If stderr itself is gone there is nobody left to tell.
        let _ = writeln!(
            stderr,
            "{}: error: {:#}",
            env!("CARGO_BIN_NAME"),
            self.error
        );
        if let Some(hint) = &self.hint {
            let _ = writeln!(stderr, "hint: {hint}");
        }
        std::process::ExitCode::from(self.status)
    }

    pub fn new(status: u8, error: anyhow::Error) -> Self {
        Failure {
            error,
            status,
            hint: None,
        }
    }

    pub fn other(error: anyhow::Error) -> Self {
        Failure::new(FAILURE, error)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::other(error.into())
    }
}
