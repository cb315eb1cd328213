//! Why the agent path did not run a program, and the exit status a client gives for it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use horizon_agent_protocol::wire::RefusalKind;

/// The status of a failure of horizon, never of the program (the status `run` gives too).
pub const EXEC_FAILURE: u8 = 125;

/// Why the agent path did not run the program.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// There is no agent to ask (no directory, no active instance, no socket, the container is
    /// stopped), or one too old for the request: use the API path. Nothing ran.
    NoAgent {
        /// What was missing.
        reason: String,
    },
    /// A path on the way to the socket is not what horizon made: a symlink, not a socket, owned
    /// by someone else, writable by others. Nothing ran; do not fall back silently.
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent refused the request (nothing ran): a missing program (127), one not executable
    /// (126), an exact working directory that is not one in the container
    /// ([`RefusalKind::NoWorkingDir`]), a caller it does not serve, a malformed request.
    Refused {
        /// Why.
        kind: RefusalKind,
        /// The agent's message.
        message: String,
    },
    /// The invocation's options cannot be sent (an explicit variable without a valid name, a
    /// working directory that is not absolute, beyond the protocol's limits). Nothing ran; the
    /// API path would refuse them too.
    Invalid {
        /// What is wrong, for a person.
        reason: String,
    },
    /// The connection failed while the program may have been running.
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        error: io::Error,
    },
}

impl ClientError {
    /// The status a client exits with for this error: a shell's for a program that is missing
    /// (127) or not executable (126), else [`EXEC_FAILURE`].
    pub fn exit_status(&self) -> u8 {
        match self {
            ClientError::Refused { kind, .. } => kind.shell_status().unwrap_or(EXEC_FAILURE),
            _ => EXEC_FAILURE,
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NoAgent { reason } => write!(f, "no agent: {reason}"),
            ClientError::Unsafe { path, reason } => write!(
                f,
                "refusing the agent socket path {}: {reason}",
                path.display()
            ),
            ClientError::Refused { message, .. } => write!(f, "{message}"),
            ClientError::Invalid { reason } => write!(f, "{reason}"),
            ClientError::Io { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for ClientError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_a_shells_for_the_program_and_125_for_horizon() {
        let refused = |kind| ClientError::Refused {
            kind,
            message: String::new(),
        };
        let cases = [
            (refused(RefusalKind::NotFound), 127),
            (refused(RefusalKind::NotExecutable), 126),
            (refused(RefusalKind::Permission), EXEC_FAILURE),
            (refused(RefusalKind::NoWorkingDir), EXEC_FAILURE),
            (
                ClientError::Invalid {
                    reason: String::new(),
                },
                EXEC_FAILURE,
            ),
            (
                ClientError::NoAgent {
                    reason: String::new(),
                },
                EXEC_FAILURE,
            ),
            (
                ClientError::Io {
                    what: "poll",
                    error: io::ErrorKind::BrokenPipe.into(),
                },
                EXEC_FAILURE,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(error.exit_status(), status, "{error:?}");
        }
    }
}
