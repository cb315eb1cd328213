//! The exit statuses of every horizon binary — one table, documented in docs/architecture.md —
//! and the failure type that carries one together with the error and its hints.

use horizon_core::ErrorKind;
use horizon_core::printable::escape_lines;

/// Done.
pub const SUCCESS: u8 = 0;
/// The operation failed.
pub const FAILURE: u8 = 1;
/// The input (arguments, definition files) was invalid; nothing was changed.
pub const INVALID_INPUT: u8 = 2;
/// No Podman service could be reached.
pub const NO_SERVICE: u8 = 3;
/// A name is taken (an export over a file that is not horizon's, another container's export, a
/// host command it would shadow); nothing was changed, `--force` overrides.
pub const CONFLICT: u8 = 4;
/// Another horizon process holds the lock (`--wait` queues behind it where offered).
pub const BUSY: u8 = 5;
/// There is no kept generation (or system generation) to return to.
pub const NOTHING_TO_ROLL_BACK: u8 = 6;
/// The next generation failed to build or verify and was removed; the running container is
/// untouched.
pub const UPDATE_REFUSED: u8 = 7;
/// A check found at least one update. 100, as `dnf check-update` uses.
pub const UPDATES_AVAILABLE: u8 = 100;
/// `run`, `shell` and exported binaries: horizon or Podman failed, as distinct from the command's
/// own status. 125, as `podman run` and `docker run` use; 126 and 127 stay the command's.
pub const EXEC_FAILURE: u8 = 125;
/// An exported binary whose container is not installed: as the shell's "command not found".
pub const NOT_INSTALLED_EXPORT: u8 = 127;
/// Interrupted (Ctrl-C, SIGTERM), after undoing or finishing the work: 128 + SIGINT.
pub const INTERRUPTED: u8 = 130;

/// The exit status of a kind of failure.
pub fn status_of(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => INVALID_INPUT,
        ErrorKind::NoService => NO_SERVICE,
        ErrorKind::Conflict => CONFLICT,
        ErrorKind::Busy => BUSY,
        ErrorKind::NothingToRollBack => NOTHING_TO_ROLL_BACK,
        ErrorKind::UpdateRefused => UPDATE_REFUSED,
        ErrorKind::Interrupted => INTERRUPTED,
        _ => FAILURE,
    }
}

/// A command's failure: what went wrong, the exit status, and how to fix it.
#[derive(Debug)]
pub struct Failure {
    /// The error, with its causes.
    pub error: anyhow::Error,
    /// The exit status.
    pub status: u8,
    /// What fixes it, rendered (one `hint:` line each).
    pub hints: Vec<String>,
}

impl Failure {
    /// A failure with this status and no hint.
    pub fn new(status: u8, error: anyhow::Error) -> Self {
        Failure {
            error,
            status,
            hints: Vec::new(),
        }
    }

    /// A plain failure (status 1).
    pub fn other(error: anyhow::Error) -> Self {
        Failure::new(FAILURE, error)
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The first hint, if any.
    pub fn hint(&self) -> Option<&str> {
        self.hints.first().map(String::as_str)
    }

    /// Prints the error chain (and the hints) on stderr, prefixed with `binary`, and returns the
    /// exit status. Escaped but for its line breaks: a message quotes definition files, paths and
    /// what a container printed, none of which may act on the terminal.
    pub fn report(&self, binary: &str) -> std::process::ExitCode {
        use std::io::Write;
        let mut stderr = std::io::stderr().lock();
        let message = format!("{:#}", self.error);
        // If stderr itself is gone there is nobody left to tell.
        let _ = writeln!(stderr, "{binary}: error: {}", escape_lines(&message));
        for hint in &self.hints {
            let _ = writeln!(stderr, "hint: {}", escape_lines(hint));
        }
        std::process::ExitCode::from(self.status)
    }
}

impl From<horizon_core::Error> for Failure {
    /// The status of the error's kind, and its hints as horizon-container's command lines.
    fn from(error: horizon_core::Error) -> Self {
        let status = status_of(error.kind());
        let hints = error.hints().iter().map(crate::hint::render).collect();
        Failure {
            error: anyhow::Error::new(error),
            status,
            hints,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::other(error.into())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::other(error)
    }
}
