//! Connecting to the first Podman endpoint that answers, in the discovery order of
//! [`crate::endpoint::candidates`], and saying exactly what was tried when none does.

use std::fmt;

use super::{Engine, EngineError, PodmanEngine};
use crate::endpoint::{Candidate, DiscoveryInput, EndpointError, candidates};

/// One endpoint that did not answer, and why.
#[derive(Debug)]
pub struct FailedAttempt {
    /// The endpoint and where it came from.
    pub candidate: Candidate,
    /// The connection error.
    pub error: EngineError,
}

/// No Podman service could be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The explicit endpoint was malformed.
    #[error(transparent)]
    BadEndpoint(#[from] EndpointError),
    /// Every candidate failed.
    #[error("{}", describe_attempts(.attempts))]
    NoService {
        /// Each endpoint tried, in order.
        attempts: Vec<FailedAttempt>,
    },
}

fn describe_attempts(attempts: &[FailedAttempt]) -> String {
    let mut text = String::from("no Podman service answered; tried:");
    for attempt in attempts {
        text.push_str(&format!(
            "\n  {} ({}): {}",
            attempt.candidate.endpoint, attempt.candidate.origin, attempt.error
        ));
    }
    text
}

impl fmt::Display for FailedAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.candidate.endpoint, self.candidate.origin, self.error
        )
    }
}

/// Pings each candidate in order and returns an engine for the first that answers.
pub async fn connect(input: &DiscoveryInput) -> Result<(PodmanEngine, Candidate), ConnectError> {
    let mut attempts = Vec::new();
    for candidate in candidates(input)? {
        let engine = PodmanEngine::new(&candidate.endpoint);
        match engine.ping().await {
            Ok(()) => return Ok((engine, candidate)),
            Err(error) => attempts.push(FailedAttempt { candidate, error }),
        }
    }
    Err(ConnectError::NoService { attempts })
}
