//! What an image reference points to at its registry right now, without downloading any layer:
//! `skopeo inspect --raw docker://REF` fetches the manifest only, and its digest is the sha256 of
//! those bytes (what Podman records as the image's digest when it pulls it).
//!
//! Why skopeo rather than a registry client crate: skopeo is part of the spec's runtime stack and
//! reads the very files Podman reads — `registries.conf` (mirrors, blocked registries, which
//! registries are plain HTTP), the user's `auth.json`, certificates — so `--check` resolves exactly
//! what a pull would, and a registry marked insecure in `registries.conf` is the only way plain HTTP
//! is allowed (nothing here disables TLS). A crate (oci-client) would need its own TLS and HTTP
//! stack (+70 crates) and re-implement that configuration. The cost, ~40 ms of process start per
//! reference, is paid concurrently for all containers.

use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::RegistryError;
use crate::engine::PulledImage;
use crate::host_command::{HostCommand, HostCommandError, SystemRunner, run_checked};

/// The registry tool.
pub const SKOPEO: &str = "skopeo";
/// How long one registry lookup may take before it is given up (a registry that accepts the
/// connection and then says nothing would otherwise hang `--check` forever).
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);
/// The transport prefix skopeo needs for registry references.
const DOCKER_TRANSPORT: &str = "docker://";
/// The environment variable Podman reads its registries.conf path from (skopeo does not: the
/// binary passes its value in as [`RegistryClient::registries_conf`]).
pub const REGISTRIES_CONF_ENV: &str = "CONTAINERS_REGISTRIES_CONF";
/// The prefix of a skopeo/logrus fatal line, before the message proper.
const FATAL_MESSAGE_PREFIX: &str = "msg=";

/// Resolves image references to manifest digests at their registries (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryClient {
    /// The skopeo binary.
    pub program: PathBuf,
    /// The timeout of one lookup.
    pub timeout: Duration,
    /// A registries.conf other than the system's, when Podman is told to use one
    /// ([`REGISTRIES_CONF_ENV`]): skopeo then reads the same file.
    pub registries_conf: Option<PathBuf>,
}

impl Default for RegistryClient {
    fn default() -> Self {
        RegistryClient {
            program: PathBuf::from(SKOPEO),
            timeout: DEFAULT_REGISTRY_TIMEOUT,
            registries_conf: None,
        }
    }
}

impl RegistryClient {
    /// The default client reading the registries.conf Podman is pointed at by this process's
    /// environment ([`REGISTRIES_CONF_ENV`]), if any: skopeo must read the same file.
    pub fn for_this_process() -> Self {
        RegistryClient {
            registries_conf: std::env::var_os(REGISTRIES_CONF_ENV)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            ..RegistryClient::default()
        }
    }

    /// The manifest digest (`sha256:…`) `reference` points to now.
    pub async fn manifest_digest(&self, reference: &str) -> Result<String, RegistryError> {
        let mut command = HostCommand::new(self.program.as_os_str()).args([
            "--command-timeout".to_owned(),
            format!("{}s", self.timeout.as_secs().max(1)),
        ]);
        if let Some(conf) = &self.registries_conf {
            command = command.arg("--registries-conf").arg(conf.as_os_str());
        }
        let command = command
            .args(["inspect", "--raw"])
            .arg(format!("{DOCKER_TRANSPORT}{reference}"));
        // skopeo's own timeout covers its requests; this one also covers skopeo itself (the
        // runner kills the process when its future is dropped).
        let output = tokio::time::timeout(
            self.timeout,
            run_checked(&SystemRunner::default(), &command),
        )
        .await
        .map_err(|_| RegistryError::Timeout {
            seconds: self.timeout.as_secs(),
        })?;
        match output {
            // A manifest is JSON, so UTF-8: the captured text is its exact bytes.
            Ok(output) => Ok(manifest_digest(output.stdout.as_bytes())),
            Err(HostCommandError::Spawn { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(RegistryError::ToolMissing {
                    program: self.program.display().to_string(),
                })
            }
            Err(HostCommandError::Failed { stderr, .. }) => Err(failure(&stderr)),
            Err(error) => Err(RegistryError::Tool(error)),
        }
    }
}

impl RegistryClient {
    /// The manifest digest of `reference` that `pulled` was made from: what the pull decided, else
    /// (the image was in local storage already under another name, so it is known by several
    /// digests) the one of them the registry says `reference` names now. `None` when the registry
    /// names none of them (the reference was pushed again since the pull) or cannot be asked: the
    /// record then has no digest, and the next check offers an update, which builds by digest —
    /// a lost lookup costs one rebuild, never a wrong "up to date".
    pub async fn digest_of_pulled(&self, reference: &str, pulled: &PulledImage) -> Option<String> {
        if pulled.digest.is_some() || pulled.digests.is_empty() {
            return pulled.digest.clone();
        }
        match self.manifest_digest(reference).await {
            Ok(digest) if pulled.digests.contains(&digest) => Some(digest),
            Ok(digest) => {
                tracing::debug!(reference, %digest, "the reference was pushed again since the pull");
                None
            }
            Err(error) => {
                tracing::warn!(reference, %error, "could not ask the registry which manifest was pulled");
                None
            }
        }
    }
}

/// `sha256:HEX` of a manifest's bytes.
pub fn manifest_digest(manifest: &[u8]) -> String {
    let hash = Sha256::digest(manifest);
    let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256:{hex}")
}

/// The error of a failed lookup from skopeo's stderr: its last line, without logrus's time and
/// level fields; a timeout when skopeo says it gave up.
fn failure(stderr: &str) -> RegistryError {
    let line = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("skopeo failed without saying why")
        .trim();
    let message = match line.find(FATAL_MESSAGE_PREFIX) {
        Some(start) => {
            let quoted = &line[start + FATAL_MESSAGE_PREFIX.len()..];
            let unquoted = quoted
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap_or(quoted);
            unquoted.replace("\\\"", "\"")
        }
        None => line.to_owned(),
    };
    RegistryError::Failed { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_the_sha256_of_the_manifest_bytes() {
        assert_eq!(
            manifest_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn skopeo_failures_keep_the_message_only() {
        let stderr = "time=\"2026-11-26T03:00:00Z\" level=fatal msg=\"Error parsing image name \\\"docker://127.0.0.1:1/x:1\\\": pinging container registry 127.0.0.1:1: connect: connection refused\"\n";
        assert_eq!(
            failure(stderr).to_string(),
            "Error parsing image name \"docker://127.0.0.1:1/x:1\": pinging container registry 127.0.0.1:1: connect: connection refused"
        );
        assert_eq!(failure("plain words\n\n").to_string(), "plain words");
        assert_eq!(failure("").to_string(), "skopeo failed without saying why");
    }

    #[tokio::test]
    async fn a_missing_tool_and_a_hanging_tool_are_named() {
        let missing = RegistryClient {
            program: "/nonexistent/skopeo".into(),
            ..Default::default()
        };
        let error = missing.manifest_digest("x/y:z").await.unwrap_err();
        assert!(
            matches!(error, RegistryError::ToolMissing { .. }),
            "{error}"
        );
        // A program that ignores its arguments and never answers stands in for a stalled registry.
        let dir = tempfile::tempdir().unwrap();
        let stalling = dir.path().join("skopeo");
        std::fs::write(&stalling, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(
            &stalling,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let slow = RegistryClient {
            program: stalling,
            timeout: Duration::from_millis(300),
            registries_conf: None,
        };
        let started = std::time::Instant::now();
        let error = slow.manifest_digest("x/y:z").await.unwrap_err();
        assert!(matches!(error, RegistryError::Timeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
