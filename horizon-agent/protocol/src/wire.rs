//! The agent's wire protocol, version 1: length-prefixed frames over a unix stream socket, each
//! a little-endian `u32` payload length followed by the payload, whose first byte is the message
//! kind. The client sends one [`Request`] (with its stdin, stdout and stderr attached as
//! SCM_RIGHTS) and then [`ClientMessage::Signal`]s; the agent answers with
//! [`AgentMessage::Started`] (with the master of the program's pseudo-terminal attached when the
//! request asked for one: [`TerminalSettings`]), then [`AgentMessage::Stopped`] any number of times, then one
//! [`AgentMessage::Exited`] or [`AgentMessage::Signaled`] — or a single [`AgentMessage::Refused`].
//!
//! A request is its base fields, then one field per flag that has one, in the order of the flag
//! bits: the terminal settings ([`FLAG_TERMINAL`]), the explicit environment
//! ([`FLAG_EXPLICIT_ENVIRONMENT`]), the exact working directory ([`FLAG_EXACT_WORKING_DIR`]). A
//! request without a flag is byte for byte what an agent that predates the flag reads, and an
//! agent that predates a flag refuses it as a reserved bit — nothing runs, so the client can
//! take the API path instead.
//!
//! Parsing is strict and bounded: every length is checked against the bytes present and against
//! the limits below before anything is allocated, unknown kinds and versions, reserved bits,
//! trailing bytes, NUL bytes in strings that become C strings, relative working directories,
//! forwarded variables outside the allowlist and explicit ones without a name are all errors. A malformed request is answered
//! with `Refused`, never with a crash (the parser is fuzzed: `scripts/fuzz-agent`).

use std::fmt;

use crate::environment::{is_forwarded, is_valid_explicit_name};

/// The protocol version this build speaks (a request carries it; any other is refused).
pub const PROTOCOL_VERSION: u16 = 1;
/// The largest payload of one frame: Linux's own argv + environment limit (`ARG_MAX` is a
/// quarter of the 8 MiB default stack, 2 MiB) with room for the framing.
pub const MAX_FRAME: usize = 4 << 20;
/// Bytes of the length prefix.
pub const FRAME_HEADER: usize = 4;
/// The most arguments (each is at least a length word; the frame bound applies too).
pub const MAX_ARGS: usize = 1 << 17;
/// The longest argument: Linux's `MAX_ARG_STRLEN` (32 pages) without the terminating NUL.
pub const MAX_ARG_LEN: usize = 32 * 4096 - 1;
/// The most working-directory candidates (the logical `$PWD`, then the physical directory).
pub const MAX_WORKING_DIRS: usize = 4;
/// The longest path (`PATH_MAX` without its NUL).
pub const MAX_PATH_LEN: usize = 4095;
/// The most environment entries a request may carry in each of its lists, the forwarded and the
/// explicit one (the allowlist is far shorter, but `LC_*` is open-ended; 256 `-e` options are
/// more than anyone types).
pub const MAX_ENV: usize = 256;
/// The longest message in a refusal.
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The file descriptors a request may carry: stdin, stdout, stderr.
pub const MAX_FDS: usize = 3;

const KIND_REQUEST: u8 = 1;
const KIND_SIGNAL: u8 = 2;
const KIND_STARTED: u8 = 16;
const KIND_EXITED: u8 = 17;
const KIND_SIGNALED: u8 = 18;
const KIND_STOPPED: u8 = 19;
const KIND_REFUSED: u8 = 20;

/// The bits of [`Request::streams`]: which of the caller's standard streams are attached.
pub const STREAM_STDIN: u8 = 1;
/// See [`STREAM_STDIN`].
pub const STREAM_STDOUT: u8 = 2;
/// See [`STREAM_STDIN`].
pub const STREAM_STDERR: u8 = 4;
const STREAM_ALL: u8 = STREAM_STDIN | STREAM_STDOUT | STREAM_STDERR;

/// The bit of the request's flags that asks for a pseudo-terminal ([`TerminalSettings`]).
pub const FLAG_TERMINAL: u8 = 1;
/// The bit of the request's flags that asks for the caller's interactive login shell in the
/// container instead of a program (`argv` is then empty): the agent picks it from the
/// container's user database ([`crate::users::interactive_shell`]).
pub const FLAG_LOGIN_SHELL: u8 = 2;
/// The bit of the request's flags that says an explicit environment follows
/// ([`Request::explicit_environment`]: `-e NAME=VALUE`).
pub const FLAG_EXPLICIT_ENVIRONMENT: u8 = 4;
/// The bit of the request's flags that says an exact working directory follows
/// ([`Request::exact_working_dir`]: `-w DIR`).
pub const FLAG_EXACT_WORKING_DIR: u8 = 8;
/// The flags this parser accepts (the `before-terminals` test build accepts none, standing for an
/// agent older than terminals, login shells and the exec options).
const FLAGS_ALL: u8 = if cfg!(feature = "before-terminals") {
    0
} else {
    FLAG_TERMINAL | FLAG_LOGIN_SHELL | FLAG_EXPLICIT_ENVIRONMENT | FLAG_EXACT_WORKING_DIR
};
/// The special characters a terminal request carries, in Linux's `c_cc` order of the named ones:
/// VINTR VQUIT VERASE VKILL VEOF VTIME VMIN VSWTC VSTART VSTOP VSUSP VEOL VREPRINT VDISCARD
/// VWERASE VLNEXT VEOL2.
pub const SPECIAL_CODES: usize = 17;

/// Highest signal number Linux has (real-time signals included).
pub const MAX_SIGNAL: i32 = 64;

/// Signals a client passes on to the program's process group as [`ClientMessage::Signal`] (the
/// terminal sends them to the client, which is in the caller's foreground job; the program is
/// not), and the session keeper passes on to the program's own group. SIGCONT also resumes the
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

/// "Run this program": everything but the descriptors, which travel beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which standard streams are attached, in order stdin, stdout, stderr ([`STREAM_STDIN`]…);
    /// a stream the caller has closed stays closed.
    pub streams: u8,
    /// The program and its arguments, byte for byte (argv\[0\] is looked up in `PATH`); empty
    /// for the login shell.
    pub argv: Vec<Vec<u8>>,
    /// Run the caller's interactive login shell ([`FLAG_LOGIN_SHELL`]).
    pub login_shell: bool,
    /// The caller's working directory on the host, most preferred first; the agent translates
    /// it through the container's bind mounts. Empty with [`Request::exact_working_dir`].
    pub working_dirs: Vec<Vec<u8>>,
    /// `NAME=VALUE` entries of the caller's environment (only allowlisted names).
    pub environment: Vec<Vec<u8>>,
    /// Run the program on a pseudo-terminal set up like the caller's terminal (`None`: the
    /// caller's descriptors as they are).
    pub terminal: Option<TerminalSettings>,
    /// `NAME=VALUE` entries the caller set deliberately (`-e`): any name, applied last, over the
    /// container's, the definition's and the forwarded variables ([`FLAG_EXPLICIT_ENVIRONMENT`]
    /// when not empty).
    pub explicit_environment: Vec<Vec<u8>>,
    /// The directory in the container to run in (`-w`), absolute, used as it is: no translation,
    /// no fallback; the request is refused when it is not a directory there
    /// ([`FLAG_EXACT_WORKING_DIR`]).
    pub exact_working_dir: Option<Vec<u8>>,
}

/// The caller's terminal, for the pseudo-terminal the agent makes: the program's streams named in
/// `streams` are its slave side (and it is the program's controlling terminal, so `/dev/tty`
/// works), the agent passes the master back with [`AgentMessage::Started`], and the client relays
/// between it and the caller's terminal. Settings and size are the caller's, so the program starts
/// with the same line discipline and window size it would have natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalSettings {
    /// Which standard streams are the terminal ([`STREAM_STDIN`]…): at least one, none of those
    /// attached as descriptors.
    pub streams: u8,
    /// `c_iflag`, `c_oflag`, `c_cflag`, `c_lflag`.
    pub modes: [u32; 4],
    /// `c_line`.
    pub line_discipline: u8,
    /// The special characters, in the order of [`SPECIAL_CODES`].
    pub special_codes: [u8; SPECIAL_CODES],
    /// Input and output baud rates.
    pub speeds: [u32; 2],
    /// Rows, columns, width and height in pixels.
    pub size: [u16; 4],
}

impl Request {
    /// How many descriptors accompany this request.
    pub fn stream_count(&self) -> usize {
        self.streams.count_ones() as usize
    }
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Run a program (the first message, and only then).
    Request(Request),
    /// Deliver this signal to the program's process group.
    Signal(i32),
}

/// Why the agent refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalKind {
    /// The request does not parse.
    Malformed,
    /// The request speaks another protocol version.
    Version,
    /// The caller may not run programs here.
    Permission,
    /// The program was not found (exit status 127, as a shell).
    NotFound,
    /// The program is not executable (exit status 126, as a shell).
    NotExecutable,
    /// Anything else that kept the program from starting.
    Failed,
    /// The exact working directory ([`Request::exact_working_dir`]) is not a directory in the
    /// container.
    NoWorkingDir,
}

impl RefusalKind {
    fn code(self) -> u8 {
        match self {
            RefusalKind::Malformed => 1,
            RefusalKind::Version => 2,
            RefusalKind::Permission => 3,
            RefusalKind::NotFound => 4,
            RefusalKind::NotExecutable => 5,
            RefusalKind::Failed => 6,
            RefusalKind::NoWorkingDir => 7,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => RefusalKind::Malformed,
            2 => RefusalKind::Version,
            3 => RefusalKind::Permission,
            4 => RefusalKind::NotFound,
            5 => RefusalKind::NotExecutable,
            6 => RefusalKind::Failed,
            7 => RefusalKind::NoWorkingDir,
            _ => return None,
        })
    }

    /// The exit status a shell would give for this (127 not found, 126 not executable), else
    /// `None` (a failure of horizon, not of the program).
    pub fn shell_status(self) -> Option<u8> {
        match self {
            RefusalKind::NotFound => Some(127),
            RefusalKind::NotExecutable => Some(126),
            _ => None,
        }
    }
}

/// What the agent sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// The program runs. `working_dir_shared` is false when none of the caller's directories is
    /// shared with the container; `running_in` is then where it runs (the user's home, or empty
    /// for `/`).
    Started {
        /// The caller's directory is the program's.
        working_dir_shared: bool,
        /// The program's working directory in the container.
        running_in: Vec<u8>,
    },
    /// The program was stopped by this signal (job control).
    Stopped(i32),
    /// The program exited with this status (0–255).
    Exited(i32),
    /// A signal ended the program.
    Signaled {
        /// The signal.
        signal: i32,
        /// It dumped core.
        core_dumped: bool,
    },
    /// The request was refused (nothing ran).
    Refused {
        /// Why.
        kind: RefusalKind,
        /// For a person.
        message: String,
    },
}

/// What is wrong with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame ends before a field does.
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A length or count is beyond its limit.
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its value.
        value: usize,
        /// The limit.
        limit: usize,
    },
    /// An unknown message kind.
    UnknownKind(u8),
    /// Another protocol version.
    Version(u16),
    /// A field holds a value it may not.
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Bytes follow the last field.
    TrailingBytes(usize),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Truncated { field } => write!(f, "the message ends inside {field}"),
            ProtocolError::TooLarge {
                field,
                value,
                limit,
            } => write!(f, "{field} is {value}, more than the limit {limit}"),
            ProtocolError::UnknownKind(kind) => write!(f, "unknown message kind {kind}"),
            ProtocolError::Version(version) => write!(
                f,
                "protocol version {version} is not spoken here (this agent speaks {PROTOCOL_VERSION})"
            ),
            ProtocolError::Invalid { field, reason } => write!(f, "{field}: {reason}"),
            ProtocolError::TrailingBytes(count) => {
                write!(f, "{count} bytes follow the end of the message")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A cursor over one payload.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.bytes.len() < count {
            return Err(ProtocolError::Truncated { field });
        }
        let (head, rest) = self.bytes.split_at(count);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ProtocolError> {
        let bytes = self.take(2, field)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ProtocolError> {
        let bytes = self.take(4, field)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, ProtocolError> {
        let bytes = self.take(4, field)?;
        Ok(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A count, checked against `limit` and against the bytes left (each item takes at least
    /// `min_item` bytes), so a huge count cannot make us allocate.
    fn count(
        &mut self,
        field: &'static str,
        limit: usize,
        min_item: usize,
    ) -> Result<usize, ProtocolError> {
        let value = self.u32(field)? as usize;
        if value > limit {
            return Err(ProtocolError::TooLarge {
                field,
                value,
                limit,
            });
        }
        if value.saturating_mul(min_item) > self.bytes.len() {
            return Err(ProtocolError::Truncated { field });
        }
        Ok(value)
    }

    fn bytes(&mut self, field: &'static str, limit: usize) -> Result<&'a [u8], ProtocolError> {
        let len = self.count(field, limit, 1)?;
        self.take(len, field)
    }

    fn list(
        &mut self,
        field: &'static str,
        limit: usize,
        item_limit: usize,
    ) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let count = self.count(field, limit, FRAME_HEADER)?;
        (0..count)
            .map(|_| self.bytes(field, item_limit).map(<[u8]>::to_vec))
            .collect()
    }

    fn finish(self) -> Result<(), ProtocolError> {
        match self.bytes.len() {
            0 => Ok(()),
            count => Err(ProtocolError::TrailingBytes(count)),
        }
    }
}

fn no_nul(field: &'static str, items: &[Vec<u8>]) -> Result<(), ProtocolError> {
    if items.iter().any(|item| item.contains(&0)) {
        return Err(ProtocolError::Invalid {
            field,
            reason: "contains a NUL byte",
        });
    }
    Ok(())
}

fn signal_number(signal: i32) -> Result<i32, ProtocolError> {
    if (1..=MAX_SIGNAL).contains(&signal) {
        Ok(signal)
    } else {
        Err(ProtocolError::Invalid {
            field: "signal",
            reason: "not a signal number (1-64)",
        })
    }
}

/// Checks the environment entries: `NAME=VALUE`, a name the allowlist forwards.
fn check_environment(entries: &[Vec<u8>]) -> Result<(), ProtocolError> {
    no_nul("environment", entries)?;
    for entry in entries {
        let Some(eq) = entry.iter().position(|&byte| byte == b'=') else {
            return Err(ProtocolError::Invalid {
                field: "environment",
                reason: "an entry without '='",
            });
        };
        let allowed = std::str::from_utf8(&entry[..eq]).is_ok_and(is_forwarded);
        if !allowed {
            return Err(ProtocolError::Invalid {
                field: "environment",
                reason: "a variable that is not forwarded into containers",
            });
        }
    }
    Ok(())
}

/// Checks the explicit environment entries: `NAME=VALUE` with any name
/// ([`is_valid_explicit_name`]), at least one (the flag says some follow).
fn check_explicit_environment(entries: &[Vec<u8>]) -> Result<(), ProtocolError> {
    const FIELD: &str = "explicit_environment";
    if entries.is_empty() {
        return Err(ProtocolError::Invalid {
            field: FIELD,
            reason: "the flag without an entry",
        });
    }
    no_nul(FIELD, entries)?;
    for entry in entries {
        let Some(eq) = entry.iter().position(|&byte| byte == b'=') else {
            return Err(ProtocolError::Invalid {
                field: FIELD,
                reason: "an entry without '='",
            });
        };
        if !is_valid_explicit_name(&entry[..eq]) {
            return Err(ProtocolError::Invalid {
                field: FIELD,
                reason: "an entry without a name",
            });
        }
    }
    Ok(())
}

/// Checks the exact working directory: absolute, no NUL, and instead of the caller's
/// directories (`working_dirs`), not beside them.
fn check_exact_working_dir(dir: &[u8], working_dirs: &[Vec<u8>]) -> Result<(), ProtocolError> {
    const FIELD: &str = "exact_working_dir";
    let reason = if dir.contains(&0) {
        "contains a NUL byte"
    } else if dir.first() != Some(&b'/') {
        "not an absolute path"
    } else if !working_dirs.is_empty() {
        "given with the caller's working directories"
    } else {
        return Ok(());
    };
    Err(ProtocolError::Invalid {
        field: FIELD,
        reason,
    })
}

/// Parses one client payload (without its length prefix).
pub fn parse_client_message(payload: &[u8]) -> Result<ClientMessage, ProtocolError> {
    let mut reader = Reader { bytes: payload };
    let message = match reader.u8("kind")? {
        KIND_REQUEST => ClientMessage::Request(parse_request_body(&mut reader)?),
        KIND_SIGNAL => ClientMessage::Signal(signal_number(reader.i32("signal")?)?),
        kind => return Err(ProtocolError::UnknownKind(kind)),
    };
    reader.finish()?;
    Ok(message)
}

fn parse_request_body(reader: &mut Reader<'_>) -> Result<Request, ProtocolError> {
    let version = reader.u16("version")?;
    if version != PROTOCOL_VERSION {
        return Err(ProtocolError::Version(version));
    }
    let streams = reader.u8("streams")?;
    if streams & !STREAM_ALL != 0 {
        return Err(ProtocolError::Invalid {
            field: "streams",
            reason: "reserved bits set",
        });
    }
    let flags = reader.u8("flags")?;
    if flags & !FLAGS_ALL != 0 {
        return Err(ProtocolError::Invalid {
            field: "flags",
            reason: "reserved bits set",
        });
    }
    let argv = reader.list("argv", MAX_ARGS, MAX_ARG_LEN)?;
    let login_shell = flags & FLAG_LOGIN_SHELL != 0;
    if login_shell && !argv.is_empty() {
        return Err(ProtocolError::Invalid {
            field: "argv",
            reason: "a program given with the login shell",
        });
    }
    if !login_shell && argv.first().is_none_or(Vec::is_empty) {
        return Err(ProtocolError::Invalid {
            field: "argv",
            reason: "no program given",
        });
    }
    no_nul("argv", &argv)?;
    let working_dirs = reader.list("working_dirs", MAX_WORKING_DIRS, MAX_PATH_LEN)?;
    no_nul("working_dirs", &working_dirs)?;
    if working_dirs.iter().any(|dir| dir.first() != Some(&b'/')) {
        return Err(ProtocolError::Invalid {
            field: "working_dirs",
            reason: "not an absolute path",
        });
    }
    let environment = reader.list("environment", MAX_ENV, MAX_ARG_LEN)?;
    check_environment(&environment)?;
    let terminal = if flags & FLAG_TERMINAL != 0 {
        Some(parse_terminal(reader, streams)?)
    } else {
        None
    };
    let explicit_environment = if flags & FLAG_EXPLICIT_ENVIRONMENT != 0 {
        let entries = reader.list("explicit_environment", MAX_ENV, MAX_ARG_LEN)?;
        check_explicit_environment(&entries)?;
        entries
    } else {
        Vec::new()
    };
    let exact_working_dir = if flags & FLAG_EXACT_WORKING_DIR != 0 {
        let dir = reader.bytes("exact_working_dir", MAX_PATH_LEN)?;
        check_exact_working_dir(dir, &working_dirs)?;
        Some(dir.to_vec())
    } else {
        None
    };
    Ok(Request {
        streams,
        argv,
        login_shell,
        working_dirs,
        environment,
        terminal,
        explicit_environment,
        exact_working_dir,
    })
}

fn parse_terminal(
    reader: &mut Reader<'_>,
    attached: u8,
) -> Result<TerminalSettings, ProtocolError> {
    let streams = reader.u8("terminal streams")?;
    if streams == 0 || streams & !STREAM_ALL != 0 {
        return Err(ProtocolError::Invalid {
            field: "terminal streams",
            reason: "none, or reserved bits set",
        });
    }
    if streams & attached != 0 {
        return Err(ProtocolError::Invalid {
            field: "terminal streams",
            reason: "a stream is both the terminal and an attached descriptor",
        });
    }
    let mut modes = [0; 4];
    for mode in &mut modes {
        *mode = reader.u32("terminal modes")?;
    }
    let line_discipline = reader.u8("line discipline")?;
    let mut special_codes = [0; SPECIAL_CODES];
    special_codes.copy_from_slice(reader.take(SPECIAL_CODES, "special characters")?);
    let speeds = [reader.u32("terminal speed")?, reader.u32("terminal speed")?];
    let mut size = [0; 4];
    for value in &mut size {
        *value = reader.u16("window size")?;
    }
    Ok(TerminalSettings {
        streams,
        modes,
        line_discipline,
        special_codes,
        speeds,
        size,
    })
}

/// Parses one agent payload (the client's side).
pub fn parse_agent_message(payload: &[u8]) -> Result<AgentMessage, ProtocolError> {
    let mut reader = Reader { bytes: payload };
    let message = match reader.u8("kind")? {
        KIND_STARTED => {
            let shared = match reader.u8("working_dir_shared")? {
                0 => false,
                1 => true,
                _ => {
                    return Err(ProtocolError::Invalid {
                        field: "working_dir_shared",
                        reason: "not 0 or 1",
                    });
                }
            };
            AgentMessage::Started {
                working_dir_shared: shared,
                running_in: reader.bytes("running_in", MAX_PATH_LEN)?.to_vec(),
            }
        }
        KIND_STOPPED => AgentMessage::Stopped(signal_number(reader.i32("signal")?)?),
        KIND_EXITED => {
            let code = reader.i32("exit status")?;
            if !(0..=255).contains(&code) {
                return Err(ProtocolError::Invalid {
                    field: "exit status",
                    reason: "not 0-255",
                });
            }
            AgentMessage::Exited(code)
        }
        KIND_SIGNALED => AgentMessage::Signaled {
            signal: signal_number(reader.i32("signal")?)?,
            core_dumped: reader.u8("core_dumped")? != 0,
        },
        KIND_REFUSED => {
            let kind = reader.u8("refusal")?;
            let kind = RefusalKind::from_code(kind).ok_or(ProtocolError::Invalid {
                field: "refusal",
                reason: "unknown reason",
            })?;
            let message = reader.bytes("message", MAX_MESSAGE_LEN)?;
            AgentMessage::Refused {
                kind,
                message: String::from_utf8_lossy(message).into_owned(),
            }
        }
        kind => return Err(ProtocolError::UnknownKind(kind)),
    };
    reader.finish()?;
    Ok(message)
}

/// A payload being written.
#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn new() -> Self {
        // Room for the length prefix, filled in by `frame`.
        Writer {
            bytes: vec![0; FRAME_HEADER],
        }
    }

    fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    fn i32(&mut self, value: i32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn len(&mut self, value: usize) {
        // Lengths beyond u32 are refused by the caller's bounds; saturate rather than wrap.
        let value = u32::try_from(value).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, value: &[u8]) {
        self.len(value.len());
        self.bytes.extend_from_slice(value);
    }

    fn list(&mut self, items: &[Vec<u8>]) {
        self.len(items.len());
        for item in items {
            self.bytes(item);
        }
    }

    /// The whole frame: length prefix and payload.
    fn frame(mut self) -> Vec<u8> {
        let len = self.bytes.len() - FRAME_HEADER;
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        self.bytes[..FRAME_HEADER].copy_from_slice(&len.to_le_bytes());
        self.bytes
    }
}

/// The frame of a client message, length prefix included.
pub fn encode_client_message(message: &ClientMessage) -> Vec<u8> {
    let mut writer = Writer::new();
    match message {
        ClientMessage::Request(request) => {
            writer.u8(KIND_REQUEST);
            writer
                .bytes
                .extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
            writer.u8(request.streams);
            let mut flags = 0;
            if request.terminal.is_some() {
                flags |= FLAG_TERMINAL;
            }
            if request.login_shell {
                flags |= FLAG_LOGIN_SHELL;
            }
            if !request.explicit_environment.is_empty() {
                flags |= FLAG_EXPLICIT_ENVIRONMENT;
            }
            if request.exact_working_dir.is_some() {
                flags |= FLAG_EXACT_WORKING_DIR;
            }
            writer.u8(flags);
            writer.list(&request.argv);
            writer.list(&request.working_dirs);
            writer.list(&request.environment);
            if let Some(terminal) = &request.terminal {
                writer.u8(terminal.streams);
                terminal.modes.iter().for_each(|mode| writer.u32(*mode));
                writer.u8(terminal.line_discipline);
                writer.bytes.extend_from_slice(&terminal.special_codes);
                terminal.speeds.iter().for_each(|speed| writer.u32(*speed));
                terminal.size.iter().for_each(|value| writer.u16(*value));
            }
            if !request.explicit_environment.is_empty() {
                writer.list(&request.explicit_environment);
            }
            if let Some(dir) = &request.exact_working_dir {
                writer.bytes(dir);
            }
        }
        ClientMessage::Signal(signal) => {
            writer.u8(KIND_SIGNAL);
            writer.i32(*signal);
        }
    }
    writer.frame()
}

/// The frame of an agent message, length prefix included.
pub fn encode_agent_message(message: &AgentMessage) -> Vec<u8> {
    let mut writer = Writer::new();
    match message {
        AgentMessage::Started {
            working_dir_shared,
            running_in,
        } => {
            writer.u8(KIND_STARTED);
            writer.u8(u8::from(*working_dir_shared));
            writer.bytes(running_in);
        }
        AgentMessage::Stopped(signal) => {
            writer.u8(KIND_STOPPED);
            writer.i32(*signal);
        }
        AgentMessage::Exited(code) => {
            writer.u8(KIND_EXITED);
            writer.i32(*code);
        }
        AgentMessage::Signaled {
            signal,
            core_dumped,
        } => {
            writer.u8(KIND_SIGNALED);
            writer.i32(*signal);
            writer.u8(u8::from(*core_dumped));
        }
        AgentMessage::Refused { kind, message } => {
            writer.u8(KIND_REFUSED);
            writer.u8(kind.code());
            let mut end = message.len().min(MAX_MESSAGE_LEN);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            writer.bytes(&message.as_bytes()[..end]);
        }
    }
    writer.frame()
}

/// Splits the first complete frame off `buffer`: `Ok(Some(payload length))` when
/// `buffer[FRAME_HEADER..FRAME_HEADER + len]` is a whole payload, `Ok(None)` when more bytes are
/// needed, an error when the announced length is beyond [`MAX_FRAME`].
pub fn frame_length(buffer: &[u8]) -> Result<Option<usize>, ProtocolError> {
    let Some(header) = buffer.get(..FRAME_HEADER) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > MAX_FRAME {
        return Err(ProtocolError::TooLarge {
            field: "frame",
            value: len,
            limit: MAX_FRAME,
        });
    }
    Ok((buffer.len() >= FRAME_HEADER + len).then_some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            streams: STREAM_STDIN | STREAM_STDOUT | STREAM_STDERR,
            argv: vec![
                b"printf".to_vec(),
                b"%s\n".to_vec(),
                b"\xff a b".to_vec(),
                vec![],
            ],
            login_shell: false,
            working_dirs: vec![b"/home/me/src".to_vec()],
            environment: vec![b"LANG=C.UTF-8".to_vec(), b"LC_ALL=".to_vec()],
            terminal: None,
            explicit_environment: Vec::new(),
            exact_working_dir: None,
        }
    }

    /// A request with every exec option: explicit variables (any name, values with spaces,
    /// newlines, '=' and bytes that are not UTF-8) and an exact working directory.
    fn options_request() -> Request {
        Request {
            working_dirs: Vec::new(),
            explicit_environment: vec![
                b"LD_PRELOAD=/opt/x.so".to_vec(),
                b"PATH=/opt/bin:/usr/bin".to_vec(),
                b"MSG=a b\nc=d \xff".to_vec(),
                b"EMPTY=".to_vec(),
            ],
            exact_working_dir: Some(b"/srv/dir with space".to_vec()),
            ..request()
        }
    }

    fn terminal_request() -> Request {
        Request {
            streams: STREAM_STDERR,
            terminal: Some(TerminalSettings {
                streams: STREAM_STDIN | STREAM_STDOUT,
                modes: [0x500, 0x5, 0xbf, 0x8a3b],
                line_discipline: 0,
                special_codes: [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0],
                speeds: [38400, 38400],
                size: [40, 120, 0, 0],
            }),
            ..request()
        }
    }

    fn payload(frame: &[u8]) -> &[u8] {
        let len = frame_length(frame).unwrap().unwrap();
        assert_eq!(frame.len(), FRAME_HEADER + len);
        &frame[FRAME_HEADER..]
    }

    #[test]
    fn every_message_round_trips() {
        let client = [
            ClientMessage::Request(request()),
            ClientMessage::Request(terminal_request()),
            ClientMessage::Request(Request {
                argv: Vec::new(),
                login_shell: true,
                ..terminal_request()
            }),
            ClientMessage::Request(options_request()),
            ClientMessage::Request(Request {
                exact_working_dir: None,
                ..options_request()
            }),
            ClientMessage::Request(Request {
                explicit_environment: Vec::new(),
                ..options_request()
            }),
            ClientMessage::Request(Request {
                argv: Vec::new(),
                login_shell: true,
                terminal: terminal_request().terminal,
                streams: STREAM_STDERR,
                ..options_request()
            }),
            ClientMessage::Signal(2),
        ];
        for message in client {
            let frame = encode_client_message(&message);
            assert_eq!(parse_client_message(payload(&frame)), Ok(message));
        }
        let agent = [
            AgentMessage::Started {
                working_dir_shared: false,
                running_in: b"/home/me".to_vec(),
            },
            AgentMessage::Stopped(20),
            AgentMessage::Exited(141),
            AgentMessage::Signaled {
                signal: 13,
                core_dumped: false,
            },
            AgentMessage::Refused {
                kind: RefusalKind::NotFound,
                message: "gti: not found".into(),
            },
        ];
        for message in agent {
            let frame = encode_agent_message(&message);
            assert_eq!(parse_agent_message(payload(&frame)), Ok(message));
        }
    }

    #[test]
    fn malformed_requests_are_refused_with_the_reason() {
        let good = encode_client_message(&ClientMessage::Request(request()));
        let good = payload(&good).to_vec();
        let mut cases: Vec<(Vec<u8>, ProtocolError)> = vec![
            (vec![], ProtocolError::Truncated { field: "kind" }),
            (vec![99], ProtocolError::UnknownKind(99)),
            (vec![1, 2, 0], ProtocolError::Version(2)),
            (
                vec![1, 1, 0, 8, 0],
                ProtocolError::Invalid {
                    field: "streams",
                    reason: "reserved bits set",
                },
            ),
            (
                vec![1, 1, 0, 0, 16],
                ProtocolError::Invalid {
                    field: "flags",
                    reason: "reserved bits set",
                },
            ),
            (
                vec![1, 1, 0, 0, 0x80 | FLAG_EXPLICIT_ENVIRONMENT],
                ProtocolError::Invalid {
                    field: "flags",
                    reason: "reserved bits set",
                },
            ),
            (
                // argc = u32::MAX
                vec![1, 1, 0, 0, 0, 255, 255, 255, 255],
                ProtocolError::TooLarge {
                    field: "argv",
                    value: u32::MAX as usize,
                    limit: MAX_ARGS,
                },
            ),
            (
                // argc = 1000 with no bytes behind it: refused before allocating.
                vec![1, 1, 0, 0, 0, 0xe8, 3, 0, 0],
                ProtocolError::Truncated { field: "argv" },
            ),
            (
                vec![1, 1, 0, 0, 0, 0, 0, 0, 0],
                ProtocolError::Invalid {
                    field: "argv",
                    reason: "no program given",
                },
            ),
            (
                vec![2, 0, 0, 0, 0],
                ProtocolError::Invalid {
                    field: "signal",
                    reason: "not a signal number (1-64)",
                },
            ),
        ];
        let mut trailing = good.clone();
        trailing.push(0);
        cases.push((trailing, ProtocolError::TrailingBytes(1)));
        for cut in [1, 5, good.len() - 1] {
            assert!(
                matches!(
                    parse_client_message(&good[..cut]),
                    Err(ProtocolError::Truncated { .. })
                ),
                "cut at {cut}"
            );
        }
        for (bytes, expected) in cases {
            assert_eq!(parse_client_message(&bytes), Err(expected), "{bytes:?}");
        }
    }

    #[test]
    fn request_contents_are_checked() {
        let refused_from = |base: Request, change: &dyn Fn(&mut Request), reason: &'static str| {
            let mut request = base;
            change(&mut request);
            let frame = encode_client_message(&ClientMessage::Request(request));
            match parse_client_message(payload(&frame)) {
                Err(ProtocolError::Invalid { reason: got, .. }) => assert_eq!(got, reason),
                other => panic!("expected {reason}, got {other:?}"),
            }
        };
        let refused = |change: &dyn Fn(&mut Request), reason: &'static str| {
            refused_from(request(), change, reason)
        };
        refused(&|r| r.argv[1] = b"a\0b".to_vec(), "contains a NUL byte");
        refused(&|r| r.argv[0] = Vec::new(), "no program given");
        refused(
            &|r| r.login_shell = true,
            "a program given with the login shell",
        );
        refused(
            &|r| r.working_dirs = vec![b"relative".to_vec()],
            "not an absolute path",
        );
        refused(
            &|r| r.environment.push(b"LD_PRELOAD=/evil.so".to_vec()),
            "a variable that is not forwarded into containers",
        );
        refused(
            &|r| r.environment.push(b"TERM".to_vec()),
            "an entry without '='",
        );
        let terminal_refused = |change: &dyn Fn(&mut Request), reason: &'static str| {
            refused_from(terminal_request(), change, reason)
        };
        let set_terminal_streams = |streams: u8| {
            move |request: &mut Request| request.terminal.as_mut().unwrap().streams = streams
        };
        terminal_refused(&set_terminal_streams(0), "none, or reserved bits set");
        terminal_refused(&set_terminal_streams(8), "none, or reserved bits set");
        terminal_refused(
            &set_terminal_streams(STREAM_STDERR),
            "a stream is both the terminal and an attached descriptor",
        );
        // The settings are fixed-size: a request cut inside them is truncated, not misread.
        let frame = encode_client_message(&ClientMessage::Request(terminal_request()));
        let whole = payload(&frame);
        assert!(matches!(
            parse_client_message(&whole[..whole.len() - 1]),
            Err(ProtocolError::Truncated {
                field: "window size"
            })
        ));
    }

    /// The payload of `request`.
    fn request_payload(request: Request) -> Vec<u8> {
        payload(&encode_client_message(&ClientMessage::Request(request))).to_vec()
    }

    /// Each malformed exec option is refused with its field named.
    #[test]
    fn exec_options_are_checked() {
        let with = |change: &dyn Fn(&mut Request)| {
            let mut request = options_request();
            change(&mut request);
            request_payload(request)
        };
        let invalid = |field, reason| ProtocolError::Invalid { field, reason };
        let env = "explicit_environment";
        let dir = "exact_working_dir";
        // The explicit-environment flag with an empty list (the encoder never writes it).
        let mut flag_only = request_payload(request());
        flag_only[4] |= FLAG_EXPLICIT_ENVIRONMENT;
        flag_only.extend_from_slice(&0u32.to_le_bytes());
        // The exact-directory flag with the directory cut short.
        let cut = with(&|_| {});
        let cut = cut[..cut.len() - 1].to_vec();
        let cases = [
            (
                with(&|r| r.explicit_environment[1] = b"NOVALUE".to_vec()),
                invalid(env, "an entry without '='"),
            ),
            (
                with(&|r| r.explicit_environment[1] = b"=value".to_vec()),
                invalid(env, "an entry without a name"),
            ),
            (
                with(&|r| r.explicit_environment[1] = b"A=b\0c".to_vec()),
                invalid(env, "contains a NUL byte"),
            ),
            (flag_only, invalid(env, "the flag without an entry")),
            (
                with(&|r| r.explicit_environment = vec![b"A=b".to_vec(); MAX_ENV + 1]),
                ProtocolError::TooLarge {
                    field: env,
                    value: MAX_ENV + 1,
                    limit: MAX_ENV,
                },
            ),
            (
                with(&|r| r.explicit_environment = vec![vec![b'A'; MAX_ARG_LEN + 1]]),
                ProtocolError::TooLarge {
                    field: env,
                    value: MAX_ARG_LEN + 1,
                    limit: MAX_ARG_LEN,
                },
            ),
            (
                with(&|r| r.exact_working_dir = Some(b"srv".to_vec())),
                invalid(dir, "not an absolute path"),
            ),
            (
                with(&|r| r.exact_working_dir = Some(Vec::new())),
                invalid(dir, "not an absolute path"),
            ),
            (
                with(&|r| r.exact_working_dir = Some(b"/s\0rv".to_vec())),
                invalid(dir, "contains a NUL byte"),
            ),
            (
                with(&|r| r.working_dirs = vec![b"/home/me".to_vec()]),
                invalid(dir, "given with the caller's working directories"),
            ),
            (
                with(&|r| r.exact_working_dir = Some(vec![b'/'; MAX_PATH_LEN + 1])),
                ProtocolError::TooLarge {
                    field: dir,
                    value: MAX_PATH_LEN + 1,
                    limit: MAX_PATH_LEN,
                },
            ),
            (cut, ProtocolError::Truncated { field: dir }),
        ];
        for (bytes, expected) in cases {
            assert_eq!(parse_client_message(&bytes), Err(expected));
        }
        // Any name is allowed explicitly, even one the allowlist never forwards.
        let parsed = parse_client_message(&with(&|_| {}));
        assert_eq!(parsed, Ok(ClientMessage::Request(options_request())));
    }

    /// A request without the new options is what an agent from before them reads: the same bytes
    /// as before the options existed (no flag, no field).
    #[test]
    fn a_request_without_options_is_unchanged_on_the_wire() {
        let bytes = request_payload(request());
        assert_eq!(&bytes[..5], &[KIND_REQUEST, 1, 0, STREAM_ALL, 0]);
        let bare = request_payload(Request {
            environment: Vec::new(),
            working_dirs: Vec::new(),
            argv: vec![b"true".to_vec()],
            ..request()
        });
        assert_eq!(
            bare,
            [
                &[KIND_REQUEST, 1, 0, STREAM_ALL, 0][..],
                &1u32.to_le_bytes(),
                &4u32.to_le_bytes(),
                b"true",
                &0u32.to_le_bytes(),
                &0u32.to_le_bytes(),
            ]
            .concat()
        );
    }

    #[test]
    fn frames_are_bounded() {
        assert_eq!(frame_length(&[1, 0]), Ok(None));
        assert_eq!(frame_length(&[2, 0, 0, 0, 9]), Ok(None));
        assert_eq!(frame_length(&[1, 0, 0, 0, 9]), Ok(Some(1)));
        let huge = u32::try_from(MAX_FRAME + 1).unwrap().to_le_bytes();
        assert_eq!(
            frame_length(&huge),
            Err(ProtocolError::TooLarge {
                field: "frame",
                value: MAX_FRAME + 1,
                limit: MAX_FRAME,
            })
        );
    }
}
