//! Processes of the test bed: long-lived services started so that they die with the test process
//! (even under `kill -9`), stopped exactly by the pid we recorded, and short commands run with their
//! output captured into the error when they fail.
#![allow(unsafe_code)] // prctl, kill and atexit have no safe std equivalent.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a service gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. Test
/// threads come and go, so every service is forked by this one thread, which lives as long as the
/// process does: when the test process dies, the kernel sends the services SIGTERM.
fn keeper() -> &'static Mutex<mpsc::Sender<SpawnRequest>> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("testbed-keeper".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    // The caller waits on the other end; if it is gone there is nobody to tell.
                    let _ = reply.send(command.spawn());
                }
                // Never return: our exit would SIGTERM every service we forked.
                loop {
                    std::thread::park();
                }
            })
            .expect("spawn the test bed's keeper thread");
        Mutex::new(sender)
    })
}

/// A service process we started, known by pid.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    child: Mutex<Option<Child>>,
    pid: u32,
}

impl Service {
    /// Starts `command` so that it receives SIGTERM if the test process dies, with stdout and stderr
    /// appended to `log`.
    pub fn start(name: &str, mut command: Command, log: &std::path::Path) -> Result<Service> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("open {}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            // A group of its own: rootless Podman re-executes itself as a child in its user
            // namespace, and stopping only the parent's pid leaves that child serving on.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent. It runs after
        // std's setuid (which would otherwise clear the death signal).
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let (reply, answer) = mpsc::channel();
        keeper()
            .lock()
            .map_err(|_| anyhow::anyhow!("keeper lock poisoned"))?
            .send((command, reply))
            .context("keeper thread is gone")?;
        let child = answer
            .recv()
            .context("keeper thread is gone")?
            .with_context(|| format!("start {name}"))?;
        Ok(Service {
            name: name.to_owned(),
            pid: child.id(),
            child: Mutex::new(Some(child)),
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// True while the process has not exited.
    pub fn is_running(&self) -> bool {
        let mut guard = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGTERM to its process group, then SIGKILL to the group after a grace period; reaps the
    /// child. Idempotent.
    pub fn stop(&self) {
        let mut guard = self
            .child
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(mut child) = guard.take() else {
            return;
        };
        signal_group(self.pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_GRACE;
        let mut leader_done = false;
        // The group is the leader's pid: every service is started with `process_group(0)`.
        while Instant::now() < deadline {
            if !leader_done {
                leader_done = matches!(child.try_wait(), Ok(Some(_)));
            }
            if leader_done && !group_alive(self.pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "testbed: {} (process group {}) ignored SIGTERM; killing it",
            self.name, self.pid
        );
        signal_group(self.pid, libc::SIGKILL);
        // SIGKILL cannot be ignored, so this returns; an error means it was reaped above already.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Sends `signal` to every process of the group led by `leader`.
fn signal_group(leader: u32, signal: i32) {
    let Ok(group) = i32::try_from(leader) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals that process group only.
    unsafe {
        libc::kill(-group, signal);
    }
}

/// True while any process of the group led by `leader` is alive.
fn group_alive(leader: u32) -> bool {
    let Ok(group) = i32::try_from(leader) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(-group, 0) == 0 }
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn signal(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a positive pid affects only that process.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// True when a process with this pid exists.
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Terminates a process we did not fork ourselves (Podman's rootless pause process), by pid:
/// SIGTERM, a grace period, then SIGKILL.
pub fn terminate_pid(pid: u32) {
    signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while pid_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if pid_alive(pid) {
        signal(pid, libc::SIGKILL);
    }
}

/// Terminates every process whose command line mentions `needle` (a directory unique to one test
/// run, so only that run's processes match): what a killed run's services left behind.
pub fn terminate_processes_mentioning(needle: &str) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if pid != std::process::id() && String::from_utf8_lossy(&cmdline).contains(needle) {
            terminate_pid(pid);
        }
    }
}

/// Runs a command to completion; a non-zero exit is an error carrying the command and its output.
pub fn run(command: &mut Command) -> Result<Output> {
    let description = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {description}"))?;
    if !output.status.success() {
        bail!(
            "{description} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Registers `hook` to run when the process exits normally (the test harness returns from main).
pub fn at_exit(hook: extern "C" fn()) {
    // SAFETY: registering a plain function pointer; it runs once, at exit.
    unsafe {
        libc::atexit(hook);
    }
}
