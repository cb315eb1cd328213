//! The host side: what an exported wrapper's client calls to run a program through the
//! container's agent. No async runtime, no definition, no Podman: it opens the active instance's
//! socket, sends the request with this process's stdin, stdout and stderr, forwards signals,
//! follows the program's job-control stops, and returns how the program ended.
//!
//! Finding the socket is where a container could try to redirect the client, so every step is
//! checked on an open descriptor, never on a path that could change between check and use:
//! `RUNTIME/agent/NAME` is opened without following a symlink and must be a directory owned by
//! the caller or root and writable by no one else; `active` must be a regular file owned by
//! them; `GEN/agent.sock` is opened with `O_PATH | O_NOFOLLOW` and must be a socket owned by
//! them; the client then connects through `/proc/self/fd/N` — exactly the inode it checked (which
//! also lifts the 108-byte limit of socket paths).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{FileType, Mode, OFlags};

use crate::environment::is_forwarded;
use crate::layout::{ACTIVE_FILE, AGENT_DIR, SOCKET_NAME};
use crate::protocol::{
    AgentMessage, ClientMessage, RefusalKind, Request, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT,
    TerminalSettings, encode_client_message, parse_agent_message,
};
use crate::relay::Relay;
use crate::sys;
use crate::terminal;
use crate::transport::{Received, receive, send_frame, take_frame};

/// Signals the client passes on to the program's process group (the terminal sends them to the
/// client, which is in the caller's foreground job; the program is not). SIGCONT also resumes the
/// program after a job-control stop, SIGWINCH tells it the window changed.
pub const FORWARDED_SIGNALS: [i32; 9] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
];

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    /// The definition whose container runs it.
    pub definition: &'a str,
    /// The program and its arguments, byte for byte; empty for the caller's interactive login
    /// shell in the container.
    pub argv: &'a [OsString],
    /// The caller's directory, most preferred first (logical `$PWD`, then physical).
    pub working_dirs: &'a [PathBuf],
    /// The caller's whole environment (only allowlisted names are sent).
    pub environment: &'a [(OsString, OsString)],
    /// Run the program on a pseudo-terminal made like the caller's terminal, when the caller is
    /// on one ([`terminal::caller_terminal`]): for interactive use (a shell, an editor, a
    /// password prompt on `/dev/tty`, Ctrl-Z).
    pub terminal: bool,
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status.
    Exited(u8),
    /// This signal ended it (the client should end the same way: [`crate::die_by_signal`]).
    Signaled(i32),
}

/// Said before the program runs: the caller's directory is not shared with the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingDirNote {
    /// Where the program runs instead (`None`: the container's `/`).
    pub running_in: Option<PathBuf>,
}

/// Why the agent path did not run the program.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// There is no agent to ask (no directory, no active instance, no socket, the container is
    /// stopped), or one too old for the request: use the API path. Nothing ran.
    NoAgent {
        /// What was missing.
        reason: String,
    },
    /// A path on the way to the socket is not what horizon made: a symlink, not a socket, owned
    /// by someone else, writable by others. Nothing ran; do not fall back silently.
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent refused the request (nothing ran): a missing program (127), one not executable
    /// (126), a caller it does not serve, a malformed request.
    Refused {
        /// Why.
        kind: RefusalKind,
        /// The agent's message.
        message: String,
    },
    /// The connection failed while the program may have been running.
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        error: io::Error,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::NoAgent { reason } => write!(f, "no agent: {reason}"),
            ClientError::Unsafe { path, reason } => write!(
                f,
                "refusing the agent socket path {}: {reason}",
                path.display()
            ),
            ClientError::Refused { message, .. } => write!(f, "{message}"),
            ClientError::Io { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// The runtime directories to look in, first match wins: `HORIZON_RUNTIME_DIR` when set;
/// else the caller's own (`$XDG_RUNTIME_DIR/horizonos`, `/run/user/UID/horizonos`; root's is
/// `/run/horizonos`); then, for a non-root caller, root's (system containers exported for
/// everyone). The caller passes the values in.
pub fn runtime_dirs(
    uid: u32,
    horizon_runtime_dir: Option<&OsStr>,
    xdg_runtime_dir: Option<&OsStr>,
) -> Vec<PathBuf> {
    const SYSTEM: &str = "/run/horizonos";
    let absolute =
        |value: Option<&OsStr>| value.map(PathBuf::from).filter(|path| path.is_absolute());
    if let Some(dir) = absolute(horizon_runtime_dir) {
        return vec![dir];
    }
    if uid == 0 {
        return vec![PathBuf::from(SYSTEM)];
    }
    let own = absolute(xdg_runtime_dir)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")))
        .join("horizonos");
    vec![own, PathBuf::from(SYSTEM)]
}

fn unsafe_path(path: &Path, reason: impl Into<String>) -> ClientError {
    ClientError::Unsafe {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn no_agent(path: &Path, what: &str) -> ClientError {
    ClientError::NoAgent {
        reason: format!("{} {what}", path.display()),
    }
}

/// The owner check: the caller itself, or root (who can do anything anyway).
fn trusted_owner(uid: u32, caller: u32) -> bool {
    uid == caller || uid == 0
}

/// The status of `fd` (opened from `shown`).
fn stat_of(fd: &OwnedFd, shown: &Path) -> Result<rustix::fs::Stat, ClientError> {
    rustix::fs::fstat(fd).map_err(|error| ClientError::NoAgent {
        reason: format!("{}: {error}", shown.display()),
    })
}

/// Refuses `shown` unless `stat` says the caller or root owns it.
fn require_trusted_owner(
    stat: &rustix::fs::Stat,
    shown: &Path,
    caller: u32,
) -> Result<(), ClientError> {
    if trusted_owner(stat.st_uid, caller) {
        return Ok(());
    }
    Err(unsafe_path(
        shown,
        format!("owned by uid {}, not by you or root", stat.st_uid),
    ))
}

fn open_checked(
    dir: Option<BorrowedFd<'_>>,
    name: &Path,
    shown: &Path,
    flags: OFlags,
) -> Result<OwnedFd, ClientError> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let opened = match dir {
        Some(dir) => rustix::fs::openat(dir, name, flags, Mode::empty()),
        None => rustix::fs::open(name, flags, Mode::empty()),
    };
    opened.map_err(|error| match error {
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => no_agent(shown, "does not exist"),
        rustix::io::Errno::LOOP => unsafe_path(shown, "it is a symlink"),
        other => ClientError::NoAgent {
            reason: format!("{}: {other}", shown.display()),
        },
    })
}

/// Opens the active instance's socket of `definition` below `runtime_dir` and connects to it.
pub fn connect(runtime_dir: &Path, definition: &str) -> Result<UnixStream, ClientError> {
    let caller = rustix::process::geteuid().as_raw();
    if definition.is_empty() || definition.contains('/') || definition.starts_with('.') {
        return Err(ClientError::NoAgent {
            reason: format!("{definition:?} is not a definition name"),
        });
    }
    let definition_dir = runtime_dir.join(AGENT_DIR).join(definition);
    let dir = open_checked(
        None,
        &definition_dir,
        &definition_dir,
        OFlags::RDONLY | OFlags::DIRECTORY,
    )?;
    let stat = stat_of(&dir, &definition_dir)?;
    require_trusted_owner(&stat, &definition_dir, caller)?;
    if stat.st_mode & 0o022 != 0 {
        return Err(unsafe_path(&definition_dir, "writable by others"));
    }

    let active_path = definition_dir.join(ACTIVE_FILE);
    let active = open_checked(
        Some(dir.as_fd()),
        Path::new(ACTIVE_FILE),
        &active_path,
        OFlags::RDONLY,
    )?;
    let stat = stat_of(&active, &active_path)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(unsafe_path(&active_path, "not a regular file"));
    }
    require_trusted_owner(&stat, &active_path, caller)?;
    let instance = crate::layout::read_active(&std::fs::File::from(active))
        .map_err(|error| unsafe_path(&active_path, error.to_string()))?;

    let instance_path = definition_dir.join(&instance);
    let instance_dir = open_checked(
        Some(dir.as_fd()),
        Path::new(&instance),
        &instance_path,
        OFlags::PATH | OFlags::DIRECTORY,
    )?;
    let socket_path = instance_path.join(SOCKET_NAME);
    let socket = open_checked(
        Some(instance_dir.as_fd()),
        Path::new(SOCKET_NAME),
        &socket_path,
        OFlags::PATH,
    )?;
    let stat = stat_of(&socket, &socket_path)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Socket => {}
        FileType::Symlink => return Err(unsafe_path(&socket_path, "it is a symlink")),
        _ => return Err(unsafe_path(&socket_path, "not a socket")),
    }
    require_trusted_owner(&stat, &socket_path, caller)?;
    // Connect to exactly the inode checked above.
    let through = format!("/proc/self/fd/{}", socket.as_raw_fd());
    UnixStream::connect(&through).map_err(|error| match error.raw_os_error() {
        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => no_agent(
            &socket_path,
            "has no agent listening (the container is stopped)",
        ),
        _ => ClientError::NoAgent {
            reason: format!("{}: {error}", socket_path.display()),
        },
    })
}

/// Connects to the first runtime directory that has an agent for `definition`.
pub fn connect_first(
    runtime_dirs: &[PathBuf],
    definition: &str,
) -> Result<UnixStream, ClientError> {
    let mut reasons = Vec::new();
    for dir in runtime_dirs {
        match connect(dir, definition) {
            Ok(stream) => return Ok(stream),
            Err(ClientError::NoAgent { reason }) => reasons.push(reason),
            Err(other) => return Err(other),
        }
    }
    Err(ClientError::NoAgent {
        reason: reasons.join("; "),
    })
}

/// The caller's working directory, most preferred first: the logical `pwd` (`$PWD`, symlinks
/// kept: what the user sees) while it still names the current directory, then the physical one.
/// Empty when the directory is gone. Shared by both exec paths.
pub fn caller_working_dirs(pwd: Option<&OsStr>) -> Vec<PathBuf> {
    let physical = std::env::current_dir().ok();
    let logical = pwd
        .map(PathBuf::from)
        .filter(|pwd| pwd.is_absolute() && same_directory(pwd, Path::new(".")));
    let mut dirs: Vec<PathBuf> = logical.into_iter().chain(physical).collect();
    dirs.dedup();
    dirs
}

fn same_directory(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The note both exec paths print when the caller's directory is not shared with `container`.
pub fn render_working_dir_note(
    out: &mut dyn io::Write,
    caller_dir: Option<&Path>,
    container: &str,
    running_in: Option<&str>,
) -> io::Result<()> {
    let here = match caller_dir {
        Some(dir) => format!("{} is not shared with {container}", dir.display()),
        None => "the current directory no longer exists".to_owned(),
    };
    let there = match running_in {
        Some(dir) => format!("running in {dir} (the home directory there)"),
        None => "running in the container's default directory".to_owned(),
    };
    writeln!(out, "horizon-container: note: {here}; {there}")
}

/// Runs `argv` (empty: the login shell) in `definition`'s container through the agent on
/// `stream`, as this process would run it natively: from its directory ([`caller_working_dirs`]),
/// with its environment and standard streams, on a pty when it is on a terminal; a note that the
/// directory is not shared goes to stderr naming `container`.
pub fn run_as_this_process(
    stream: &UnixStream,
    definition: &str,
    container: &str,
    argv: &[OsString],
) -> Result<Outcome, ClientError> {
    let working_dirs = caller_working_dirs(std::env::var_os("PWD").as_deref());
    let environment: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let invocation = Invocation {
        definition,
        argv,
        working_dirs: &working_dirs,
        environment: &environment,
        terminal: true,
    };
    let caller_dir = working_dirs.first().map(PathBuf::as_path);
    run(stream, &invocation, &mut |note| {
        print_working_dir_note(note, caller_dir, container);
    })
}

/// Prints `note` on stderr as [`render_working_dir_note`] words it; a note that cannot be shown
/// must not stop the program.
fn print_working_dir_note(note: &WorkingDirNote, caller_dir: Option<&Path>, container: &str) {
    let running_in = note
        .running_in
        .as_ref()
        .map(|dir| dir.to_string_lossy().into_owned());
    let _ = render_working_dir_note(
        &mut io::stderr().lock(),
        caller_dir,
        container,
        running_in.as_deref(),
    );
}

/// Whether this process has descriptor `fd` open.
fn is_open(fd: BorrowedFd<'_>) -> bool {
    rustix::io::fcntl_getfd(fd).is_ok()
}

/// The request for `invocation` and which of this process's standard streams go with it (those
/// on `terminal`, the caller's terminal made the program's pty, stay here).
fn request(
    invocation: &Invocation<'_>,
    terminal: Option<TerminalSettings>,
) -> (Request, Vec<BorrowedFd<'static>>) {
    let on_terminal = terminal.as_ref().map_or(0, |settings| settings.streams);
    let mut streams = 0;
    let mut fds = Vec::new();
    for (bit, fd) in [
        (STREAM_STDIN, rustix::stdio::stdin()),
        (STREAM_STDOUT, rustix::stdio::stdout()),
        (STREAM_STDERR, rustix::stdio::stderr()),
    ] {
        if on_terminal & bit == 0 && is_open(fd) {
            streams |= bit;
            fds.push(fd);
        }
    }
    let environment = invocation
        .environment
        .iter()
        .filter(|(name, _)| name.to_str().is_some_and(is_forwarded))
        .map(|(name, value)| {
            let mut entry = name.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            entry
        })
        .filter(|entry| !entry.contains(&0))
        .collect();
    let request = Request {
        streams,
        login_shell: invocation.argv.is_empty(),
        argv: invocation
            .argv
            .iter()
            .map(|arg| arg.as_bytes().to_vec())
            .collect(),
        working_dirs: invocation
            .working_dirs
            .iter()
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.as_os_str().as_bytes().to_vec())
            .take(crate::protocol::MAX_WORKING_DIRS)
            .collect(),
        environment,
        terminal,
    };
    (request, fds)
}

/// Runs `invocation` through the agent on `stream` (from [`connect`]) and returns how the
/// program ended. `on_note` hears when the caller's directory is not shared. Signals are blocked
/// and forwarded while the program runs, and unblocked before this returns. With
/// [`Invocation::terminal`] and a caller on a terminal ([`terminal::caller_terminal`]) the program
/// runs on a pty and this relays between it and the caller's terminal.
pub fn run(
    stream: &UnixStream,
    invocation: &Invocation<'_>,
    on_note: &mut dyn FnMut(&WorkingDirNote),
) -> Result<Outcome, ClientError> {
    let io_error = |what: &'static str| move |error: io::Error| ClientError::Io { what, error };
    let saved = sys::block(&FORWARDED_SIGNALS).map_err(io_error("blocking signals"))?;
    let result = (|| {
        let signals = sys::signal_fd(&FORWARDED_SIGNALS).map_err(io_error("signalfd"))?;
        let settings = match invocation
            .terminal
            .then(terminal::caller_terminal)
            .flatten()
        {
            Some(streams) => Some(
                terminal::read_settings(rustix::stdio::stdin(), streams)
                    .map_err(io_error("reading the terminal's settings"))?,
            ),
            None => None,
        };
        let wants_terminal = settings.is_some();
        let uses_extensions = wants_terminal || invocation.argv.is_empty();
        let (request, fds) = request(invocation, settings);
        let frame = encode_client_message(&ClientMessage::Request(request));
        send_frame(stream, &frame, &fds).map_err(io_error("sending the request to the agent"))?;
        let mut relay: Option<Relay> = None;
        let mut buffer = Vec::new();
        let mut received = Vec::new();
        loop {
            let (socket_ready, signal_ready, input_ready, master_ready) = {
                let mut poll = vec![
                    PollFd::new(stream, PollFlags::IN),
                    PollFd::new(&signals, PollFlags::IN),
                ];
                let relayed = relay.as_ref().map(Relay::poll_fds);
                let mut slots = [None, None];
                for (slot, fd) in slots.iter_mut().zip(relayed.into_iter().flatten()) {
                    if let Some(fd) = fd {
                        *slot = Some(poll.len());
                        poll.push(fd);
                    }
                }
                match rustix::event::poll(&mut poll, None) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(error) => return Err(io_error("poll")(error.into())),
                }
                let revents =
                    |slot: Option<usize>| slot.map_or(PollFlags::empty(), |i| poll[i].revents());
                (
                    !poll[0].revents().is_empty(),
                    !poll[1].revents().is_empty(),
                    revents(slots[0]),
                    revents(slots[1]),
                )
            };
            if signal_ready {
                let mut records = [0u8; sys::SIGNALFD_SIGINFO_SIZE * 8];
                if let Ok(count) = rustix::io::read(&signals, &mut records) {
                    for signal in sys::signals_in(&records[..count]) {
                        if let Some(relay) = relay.as_mut() {
                            match signal {
                                // The pty's size follows the terminal's; the kernel tells the
                                // program.
                                libc::SIGWINCH => {
                                    relay.resize();
                                    continue;
                                }
                                libc::SIGCONT => relay
                                    .resume()
                                    .map_err(io_error("putting the terminal in raw mode"))?,
                                _ => {}
                            }
                        }
                        let frame = encode_client_message(&ClientMessage::Signal(signal));
                        send_frame(stream, &frame, &[])
                            .map_err(io_error("forwarding a signal to the agent"))?;
                    }
                }
            }
            if let Some(relay) = relay.as_mut() {
                relay.on_ready(input_ready, master_ready);
            }
            if !socket_ready {
                continue;
            }
            let closed = matches!(
                receive(stream, &mut buffer, &mut received)
                    .map_err(io_error("reading from the agent"))?,
                Received::Closed
            );
            while let Some(payload) = take_frame(&mut buffer).map_err(|error| {
                io_error("reading from the agent")(io::Error::new(
                    io::ErrorKind::InvalidData,
                    error,
                ))
            })? {
                let message = parse_agent_message(&payload).map_err(|error| {
                    io_error("reading from the agent")(io::Error::new(
                        io::ErrorKind::InvalidData,
                        error,
                    ))
                })?;
                match message {
                    AgentMessage::Started {
                        working_dir_shared,
                        running_in,
                    } => {
                        if wants_terminal {
                            let master = received.pop().filter(|_| received.is_empty());
                            let master = master.ok_or_else(|| {
                                io_error("reading from the agent")(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    "the agent sent no terminal",
                                ))
                            })?;
                            relay = Some(
                                Relay::start(master)
                                    .map_err(io_error("putting the terminal in raw mode"))?,
                            );
                        }
                        if !working_dir_shared {
                            on_note(&WorkingDirNote {
                                running_in: (!running_in.is_empty())
                                    .then(|| PathBuf::from(OsStr::from_bytes(&running_in))),
                            });
                        }
                    }
                    // The program stopped (Ctrl-Z): stop too, so the caller's shell regains the
                    // terminal (as it was before the program); its `fg` sends SIGCONT, which is
                    // forwarded above.
                    AgentMessage::Stopped(_) => {
                        if let Some(relay) = relay.as_mut() {
                            relay.suspend();
                        }
                        sys::stop_self();
                    }
                    AgentMessage::Exited(code) => {
                        if let Some(relay) = relay.take() {
                            relay.finish();
                        }
                        return Ok(Outcome::Exited(u8::try_from(code).unwrap_or(u8::MAX)));
                    }
                    AgentMessage::Signaled { signal, .. } => {
                        if let Some(relay) = relay.take() {
                            relay.finish();
                        }
                        return Ok(Outcome::Signaled(signal));
                    }
                    // An agent started before terminals and login shells existed refuses their
                    // flags; nothing ran, so the API path can take over until the container is
                    // restarted with the current agent.
                    AgentMessage::Refused {
                        kind: RefusalKind::Malformed | RefusalKind::Version,
                        message,
                    } if uses_extensions => {
                        return Err(ClientError::NoAgent {
                            reason: format!(
                                "the container's agent refused a terminal or login-shell request \
                                 ({message}); it predates them: restarting the container updates it"
                            ),
                        });
                    }
                    AgentMessage::Refused { kind, message } => {
                        return Err(ClientError::Refused { kind, message });
                    }
                }
            }
            if closed {
                return Err(io_error("reading from the agent")(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the agent closed the connection before the program ended",
                )));
            }
        }
    })();
    sys::restore(saved);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AgentMessage, encode_agent_message};
    use crate::transport::read_frame;

    /// An agent that answers any request with `Refused(kind)`, as one from before terminals and
    /// login shells answers their flags.
    fn refusing_agent(kind: RefusalKind) -> (UnixStream, std::thread::JoinHandle<()>) {
        let (client, agent) = UnixStream::pair().unwrap();
        let answering = std::thread::spawn(move || {
            read_frame(&agent).unwrap().unwrap();
            let refusal = AgentMessage::Refused {
                kind,
                message: "flags: reserved bits set".into(),
            };
            send_frame(&agent, &encode_agent_message(&refusal), &[]).unwrap();
        });
        (client, answering)
    }

    fn run_refused(argv: &[OsString], kind: RefusalKind) -> Result<Outcome, ClientError> {
        let (stream, agent) = refusing_agent(kind);
        let invocation = Invocation {
            definition: "tools",
            argv,
            working_dirs: &[],
            environment: &[],
            terminal: false,
        };
        let result = run(&stream, &invocation, &mut |_| {});
        agent.join().unwrap();
        result
    }

    #[test]
    fn an_agent_too_old_for_the_request_sends_the_client_to_the_api_path() {
        // The login shell is an extension: its refusal means "no agent for this" (nothing ran).
        assert!(matches!(
            run_refused(&[], RefusalKind::Malformed),
            Err(ClientError::NoAgent { reason }) if reason.contains("predates")
        ));
        // A plain request refused stays a refusal: the API path would refuse it too.
        assert!(matches!(
            run_refused(&["true".into()], RefusalKind::Malformed),
            Err(ClientError::Refused {
                kind: RefusalKind::Malformed,
                ..
            })
        ));
    }
}
