//! The session keeper: what runs a program on a pseudo-terminal (`horizon-agent keep-session --
//! PROGRAM ARGS...`, started by the agent as the leader of a new session whose controlling
//! terminal is the pty). It starts the program in a process group of its own, makes that group the
//! terminal's foreground, and waits for it.
//!
//! Why not run the program as the session leader itself, as `podman exec -t` and `ssh -t` do: a
//! session leader's process group is orphaned (its parent, the agent, is in another session), and
//! the kernel discards the terminal's SIGTSTP to an orphaned group, so Ctrl-Z would do nothing.
//! Under the keeper the program's group has a parent in its session, and a Ctrl-Z stops it as it
//! would on the host; the keeper then stops itself, which the agent reports to the client, whose
//! shell regains the terminal. Signals the agent delivers to the keeper's group (forwarded by the
//! client: SIGCONT after `fg`, SIGTERM, SIGHUP…) are passed on to the program's group. The keeper
//! ends as the program did: the same exit status, or the same signal.

use std::ffi::OsString;
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::process::Command;

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitOptions};

use horizon_agent_protocol::sys::{
    SIGNALFD_SIGINFO_SIZE, block, die_by_signal, signal_fd, signals_in, stop_self,
};
use horizon_agent_protocol::wire::FORWARDED_SIGNALS;

use crate::launch::spawn_refusal;
use crate::sys::prepare_kept_child;

/// The keeper's subcommand of `horizon-agent`.
pub const KEEP_SESSION: &str = "keep-session";
/// What the agent execs as the keeper when its own path is unknown: itself.
const SELF_EXE: &str = "/proc/self/exe";

/// The keeper's program: the agent's own binary (the static one mounted in the container), by its
/// path so `ps` shows its name.
pub fn keeper_program() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| std::path::PathBuf::from(SELF_EXE))
}

/// The keeper itself failed.
const KEEPER_FAILURE: i32 = 125;

/// Runs `argv` (the program first) as described above and ends as it ended.
pub fn keep_session(argv: &[OsString]) -> ! {
    let Some((program, arguments)) = argv.split_first() else {
        fail(
            KEEPER_FAILURE,
            "usage: horizon-agent keep-session -- PROGRAM [ARGS...]",
        )
    };
    // SIGTTOU too: the program's group takes the terminal from the background (below), which
    // the kernel otherwise answers with SIGTTOU. The program starts with an empty mask.
    // The signals the client forwards are passed on to the program's group; SIGCHLD says it
    // ended or stopped.
    let mut handled = FORWARDED_SIGNALS.to_vec();
    handled.push(libc::SIGCHLD);
    let mut blocked = handled.clone();
    blocked.push(libc::SIGTTOU);
    if let Err(error) = block(&blocked) {
        fail(KEEPER_FAILURE, &format!("cannot block signals: {error}"));
    }
    let signals = match signal_fd(&handled) {
        Ok(signals) => signals,
        Err(error) => fail(KEEPER_FAILURE, &format!("signalfd: {error}")),
    };
    let terminal = controlling_terminal();
    let mut command = Command::new(program);
    command.args(arguments);
    prepare_kept_child(&mut command, terminal);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let refusal = spawn_refusal(program, &error);
            let status = refusal
                .kind
                .shell_status()
                .map_or(KEEPER_FAILURE, i32::from);
            fail(status, &refusal.message)
        }
    };
    let Some(pid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        fail(KEEPER_FAILURE, "the program has no pid")
    };
    // Reaped below with waitpid, never through `Child`.
    drop(child);
    loop {
        let mut poll = [PollFd::new(&signals, PollFlags::IN)];
        match rustix::event::poll(&mut poll, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => fail(KEEPER_FAILURE, &format!("poll: {error}")),
        }
        let mut records = [0u8; SIGNALFD_SIGINFO_SIZE * 8];
        let count = rustix::io::read(&signals, &mut records).unwrap_or(0);
        for signal in signals_in(&records[..count]) {
            if signal == libc::SIGCHLD {
                follow(pid);
            } else if let Some(signal) = Signal::from_named_raw(signal) {
                // The group is gone only when the program has ended, which SIGCHLD reports.
                let _ = rustix::process::kill_process_group(pid, signal);
            }
        }
    }
}

/// Reacts to the program's change of state: stops with it, or ends as it ended.
fn follow(pid: Pid) {
    loop {
        let status = match rustix::process::waitpid(
            Some(pid),
            WaitOptions::NOHANG | WaitOptions::UNTRACED,
        ) {
            Ok(Some((_, status))) => status,
            Ok(None) | Err(_) => return,
        };
        if status.stopping_signal().is_some() {
            // The agent sees the keeper stop and tells the client; `fg` continues the keeper
            // (SIGCONT, passed on to the program by the loop).
            stop_self();
        } else if let Some(code) = status.exit_status() {
            std::process::exit(code);
        } else if let Some(signal) = status.terminating_signal() {
            die_by_signal(signal);
        }
    }
}

/// The first standard stream that is a terminal: the session's controlling terminal.
fn controlling_terminal() -> Option<BorrowedFd<'static>> {
    [
        rustix::stdio::stdin(),
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
    ]
    .into_iter()
    .find(|fd| rustix::termios::isatty(fd))
}

fn fail(status: i32, message: &str) -> ! {
    // On the terminal, where the caller sees it; nowhere else to go if that fails.
    let _ = writeln!(io::stderr(), "horizon-agent: {message}");
    std::process::exit(status)
}
