//! Reaching Podman for a command: discovery as the global options say, starting the user's own
//! service when none answers (and saying so on stderr, with the command that makes it permanent),
//! and the exit status and hint when nothing can be reached.

use std::io::Write;

use anyhow::anyhow;
use horizon_core::endpoint::DiscoveryInput;
use horizon_core::engine::service::enable_socket_command;
use horizon_core::engine::{AutoStart, ConnectError, Connection, PodmanEngine, StartedService};

use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// How to get a service running, for every "no Podman service" failure.
pub const NO_SERVICE_HINT: &str = "start the service: `systemctl --user enable --now podman.socket` (rootless), \
     `systemctl enable --now podman.socket` (root), or `podman system service --time=0 &`";
/// The same when Podman itself is missing.
pub const PODMAN_MISSING_HINT: &str = "install Podman (`sudo apt-get install podman` on Debian, `sudo dnf install podman` on Fedora), \
     then run the command again";

/// Connects to Podman as the global options say, mapping "nothing answers" to exit status 3.
pub async fn connect_engine(global: &GlobalArgs) -> Result<PodmanEngine, Failure> {
    let input = DiscoveryInput::from_process(global.url.clone());
    let auto_start = AutoStart::new(super::horizon_paths(global).runtime_dir);
    match horizon_core::engine::connect(&input, Some(&auto_start)).await {
        Ok(Connection {
            engine,
            candidate,
            started,
        }) => {
            tracing::debug!(endpoint = %candidate.endpoint, origin = %candidate.origin, "connected");
            if let Some(started) = started {
                // Losing this notice is not worth failing the command for.
                if let Err(error) =
                    render_started(&mut std::io::stderr().lock(), &started, input.uid)
                {
                    tracing::debug!(%error, "writing the service notice");
                }
            }
            Ok(engine)
        }
        Err(error @ ConnectError::BadEndpoint(_)) => {
            Err(Failure::new(exit::INVALID_INPUT, anyhow!(error)))
        }
        Err(error) => {
            let hint = if error.podman_missing() {
                PODMAN_MISSING_HINT
            } else {
                NO_SERVICE_HINT
            };
            Err(Failure::new(exit::NO_SERVICE, anyhow!(error)).with_hint(hint))
        }
    }
}

/// The one line that says horizon started a service, where, and how to make it permanent.
pub fn render_started(
    out: &mut impl Write,
    started: &StartedService,
    uid: u32,
) -> std::io::Result<()> {
    writeln!(
        out,
        "horizon-container: started the Podman service on unix://{} (pid {}, log {}); it exits \
         after {} s without requests. To keep one running: {}",
        started.socket.display(),
        started.pid,
        started.log.display(),
        started.idle_timeout.as_secs(),
        enable_socket_command(uid)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_started_notice_says_what_where_and_how_to_make_it_permanent() {
        let started = StartedService {
            pid: 4242,
            socket: "/run/user/1000/podman/podman.sock".into(),
            idle_timeout: Duration::from_secs(300),
            log: "/run/user/1000/horizonos/podman-service.log".into(),
        };
        let mut out = Vec::new();
        render_started(&mut out, &started, 1000).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "horizon-container: started the Podman service on \
             unix:///run/user/1000/podman/podman.sock (pid 4242, log \
             /run/user/1000/horizonos/podman-service.log); it exits after 300 s without requests. \
             To keep one running: systemctl --user enable --now podman.socket\n"
        );
        let mut out = Vec::new();
        render_started(&mut out, &started, 0).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .ends_with("To keep one running: systemctl enable --now podman.socket\n")
        );
    }
}
