//! `horizon-container shell NAME`: the container user's interactive login shell.
//!
//! When the container has an agent ([`through_agent`], run before the async runtime exists: the
//! agent's client owns this process's signals, which every thread must block) the agent picks the
//! shell (login shell from the container's /etc/passwd, else bash, else sh — the rule
//! the agent's interactive-shell rule gives both paths) and runs it on a pseudo-terminal
//! made like the caller's terminal, in a session of its own with job control; it starts in a few
//! milliseconds. Otherwise (a stopped container, one made before the agent, a foreign image) the
//! API path: horizon-core's `exec_plan` picks the same shell and `run`'s terminal handling
//! (raw mode, window size, signals) and exit statuses apply.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_cli_support::exit::{self, Failure};
use horizon_core::exec_plan::Invocation;
use horizon_core::usecase::AgentRun;

use super::run::{definition_name, execute};
use super::{BINARY, Session};
use crate::cli::GlobalArgs;

/// `shell` on the API path: the login shell, attached to this terminal.
pub async fn run(session: &Session, name: Option<OsString>) -> Result<ExitCode, Failure> {
    let name = definition_name(name)?;
    execute(session, &name, Invocation::LoginShell).await
}

/// `shell` through the container's agent; `None` when there is no agent to ask (nothing ran:
/// the API path takes over). Synchronous, and called before the async runtime starts.
pub fn through_agent(global: &GlobalArgs, name: Option<&OsString>) -> Option<ExitCode> {
    let name = definition_name(name.cloned()).ok()?;
    let horizon = horizon_core::Horizon::new(super::settings(global));
    match horizon.shell_through_agent(&name) {
        AgentRun::NoAgent => None,
        AgentRun::Ended(outcome) => Some(ExitCode::from(outcome.shell_status())),
        AgentRun::Failed(error) => {
            Some(Failure::new(exit::EXEC_FAILURE, anyhow!(error)).report(BINARY))
        }
        _ => None,
    }
}
