//! Running a program through the agent: the request (argv, working directory, the allowlisted
//! environment, this process's standard streams, the caller's terminal settings), then the
//! exchange until the program ends — signals forwarded, the program's terminal relayed, its
//! job-control stops followed, and how it ended returned.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use horizon_agent_protocol::environment::is_forwarded;
use horizon_agent_protocol::naming::container_name;
use horizon_agent_protocol::sys;
use horizon_agent_protocol::terminal::read_settings;
use horizon_agent_protocol::transport::{Received, receive, send_frame, take_frame};
use horizon_agent_protocol::wire::{
    AgentMessage, ClientMessage, FORWARDED_SIGNALS, MAX_WORKING_DIRS, RefusalKind, Request,
    STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT, TerminalSettings, encode_client_message,
    parse_agent_message,
};
use rustix::event::{PollFd, PollFlags};

use crate::ClientError;
use crate::relay::Relay;
use crate::terminal::caller_terminal;
use crate::working_dir::{WorkingDirNote, caller_working_dirs, print_working_dir_note};

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
    /// on one ([`caller_terminal`]): for interactive use (a shell, an editor, a password prompt
    /// on `/dev/tty`, Ctrl-Z).
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

/// Runs `argv` (empty: the login shell) in `definition`'s container through the agent on
/// `stream`, as this process would run it natively: from its directory ([`caller_working_dirs`]),
/// with its environment and standard streams, on a pty when it is on a terminal; a note that the
/// directory is not shared goes to stderr, naming the definition's container.
pub fn run_as_this_process(
    stream: &UnixStream,
    definition: &str,
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
    let container = container_name(definition);
    run(stream, &invocation, &mut |note| {
        print_working_dir_note(note, caller_dir, &container);
    })
}

/// Runs `invocation` through the agent on `stream` (from [`crate::connect`]) and returns how the
/// program ended. `on_note` hears when the caller's directory is not shared. Signals are blocked
/// and forwarded while the program runs, and unblocked before this returns. With
/// [`Invocation::terminal`] and a caller on a terminal ([`caller_terminal`]) the program runs on
/// a pty and this relays between it and the caller's terminal.
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
            .take(MAX_WORKING_DIRS)
            .collect(),
        environment,
        terminal,
    };
    (request, fds)
}

/// What one poll found ready.
struct Ready {
    socket: bool,
    signals: bool,
    /// The caller's terminal (when relayed).
    input: PollFlags,
    /// The pty's master (when relayed).
    master: PollFlags,
}

/// One program's run, from the request sent to its end.
struct Exchange<'a> {
    stream: &'a UnixStream,
    /// The forwarded signals, blocked and read here.
    signals: OwnedFd,
    /// A terminal was asked for: `Started` brings its master.
    wants_terminal: bool,
    /// The request uses what an agent older than terminals and login shells refuses.
    uses_extensions: bool,
    /// The relay to the program's terminal, once it runs on one.
    relay: Option<Relay>,
    /// Bytes of the agent's messages not yet taken as frames.
    buffer: Vec<u8>,
    /// Descriptors that came with them (the pty's master).
    received: Vec<OwnedFd>,
}

impl<'a> Exchange<'a> {
    /// Sends the request for `invocation` (with the caller's terminal settings when it asks for a
    /// terminal and has one); the forwarded signals must be blocked already.
    fn begin(stream: &'a UnixStream, invocation: &Invocation<'_>) -> Result<Self, ClientError> {
        let signals = sys::signal_fd(&FORWARDED_SIGNALS).map_err(io_error("signalfd"))?;
        let settings = match invocation.terminal.then(caller_terminal).flatten() {
            Some(streams) => Some(
                read_settings(rustix::stdio::stdin(), streams)
                    .map_err(io_error("reading the terminal's settings"))?,
            ),
            None => None,
        };
        let wants_terminal = settings.is_some();
        let uses_extensions = wants_terminal || invocation.argv.is_empty();
        let (request, fds) = request(invocation, settings);
        let frame = encode_client_message(&ClientMessage::Request(request));
        send_frame(stream, &frame, &fds).map_err(io_error("sending the request to the agent"))?;
        Ok(Exchange {
            stream,
            signals,
            wants_terminal,
            uses_extensions,
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
                relay.on_ready(ready.input, ready.master);
            }
            if ready.socket
                && let Some(outcome) = self.read_messages(on_note)?
            {
                return Ok(outcome);
            }
        }
    }

    /// Waits until the socket, the signals or the relayed terminal has something.
    fn wait(&self) -> Result<Ready, ClientError> {
        let mut poll = vec![
            PollFd::new(self.stream, PollFlags::IN),
            PollFd::new(&self.signals, PollFlags::IN),
        ];
        let relayed = self.relay.as_ref().map(Relay::poll_fds);
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
        let revents = |slot: Option<usize>| slot.map_or(PollFlags::empty(), |i| poll[i].revents());
        Ok(Ready {
            socket: !poll[0].revents().is_empty(),
            signals: !poll[1].revents().is_empty(),
            input: revents(slots[0]),
            master: revents(slots[1]),
        })
    }

    /// Passes the queued signals on to the program; a window change resizes the pty instead
    /// (the kernel tells the program), and SIGCONT takes the terminal back into raw mode first.
    fn forward_signals(&mut self) -> Result<(), ClientError> {
        let mut records = [0u8; sys::SIGNALFD_SIGINFO_SIZE * 8];
        // Nothing to read (another wake-up took it) or interrupted: nothing to forward now.
        let Ok(count) = rustix::io::read(&self.signals, &mut records) else {
            return Ok(());
        };
        for signal in sys::signals_in(&records[..count]) {
            if let Some(relay) = self.relay.as_mut() {
                match signal {
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
            // An agent started before terminals and login shells existed refuses their flags;
            // nothing ran, so the API path can take over until the container is restarted with
            // the current agent.
            AgentMessage::Refused {
                kind: RefusalKind::Malformed | RefusalKind::Version,
                message,
            } if self.uses_extensions => Err(ClientError::NoAgent {
                reason: format!(
                    "the container's agent refused a terminal or login-shell request \
                     ({message}); it predates them: restarting the container updates it"
                ),
            }),
            AgentMessage::Refused { kind, message } => Err(ClientError::Refused { kind, message }),
        }
    }

    /// The program runs: on a terminal, the relay to the master `Started` brought starts.
    fn started(&mut self) -> Result<(), ClientError> {
        if !self.wants_terminal {
            return Ok(());
        }
        let master = self.received.pop().filter(|_| self.received.is_empty());
        let master = master.ok_or_else(|| bad_answer("the agent sent no terminal"))?;
        self.relay =
            Some(Relay::start(master).map_err(io_error("putting the terminal in raw mode"))?);
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
