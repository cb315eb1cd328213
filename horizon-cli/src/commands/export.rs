//! `export BINARY [--from NAME] [--as ALIAS] [--force]`, `export --repair`, `unexport NAME` and
//! `exports`: each one call of horizon-core's export use cases, and the renderings `install`,
//! `update`, `remove` and `cleanup` share for the wrappers they changed.
//!
//! Exit statuses: 0 done; 1 failed (nothing provides the binary, it is not in the container, not
//! exported, a file error); 2 invalid input (a bad name, an ambiguous binary); 3 no Podman; 4 the
//! name is taken (`--force` overrides).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::export::{
    ExportChange, ExportError, ExportOutcome, ExportRequest, ExportState, ListedExport, Owner,
    RemovedFile, RepairAction, RepairItem, UnexportOutcome,
};
use horizon_core::printable::escape_lines;
use horizon_core::usecase::DeclaredExports;
use serde::Serialize;

use super::{BINARY, Session, print_report};
use crate::cli::ExportArgs;

/// `export`: one binary, or `--repair`.
pub async fn run(session: &Session, args: ExportArgs) -> Result<ExitCode, Failure> {
    let horizon = &session.horizon;
    if args.repair {
        let items = horizon.repair_exports(args.force)?;
        let json = RepairJson { repaired: &items };
        print_report(session.json, &json, |out| render_repair(out, &items))?;
        return Ok(ExitCode::SUCCESS);
    }
    let request = ExportRequest {
        container: args.from.unwrap_or_default(),
        binary: args.binary.unwrap_or_default(),
        alias: args.alias,
        force: args.force,
    };
    let outcome = horizon.export(session.call(), request).await?;
    let json = ExportJson { outcome: &outcome };
    print_report(session.json, &json, |out| render_export(out, &outcome))?;
    if !horizon.export_dir_on_path() {
        // A lost note must not fail the export.
        let _ = writeln!(
            std::io::stderr().lock(),
            "{BINARY}: note: {} is not on your PATH; add it to run exported binaries by name",
            horizon.settings().paths.export_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `unexport NAME`.
pub fn unexport(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let outcome = session.horizon.unexport(name)?;
    let json = UnexportJson { outcome: &outcome };
    print_report(session.json, &json, |out| {
        render_unexported(out, std::slice::from_ref(&outcome))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `exports`.
pub fn list(session: &Session) -> Result<ExitCode, Failure> {
    let report = session.horizon.exports()?;
    let json = ListJson {
        export_dir: &report.export_dir,
        exports: &report.exports,
    };
    print_report(session.json, &json, |out| render_list(out, &report.exports))?;
    Ok(ExitCode::SUCCESS)
}

/// The `exports` member of `install` and `update` documents: what was exported of the
/// definition's `export_binaries`, and what was refused with why and how to export it anyway.
#[derive(Debug, Serialize)]
pub struct DeclaredJson<'a> {
    /// The exports made (or already there).
    pub exported: &'a [ExportOutcome],
    /// The binaries not exported.
    pub refused: Vec<RefusedJson>,
}

/// A binary that was not exported.
#[derive(Debug, Serialize)]
pub struct RefusedJson {
    /// The binary.
    pub binary: String,
    /// Why.
    pub error: String,
    /// How to export it anyway.
    pub hint: Option<String>,
}

impl<'a> DeclaredJson<'a> {
    /// The document of `done`.
    pub fn new(done: &'a DeclaredExports) -> Self {
        DeclaredJson {
            exported: &done.exported,
            refused: done
                .refused
                .iter()
                .map(|refused| RefusedJson {
                    binary: refused.binary.clone(),
                    error: refused.error.to_string(),
                    hint: refused_hint(&refused.error, &refused.binary, &refused.container),
                })
                .collect(),
        }
    }
}

/// How to export a declared binary that was refused.
fn refused_hint(error: &ExportError, binary: &str, container: &str) -> Option<String> {
    match error {
        ExportError::Collision { .. } => Some(format!(
            "`horizon-container export {binary} --from {container} --force` exports it anyway, \
             `--as ALIAS` under another name"
        )),
        ExportError::Client { .. } => Some(horizon_cli_support::hint::render(
            &horizon_core::Hint::InstallExecClient,
        )),
        _ => None,
    }
}

#[derive(Debug, Serialize)]
struct ExportJson<'a> {
    #[serde(flatten)]
    outcome: &'a ExportOutcome,
}

#[derive(Debug, Serialize)]
struct RepairJson<'a> {
    repaired: &'a [RepairItem],
}

#[derive(Debug, Serialize)]
struct UnexportJson<'a> {
    #[serde(flatten)]
    outcome: &'a UnexportOutcome,
}

#[derive(Debug, Serialize)]
struct ListJson<'a> {
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
    for refused in &DeclaredJson::new(done).refused {
        writeln!(
            out,
            "horizon-container: warning: {} not exported: {}",
            refused.binary,
            escape_lines(&refused.error)
        )?;
        if let Some(hint) = &refused.hint {
            writeln!(out, "hint: {}", escape_lines(hint))?;
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
            RemovedFile::KeptOutside => format!(
                "kept {}{}: the ledger named a file outside the export directory, which horizon \
                 never removes or restores on its word",
                entry.path.display(),
                entry
                    .backup
                    .as_ref()
                    .map(|backup| format!(" and its backup {}", backup.display()))
                    .unwrap_or_default()
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
            path: std::path::PathBuf::from("/home/me/.local/bin").join(name),
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
        let export_failure = |error: ExportError| Failure::from(horizon_core::Error::from(error));
        let collision = export_failure(ExportError::Collision {
            name: "git".into(),
            owner: Owner::HostCommand {
                path: "/usr/bin/git".into(),
            },
        });
        assert_eq!(collision.status, 4);
        assert_eq!(
            collision.hint(),
            Some("--force exports it anyway; or choose another name with --as")
        );
        let ambiguous = export_failure(ExportError::Ambiguous {
            binary: "git".into(),
            from: "installed containers",
            candidates: vec!["a".into(), "b".into()],
        });
        assert_eq!(ambiguous.status, 2);
        assert_eq!(
            ambiguous.hint(),
            Some("say which: `horizon-container export git --from a`")
        );
    }
}
