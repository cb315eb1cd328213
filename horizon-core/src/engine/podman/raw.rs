//! A raw libpod HTTP client for the endpoints podman-api gets wrong or lacks (see
//! `shared/design/podman-api-notes.md`), with the timeouts that keep a stuck Podman from hanging
//! horizon: response headers within a limit, and streamed bodies that must keep making progress.
//! It uses hyper 0.14 and hyperlocal 0.8, the versions podman-api already compiles, so horizon
//! carries one HTTP stack.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use hyper::client::HttpConnector;
use hyper::{Body, Client, Method, Request};
use hyperlocal::UnixConnector;
use serde::de::DeserializeOwned;

use super::EngineError;
use crate::Endpoint;

/// The libpod API version horizon speaks; Podman 4.x serves it.
pub(crate) const LIBPOD_PREFIX: &str = "/v4.0.0/libpod";

/// How long horizon waits for Podman before it reports a timeout instead of hanging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineTimeouts {
    /// Until the response headers of a short request (ping, inspect, list…) arrive.
    pub request: Duration,
    /// Until the response headers of a long request (commit, stop, removal of a big container).
    pub long_request: Duration,
    /// Between two pieces of a streamed response (a pull that stalls).
    pub no_progress: Duration,
}

impl Default for EngineTimeouts {
    fn default() -> Self {
        EngineTimeouts {
            request: Duration::from_secs(30),
            long_request: Duration::from_secs(600),
            no_progress: Duration::from_secs(120),
        }
    }
}

/// Whether a request may take long before Podman answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Patience {
    Short,
    Long,
}

/// A connection pool to one endpoint.
#[derive(Clone, Debug)]
pub(crate) struct RawClient {
    transport: Transport,
    pub(crate) timeouts: EngineTimeouts,
}

#[derive(Clone, Debug)]
enum Transport {
    Unix {
        client: Client<UnixConnector>,
        socket: PathBuf,
    },
    Tcp {
        client: Client<HttpConnector>,
        authority: String,
    },
}

/// A response: status code and the whole body.
pub(crate) struct RawResponse {
    pub status: u16,
    pub body: Bytes,
}

impl RawClient {
    pub(crate) fn new(endpoint: &Endpoint, timeouts: EngineTimeouts) -> Self {
        let transport = match endpoint {
            Endpoint::Unix(socket) => Transport::Unix {
                client: Client::builder().build(UnixConnector),
                socket: socket.clone(),
            },
            Endpoint::Tcp { host, port } => Transport::Tcp {
                client: Client::builder().build(HttpConnector::new()),
                authority: format!("{host}:{port}"),
            },
        };
        RawClient {
            transport,
            timeouts,
        }
    }

    /// True when the service runs on this machine (a unix socket), so the pids it reports are
    /// this machine's.
    pub(crate) fn is_local(&self) -> bool {
        matches!(self.transport, Transport::Unix { .. })
    }

    pub(crate) fn endpoint_text(&self) -> String {
        match &self.transport {
            Transport::Unix { socket, .. } => format!("unix://{}", socket.display()),
            Transport::Tcp { authority, .. } => format!("tcp://{authority}"),
        }
    }

    pub(crate) fn unreachable(&self, reason: impl std::fmt::Display) -> EngineError {
        EngineError::Unreachable {
            endpoint: self.endpoint_text(),
            reason: reason.to_string(),
        }
    }

    /// Builds a request for an absolute path (`/v4.0.0/libpod/…` or a compat path).
    fn request(
        &self,
        method: Method,
        path: &str,
        json_body: Option<Vec<u8>>,
        upgrade: bool,
    ) -> Result<Request<Body>, EngineError> {
        let protocol = |message: String| EngineError::Protocol {
            operation: "build request",
            message,
        };
        let uri: hyper::Uri = match &self.transport {
            Transport::Unix { socket, .. } => hyperlocal::Uri::new(socket, path).into(),
            Transport::Tcp { authority, .. } => format!("http://{authority}{path}")
                .parse()
                .map_err(|error: hyper::http::uri::InvalidUri| protocol(error.to_string()))?,
        };
        let mut builder = Request::builder().method(method).uri(uri);
        if json_body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        if upgrade {
            builder = builder
                .header("connection", "Upgrade")
                .header("upgrade", "tcp");
        }
        builder
            .body(json_body.map(Body::from).unwrap_or_else(Body::empty))
            .map_err(|error| protocol(error.to_string()))
    }

    /// Sends a request and returns the response once its headers arrived, within the limit. Every
    /// call is traced (`HORIZON_DEBUG=1`), including the ones that never got an answer.
    async fn response_headers(
        &self,
        operation: &'static str,
        request: Request<Body>,
        patience: Patience,
    ) -> Result<hyper::Response<Body>, EngineError> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request
            .uri()
            .path_and_query()
            .map_or_else(|| request.uri().path().to_owned(), |path| path.to_string());
        let limit = match patience {
            Patience::Short => self.timeouts.request,
            Patience::Long => self.timeouts.long_request,
        };
        let response = match &self.transport {
            Transport::Unix { client, .. } => {
                tokio::time::timeout(limit, client.request(request)).await
            }
            Transport::Tcp { client, .. } => {
                tokio::time::timeout(limit, client.request(request)).await
            }
        };
        let outcome = match &response {
            Ok(Ok(response)) => CallOutcome::Status(response.status().as_u16()),
            Ok(Err(_)) => CallOutcome::Unreachable,
            Err(_) => CallOutcome::TimedOut,
        };
        trace_call(operation, &method, &path, outcome, started.elapsed());
        response
            .map_err(|_| EngineError::Timeout {
                operation,
                after: limit,
            })?
            .map_err(|error| self.unreachable(error))
    }

    /// Sends `method path_and_query` under the libpod prefix and reads the whole answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<RawResponse, EngineError> {
        self.send_with(
            "podman api",
            method,
            path_and_query,
            json_body,
            Patience::Short,
        )
        .await
    }

    /// Like [`Self::send`], naming the operation and how long Podman may take to answer.
    pub(crate) async fn send_with(
        &self,
        operation: &'static str,
        method: Method,
        path_and_query: &str,
        json_body: Option<Vec<u8>>,
        patience: Patience,
    ) -> Result<RawResponse, EngineError> {
        let request = self.request(
            method,
            &format!("{LIBPOD_PREFIX}{path_and_query}"),
            json_body,
            false,
        )?;
        let response = self.response_headers(operation, request, patience).await?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(operation, &mut body).await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            body: Bytes::from(bytes),
        })
    }

    /// Starts a streamed request at an absolute path (libpod or compat); read its body with
    /// [`Self::next_chunk`].
    pub(crate) async fn stream(
        &self,
        operation: &'static str,
        method: Method,
        absolute_path: &str,
    ) -> Result<(u16, Body), EngineError> {
        let request = self.request(method, absolute_path, None, false)?;
        let response = self
            .response_headers(operation, request, Patience::Long)
            .await?;
        Ok((response.status().as_u16(), response.into_body()))
    }

    /// The next piece of a streamed body, or `None` at its end; a timeout when nothing arrives for
    /// the no-progress limit.
    pub(crate) async fn next_chunk(
        &self,
        operation: &'static str,
        body: &mut Body,
    ) -> Result<Option<Bytes>, EngineError> {
        let limit = self.timeouts.no_progress;
        tokio::time::timeout(limit, next_piece(body))
            .await
            .map_err(|_| EngineError::Timeout {
                operation,
                after: limit,
            })?
            .map_err(|error| self.unreachable(error))
    }

    /// Reads a whole streamed body (within the no-progress limit between pieces).
    pub(crate) async fn read_all(
        &self,
        operation: &'static str,
        body: &mut Body,
    ) -> Result<Vec<u8>, EngineError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = self.next_chunk(operation, body).await? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// POSTs to a hijacking endpoint (exec start) and returns the raw two-way connection.
    pub(crate) async fn upgrade(
        &self,
        operation: &'static str,
        path_and_query: &str,
        json_body: Vec<u8>,
    ) -> Result<hyper::upgrade::Upgraded, EngineError> {
        let request = self.request(
            Method::POST,
            &format!("{LIBPOD_PREFIX}{path_and_query}"),
            Some(json_body),
            true,
        )?;
        let response = self
            .response_headers(operation, request, Patience::Short)
            .await?;
        let status = response.status().as_u16();
        if status != 101 {
            let mut body = response.into_body();
            let bytes = self.read_all(operation, &mut body).await?;
            return Err(EngineError::from_status(
                operation,
                status,
                podman_message(&bytes),
            ));
        }
        hyper::upgrade::on(response)
            .await
            .map_err(|error| self.unreachable(error))
    }

    /// Sends a request and decodes a 2xx JSON answer; an error status becomes an [`EngineError`].
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path_and_query: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<T, EngineError> {
        let response = self
            .send_with(
                operation,
                method,
                path_and_query,
                json_body,
                Patience::Short,
            )
            .await?;
        check_status(operation, &response)?;
        serde_json::from_slice(&response.body).map_err(|error| EngineError::Protocol {
            operation,
            message: error.to_string(),
        })
    }
}

/// How an API call ended, for the debug trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallOutcome {
    /// Podman answered with this HTTP status.
    Status(u16),
    /// The connection failed.
    Unreachable,
    /// No answer within the limit.
    TimedOut,
    /// Something else went wrong (an unreadable answer).
    Failed,
}

impl CallOutcome {
    /// The outcome a failed call's error stands for.
    pub(crate) fn of_error(error: &EngineError) -> Self {
        match error {
            EngineError::NotFound { .. } => CallOutcome::Status(404),
            EngineError::Conflict { .. } => CallOutcome::Status(409),
            EngineError::Api { status, .. } => CallOutcome::Status(*status),
            EngineError::Unreachable { .. } => CallOutcome::Unreachable,
            EngineError::Timeout { .. } => CallOutcome::TimedOut,
            _ => CallOutcome::Failed,
        }
    }
}

impl std::fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallOutcome::Status(status) => write!(f, "{status}"),
            CallOutcome::Unreachable => f.write_str("unreachable"),
            CallOutcome::TimedOut => f.write_str("timeout"),
            CallOutcome::Failed => f.write_str("error"),
        }
    }
}

/// Traces one API call at debug level: method, path (with query), status, duration. The single
/// place every call is reported, raw or through podman-api, so `HORIZON_DEBUG=1` shows them all
/// alike.
pub(crate) fn trace_call(
    operation: &'static str,
    method: &Method,
    path: &str,
    outcome: CallOutcome,
    elapsed: Duration,
) {
    // Tenths of a millisecond: local calls take well under one.
    let duration_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    tracing::debug!(
        method = %method,
        path = %path,
        status = %outcome,
        duration_ms,
        operation,
        "podman api call"
    );
}

/// The next piece of a body, without a time limit (following logs waits indefinitely).
pub(crate) async fn next_piece(body: &mut Body) -> Result<Option<Bytes>, hyper::Error> {
    use hyper::body::HttpBody;
    body.data().await.transpose()
}

/// Turns a non-2xx response into the matching error, using Podman's `{"message": …}` body.
pub(crate) fn check_status(
    operation: &'static str,
    response: &RawResponse,
) -> Result<(), EngineError> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    Err(EngineError::from_status(
        operation,
        response.status,
        podman_message(&response.body),
    ))
}

/// Podman's error text from an error body, or the body itself when it is not Podman's JSON.
pub(crate) fn podman_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct PodmanErrorBody {
        message: String,
    }
    match serde_json::from_slice::<PodmanErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    }
}
