//! The client's side of a program whose streams it relays: on a pseudo-terminal (the pty's master
//! to and from the caller's stdin and stdout), or, when the caller asked for no terminal while it
//! is on one (`-T`), on pipes standing in for the caller's terminal descriptors.
//!
//! On a pty with the caller on a terminal, that terminal goes into raw mode: every key, Ctrl-C and
//! Ctrl-Z included, goes to the pty, whose line discipline — set up like the caller's — echoes,
//! edits and signals as the caller's terminal would; the program's output is relayed to the
//! caller's terminal, window-size changes are copied to the pty. The caller's terminal is put back
//! on every way out (a guard), and while the program is stopped. On a pty with the caller's stdin
//! not a terminal (`-t` in a pipeline), its bytes are typed into the pty as they come, and its end
//! is typed as the pty's end-of-file character, which is how a terminal says "no more input".
//!
//! On pipes the caller's terminal stays as it is (its own line discipline edits and echoes, and
//! sends Ctrl-C to the client, which forwards it); its lines are written to the program's stdin
//! pipe, whose end is closed at the terminal's end of file, and the program's output pipes are
//! relayed to the caller's terminal.
//!
//! The caller's descriptors are never made non-blocking (that flag belongs to the open file,
//! shared with the caller's shell); they are read only when poll says so, and a terminal only
//! while this process is in its foreground. The master and the pipes are this process's own and
//! non-blocking, so a program that does not read its input cannot block the relay of its output.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, Termios};

use crate::terminal;

/// Bytes moved at a time.
const CHUNK: usize = 16 * 1024;
/// After the program ended, how long output may keep coming (from the pty's or the pipes'
/// buffers) before the relay stops waiting for it: a background process of the program that keeps
/// the terminal or a pipe open must not keep the caller waiting.
const DRAIN_QUIET: Duration = Duration::from_millis(100);
/// A special character that is disabled (`_POSIX_VDISABLE` on Linux).
const DISABLED: u8 = 0;

/// What a relay descriptor is, for [`Relay::on_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// The caller's stdin.
    Input,
    /// Where its bytes go: the pty's master, or the program's stdin pipe.
    ToProgram,
    /// One of the program's outputs ([`Relay::outputs`], by index).
    Output(usize),
}

/// One of the program's outputs, relayed to one of the caller's descriptors.
struct Output {
    /// The pty's master or a pipe's read end; `None` once it ended (or the caller's side did).
    from: Option<OwnedFd>,
    to: BorrowedFd<'static>,
}

/// The relay between the caller's standard streams and a pty's master or the program's pipes.
pub(crate) struct Relay {
    input: BorrowedFd<'static>,
    /// Where the caller's input goes; `None` when stdin is not relayed, or its pipe was closed.
    to_program: Option<OwnedFd>,
    outputs: Vec<Output>,
    /// Input the program's side has not taken yet.
    pending: Vec<u8>,
    /// The caller's stdin is read (open, and this process in the foreground of its terminal).
    reading: bool,
    input_open: bool,
    /// The program is on a pty (`to_program` and `outputs[0]` are its master), not on pipes.
    pty: bool,
    /// The caller's stdin is a terminal.
    input_is_terminal: bool,
    /// The input relayed so far ends a line (or there was none): its end is then one end-of-file
    /// character for the pty, else two (the first only passes the partial line on).
    at_line_start: bool,
    /// The caller's settings, while its terminal is in raw mode.
    saved: Option<Termios>,
}

impl Relay {
    /// Starts relaying between `master` and the caller's stdin and stdout; a caller's terminal
    /// goes into raw mode.
    pub(crate) fn pty(master: OwnedFd) -> io::Result<Relay> {
        set_nonblocking(&master)?;
        let keys = master.try_clone()?;
        Relay::start(Some(keys), vec![(master, rustix::stdio::stdout())], true)
    }

    /// Starts relaying between the program's pipes and the caller's terminal descriptors:
    /// `stdin` the write end of the program's stdin, `stdout` and `stderr` the read ends of its
    /// outputs, for those of the caller's streams that are replaced.
    pub(crate) fn pipes(
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    ) -> io::Result<Relay> {
        let mut outputs = Vec::new();
        for (from, to) in [
            (stdout, rustix::stdio::stdout()),
            (stderr, rustix::stdio::stderr()),
        ] {
            if let Some(from) = from {
                set_nonblocking(&from)?;
                outputs.push((from, to));
            }
        }
        if let Some(stdin) = &stdin {
            set_nonblocking(stdin)?;
        }
        Relay::start(stdin, outputs, false)
    }

    fn start(
        to_program: Option<OwnedFd>,
        outputs: Vec<(OwnedFd, BorrowedFd<'static>)>,
        pty: bool,
    ) -> io::Result<Relay> {
        let input = rustix::stdio::stdin();
        let mut relay = Relay {
            input,
            input_open: to_program.is_some(),
            to_program,
            outputs: outputs
                .into_iter()
                .map(|(from, to)| Output {
                    from: Some(from),
                    to,
                })
                .collect(),
            pending: Vec::new(),
            reading: false,
            pty,
            input_is_terminal: rustix::termios::isatty(input),
            at_line_start: true,
            saved: None,
        };
        relay.resume()?;
        Ok(relay)
    }

    /// What to poll: the caller's stdin (when it is read and the program's side can take more),
    /// where it goes (while input is pending), and the program's outputs.
    pub(crate) fn poll_fds(&self) -> Vec<(Endpoint, PollFd<'_>)> {
        let mut fds = Vec::new();
        if self.reading && self.input_open && self.pending.is_empty() {
            fds.push((
                Endpoint::Input,
                PollFd::from_borrowed_fd(self.input, PollFlags::IN),
            ));
        }
        if let Some(to_program) = &self.to_program
            && !self.pending.is_empty()
        {
            fds.push((Endpoint::ToProgram, PollFd::new(to_program, PollFlags::OUT)));
        }
        for (index, output) in self.outputs.iter().enumerate() {
            if let Some(from) = &output.from {
                fds.push((Endpoint::Output(index), PollFd::new(from, PollFlags::IN)));
            }
        }
        fds
    }

    /// Moves what poll said is ready.
    pub(crate) fn on_ready(&mut self, events: &[(Endpoint, PollFlags)]) {
        for (endpoint, flags) in events {
            if flags.is_empty() {
                continue;
            }
            match endpoint {
                Endpoint::Input => self.read_input(),
                Endpoint::ToProgram => self.write_input(),
                Endpoint::Output(index) => {
                    self.read_output(*index);
                }
            }
        }
        if !self.pending.is_empty() {
            self.write_input();
        }
    }

    fn read_input(&mut self) {
        let mut buffer = [0u8; CHUNK];
        match rustix::io::read(self.input, &mut buffer) {
            Ok(0) => self.input_ended(),
            Ok(count) => {
                self.at_line_start = buffer[count - 1] == b'\n';
                self.pending.extend_from_slice(&buffer[..count]);
                self.write_input();
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            // The caller's stdin failed or hung up: as its end.
            Err(_) => self.input_ended(),
        }
    }

    /// The caller's stdin ended: on pipes the program's stdin ends too; on a pty a caller's
    /// stream that is not a terminal ends as a terminal would say it (end-of-file characters,
    /// when the pty is in canonical mode: a program that put it in raw mode reads on until it
    /// ends by itself). A caller's terminal that hung up leaves the program reading on until it
    /// notices the end, as on the host.
    fn input_ended(&mut self) {
        self.input_open = false;
        if !self.pty {
            self.to_program = None;
            return;
        }
        if self.input_is_terminal {
            return;
        }
        let Some(master) = &self.to_program else {
            return;
        };
        // A pty whose settings cannot be read has gone: nothing to tell it.
        let Ok(settings) = rustix::termios::tcgetattr(master) else {
            return;
        };
        let eof = settings.special_codes[SpecialCodeIndex::VEOF];
        if settings.local_modes.contains(LocalModes::ICANON) && eof != DISABLED {
            let count = if self.at_line_start { 1 } else { 2 };
            self.pending.extend(std::iter::repeat_n(eof, count));
            self.write_input();
        }
    }

    fn write_input(&mut self) {
        let Some(to_program) = &self.to_program else {
            self.pending.clear();
            return;
        };
        while !self.pending.is_empty() {
            match rustix::io::write(to_program, &self.pending) {
                Ok(count) => {
                    self.pending.drain(..count);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                // The program closed its stdin (or the pty is gone): the caller's input has
                // nowhere to go, so it is no longer read (a caller's shell keeps its typeahead).
                Err(_) => {
                    self.pending.clear();
                    self.input_open = false;
                    if !self.pty {
                        self.to_program = None;
                    }
                    return;
                }
            }
        }
    }

    /// Relays what output `index` has; false when there was nothing to read.
    fn read_output(&mut self, index: usize) -> bool {
        let pty = self.pty;
        let output = &mut self.outputs[index];
        let Some(from) = &output.from else {
            return false;
        };
        let mut buffer = [0u8; CHUNK];
        match rustix::io::read(from, &mut buffer) {
            Ok(0) => {
                output.from = None;
                false
            }
            Ok(count) => {
                // The caller's side is gone: closing a pipe makes the program's next write fail
                // (SIGPIPE), as writing to the gone descriptor would natively; a pty's output
                // is read on and dropped, so the program does not block on a full pty.
                if write_all(output.to, &buffer[..count]).is_err() && !pty {
                    output.from = None;
                }
                true
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => false,
            // EIO on a master: every holder of the pty's slave has closed it.
            Err(_) => {
                output.from = None;
                false
            }
        }
    }

    /// The program runs on a pty (not on pipes).
    pub(crate) fn on_pty(&self) -> bool {
        self.pty
    }

    /// The caller's window changed: so does the pty's (the kernel tells the program).
    pub(crate) fn resize(&self) {
        if !self.pty {
            return;
        }
        if let Some(Output {
            from: Some(master),
            to,
        }) = self.outputs.first()
        {
            // A caller's side that cannot report its size (not a terminal) leaves the pty's as it
            // was.
            let _ = terminal::copy_window_size(*to, master);
        }
    }

    /// The program stopped: the caller's terminal goes back to its settings for the caller's
    /// shell, and is no longer read.
    pub(crate) fn suspend(&mut self) {
        self.reading = false;
        self.restore();
    }

    /// Back in the caller's foreground (at the start, or after `fg`): a caller's terminal read
    /// again (on a pty in raw mode, its window size brought up to date). In the background
    /// (`bg`) the terminal is left alone: the program's output is still relayed, its keys are not
    /// read. A caller's stdin that is not a terminal is always read.
    pub(crate) fn resume(&mut self) -> io::Result<()> {
        if self.input_is_terminal {
            let foreground = rustix::termios::tcgetpgrp(self.input)
                .is_ok_and(|group| group == rustix::process::getpgrp());
            if !foreground {
                return Ok(());
            }
            if self.pty && self.saved.is_none() {
                let saved = rustix::termios::tcgetattr(self.input)?;
                let mut raw = saved.clone();
                raw.make_raw();
                rustix::termios::tcsetattr(self.input, OptionalActions::Now, &raw)?;
                self.saved = Some(saved);
            }
        }
        self.reading = true;
        self.resize();
        Ok(())
    }

    /// The program ended: relays the output still on its way, then puts the terminal back.
    pub(crate) fn finish(mut self) {
        self.reading = false;
        let mut quiet_since = Instant::now();
        while quiet_since.elapsed() < DRAIN_QUIET {
            let open: Vec<usize> = (0..self.outputs.len())
                .filter(|index| self.outputs[*index].from.is_some())
                .collect();
            if open.is_empty() {
                break;
            }
            let left = DRAIN_QUIET.saturating_sub(quiet_since.elapsed());
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let ready: Vec<usize> = {
                let mut poll: Vec<PollFd<'_>> = open
                    .iter()
                    .filter_map(|index| self.outputs[*index].from.as_ref())
                    .map(|from| PollFd::new(from, PollFlags::IN))
                    .collect();
                if !matches!(rustix::event::poll(&mut poll, Some(&timeout)), Ok(1..)) {
                    continue;
                }
                open.iter()
                    .zip(&poll)
                    .filter(|(_, fd)| !fd.revents().is_empty())
                    .map(|(index, _)| *index)
                    .collect()
            };
            for index in ready {
                if self.read_output(index) {
                    quiet_since = Instant::now();
                }
            }
        }
        self.restore();
    }

    fn restore(&mut self) {
        if let Some(saved) = self.saved.take() {
            // Drain: output already written is shown under the settings it was written for. A
            // terminal that is gone needs nothing back.
            let _ = rustix::termios::tcsetattr(self.input, OptionalActions::Drain, &saved);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.restore();
    }
}

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(&fd)?;
    rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

/// Writes all of `bytes` to the caller's descriptor `fd` (blocking, as the program's own writes
/// would); an error when it takes nothing more (gone, or closed on the caller's side).
fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(count) => bytes = &bytes[count..],
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
