//! Starting the calling user's Podman service when discovery found none answering: `podman system
//! service --time=N unix://SOCKET` in a process group of its own (so the caller's Ctrl-C and
//! terminal do not reach it), its output appended to a log file, stopping by itself after `N`
//! seconds without requests. It is what `systemctl --user enable --now podman.socket` would give,
//! for machines where that was not done; the caller is told so, with that command.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use serde::Serialize;

use super::{Engine, EngineTimeouts, PodmanEngine};
use crate::Endpoint;

/// The program started.
pub const PODMAN_PROGRAM: &str = "podman";
/// How long a started service stays after its last request: long enough that a burst of commands
/// reuses it, short enough that it does not linger for the rest of the session.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a started service may take to answer its first ping (a first rootless start sets up
/// the user namespace and storage).
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The service's log, in the log directory.
pub const SERVICE_LOG_FILE: &str = "podman-service.log";
/// Held while one horizon process starts the service, so two never start it at once.
const START_LOCK_FILE: &str = "podman-service.lock";
/// Between two readiness pings.
const READY_POLL: Duration = Duration::from_millis(50);
/// Each readiness ping's own limit.
const READY_PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Lines of the log quoted when the service exits before answering.
const LOG_TAIL_LINES: usize = 10;
/// At most this much of the log is read for its tail.
const LOG_TAIL_BYTES: u64 = 16 * 1024;

/// How to start the service when none answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoStart {
    /// Where the service's log (and the start lock) go: horizon's runtime directory.
    pub log_dir: PathBuf,
    /// `--time`: the service exits after this long without requests.
    pub idle_timeout: Duration,
    /// How long to wait for it to answer.
    pub ready_timeout: Duration,
}

impl AutoStart {
    /// The defaults, logging to `log_dir`.
    pub fn new(log_dir: PathBuf) -> Self {
        AutoStart {
            log_dir,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }
}

/// A service horizon started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StartedService {
    /// Its process id. It leads a process group of its own, which also holds the child rootless
    /// Podman re-executes inside the user namespace: `kill -- -PID` stops both.
    pub pid: u32,
    /// The socket it listens on.
    pub socket: PathBuf,
    /// It exits after this long without requests.
    #[serde(rename = "idle_timeout_secs", serialize_with = "as_secs")]
    pub idle_timeout: Duration,
    /// Its log file.
    pub log: PathBuf,
}

fn as_secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_secs())
}

/// Why the service could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceStartError {
    /// No `podman` program on PATH.
    #[error("Podman is not installed: no `{PODMAN_PROGRAM}` in PATH ({path})")]
    PodmanNotFound {
        /// The PATH searched.
        path: String,
    },
    /// A directory or file the service needs could not be prepared.
    #[error("cannot prepare {}", .path.display())]
    Prepare {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The program could not be run.
    #[error("cannot run {}", .program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The service exited before it answered.
    #[error(
        "`{} system service` exited ({status}) before answering on {}; the end of its log {}:\n{log_tail}",
        .program.display(), .socket.display(), .log.display()
    )]
    Exited {
        /// The program.
        program: PathBuf,
        /// The socket it was to listen on.
        socket: PathBuf,
        /// How it exited.
        status: ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The last lines of its log.
        log_tail: String,
    },
    /// The service did not answer in time (it was stopped again).
    #[error(
        "`{} system service` did not answer on {} within {waited:?} (log {})",
        .program.display(), .socket.display(), .log.display()
    )]
    NotReady {
        /// The program.
        program: PathBuf,
        /// The socket it was to listen on.
        socket: PathBuf,
        /// How long horizon waited.
        waited: Duration,
        /// Its log file.
        log: PathBuf,
    },
}

/// The first executable file named `program` in the directories of `path` (a `PATH` value).
pub fn find_program(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// A service answering at `socket`, with a short limit (used before and after starting one).
async fn answers(socket: &Path) -> Option<PodmanEngine> {
    let timeouts = EngineTimeouts {
        request: READY_PING_TIMEOUT,
        ..EngineTimeouts::default()
    };
    let probe = PodmanEngine::with_timeouts(&Endpoint::Unix(socket.to_owned()), timeouts);
    probe.ping().await.ok()?;
    Some(PodmanEngine::new(&Endpoint::Unix(socket.to_owned())))
}

fn prepare_dir(dir: &Path) -> Result<(), ServiceStartError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| ServiceStartError::Prepare {
            path: dir.to_owned(),
            source,
        })
}

/// Starts `podman system service` on `socket` (unless, once the start lock is held, a service
/// already answers there: another horizon process started it) and waits until it answers.
/// Returns the engine and, when this call started it, the service.
pub async fn start_service(
    podman: &Path,
    socket: &Path,
    options: &AutoStart,
) -> Result<(PodmanEngine, Option<StartedService>), ServiceStartError> {
    prepare_dir(&options.log_dir)?;
    let lock_path = options.log_dir.join(START_LOCK_FILE);
    let lock = File::create(&lock_path).map_err(|source| ServiceStartError::Prepare {
        path: lock_path.clone(),
        source,
    })?;
    // Blocking, but only for as long as another horizon process takes to start the service.
    lock.lock().map_err(|source| ServiceStartError::Prepare {
        path: lock_path,
        source,
    })?;
    if let Some(engine) = answers(socket).await {
        return Ok((engine, None));
    }
    if let Some(dir) = socket.parent() {
        prepare_dir(dir)?;
    }
    let log = options.log_dir.join(SERVICE_LOG_FILE);
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|source| ServiceStartError::Prepare {
            path: log.clone(),
            source,
        })?;
    let log_for_stderr = log_file
        .try_clone()
        .map_err(|source| ServiceStartError::Prepare {
            path: log.clone(),
            source,
        })?;
    let mut command = Command::new(podman);
    command
        .arg("system")
        .arg("service")
        .arg(format!("--time={}", options.idle_timeout.as_secs()))
        .arg(format!("unix://{}", socket.display()))
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_for_stderr)
        // Not the caller's directory: the service must not keep it busy.
        .current_dir("/")
        // A process group of its own: Ctrl-C and a terminal hangup go to the caller's foreground
        // group only. (A new session would need an unsafe pre_exec hook and changes nothing
        // more here: the service never opens a terminal.)
        .process_group(0);
    let mut child = command.spawn().map_err(|source| ServiceStartError::Spawn {
        program: podman.to_owned(),
        source,
    })?;
    let deadline = tokio::time::Instant::now() + options.ready_timeout;
    loop {
        if let Some(engine) = answers(socket).await {
            let started = StartedService {
                pid: child.id(),
                socket: socket.to_owned(),
                idle_timeout: options.idle_timeout,
                log,
            };
            // The child is not waited for: it outlives this process by design.
            drop(child);
            return Ok((engine, Some(started)));
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ServiceStartError::Exited {
                program: podman.to_owned(),
                socket: socket.to_owned(),
                status,
                log_tail: log_tail(&log),
                log,
            });
        }
        if tokio::time::Instant::now() >= deadline {
            // Do not leave a service behind that never answered.
            if let Err(error) = child.kill() {
                tracing::debug!(%error, "stopping the unresponsive podman service");
            }
            if let Err(error) = child.wait() {
                tracing::debug!(%error, "reaping the unresponsive podman service");
            }
            return Err(ServiceStartError::NotReady {
                program: podman.to_owned(),
                socket: socket.to_owned(),
                waited: options.ready_timeout,
                log,
            });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// The last lines of a log file (empty when unreadable: the error already says where it is).
fn log_tail(log: &Path) -> String {
    let Ok(mut file) = File::open(log) else {
        return String::new();
    };
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    if let Err(error) = file.seek(SeekFrom::Start(length.saturating_sub(LOG_TAIL_BYTES))) {
        tracing::debug!(%error, "seeking in the service log");
    }
    let mut bytes = Vec::new();
    if let Err(error) = file.read_to_end(&mut bytes) {
        tracing::debug!(%error, "reading the service log");
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_executable_files_on_absolute_path_entries() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(second.join("podman")).unwrap();
        // Not executable: skipped.
        std::fs::write(first.join("podman"), "").unwrap();
        let third = dir.path().join("third");
        std::fs::create_dir_all(&third).unwrap();
        std::fs::write(third.join("podman"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(third.join("podman"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let path = std::env::join_paths([&first, &second, &third]).unwrap();
        assert_eq!(
            find_program("podman", Some(&path)),
            Some(third.join("podman"))
        );
        assert_eq!(find_program("podman", None), None);
        assert_eq!(find_program("podman", Some(OsStr::new("relative:"))), None);
        assert_eq!(find_program("absent", Some(&path)), None);
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let text: String = (1..=25).map(|n| format!("line {n}\n")).collect();
        std::fs::write(&log, text).unwrap();
        let tail = log_tail(&log);
        assert_eq!(tail.lines().count(), LOG_TAIL_LINES);
        assert!(
            tail.starts_with("line 16\n") && tail.ends_with("line 25"),
            "{tail}"
        );
        assert_eq!(log_tail(&dir.path().join("missing")), "");
    }

    #[tokio::test]
    async fn a_program_that_exits_at_once_is_reported_with_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("podman");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho \"Error: cannot listen on $4\" >&2\nexit 125\n",
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let options = AutoStart::new(dir.path().join("runtime/horizonos"));
        let socket = dir.path().join("runtime/podman/podman.sock");
        let error = start_service(&fake, &socket, &options).await.unwrap_err();
        let log = options.log_dir.join(SERVICE_LOG_FILE);
        assert_eq!(
            error.to_string(),
            format!(
                "`{} system service` exited (exit status: 125) before answering on {}; \
                 the end of its log {}:\nError: cannot listen on unix://{}",
                fake.display(),
                socket.display(),
                log.display(),
                socket.display()
            )
        );
        // The socket's directory was made private, and the lock stays for the next start.
        let mode = std::fs::metadata(socket.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
