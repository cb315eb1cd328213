//! A development container that is not installed is offered for install, as toolbx offers to
//! create its default container: asked on the caller's terminal, installed without asking with
//! `--yes`, and, without a terminal to ask on, refused with the command that installs it (a
//! script must never block on a question nobody sees).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;
use horizon_cli_support::exit::{self, Failure};
use horizon_cli_support::session::{Session, cancel_on_signals};
use horizon_core::devconfig::DevContainer;
use horizon_core::usecase::InstallOptions;

/// True when `failure` says the container to run in is not installed.
pub fn is_not_installed(failure: &Failure) -> bool {
    matches!(
        failure.error.downcast_ref::<horizon_core::Error>(),
        Some(horizon_core::Error::NotInstalledToRun { .. })
    )
}

/// Installs `container` when the caller agrees (`yes`, or a "y" on the terminal), with the
/// install's progress on stderr; else returns `not_installed`, the failure that brought us here,
/// with the ways out.
pub async fn install(
    session: &Session,
    container: &DevContainer,
    yes: bool,
    not_installed: Failure,
) -> Result<(), Failure> {
    let name = &container.name;
    let asked = !yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let agreed = yes || (asked && ask(name).unwrap_or(false));
    if !agreed {
        let reason = if asked {
            "not installed, and not installing it"
        } else {
            "not installed (no terminal to ask on)"
        };
        return Err(Failure {
            error: anyhow!("the development container {name} is {reason}"),
            ..not_installed
        }
        .with_hint(format!(
            "or let horizon-dev install it first: `horizon-dev --container {name} --yes …`"
        )));
    }
    if let Err(error) = writeln!(
        std::io::stderr().lock(),
        "{}: installing the development container {name}",
        super::BINARY
    ) {
        tracing::debug!(%error, "cannot write to stderr");
    }
    let cancel = cancel_on_signals()?;
    let report = session
        .horizon
        .install(session.call_with(&cancel), name, InstallOptions::default())
        .await
        .map_err(|error| {
            let mut failure = Failure::from(error);
            failure.status = exit::EXEC_FAILURE;
            failure
        })?;
    tracing::debug!(?report, "installed the development container");
    Ok(())
}

/// Asks on stderr, reads the answer from stdin; `Ok(true)` for yes.
fn ask(name: &str) -> std::io::Result<bool> {
    let mut stderr = std::io::stderr().lock();
    write!(
        stderr,
        "{}: the development container {name} is not installed. Install it now? [y/N] ",
        super::BINARY
    )?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
}
