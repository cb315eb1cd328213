//! Where the Podman service listens: parsing an endpoint URL, and the documented discovery order.
//!
//! Order: an explicit endpoint (`--url`, then `CONTAINER_HOST`) is the only candidate when given, so
//! a typo never silently falls back to another service; otherwise the rootless socket
//! (`$XDG_RUNTIME_DIR/podman/podman.sock`, for non-root users) and then the rootful one
//! (`/run/podman/podman.sock`). Discovery is a pure function of [`DiscoveryInput`], so it is tested
//! without touching the machine.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The rootful Podman socket, where `systemctl enable --now podman.socket` puts it.
pub(crate) const ROOTFUL_SOCKET: &str = "/run/podman/podman.sock";
/// The rootless socket, relative to `$XDG_RUNTIME_DIR`.
pub(crate) const ROOTLESS_SOCKET_IN_RUNTIME_DIR: &str = "podman/podman.sock";

/// An address of a Podman API service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket (`unix:///run/podman/podman.sock`).
    Unix(PathBuf),
    /// Plain HTTP over TCP (`tcp://127.0.0.1:8080` or `http://127.0.0.1:8080`).
    Tcp {
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

/// Why an endpoint string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointError {
    /// The scheme is none of `unix`, `tcp`, `http`.
    #[error(
        "unsupported endpoint scheme in {url:?}: use unix:///path/to/podman.sock, tcp://HOST:PORT or http://HOST:PORT"
    )]
    UnsupportedScheme {
        /// The endpoint as given.
        url: String,
    },
    /// A `unix://` URL whose path is not absolute.
    #[error("the socket path of {url:?} must be absolute, e.g. unix:///run/podman/podman.sock")]
    RelativeSocketPath {
        /// The endpoint as given.
        url: String,
    },
    /// A `tcp://`/`http://` URL without a valid `HOST:PORT`.
    #[error("{url:?} must name a host and a port, e.g. tcp://127.0.0.1:8080")]
    BadHostPort {
        /// The endpoint as given.
        url: String,
    },
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        let (scheme, rest) =
            url.split_once("://")
                .ok_or_else(|| EndpointError::UnsupportedScheme {
                    url: url.to_owned(),
                })?;
        match scheme {
            "unix" => {
                let path = Path::new(rest);
                if !path.is_absolute() {
                    return Err(EndpointError::RelativeSocketPath {
                        url: url.to_owned(),
                    });
                }
                Ok(Endpoint::Unix(path.to_path_buf()))
            }
            "tcp" | "http" => {
                let bad = || EndpointError::BadHostPort {
                    url: url.to_owned(),
                };
                let authority = rest.trim_end_matches('/');
                let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
                let port: u16 = port.parse().map_err(|_| bad())?;
                if host.is_empty() || authority.contains('/') {
                    return Err(bad());
                }
                Ok(Endpoint::Tcp {
                    host: host.to_owned(),
                    port,
                })
            }
            _ => Err(EndpointError::UnsupportedScheme {
                url: url.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// Where a discovered endpoint came from, so errors can say which setting to fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointOrigin {
    /// The `--url` option.
    Flag,
    /// The `CONTAINER_HOST` environment variable.
    ContainerHostVariable,
    /// The calling user's rootless Podman socket.
    RootlessSocket,
    /// The system's rootful Podman socket.
    RootfulSocket,
}

impl fmt::Display for EndpointOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EndpointOrigin::Flag => "--url",
            EndpointOrigin::ContainerHostVariable => "CONTAINER_HOST",
            EndpointOrigin::RootlessSocket => "rootless socket",
            EndpointOrigin::RootfulSocket => "rootful socket",
        })
    }
}

/// One place discovery will try, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The address.
    pub endpoint: Endpoint,
    /// Why it is on the list.
    pub origin: EndpointOrigin,
}

/// Everything discovery reads from the caller's environment, passed in rather than read deep inside.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryInput {
    /// The `--url` option, if given.
    pub flag: Option<String>,
    /// `CONTAINER_HOST`, if set and non-empty.
    pub container_host: Option<String>,
    /// `XDG_RUNTIME_DIR`, if set and non-empty.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// The caller's effective uid.
    pub uid: u32,
    /// `PATH`, where `podman` is looked for when a service must be started.
    pub path: Option<OsString>,
}

impl DiscoveryInput {
    /// Reads the process environment (for binaries; libraries pass their own values).
    pub fn from_process(flag: Option<String>) -> Self {
        let non_empty = |key: &str| std::env::var(key).ok().filter(|value| !value.is_empty());
        DiscoveryInput {
            flag,
            container_host: non_empty("CONTAINER_HOST"),
            xdg_runtime_dir: non_empty("XDG_RUNTIME_DIR").map(PathBuf::from),
            uid: current_uid(),
            path: std::env::var_os("PATH"),
        }
    }
}

/// The effective uid of this process, read from `/proc` so the library needs no unsafe libc call.
pub(crate) fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|meta| meta.uid())
        .unwrap_or(u32::MAX)
}

/// The endpoints to try, in order. An explicit endpoint (flag, then `CONTAINER_HOST`) is the only
/// candidate when present; a malformed one is an error rather than a silent fallback.
pub(crate) fn candidates(input: &DiscoveryInput) -> Result<Vec<Candidate>, EndpointError> {
    if let Some(url) = &input.flag {
        return Ok(vec![Candidate {
            endpoint: url.parse()?,
            origin: EndpointOrigin::Flag,
        }]);
    }
    if let Some(url) = &input.container_host {
        return Ok(vec![Candidate {
            endpoint: url.parse()?,
            origin: EndpointOrigin::ContainerHostVariable,
        }]);
    }
    let mut found = Vec::new();
    if input.uid != 0 {
        let runtime_dir = input
            .xdg_runtime_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", input.uid)));
        found.push(Candidate {
            endpoint: Endpoint::Unix(runtime_dir.join(ROOTLESS_SOCKET_IN_RUNTIME_DIR)),
            origin: EndpointOrigin::RootlessSocket,
        });
    }
    found.push(Candidate {
        endpoint: Endpoint::Unix(PathBuf::from(ROOTFUL_SOCKET)),
        origin: EndpointOrigin::RootfulSocket,
    });
    Ok(found)
}

/// The endpoint of the caller's own service — the rootless socket for a user, the rootful one for
/// root — which horizon may start when nothing answers; `None` when an endpoint was given
/// explicitly (then only that endpoint is ever used).
pub(crate) fn own_service(input: &DiscoveryInput) -> Option<Candidate> {
    if input.flag.is_some() || input.container_host.is_some() {
        return None;
    }
    candidates(input).ok()?.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_supported_scheme() {
        let cases = [
            (
                "unix:///run/podman/podman.sock",
                Endpoint::Unix("/run/podman/podman.sock".into()),
            ),
            (
                "tcp://127.0.0.1:8080",
                Endpoint::Tcp {
                    host: "127.0.0.1".into(),
                    port: 8080,
                },
            ),
            (
                "http://localhost:9/",
                Endpoint::Tcp {
                    host: "localhost".into(),
                    port: 9,
                },
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(url.parse::<Endpoint>(), Ok(expected), "{url}");
        }
    }

    #[test]
    fn refuses_malformed_endpoints() {
        let cases = [
            ("/run/podman/podman.sock", "unsupported endpoint scheme"),
            ("ssh://host/run/podman.sock", "unsupported endpoint scheme"),
            ("unix://relative.sock", "must be absolute"),
            ("tcp://127.0.0.1", "must name a host and a port"),
            ("tcp://:80", "must name a host and a port"),
            ("tcp://host:99999", "must name a host and a port"),
            ("http://host:80/v4/path", "must name a host and a port"),
        ];
        for (url, message) in cases {
            let error = url.parse::<Endpoint>().expect_err(url).to_string();
            assert!(error.contains(message), "{url}: {error}");
        }
    }

    #[test]
    fn display_round_trips() {
        for url in ["unix:///tmp/x.sock", "tcp://10.0.0.1:2375"] {
            assert_eq!(url.parse::<Endpoint>().unwrap().to_string(), url);
        }
    }

    fn listed(input: &DiscoveryInput) -> Vec<(String, EndpointOrigin)> {
        candidates(input)
            .unwrap()
            .into_iter()
            .map(|candidate| (candidate.endpoint.to_string(), candidate.origin))
            .collect()
    }

    #[test]
    fn discovery_order() {
        use EndpointOrigin::*;
        let user = DiscoveryInput {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            uid: 1000,
            ..Default::default()
        };
        assert_eq!(
            listed(&user),
            [
                (
                    "unix:///run/user/1000/podman/podman.sock".to_owned(),
                    RootlessSocket
                ),
                ("unix:///run/podman/podman.sock".to_owned(), RootfulSocket),
            ]
        );

        let user_without_runtime_dir = DiscoveryInput {
            uid: 1001,
            ..Default::default()
        };
        assert_eq!(
            listed(&user_without_runtime_dir)[0].0,
            "unix:///run/user/1001/podman/podman.sock"
        );

        let root = DiscoveryInput {
            xdg_runtime_dir: Some("/run/user/0".into()),
            ..Default::default()
        };
        assert_eq!(
            listed(&root),
            [("unix:///run/podman/podman.sock".to_owned(), RootfulSocket)]
        );

        let with_variable = DiscoveryInput {
            container_host: Some("tcp://127.0.0.1:1".into()),
            ..user.clone()
        };
        assert_eq!(
            listed(&with_variable),
            [("tcp://127.0.0.1:1".to_owned(), ContainerHostVariable)]
        );

        let with_flag = DiscoveryInput {
            flag: Some("unix:///x.sock".into()),
            ..with_variable
        };
        assert_eq!(listed(&with_flag), [("unix:///x.sock".to_owned(), Flag)]);
    }

    #[test]
    fn own_service_is_the_first_implicit_candidate_and_never_an_explicit_one() {
        use EndpointOrigin::*;
        let own = |input: &DiscoveryInput| {
            own_service(input).map(|candidate| (candidate.endpoint.to_string(), candidate.origin))
        };
        let user = DiscoveryInput {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            uid: 1000,
            ..Default::default()
        };
        let cases = [
            (
                user.clone(),
                Some(("unix:///run/user/1000/podman/podman.sock", RootlessSocket)),
            ),
            (
                DiscoveryInput {
                    uid: 1001,
                    ..Default::default()
                },
                Some(("unix:///run/user/1001/podman/podman.sock", RootlessSocket)),
            ),
            (
                DiscoveryInput::default(),
                Some(("unix:///run/podman/podman.sock", RootfulSocket)),
            ),
            (
                DiscoveryInput {
                    flag: Some("unix:///x.sock".into()),
                    ..user.clone()
                },
                None,
            ),
            (
                DiscoveryInput {
                    container_host: Some("tcp://127.0.0.1:1".into()),
                    ..user.clone()
                },
                None,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                own(&input),
                expected.map(|(url, origin)| (url.to_owned(), origin)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn explicit_malformed_endpoint_is_an_error_not_a_fallback() {
        let input = DiscoveryInput {
            container_host: Some("bogus".into()),
            ..Default::default()
        };
        assert!(candidates(&input).is_err());
    }
}
