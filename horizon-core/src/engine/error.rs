//! [`EngineError`]: every way a Podman operation fails, as data. Foreign errors (podman-api, hyper)
//! are converted here and never leak: podman-api's error type even has a `Clone` that recurses forever.

/// A failed engine operation. `operation` names what horizon was doing (`"create container"`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Nothing answered at the endpoint (socket missing, connection refused).
    #[error("cannot reach the Podman service at {endpoint}: {reason}")]
    Unreachable {
        /// The endpoint tried.
        endpoint: String,
        /// What the connection attempt reported.
        reason: String,
    },
    /// The object does not exist (HTTP 404).
    #[error("{operation}: {message}")]
    NotFound {
        /// What horizon was doing.
        operation: &'static str,
        /// Podman's message.
        message: String,
    },
    /// The request conflicts with the object's state or name (HTTP 409).
    #[error("{operation}: conflict: {message}")]
    Conflict {
        /// What horizon was doing.
        operation: &'static str,
        /// Podman's message.
        message: String,
    },
    /// Any other HTTP error status.
    #[error("{operation}: Podman answered HTTP {status}: {message}")]
    Api {
        /// What horizon was doing.
        operation: &'static str,
        /// The HTTP status code.
        status: u16,
        /// Podman's message.
        message: String,
    },
    /// HTTP 200, but the streamed body reported an error (a failed pull, for one).
    #[error("{operation} failed: {message}")]
    StreamError {
        /// What horizon was doing.
        operation: &'static str,
        /// The error the stream carried.
        message: String,
    },
    /// The stream ended without the final object that says the operation completed.
    #[error("{operation}: the response ended before the operation completed")]
    StreamTruncated {
        /// What horizon was doing.
        operation: &'static str,
    },
    /// Podman did not answer, or a stream made no progress, within the limit.
    #[error("{operation}: no answer from Podman within {after:?}")]
    Timeout {
        /// What horizon was doing.
        operation: &'static str,
        /// The limit that was exceeded.
        after: std::time::Duration,
    },
    /// Writing the process's output to the caller failed (a closed pipe, a full disk).
    #[error("{operation}: writing output failed: {message}")]
    Output {
        /// What horizon was doing.
        operation: &'static str,
        /// The I/O error kind (`BrokenPipe` when the reader went away).
        kind: std::io::ErrorKind,
        /// The I/O error.
        message: String,
    },
    /// The response could not be understood.
    #[error("{operation}: unexpected response from Podman: {message}")]
    Protocol {
        /// What horizon was doing.
        operation: &'static str,
        /// What was wrong with it.
        message: String,
    },
    /// Podman's answer lacks a field horizon reads (it is never taken as a default).
    #[error("{operation}: Podman's answer has no {field}")]
    MissingField {
        /// What horizon was doing.
        operation: &'static str,
        /// The field's path in the answer, e.g. `HostConfig.Privileged` or `Mounts[1].RW`.
        field: String,
    },
    /// A field of Podman's answer holds a value horizon cannot read as what it means (a state
    /// word Podman does not have, a malformed time, a string where a flag belongs).
    #[error("{operation}: Podman's answer has an unreadable {field} ({value}): {reason}")]
    InvalidField {
        /// What horizon was doing.
        operation: &'static str,
        /// The field's path in the answer.
        field: String,
        /// The value as Podman sent it (JSON, control characters escaped, shortened). The two
        /// texts are boxed to keep every `Result` carrying an `EngineError` small.
        value: Box<str>,
        /// Why it cannot be read.
        reason: Box<str>,
    },
}

impl EngineError {
    /// Maps an HTTP error status and Podman's message to the matching variant.
    pub(crate) fn from_status(operation: &'static str, status: u16, message: String) -> Self {
        match status {
            404 => EngineError::NotFound { operation, message },
            409 => EngineError::Conflict { operation, message },
            _ => EngineError::Api {
                operation,
                status,
                message,
            },
        }
    }

    /// True when nothing answered at the endpoint.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, EngineError::Unreachable { .. })
    }

    /// True when the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, EngineError::NotFound { .. })
    }
}
