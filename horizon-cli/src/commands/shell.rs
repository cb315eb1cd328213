//! `horizon-container shell NAME`: the container user's interactive login shell.
//!
//! When the container has an agent ([`through_agent`], run before the async runtime exists: the
//! agent's client owns this process's signals, which every thread must block) the agent picks the
//! shell (login shell from the container's /etc/passwd, else bash, else sh — the rule
//! `horizon_agent::users::interactive_shell` gives both paths) and runs it on a pseudo-terminal
//! made like the caller's terminal, in a session of its own with job control; it starts in a few
//! milliseconds. Otherwise (a stopped container, one made before the agent, a foreign image) the
//! API path: horizon-core's `exec_plan` picks the same shell and `run`'s terminal handling
//! (raw mode, window size, signals) and exit statuses apply.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_agent::client::{self, ClientError, Outcome};
use horizon_core::exec_plan::Invocation;

use super::run::{definition_name, execute};
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// Chooses the exec path, as for exported binaries: `api` skips the agent.
const PATH_VAR: &str = "HORIZON_EXEC_PATH";

/// `shell` on the API path: the login shell, attached to this terminal.
pub async fn run(global: &GlobalArgs, name: Option<OsString>) -> Result<ExitCode, Failure> {
    let name = definition_name(name)?;
    execute(global, &name, Invocation::LoginShell).await
}

/// `shell` through the container's agent; `None` when there is no agent to ask (nothing ran:
/// the API path takes over). Synchronous, and called before the async runtime starts.
pub fn through_agent(global: &GlobalArgs, name: Option<&OsString>) -> Option<ExitCode> {
    if std::env::var_os(PATH_VAR).is_some_and(|path| path == "api") {
        return None;
    }
    let name = definition_name(name.cloned()).ok()?;
    let runtime_dir = super::horizon_paths(global).runtime_dir;
    let stream = match client::connect(&runtime_dir, &name) {
        Ok(stream) => stream,
        Err(ClientError::NoAgent { reason }) => {
            tracing::debug!(%reason, "no agent: the shell takes the API path");
            return None;
        }
        Err(error) => return Some(exec_failure(anyhow!(error))),
    };
    let container = horizon_core::naming::container_name(&name);
    Some(
        match client::run_as_this_process(&stream, &name, &container, &[]) {
            Ok(Outcome::Exited(code)) => ExitCode::from(code),
            // As the API path reports it (Podman's exit code for a signal is 128 + N).
            Ok(Outcome::Signaled(signal)) => {
                ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX))
            }
            Err(ClientError::NoAgent { reason }) => {
                tracing::debug!(%reason, "the shell takes the API path");
                return None;
            }
            Err(error) => exec_failure(anyhow!(error)),
        },
    )
}

/// Every failure of `shell` exits 125, as on the API path.
fn exec_failure(error: anyhow::Error) -> ExitCode {
    Failure::new(exit::EXEC_FAILURE, error).report()
}
