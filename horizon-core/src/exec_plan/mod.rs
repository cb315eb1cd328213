//! The exec path shared by `run`, `shell` and exported binaries: from "run this in container X,
//! from here" to the one [`ExecRequest`] Podman gets, plus the notes the caller should see.
//!
//! The decisions are pure functions, so every rule is tested without Podman: the argv is carried
//! exactly ([`argv`]), only an allowlist of the caller's environment goes in ([`environment`]), the
//! caller's directory is used when the container shares it ([`workdir`]), and the home and login
//! shell come from the container's own user database ([`probe`]). [`prepare`] adds the Podman
//! side: it starts the container if it is stopped, probes the user when a decision needs it (one
//! short exec, skipped in the common case of a command run from a shared directory), and returns
//! an [`ExecPlan`]. Running the plan with the caller's streams, terminal and signals is the
//! binary's part (`Engine::exec_attached`).

pub mod argv;
pub mod environment;
pub mod probe;
pub mod workdir;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

pub use argv::{ArgvError, CarriedArgv, carry_argv};
pub use environment::forwarded_environment;
pub use probe::{UserFacts, parse_user_facts};
pub use workdir::shared_working_dir;

use crate::engine::{ContainerDetails, Engine, EngineError, ExecRequest};
use crate::lifecycle::{self, LifecycleError};

/// The flag that makes a shell a login shell (bash, dash, busybox sh, zsh and fish all take it;
/// the exec API cannot set the `-bash` style argv\[0\] instead).
pub const LOGIN_FLAG: &str = "-l";

/// `$0` of the user probe, named in `sh`'s own error messages.
const PROBE_NAME: &str = "horizon-probe";

/// Exit statuses with which the runtime reports that a program is missing (127) or not
/// executable (126): from the probe, they mean the container has no usable `/bin/sh`.
const NO_PROGRAM_STATUSES: [i64; 2] = [126, 127];

/// What to run in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// A program and its arguments, exactly as the caller gave them.
    Command(Vec<OsString>),
    /// The container user's login shell (`shell`).
    LoginShell,
}

/// Whether the command gets a terminal (`-t`, `-T`, or neither): one choice for both exec paths.
pub use horizon_agent_client::TerminalChoice;

/// What the caller sets explicitly, as with `podman exec`'s options: variables, a directory, the
/// terminal, the user. The defaults are the transparent behaviour (the caller's directory, the
/// allowlisted environment, a terminal when the caller is on one, the container's user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// `-e NAME=VALUE`: set for the command, over the container's own values and the
    /// forwarded ones (the command runs as the caller, so any name is allowed).
    pub environment: Vec<(OsString, OsString)>,
    /// `-w DIR`: the command's directory, a path in the container used as it is (no
    /// translation from the host, no fallback): a missing directory is an error.
    pub working_dir: Option<PathBuf>,
    /// `-t` / `-T`.
    pub terminal: TerminalChoice,
    /// `--user USER`: a user (name, uid or uid:gid) of the container to run as. Only the API
    /// path can switch users (the agent runs every command as its caller).
    pub user: Option<String>,
}

impl ExecOptions {
    /// True when nothing is set explicitly.
    pub fn is_default(&self) -> bool {
        *self == ExecOptions::default()
    }
}

/// The caller's side of the request, read by the binary from its own process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The caller's working directory, most preferred first: the logical `$PWD` (when it names
    /// the current directory), then the physical one. Empty when it is unknown (deleted).
    pub working_dirs: Vec<PathBuf>,
    /// The caller's environment; only [`environment::FORWARDED_VARIABLES`] and
    /// [`environment::FORWARDED_PREFIXES`] are passed on.
    pub environment: Vec<(OsString, OsString)>,
    /// Allocate a terminal ([`TerminalChoice::resolve`]).
    pub tty: bool,
    /// What the caller set explicitly.
    pub options: ExecOptions,
}

/// What the caller should be told before the command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanNote {
    /// The caller's directory is not shared with the container, so the command runs elsewhere.
    WorkingDirNotShared {
        /// The caller's directory (`None` when it is unknown).
        caller_dir: Option<PathBuf>,
        /// Where the command runs instead: the user's home, or `None` for the container's
        /// default directory (when the home could not be read).
        running_in: Option<String>,
    },
}

/// Everything needed to run an [`Invocation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlan {
    /// The container to exec in.
    pub container: String,
    /// The request for [`Engine::exec_attached`].
    pub request: ExecRequest,
    /// Notes for the caller (stderr).
    pub notes: Vec<PlanNote>,
}

/// Why an invocation cannot be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecPlanError {
    /// No managed container of this definition exists.
    #[error("{definition} is not installed")]
    NotInstalled {
        /// The definition's name.
        definition: String,
    },
    /// The command line cannot be passed on.
    #[error(transparent)]
    Argv {
        /// What is wrong with it.
        #[from]
        source: ArgvError,
    },
    /// Non-UTF-8 arguments need `/bin/sh` in the container, and it has none.
    #[error(
        "{container} has no usable {shell}, which is needed to pass non-UTF-8 arguments",
        shell = argv::CONTAINER_SHELL
    )]
    NoDecoderShell {
        /// The container.
        container: String,
    },
    /// An explicit variable cannot be passed to Podman.
    #[error("cannot set the variable {name:?}: {reason}")]
    Environment {
        /// The variable's name, as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An explicit working directory cannot be passed to Podman.
    #[error("cannot run in {dir:?}: {reason}")]
    WorkingDir {
        /// The directory, as given.
        dir: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `-w` directory is not a directory in the container.
    #[error("no directory {dir} in the container {container}")]
    NoWorkingDir {
        /// The directory, as given.
        dir: String,
        /// The container.
        container: String,
    },
    /// `shell` found nothing to run.
    #[error("{container} has no shell: no login shell in its /etc/passwd, no bash and no sh")]
    NoShell {
        /// The container.
        container: String,
    },
    /// The user probe failed in an unexpected way.
    #[error(
        "reading the home directory and shell in {container} failed with exit status {exit_code}: {stderr}"
    )]
    ProbeFailed {
        /// The container.
        container: String,
        /// The probe's exit status.
        exit_code: i64,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Starting (or recreating) the container failed.
    #[error(transparent)]
    Lifecycle {
        /// The lifecycle's error.
        source: LifecycleError,
    },
    /// Podman failed.
    #[error(transparent)]
    Engine {
        /// The engine's error.
        #[from]
        source: EngineError,
    },
}

/// True when [`plan`] needs [`UserFacts`] for this invocation: for the login shell, when the
/// caller's directory is not shared (the home is used instead), and when the argv needs the
/// decoder (to tell a missing `/bin/sh` from the command's own status 127).
pub fn needs_user_facts(
    invocation: &Invocation,
    caller: &Caller,
    container: &ContainerDetails,
) -> bool {
    let decoder = match invocation {
        Invocation::LoginShell => return true,
        Invocation::Command(argv) => carry_argv(argv).is_ok_and(|carried| carried.needs_shell()),
    };
    let directory_fixed = caller.options.working_dir.is_some();
    decoder
        || (!directory_fixed
            && shared_working_dir(&caller.working_dirs, &container.mounts).is_none())
}

/// Builds the exec request. `user` is what the probe found, or `None` when it was not needed or
/// the container has no `/bin/sh` (see [`needs_user_facts`]).
pub fn plan(
    invocation: &Invocation,
    caller: &Caller,
    container: &ContainerDetails,
    user: Option<&UserFacts>,
) -> Result<ExecPlan, ExecPlanError> {
    let argv = match invocation {
        Invocation::Command(argv) => {
            let carried = carry_argv(argv)?;
            if carried.needs_shell() && user.is_none() {
                return Err(ExecPlanError::NoDecoderShell {
                    container: container.name.clone(),
                });
            }
            carried.into_exec_argv()
        }
        Invocation::LoginShell => {
            let shell = user
                .and_then(UserFacts::shell)
                .ok_or_else(|| ExecPlanError::NoShell {
                    container: container.name.clone(),
                })?;
            vec![shell.to_owned(), LOGIN_FLAG.to_owned()]
        }
    };

    let mut notes = Vec::new();
    let explicit_dir = caller
        .options
        .working_dir
        .as_deref()
        .map(explicit_working_dir)
        .transpose()?;
    let working_dir = match explicit_dir
        .or_else(|| shared_working_dir(&caller.working_dirs, &container.mounts))
    {
        Some(dir) => Some(dir),
        None => {
            let home = user.map(|user| user.home_dir().to_owned());
            notes.push(PlanNote::WorkingDirNotShared {
                caller_dir: caller.working_dirs.first().cloned(),
                running_in: home.clone(),
            });
            home
        }
    };

    // What the container was created with (its definition's environment as installed, the
    // desktop variables matching the sockets it mounts) wins over the caller's: those variables
    // are left out, so the command gets the container's own values — never those of a definition
    // file changed since, which an update or a rollback has not applied.
    let configured = configured_variables(container)?;
    let mut env: BTreeMap<String, String> = forwarded_environment(&caller.environment);
    env.retain(|name, _| !configured.contains(name));
    // Set explicitly, they win over both, as `podman exec -e` does.
    for (name, value) in &caller.options.environment {
        let (name, value) = explicit_variable(name, value)?;
        env.insert(name, value);
    }

    Ok(ExecPlan {
        container: container.name.clone(),
        request: ExecRequest {
            tty: caller.tty,
            argv,
            env,
            working_dir,
            user: caller.options.user.clone(),
        },
        notes,
    })
}

/// A `-w` directory as Podman takes it: absolute, UTF-8 (the API carries JSON strings).
fn explicit_working_dir(dir: &std::path::Path) -> Result<String, ExecPlanError> {
    let invalid = |reason| ExecPlanError::WorkingDir {
        dir: dir.to_string_lossy().into_owned(),
        reason,
    };
    if !dir.is_absolute() {
        return Err(invalid("not an absolute path in the container"));
    }
    dir.to_str()
        .map(str::to_owned)
        .ok_or_else(|| invalid("not valid UTF-8, which the libpod API cannot carry"))
}

/// A `-e` variable as Podman takes it: a name without `=` or NUL, both UTF-8.
fn explicit_variable(
    name: &std::ffi::OsStr,
    value: &std::ffi::OsStr,
) -> Result<(String, String), ExecPlanError> {
    let invalid = |reason| ExecPlanError::Environment {
        name: name.to_string_lossy().into_owned(),
        reason,
    };
    let name_text = name
        .to_str()
        .ok_or_else(|| invalid("its name is not valid UTF-8"))?;
    if name_text.is_empty() || name_text.contains(['=', '\0']) {
        return Err(invalid("a name must be non-empty, without '=' or NUL"));
    }
    let value = value.to_str().ok_or_else(|| {
        invalid("its value is not valid UTF-8, which the libpod API cannot carry")
    })?;
    if value.contains('\0') {
        return Err(invalid("its value contains NUL"));
    }
    Ok((name_text.to_owned(), value.to_owned()))
}

/// The variables `container` was created with, from its recorded create spec.
fn configured_variables(
    container: &ContainerDetails,
) -> Result<std::collections::BTreeSet<String>, ExecPlanError> {
    let spec = lifecycle::recorded_spec(&container.name, &container.name, &container.labels)
        .map_err(|source| ExecPlanError::Lifecycle { source })?;
    Ok(spec.env.into_keys().collect())
}

/// Makes `definition`'s container ready and plans `invocation` in it: starts the container when
/// it is stopped, probes the user when [`needs_user_facts`] says so, then [`plan`]s. A command
/// line that cannot be passed is refused before anything is touched.
pub async fn prepare<E: Engine>(
    engine: &E,
    definition_name: &str,
    invocation: &Invocation,
    caller: &Caller,
) -> Result<ExecPlan, ExecPlanError> {
    if let Invocation::Command(argv) = invocation {
        carry_argv(argv)?;
    }
    let container = lifecycle::ensure_running(engine, definition_name)
        .await
        .map_err(|error| match error {
            LifecycleError::NotInstalled { .. } => ExecPlanError::NotInstalled {
                definition: definition_name.to_owned(),
            },
            source => ExecPlanError::Lifecycle { source },
        })?;
    if let Some(dir) = &caller.options.working_dir {
        check_working_dir(engine, &container.name, &explicit_working_dir(dir)?, caller).await?;
    }
    let user = if needs_user_facts(invocation, caller, &container) {
        probe_user(engine, &container.name, caller.options.user.as_deref()).await?
    } else {
        None
    };
    plan(invocation, caller, &container, user.as_ref())
}

/// Refuses a `-w` directory that is not a directory in `container`, before anything runs (the
/// runtime would report it as the command's status 127, which a missing program also has). A
/// container without `/bin/sh` is not checked: the runtime's own failure is all there is then.
async fn check_working_dir<E: Engine>(
    engine: &E,
    container: &str,
    dir: &str,
    caller: &Caller,
) -> Result<(), ExecPlanError> {
    let request = ExecRequest {
        argv: vec![
            argv::CONTAINER_SHELL.to_owned(),
            "-c".to_owned(),
            "test -d \"$1\" && cd \"$1\"".to_owned(),
            PROBE_NAME.to_owned(),
            dir.to_owned(),
        ],
        user: caller.options.user.clone(),
        ..ExecRequest::default()
    };
    match engine.exec(container, &request).await?.exit_code {
        code if code == 0 || NO_PROGRAM_STATUSES.contains(&code) => Ok(()),
        _ => Err(ExecPlanError::NoWorkingDir {
            dir: dir.to_owned(),
            container: container.to_owned(),
        }),
    }
}

/// Runs [`probe::USER_PROBE`] in `container` as `user` (`None`: its default user); `None` when
/// the container has no usable `/bin/sh`.
pub async fn probe_user<E: Engine>(
    engine: &E,
    container: &str,
    user: Option<&str>,
) -> Result<Option<UserFacts>, ExecPlanError> {
    let request = ExecRequest {
        argv: vec![
            argv::CONTAINER_SHELL.to_owned(),
            "-c".to_owned(),
            probe::USER_PROBE.to_owned(),
            PROBE_NAME.to_owned(),
        ],
        user: user.map(str::to_owned),
        ..ExecRequest::default()
    };
    let output = engine.exec(container, &request).await?;
    match output.exit_code {
        0 => Ok(Some(parse_user_facts(&String::from_utf8_lossy(
            &output.stdout,
        )))),
        code if NO_PROGRAM_STATUSES.contains(&code) => Ok(None),
        exit_code => Err(ExecPlanError::ProbeFailed {
            container: container.to_owned(),
            exit_code,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests;
