//! `horizon-exec`: the client every exported wrapper execs (contract C1). Its argv is positional
//! and verbatim — `horizon-exec CONTAINER BINARY ARGS...`, arguments passed on byte for byte,
//! never option-parsed — and it stays small: it links only `horizon-agent-client` (no async
//! runtime, no horizon-core, no definition loading, no API call of its own). It picks the fastest
//! way into the container: first the container's agent (a connect and a fork inside the
//! container, passing this process's own stdin, stdout and stderr; the program's exit status, or
//! its death by a signal, becomes this process's), and when the container has no agent (stopped,
//! made before the agent, a foreign image) the API path, which execs the sibling
//! `horizon-container run --exported CONTAINER -- BINARY ARGS...` (so `run`'s terminal, signal,
//! environment, working-directory and exit-status handling apply, a stopped container is
//! started, and a container that is not installed exits 127 with the command that installs it).
//! An agent socket that is not what horizon made (a symlink, another owner) is refused: exit 125,
//! no fallback. `HORIZON_EXEC_PATH=api` skips the agent (to compare the paths, or to debug).
//!
//! A loop guard: it sets `HORIZON_EXEC_GUARD` for what it starts and refuses to run when it finds
//! it set (a wrapper that would end up running itself, e.g. one exported over `horizon-container`).
//!
//! Exit statuses: the command's own; 125 when horizon cannot start (bad arguments, the sibling
//! missing); 126 for the loop guard; 127 when the container is not installed.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use horizon_agent_client::{ClientError, EXEC_FAILURE, Outcome};

/// The binary that runs the API path, expected in this binary's own directory.
const API_CLIENT: &str = "horizon-container";
/// Set for the processes this client starts; found set, it means a loop.
const GUARD_VAR: &str = "HORIZON_EXEC_GUARD";
/// Chooses the exec path: [`PATH_API`] skips the agent.
const PATH_VAR: &str = "HORIZON_EXEC_PATH";
/// See [`PATH_VAR`].
const PATH_API: &str = "api";
/// The loop guard fired ("cannot execute").
const LOOP_STATUS: u8 = 126;

/// One call: what to run where.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// The definition (container) name.
    container: OsString,
    /// The binary inside it.
    binary: OsString,
    /// Its arguments, exactly as given.
    args: Vec<OsString>,
}

impl Request {
    /// Reads `horizon-exec CONTAINER BINARY ARGS...` (argv\[0\] first).
    fn from_args(mut argv: impl Iterator<Item = OsString>) -> Option<Request> {
        argv.next()?;
        Some(Request {
            container: argv.next()?,
            binary: argv.next()?,
            args: argv.collect(),
        })
    }
}

fn main() -> ExitCode {
    let Some(request) = Request::from_args(std::env::args_os()) else {
        return fail(
            EXEC_FAILURE,
            "usage: horizon-exec CONTAINER BINARY [ARGS...] (it is run by exported wrappers; \
             see `horizon-container export --help`)",
        );
    };
    if std::env::var_os(GUARD_VAR).is_some() {
        return fail(
            LOOP_STATUS,
            &format!(
                "{}: loop detected: horizon-exec started itself again (a wrapper exported over \
                 horizon's own programs?); `horizon-container exports` lists the wrappers",
                request.binary.to_string_lossy()
            ),
        );
    }
    if std::env::var_os(PATH_VAR).is_some_and(|path| path == PATH_API) {
        return api_path(&request);
    }
    match agent_path(&request) {
        Some(status) => status,
        None => api_path(&request),
    }
}

/// Runs the request through the container's agent; `None` when there is no agent to ask (then
/// nothing ran and the API path takes over).
fn agent_path(request: &Request) -> Option<ExitCode> {
    let definition = request.container.to_str()?;
    let dirs = horizon_agent_client::runtime_dirs_of_this_process();
    let stream = match horizon_agent_client::connect_first(&dirs, definition) {
        Ok(stream) => stream,
        Err(ClientError::NoAgent { .. }) => return None,
        Err(error) => return Some(fail(error.exit_status(), &error.to_string())),
    };
    let argv: Vec<OsString> = std::iter::once(request.binary.clone())
        .chain(request.args.iter().cloned())
        .collect();
    Some(
        match horizon_agent_client::run_as_this_process(&stream, definition, &argv) {
            Ok(Outcome::Exited(code)) => ExitCode::from(code),
            Ok(Outcome::Signaled(signal)) => horizon_agent_client::die_by_signal(signal),
            Err(ClientError::NoAgent { .. }) => return None,
            Err(error) => fail(error.exit_status(), &error.to_string()),
        },
    )
}

/// Replaces this process with `horizon-container run --exported …`; returns only on failure.
fn api_path(request: &Request) -> ExitCode {
    let client = match sibling(API_CLIENT) {
        Ok(client) => client,
        Err(error) => return fail(EXEC_FAILURE, &error),
    };
    let error = Command::new(&client)
        .arg("run")
        .arg("--exported")
        .arg(&request.container)
        .arg("--")
        .arg(&request.binary)
        .args(&request.args)
        .env(GUARD_VAR, "1")
        .exec();
    fail(
        EXEC_FAILURE,
        &format!("cannot run {}: {error}", client.display()),
    )
}

/// `name` in this executable's directory.
fn sibling(name: &str) -> Result<PathBuf, String> {
    let exe = std::env::current_exe()
        .map_err(|error| format!("cannot find horizon-exec's own path: {error}"))?;
    let dir = exe
        .parent()
        .ok_or_else(|| format!("{} has no directory", exe.display()))?;
    Ok(dir.join(name))
}

/// Prints `message` and returns `status`.
fn fail(status: u8, message: &str) -> ExitCode {
    // Nobody is left to tell when stderr itself is gone.
    let _ = writeln!(std::io::stderr().lock(), "horizon-exec: {message}");
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    #[test]
    fn arguments_are_positional_and_verbatim() {
        let argv = ["/x/horizon-exec", "dev", "git", "--help", "", "-C", "a b"]
            .map(OsString::from)
            .into_iter()
            .chain([OsString::from_vec(b"\xff\n".to_vec())]);
        assert_eq!(
            Request::from_args(argv),
            Some(Request {
                container: "dev".into(),
                binary: "git".into(),
                args: vec![
                    "--help".into(),
                    "".into(),
                    "-C".into(),
                    "a b".into(),
                    OsString::from_vec(b"\xff\n".to_vec())
                ],
            })
        );
        assert_eq!(
            Request::from_args(["/x/horizon-exec", "dev"].map(OsString::from).into_iter()),
            None
        );
    }
}
