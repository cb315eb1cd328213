//! Calls through the podman-api crate: its errors mapped to [`EngineError`] at this boundary (they
//! never travel further: the crate's `Error` has a `Clone` that recurses forever), each call held to
//! the request timeout and traced like the raw calls.

use std::future::Future;
use std::time::Instant;

use hyper::Method;

use super::PodmanEngine;
use super::raw::{CallOutcome, trace_call};
use crate::engine::EngineError;

/// The prefix podman-api 0.11 puts before libpod paths (its `LATEST_API_VERSION`), for the trace.
pub(super) const PODMAN_API_PREFIX: &str = "/v4.3.1/libpod";

impl PodmanEngine {
    /// The [`EngineError`] of a failed podman-api call.
    fn map_error(&self, operation: &'static str, error: podman_api::Error) -> EngineError {
        use podman_api::conn::Error as ConnError;
        match error {
            podman_api::Error::Fault { code, message } => {
                EngineError::from_status(operation, code.as_u16(), without_repeated_cause(message))
            }
            podman_api::Error::Error(ConnError::Fault { code, message }) => {
                EngineError::from_status(operation, code.as_u16(), message)
            }
            podman_api::Error::Error(ConnError::Hyper(error)) => EngineError::Unreachable {
                endpoint: self.endpoint.to_string(),
                reason: error.to_string(),
            },
            podman_api::Error::Error(ConnError::IO(error)) | podman_api::Error::IO(error) => {
                EngineError::Unreachable {
                    endpoint: self.endpoint.to_string(),
                    reason: error.to_string(),
                }
            }
            other => EngineError::Protocol {
                operation,
                message: other.to_string(),
            },
        }
    }

    /// Runs a podman-api call under the request timeout, mapping its error and tracing it like
    /// the raw calls. podman-api hides the response, so `path` is the one it sends (without the
    /// query) and a success is traced with `success_status`, the status that endpoint answers
    /// (both pinned by the contract tests).
    pub(super) async fn timed<T>(
        &self,
        operation: &'static str,
        (method, path, success_status): (Method, String, u16),
        call: impl Future<Output = Result<T, podman_api::Error>>,
    ) -> Result<T, EngineError> {
        let limit = self.raw.timeouts.request;
        let started = Instant::now();
        let result = match tokio::time::timeout(limit, call).await {
            Err(_) => Err(EngineError::Timeout {
                operation,
                after: limit,
            }),
            Ok(result) => result.map_err(|error| self.map_error(operation, error)),
        };
        let outcome = match &result {
            Ok(_) => CallOutcome::Status(success_status),
            Err(error) => CallOutcome::of_error(error),
        };
        trace_call(operation, &method, &path, outcome, started.elapsed());
        result
    }
}

/// podman-api turns Podman's error body into `"{message}: {cause}"`, but Podman's message already
/// ends with its cause (`no container with name or ID "x" found: no such container`): keep
/// Podman's message as it is, as the raw calls do.
fn without_repeated_cause(text: String) -> String {
    match text.rsplit_once(": ") {
        Some((message, cause))
            if cause.is_empty() || message == cause || message.ends_with(&format!(": {cause}")) =>
        {
            message.to_owned()
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_api_messages_lose_the_repeated_cause() {
        let cases = [
            (
                "no container with name or ID \"x\" found: no such container: no such container",
                "no container with name or ID \"x\" found: no such container",
            ),
            ("boom: boom", "boom"),
            ("only a message: ", "only a message"),
            ("a: b", "a: b"),
            ("Not Modified", "Not Modified"),
        ];
        for (given, expected) in cases {
            assert_eq!(without_repeated_cause(given.into()), expected, "{given}");
        }
    }
}
