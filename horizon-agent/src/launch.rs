//! Starting one request's program. The agent checked who the caller is (SO_PEERCRED): the user it
//! runs as, or, when it runs as root (a rootful system container), any user, whose program it then
//! runs AS THAT USER (their uid, primary group and the supplementary groups the container's
//! `/etc/group` gives them) — never as root for someone else. Here it translates the caller's
//! directory through the container's bind mounts (or takes the exact directory the caller named,
//! `-w`), builds the environment (the container's, the caller's allowlisted variables, the
//! definition's winning, then the caller's explicit `-e` variables over all of them), and forks and
//! execs the program in a process group of its own — or, when the caller asked for a terminal, on
//! a pseudo-terminal, under the session keeper ([`crate::session`]).
//!
//! Without a terminal the program runs in a process group of its own in the agent's session
//! (which has no controlling terminal): a Ctrl-Z the client forwards stops it, because its group
//! is not orphaned (its parent, the agent, is in the same session). With a terminal it runs under
//! the keeper: a new session whose controlling terminal is the pty, the program in its own
//! foreground group of it.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use horizon_agent_protocol::layout::{AGENT_FILE_NAME, ServeOptions};
use horizon_agent_protocol::users;
use horizon_agent_protocol::wire::{
    AgentMessage, RefusalKind, Request, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT,
};
use horizon_agent_protocol::workdir::translate_working_dir;

use crate::pty::open_pty;
use crate::session;
use crate::sys::{self, ChildSetup};

/// Where the container's user database is.
const PASSWD: &str = "/etc/passwd";
/// See [`PASSWD`].
const GROUP: &str = "/etc/group";
/// What makes the shell a login shell (as the API path's `exec_plan::LOGIN_FLAG`).
const LOGIN_FLAG: &str = "-l";

/// What the agent needs to know about its container and itself.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The container's bind mounts and the definition's variables (its command line).
    pub options: ServeOptions,
    /// The container's environment, as Podman gave it to PID 1.
    pub environment: Vec<(OsString, OsString)>,
    /// The uid the agent runs as.
    pub uid: u32,
}

/// Why a request's program did not start (the client hears it as `Refused`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Why, for the client's exit status.
    pub kind: RefusalKind,
    /// For a person.
    pub message: String,
}

impl Refusal {
    /// A refusal of `kind` saying `message`.
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }
}

/// A program the agent started.
#[derive(Debug)]
pub struct Started {
    /// Its pid, which is also its process group.
    pub pid: i32,
    /// The `Started` message for the client.
    pub message: AgentMessage,
    /// The master of its pseudo-terminal, for the client (when the request asked for one).
    pub master: Option<OwnedFd>,
}

/// Who runs the program.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    /// `Some` when the agent (root) switches to the caller: uid, gid, groups.
    switch: Option<(u32, u32, Vec<u32>)>,
    /// The home directory, when known.
    home: Option<PathBuf>,
    /// The login shell in the user's passwd entry, when there is one.
    login_shell: Option<PathBuf>,
}

/// The program's pseudo-terminal.
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    /// Which of the program's standard streams are its slave side.
    streams: u8,
}

/// Forks and execs the request of the caller `peer_uid`/`peer_gid`, whose descriptors `fds` came
/// with it, or says why not.
pub fn start(
    peer_uid: u32,
    peer_gid: u32,
    request: &Request,
    fds: Vec<OwnedFd>,
    config: &AgentConfig,
) -> Result<Started, Refusal> {
    let identity = identity(peer_uid, peer_gid, config)
        .map_err(|message| Refusal::new(RefusalKind::Permission, message))?;
    let (working_dir, message) = working_dir(request, &identity, config)?;
    let env = environment(request, &identity, config);
    let argv = program_argv(request, &identity, &env)?;
    let pty = open_terminal(request, &identity)?;
    let mut command = command(&argv, pty.is_some());
    command.env_clear().envs(env);
    attach_streams(&mut command, request, fds, pty.as_ref())?;
    sys::prepare_program_child(
        &mut command,
        child_setup(working_dir, &identity, pty.as_ref())?,
    );
    let pid = spawn(&mut command, &argv[0])?;
    Ok(Started {
        pid,
        message,
        master: pty.map(|pty| pty.master),
    })
}

fn identity(peer_uid: u32, peer_gid: u32, config: &AgentConfig) -> Result<Identity, String> {
    let passwd = std::fs::read_to_string(PASSWD).unwrap_or_default();
    let entry = users::passwd_entry(&passwd, peer_uid);
    let login_shell = entry
        .as_ref()
        .map(|entry| PathBuf::from(&entry.shell))
        .filter(|shell| !shell.as_os_str().is_empty());
    if peer_uid == config.uid {
        // $HOME as Podman set it, else the user's entry (as a shell finds its home).
        let base_home = config
            .environment
            .iter()
            .find(|(name, _)| name == "HOME")
            .map(|(_, value)| PathBuf::from(value))
            .or_else(|| entry.map(|entry| PathBuf::from(entry.home)));
        return Ok(Identity {
            switch: None,
            home: base_home,
            login_shell,
        });
    }
    if config.options.private {
        return Err(format!(
            "this container's agent serves only its owner, uid {} (uid {peer_uid} asked)",
            config.uid
        ));
    }
    if config.uid != 0 {
        return Err(format!(
            "this container's agent runs as uid {} and serves only that user (uid {peer_uid} asked)",
            config.uid
        ));
    }
    let groups = match &entry {
        Some(entry) => {
            let group = std::fs::read_to_string(GROUP).unwrap_or_default();
            users::groups_of(&group, &entry.name, peer_gid)
        }
        None => vec![peer_gid],
    };
    Ok(Identity {
        switch: Some((peer_uid, peer_gid, groups)),
        home: entry.map(|entry| PathBuf::from(entry.home)),
        login_shell,
    })
}

/// Where the program runs and the `Started` message that says so: the exact directory the caller
/// named when it did (refused when it is not a directory in the container: the caller asked for
/// that one, so no other will do), else the caller's directory translated through the container's
/// mounts when it is shared, else the user's home (or `/`).
fn working_dir(
    request: &Request,
    identity: &Identity,
    config: &AgentConfig,
) -> Result<(PathBuf, AgentMessage), Refusal> {
    if let Some(dir) = &request.exact_working_dir {
        let dir = PathBuf::from(OsStr::from_bytes(dir));
        if !dir.is_dir() {
            return Err(Refusal::new(
                RefusalKind::NoWorkingDir,
                format!("no directory {} in the container", dir.display()),
            ));
        }
        let started = AgentMessage::Started {
            working_dir_shared: true,
            running_in: Vec::new(),
        };
        return Ok((dir, started));
    }
    let candidates: Vec<PathBuf> = request
        .working_dirs
        .iter()
        .map(|dir| PathBuf::from(OsStr::from_bytes(dir)))
        .collect();
    let shared =
        translate_working_dir(&candidates, &config.options.mounts).filter(|dir| dir.is_dir());
    if let Some(dir) = shared {
        let started = AgentMessage::Started {
            working_dir_shared: true,
            running_in: Vec::new(),
        };
        return Ok((dir, started));
    }
    let home = identity.home.clone().filter(|home| home.is_dir());
    let running_in = home
        .as_ref()
        .map(|home| home.as_os_str().as_bytes().to_vec())
        .unwrap_or_default();
    let started = AgentMessage::Started {
        working_dir_shared: false,
        running_in,
    };
    Ok((home.unwrap_or_else(|| PathBuf::from("/")), started))
}

/// The program's environment: the container's, `HOME` of the user it runs as, then the
/// caller's variables except those the definition sets (the definition wins, as on the API path),
/// then the caller's explicit variables over everything (as `podman exec -e`).
fn environment(
    request: &Request,
    identity: &Identity,
    config: &AgentConfig,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = config.environment.clone();
    let mut set =
        |name: &OsStr, value: &OsStr| match env.iter_mut().find(|(existing, _)| existing == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => env.push((name.to_owned(), value.to_owned())),
        };
    if identity.switch.is_some() {
        let home = identity.home.clone().unwrap_or_else(|| PathBuf::from("/"));
        set(OsStr::new("HOME"), home.as_os_str());
    }
    for entry in &request.environment {
        // The parser guarantees a '=' in every entry.
        let Some(eq) = entry.iter().position(|&byte| byte == b'=') else {
            continue;
        };
        let (name, value) = (&entry[..eq], &entry[eq + 1..]);
        let fixed = config
            .options
            .definition_env
            .iter()
            .any(|defined| defined.as_bytes() == name);
        if !fixed {
            set(OsStr::from_bytes(name), OsStr::from_bytes(value));
        }
    }
    // Any name, `LD_PRELOAD` and `PATH` included, and over the definition's: the caller chose
    // them for their own program, which runs as the caller (when the agent is root it switches
    // to the caller's uid, groups and home first; see `identity`), so they grant nothing the
    // caller could not do by running `env NAME=VALUE program` in the container themselves. The
    // implicit forwarding keeps its allowlist: that protects a container from the host's
    // variables nobody chose to send.
    for entry in &request.explicit_environment {
        // The parser guarantees a '=' after a non-empty name.
        if let Some(eq) = entry.iter().position(|&byte| byte == b'=') {
            set(
                OsStr::from_bytes(&entry[..eq]),
                OsStr::from_bytes(&entry[eq + 1..]),
            );
        }
    }
    env
}

/// The program and its arguments: the request's, or the caller's login shell.
fn program_argv(
    request: &Request,
    identity: &Identity,
    env: &[(OsString, OsString)],
) -> Result<Vec<OsString>, Refusal> {
    if !request.login_shell {
        return Ok(request
            .argv
            .iter()
            .map(|arg| OsStr::from_bytes(arg).to_owned())
            .collect());
    }
    login_shell_argv(identity, env).ok_or_else(|| {
        Refusal::new(
            RefusalKind::NotFound,
            "the container has no shell: no login shell in its /etc/passwd, no bash and no sh",
        )
    })
}

/// The login shell's command line (`SHELL -l`, as on the API path) for `identity`, with `PATH`
/// from the program's environment `env`; `None` when the container has no shell.
fn login_shell_argv(identity: &Identity, env: &[(OsString, OsString)]) -> Option<Vec<OsString>> {
    let executable = |path: &Path| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
    };
    let search_path = env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    let find = |program: &str| {
        std::env::split_paths(&search_path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_absolute() && executable(candidate))
            .and_then(|found| found.to_str().map(str::to_owned))
    };
    let login = identity
        .login_shell
        .as_deref()
        .filter(|shell| executable(shell))
        .and_then(Path::to_str);
    let (bash, sh) = (find("bash"), find("sh"));
    let shell = users::interactive_shell(login, bash.as_deref(), sh.as_deref())?;
    Some(vec![OsString::from(shell), OsString::from(LOGIN_FLAG)])
}

/// The pseudo-terminal the request asks for, owned by the user the program runs as.
fn open_terminal(request: &Request, identity: &Identity) -> Result<Option<Pty>, Refusal> {
    let Some(settings) = &request.terminal else {
        return Ok(None);
    };
    let (master, slave) = open_pty(settings).map_err(|error| {
        Refusal::new(
            RefusalKind::Failed,
            format!("cannot make a terminal for the program: {error}"),
        )
    })?;
    if let Some((uid, _, _)) = &identity.switch {
        // The user's own terminal, as login programs make it: ssh and sudo reopen it.
        rustix::fs::fchown(&slave, Some(rustix::process::Uid::from_raw(*uid)), None).map_err(
            |error| {
                Refusal::new(
                    RefusalKind::Failed,
                    format!("cannot give the terminal to uid {uid}: {error}"),
                )
            },
        )?;
    }
    Ok(Some(Pty {
        master,
        slave,
        streams: settings.streams,
    }))
}

/// The command for `argv`: the program itself, or on a terminal the session keeper running it.
fn command(argv: &[OsString], on_terminal: bool) -> Command {
    let (program, arguments) = (&argv[0], &argv[1..]);
    if !on_terminal {
        let mut command = Command::new(program);
        command.args(arguments);
        return command;
    }
    let mut command = Command::new(session::keeper_program());
    command
        .arg0(AGENT_FILE_NAME)
        .arg(session::KEEP_SESSION)
        .arg("--")
        .arg(program)
        .args(arguments);
    command
}

/// The program's standard streams: the pty's slave for those on the terminal, else the caller's
/// descriptors in order for those the request attached, else `/dev/null`.
fn attach_streams(
    command: &mut Command,
    request: &Request,
    fds: Vec<OwnedFd>,
    pty: Option<&Pty>,
) -> Result<(), Refusal> {
    let mut fds = fds.into_iter();
    let mut stream = |bit: u8| -> Result<Stdio, Refusal> {
        if let Some(pty) = pty
            && pty.streams & bit != 0
        {
            let slave = pty.slave.try_clone().map_err(|error| {
                Refusal::new(
                    RefusalKind::Failed,
                    format!("cannot pass the terminal on: {error}"),
                )
            })?;
            return Ok(Stdio::from(slave));
        }
        Ok(if request.streams & bit != 0 {
            fds.next().map_or_else(Stdio::null, Stdio::from)
        } else {
            Stdio::null()
        })
    };
    command
        .stdin(stream(STREAM_STDIN)?)
        .stdout(stream(STREAM_STDOUT)?)
        .stderr(stream(STREAM_STDERR)?);
    Ok(())
}

/// What the child sets up before exec, built here because the child must not allocate.
fn child_setup(
    working_dir: PathBuf,
    identity: &Identity,
    pty: Option<&Pty>,
) -> Result<ChildSetup, Refusal> {
    // The program's controlling terminal, once it has a session of its own: its first standard
    // stream on the pty.
    let controlling = pty.map(|pty| controlling_stream(pty.streams));
    let working_dir = CString::new(working_dir.into_os_string().into_vec()).map_err(|_| {
        Refusal::new(
            RefusalKind::Failed,
            "the working directory contains a NUL byte",
        )
    })?;
    let switch = identity.switch.clone().map(|(uid, gid, groups)| {
        (
            rustix::process::Uid::from_raw(uid),
            rustix::process::Gid::from_raw(gid),
            groups
                .into_iter()
                .map(rustix::process::Gid::from_raw)
                .collect::<Vec<_>>(),
        )
    });
    Ok(ChildSetup {
        controlling,
        switch,
        working_dir,
    })
}

/// The first of the standard streams in `streams` (stdin when none is).
fn controlling_stream(streams: u8) -> BorrowedFd<'static> {
    [
        (STREAM_STDIN, rustix::stdio::stdin()),
        (STREAM_STDOUT, rustix::stdio::stdout()),
        (STREAM_STDERR, rustix::stdio::stderr()),
    ]
    .into_iter()
    .find(|(bit, _)| streams & bit != 0)
    .map_or(rustix::stdio::stdin(), |(_, fd)| fd)
}

/// Starts `command`; its pid, or why `program` did not start.
fn spawn(command: &mut Command, program: &OsStr) -> Result<i32, Refusal> {
    let child = command
        .spawn()
        .map_err(|error| spawn_refusal(program, &error))?;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    // The child is reaped by the server's `reap`, never through `Child`.
    drop(child);
    Ok(pid)
}

/// Why `program` did not start, in a shell's words (the program's name as the caller typed it),
/// with the kind that gives a shell's exit status (127 not found, 126 not executable).
pub fn spawn_refusal(program: &OsStr, error: &io::Error) -> Refusal {
    let name = program.to_string_lossy();
    match error.kind() {
        io::ErrorKind::NotFound => {
            Refusal::new(RefusalKind::NotFound, format!("{name}: command not found"))
        }
        io::ErrorKind::PermissionDenied => Refusal::new(
            RefusalKind::NotExecutable,
            format!("{name}: permission denied"),
        ),
        _ => Refusal::new(RefusalKind::Failed, format!("{name}: cannot run: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use horizon_agent_protocol::layout::ServeOptions;

    use super::*;

    fn config(definition_env: &[&str]) -> AgentConfig {
        AgentConfig {
            options: ServeOptions {
                definition_env: definition_env.iter().map(|name| (*name).into()).collect(),
                ..ServeOptions::default()
            },
            environment: vec![
                ("PATH".into(), "/usr/bin".into()),
                ("HOME".into(), "/home/me".into()),
                ("FROM_DEFINITION".into(), "definition".into()),
            ],
            uid: 1000,
        }
    }

    fn identity() -> Identity {
        Identity {
            switch: None,
            home: Some(PathBuf::from("/home/me")),
            login_shell: None,
        }
    }

    fn request() -> Request {
        Request {
            streams: 0,
            argv: vec![b"env".to_vec()],
            login_shell: false,
            working_dirs: Vec::new(),
            environment: Vec::new(),
            terminal: None,
            explicit_environment: Vec::new(),
            exact_working_dir: None,
        }
    }

    fn value<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a [u8]> {
        env.iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_bytes())
    }

    /// Explicit variables win over the container's, the definition's and the forwarded ones, any
    /// name allowed, values byte for byte; the forwarded ones still lose to the definition.
    #[test]
    fn explicit_variables_are_applied_last() {
        let request = Request {
            environment: vec![b"LC_TIME=caller".to_vec(), b"LC_PAPER=caller".to_vec()],
            explicit_environment: vec![
                b"FROM_DEFINITION=explicit".to_vec(),
                b"LC_PAPER=explicit".to_vec(),
                b"PATH=/opt/bin".to_vec(),
                b"LD_PRELOAD=/opt/x.so".to_vec(),
                b"MSG=a b\nc=d \xff".to_vec(),
            ],
            ..request()
        };
        let config = config(&["FROM_DEFINITION", "LC_TIME"]);
        let env = environment(&request, &identity(), &config);
        let expected: [(&str, Option<&[u8]>); 7] = [
            ("FROM_DEFINITION", Some(b"explicit")),
            ("LC_PAPER", Some(b"explicit")),
            ("PATH", Some(b"/opt/bin")),
            ("LD_PRELOAD", Some(b"/opt/x.so")),
            ("MSG", Some(b"a b\nc=d \xff")),
            ("HOME", Some(b"/home/me")),
            // Fixed by the definition, which the container's environment has not set here.
            ("LC_TIME", None),
        ];
        for (name, wanted) in expected {
            assert_eq!(value(&env, name), wanted, "{name}");
        }
        assert_eq!(env.len(), 6, "{env:?}");
    }

    /// An exact directory is used as it is, shared (no note); one that is not a directory in the
    /// container is refused, never replaced by another.
    #[test]
    fn an_exact_working_dir_is_used_as_is_or_refused() {
        let config = config(&[]);
        let exact = |dir: &str| {
            let request = Request {
                exact_working_dir: Some(dir.as_bytes().to_vec()),
                ..request()
            };
            working_dir(&request, &identity(), &config)
        };
        let shared = AgentMessage::Started {
            working_dir_shared: true,
            running_in: Vec::new(),
        };
        assert_eq!(exact("/tmp"), Ok((PathBuf::from("/tmp"), shared)));
        for missing in ["/nonexistent-horizon-dir", "/proc/self/status"] {
            assert_eq!(
                exact(missing),
                Err(Refusal::new(
                    RefusalKind::NoWorkingDir,
                    format!("no directory {missing} in the container")
                ))
            );
        }
    }
}
