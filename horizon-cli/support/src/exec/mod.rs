//! Running a command in a container for `horizon-container run` and `shell` and for
//! `horizon-dev`: the exec options users of `podman exec` and `toolbox run` expect ([`ExecArgs`]:
//! `-e`, `-w`, `-t`, `-T`, `--user`), the agent path tried first ([`through_agent`], before any
//! other thread exists), and the API path attached to this process otherwise ([`execute`]).
//!
//! Exit status: the command's own (128 + N when signal N ended it, as a shell and `podman exec`
//! report it); 125 for every failure of horizon or Podman, so the two never mix.

mod attach;
pub mod terminal;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::Args;
use horizon_core::exec_plan::PlanNote;
use horizon_core::usecase::ClientError;
use horizon_core::usecase::{render_working_dir_note, this_process_caller};
use horizon_core::{AgentRun, ExecOptions, Horizon, Invocation, TerminalChoice};

use crate::exit::{self, Failure};
use crate::session::Session;

/// The exec options of `run`, `shell` and `horizon-dev`, as `podman exec` names them.
#[derive(Debug, Default, Args)]
pub struct ExecArgs {
    /// Set an environment variable for the command (repeatable). NAME alone passes this
    /// process's value of NAME, when it has one. Wins over the container's own value.
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<OsString>,
    /// Run in DIR, a directory in the container, instead of the caller's directory.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Give the command a terminal even when this process is not on one (stdout and stderr then
    /// arrive merged, as from a terminal).
    #[arg(short = 't', long = "tty", conflicts_with = "no_tty")]
    pub tty: bool,
    /// Never give the command a terminal, even when this process is on one.
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Run as USER (a name, uid or uid:gid of the container) instead of the container's user.
    /// Takes the libpod API path: the agent runs every command as its caller.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

impl ExecArgs {
    /// The options these arguments set; a malformed `-e` is a failure (125).
    pub fn options(&self) -> Result<ExecOptions, Failure> {
        let environment = self
            .env
            .iter()
            .filter_map(|entry| explicit_variable(entry, |name| std::env::var_os(name)).transpose())
            .collect::<Result<Vec<_>, Failure>>()?;
        let terminal = if self.tty {
            TerminalChoice::Always
        } else if self.no_tty {
            TerminalChoice::Never
        } else {
            TerminalChoice::Auto
        };
        Ok(ExecOptions {
            environment,
            working_dir: self.workdir.clone(),
            terminal,
            user: self.user.clone(),
        })
    }
}

/// One `-e` entry: `NAME=VALUE`, or `NAME` taking `lookup(NAME)` (`None` when it has no value,
/// as `podman exec -e NAME` skips an unset one).
fn explicit_variable(
    entry: &OsString,
    lookup: impl Fn(&OsString) -> Option<OsString>,
) -> Result<Option<(OsString, OsString)>, Failure> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = entry.as_bytes();
    let (name, value) = match bytes.iter().position(|&byte| byte == b'=') {
        Some(eq) => (
            OsString::from(std::ffi::OsStr::from_bytes(&bytes[..eq])),
            Some(OsString::from(std::ffi::OsStr::from_bytes(
                &bytes[eq + 1..],
            ))),
        ),
        None => (entry.clone(), None),
    };
    if name.is_empty() {
        return Err(Failure::new(
            exit::EXEC_FAILURE,
            anyhow!(
                "-e {}: no variable name before '='",
                entry.to_string_lossy()
            ),
        )
        .with_hint("-e NAME=VALUE"));
    }
    Ok(match value {
        Some(value) => Some((name, value)),
        None => lookup(&name).map(|value| (name, value)),
    })
}

/// Runs `invocation` in `name`'s container through its agent; `None` when the API path should
/// take over (nothing ran). Synchronous: call it before the async runtime (any other thread)
/// exists.
pub fn through_agent(
    horizon: &Horizon,
    binary: &'static str,
    name: &str,
    invocation: &Invocation,
    options: &ExecOptions,
) -> Option<ExitCode> {
    match horizon.exec_through_agent(name, invocation, options) {
        AgentRun::Ended(outcome) => Some(ExitCode::from(outcome.shell_status())),
        // A missing or unexecutable program is the command's failure, told as a shell tells it
        // (`git: command not found`), not horizon's.
        AgentRun::Failed(ClientError::Refused { kind, message })
            if kind.shell_status().is_some() =>
        {
            let escaped = horizon_core::printable::escape_lines(&message);
            if let Err(error) = writeln!(std::io::stderr().lock(), "{escaped}") {
                tracing::debug!(%error, "cannot write to stderr");
            }
            kind.shell_status().map(ExitCode::from)
        }
        AgentRun::Failed(error) => {
            Some(Failure::new(error.exit_status(), anyhow!(error)).report(binary))
        }
        _ => None,
    }
}

/// Runs `invocation` in definition `name`'s container on the API path, attached to this
/// process's streams, and returns the command's exit status. Every failure has status 125.
pub async fn execute(
    session: &Session,
    name: &str,
    invocation: Invocation,
    options: ExecOptions,
) -> Result<ExitCode, Failure> {
    let caller = this_process_caller(terminal::wants_tty(), options);
    let plan = session
        .horizon
        .prepare_exec(session.call(), name, &invocation, &caller)
        .await
        .map_err(|error| as_exec_failure(error.into()))?;
    let mut stderr = std::io::stderr().lock();
    // A note that cannot be shown must not stop the command.
    if let Err(error) = render_notes(&plan.notes, &plan.container, &mut stderr) {
        tracing::debug!(%error, "cannot write notes to stderr");
    }
    drop(stderr);
    let status = attach::attach(session, &plan).await?;
    exit_status(status)
}

/// Any failure of an exec exits 125, whatever status it would have elsewhere.
pub fn as_exec_failure(mut failure: Failure) -> Failure {
    failure.status = exit::EXEC_FAILURE;
    failure
}

/// The notes shown on stderr before the command runs.
pub fn render_notes(
    notes: &[PlanNote],
    container: &str,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for note in notes {
        match note {
            PlanNote::WorkingDirNotShared {
                caller_dir,
                running_in,
            } => {
                render_working_dir_note(
                    out,
                    caller_dir.as_deref(),
                    container,
                    running_in.as_deref(),
                )?;
            }
            other => writeln!(out, "horizon-container: note: {other:?}")?,
        }
    }
    Ok(())
}

/// The process's exit status as this process's own (125 if Podman reports something no process
/// can exit with).
fn exit_status(status: i64) -> Result<ExitCode, Failure> {
    u8::try_from(status).map(ExitCode::from).map_err(|_| {
        Failure::new(
            exit::EXEC_FAILURE,
            anyhow!("Podman reported exit status {status}, which no process can have"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_name_both_directories() {
        let notes = vec![
            PlanNote::WorkingDirNotShared {
                caller_dir: Some("/etc/ssh".into()),
                running_in: Some("/home/me".into()),
            },
            PlanNote::WorkingDirNotShared {
                caller_dir: None,
                running_in: None,
            },
        ];
        let mut out = Vec::new();
        render_notes(&notes, "horizonos-dev", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "horizon-container: note: /etc/ssh is not shared with horizonos-dev; running in \
             /home/me (the home directory there)\n\
             horizon-container: note: the current directory no longer exists; running in the \
             container's default directory\n"
        );
    }

    #[test]
    fn exit_statuses_pass_through() {
        for status in [0, 1, 7, 126, 127, 141, 255] {
            assert_eq!(
                exit_status(status).unwrap(),
                ExitCode::from(u8::try_from(status).unwrap())
            );
        }
        for status in [-1, 256] {
            let failure = exit_status(status).unwrap_err();
            assert_eq!(failure.status, exit::EXEC_FAILURE);
        }
    }

    #[test]
    fn explicit_variables_take_a_value_or_this_process_value() {
        let lookup = |name: &OsString| (name == "SET").then(|| OsString::from("from here"));
        let parse = |entry: &str| explicit_variable(&OsString::from(entry), lookup);
        assert_eq!(
            parse("A=b=c").unwrap(),
            Some((OsString::from("A"), OsString::from("b=c")))
        );
        assert_eq!(
            parse("EMPTY=").unwrap(),
            Some((OsString::from("EMPTY"), OsString::new()))
        );
        assert_eq!(
            parse("SET").unwrap(),
            Some((OsString::from("SET"), OsString::from("from here")))
        );
        assert_eq!(parse("UNSET").unwrap(), None);
        let failure = parse("=value").unwrap_err();
        assert_eq!(failure.status, exit::EXEC_FAILURE);
        assert_eq!(
            failure.error.to_string(),
            "-e =value: no variable name before '='"
        );
    }
}
