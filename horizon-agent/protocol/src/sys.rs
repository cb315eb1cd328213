//! The signal calls rustix has no safe wrapper for, which both sides of the agent need: blocking
//! signals and reading them from a signalfd (so the agent, its session keeper and the client
//! handle signals in their poll loops, without handlers and without threads), setting the mask a
//! forked child starts with, and ending or stopping this process by a signal as the program in the
//! container ended or stopped. This is the crate's only `unsafe` code: libc's sigset and signalfd
//! API takes raw pointers.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// A set of signals.
fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before any other use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t; sigemptyset/sigaddset only write
    // it (sigaddset fails harmlessly on an invalid number, which callers never pass).
    unsafe {
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
    }
    set
}

/// The signal mask before [`block`], to be restored with [`restore`].
#[derive(Clone, Copy)]
pub struct SavedMask(libc::sigset_t);

impl std::fmt::Debug for SavedMask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SavedMask")
    }
}

/// Blocks `signals` in this thread (they queue until read from a [`signal_fd`]).
pub fn block(signals: &[i32]) -> io::Result<SavedMask> {
    let set = sigset(signals);
    // SAFETY: sigset(signals) is an initialised set; `old` is written by the call before use.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call's duration.
    let result = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
    if result != 0 {
        return Err(io::Error::from_raw_os_error(result));
    }
    Ok(SavedMask(old))
}

/// Sets this thread's signal mask to exactly `signals` (none: every signal delivered, as a program
/// started from a shell expects). Async-signal-safe: the agent calls it in a forked child before
/// exec.
pub fn set_mask(signals: &[i32]) -> io::Result<()> {
    let set = sigset(signals);
    // SAFETY: `set` is an initialised set; a null old-set pointer is allowed.
    let result = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) };
    if result != 0 {
        return Err(io::Error::from_raw_os_error(result));
    }
    Ok(())
}

/// Restores the mask [`block`] saved (before exec'ing another program, which inherits it).
pub fn restore(saved: SavedMask) {
    // SAFETY: `saved.0` is a mask pthread_sigmask returned; a null old-set pointer is allowed.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, &saved.0, std::ptr::null_mut());
    }
}

/// A close-on-exec, non-blocking signalfd for `signals` (which must be blocked).
pub fn signal_fd(signals: &[i32]) -> io::Result<OwnedFd> {
    let set = sigset(signals);
    // SAFETY: -1 asks for a new descriptor; `set` is initialised.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: signalfd returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The size of one `struct signalfd_siginfo`.
pub const SIGNALFD_SIGINFO_SIZE: usize = 128;

/// The signal numbers in what was read from a signalfd (each record starts with `ssi_signo`).
pub fn signals_in(records: &[u8]) -> impl Iterator<Item = i32> + '_ {
    records.chunks_exact(SIGNALFD_SIGINFO_SIZE).map(|record| {
        let signo = u32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
        i32::try_from(signo).unwrap_or(0)
    })
}

/// Ends this process by `signal`, as the program in the container ended, so the caller's shell
/// sees exactly what a native run shows (`$?` 128+N, "Killed", a pipeline's SIGPIPE). Core dumps
/// are off: the core belonged to the program, not to this client. Falls back to exit status
/// 128+N should the signal not end the process.
pub fn die_by_signal(signal: i32) -> ! {
    let no_core = rustix::process::Rlimit {
        current: Some(0),
        maximum: None,
    };
    // Best effort: without it a core-dumping signal also dumps this client.
    let _ = rustix::process::setrlimit(rustix::process::Resource::Core, no_core);
    // SAFETY: resetting a disposition to the default and unblocking are always sound; raise
    // delivers the signal to this thread.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let set = sigset(&[signal]);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}

/// Stops this process (SIGSTOP), as the program in the container was stopped, so the caller's
/// shell regains the terminal; returns when the process is continued.
pub fn stop_self() {
    // SAFETY: raising SIGSTOP only stops this process until SIGCONT.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
}
