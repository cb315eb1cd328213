//! The agent's serving loop: PID 1 of a managed container. One thread, one poll loop over the
//! listening socket, a signalfd and the clients' connections; it never blocks on a client.
//!
//! A connection sends one request with the caller's stdin, stdout and stderr attached; the agent
//! starts its program ([`crate::launch`]) and reports `Started` (with the pty's master when the
//! caller asked for a terminal). Signals the client forwards go to the program's process group; a
//! client that goes away takes its program with it (SIGKILL, as if the caller had been the
//! program). The exit status, death by a signal, and job-control stops go back to the client.
//!
//! As init it reaps every process that ends in the container, and the stop signal (SIGTERM from
//! `podman stop`) is passed to every running program; the agent exits when the last one has ended.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use horizon_agent_protocol::sys::{SIGNALFD_SIGINFO_SIZE, block, signal_fd, signals_in};
use horizon_agent_protocol::transport::{Received, receive, send_frame, take_frame};
use horizon_agent_protocol::wire::{
    AgentMessage, ClientMessage, ProtocolError, RefusalKind, Request, encode_agent_message,
    parse_client_message,
};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::launch::{self, AgentConfig, Refusal, Started};
use crate::sys;

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
/// The socket's mode when the directory above it decides who may reach it (a shared agent).
const SHARED_SOCKET_MODE: u32 = 0o666;
/// The socket's mode when only the agent's own uid is served.
const PRIVATE_SOCKET_MODE: u32 = 0o600;
/// The most connections at once; beyond it new ones wait in the listen backlog.
const MAX_CONNECTIONS: usize = 512;
/// How often the loop wakes without events (to expire silent connections).
const TICK: Duration = Duration::from_secs(1);

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

/// What a receiving connection has delivered so far.
enum Arrival {
    /// Not a whole request yet.
    Incomplete,
    /// The client went away before it asked for anything.
    Closed,
    /// What arrived is not a request the agent runs.
    Refused(Refusal),
    /// A whole request and the descriptors that came with it.
    Request(Request, Vec<OwnedFd>),
}

/// What one poll found ready.
struct Ready {
    signals: bool,
    listener: bool,
    /// The connections with something to read.
    streams: Vec<u64>,
}

/// The agent's state between polls.
struct Agent<'a> {
    listener: UnixListener,
    signals: OwnedFd,
    config: &'a AgentConfig,
    connections: HashMap<u64, Connection>,
    next_id: u64,
    /// Told to stop: no new connections; done when the last program has ended.
    stopping: bool,
}

/// Serves on `listener` until told to stop and every program has ended.
pub fn serve(listener: UnixListener, config: &AgentConfig) -> io::Result<()> {
    block(&HANDLED_SIGNALS)?;
    let signals = signal_fd(&HANDLED_SIGNALS)?;
    listener.set_nonblocking(true)?;
    let mut agent = Agent {
        listener,
        signals,
        config,
        connections: HashMap::new(),
        next_id: 0,
        stopping: false,
    };
    while !agent.done() {
        let ready = agent.wait()?;
        if ready.signals {
            agent.on_signals();
        }
        if ready.listener {
            agent.accept_all();
        }
        for id in ready.streams {
            agent.service(id);
        }
        agent.expire_silent();
    }
    Ok(())
}

impl Agent<'_> {
    fn done(&self) -> bool {
        self.stopping
            && !self
                .connections
                .values()
                .any(|connection| matches!(connection.state, State::Running { .. }))
    }

    /// New connections are taken while not stopping and below [`MAX_CONNECTIONS`].
    fn accepting(&self) -> bool {
        !self.stopping && self.connections.len() < MAX_CONNECTIONS
    }

    /// Waits (at most a [`TICK`]) until a signal, a connection or a client has something.
    fn wait(&self) -> io::Result<Ready> {
        let ids: Vec<u64> = self.connections.keys().copied().collect();
        let accepting = self.accepting();
        let mut fds = Vec::with_capacity(ids.len() + 2);
        fds.push(PollFd::new(&self.signals, PollFlags::IN));
        if accepting {
            fds.push(PollFd::new(&self.listener, PollFlags::IN));
        }
        for id in &ids {
            fds.push(PollFd::new(&self.connections[id].stream, PollFlags::IN));
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
        let offset = if accepting { 2 } else { 1 };
        Ok(Ready {
            signals: ready(&fds[0]),
            listener: accepting && ready(&fds[1]),
            streams: ids
                .iter()
                .enumerate()
                .filter(|(index, _)| ready(&fds[offset + index]))
                .map(|(_, id)| *id)
                .collect(),
        })
    }

    /// SIGCHLD: reap. Anything else is the stop signal: pass SIGTERM to every program and stop
    /// taking new ones.
    fn on_signals(&mut self) {
        for signal in read_signals(&self.signals) {
            if signal == libc::SIGCHLD {
                reap(&mut self.connections);
                continue;
            }
            self.stopping = true;
            for connection in self.connections.values() {
                if let State::Running { pid, .. } = connection.state {
                    signal_group(pid, libc::SIGTERM);
                }
            }
        }
    }

    fn accept_all(&mut self) {
        while self.connections.len() < MAX_CONNECTIONS {
            let stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                // A connection that failed while queued (reset): the next one may be fine.
                Err(_) => return,
            };
            let (peer_uid, peer_gid) = match sys::peer_credentials(stream.as_fd()) {
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
            self.next_id += 1;
            let state = State::Receiving {
                buffer: Vec::new(),
                fds: Vec::new(),
                since: Instant::now(),
            };
            let connection = Connection {
                stream,
                peer_uid,
                peer_gid,
                state,
            };
            self.connections.insert(self.next_id, connection);
        }
    }

    /// Handles the readable connection `id`, and drops it when it is done with.
    fn service(&mut self, id: u64) {
        let keep = match self.connections.get_mut(&id) {
            Some(connection) => service(connection, self.config),
            None => true,
        };
        if !keep {
            self.connections.remove(&id);
        }
    }

    /// Drops connections that did not deliver their request in time.
    fn expire_silent(&mut self) {
        let now = Instant::now();
        self.connections
            .retain(|_, connection| match connection.state {
                State::Receiving { since, .. } => now.duration_since(since) < REQUEST_TIMEOUT,
                State::Running { .. } => true,
            });
    }
}

fn read_signals(signals: &OwnedFd) -> Vec<i32> {
    let mut records = [0u8; SIGNALFD_SIGINFO_SIZE * 16];
    match rustix::io::read(signals, &mut records) {
        Ok(count) => signals_in(&records[..count]).collect(),
        // Nothing queued (another wake-up took it), or interrupted: nothing to do now.
        Err(_) => Vec::new(),
    }
}

/// Handles a readable connection; false when it is done with.
fn service(connection: &mut Connection, config: &AgentConfig) -> bool {
    let arrival = match &mut connection.state {
        State::Receiving { buffer, fds, .. } => read_request(&connection.stream, buffer, fds),
        State::Running { pid, buffer } => return follow_program(&connection.stream, *pid, buffer),
    };
    match arrival {
        Arrival::Incomplete => true,
        Arrival::Closed => false,
        Arrival::Refused(refusal) => {
            refuse(connection, &refusal);
            false
        }
        Arrival::Request(request, fds) => start_program(connection, &request, fds, config),
    }
}

/// Takes what has arrived of the request: the whole request (its descriptors checked against
/// what it announces) once there.
fn read_request(stream: &UnixStream, buffer: &mut Vec<u8>, fds: &mut Vec<OwnedFd>) -> Arrival {
    let malformed =
        |message: String| Arrival::Refused(Refusal::new(RefusalKind::Malformed, message));
    match receive(stream, buffer, fds) {
        Ok(Received::Closed) => return Arrival::Closed,
        Ok(Received::WouldBlock | Received::Bytes(_)) => {}
        Err(error) => return malformed(error.to_string()),
    }
    let payload = match take_frame(buffer) {
        Ok(Some(payload)) => payload,
        Ok(None) => return Arrival::Incomplete,
        Err(error) => return malformed(error.to_string()),
    };
    let fds = std::mem::take(fds);
    let request = match parse_client_message(&payload) {
        Ok(ClientMessage::Request(request)) => request,
        Ok(ClientMessage::Signal(_)) => return malformed("a signal before any request".to_owned()),
        Err(error) => {
            let kind = match error {
                ProtocolError::Version(_) => RefusalKind::Version,
                _ => RefusalKind::Malformed,
            };
            return Arrival::Refused(Refusal::new(kind, error.to_string()));
        }
    };
    if request.stream_count() != fds.len() {
        return malformed(format!(
            "the request announces {} streams but carries {} descriptors",
            request.stream_count(),
            fds.len()
        ));
    }
    Arrival::Request(request, fds)
}

/// Starts the request's program and tells the client; false when it did not start.
fn start_program(
    connection: &mut Connection,
    request: &Request,
    fds: Vec<OwnedFd>,
    config: &AgentConfig,
) -> bool {
    let started = launch::start(
        connection.peer_uid,
        connection.peer_gid,
        request,
        fds,
        config,
    );
    let Started {
        pid,
        message,
        master,
    } = match started {
        Ok(started) => started,
        Err(refusal) => {
            refuse(connection, &refusal);
            return false;
        }
    };
    // The master goes with `Started` and is closed here: the client holds the only copy, so the
    // program sees a hangup when the caller goes away.
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

/// Passes the signals the client forwards on to the program `pid`; false (and the program
/// killed) when the client went away or broke the protocol.
fn follow_program(stream: &UnixStream, pid: i32, buffer: &mut Vec<u8>) -> bool {
    let mut stray = Vec::new();
    let received = receive(stream, buffer, &mut stray);
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

fn send(stream: &UnixStream, message: &AgentMessage) -> io::Result<()> {
    send_frame(stream, &encode_agent_message(message), &[])
}

/// A line in the container's log (the agent's stderr, which Podman keeps).
fn log(message: &str) {
    use std::io::Write;
    // Nowhere else to report a failing log.
    let _ = writeln!(io::stderr(), "horizon-agent: {message}");
}

fn refuse(connection: &Connection, refusal: &Refusal) {
    log(&format!(
        "refused a request of uid {}: {}",
        connection.peer_uid, refusal.message
    ));
    let refusal = AgentMessage::Refused {
        kind: refusal.kind,
        message: refusal.message.clone(),
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

/// Binds the agent's socket at `path` (removing one a previous run left): readable and writable by
/// everyone, the directory's mode deciding who may reach it, or by the agent's uid alone when
/// `private`.
pub fn bind(path: &Path, private: bool) -> io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = UnixListener::bind(path)?;
    let mode = if private {
        PRIVATE_SOCKET_MODE
    } else {
        SHARED_SOCKET_MODE
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}
