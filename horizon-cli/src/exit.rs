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
