//! The caller's terminal, as the client sees it: whether the program should get a pseudo-terminal
//! made like it (only when this process is on a terminal, in its foreground), and its window size
//! copied to that pseudo-terminal when it changes.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use horizon_agent_protocol::wire::{STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT};

/// The caller's standard streams that should be the program's terminal ([`STREAM_STDIN`]…), or
/// `None` when the program should get the caller's descriptors as they are. A terminal needs
/// stdin and stdout on one terminal (as `ssh` and `podman exec -it` decide; `cmd | less` and
/// `cmd < file` get plain descriptors) and this process in its foreground (a background job must
/// not take the terminal into raw mode); stderr is on it too when it is that terminal.
pub fn caller_terminal() -> Option<u8> {
    let stdin = rustix::stdio::stdin();
    let device = |fd: BorrowedFd<'_>| {
        rustix::termios::isatty(fd)
            .then(|| rustix::fs::fstat(fd).ok())
            .flatten()
            .map(|stat| stat.st_rdev)
    };
    let terminal = device(stdin)?;
    if device(rustix::stdio::stdout()) != Some(terminal) {
        return None;
    }
    let foreground = rustix::termios::tcgetpgrp(stdin).ok()?;
    if foreground != rustix::process::getpgrp() {
        return None;
    }
    let stderr = device(rustix::stdio::stderr()) == Some(terminal);
    Some(STREAM_STDIN | STREAM_STDOUT | if stderr { STREAM_STDERR } else { 0 })
}

/// Copies `from`'s window size to `to` (the caller's terminal to the pty's master after a
/// SIGWINCH; the kernel then tells the program).
pub(crate) fn copy_window_size(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let size = rustix::termios::tcgetwinsize(from)?;
    rustix::termios::tcsetwinsize(to, size)?;
    Ok(())
}
