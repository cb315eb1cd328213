//! `horizon-container shell NAME`: the container user's interactive login shell. Which shell, and
//! where it starts, is horizon-core's `exec_plan` (login shell from the container's /etc/passwd,
//! else bash, else sh; the current directory when shared, else the home); the terminal handling
//! (raw mode, window size, signals) and the exit statuses are `run`'s.

use std::ffi::OsString;
use std::process::ExitCode;

use horizon_core::exec_plan::Invocation;

use super::run::{definition_name, execute};
use crate::cli::GlobalArgs;
use crate::exit::Failure;

/// `shell`: the login shell, attached to this terminal.
pub async fn run(global: &GlobalArgs, name: Option<OsString>) -> Result<ExitCode, Failure> {
    let name = definition_name(name)?;
    execute(global, &name, Invocation::LoginShell).await
}
