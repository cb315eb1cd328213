//! `horizon-container run NAME [--] CMD ARGS...`: a command in a container, transparently:
//! argv, streams, terminal, exit status and signals as if it ran here. Through the container's
//! agent when it has one ([`through_agent`], before the async runtime exists), else the libpod
//! API (`horizon_cli_support::exec`); the exec options (`-e`, `-w`, `-t`, `-T`, `--user`) apply
//! on both. `shell` runs through here too.
//!
//! Exit status: the command's own; 125 for every failure of horizon or Podman (including bad
//! arguments and no service), so the two never mix.

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_cli_support::exec;
use horizon_cli_support::exit::{self, Failure};
use horizon_core::{Horizon, Invocation};

use super::{BINARY, Session};
use crate::cli::{GlobalArgs, RunArgs};

/// `run` through the container's agent; `None` when the API path should take over (nothing
/// ran, or the arguments are bad: [`run`] says why). Synchronous, before the runtime starts.
pub fn through_agent(global: &GlobalArgs, args: &RunArgs) -> Option<ExitCode> {
    let (name, options) = (
        definition_name(args.name()).ok()?,
        args.exec.options().ok()?,
    );
    let command = args.command();
    if command.is_empty() {
        return None;
    }
    let horizon = Horizon::new(super::settings(global));
    let invocation = Invocation::Command(command);
    exec::through_agent(&horizon, BINARY, &name, &invocation, &options)
}

/// `run` on the API path: parse, plan, attach.
pub async fn run(session: &Session, args: RunArgs) -> Result<ExitCode, Failure> {
    let name = definition_name(args.name())?;
    let options = args.exec.options()?;
    let command = args.command();
    if command.is_empty() {
        return Err(
            Failure::new(exit::EXEC_FAILURE, anyhow!("no command given"))
                .with_hint(format!("horizon-container run {name} COMMAND [ARGS...]")),
        );
    }
    let binary = command[0].to_string_lossy().into_owned();
    let outcome = exec::execute(session, &name, Invocation::Command(command), options).await;
    match outcome {
        Err(failure) if args.exported => Err(exported_failure(failure, &name, &binary)),
        other => other,
    }
}

/// For an exported binary, a container that is not installed is "command not found" (127), and
/// the message names the command the user typed.
fn exported_failure(failure: Failure, name: &str, binary: &str) -> Failure {
    let not_installed = matches!(
        failure.error.downcast_ref::<horizon_core::Error>(),
        Some(horizon_core::Error::NotInstalledToRun { .. })
    );
    if !not_installed {
        return failure;
    }
    Failure {
        error: anyhow!("{binary}: it runs in the container {name}, which is not installed"),
        status: exit::NOT_INSTALLED_EXPORT,
        hints: failure.hints,
    }
}

/// The NAME argument of `run` and `shell` (125 when it is missing or not text).
pub fn definition_name(name: Option<OsString>) -> Result<String, Failure> {
    let usage = || "horizon-container run NAME COMMAND [ARGS...] or horizon-container shell NAME";
    let name = name.ok_or_else(|| {
        Failure::new(exit::EXEC_FAILURE, anyhow!("no container name given")).with_hint(usage())
    })?;
    name.into_string().map_err(|name| {
        Failure::new(
            exit::EXEC_FAILURE,
            anyhow!("container name {name:?} is not valid UTF-8"),
        )
        .with_hint("`horizon-container list` shows the container names")
    })
}

#[cfg(test)]
mod tests {
    use horizon_cli_support::exec::as_exec_failure;

    use super::*;

    #[test]
    fn failures_exit_125_with_the_install_hint() {
        use horizon_core::usecase::DefinitionLookup;
        let plan_failure = |lookup: DefinitionLookup| {
            as_exec_failure(Failure::from(horizon_core::Error::NotInstalledToRun {
                name: "dev".into(),
                lookup,
            }))
        };
        let failure = plan_failure(DefinitionLookup::Valid);
        assert_eq!(failure.status, 125);
        assert_eq!(failure.error.to_string(), "dev is not installed");
        assert_eq!(
            failure.hint(),
            Some("install it: `horizon-container install dev`")
        );
        let invalid =
            DefinitionLookup::Invalid("/home/me/.config/horizonos/containers/dev.json".into());
        assert_eq!(
            plan_failure(invalid).hint(),
            Some(
                "its definition /home/me/.config/horizonos/containers/dev.json is invalid: \
                 `horizon-container definition validate \
                 /home/me/.config/horizonos/containers/dev.json` says why; then \
                 `horizon-container install dev`"
            )
        );
        let exported = exported_failure(plan_failure(DefinitionLookup::Valid), "dev", "git");
        assert_eq!(exported.status, 127);
        assert_eq!(
            exported.error.to_string(),
            "git: it runs in the container dev, which is not installed"
        );
        assert_eq!(
            exported.hint(),
            Some("install it: `horizon-container install dev`")
        );
        let failure = as_exec_failure(Failure::new(exit::NO_SERVICE, anyhow!("no Podman")));
        assert_eq!(failure.status, 125);
        assert_eq!(
            definition_name(None).unwrap_err().status,
            exit::EXEC_FAILURE
        );
    }
}
