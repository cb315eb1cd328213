//! The caller's working directory as a client sends it, and the note both exec paths print when
//! the container does not share it (the program then runs in the home directory there, or in the
//! container's `/`).

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

/// Said before the program runs: the caller's directory is not shared with the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingDirNote {
    /// Where the program runs instead (`None`: the container's `/`).
    pub running_in: Option<PathBuf>,
}

/// The caller's working directory, most preferred first: the logical `pwd` (`$PWD`, symlinks
/// kept: what the user sees) while it still names the current directory, then the physical one.
/// Empty when the directory is gone. Shared by both exec paths.
pub fn caller_working_dirs(pwd: Option<&OsStr>) -> Vec<PathBuf> {
    let physical = std::env::current_dir().ok();
    let logical = pwd
        .map(PathBuf::from)
        .filter(|pwd| pwd.is_absolute() && same_directory(pwd, Path::new(".")));
    let mut dirs: Vec<PathBuf> = logical.into_iter().chain(physical).collect();
    dirs.dedup();
    dirs
}

fn same_directory(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The note both exec paths print when the caller's directory is not shared with `container`.
pub fn render_working_dir_note(
    out: &mut dyn io::Write,
    caller_dir: Option<&Path>,
    container: &str,
    running_in: Option<&str>,
) -> io::Result<()> {
    let here = match caller_dir {
        Some(dir) => format!("{} is not shared with {container}", dir.display()),
        None => "the current directory no longer exists".to_owned(),
    };
    let there = match running_in {
        Some(dir) => format!("running in {dir} (the home directory there)"),
        None => "running in the container's default directory".to_owned(),
    };
    writeln!(out, "horizon-container: note: {here}; {there}")
}

/// Prints `note` on stderr as [`render_working_dir_note`] words it; a note that cannot be shown
/// must not stop the program.
pub(crate) fn print_working_dir_note(
    note: &WorkingDirNote,
    caller_dir: Option<&Path>,
    container: &str,
) {
    let running_in = note
        .running_in
        .as_ref()
        .map(|dir| dir.to_string_lossy().into_owned());
    let _ = render_working_dir_note(
        &mut io::stderr().lock(),
        caller_dir,
        container,
        running_in.as_deref(),
    );
}
