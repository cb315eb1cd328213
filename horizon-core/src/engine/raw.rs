//! A raw libpod HTTP client for the endpoints podman-api gets wrong (see
//! `shared/design/podman-api-notes.md`): the create spec (its builder drops `no_new_privileges`) and
//! stop with a timeout. It uses hyper 0.14 and hyperlocal 0.8, the versions podman-api already
//! compiles, so horizon carries one HTTP stack.

use std::path::PathBuf;

use hyper::body::Bytes;
use hyper::client::HttpConnector;
use hyper::{Body, Client, Method, Request};
use hyperlocal::UnixConnector;
use serde::de::DeserializeOwned;

use super::EngineError;
use crate::Endpoint;

/// The libpod API version horizon speaks; Podman 4.x serves it.
pub(crate) const LIBPOD_PREFIX: &str = "/v4.0.0/libpod";

/// A connection pool to one endpoint.
#[derive(Clone, Debug)]
pub(crate) enum RawClient {
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
    pub(crate) fn new(endpoint: &Endpoint) -> Self {
        match endpoint {
            Endpoint::Unix(socket) => RawClient::Unix {
                client: Client::builder().build(UnixConnector),
                socket: socket.clone(),
            },
            Endpoint::Tcp { host, port } => RawClient::Tcp {
                client: Client::builder().build(HttpConnector::new()),
                authority: format!("{host}:{port}"),
            },
        }
    }

    fn endpoint_text(&self) -> String {
        match self {
            RawClient::Unix { socket, .. } => format!("unix://{}", socket.display()),
            RawClient::Tcp { authority, .. } => format!("tcp://{authority}"),
        }
    }

    /// Sends `method path_and_query` under the libpod prefix with an optional JSON body.
    pub(crate) async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<RawResponse, EngineError> {
        let path = format!("{LIBPOD_PREFIX}{path_and_query}");
        let uri: hyper::Uri = match self {
            RawClient::Unix { socket, .. } => hyperlocal::Uri::new(socket, &path).into(),
            RawClient::Tcp { authority, .. } => format!("http://{authority}{path}")
                .parse()
                .map_err(|error| EngineError::Protocol {
                    operation: "build request",
                    message: format!("{error}"),
                })?,
        };
        let mut builder = Request::builder().method(method).uri(uri);
        if json_body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(json_body.map(Body::from).unwrap_or_else(Body::empty))
            .map_err(|error| EngineError::Protocol {
                operation: "build request",
                message: error.to_string(),
            })?;
        let unreachable = |error: hyper::Error| EngineError::Unreachable {
            endpoint: self.endpoint_text(),
            reason: error.to_string(),
        };
        let response = match self {
            RawClient::Unix { client, .. } => client.request(request).await,
            RawClient::Tcp { client, .. } => client.request(request).await,
        }
        .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = hyper::body::to_bytes(response.into_body())
            .await
            .map_err(unreachable)?;
        Ok(RawResponse { status, body })
    }

    /// Sends a request and decodes a 2xx JSON answer; an error status becomes an [`EngineError`].
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        path_and_query: &str,
        json_body: Option<Vec<u8>>,
    ) -> Result<T, EngineError> {
        let response = self.send(method, path_and_query, json_body).await?;
        check_status(operation, &response)?;
        serde_json::from_slice(&response.body).map_err(|error| EngineError::Protocol {
            operation,
            message: error.to_string(),
        })
    }
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
