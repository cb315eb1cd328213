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

use std::process::ExitCode;

use horizon_cli_support::exec;
use horizon_cli_support::exit::Failure;
use horizon_core::{Horizon, Invocation};

use super::run::definition_name;
use super::{BINARY, Session};
use crate::cli::{GlobalArgs, ShellArgs};

/// `shell` on the API path: the login shell, attached to this terminal.
pub async fn run(session: &Session, args: ShellArgs) -> Result<ExitCode, Failure> {
    let name = definition_name(args.name)?;
    let options = args.exec.options()?;
    exec::execute(session, &name, Invocation::LoginShell, options).await
}

/// `shell` through the container's agent; `None` when there is no agent to ask (nothing ran:
/// the API path takes over). Synchronous, and called before the async runtime starts.
pub fn through_agent(global: &GlobalArgs, args: &ShellArgs) -> Option<ExitCode> {
    let (name, options) = (
        definition_name(args.name.clone()).ok()?,
        args.exec.options().ok()?,
    );
    let horizon = Horizon::new(super::settings(global));
    exec::through_agent(&horizon, BINARY, &name, &Invocation::LoginShell, &options)
}
