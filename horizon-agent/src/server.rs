//! The agent: PID 1 of a managed container. One thread, one poll loop over the listening socket,
//! a signalfd and the clients' connections; it never blocks on a client.
//!
//! A connection sends one request with the caller's stdin, stdout and stderr attached. The agent
//! checks who the caller is (SO_PEERCRED): the user it runs as, or, when it runs as root (a
//! rootful system container), any user, whose program it then runs AS THAT USER (their uid, primary
//! group and the supplementary groups the container's `/etc/group` gives them) — never as root
//! for someone else. It translates the caller's directory through the container's bind mounts,
//! builds the environment (the container's, the caller's allowlisted variables, the definition's
//! winning), forks and execs in a process group of its own — or, when the caller asked for a
//! terminal, on a pseudo-terminal made like the caller's, under the session keeper — and reports
//! `Started` (with the pty's master). Signals the client forwards
//! go to the program's process group; a client that goes away takes its program with it
//! (SIGKILL, as if the caller had been the program). The exit status, death by a signal, and job
//! control stops go back to the client.
//!
//! As init it reaps every process that ends in the container, and the stop signal (SIGTERM from
//! `podman stop`) is passed to every running program; the agent exits when the last one has ended.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::layout::{self, ServeOptions};
use crate::protocol::{
    AgentMessage, ClientMessage, RefusalKind, Request, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT,
    encode_agent_message, parse_client_message,
};
use crate::session;
use crate::sys;
use crate::terminal;
use crate::transport::{Received, receive, send_frame, take_frame};
use crate::users;
use crate::workdir::translate_working_dir;

/// Signals the agent handles in its loop: children ending or stopping, and being told to stop.
const HANDLED_SIGNALS: [i32; 5] = [
    libc::SIGCHLD,
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
];
/// How long a connection may take to deliver its request before it is dropped (a client that
/// connects and says nothing must not hold a slot).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections at once; beyond it new ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
/// How often the loop wakes without events (to expire silent connections).
const TICK: Duration = Duration::from_secs(1);
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

enum State {
    /// Reading the request.
    Receiving {
        buffer: Vec<u8>,
        fds: Vec<OwnedFd>,
        since: Instant,
    },
    /// The program runs; its pid is also its process group and session.
    Running { pid: i32, buffer: Vec<u8> },
}

struct Connection {
    stream: UnixStream,
    peer_uid: u32,
    peer_gid: u32,
    state: State,
}

/// Serves on `listener` until told to stop and every program has ended.
pub fn serve(listener: UnixListener, config: &AgentConfig) -> io::Result<()> {
    sys::block(&HANDLED_SIGNALS)?;
    let signals = sys::signal_fd(&HANDLED_SIGNALS)?;
    listener.set_nonblocking(true)?;
    let mut connections: HashMap<u64, Connection> = HashMap::new();
    let mut next_id = 0u64;
    let mut stopping = false;
    loop {
        if stopping
            && !connections
                .values()
                .any(|c| matches!(c.state, State::Running { .. }))
        {
            return Ok(());
        }
        let ids: Vec<u64> = connections.keys().copied().collect();
        let readable = {
            let mut fds = Vec::with_capacity(ids.len() + 2);
            fds.push(PollFd::new(&signals, PollFlags::IN));
            let accepting = !stopping && connections.len() < MAX_CONNECTIONS;
            if accepting {
                fds.push(PollFd::new(&listener, PollFlags::IN));
            }
            for id in &ids {
                fds.push(PollFd::new(&connections[id].stream, PollFlags::IN));
            }
            let tick = rustix::event::Timespec {
                tv_sec: TICK.as_secs() as i64,
                tv_nsec: 0,
            };
            match rustix::event::poll(&mut fds, Some(&tick)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(error) => return Err(error.into()),
            }
            let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
            let signal_ready = ready(&fds[0]);
            let listener_ready = accepting && ready(&fds[1]);
            let offset = if accepting { 2 } else { 1 };
            let streams: Vec<u64> = ids
                .iter()
                .enumerate()
                .filter(|(index, _)| ready(&fds[offset + index]))
                .map(|(_, id)| *id)
                .collect();
            (signal_ready, listener_ready, streams)
        };
        let (signal_ready, listener_ready, streams) = readable;
        if signal_ready {
            for signal in read_signals(&signals) {
                if signal == libc::SIGCHLD {
                    reap(&mut connections);
                } else {
                    stopping = true;
                    for connection in connections.values() {
                        if let State::Running { pid, .. } = connection.state {
                            signal_group(pid, libc::SIGTERM);
                        }
                    }
                }
            }
        }
        if listener_ready {
            accept_all(&listener, &mut connections, &mut next_id);
        }
        for id in streams {
            let keep = match connections.get_mut(&id) {
                Some(connection) => service(connection, config),
                None => true,
            };
            if !keep {
                connections.remove(&id);
            }
        }
        let now = Instant::now();
        connections.retain(|_, connection| match connection.state {
            State::Receiving { since, .. } => now.duration_since(since) < REQUEST_TIMEOUT,
            State::Running { .. } => true,
        });
    }
}

fn read_signals(signals: &OwnedFd) -> Vec<i32> {
    let mut records = [0u8; sys::SIGNALFD_SIGINFO_SIZE * 16];
    match rustix::io::read(signals, &mut records) {
        Ok(count) => sys::signals_in(&records[..count]).collect(),
        // Nothing queued (another wake-up took it), or interrupted: nothing to do now.
        Err(_) => Vec::new(),
    }
}

fn accept_all(
    listener: &UnixListener,
    connections: &mut HashMap<u64, Connection>,
    next_id: &mut u64,
) {
    while connections.len() < MAX_CONNECTIONS {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            // A connection that failed while queued (reset): the next one may be fine.
            Err(_) => return,
        };
        let credentials = match sys::peer_credentials(stream.as_fd()) {
            Ok(credentials) => credentials,
            Err(error) => {
                log(&format!(
                    "a connection without credentials was dropped: {error}"
                ));
                continue;
            }
        };
        if let Err(error) = stream.set_nonblocking(true) {
            log(&format!("a connection was dropped: {error}"));
            continue;
        }
        *next_id += 1;
        connections.insert(
            *next_id,
            Connection {
                stream,
                peer_uid: credentials.0,
                peer_gid: credentials.1,
                state: State::Receiving {
                    buffer: Vec::new(),
                    fds: Vec::new(),
                    since: Instant::now(),
                },
            },
        );
    }
}

/// Handles a readable connection; false when it is done with.
fn service(connection: &mut Connection, config: &AgentConfig) -> bool {
    match &mut connection.state {
        State::Receiving { buffer, fds, .. } => {
            match receive(&connection.stream, buffer, fds) {
                Ok(Received::Closed) => return false,
                Ok(Received::WouldBlock | Received::Bytes(_)) => {}
                Err(error) => {
                    refuse(connection, RefusalKind::Malformed, &error.to_string());
                    return false;
                }
            }
            let payload = match take_frame(buffer) {
                Ok(Some(payload)) => payload,
                Ok(None) => return true,
                Err(error) => {
                    refuse(connection, RefusalKind::Malformed, &error.to_string());
                    return false;
                }
            };
            let fds = std::mem::take(fds);
            let request = match parse_client_message(&payload) {
                Ok(ClientMessage::Request(request)) => request,
                Ok(ClientMessage::Signal(_)) => {
                    refuse(
                        connection,
                        RefusalKind::Malformed,
                        "a signal before any request",
                    );
                    return false;
                }
                Err(error) => {
                    let kind = match error {
                        crate::protocol::ProtocolError::Version(_) => RefusalKind::Version,
                        _ => RefusalKind::Malformed,
                    };
                    refuse(connection, kind, &error.to_string());
                    return false;
                }
            };
            if request.stream_count() != fds.len() {
                let message = format!(
                    "the request announces {} streams but carries {} descriptors",
                    request.stream_count(),
                    fds.len()
                );
                refuse(connection, RefusalKind::Malformed, &message);
                return false;
            }
            match start(
                connection.peer_uid,
                connection.peer_gid,
                &request,
                fds,
                config,
            ) {
                Ok(Started {
                    pid,
                    message,
                    master,
                }) => {
                    // The master goes with `Started` and is closed here: the client holds the
                    // only copy, so the program sees a hangup when the caller goes away.
                    let master: Vec<BorrowedFd<'_>> = master.iter().map(AsFd::as_fd).collect();
                    let frame = encode_agent_message(&message);
                    if send_frame(&connection.stream, &frame, &master).is_err() {
                        // The client is gone already: so is its program.
                        signal_group(pid, libc::SIGKILL);
                    }
                    connection.state = State::Running {
                        pid,
                        buffer: Vec::new(),
                    };
                    true
                }
                Err((kind, message)) => {
                    refuse(connection, kind, &message);
                    false
                }
            }
        }
        State::Running { pid, buffer } => {
            let pid = *pid;
            let mut stray = Vec::new();
            let received = receive(&connection.stream, buffer, &mut stray);
            let gone = matches!(received, Ok(Received::Closed) | Err(_)) || !stray.is_empty();
            loop {
                match take_frame(buffer) {
                    Ok(Some(payload)) => match parse_client_message(&payload) {
                        Ok(ClientMessage::Signal(signal)) => signal_group(pid, signal),
                        // Anything else after the request breaks the protocol: end the session.
                        _ => {
                            signal_group(pid, libc::SIGKILL);
                            return false;
                        }
                    },
                    Ok(None) => break,
                    Err(_) => {
                        signal_group(pid, libc::SIGKILL);
                        return false;
                    }
                }
            }
            if gone {
                // The caller went away: a native program would have gone with it.
                signal_group(pid, libc::SIGKILL);
                return false;
            }
            true
        }
    }
}

fn send(stream: &UnixStream, message: &AgentMessage) -> io::Result<()> {
    send_frame(stream, &encode_agent_message(message), &[])
}

/// A line in the container's log (the agent's stderr, which Podman keeps).
fn log(message: &str) {
    use std::io::Write;
    // Nowhere else to report a failing log.
    let _ = writeln!(io::stderr(), "horizon-agent: {message}");
}

fn refuse(connection: &Connection, kind: RefusalKind, message: &str) {
    log(&format!(
        "refused a request of uid {}: {message}",
        connection.peer_uid
    ));
    let refusal = AgentMessage::Refused {
        kind,
        message: message.to_owned(),
    };
    // Best effort: a client that has gone cannot be told.
    let _ = send(&connection.stream, &refusal);
}

fn signal_group(pid: i32, signal: i32) {
    let (Some(pid), Some(signal)) = (Pid::from_raw(pid), Signal::from_named_raw(signal)) else {
        return;
    };
    // The group may be gone already (the program ended): nothing to deliver then.
    let _ = rustix::process::kill_process_group(pid, signal)
        .or_else(|_| rustix::process::kill_process(pid, signal));
}

/// Reaps every ended child (init's duty) and tells the clients whose programs ended or stopped.
fn reap(connections: &mut HashMap<u64, Connection>) {
    loop {
        // wait(), not waitpid(None): the latter is "any child of my process group", and every
        // program runs in a session of its own.
        let (pid, status) = match rustix::process::wait(WaitOptions::NOHANG | WaitOptions::UNTRACED)
        {
            Ok(Some(reaped)) => reaped,
            Ok(None) | Err(_) => return,
        };
        let pid = pid.as_raw_nonzero().get();
        let Some((&id, connection)) = connections.iter().find(
            |(_, c)| matches!(c.state, State::Running { pid: running, .. } if running == pid),
        ) else {
            continue;
        };
        let message = if let Some(signal) = status.stopping_signal() {
            AgentMessage::Stopped(signal)
        } else if let Some(code) = status.exit_status() {
            AgentMessage::Exited(code)
        } else if let Some(signal) = status.terminating_signal() {
            AgentMessage::Signaled {
                signal,
                core_dumped: status.as_raw() & 0x80 != 0,
            }
        } else {
            continue;
        };
        let finished = !matches!(message, AgentMessage::Stopped(_));
        // A client that has gone cannot be told; its connection is dropped below.
        let _ = send(&connection.stream, &message);
        if finished {
            connections.remove(&id);
        }
    }
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

/// The program's environment: the container's, `HOME` of the user it runs as, then the
/// caller's variables except those the definition sets (the definition wins, as on the API path).
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
    env
}

/// A program the agent started.
struct Started {
    /// Its pid, which is also its process group.
    pid: i32,
    /// The `Started` message for the client.
    message: AgentMessage,
    /// The master of its pseudo-terminal, for the client (when the request asked for one).
    master: Option<OwnedFd>,
}

/// Forks and execs the request, or a refusal.
///
/// Without a terminal the program runs in a process group of its own in the agent's session
/// (which has no controlling terminal): a Ctrl-Z the client forwards stops it, because its group
/// is not orphaned (its parent, the agent, is in the same session). With a terminal it runs
/// under the session keeper ([`crate::session`]): a new session whose controlling terminal is the
/// pty, the program in its own foreground group of it.
fn start(
    peer_uid: u32,
    peer_gid: u32,
    request: &Request,
    fds: Vec<OwnedFd>,
    config: &AgentConfig,
) -> Result<Started, (RefusalKind, String)> {
    let identity = identity(peer_uid, peer_gid, config)
        .map_err(|message| (RefusalKind::Permission, message))?;
    let candidates: Vec<PathBuf> = request
        .working_dirs
        .iter()
        .map(|dir| PathBuf::from(OsStr::from_bytes(dir)))
        .collect();
    let shared =
        translate_working_dir(&candidates, &config.options.mounts).filter(|dir| dir.is_dir());
    let (working_dir, started) = match shared {
        Some(dir) => (
            dir,
            AgentMessage::Started {
                working_dir_shared: true,
                running_in: Vec::new(),
            },
        ),
        None => {
            let home = identity.home.clone().filter(|home| home.is_dir());
            let running_in = home
                .as_ref()
                .map(|home| home.as_os_str().as_bytes().to_vec())
                .unwrap_or_default();
            (
                home.unwrap_or_else(|| PathBuf::from("/")),
                AgentMessage::Started {
                    working_dir_shared: false,
                    running_in,
                },
            )
        }
    };

    let env = environment(request, &identity, config);
    let argv: Vec<OsString> = if request.login_shell {
        login_shell_argv(&identity, &env).ok_or_else(|| {
            (
                RefusalKind::NotFound,
                "the container has no shell: no login shell in its /etc/passwd, no bash and no sh"
                    .to_owned(),
            )
        })?
    } else {
        request
            .argv
            .iter()
            .map(|arg| OsStr::from_bytes(arg).to_owned())
            .collect()
    };
    let program = argv[0].as_os_str();
    let arguments = &argv[1..];
    let pty = match &request.terminal {
        Some(settings) => {
            let (master, slave) = terminal::open_pty(settings).map_err(|error| {
                (
                    RefusalKind::Failed,
                    format!("cannot make a terminal for the program: {error}"),
                )
            })?;
            if let Some((uid, _, _)) = &identity.switch {
                // The user's own terminal, as login programs make it: ssh and sudo reopen it.
                rustix::fs::fchown(&slave, Some(rustix::process::Uid::from_raw(*uid)), None)
                    .map_err(|error| {
                        (
                            RefusalKind::Failed,
                            format!("cannot give the terminal to uid {uid}: {error}"),
                        )
                    })?;
            }
            Some((master, slave, settings.streams))
        }
        None => None,
    };
    let mut command = match &pty {
        Some(_) => {
            let mut command = Command::new(session::keeper_program());
            command
                .arg0(layout::AGENT_FILE_NAME)
                .arg(session::KEEP_SESSION)
                .arg("--")
                .arg(program)
                .args(arguments);
            command
        }
        None => {
            let mut command = Command::new(program);
            command.args(arguments);
            command
        }
    };
    command.env_clear().envs(env);
    let mut fds = fds.into_iter();
    let mut stream = |bit: u8| -> io::Result<Stdio> {
        if let Some((_, slave, streams)) = &pty
            && streams & bit != 0
        {
            return Ok(Stdio::from(slave.try_clone()?));
        }
        Ok(if request.streams & bit != 0 {
            fds.next().map_or_else(Stdio::null, Stdio::from)
        } else {
            Stdio::null()
        })
    };
    let cannot_pass = |error: io::Error| {
        (
            RefusalKind::Failed,
            format!("cannot pass the terminal on: {error}"),
        )
    };
    command
        .stdin(stream(STREAM_STDIN).map_err(cannot_pass)?)
        .stdout(stream(STREAM_STDOUT).map_err(cannot_pass)?)
        .stderr(stream(STREAM_STDERR).map_err(cannot_pass)?);
    // The program's controlling terminal, once it has a session of its own: its first standard
    // stream on the pty.
    let controlling = pty.as_ref().map(|(_, _, streams)| {
        [
            (STREAM_STDIN, rustix::stdio::stdin()),
            (STREAM_STDOUT, rustix::stdio::stdout()),
            (STREAM_STDERR, rustix::stdio::stderr()),
        ]
        .into_iter()
        .find(|(bit, _)| streams & bit != 0)
        .map_or(rustix::stdio::stdin(), |(_, fd)| fd)
    });
    let working_dir =
        std::ffi::CString::new(working_dir.into_os_string().into_vec()).map_err(|_| {
            (
                RefusalKind::Failed,
                "the working directory contains a NUL byte".to_owned(),
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
    // SAFETY: the closure runs in the forked child of this single-threaded process before exec;
    // it only makes raw system calls (rustix; no allocation: `switch` and `working_dir` were
    // built before the fork) and returns their errors. Order: a process group of its own, or a
    // session with the pty as its controlling terminal; supplementary groups and gid while still
    // root, uid last; then the directory, as the user.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            match controlling {
                Some(terminal) => {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(terminal)?;
                }
                None => rustix::process::setpgid(None, None)?,
            }
            sys::reset_signals_for_exec()?;
            if let Some((uid, gid, groups)) = &switch {
                rustix::thread::set_thread_groups(groups)?;
                rustix::thread::set_thread_gid(*gid)?;
                rustix::thread::set_thread_uid(*uid)?;
            }
            rustix::process::chdir(&working_dir)?;
            Ok(())
        });
    }
    match command.spawn() {
        Ok(child) => {
            let pid = i32::try_from(child.id()).unwrap_or(0);
            // The child is reaped by `reap`, never through `Child`.
            drop(child);
            Ok(Started {
                pid,
                message: started,
                master: pty.map(|(master, _, _)| master),
            })
        }
        Err(error) => {
            let name = program.to_string_lossy().into_owned();
            Err(match error.kind() {
                io::ErrorKind::NotFound => {
                    (RefusalKind::NotFound, format!("{name}: command not found"))
                }
                io::ErrorKind::PermissionDenied => (
                    RefusalKind::NotExecutable,
                    format!("{name}: permission denied"),
                ),
                _ => (RefusalKind::Failed, format!("{name}: cannot run: {error}")),
            })
        }
    }
}

/// Binds the agent's socket at `path` (removing one a previous run left), readable and writable
/// by everyone: the directory's mode decides who may reach it.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}
