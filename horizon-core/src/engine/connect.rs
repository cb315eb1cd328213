//! Connecting to the first Podman endpoint that answers, in the discovery order of
//! [`crate::endpoint::candidates`]; when none does and no endpoint was given, starting the caller's
//! own service (see [`super::service`]); and saying exactly what was tried when that fails too.

use std::fmt;
use std::path::Path;

use super::service::{AutoStart, PODMAN_PROGRAM, ServiceStartError, find_program, start_service};
use super::{Engine, EngineError, PodmanEngine, StartedService};
use crate::Endpoint;
use crate::endpoint::{Candidate, DiscoveryInput, EndpointError, candidates, own_service};

/// One endpoint that did not answer, and why.
#[derive(Debug)]
pub struct FailedAttempt {
    /// The endpoint and where it came from.
    pub candidate: Candidate,
    /// The connection error.
    pub error: EngineError,
}

/// A Podman service to use.
#[derive(Debug)]
pub struct Connection {
    /// The engine on it.
    pub engine: PodmanEngine,
    /// Its endpoint and where that came from.
    pub candidate: Candidate,
    /// Set when horizon started the service for this call (the caller should say so).
    pub started: Option<StartedService>,
}

/// No Podman service could be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The explicit endpoint was malformed.
    #[error(transparent)]
    BadEndpoint(#[from] EndpointError),
    /// Every candidate failed (and, when one was tried, so did starting the caller's own service).
    #[error("{}", describe_attempts(.attempts, .start_failure.as_ref()))]
    NoService {
        /// Each endpoint tried, in order.
        attempts: Vec<FailedAttempt>,
        /// Why the caller's own service could not be started, when that was tried.
        start_failure: Option<ServiceStartError>,
    },
}

impl ConnectError {
    /// True when the service could not be started because Podman is not installed.
    pub fn podman_missing(&self) -> bool {
        matches!(
            self,
            ConnectError::NoService {
                start_failure: Some(ServiceStartError::PodmanNotFound { .. }),
                ..
            }
        )
    }
}

fn describe_attempts(
    attempts: &[FailedAttempt],
    start_failure: Option<&ServiceStartError>,
) -> String {
    let mut text = String::from("no Podman service answered; tried:");
    for attempt in attempts {
        text.push_str(&format!("\n  {attempt}"));
    }
    if let Some(failure) = start_failure {
        text.push_str(&format!(
            "\nand could not start one: {}",
            crate::update::error_chain(failure)
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

/// Pings each candidate in order and returns an engine for the first that answers. When none does,
/// no endpoint was given explicitly, `auto_start` is set and the caller's own socket is simply
/// absent (not hung), starts `podman system service` there.
pub async fn connect(
    input: &DiscoveryInput,
    auto_start: Option<&AutoStart>,
) -> Result<Connection, ConnectError> {
    let mut attempts = Vec::new();
    for candidate in candidates(input)? {
        let engine = PodmanEngine::new(&candidate.endpoint);
        match engine.ping().await {
            Ok(()) => {
                return Ok(Connection {
                    engine,
                    candidate,
                    started: None,
                });
            }
            Err(error) => attempts.push(FailedAttempt { candidate, error }),
        }
    }
    let own = own_service(input)
        .filter(|own| {
            // A socket that exists but hangs or errors belongs to a service that is there:
            // starting another one on it would take its place.
            attempts
                .iter()
                .any(|attempt| attempt.candidate == *own && attempt.error.is_unreachable())
        })
        .and_then(|candidate| match &candidate.endpoint {
            Endpoint::Unix(socket) => Some((socket.clone(), candidate)),
            Endpoint::Tcp { .. } => None,
        });
    let start_failure = match (auto_start, own) {
        (Some(options), Some((socket, candidate))) => {
            match start_own(input, &socket, options).await {
                Ok((engine, started)) => {
                    return Ok(Connection {
                        engine,
                        candidate,
                        started,
                    });
                }
                Err(error) => Some(error),
            }
        }
        _ => None,
    };
    Err(ConnectError::NoService {
        attempts,
        start_failure,
    })
}

async fn start_own(
    input: &DiscoveryInput,
    socket: &Path,
    options: &AutoStart,
) -> Result<(PodmanEngine, Option<StartedService>), ServiceStartError> {
    let podman = find_program(PODMAN_PROGRAM, input.path.as_deref()).ok_or_else(|| {
        ServiceStartError::PodmanNotFound {
            path: input
                .path
                .as_ref()
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    })?;
    start_service(&podman, socket, options).await
}
