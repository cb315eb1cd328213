//! `run` and `shell`: a command (or the login shell) in a container. Core chooses the path: the
//! container's agent when it has one and the caller allows it ([`Horizon::shell_through_agent`],
//! synchronous, called before any async runtime exists because the agent's client owns the
//! process's signals), else the libpod exec API ([`Horizon::prepare_exec`], then
//! [`Horizon::attach_exec`] with the caller's streams). A stopped container is started first;
//! an interrupted transaction nobody holds is finished first.

use std::ffi::OsString;
use std::path::PathBuf;

use horizon_agent_client::{ClientError, Outcome};

use super::{Call, Error, Horizon};
use crate::engine::{Engine, ExecStreams};
use crate::exec_plan::{self, Caller, ExecPlan, ExecPlanError, Invocation};

pub use horizon_agent_client::render_working_dir_note;

/// What running through the agent did.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentRun {
    /// There is no agent to ask (or the caller chose the API): nothing ran, take the API path.
    NoAgent,
    /// The program ran and ended so.
    Ended(ExecOutcome),
    /// It could not run (nothing ran, or the connection broke).
    Failed(ClientError),
}

/// How a program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    /// With this exit status.
    Exited(u8),
    /// Killed by this signal.
    Signaled(i32),
}

impl ExecOutcome {
    /// The status a shell reports for it (128 + N for a signal, as Podman reports it too).
    pub fn shell_status(self) -> u8 {
        match self {
            ExecOutcome::Exited(code) => code,
            ExecOutcome::Signaled(signal) => u8::try_from(128 + signal).unwrap_or(u8::MAX),
        }
    }
}

/// A plan on the API path, ready to attach.
pub type ExecPlanned = ExecPlan;

/// What the definitions say of a name that is not installed (which hint fits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefinitionLookup {
    /// A valid definition of that name exists.
    Valid,
    /// Its file exists but was refused.
    Invalid(PathBuf),
    /// No definition has that name.
    Missing,
}

impl<E: Engine> Horizon<E> {
    /// The caller's login shell in `name`'s container through its agent, on this process's
    /// terminal. Synchronous: call it before any other thread exists.
    pub fn shell_through_agent(&self, name: &str) -> AgentRun {
        if self.settings.api_exec_only {
            return AgentRun::NoAgent;
        }
        let stream = match horizon_agent_client::connect(&self.settings.paths.runtime_dir, name) {
            Ok(stream) => stream,
            Err(ClientError::NoAgent { reason }) => {
                tracing::debug!(%reason, "no agent: the shell takes the API path");
                return AgentRun::NoAgent;
            }
            Err(error) => return AgentRun::Failed(error),
        };
        match horizon_agent_client::run_as_this_process(&stream, name, &[]) {
            Ok(Outcome::Exited(code)) => AgentRun::Ended(ExecOutcome::Exited(code)),
            Ok(Outcome::Signaled(signal)) => AgentRun::Ended(ExecOutcome::Signaled(signal)),
            Err(ClientError::NoAgent { reason }) => {
                tracing::debug!(%reason, "the shell takes the API path");
                AgentRun::NoAgent
            }
            Err(error) => AgentRun::Failed(error),
        }
    }

    /// Plans `invocation` in `name`'s container on the API path (starting it when stopped).
    pub async fn prepare_exec(
        &self,
        call: Call<'_>,
        name: &str,
        invocation: &Invocation,
        caller: &Caller,
    ) -> Result<ExecPlanned, Error> {
        self.recover_before_reading(call, name).await?;
        let engine = self.engine(call).await?;
        exec_plan::prepare(engine, name, invocation, caller)
            .await
            .map_err(|error| match error {
                ExecPlanError::NotInstalled { definition } => Error::NotInstalledToRun {
                    lookup: self.lookup(&definition),
                    name: definition,
                },
                other => other.into(),
            })
    }

    /// Runs `plan` attached to `streams`; returns the command's exit status.
    pub async fn attach_exec(
        &self,
        call: Call<'_>,
        plan: &ExecPlanned,
        streams: ExecStreams<'_>,
    ) -> Result<i64, Error> {
        let engine = self.engine(call).await?;
        Ok(engine
            .exec_attached(&plan.container, &plan.request, streams)
            .await?)
    }

    /// What the definitions say of `name`: valid, refused (its file), or missing.
    pub(super) fn lookup(&self, name: &str) -> DefinitionLookup {
        if self.catalog().get(name).is_some() {
            return DefinitionLookup::Valid;
        }
        match self.invalid_file(name) {
            Some(path) => DefinitionLookup::Invalid(path),
            None => DefinitionLookup::Missing,
        }
    }
}

/// This process's side of an exec: its directory (logical `$PWD` first), its environment, and
/// whether a terminal is wanted.
pub fn this_process_caller(tty: bool) -> Caller {
    Caller {
        working_dirs: horizon_agent_client::caller_working_dirs(std::env::var_os("PWD").as_deref()),
        environment: std::env::vars_os().collect::<Vec<(OsString, OsString)>>(),
        tty,
    }
}
