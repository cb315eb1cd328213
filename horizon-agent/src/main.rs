//! `horizon-agent`, horizon's in-container agent: `serve` is the main process (PID 1) of a managed
//! container ([`server`], which starts each request's program with [`launch`]);
//! `keep-session -- PROGRAM [ARGS...]` is what the agent runs a program on a terminal under
//! ([`session`]); `exec [-e NAME=VALUE]... [-w DIR] [-t|-T] NAME PROGRAM [ARGS...]` is the bare
//! host-side client (options only before NAME; from NAME on argv is positional and verbatim, as
//! `horizon-exec`'s): it runs PROGRAM through the agent of NAME's container with those exec
//! options, without the API fallback, and exits as the program did (125 when the agent path
//! fails, an agent too old for an option included).
//!
//! What the agent shares with its clients (the wire messages, the socket layout, the environment
//! allowlist) is the `horizon-agent-protocol` crate; the client is `horizon-agent-client`.

mod launch;
mod pty;
mod server;
mod session;
mod sys;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;

use horizon_agent_client::{EXEC_FAILURE, ExecOptions, Invocation, Outcome, TerminalChoice};
use horizon_agent_protocol::layout::{self, SOCKET_DIR_IN_CONTAINER, SOCKET_NAME};

use crate::launch::AgentConfig;

/// Overrides where `serve` listens (tests that run the agent outside a container).
const SOCKET_ENV: &str = "HORIZON_AGENT_SOCKET";
/// Exit status of a bad command line of the agent itself.
const USAGE_FAILURE: u8 = 2;
/// How `exec` is called.
const EXEC_USAGE: &str =
    "usage: horizon-agent exec [-e NAME=VALUE]... [-w DIR] [-t|-T] NAME PROGRAM [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|arg| arg.to_str()) {
        Some(layout::SERVE) => serve(&args[2..]),
        Some("exec") => exec(&args[2..]),
        Some(session::KEEP_SESSION) => {
            let argv = args[2..]
                .strip_prefix(&[OsString::from("--")][..])
                .unwrap_or(&args[2..]);
            session::keep_session(argv)
        }
        Some("--version") => {
            let mut stdout = std::io::stdout();
            // Nothing to do if stdout is closed.
            let _ = writeln!(stdout, "horizon-agent {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => fail(
            USAGE_FAILURE,
            "usage: horizon-agent serve [--mount SOURCE TARGET]... [--definition-env NAME]...\n\
             \x20      horizon-agent exec [-e NAME=VALUE]... [-w DIR] [-t|-T] NAME PROGRAM [ARGS...]",
        ),
    }
}

fn fail(status: u8, message: &str) -> ExitCode {
    let mut stderr = std::io::stderr();
    // If stderr is gone there is nobody left to tell.
    let _ = writeln!(stderr, "horizon-agent: {message}");
    ExitCode::from(status)
}

fn serve(args: &[OsString]) -> ExitCode {
    let options = match layout::parse_serve_options(args) {
        Ok(options) => options,
        Err(message) => return fail(USAGE_FAILURE, &message),
    };
    // The socket's directory is the instance directory's mount point; a test outside a container
    // may point the agent elsewhere.
    let socket = std::env::var_os(SOCKET_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SOCKET_DIR_IN_CONTAINER).join(SOCKET_NAME));
    let listener = match server::bind(&socket, options.private) {
        Ok(listener) => listener,
        Err(error) => {
            return fail(
                1,
                &format!("cannot listen on {}: {error}", socket.display()),
            );
        }
    };
    let config = AgentConfig {
        options,
        environment: std::env::vars_os().collect(),
        uid: rustix::process::geteuid().as_raw(),
    };
    match server::serve(listener, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(1, &format!("serving failed: {error}")),
    }
}

/// `exec`'s options, before the definition's name; the rest of `args` (from the name on).
fn exec_options(args: &[OsString]) -> Result<(ExecOptions, &[OsString]), String> {
    let mut options = ExecOptions::default();
    let mut at = 0;
    while let Some(arg) = args.get(at) {
        let value = || {
            args.get(at + 1)
                .ok_or_else(|| format!("{} needs a value", arg.to_string_lossy()))
        };
        match arg.as_bytes() {
            b"--" => return Ok((options, &args[at + 1..])),
            b"-t" => options.terminal = TerminalChoice::Always,
            b"-T" => options.terminal = TerminalChoice::Never,
            b"-w" => {
                options.working_dir = Some(PathBuf::from(value()?));
                at += 1;
            }
            b"-e" => {
                let entry = value()?.as_bytes();
                let eq = entry
                    .iter()
                    .position(|&byte| byte == b'=')
                    .ok_or_else(|| "-e takes NAME=VALUE".to_owned())?;
                options.explicit_environment.push((
                    OsStr::from_bytes(&entry[..eq]).to_owned(),
                    OsStr::from_bytes(&entry[eq + 1..]).to_owned(),
                ));
                at += 1;
            }
            [b'-', ..] => return Err(format!("unknown option {}", arg.to_string_lossy())),
            _ => return Ok((options, &args[at..])),
        }
        at += 1;
    }
    Ok((options, &args[at..]))
}

fn exec(args: &[OsString]) -> ExitCode {
    let (options, args) = match exec_options(args) {
        Ok(parsed) => parsed,
        Err(message) => return fail(EXEC_FAILURE, &format!("{message}\n{EXEC_USAGE}")),
    };
    let (Some(name), Some(_)) = (args.first().and_then(|name| name.to_str()), args.get(1)) else {
        return fail(EXEC_FAILURE, EXEC_USAGE);
    };
    let dirs = horizon_agent_client::runtime_dirs_of_this_process();
    let stream = match horizon_agent_client::connect_first(&dirs, name) {
        Ok(stream) => stream,
        Err(error) => return fail(EXEC_FAILURE, &error.to_string()),
    };
    let working_dirs: Vec<PathBuf> = std::env::current_dir().into_iter().collect();
    let environment: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let invocation = Invocation {
        definition: name,
        argv: &args[1..],
        working_dirs: &working_dirs,
        environment: &environment,
        explicit_environment: &options.explicit_environment,
        exact_working_dir: options.working_dir.as_deref(),
        terminal: options.terminal,
    };
    match horizon_agent_client::run(&stream, &invocation, &mut |_| {}) {
        Ok(Outcome::Exited(code)) => ExitCode::from(code),
        Ok(Outcome::Signaled(signal)) => horizon_agent_client::die_by_signal(signal),
        Err(error) => fail(error.exit_status(), &error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(ExecOptions, Vec<OsString>), String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        exec_options(&args).map(|(options, rest)| (options, rest.to_vec()))
    }

    #[test]
    fn exec_options_come_before_the_name_and_stop_there() {
        let (options, rest) = parse(&[
            "-e", "A=b=c", "-e", "EMPTY=", "-w", "/tmp", "-T", "-t", "dev", "sh", "-e", "x",
        ])
        .unwrap();
        assert_eq!(
            options,
            ExecOptions {
                explicit_environment: vec![("A".into(), "b=c".into()), ("EMPTY".into(), "".into())],
                working_dir: Some("/tmp".into()),
                terminal: TerminalChoice::Always,
            }
        );
        assert_eq!(rest, ["dev", "sh", "-e", "x"].map(OsString::from));
        let (options, rest) = parse(&["--", "-dev", "true"]).unwrap();
        assert_eq!(options, ExecOptions::default());
        assert_eq!(rest, ["-dev", "true"].map(OsString::from));
        assert_eq!(
            parse(&["-e", "NOVALUE", "dev"]).unwrap_err(),
            "-e takes NAME=VALUE"
        );
        assert_eq!(parse(&["-w"]).unwrap_err(), "-w needs a value");
        assert_eq!(parse(&["-x", "dev"]).unwrap_err(), "unknown option -x");
    }
}
