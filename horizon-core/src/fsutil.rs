//! State files, safely: the one atomic write every state file of horizon goes through (install
//! records, update journals, generation history, the export ledger) — a temp file in the same
//! directory is written and fsync'd, renamed over the target, and the directory fsync'd, so a
//! crash at any instant leaves the old content or the new one, never half of either — and the one
//! way they are opened: never through a symbolic link (a link planted in place of a lock or a
//! record would otherwise have its target truncated or read as horizon's), and only when they
//! are regular files (a FIFO would block the open).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// How a state file is opened by [`open_state`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StateAccess {
    /// For reading; a missing file is `NotFound`.
    Read,
    /// For reading and writing, created (mode 0644 before the umask) when missing: locks.
    ReadWriteCreate,
}

/// Opens the state file `path` without following a symbolic link at its last component and
/// refuses anything but a regular file, with an error that says so (the caller's error names
/// the path).
pub(crate) fn open_state(path: &Path, access: StateAccess) -> std::io::Result<File> {
    // NONBLOCK: opening a FIFO must not wait for a writer; the type check below refuses it.
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let flags = match access {
        StateAccess::Read => flags | OFlags::RDONLY,
        StateAccess::ReadWriteCreate => flags | OFlags::RDWR | OFlags::CREATE,
    };
    let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(0o644)).map_err(|errno| {
        if errno == rustix::io::Errno::LOOP {
            std::io::Error::other(
                "it is a symbolic link: horizon never follows links in its state (remove the link)",
            )
        } else {
            std::io::Error::from(errno)
        }
    })?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other(
            "it is not a regular file: horizon's state files are plain files (remove it)",
        ));
    }
    Ok(file)
}

/// The bytes of the state file `path` (opened as [`open_state`] does); `None` when there is none.
pub(crate) fn read_state(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    let mut file = match open_state(path, StateAccess::Read) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(Some(bytes))
}

/// Writes `bytes` to `path` atomically (see the module documentation), creating its directory.
/// The error names the file or directory that failed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    write_atomic_mode(path, bytes, None)
}

/// [`write_atomic`] giving the file permission bits `mode` (exactly, whatever the umask): an
/// exported wrapper must be executable from the instant it appears.
pub(crate) fn write_atomic_mode(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
) -> Result<(), (PathBuf, std::io::Error)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|error| (dir.to_path_buf(), error))?;
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Temp files start with a dot, so listings of state directories skip them.
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        // A temp file left by an earlier process of the same pid (or a link planted there) is
        // removed, not written through: the temp file is always created new.
        remove_quietly(&temp);
        let mut file = File::options().write(true).create_new(true).open(&temp)?;
        file.write_all(bytes)?;
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()
    })();
    if let Err(error) = written {
        remove_quietly(&temp);
        return Err((temp, error));
    }
    if let Err(error) = std::fs::rename(&temp, path) {
        remove_quietly(&temp);
        return Err((path.to_path_buf(), error));
    }
    sync_dir(dir).map_err(|error| (dir.to_path_buf(), error))
}

/// Why a JSON state file could not be read.
#[derive(Debug)]
pub(crate) enum JsonFileError {
    /// Reading it failed.
    Io(std::io::Error),
    /// It is not valid JSON of the expected shape, or of another schema version.
    Invalid(String),
}

/// Reads the JSON state file at `path` — `None` when there is none — and checks that
/// `schema_version_of` it is `expected` (a file of another horizon version is refused, never
/// guessed at).
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    schema_version_of: impl Fn(&T) -> u32,
    expected: u32,
) -> Result<Option<T>, JsonFileError> {
    let Some(bytes) = read_state(path).map_err(JsonFileError::Io)? else {
        return Ok(None);
    };
    let value: T = serde_json::from_slice(&bytes)
        .map_err(|error| JsonFileError::Invalid(error.to_string()))?;
    let found = schema_version_of(&value);
    if found != expected {
        return Err(JsonFileError::Invalid(format!(
            "schema_version {found} (this horizon reads {expected})"
        )));
    }
    Ok(Some(value))
}

/// The stems of the `*.EXTENSION` files in the state directory `dir`, sorted: a directory that
/// does not exist yet holds none, and the temp files of interrupted writes (a leading dot) are
/// not state.
pub(crate) fn list_stems(dir: &Path, extension: &str) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let suffix = format!(".{extension}");
    let mut stems = Vec::new();
    for entry in entries {
        let file_name = entry?.file_name();
        if let Some(stem) = file_name
            .to_str()
            .and_then(|name| name.strip_suffix(&suffix))
            && !stem.is_empty()
            && !stem.starts_with('.')
        {
            stems.push(stem.to_owned());
        }
    }
    stems.sort();
    Ok(stems)
}

/// Removes `path` durably; a file that is not there is not an error.
pub(crate) fn remove_durably(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("."))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Moves the state file `path` aside to `PATH.SUFFIX` (replacing an older one there), durably;
/// returns the new path. A link is moved as the link: `rename` never follows it.
pub(crate) fn set_aside(path: &Path, suffix: &str) -> std::io::Result<PathBuf> {
    let mut aside = path.as_os_str().to_owned();
    aside.push(".");
    aside.push(suffix);
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    Ok(aside)
}

/// Makes a rename or removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes a temp file after a failed write; the write's own error is the one reported.
fn remove_quietly(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::debug!(path = %path.display(), %error, "could not remove a temp file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["state.json"]);
        remove_durably(&path).unwrap();
        remove_durably(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn a_mode_is_applied_exactly() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wrapper");
        write_atomic_mode(&path, b"#!/bin/sh\n", Some(0o755)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }
}
