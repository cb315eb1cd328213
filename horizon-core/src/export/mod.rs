//! Exported binaries: wrapper scripts in a host directory on `PATH` that run one binary of one
//! container as if it were installed on the host.
//!
//! [`wrapper`] renders the script (and recognises one by its marker line); [`ledger`] records
//! every wrapper horizon wrote, which is what makes a file "ours"; this module holds the
//! operations — [`export`], [`unexport`], [`list`], [`repair`], [`remove_container_exports`],
//! [`orphans`] — as functions over an [`ExportSetup`] (directories, the client path, the search
//! `PATH`: values the caller passes in) returning data and [`ExportError`]s; [`provider`] finds
//! the container that provides a binary.
//!
//! The rules: a file horizon did not write (or changed since) is never overwritten or deleted —
//! `force` moves it aside to a backup that `unexport` puts back; a name already exported from
//! another container, or one that would shadow a host command or another export directory's
//! wrapper in `PATH`, is refused without `force`, naming the owner. Every file is written
//! atomically, so nobody runs half a wrapper; the ledger is changed under a lock, before the
//! wrapper on export and after it on unexport, so a crash in between leaves an entry whose file
//! is missing (which `repair` or `unexport` completes), never an unrecorded file of ours.

pub mod error;
pub mod ledger;
pub mod provider;
pub mod wrapper;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::{ExportError, Owner};
pub use ledger::{ExportEntry, LEDGER_FILE, Ledger};
pub use provider::{declared_providers, locate_binary, resolve_provider};
pub use wrapper::{CONTAINER_MARKER_VAR, WrapperMarker, WrapperSpec, content_hash, parse_marker};

use crate::definition::validate;
use crate::fsutil::write_atomic_mode;

/// The client every wrapper execs (contract C1): a binary beside `horizon-container`.
pub const CLIENT_BINARY: &str = "horizon-exec";
/// Permission bits of a wrapper: everyone may run it, only its owner change it.
pub const WRAPPER_MODE: u32 = 0o755;
/// Suffix of the backup `force` makes of a file that is not ours (`NAME.horizon-backup`, then
/// `.1`, `.2`, … when that exists too).
pub const BACKUP_SUFFIX: &str = ".horizon-backup";
/// How much of a file is read to look for the marker (the first two lines of a wrapper).
const MARKER_READ_LIMIT: u64 = 1024;

/// Where exports go and what they run, for one user (or the system).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSetup {
    /// The directory wrappers are written to.
    pub export_dir: PathBuf,
    /// horizon's state directory (the ledger lives there).
    pub state_dir: PathBuf,
    /// The absolute path of the client wrappers exec (`horizon-exec`).
    pub client: PathBuf,
    /// The directories of `PATH`, in order, for the shadowing check.
    pub search_path: Vec<PathBuf>,
    /// The horizon version recorded in wrappers and the ledger.
    pub version: String,
}

impl ExportSetup {
    fn ledger(&self) -> Ledger {
        Ledger::new(&self.state_dir)
    }

    fn render(&self, container: &str, binary: &str) -> Result<String, ExportError> {
        let client = check_client_path(&self.client)?;
        Ok(wrapper::render(&WrapperSpec {
            container,
            binary,
            client,
            version: &self.version,
        }))
    }
}

/// The client path as it goes into a wrapper: absolute UTF-8 without control characters (a
/// newline would end the `exec` line).
pub fn check_client_path(path: &Path) -> Result<&str, ExportError> {
    let refuse = |reason: &str| ExportError::Client {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let text = path.to_str().ok_or_else(|| refuse("it is not UTF-8"))?;
    if !path.is_absolute() {
        return Err(refuse("it is not an absolute path"));
    }
    if text.chars().any(char::is_control) {
        return Err(refuse("it contains a control character"));
    }
    Ok(text)
}

/// One export to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// The definition (container) to run the binary in.
    pub container: String,
    /// The binary inside it.
    pub binary: String,
    /// The command name on the host, when not the binary's.
    pub alias: Option<String>,
    /// Override a collision (keeping a backup of a file that is not ours).
    pub force: bool,
}

impl ExportRequest {
    /// The wrapper's file name.
    pub fn name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.binary)
    }
}

/// Checks the names of `request` (done by [`export`] too; callers check early, before any
/// Podman call).
pub fn check_request(request: &ExportRequest) -> Result<(), ExportError> {
    valid("container", &request.container)?;
    valid("binary", &request.binary)?;
    match &request.alias {
        Some(alias) => valid("alias", alias),
        None => Ok(()),
    }
}

/// What [`export`] did to the wrapper file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExportChange {
    /// Written where nothing was.
    Created,
    /// Our wrapper for the same binary, rewritten (another horizon version or client path).
    Rewritten,
    /// Our wrapper, already exactly this.
    Unchanged,
    /// A collision overridden with `force`.
    Replaced,
}

/// The result of one [`export`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportOutcome {
    /// The ledger entry now recorded.
    #[serde(flatten)]
    pub entry: ExportEntry,
    /// What happened to the file.
    pub change: ExportChange,
    /// The collision `force` overrode.
    pub overridden: Option<Owner>,
}

/// A file at a wrapper's path.
enum Existing {
    Missing,
    File(Vec<u8>),
    /// A symlink, directory or other non-regular file: never ours.
    Other,
}

fn read_existing(path: &Path) -> Result<Existing, ExportError> {
    match std::fs::symlink_metadata(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Existing::Missing),
        Err(source) => Err(ExportError::io("inspect", path)(source)),
        Ok(metadata) if !metadata.file_type().is_file() => Ok(Existing::Other),
        Ok(_) => std::fs::read(path)
            .map(Existing::File)
            .map_err(ExportError::io("read", path)),
    }
}

impl Existing {
    /// True when this is the file `entry` recorded, unchanged.
    fn is_intact(&self, entry: &ExportEntry) -> bool {
        matches!(self, Existing::File(bytes) if content_hash(bytes) == entry.content_hash)
    }
}

/// Checks a name against the definition rules: `what` is `container`, `binary` or `alias`.
fn valid(what: &'static str, value: &str) -> Result<(), ExportError> {
    let checked = match what {
        "container" => validate::name(value).map(drop),
        _ => validate::binary(value).map(drop),
    };
    checked.map_err(|problem| ExportError::InvalidName {
        what,
        value: value.to_owned(),
        reason: match problem {
            crate::definition::Problem::Invalid { reason, .. } => reason,
            other => other.to_string(),
        },
    })
}

/// True when `a` and `b` are the same directory (symlinks and `..` resolved by the file system).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => a == b,
    }
}

/// The marker of the file at `path`, reading only its start.
fn marker_of(path: &Path) -> Option<WrapperMarker> {
    let mut start = Vec::new();
    let file = std::fs::File::open(path).ok()?;
    file.take(MARKER_READ_LIMIT).read_to_end(&mut start).ok()?;
    parse_marker(&start)
}

/// The first command called `name` in the search `PATH` outside the export directory: what the
/// wrapper would shadow (or be shadowed by).
pub fn shadowed(setup: &ExportSetup, name: &str) -> Option<Owner> {
    setup
        .search_path
        .iter()
        .filter(|dir| dir.is_absolute() && !same_dir(dir, &setup.export_dir))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
        .map(|path| match marker_of(&path) {
            Some(marker) => Owner::OtherExport {
                path,
                container: marker.container,
            },
            None => Owner::HostCommand { path },
        })
}

/// A free backup name for `path`.
fn backup_path(path: &Path) -> PathBuf {
    let base = format!("{}{BACKUP_SUFFIX}", path.display());
    std::iter::once(PathBuf::from(&base))
        .chain((1..).map(|n| PathBuf::from(format!("{base}.{n}"))))
        .find(|candidate| std::fs::symlink_metadata(candidate).is_err())
        .unwrap_or_else(|| PathBuf::from(base))
}

/// Writes the wrapper `text` at `entry.path` after recording `entries` (which hold `entry`): the
/// ledger first, then the backup move, then the file; a failure restores the ledger and the
/// backup.
fn commit_wrapper(
    ledger: &Ledger,
    lock: &ledger::LedgerLock,
    previous: &[ExportEntry],
    entries: &[ExportEntry],
    path: &Path,
    text: &str,
    backup: Option<&Path>,
) -> Result<(), ExportError> {
    ledger.write(lock, entries)?;
    let undo_ledger = || {
        if let Err(error) = ledger.write(lock, previous) {
            tracing::warn!(%error, "could not restore the export ledger after a failed write");
        }
    };
    if let Some(backup) = backup
        && let Err(source) = std::fs::rename(path, backup)
    {
        undo_ledger();
        return Err(ExportError::io("move aside", path)(source));
    }
    if let Err((_, source)) = write_atomic_mode(path, text.as_bytes(), Some(WRAPPER_MODE)) {
        if let Some(backup) = backup
            && let Err(error) = std::fs::rename(backup, path)
        {
            tracing::warn!(%error, backup = %backup.display(), "could not put a backup back");
        }
        undo_ledger();
        return Err(ExportError::io("write", path)(source));
    }
    Ok(())
}

/// Exports `request.binary` of `request.container` as `export_dir/NAME` (see the module
/// documentation for the collision rules). Idempotent: exporting what is exported is
/// [`ExportChange::Unchanged`].
pub fn export(setup: &ExportSetup, request: &ExportRequest) -> Result<ExportOutcome, ExportError> {
    check_request(request)?;
    let name = request.name();
    let text = setup.render(&request.container, &request.binary)?;
    std::fs::create_dir_all(&setup.export_dir).map_err(ExportError::io(
        "create the export directory",
        &setup.export_dir,
    ))?;
    let path = setup.export_dir.join(name);
    let ledger = setup.ledger();
    let lock = ledger.lock()?;
    let previous = ledger.read()?;
    let index = previous.iter().position(|entry| entry.path == path);
    let existing = read_existing(&path)?;

    let recorded = index.map(|index| &previous[index]);
    let same_owner = recorded.is_some_and(|entry| {
        entry.container == request.container && entry.binary == request.binary
    });
    let collision = match (recorded, &existing) {
        (Some(entry), Existing::File(_) | Existing::Other) if !existing.is_intact(entry) => {
            Some(Owner::ModifiedWrapper {
                path: path.clone(),
                container: entry.container.clone(),
            })
        }
        (Some(entry), _) if !same_owner => Some(Owner::OtherContainer {
            path: path.clone(),
            container: entry.container.clone(),
            binary: entry.binary.clone(),
        }),
        (None, Existing::File(_) | Existing::Other) => {
            Some(Owner::ForeignFile { path: path.clone() })
        }
        _ if same_owner => None,
        _ => shadowed(setup, name),
    };
    if let Some(owner) = &collision
        && !request.force
    {
        return Err(ExportError::Collision {
            name: name.to_owned(),
            owner: owner.clone(),
        });
    }
    let change = match (&collision, &existing) {
        (Some(_), _) => ExportChange::Replaced,
        (None, Existing::File(bytes)) if bytes == text.as_bytes() => ExportChange::Unchanged,
        (None, Existing::File(_)) => ExportChange::Rewritten,
        (None, _) => ExportChange::Created,
    };
    // A file that is not ours (or no longer) is moved aside, never overwritten.
    let not_ours = match (recorded, &existing) {
        (_, Existing::Missing) => false,
        (Some(entry), existing) => !existing.is_intact(entry),
        (None, _) => true,
    };
    let backup = not_ours.then(|| backup_path(&path));
    let entry = ExportEntry {
        name: name.to_owned(),
        path: path.clone(),
        container: request.container.clone(),
        binary: request.binary.clone(),
        content_hash: content_hash(text.as_bytes()),
        horizon_version: setup.version.clone(),
        backup: backup
            .clone()
            .or_else(|| recorded.and_then(|entry| entry.backup.clone())),
    };
    if change != ExportChange::Unchanged || recorded != Some(&entry) {
        let mut entries = previous.clone();
        match index {
            Some(index) => entries[index] = entry.clone(),
            None => entries.push(entry.clone()),
        }
        commit_wrapper(
            &ledger,
            &lock,
            &previous,
            &entries,
            &path,
            &text,
            backup.as_deref(),
        )?;
    }
    Ok(ExportOutcome {
        entry,
        change,
        overridden: collision,
    })
}

/// What happened to a wrapper's file when its export ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RemovedFile {
    /// Deleted.
    Removed,
    /// Left in place: it was changed since horizon wrote it, so it is no longer ours.
    KeptChanged,
    /// It was gone already.
    AlreadyGone,
    /// Left in place, with its backup: the entry names a file outside the export directory, and
    /// horizon never removes or moves a file on the ledger's word alone.
    KeptOutside,
}

/// The result of ending one export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnexportOutcome {
    /// The ledger entry removed.
    #[serde(flatten)]
    pub entry: ExportEntry,
    /// What happened to the file.
    pub file: RemovedFile,
    /// The backup put back in its place.
    pub restored: Option<PathBuf>,
}

/// Ends `entry`'s export on disk (not in the ledger): deletes the wrapper if it is still ours and
/// puts back the file `force` moved aside.
fn end_export(entry: &ExportEntry, export_dir: &Path) -> Result<UnexportOutcome, ExportError> {
    // The ledger is state, not trusted blindly: only files directly in the export directory are
    // ever removed or restored on its word. The entry ends; the files stay.
    if std::iter::once(&entry.path)
        .chain(&entry.backup)
        .any(|path| path.parent() != Some(export_dir))
    {
        return Ok(UnexportOutcome {
            entry: entry.clone(),
            file: RemovedFile::KeptOutside,
            restored: None,
        });
    }
    let existing = read_existing(&entry.path)?;
    let file = match existing {
        Existing::Missing => RemovedFile::AlreadyGone,
        _ if !existing.is_intact(entry) => RemovedFile::KeptChanged,
        _ => {
            std::fs::remove_file(&entry.path).map_err(ExportError::io("remove", &entry.path))?;
            RemovedFile::Removed
        }
    };
    let restored = match &entry.backup {
        Some(backup) if file != RemovedFile::KeptChanged && backup.exists() => {
            std::fs::rename(backup, &entry.path).map_err(ExportError::io("restore", backup))?;
            Some(backup.clone())
        }
        _ => None,
    };
    if let Some(dir) = entry.path.parent()
        && let Err(error) = crate::fsutil::sync_dir(dir)
    {
        tracing::debug!(%error, dir = %dir.display(), "could not sync the export directory");
    }
    Ok(UnexportOutcome {
        entry: entry.clone(),
        file,
        restored,
    })
}

/// Ends the exports the ledger holds that `select` picks: each file first, then the ledger.
fn end_exports(
    setup: &ExportSetup,
    select: impl Fn(&ExportEntry) -> bool,
) -> Result<Vec<UnexportOutcome>, ExportError> {
    let ledger = setup.ledger();
    let lock = ledger.lock()?;
    let entries = ledger.read()?;
    let (ending, kept): (Vec<ExportEntry>, Vec<ExportEntry>) =
        entries.into_iter().partition(|entry| select(entry));
    let mut outcomes = Vec::new();
    let mut failed = None;
    let mut still_recorded = kept;
    for entry in ending {
        match end_export(&entry, &setup.export_dir) {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                still_recorded.push(entry);
                failed.get_or_insert(error);
            }
        }
    }
    ledger.write(&lock, &still_recorded)?;
    match failed {
        Some(error) => Err(error),
        None => Ok(outcomes),
    }
}

/// Removes the export called `name`: the wrapper `export_dir/NAME` (or, when the ledger has none
/// there, the one export of that name elsewhere). [`ExportError::NotExported`] when the ledger
/// has none.
pub fn unexport(setup: &ExportSetup, name: &str) -> Result<UnexportOutcome, ExportError> {
    valid("binary", name)?;
    let path = setup.export_dir.join(name);
    let entries = setup.ledger().read()?;
    let target = if entries.iter().any(|entry| entry.path == path) {
        path.clone()
    } else {
        let mut named = entries.iter().filter(|entry| entry.name == name);
        match (named.next(), named.next()) {
            (Some(entry), None) => entry.path.clone(),
            _ => {
                return Err(ExportError::NotExported {
                    name: name.to_owned(),
                    path,
                });
            }
        }
    };
    end_exports(setup, |entry| entry.path == target)?
        .pop()
        .ok_or_else(|| ExportError::NotExported {
            name: name.to_owned(),
            path: target,
        })
}

/// Removes every export of `container` (after `remove`).
pub fn remove_container_exports(
    setup: &ExportSetup,
    container: &str,
) -> Result<Vec<UnexportOutcome>, ExportError> {
    end_exports(setup, |entry| entry.container == container)
}

/// Removes the exports of `container` named after one of `binaries` (what a definition no longer
/// declares); an export under another name (`--as`) was asked for by hand and stays.
pub fn remove_declared_exports(
    setup: &ExportSetup,
    container: &str,
    binaries: &BTreeSet<String>,
) -> Result<Vec<UnexportOutcome>, ExportError> {
    end_exports(setup, |entry| {
        entry.container == container
            && entry.name == entry.binary
            && binaries.contains(&entry.binary)
    })
}

/// The exports whose container is not in `installed` (the definition names with an install
/// record).
pub fn orphans(
    setup: &ExportSetup,
    installed: &BTreeSet<String>,
) -> Result<Vec<ExportEntry>, ExportError> {
    Ok(setup
        .ledger()
        .read()?
        .into_iter()
        .filter(|entry| !installed.contains(&entry.container))
        .collect())
}

/// Removes the exports whose container is not in `installed` (`cleanup`).
pub fn remove_orphans(
    setup: &ExportSetup,
    installed: &BTreeSet<String>,
) -> Result<Vec<UnexportOutcome>, ExportError> {
    end_exports(setup, |entry| !installed.contains(&entry.container))
}

/// The state of one recorded export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExportState {
    /// The wrapper is there, as this horizon would write it.
    Ok,
    /// The wrapper was written by another horizon version or for another client path:
    /// `export --repair` rewrites it.
    Stale,
    /// Its container is not installed: running it exits 127; `cleanup` removes it.
    Orphaned,
    /// The file is gone: `export --repair` writes it again.
    Missing,
    /// The file was changed since horizon wrote it (horizon will not touch it).
    Modified,
}

/// One export as [`list`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedExport {
    /// The ledger entry.
    #[serde(flatten)]
    pub entry: ExportEntry,
    /// Its state.
    pub state: ExportState,
}

/// Every recorded export and its state. `installed` (definition names with an install record)
/// marks orphans; `None` skips that check.
pub fn list(
    setup: &ExportSetup,
    installed: Option<&BTreeSet<String>>,
) -> Result<Vec<ListedExport>, ExportError> {
    let mut listed = Vec::new();
    for entry in setup.ledger().read()? {
        let existing = read_existing(&entry.path)?;
        let current = setup.render(&entry.container, &entry.binary)?;
        let state = match &existing {
            Existing::Missing => ExportState::Missing,
            _ if !existing.is_intact(&entry) => ExportState::Modified,
            _ if installed.is_some_and(|names| !names.contains(&entry.container)) => {
                ExportState::Orphaned
            }
            _ if content_hash(current.as_bytes()) != entry.content_hash => ExportState::Stale,
            _ => ExportState::Ok,
        };
        listed.push(ListedExport { entry, state });
    }
    Ok(listed)
}

/// What [`repair`] did to one export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RepairAction {
    /// Already as this horizon writes it.
    Unchanged,
    /// Rewritten.
    Rewritten,
    /// The file was gone and is written again.
    Recreated,
    /// Changed since horizon wrote it: left alone (with `force`, moved aside and rewritten).
    SkippedModified,
    /// Changed since horizon wrote it; moved aside (`force`) and rewritten.
    Replaced,
}

/// One export's repair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairItem {
    /// The entry after the repair.
    #[serde(flatten)]
    pub entry: ExportEntry,
    /// What was done.
    pub action: RepairAction,
}

/// Rewrites every recorded wrapper as this horizon writes it (after an upgrade of horizon, or
/// when its client moved), recreating missing ones. A wrapper changed since horizon wrote it is
/// skipped, unless `force`: then it is moved aside to a backup first.
pub fn repair(setup: &ExportSetup, force: bool) -> Result<Vec<RepairItem>, ExportError> {
    let ledger = setup.ledger();
    let lock = ledger.lock()?;
    let mut entries = ledger.read()?;
    let mut items = Vec::new();
    for index in 0..entries.len() {
        let entry = entries[index].clone();
        let text = setup.render(&entry.container, &entry.binary)?;
        let existing = read_existing(&entry.path)?;
        let (action, backup) = match &existing {
            Existing::Missing => (RepairAction::Recreated, None),
            _ if !existing.is_intact(&entry) && !force => (RepairAction::SkippedModified, None),
            _ if !existing.is_intact(&entry) => {
                (RepairAction::Replaced, Some(backup_path(&entry.path)))
            }
            Existing::File(bytes) if bytes == text.as_bytes() => (RepairAction::Unchanged, None),
            _ => (RepairAction::Rewritten, None),
        };
        if matches!(
            action,
            RepairAction::Recreated | RepairAction::Rewritten | RepairAction::Replaced
        ) {
            let previous = entries.clone();
            entries[index] = ExportEntry {
                content_hash: content_hash(text.as_bytes()),
                horizon_version: setup.version.clone(),
                backup: backup.clone().or(entry.backup.clone()),
                ..entry
            };
            if let Some(dir) = entries[index].path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(ExportError::io("create the export directory", dir))?;
            }
            let path = entries[index].path.clone();
            commit_wrapper(
                &ledger,
                &lock,
                &previous,
                &entries,
                &path,
                &text,
                backup.as_deref(),
            )?;
        }
        items.push(RepairItem {
            entry: entries[index].clone(),
            action,
        });
    }
    Ok(items)
}

#[cfg(test)]
mod tests;
