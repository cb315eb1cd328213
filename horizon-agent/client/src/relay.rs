//! The client's side of a program on a pseudo-terminal: the caller's terminal in raw mode (every
//! key, Ctrl-C and Ctrl-Z included, goes to the pty, whose line discipline — set up like the
//! caller's — echoes, edits and signals as the caller's terminal would), keys relayed to the pty's
//! master, the program's output relayed to the caller's terminal, window-size changes copied to
//! the pty. The caller's terminal is put back on every way out (a guard), and while the program
//! is stopped.
//!
//! The caller's descriptors are never made non-blocking (that flag belongs to the terminal's open
//! file, shared with the caller's shell); they are read only when poll says so. The master is
//! this process's own and non-blocking, so a program that does not read its input cannot block
//! the relay of its output.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::termios::{OptionalActions, Termios};

use crate::terminal;

/// Bytes moved at a time.
const CHUNK: usize = 16 * 1024;
/// After the program ended, how long output may keep coming (from the pty's buffers) before the
/// relay stops waiting for it: a background process of the program that keeps the terminal open
/// must not keep the caller waiting.
const DRAIN_QUIET: Duration = Duration::from_millis(100);

/// The relay between the caller's terminal and a pty's master.
pub(crate) struct Relay {
    master: OwnedFd,
    input: BorrowedFd<'static>,
    output: BorrowedFd<'static>,
    /// Keys the master has not taken yet.
    pending: Vec<u8>,
    /// The caller's terminal is read (open, and this process in its foreground).
    reading: bool,
    input_open: bool,
    master_open: bool,
    /// The caller's settings, while its terminal is in raw mode.
    saved: Option<Termios>,
}

impl Relay {
    /// Starts relaying between `master` and the caller's terminal (stdin and stdout), which goes
    /// into raw mode.
    pub(crate) fn start(master: OwnedFd) -> io::Result<Relay> {
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | rustix::fs::OFlags::NONBLOCK)?;
        let mut relay = Relay {
            master,
            input: rustix::stdio::stdin(),
            output: rustix::stdio::stdout(),
            pending: Vec::new(),
            reading: false,
            input_open: true,
            master_open: true,
            saved: None,
        };
        relay.resume()?;
        Ok(relay)
    }

    /// What to poll: the caller's terminal (when it is read and the master can take more) and the
    /// master (output, and room for pending keys).
    pub(crate) fn poll_fds(&self) -> [Option<PollFd<'_>>; 2] {
        let input = (self.reading && self.input_open && self.pending.is_empty())
            .then(|| PollFd::from_borrowed_fd(self.input, PollFlags::IN));
        let mut master_flags = PollFlags::IN;
        if !self.pending.is_empty() {
            master_flags |= PollFlags::OUT;
        }
        let master = self
            .master_open
            .then(|| PollFd::from_borrowed_fd(self.master.as_fd(), master_flags));
        [input, master]
    }

    /// Moves what poll said is ready.
    pub(crate) fn on_ready(&mut self, input: PollFlags, master: PollFlags) {
        if !input.is_empty() {
            self.read_keys();
        }
        if master.intersects(PollFlags::OUT) || !self.pending.is_empty() {
            self.write_keys();
        }
        if !master.is_empty() {
            self.read_output();
        }
    }

    fn read_keys(&mut self) {
        let mut buffer = [0u8; CHUNK];
        match rustix::io::read(self.input, &mut buffer) {
            Ok(0) => self.input_open = false,
            Ok(count) => {
                self.pending.extend_from_slice(&buffer[..count]);
                self.write_keys();
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            // The caller's terminal hung up: the program reads on until it notices the end.
            Err(_) => self.input_open = false,
        }
    }

    fn write_keys(&mut self) {
        while !self.pending.is_empty() {
            match rustix::io::write(&self.master, &self.pending) {
                Ok(count) => {
                    self.pending.drain(..count);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => return,
                Err(_) => {
                    self.pending.clear();
                    return;
                }
            }
        }
    }

    /// Relays what the master has; false when there was nothing to read.
    fn read_output(&mut self) -> bool {
        let mut buffer = [0u8; CHUNK];
        match rustix::io::read(&self.master, &mut buffer) {
            Ok(0) => {
                self.master_open = false;
                false
            }
            Ok(count) => {
                write_all(self.output, &buffer[..count]);
                true
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => false,
            // EIO: every holder of the pty's slave has closed it.
            Err(_) => {
                self.master_open = false;
                false
            }
        }
    }

    /// The caller's window changed: so does the pty's (the kernel tells the program).
    pub(crate) fn resize(&self) {
        // A terminal that cannot report its size leaves the pty's as it was.
        let _ = terminal::copy_window_size(self.output, &self.master);
    }

    /// The program stopped: the caller's terminal goes back to its settings for the caller's
    /// shell.
    pub(crate) fn suspend(&mut self) {
        self.reading = false;
        self.restore();
    }

    /// Back in the caller's foreground (at the start, or after `fg`): raw mode, keys relayed, the
    /// window size brought up to date. In the background (`bg`) the terminal is left alone: the
    /// program's output is still relayed, its keys are not read.
    pub(crate) fn resume(&mut self) -> io::Result<()> {
        let foreground = rustix::termios::tcgetpgrp(self.input)
            .is_ok_and(|group| group == rustix::process::getpgrp());
        if !foreground {
            return Ok(());
        }
        if self.saved.is_none() {
            let saved = rustix::termios::tcgetattr(self.input)?;
            let mut raw = saved.clone();
            raw.make_raw();
            rustix::termios::tcsetattr(self.input, OptionalActions::Now, &raw)?;
            self.saved = Some(saved);
        }
        self.reading = true;
        self.resize();
        Ok(())
    }

    /// The program ended: relays the output still on its way, then puts the terminal back.
    pub(crate) fn finish(mut self) {
        self.reading = false;
        let mut quiet_since = Instant::now();
        while self.master_open && quiet_since.elapsed() < DRAIN_QUIET {
            let left = DRAIN_QUIET.saturating_sub(quiet_since.elapsed());
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut poll = [PollFd::new(&self.master, PollFlags::IN)];
            if !matches!(rustix::event::poll(&mut poll, Some(&timeout)), Ok(1..)) {
                continue;
            }
            if self.read_output() {
                quiet_since = Instant::now();
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

/// Writes all of `bytes` to the caller's terminal (blocking, as the program's own writes would);
/// a terminal that is gone takes nothing more.
fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return,
            Ok(count) => bytes = &bytes[count..],
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}
