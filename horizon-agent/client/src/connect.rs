//! Finding a container's agent and connecting to it. This is where a container could try to
//! redirect the client, so every step is checked on an open descriptor, never on a path that could
//! change between check and use: `RUNTIME/agent/NAME` is opened without following a symlink and
//! must be a directory owned by the caller or root and writable by no one else; `active` must be a
//! regular file owned by them; `GEN/agent.sock` is opened with `O_PATH | O_NOFOLLOW` and must be a
//! socket owned by them; the client then connects through `/proc/self/fd/N` — exactly the inode it
//! checked (which also lifts the 108-byte limit of socket paths).

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use horizon_agent_protocol::layout::{self, ACTIVE_FILE, AGENT_DIR, SOCKET_NAME};
use rustix::fs::{FileType, Mode, OFlags};

use crate::ClientError;

/// Overrides horizon's runtime directory (where the agents' sockets are), as for every horizon
/// binary.
pub const RUNTIME_DIR_VAR: &str = "HORIZON_RUNTIME_DIR";

/// The runtime directories to look in, first match wins: `HORIZON_RUNTIME_DIR` when set;
/// else the caller's own (`$XDG_RUNTIME_DIR/horizonos`, `/run/user/UID/horizonos`; root's is
/// `/run/horizonos`); then, for a non-root caller, root's (system containers exported for
/// everyone). The caller passes the values in.
pub fn runtime_dirs(
    uid: u32,
    horizon_runtime_dir: Option<&OsStr>,
    xdg_runtime_dir: Option<&OsStr>,
) -> Vec<PathBuf> {
    const SYSTEM: &str = "/run/horizonos";
    let absolute =
        |value: Option<&OsStr>| value.map(PathBuf::from).filter(|path| path.is_absolute());
    if let Some(dir) = absolute(horizon_runtime_dir) {
        return vec![dir];
    }
    if uid == 0 {
        return vec![PathBuf::from(SYSTEM)];
    }
    let own = absolute(xdg_runtime_dir)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")))
        .join("horizonos");
    vec![own, PathBuf::from(SYSTEM)]
}

/// [`runtime_dirs`] for this process: its effective uid, `$HORIZON_RUNTIME_DIR` and
/// `$XDG_RUNTIME_DIR`.
pub fn runtime_dirs_of_this_process() -> Vec<PathBuf> {
    runtime_dirs(
        rustix::process::geteuid().as_raw(),
        std::env::var_os(RUNTIME_DIR_VAR).as_deref(),
        std::env::var_os("XDG_RUNTIME_DIR").as_deref(),
    )
}

fn unsafe_path(path: &Path, reason: impl Into<String>) -> ClientError {
    ClientError::Unsafe {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn no_agent(path: &Path, what: &str) -> ClientError {
    ClientError::NoAgent {
        reason: format!("{} {what}", path.display()),
    }
}

/// The owner check: the caller itself, or root (who can do anything anyway).
fn trusted_owner(uid: u32, caller: u32) -> bool {
    uid == caller || uid == 0
}

/// The status of `fd` (opened from `shown`).
fn stat_of(fd: &OwnedFd, shown: &Path) -> Result<rustix::fs::Stat, ClientError> {
    rustix::fs::fstat(fd).map_err(|error| ClientError::NoAgent {
        reason: format!("{}: {error}", shown.display()),
    })
}

/// Refuses `shown` unless `stat` says the caller or root owns it.
fn require_trusted_owner(
    stat: &rustix::fs::Stat,
    shown: &Path,
    caller: u32,
) -> Result<(), ClientError> {
    if trusted_owner(stat.st_uid, caller) {
        return Ok(());
    }
    Err(unsafe_path(
        shown,
        format!("owned by uid {}, not by you or root", stat.st_uid),
    ))
}

fn open_checked(
    dir: Option<BorrowedFd<'_>>,
    name: &Path,
    shown: &Path,
    flags: OFlags,
) -> Result<OwnedFd, ClientError> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let opened = match dir {
        Some(dir) => rustix::fs::openat(dir, name, flags, Mode::empty()),
        None => rustix::fs::open(name, flags, Mode::empty()),
    };
    opened.map_err(|error| match error {
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => no_agent(shown, "does not exist"),
        rustix::io::Errno::LOOP => unsafe_path(shown, "it is a symlink"),
        other => ClientError::NoAgent {
            reason: format!("{}: {other}", shown.display()),
        },
    })
}

/// Opens the active instance's socket of `definition` below `runtime_dir` and connects to it.
pub fn connect(runtime_dir: &Path, definition: &str) -> Result<UnixStream, ClientError> {
    let caller = rustix::process::geteuid().as_raw();
    if definition.is_empty() || definition.contains('/') || definition.starts_with('.') {
        return Err(ClientError::NoAgent {
            reason: format!("{definition:?} is not a definition name"),
        });
    }
    let definition_dir = runtime_dir.join(AGENT_DIR).join(definition);
    let dir = open_definition_dir(&definition_dir, caller)?;
    let instance = active_instance(dir.as_fd(), &definition_dir, caller)?;
    let socket_path = definition_dir.join(&instance).join(SOCKET_NAME);
    let socket = open_socket(dir.as_fd(), &instance, &socket_path, caller)?;
    connect_through(&socket, &socket_path)
}

/// `RUNTIME/agent/NAME`: a directory (not a symlink to one) of the caller or root that no one
/// else may write to.
fn open_definition_dir(definition_dir: &Path, caller: u32) -> Result<OwnedFd, ClientError> {
    let dir = open_checked(
        None,
        definition_dir,
        definition_dir,
        OFlags::RDONLY | OFlags::DIRECTORY,
    )?;
    let stat = stat_of(&dir, definition_dir)?;
    require_trusted_owner(&stat, definition_dir, caller)?;
    if stat.st_mode & 0o022 != 0 {
        return Err(unsafe_path(definition_dir, "writable by others"));
    }
    Ok(dir)
}

/// The instance `active` names (a generation number), read from a regular file of the caller or
/// root.
fn active_instance(
    dir: BorrowedFd<'_>,
    definition_dir: &Path,
    caller: u32,
) -> Result<String, ClientError> {
    let active_path = definition_dir.join(ACTIVE_FILE);
    let active = open_checked(
        Some(dir),
        Path::new(ACTIVE_FILE),
        &active_path,
        OFlags::RDONLY,
    )?;
    let stat = stat_of(&active, &active_path)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(unsafe_path(&active_path, "not a regular file"));
    }
    require_trusted_owner(&stat, &active_path, caller)?;
    layout::read_active(&std::fs::File::from(active))
        .map_err(|error| unsafe_path(&active_path, error.to_string()))
}

/// `GEN/agent.sock` below the definition directory `dir`, opened as a path only: a socket (not a
/// symlink) of the caller or root.
fn open_socket(
    dir: BorrowedFd<'_>,
    instance: &str,
    socket_path: &Path,
    caller: u32,
) -> Result<OwnedFd, ClientError> {
    let instance_path = socket_path.parent().unwrap_or(socket_path);
    let instance_dir = open_checked(
        Some(dir),
        Path::new(instance),
        instance_path,
        OFlags::PATH | OFlags::DIRECTORY,
    )?;
    let socket = open_checked(
        Some(instance_dir.as_fd()),
        Path::new(SOCKET_NAME),
        socket_path,
        OFlags::PATH,
    )?;
    let stat = stat_of(&socket, socket_path)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Socket => {}
        FileType::Symlink => return Err(unsafe_path(socket_path, "it is a symlink")),
        _ => return Err(unsafe_path(socket_path, "not a socket")),
    }
    require_trusted_owner(&stat, socket_path, caller)?;
    Ok(socket)
}

/// Connects to exactly the inode `socket` was checked as, through `/proc/self/fd/N`.
fn connect_through(socket: &OwnedFd, socket_path: &Path) -> Result<UnixStream, ClientError> {
    let through = format!("/proc/self/fd/{}", socket.as_raw_fd());
    UnixStream::connect(&through).map_err(|error| match error.raw_os_error() {
        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => no_agent(
            socket_path,
            "has no agent listening (the container is stopped)",
        ),
        _ => ClientError::NoAgent {
            reason: format!("{}: {error}", socket_path.display()),
        },
    })
}

/// Connects to the first runtime directory that has an agent for `definition`.
pub fn connect_first(
    runtime_dirs: &[PathBuf],
    definition: &str,
) -> Result<UnixStream, ClientError> {
    let mut reasons = Vec::new();
    for dir in runtime_dirs {
        match connect(dir, definition) {
            Ok(stream) => return Ok(stream),
            Err(ClientError::NoAgent { reason }) => reasons.push(reason),
            Err(other) => return Err(other),
        }
    }
    Err(ClientError::NoAgent {
        reason: reasons.join("; "),
    })
}
