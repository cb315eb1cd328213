//! `export BINARY [--from NAME] [--as ALIAS] [--force]`, `export --repair`, `unexport NAME` and
//! `exports`: each a short mapping onto horizon-core's `export` module, plus what `install`,
//! `remove` and `cleanup` use to keep the wrappers in step with the containers.
//!
//! Exit statuses: 0 done; 1 failed (nothing provides the binary, it is not in the container, not
//! exported, a file error); 2 invalid input (a bad name, an ambiguous binary); 3 no Podman; 4 the
//! name is taken (`--force` overrides).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_core::engine::EngineError;
use horizon_core::export::{
    self, ExportChange, ExportError, ExportOutcome, ExportRequest, ExportSetup, ExportState,
    ListedExport, Owner, RemovedFile, RepairAction, RepairItem, UnexportOutcome,
};
use horizon_core::lifecycle::{self, InstallRecord};
use serde::Serialize;

use super::connection::NO_SERVICE_HINT;
use super::installed::{catalog, lifecycle_failure, state_store};
use super::{connect_engine, horizon_paths, print_report};
use crate::cli::{ExportArgs, GlobalArgs};
use crate::exit::{self, Failure};

/// Version of the `--json` documents below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

/// Where this user's exports go and what they run: the export and state directories (global
/// options applied), `horizon-exec` beside this binary, and `$PATH`.
pub fn export_setup(global: &GlobalArgs) -> ExportSetup {
    let paths = horizon_paths(global);
    let client = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(export::CLIENT_BINARY)))
        .unwrap_or_else(|| PathBuf::from(export::CLIENT_BINARY));
    ExportSetup {
        export_dir: paths.export_dir,
        state_dir: paths.state_dir,
        client,
        search_path: std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect())
            .unwrap_or_default(),
        version: horizon_core::VERSION.to_owned(),
    }
}

/// The client must exist before a wrapper points at it.
fn check_client(setup: &ExportSetup) -> Result<(), Failure> {
    if setup.client.is_file() {
        return Ok(());
    }
    Err(Failure::other(anyhow!(
        "{} is missing: exported wrappers run it",
        setup.client.display()
    ))
    .with_hint("install horizon-exec in the same directory as horizon-container"))
}

/// The exit status and hint of an export error.
pub fn export_failure(error: ExportError) -> Failure {
    let hint = match &error {
        ExportError::Collision { name, owner } => Some(match owner {
            Owner::ForeignFile { .. } | Owner::ModifiedWrapper { .. } => format!(
                "--force moves it aside to {name}{} and exports; or choose another name with --as",
                export::BACKUP_SUFFIX
            ),
            _ => "--force exports it anyway; or choose another name with --as".to_owned(),
        }),
        ExportError::Ambiguous {
            binary, candidates, ..
        } => Some(format!(
            "say which: `horizon-container export {binary} --from {}`",
            candidates.first().map_or("NAME", String::as_str)
        )),
        ExportError::NoProvider { binary, .. } => Some(format!(
            "name the container: `horizon-container export {binary} --from NAME` \
             (`horizon-container list` shows the definitions)"
        )),
        ExportError::NotInstalled { container } => Some(format!(
            "install it: `horizon-container install {container}`"
        )),
        ExportError::BinaryMissing { container, binary } => Some(format!(
            "add the package that provides {binary} to the packages of {container}'s definition \
             and `horizon-container install {container} --reinstall`; --force exports it anyway"
        )),
        ExportError::NotExported { .. } => {
            Some("`horizon-container exports` lists the exported binaries".to_owned())
        }
        _ => None,
    };
    let status = match &error {
        ExportError::InvalidName { .. } | ExportError::Ambiguous { .. } => exit::INVALID_INPUT,
        ExportError::Collision { .. } => exit::CONFLICT,
        _ if matches!(error.engine_error(), Some(EngineError::Unreachable { .. })) => {
            return Failure::new(exit::NO_SERVICE, anyhow!(error)).with_hint(NO_SERVICE_HINT);
        }
        _ => exit::FAILURE,
    };
    let failure = Failure::new(status, anyhow!(error));
    match hint {
        Some(hint) => failure.with_hint(hint),
        None => failure,
    }
}

/// `export`: one binary, or `--repair`.
pub async fn run(global: &GlobalArgs, args: ExportArgs) -> Result<ExitCode, Failure> {
    let setup = export_setup(global);
    if args.repair {
        check_client(&setup)?;
        let items = export::repair(&setup, args.force).map_err(export_failure)?;
        let json = RepairJson {
            schema_version: SCHEMA_VERSION,
            repaired: &items,
        };
        print_report(global.json, &json, |out| render_repair(out, &items))?;
        return Ok(ExitCode::SUCCESS);
    }
    let binary = args.binary.unwrap_or_default();
    let mut request = ExportRequest {
        container: args.from.clone().unwrap_or_default(),
        binary: binary.clone(),
        alias: args.alias,
        force: args.force,
    };
    if args.from.is_some() {
        export::check_request(&request).map_err(export_failure)?;
    }
    check_client(&setup)?;
    let records = state_store(global).list().map_err(lifecycle_failure)?;
    request.container = match args.from {
        Some(from) => {
            installed(&records, &from)?;
            if !args.force {
                check_binary(global, &from, &binary).await?;
            }
            from
        }
        None => {
            let catalog = catalog(global);
            let declared = export::declared_providers(&catalog, &binary);
            let container = match declared.as_slice() {
                [one] => one.clone(),
                _ => {
                    let engine = connect_engine(global).await?;
                    export::resolve_provider(&engine, &catalog, &records, &binary)
                        .await
                        .map_err(export_failure)?
                }
            };
            installed(&records, &container)?;
            container
        }
    };
    let outcome = export::export(&setup, &request).map_err(export_failure)?;
    let json = ExportJson {
        schema_version: SCHEMA_VERSION,
        outcome: &outcome,
    };
    print_report(global.json, &json, |out| render_export(out, &outcome))?;
    warn_off_path(&setup);
    Ok(ExitCode::SUCCESS)
}

/// Refuses a container without an install record.
fn installed(records: &[InstallRecord], container: &str) -> Result<(), Failure> {
    if records.iter().any(|record| record.name == container) {
        return Ok(());
    }
    Err(export_failure(ExportError::NotInstalled {
        container: container.to_owned(),
    }))
}

/// Refuses a binary the container does not have (starting the container to look).
async fn check_binary(global: &GlobalArgs, container: &str, binary: &str) -> Result<(), Failure> {
    let engine = connect_engine(global).await?;
    let details = lifecycle::ensure_running(&engine, container)
        .await
        .map_err(lifecycle_failure)?;
    let found = export::locate_binary(&engine, &details.name, binary)
        .await
        .map_err(|source| export_failure(ExportError::Engine { source }))?;
    match found {
        Some(_) => Ok(()),
        None => Err(export_failure(ExportError::BinaryMissing {
            container: container.to_owned(),
            binary: binary.to_owned(),
        })),
    }
}

/// A note on stderr when the export directory is not on `PATH` (the wrapper would not be found).
fn warn_off_path(setup: &ExportSetup) {
    if setup.search_path.iter().any(|dir| dir == &setup.export_dir) {
        return;
    }
    // A lost note must not fail the export.
    let _ = writeln!(
        std::io::stderr().lock(),
        "horizon-container: note: {} is not on your PATH; add it to run exported binaries by name",
        setup.export_dir.display()
    );
}

/// `unexport NAME`.
pub fn unexport(global: &GlobalArgs, name: &str) -> Result<ExitCode, Failure> {
    let setup = export_setup(global);
    let outcome = export::unexport(&setup, name).map_err(export_failure)?;
    let json = UnexportJson {
        schema_version: SCHEMA_VERSION,
        outcome: &outcome,
    };
    print_report(global.json, &json, |out| {
        render_unexported(out, std::slice::from_ref(&outcome))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `exports`.
pub fn list(global: &GlobalArgs) -> Result<ExitCode, Failure> {
    let setup = export_setup(global);
    let records = state_store(global).list().map_err(lifecycle_failure)?;
    let installed: BTreeSet<String> = records.into_iter().map(|record| record.name).collect();
    let listed = export::list(&setup, Some(&installed)).map_err(export_failure)?;
    let json = ListJson {
        schema_version: SCHEMA_VERSION,
        export_dir: &setup.export_dir,
        exports: &listed,
    };
    print_report(global.json, &json, |out| render_list(out, &listed))?;
    Ok(ExitCode::SUCCESS)
}

/// What `install` exported of a definition's `export_binaries`, and what it could not.
#[derive(Debug, Default, Serialize)]
pub struct DeclaredExports {
    /// The exports made (or already there).
    pub exported: Vec<ExportOutcome>,
    /// The binaries not exported, with why.
    pub refused: Vec<RefusedExport>,
}

/// A binary `install` did not export.
#[derive(Debug, Serialize)]
pub struct RefusedExport {
    /// The binary.
    pub binary: String,
    /// Why.
    pub error: String,
    /// How to export it anyway.
    pub hint: Option<String>,
}

/// Exports every binary of `binaries` from `container` (`install`). A refusal (the name is taken)
/// does not stop the others, nor fail the install.
pub fn export_declared(
    global: &GlobalArgs,
    container: &str,
    binaries: &[String],
) -> DeclaredExports {
    let setup = export_setup(global);
    let mut done = DeclaredExports::default();
    if binaries.is_empty() {
        return done;
    }
    if let Err(failure) = check_client(&setup) {
        done.refused = binaries
            .iter()
            .map(|binary| RefusedExport {
                binary: binary.clone(),
                error: failure.error.to_string(),
                hint: failure.hint.clone(),
            })
            .collect();
        return done;
    }
    for binary in binaries {
        let request = ExportRequest {
            container: container.to_owned(),
            binary: binary.clone(),
            alias: None,
            force: false,
        };
        match export::export(&setup, &request) {
            Ok(outcome) => done.exported.push(outcome),
            Err(error) => {
                let hint = match &error {
                    ExportError::Collision { .. } => Some(format!(
                        "`horizon-container export {binary} --from {container} --force` exports it anyway, \
                         `--as ALIAS` under another name"
                    )),
                    _ => None,
                };
                done.refused.push(RefusedExport {
                    binary: binary.clone(),
                    error: error.to_string(),
                    hint,
                });
            }
        }
    }
    done
}

/// Removes the wrappers of `container` (`remove`).
pub fn remove_exports_of(
    global: &GlobalArgs,
    container: &str,
) -> Result<Vec<UnexportOutcome>, Failure> {
    export::remove_container_exports(&export_setup(global), container).map_err(export_failure)
}

/// The exports whose container is not in `installed`: removed, or with `dry_run` only listed
/// (`cleanup`).
pub fn clean_orphans(
    global: &GlobalArgs,
    installed: &BTreeSet<String>,
    dry_run: bool,
) -> Result<Vec<UnexportOutcome>, Failure> {
    let setup = export_setup(global);
    if dry_run {
        let orphans = export::orphans(&setup, installed).map_err(export_failure)?;
        return Ok(orphans
            .into_iter()
            .map(|entry| UnexportOutcome {
                entry,
                file: RemovedFile::Removed,
                restored: None,
            })
            .collect());
    }
    export::remove_orphans(&setup, installed).map_err(export_failure)
}

#[derive(Debug, Serialize)]
struct ExportJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    outcome: &'a ExportOutcome,
}

#[derive(Debug, Serialize)]
struct RepairJson<'a> {
    schema_version: u32,
    repaired: &'a [RepairItem],
}

#[derive(Debug, Serialize)]
struct UnexportJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    outcome: &'a UnexportOutcome,
}

#[derive(Debug, Serialize)]
struct ListJson<'a> {
    schema_version: u32,
    export_dir: &'a Path,
    exports: &'a [ListedExport],
}

fn render_export(out: &mut impl Write, outcome: &ExportOutcome) -> std::io::Result<()> {
    let entry = &outcome.entry;
    let what = if entry.name == entry.binary {
        format!("{} from {}", entry.name, entry.container)
    } else {
        format!("{} ({} from {})", entry.name, entry.binary, entry.container)
    };
    let verb = match outcome.change {
        ExportChange::Unchanged => "already exported",
        ExportChange::Rewritten => "re-exported",
        _ => "exported",
    };
    writeln!(out, "{verb} {what}: {}", entry.path.display())?;
    if let Some(owner) = &outcome.overridden {
        writeln!(out, "  overrode: {owner}")?;
    }
    if let (Some(backup), Some(Owner::ForeignFile { .. } | Owner::ModifiedWrapper { .. })) =
        (&entry.backup, &outcome.overridden)
    {
        writeln!(out, "  the previous file is kept as {}", backup.display())?;
    }
    Ok(())
}

/// The lines `install` prints on stdout about its exports.
pub fn render_declared(out: &mut impl Write, done: &DeclaredExports) -> std::io::Result<()> {
    // What was there already is not news.
    let changed = done
        .exported
        .iter()
        .filter(|outcome| outcome.change != ExportChange::Unchanged);
    for outcome in changed {
        writeln!(
            out,
            "exported: {} ({})",
            outcome.entry.name,
            outcome.entry.path.display()
        )?;
    }
    Ok(())
}

/// The warnings `install` prints on stderr about the binaries it did not export.
pub fn render_refused(out: &mut impl Write, done: &DeclaredExports) -> std::io::Result<()> {
    for refused in &done.refused {
        writeln!(
            out,
            "horizon-container: warning: {} not exported: {}",
            refused.binary, refused.error
        )?;
        if let Some(hint) = &refused.hint {
            writeln!(out, "hint: {hint}")?;
        }
    }
    Ok(())
}

fn render_repair(out: &mut impl Write, items: &[RepairItem]) -> std::io::Result<()> {
    if items.is_empty() {
        return writeln!(out, "no exported binaries to repair");
    }
    for item in items {
        let action = match item.action {
            RepairAction::Unchanged => "up to date",
            RepairAction::Rewritten => "rewritten",
            RepairAction::Recreated => "recreated",
            RepairAction::SkippedModified => {
                "skipped: changed since horizon wrote it (--force moves it aside and rewrites)"
            }
            RepairAction::Replaced => "moved aside and rewritten",
            _ => "done",
        };
        writeln!(
            out,
            "{} ({}): {action}",
            item.entry.name,
            item.entry.path.display()
        )?;
    }
    Ok(())
}

/// The lines of `unexport`, and of `remove` and `cleanup` about the wrappers they removed.
pub fn render_unexported(
    out: &mut impl Write,
    outcomes: &[UnexportOutcome],
) -> std::io::Result<()> {
    for outcome in outcomes {
        let entry = &outcome.entry;
        let what = match outcome.file {
            RemovedFile::Removed => format!("removed {}", entry.path.display()),
            RemovedFile::AlreadyGone => format!("{} was gone already", entry.path.display()),
            RemovedFile::KeptChanged => format!(
                "kept {}: changed since horizon wrote it",
                entry.path.display()
            ),
            _ => entry.path.display().to_string(),
        };
        writeln!(
            out,
            "unexported {} (from {}): {what}",
            entry.name, entry.container
        )?;
        if let Some(backup) = &outcome.restored {
            writeln!(
                out,
                "  restored the previous file from {}",
                backup.display()
            )?;
        }
    }
    Ok(())
}

fn state_word(state: ExportState) -> &'static str {
    match state {
        ExportState::Ok => "ok",
        ExportState::Stale => "stale",
        ExportState::Orphaned => "orphaned",
        ExportState::Missing => "missing",
        ExportState::Modified => "modified",
        _ => "unknown",
    }
}

fn render_list(out: &mut impl Write, listed: &[ListedExport]) -> std::io::Result<()> {
    if listed.is_empty() {
        return writeln!(out, "no exported binaries");
    }
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|item| {
            [
                item.entry.name.clone(),
                item.entry.container.clone(),
                item.entry.binary.clone(),
                state_word(item.state).to_owned(),
                item.entry.path.display().to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "CONTAINER", "BINARY", "STATE", "PATH"].map(str::to_owned);
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|row| row[column].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use horizon_core::export::ExportEntry;

    use super::*;

    fn entry(name: &str, binary: &str) -> ExportEntry {
        ExportEntry {
            name: name.into(),
            path: PathBuf::from("/home/me/.local/bin").join(name),
            container: "dev".into(),
            binary: binary.into(),
            content_hash: "sha256:00".into(),
            horizon_version: "0.1.0".into(),
            backup: None,
        }
    }

    fn rendered(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut out = Vec::new();
        render(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn export_lines() {
        let created = ExportOutcome {
            entry: entry("git", "git"),
            change: ExportChange::Created,
            overridden: None,
        };
        assert_eq!(
            rendered(|out| render_export(out, &created)),
            "exported git from dev: /home/me/.local/bin/git\n"
        );
        let forced = ExportOutcome {
            entry: ExportEntry {
                backup: Some("/home/me/.local/bin/g.horizon-backup".into()),
                ..entry("g", "git")
            },
            change: ExportChange::Replaced,
            overridden: Some(Owner::ForeignFile {
                path: "/home/me/.local/bin/g".into(),
            }),
        };
        assert_eq!(
            rendered(|out| render_export(out, &forced)),
            "exported g (git from dev): /home/me/.local/bin/g\n  overrode: \
             /home/me/.local/bin/g exists and was not written by horizon\n  the previous file is \
             kept as /home/me/.local/bin/g.horizon-backup\n"
        );
    }

    #[test]
    fn the_list_is_a_table() {
        let listed = vec![
            ListedExport {
                entry: entry("git", "git"),
                state: ExportState::Ok,
            },
            ListedExport {
                entry: entry("python", "python3"),
                state: ExportState::Orphaned,
            },
        ];
        assert_eq!(
            rendered(|out| render_list(out, &listed)),
            "NAME    CONTAINER  BINARY   STATE     PATH\n\
             git     dev        git      ok        /home/me/.local/bin/git\n\
             python  dev        python3  orphaned  /home/me/.local/bin/python\n"
        );
        assert_eq!(
            rendered(|out| render_list(out, &[])),
            "no exported binaries\n"
        );
    }

    #[test]
    fn unexport_and_repair_lines() {
        let outcomes = vec![
            UnexportOutcome {
                entry: entry("git", "git"),
                file: RemovedFile::Removed,
                restored: Some("/home/me/.local/bin/git.horizon-backup".into()),
            },
            UnexportOutcome {
                entry: entry("make", "make"),
                file: RemovedFile::KeptChanged,
                restored: None,
            },
        ];
        assert_eq!(
            rendered(|out| render_unexported(out, &outcomes)),
            "unexported git (from dev): removed /home/me/.local/bin/git\n  restored the previous \
             file from /home/me/.local/bin/git.horizon-backup\nunexported make (from dev): kept \
             /home/me/.local/bin/make: changed since horizon wrote it\n"
        );
        let items = vec![RepairItem {
            entry: entry("git", "git"),
            action: RepairAction::Rewritten,
        }];
        assert_eq!(
            rendered(|out| render_repair(out, &items)),
            "git (/home/me/.local/bin/git): rewritten\n"
        );
    }

    #[test]
    fn collisions_exit_4_and_ambiguity_2() {
        let collision = export_failure(ExportError::Collision {
            name: "git".into(),
            owner: Owner::HostCommand {
                path: "/usr/bin/git".into(),
            },
        });
        assert_eq!(collision.status, 4);
        assert_eq!(
            collision.hint.as_deref(),
            Some("--force exports it anyway; or choose another name with --as")
        );
        let ambiguous = export_failure(ExportError::Ambiguous {
            binary: "git".into(),
            from: "installed containers",
            candidates: vec!["a".into(), "b".into()],
        });
        assert_eq!(ambiguous.status, 2);
        assert_eq!(
            ambiguous.hint.as_deref(),
            Some("say which: `horizon-container export git --from a`")
        );
    }
}
