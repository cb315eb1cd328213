//! The agent's only `unsafe` code: the calls that need raw pointers or run in a forked child before
//! exec, where Rust's safe API cannot vouch for what the closure does. Every block says why it is
//! sound. Signal masks and signalfds, which the client needs as well, are the protocol crate's
//! (`horizon_agent_protocol::sys`).
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use horizon_agent_protocol::sys::set_mask;
use rustix::process::{Gid, Uid};

/// The uid and gid of the peer of a connected unix socket (SO_PEERCRED). rustix's wrapper cannot
/// be used: it insists on a non-zero pid, and a peer in another pid namespace (the host client,
/// seen from the container) has pid 0.
pub fn peer_credentials(socket: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let mut credentials = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the pointers name a ucred and its size, valid for the call; the kernel writes at
    // most `len` bytes.
    let result = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut credentials as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((credentials.uid, credentials.gid))
}

/// In a forked child before exec: no blocked signals and every disposition at its default, as
/// a program started from a shell expects (the agent blocks the signals it reads from its
/// signalfd, and a container's PID 1 may have inherited ignored ones). Async-signal-safe.
fn reset_signals_for_exec() -> io::Result<()> {
    // SAFETY: signal() with SIG_DFL is async-signal-safe and only changes this process's
    // dispositions; SIGKILL and SIGSTOP, which cannot be changed, are skipped.
    unsafe {
        for signal in 1..libc::SIGRTMIN() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
    set_mask(&[])
}

/// What a program's child process sets up between fork and exec (everything built before the
/// fork: the child must not allocate).
#[derive(Debug)]
pub struct ChildSetup {
    /// Its controlling terminal, once it has a session of its own (`None`: a process group of its
    /// own in the agent's session instead).
    pub controlling: Option<BorrowedFd<'static>>,
    /// The uid, gid and supplementary groups it switches to (`None`: it stays the agent's user).
    pub switch: Option<(Uid, Gid, Vec<Gid>)>,
    /// Its working directory, entered as that user.
    pub working_dir: CString,
}

/// Makes `command`'s child do what `setup` says before it execs the program. Order: a process group
/// of its own, or a session with the pty as its controlling terminal; default signal handling;
/// supplementary groups and gid while still root, uid last; then the directory, as the user.
pub fn prepare_program_child(command: &mut Command, setup: ChildSetup) {
    // SAFETY: the closure runs in the forked child of this single-threaded process before exec;
    // it only makes raw system calls (rustix and the signal calls above; no allocation: `setup`
    // was built before the fork) and returns their errors.
    unsafe {
        command.pre_exec(move || {
            match setup.controlling {
                Some(terminal) => {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(terminal)?;
                }
                None => rustix::process::setpgid(None, None)?,
            }
            reset_signals_for_exec()?;
            if let Some((uid, gid, groups)) = &setup.switch {
                rustix::thread::set_thread_groups(groups)?;
                rustix::thread::set_thread_gid(*gid)?;
                rustix::thread::set_thread_uid(*uid)?;
            }
            rustix::process::chdir(&setup.working_dir)?;
            Ok(())
        });
    }
}

/// Makes `command`'s child, the program under the session keeper, take a process group of its
/// own and, on a `terminal`, that terminal's foreground, with default signal handling.
pub fn prepare_kept_child(command: &mut Command, terminal: Option<BorrowedFd<'static>>) {
    // SAFETY: the closure runs in the forked child of this single-threaded process before exec
    // and only makes system calls (no allocation).
    unsafe {
        command.pre_exec(move || {
            rustix::process::setpgid(None, None)?;
            if let Some(terminal) = terminal {
                rustix::termios::tcsetpgrp(terminal, rustix::process::getpid())?;
            }
            reset_signals_for_exec()
        });
    }
}
