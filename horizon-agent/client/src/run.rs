//! Running a program through the agent: the request (argv, working directory, the allowlisted
//! environment, the caller's explicit options — `-e`, `-w`, `-t`/`-T` —, this process's standard
//! streams, the terminal settings), then the exchange until the program ends — signals forwarded,
//! the program's terminal (or the pipes standing in for the caller's) relayed, its job-control
//! stops followed, and how it ended returned.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use horizon_agent_protocol::environment::{is_forwarded, is_valid_explicit_name};
use horizon_agent_protocol::naming::container_name;
use horizon_agent_protocol::sys;
use horizon_agent_protocol::terminal::{default_settings, read_settings};
use horizon_agent_protocol::transport::{Received, receive, send_frame, take_frame};
use horizon_agent_protocol::wire::{
    AgentMessage, ClientMessage, FORWARDED_SIGNALS, MAX_ARG_LEN, MAX_ENV, MAX_PATH_LEN,
    MAX_WORKING_DIRS, RefusalKind, Request, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT,
    TerminalSettings, encode_client_message, parse_agent_message,
};
use rustix::event::{PollFd, PollFlags};

use crate::ClientError;
use crate::relay::{Endpoint, Relay};
use crate::terminal::caller_terminal;
use crate::working_dir::{WorkingDirNote, caller_working_dirs, print_working_dir_note};

/// The window size a terminal gets when the caller has none to copy and `LINES`/`COLUMNS` do
/// not say (a terminal's traditional size).
const DEFAULT_ROWS: u16 = 24;
/// See [`DEFAULT_ROWS`].
const DEFAULT_COLUMNS: u16 = 80;

/// Whether the program runs on a terminal (`podman exec`'s and `toolbox run`'s `-t`, and `-T`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TerminalChoice {
    /// On a pseudo-terminal made like the caller's terminal when the caller is on one
    /// ([`caller_terminal`]), else with the caller's descriptors as they are: for interactive
    /// use (a shell, an editor, a password prompt on `/dev/tty`, Ctrl-Z) and plain pipes alike.
    #[default]
    Auto,
    /// Always on a pseudo-terminal (`-t`). With the caller on a terminal, as [`Auto`](Self::Auto);
    /// otherwise all three of the program's streams are one new terminal (stdout and stderr
    /// merged, as with `podman exec -t`) in its default settings (cooked mode, echo), as large as
    /// `LINES` and `COLUMNS` say (else 24×80), and the client relays between it and the caller's
    /// descriptors; the end of the caller's stdin is typed as the terminal's end-of-file
    /// character.
    Always,
    /// Never on a terminal (`-T`): the program gets the caller's descriptors as they are, except
    /// those that are a terminal, for which it gets pipes the client relays — so it sees no
    /// terminal (`test -t 0` fails, as under `podman exec` without `-t`) while the caller's
    /// terminal, unchanged, still shows its output and takes its input.
    Never,
}

impl TerminalChoice {
    /// Whether the program gets a terminal, for a caller that is (`on_terminal`) or is not on one.
    pub fn resolve(self, on_terminal: bool) -> bool {
        match self {
            TerminalChoice::Auto => on_terminal,
            TerminalChoice::Always => true,
            TerminalChoice::Never => false,
        }
    }
}

/// The options a caller of `podman exec` / `toolbox run` expects, as [`run_as_this_process_with`]
/// takes them ([`Invocation`] has them as fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// `-e NAME=VALUE`: set for the program, over everything else ([`Invocation::explicit_environment`]).
    pub explicit_environment: Vec<(OsString, OsString)>,
    /// `-w DIR`: the directory in the container to run in ([`Invocation::exact_working_dir`]).
    pub working_dir: Option<PathBuf>,
    /// `-t` / `-T`.
    pub terminal: TerminalChoice,
}

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
    /// The caller's whole environment (only allowlisted names are sent; `LINES` and `COLUMNS`
    /// size a terminal made with [`TerminalChoice::Always`] for a caller without one).
    pub environment: &'a [(OsString, OsString)],
    /// Variables the caller sets deliberately (`-e NAME=VALUE`): any name (not empty, without
    /// `=` or NUL; the value without NUL), applied last, over the container's, the definition's
    /// and the forwarded variables (as `podman exec -e`). At most
    /// [`MAX_ENV`](horizon_agent_protocol::wire::MAX_ENV).
    pub explicit_environment: &'a [(OsString, OsString)],
    /// The directory in the container to run in (`-w DIR`, as `podman exec -w`): absolute, used
    /// as it is (no translation through the mounts, no fallback to the home; `working_dirs` is
    /// then not used). When it is not a directory there nothing runs:
    /// [`ClientError::Refused`] with [`RefusalKind::NoWorkingDir`] ("no directory DIR in the
    /// container horizonos-NAME", exit status [`EXEC_FAILURE`](crate::EXEC_FAILURE)).
    pub exact_working_dir: Option<&'a Path>,
    /// Whether the program runs on a terminal.
    pub terminal: TerminalChoice,
}

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this status.
    Exited(u8),
    /// This signal ended it (the client should end the same way: [`crate::die_by_signal`]).
    Signaled(i32),
}

/// Runs `argv` (empty: the login shell) in `definition`'s container through the agent on
/// `stream`, as this process would run it natively: from its directory ([`caller_working_dirs`]),
/// with its environment and standard streams, on a pty when it is on a terminal; a note that the
/// directory is not shared goes to stderr, naming the definition's container. (What exported
/// wrappers run: [`run_as_this_process_with`] and no options.)
pub fn run_as_this_process(
    stream: &UnixStream,
    definition: &str,
    argv: &[OsString],
) -> Result<Outcome, ClientError> {
    run_as_this_process_with(stream, definition, argv, &ExecOptions::default())
}

/// As [`run_as_this_process`], with the caller's `options` (`-e`, `-w`, `-t`/`-T`). An agent that
/// predates an option the call uses refuses it before anything runs: [`ClientError::NoAgent`],
/// so the caller takes the API path.
pub fn run_as_this_process_with(
    stream: &UnixStream,
    definition: &str,
    argv: &[OsString],
    options: &ExecOptions,
) -> Result<Outcome, ClientError> {
    let working_dirs = caller_working_dirs(std::env::var_os("PWD").as_deref());
    let environment: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let invocation = Invocation {
        definition,
        argv,
        working_dirs: &working_dirs,
        environment: &environment,
        explicit_environment: &options.explicit_environment,
        exact_working_dir: options.working_dir.as_deref(),
        terminal: options.terminal,
    };
    let caller_dir = working_dirs.first().map(PathBuf::as_path);
    let container = container_name(definition);
    run(stream, &invocation, &mut |note| {
        print_working_dir_note(note, caller_dir, &container);
    })
}

/// Runs `invocation` through the agent on `stream` (from [`crate::connect`]) and returns how the
/// program ended. `on_note` hears when the caller's directory is not shared. Signals are blocked
/// and forwarded while the program runs, and unblocked before this returns. When the program runs
/// on a pty ([`Invocation::terminal`]) this relays between it and the caller's descriptors.
///
/// Options that cannot be sent (an explicit variable without a name, a relative `-w`, beyond the
/// protocol's limits) are [`ClientError::Invalid`]; a request an agent that predates its options
/// refuses is [`ClientError::NoAgent`]. In both cases nothing ran.
pub fn run(
    stream: &UnixStream,
    invocation: &Invocation<'_>,
    on_note: &mut dyn FnMut(&WorkingDirNote),
) -> Result<Outcome, ClientError> {
    let saved = sys::block(&FORWARDED_SIGNALS).map_err(io_error("blocking signals"))?;
    let result = Exchange::begin(stream, invocation).and_then(|exchange| exchange.follow(on_note));
    sys::restore(saved);
    result
}

/// A [`ClientError::Io`] maker for what was being done.
fn io_error(what: &'static str) -> impl Fn(io::Error) -> ClientError {
    move |error| ClientError::Io { what, error }
}

/// What the agent sent that breaks the protocol.
fn bad_answer(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ClientError {
    io_error("reading from the agent")(io::Error::new(io::ErrorKind::InvalidData, error))
}

/// Whether this process has descriptor `fd` open.
fn is_open(fd: BorrowedFd<'_>) -> bool {
    rustix::io::fcntl_getfd(fd).is_ok()
}

/// What the program's standard streams are, decided before the request is sent.
struct Streams {
    /// The terminal it runs on, when it runs on one.
    terminal: Option<TerminalSettings>,
    /// Pipes standing in for the caller's terminal descriptors ([`TerminalChoice::Never`]).
    pipes: StandInPipes,
}

/// Pipes for those of the caller's standard streams that are a terminal, in order stdin, stdout,
/// stderr: the program's ends go with the request, the client relays the others.
#[derive(Default)]
struct StandInPipes {
    program: [Option<OwnedFd>; 3],
    ours: [Option<OwnedFd>; 3],
}

impl StandInPipes {
    fn for_terminals() -> io::Result<StandInPipes> {
        let mut pipes = StandInPipes::default();
        let streams = [
            rustix::stdio::stdin(),
            rustix::stdio::stdout(),
            rustix::stdio::stderr(),
        ];
        for (index, fd) in streams.into_iter().enumerate() {
            if !rustix::termios::isatty(fd) {
                continue;
            }
            let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
            let (program, ours) = if index == 0 {
                (read, write)
            } else {
                (write, read)
            };
            pipes.program[index] = Some(program);
            pipes.ours[index] = Some(ours);
        }
        Ok(pipes)
    }

    fn is_empty(&self) -> bool {
        self.ours.iter().all(Option::is_none)
    }
}

impl Streams {
    /// The streams `invocation` asks for, from this process's own.
    fn of(invocation: &Invocation<'_>) -> Result<Streams, ClientError> {
        let read = |streams| {
            read_settings(rustix::stdio::stdin(), streams)
                .map_err(io_error("reading the terminal's settings"))
        };
        let caller = match invocation.terminal {
            TerminalChoice::Never => None,
            TerminalChoice::Auto | TerminalChoice::Always => caller_terminal(),
        };
        let terminal = match (caller, invocation.terminal) {
            (Some(streams), _) => Some(read(streams)?),
            (None, TerminalChoice::Always) => {
                let all = STREAM_STDIN | STREAM_STDOUT | STREAM_STDERR;
                Some(if rustix::termios::isatty(rustix::stdio::stdin()) {
                    // A terminal on stdin only (output to a pipe or file, or a background job):
                    // the program's is made like it.
                    read(all)?
                } else {
                    let (rows, columns) = default_size(invocation.environment);
                    default_settings(all, rows, columns)
                })
            }
            (None, _) => None,
        };
        let pipes = if invocation.terminal == TerminalChoice::Never {
            StandInPipes::for_terminals().map_err(io_error("making pipes for the program"))?
        } else {
            StandInPipes::default()
        };
        Ok(Streams { terminal, pipes })
    }
}

/// The size of a terminal for a caller without one: `LINES` × `COLUMNS` from its environment,
/// else 24×80.
fn default_size(environment: &[(OsString, OsString)]) -> (u16, u16) {
    let number = |name: &str, default: u16| {
        environment
            .iter()
            .rev()
            .find(|(existing, _)| existing == name)
            .and_then(|(_, value)| value.to_str()?.trim().parse::<u16>().ok())
            .filter(|value| *value > 0)
            .unwrap_or(default)
    };
    (
        number("LINES", DEFAULT_ROWS),
        number("COLUMNS", DEFAULT_COLUMNS),
    )
}

/// `NAME=VALUE`, as the wire carries environment entries.
fn entry(name: &OsStr, value: &OsStr) -> Vec<u8> {
    let mut entry = name.as_bytes().to_vec();
    entry.push(b'=');
    entry.extend_from_slice(value.as_bytes());
    entry
}

/// The explicit variables as the wire carries them, or why they cannot be sent.
fn explicit_entries(variables: &[(OsString, OsString)]) -> Result<Vec<Vec<u8>>, ClientError> {
    let invalid = |reason: String| Err(ClientError::Invalid { reason });
    if variables.len() > MAX_ENV {
        return invalid(format!(
            "{} variables set explicitly, more than the limit {MAX_ENV}",
            variables.len()
        ));
    }
    let mut entries = Vec::with_capacity(variables.len());
    for (name, value) in variables {
        let shown = name.to_string_lossy();
        if !is_valid_explicit_name(name.as_bytes()) {
            return invalid(format!(
                "{shown:?} is not a variable name (it must not be empty nor contain '=' or a NUL byte)"
            ));
        }
        if value.as_bytes().contains(&0) {
            return invalid(format!("the value of {shown} contains a NUL byte"));
        }
        let entry = entry(name, value);
        if entry.len() > MAX_ARG_LEN {
            return invalid(format!(
                "{shown}=VALUE is {} bytes, more than the limit {MAX_ARG_LEN}",
                entry.len()
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// The exact working directory as the wire carries it, or why it cannot be sent.
fn exact_dir_bytes(dir: &Path) -> Result<Vec<u8>, ClientError> {
    let bytes = dir.as_os_str().as_bytes();
    let problem = if !dir.is_absolute() {
        "is not an absolute path"
    } else if bytes.contains(&0) {
        "contains a NUL byte"
    } else if bytes.len() > MAX_PATH_LEN {
        "is longer than a path may be"
    } else {
        return Ok(bytes.to_vec());
    };
    Err(ClientError::Invalid {
        reason: format!(
            "the working directory {} {problem} (a directory in the container, such as /tmp)",
            dir.display()
        ),
    })
}

/// The request for `invocation` and the descriptors that go with it: this process's standard
/// streams, except those on the program's terminal (the caller's terminal made the program's
/// pty stays here) and those a pipe stands in for (its program end goes instead).
fn request<'s>(
    invocation: &Invocation<'_>,
    streams: &'s Streams,
) -> Result<(Request, Vec<BorrowedFd<'s>>), ClientError> {
    let on_terminal = streams
        .terminal
        .as_ref()
        .map_or(0, |settings| settings.streams);
    let mut attached = 0;
    let mut fds = Vec::new();
    for ((bit, fd), pipe) in [
        (STREAM_STDIN, rustix::stdio::stdin()),
        (STREAM_STDOUT, rustix::stdio::stdout()),
        (STREAM_STDERR, rustix::stdio::stderr()),
    ]
    .into_iter()
    .zip(&streams.pipes.program)
    {
        if on_terminal & bit != 0 {
            continue;
        }
        if let Some(pipe) = pipe {
            attached |= bit;
            fds.push(pipe.as_fd());
        } else if is_open(fd) {
            attached |= bit;
            fds.push(fd);
        }
    }
    let environment = invocation
        .environment
        .iter()
        .filter(|(name, _)| name.to_str().is_some_and(is_forwarded))
        .map(|(name, value)| entry(name, value))
        .filter(|entry| !entry.contains(&0))
        .collect();
    let exact_working_dir = invocation
        .exact_working_dir
        .map(exact_dir_bytes)
        .transpose()?;
    let working_dirs = if exact_working_dir.is_some() {
        Vec::new()
    } else {
        invocation
            .working_dirs
            .iter()
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.as_os_str().as_bytes().to_vec())
            .take(MAX_WORKING_DIRS)
            .collect()
    };
    let request = Request {
        streams: attached,
        login_shell: invocation.argv.is_empty(),
        argv: invocation
            .argv
            .iter()
            .map(|arg| arg.as_bytes().to_vec())
            .collect(),
        working_dirs,
        environment,
        terminal: streams.terminal.clone(),
        explicit_environment: explicit_entries(invocation.explicit_environment)?,
        exact_working_dir,
    };
    Ok((request, fds))
}

/// Whether `request` uses what an agent from before terminals, login shells or the exec options
/// refuses (so that its refusal means "too old", not "malformed").
fn uses_extensions(request: &Request) -> bool {
    request.terminal.is_some()
        || request.login_shell
        || !request.explicit_environment.is_empty()
        || request.exact_working_dir.is_some()
}

/// What one poll found ready.
struct Ready {
    socket: bool,
    signals: bool,
    /// The relay's descriptors (when relaying).
    relayed: Vec<(Endpoint, PollFlags)>,
}

/// The relay to start once the program runs.
enum Planned {
    /// To the pty whose master `Started` brings.
    Pty,
    /// To the pipes standing in for the caller's terminal descriptors (stdin, stdout, stderr).
    Pipes([Option<OwnedFd>; 3]),
}

/// One program's run, from the request sent to its end.
struct Exchange<'a> {
    stream: &'a UnixStream,
    /// The forwarded signals, blocked and read here.
    signals: OwnedFd,
    /// The relay to start once the program runs (a terminal was asked for: `Started` brings its
    /// master).
    planned: Option<Planned>,
    /// The request uses what an agent older than terminals, login shells or the exec options
    /// refuses.
    uses_extensions: bool,
    /// What the caller hears when the exact working directory is not one in the container.
    no_working_dir: Option<String>,
    /// The relay to the program's terminal, once it runs on one.
    relay: Option<Relay>,
    /// Bytes of the agent's messages not yet taken as frames.
    buffer: Vec<u8>,
    /// Descriptors that came with them (the pty's master).
    received: Vec<OwnedFd>,
}

impl<'a> Exchange<'a> {
    /// Sends the request for `invocation` (with the terminal settings when the program runs on a
    /// terminal); the forwarded signals must be blocked already.
    fn begin(stream: &'a UnixStream, invocation: &Invocation<'_>) -> Result<Self, ClientError> {
        let signals = sys::signal_fd(&FORWARDED_SIGNALS).map_err(io_error("signalfd"))?;
        let streams = Streams::of(invocation)?;
        let (request, fds) = request(invocation, &streams)?;
        let uses_extensions = uses_extensions(&request);
        let frame = encode_client_message(&ClientMessage::Request(request));
        send_frame(stream, &frame, &fds).map_err(io_error("sending the request to the agent"))?;
        drop(fds);
        // The program's ends of the pipes went with the request: closing this process's copies
        // lets their ends be seen (the program's output ending, its input closed).
        let planned = if streams.terminal.is_some() {
            Some(Planned::Pty)
        } else if !streams.pipes.is_empty() {
            Some(Planned::Pipes(streams.pipes.ours))
        } else {
            None
        };
        let no_working_dir = invocation.exact_working_dir.map(|dir| {
            format!(
                "no directory {} in the container {}",
                dir.display(),
                container_name(invocation.definition)
            )
        });
        Ok(Exchange {
            stream,
            signals,
            planned,
            uses_extensions,
            no_working_dir,
            relay: None,
            buffer: Vec::new(),
            received: Vec::new(),
        })
    }

    /// Follows the program until it ends: forwards signals, relays its terminal, reads the
    /// agent's messages.
    fn follow(mut self, on_note: &mut dyn FnMut(&WorkingDirNote)) -> Result<Outcome, ClientError> {
        loop {
            let ready = self.wait()?;
            if ready.signals {
                self.forward_signals()?;
            }
            if let Some(relay) = self.relay.as_mut() {
                relay.on_ready(&ready.relayed);
            }
            if ready.socket
                && let Some(outcome) = self.read_messages(on_note)?
            {
                return Ok(outcome);
            }
        }
    }

    /// Waits until the socket, the signals or the relayed streams have something.
    fn wait(&self) -> Result<Ready, ClientError> {
        let mut poll = vec![
            PollFd::new(self.stream, PollFlags::IN),
            PollFd::new(&self.signals, PollFlags::IN),
        ];
        let (endpoints, relayed): (Vec<Endpoint>, Vec<PollFd<'_>>) = self
            .relay
            .as_ref()
            .map(Relay::poll_fds)
            .unwrap_or_default()
            .into_iter()
            .unzip();
        poll.extend(relayed);
        match rustix::event::poll(&mut poll, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(io_error("poll")(error.into())),
        }
        Ok(Ready {
            socket: !poll[0].revents().is_empty(),
            signals: !poll[1].revents().is_empty(),
            relayed: endpoints
                .into_iter()
                .zip(poll[2..].iter().map(PollFd::revents))
                .collect(),
        })
    }

    /// Passes the queued signals on to the program; a window change resizes the pty instead
    /// (the kernel tells the program), and SIGCONT resumes the relay first (a caller's terminal
    /// back into raw mode for a pty).
    fn forward_signals(&mut self) -> Result<(), ClientError> {
        let mut records = [0u8; sys::SIGNALFD_SIGINFO_SIZE * 8];
        // Nothing to read (another wake-up took it) or interrupted: nothing to forward now.
        let Ok(count) = rustix::io::read(&self.signals, &mut records) else {
            return Ok(());
        };
        for signal in sys::signals_in(&records[..count]) {
            if let Some(relay) = self.relay.as_mut() {
                match signal {
                    libc::SIGWINCH if relay.on_pty() => {
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
            send_frame(self.stream, &frame, &[])
                .map_err(io_error("forwarding a signal to the agent"))?;
        }
        Ok(())
    }

    /// Reads what the agent sent and handles each whole message; `Some` once the program ended.
    fn read_messages(
        &mut self,
        on_note: &mut dyn FnMut(&WorkingDirNote),
    ) -> Result<Option<Outcome>, ClientError> {
        let received = receive(self.stream, &mut self.buffer, &mut self.received)
            .map_err(io_error("reading from the agent"))?;
        while let Some(payload) = take_frame(&mut self.buffer).map_err(bad_answer)? {
            let message = parse_agent_message(&payload).map_err(bad_answer)?;
            if let Some(outcome) = self.on_message(message, on_note)? {
                return Ok(Some(outcome));
            }
        }
        if received == Received::Closed {
            return Err(io_error("reading from the agent")(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the agent closed the connection before the program ended",
            )));
        }
        Ok(None)
    }

    /// Handles one message of the agent; `Some` when it says how the program ended.
    fn on_message(
        &mut self,
        message: AgentMessage,
        on_note: &mut dyn FnMut(&WorkingDirNote),
    ) -> Result<Option<Outcome>, ClientError> {
        match message {
            AgentMessage::Started {
                working_dir_shared,
                running_in,
            } => {
                self.started()?;
                if !working_dir_shared {
                    on_note(&WorkingDirNote {
                        running_in: (!running_in.is_empty())
                            .then(|| PathBuf::from(OsStr::from_bytes(&running_in))),
                    });
                }
                Ok(None)
            }
            // The program stopped (Ctrl-Z): stop too, so the caller's shell regains the terminal
            // (as it was before the program); its `fg` sends SIGCONT, which is forwarded.
            AgentMessage::Stopped(_) => {
                if let Some(relay) = self.relay.as_mut() {
                    relay.suspend();
                }
                sys::stop_self();
                Ok(None)
            }
            AgentMessage::Exited(code) => {
                self.finish_relay();
                Ok(Some(Outcome::Exited(u8::try_from(code).unwrap_or(u8::MAX))))
            }
            AgentMessage::Signaled { signal, .. } => {
                self.finish_relay();
                Ok(Some(Outcome::Signaled(signal)))
            }
            // An agent started before terminals, login shells or the exec options existed
            // refuses their flags; nothing ran, so the API path can take over until the
            // container is restarted with the current agent.
            AgentMessage::Refused {
                kind: RefusalKind::Malformed | RefusalKind::Version,
                message,
            } if self.uses_extensions => Err(ClientError::NoAgent {
                reason: format!(
                    "the container's agent refused a request for a terminal, the login shell, \
                     explicit variables or a working directory ({message}); it predates them: \
                     restarting the container updates it"
                ),
            }),
            AgentMessage::Refused {
                kind: kind @ RefusalKind::NoWorkingDir,
                message,
            } => Err(ClientError::Refused {
                kind,
                message: self.no_working_dir.take().unwrap_or(message),
            }),
            AgentMessage::Refused { kind, message } => Err(ClientError::Refused { kind, message }),
        }
    }

    /// The program runs: on a terminal the relay to the master `Started` brought starts, on
    /// pipes the relay to them.
    fn started(&mut self) -> Result<(), ClientError> {
        self.relay = match self.planned.take() {
            None => return Ok(()),
            Some(Planned::Pty) => {
                let master = self.received.pop().filter(|_| self.received.is_empty());
                let master = master.ok_or_else(|| bad_answer("the agent sent no terminal"))?;
                Some(Relay::pty(master).map_err(io_error("putting the terminal in raw mode"))?)
            }
            Some(Planned::Pipes([stdin, stdout, stderr])) => Some(
                Relay::pipes(stdin, stdout, stderr)
                    .map_err(io_error("relaying the program's pipes"))?,
            ),
        };
        Ok(())
    }

    /// Relays the program's last output and puts the caller's terminal back.
    fn finish_relay(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use horizon_agent_protocol::transport::read_frame;
    use horizon_agent_protocol::wire::encode_agent_message;

    use super::*;

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

    /// `argv` in "tools", with no option.
    fn plain(argv: &[OsString]) -> Invocation<'_> {
        Invocation {
            definition: "tools",
            argv,
            working_dirs: &[],
            environment: &[],
            explicit_environment: &[],
            exact_working_dir: None,
            terminal: TerminalChoice::Auto,
        }
    }

    /// `invocation` run against an agent that refuses it with `kind`.
    fn run_refused(kind: RefusalKind, invocation: &Invocation<'_>) -> Result<Outcome, ClientError> {
        let (stream, agent) = refusing_agent(kind);
        let result = run(&stream, invocation, &mut |_| {});
        agent.join().unwrap();
        result
    }

    #[test]
    fn an_agent_too_old_for_the_request_sends_the_client_to_the_api_path() {
        let argv = ["true".into()];
        let explicit = [("LD_PRELOAD".into(), "/opt/x.so".into())];
        let extensions = [
            // The login shell.
            Invocation {
                argv: &[],
                ..plain(&argv)
            },
            Invocation {
                explicit_environment: &explicit,
                ..plain(&argv)
            },
            Invocation {
                exact_working_dir: Some(Path::new("/srv")),
                ..plain(&argv)
            },
        ];
        // Each is an extension: its refusal means "no agent for this" (nothing ran).
        for invocation in &extensions {
            assert!(matches!(
                run_refused(RefusalKind::Malformed, invocation),
                Err(ClientError::NoAgent { reason }) if reason.contains("predates")
            ));
        }
        // A plain request refused stays a refusal: the API path would refuse it too (and so does
        // `-T` without a terminal, which asks the agent for nothing new).
        for terminal in [TerminalChoice::Auto, TerminalChoice::Never] {
            let invocation = Invocation {
                terminal,
                ..plain(&argv)
            };
            assert!(matches!(
                run_refused(RefusalKind::Malformed, &invocation),
                Err(ClientError::Refused {
                    kind: RefusalKind::Malformed,
                    ..
                })
            ));
        }
    }

    /// An exact directory that is not one in the container: a failure of the call (125), saying
    /// which directory in which container.
    #[test]
    fn a_missing_exact_directory_is_named_with_the_container() {
        let argv = ["true".into()];
        let invocation = Invocation {
            exact_working_dir: Some(Path::new("/x")),
            ..plain(&argv)
        };
        let result = run_refused(RefusalKind::NoWorkingDir, &invocation);
        let Err(error) = result else {
            panic!("{result:?}")
        };
        assert_eq!(
            error.to_string(),
            "no directory /x in the container horizonos-tools"
        );
        assert_eq!(error.exit_status(), crate::EXEC_FAILURE);
    }

    /// Options that cannot be sent are refused before the agent is asked.
    #[test]
    fn options_that_cannot_be_sent_are_invalid() {
        let argv = ["true".into()];
        let invalid = |invocation: Invocation<'_>| {
            let streams = Streams::of(&invocation).unwrap();
            match request(&invocation, &streams) {
                Err(ClientError::Invalid { reason }) => reason,
                other => panic!("{other:?}"),
            }
        };
        let explicit = |variables: &[(OsString, OsString)]| {
            invalid(Invocation {
                explicit_environment: variables,
                ..plain(&argv)
            })
        };
        let not_a_name = |name: &str| {
            format!(
                "{name:?} is not a variable name (it must not be empty nor contain '=' or a NUL byte)"
            )
        };
        assert_eq!(explicit(&[(OsString::new(), "x".into())]), not_a_name(""));
        assert_eq!(explicit(&[("A=B".into(), "x".into())]), not_a_name("A=B"));
        assert_eq!(
            explicit(&[("A".into(), "x\0y".into())]),
            "the value of A contains a NUL byte"
        );
        assert_eq!(
            explicit(&vec![("A".into(), "x".into()); MAX_ENV + 1]),
            "257 variables set explicitly, more than the limit 256"
        );
        assert_eq!(
            invalid(Invocation {
                exact_working_dir: Some(Path::new("srv")),
                ..plain(&argv)
            }),
            "the working directory srv is not an absolute path (a directory in the container, \
             such as /tmp)"
        );
    }

    /// A terminal for a caller without one is as large as LINES and COLUMNS say, else 24×80.
    #[test]
    fn a_forced_terminal_is_sized_from_lines_and_columns() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs
                .iter()
                .map(|(name, value)| ((*name).into(), (*value).into()))
                .collect()
        };
        assert_eq!(default_size(&[]), (24, 80));
        assert_eq!(
            default_size(&env(&[("LINES", "50"), ("COLUMNS", "132")])),
            (50, 132)
        );
        assert_eq!(
            default_size(&env(&[("LINES", "0"), ("COLUMNS", "wide")])),
            (24, 80)
        );
    }
}
