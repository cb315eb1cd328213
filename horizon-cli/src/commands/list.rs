//! `horizon-container list`: every known definition (name, purpose, layer, installed state, image)
//! and every refused definition file with its errors. The installed state comes from ONE list
//! call for all managed containers (found by label); when no Podman service answers, the
//! definitions are still listed, with state `unknown` and a note on stderr. An installed container
//! whose definition is gone or refused is listed too, marked so: nothing installed is hidden.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::definition::{Diagnostic, InvalidFile, Layer};
use horizon_core::lifecycle::{InstalledState, InstalledStates};
use horizon_core::printable::escape;
use horizon_core::usecase::DefinitionLookup;
use horizon_core::{InstalledWithoutDefinition, ListReport as Listed};
use serde::Serialize;

use super::{BINARY, Session, print_report};

/// Shown for a definition without a purpose.
const NO_PURPOSE: &str = "-";
/// Space between table columns.
const GAP: usize = 2;
/// The state shown when no Podman service answered.
const UNKNOWN_STATE: &str = "unknown";

#[derive(Debug, Serialize)]
struct ListReport {
    definitions: Vec<ListEntry>,
    invalid: Vec<InvalidEntry>,
    /// Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    installed_without_definition: Vec<UndefinedEntry>,
}

/// An installed container without a usable definition in `--json` output.
#[derive(Debug, Serialize)]
struct UndefinedEntry {
    name: String,
    /// `running` or `stopped`.
    state: &'static str,
    generation: Option<u64>,
    /// `missing` (no file) or `invalid` (its file is refused).
    definition: &'static str,
    /// The refused file, for `invalid`.
    definition_file: Option<PathBuf>,
    /// The image its container runs.
    image: String,
}

impl From<&InstalledWithoutDefinition> for UndefinedEntry {
    fn from(installed: &InstalledWithoutDefinition) -> Self {
        let (definition, definition_file) = definition_words(&installed.definition);
        UndefinedEntry {
            name: installed.name.clone(),
            state: state_word(installed.summary.state),
            generation: installed.summary.generation,
            definition,
            definition_file,
            image: installed.image.clone(),
        }
    }
}

/// The JSON word of a missing definition, and the refused file.
fn definition_words(lookup: &DefinitionLookup) -> (&'static str, Option<PathBuf>) {
    match lookup {
        DefinitionLookup::Invalid(path) => ("invalid", Some(path.clone())),
        _ => ("missing", None),
    }
}

#[derive(Debug, Serialize)]
struct ListEntry {
    name: String,
    purpose: Option<String>,
    /// The highest layer that defines or customises it.
    layer: Layer,
    /// Every layer that contributed, lowest first.
    layers: Vec<Layer>,
    image: String,
    content_hash: String,
    /// `running`, `stopped`, `not-installed`, or `unknown` when no Podman service answered.
    state: &'static str,
    /// The definition changed since it was installed.
    drifted: bool,
    /// The installed generation.
    generation: Option<u64>,
}

/// A refused file in `--json` output (shared with `definition validate`).
#[derive(Debug, Serialize)]
pub(super) struct InvalidEntry {
    pub path: PathBuf,
    pub layer: Layer,
    pub errors: Vec<DiagnosticEntry>,
}

/// One diagnostic in `--json` output: its parts, and the whole line as text shows it.
#[derive(Debug, Serialize)]
pub(super) struct DiagnosticEntry {
    pub file: PathBuf,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub field: String,
    pub problem: String,
    pub message: String,
}

impl From<&Diagnostic> for DiagnosticEntry {
    fn from(diagnostic: &Diagnostic) -> Self {
        DiagnosticEntry {
            file: diagnostic.file.clone(),
            line: diagnostic.position.map(|p| p.line),
            column: diagnostic.position.map(|p| p.column),
            field: diagnostic.field.clone(),
            // Text for people, like `message`; `field` and `file` stay the file's own, as data.
            problem: escape(&diagnostic.problem.to_string()).into_owned(),
            message: diagnostic.to_string(),
        }
    }
}

impl From<&InvalidFile> for InvalidEntry {
    fn from(file: &InvalidFile) -> Self {
        InvalidEntry {
            path: file.path.clone(),
            layer: file.layer,
            errors: file.error.diagnostics.iter().map(Into::into).collect(),
        }
    }
}

pub async fn run(session: &Session) -> Result<ExitCode, Failure> {
    let listed = session.horizon.list(session.call()).await?;
    if let Some(error) = &listed.states_unknown {
        // A lost note is not worth failing the list for.
        let _ = writeln!(
            std::io::stderr().lock(),
            "{BINARY}: note: installed state unknown: {error}"
        );
    }
    print_report(session.json, &report(&listed), |out| render(out, &listed))?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON word and the table text of a definition's state (text adds the drift).
fn state_words(
    states: Option<&InstalledStates>,
    name: &str,
) -> (&'static str, String, bool, Option<u64>) {
    let Some(summary) = states.and_then(|states| states.by_definition.get(name)) else {
        return (UNKNOWN_STATE, UNKNOWN_STATE.to_owned(), false, None);
    };
    let word = state_word(summary.state);
    let mut text = summary.state.as_str().to_owned();
    if summary.drifted {
        text.push_str(" (drifted)");
    }
    (word, text, summary.drifted, summary.generation)
}

/// The JSON word of a state.
fn state_word(state: InstalledState) -> &'static str {
    match state {
        InstalledState::Running => "running",
        InstalledState::Stopped => "stopped",
        InstalledState::NotInstalled => "not-installed",
        _ => UNKNOWN_STATE,
    }
}

fn report(listed: &Listed<'_>) -> ListReport {
    let (catalog, states) = (listed.catalog, listed.states.as_ref());
    ListReport {
        definitions: catalog
            .definitions
            .iter()
            .map(|resolved| {
                let (state, _, drifted, generation) =
                    state_words(states, &resolved.definition.name);
                ListEntry {
                    name: resolved.definition.name.clone(),
                    purpose: resolved.definition.purpose.clone(),
                    layer: resolved.layer(),
                    layers: resolved.sources.iter().map(|s| s.layer).collect(),
                    image: resolved.definition.image.to_string(),
                    content_hash: resolved.definition.content_hash(),
                    state,
                    drifted,
                    generation,
                }
            })
            .collect(),
        invalid: catalog.invalid.iter().map(Into::into).collect(),
        installed_without_definition: listed
            .installed_without_definition
            .iter()
            .map(Into::into)
            .collect(),
    }
}

/// The table, then the refused files.
fn render(out: &mut impl Write, listed: &Listed<'_>) -> std::io::Result<()> {
    let (catalog, states) = (listed.catalog, listed.states.as_ref());
    let mut rows: Vec<[String; 5]> = catalog
        .definitions
        .iter()
        .map(|resolved| {
            let definition = &resolved.definition;
            [
                definition.name.clone(),
                definition
                    .purpose
                    .clone()
                    .unwrap_or_else(|| NO_PURPOSE.to_owned()),
                resolved.layer().to_string(),
                state_words(states, &definition.name).1,
                definition.image.to_string(),
            ]
        })
        .collect();
    rows.extend(listed.installed_without_definition.iter().map(|installed| {
        let why = match installed.definition {
            DefinitionLookup::Invalid(_) => "definition invalid",
            _ => "definition missing",
        };
        [
            installed.name.clone(),
            NO_PURPOSE.to_owned(),
            NO_PURPOSE.to_owned(),
            format!("{} ({why})", installed.summary.state.as_str()),
            installed.image.clone(),
        ]
    }));
    write_table(out, ["NAME", "PURPOSE", "LAYER", "STATE", "IMAGE"], &rows)?;
    render_invalid(out, &catalog.invalid)
}

/// Left-aligned columns, the last one unpadded. Every cell is escaped: a table shows what
/// definitions and Podman hold.
pub(super) fn write_table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let rows: Vec<[String; N]> = rows
        .iter()
        .map(|row| row.each_ref().map(|cell| escape(cell).into_owned()))
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; N]| -> std::io::Result<()> {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == N {
                text.push_str(cell);
            } else {
                let pad = widths[index] + GAP - cell.chars().count();
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, header)?;
    for row in &rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

fn render_invalid(out: &mut impl Write, invalid: &[InvalidFile]) -> std::io::Result<()> {
    if invalid.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "invalid definition files (not used):")?;
    for file in invalid {
        for diagnostic in &file.error.diagnostics {
            writeln!(out, "  {diagnostic}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use horizon_core::definition::{DefinitionSources, parse_layer};

    use super::*;

    #[test]
    fn renders_the_table_and_the_refused_files() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user");
        std::fs::create_dir(&user).unwrap();
        std::fs::write(
            user.join("my-tools.json"),
            r#"{"name": "my-tools", "image": "docker.io/library/ubuntu:22.04"}"#,
        )
        .unwrap();
        std::fs::write(user.join("bad.json"), r#"{"name": "bad", "imgae": "x"}"#).unwrap();
        let sources = DefinitionSources {
            system_dir: dir.path().join("none"),
            user_dir: Some(user.clone()),
            home: None,
            system_owner: 0,
        };
        let catalog = horizon_core::definition::load(&sources);
        let mut states = horizon_core::lifecycle::match_states(&catalog, &[]);
        states.by_definition.insert(
            "my-tools".into(),
            horizon_core::lifecycle::StateSummary {
                state: InstalledState::Running,
                drifted: true,
                generation: Some(2),
                container: Some("horizonos-my-tools".into()),
            },
        );
        let mut out = Vec::new();
        let listed = Listed {
            catalog: &catalog,
            states: Some(states),
            states_unknown: None,
            installed_without_definition: Vec::new(),
        };
        render(&mut out, &listed).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "NAME         PURPOSE      LAYER     STATE              IMAGE\n\
                 desktop      desktop      built-in  not installed      quay.io/toolbx/arch-toolbox:latest\n\
                 development  development  built-in  not installed      quay.io/toolbx/arch-toolbox:latest\n\
                 gaming       gaming       built-in  not installed      quay.io/toolbx/arch-toolbox:latest\n\
                 multimedia   multimedia   built-in  not installed      quay.io/toolbx/arch-toolbox:latest\n\
                 my-tools     -            user      running (drifted)  docker.io/library/ubuntu:22.04\n\
                 \n\
                 invalid definition files (not used):\n  \
                 {}:1:17: imgae: unknown field `imgae`; did you mean `image`?\n",
                user.join("bad.json").display()
            )
        );
    }

    #[test]
    fn diagnostics_keep_their_parts_in_json() {
        let error = parse_layer(b"{\"name\": \"x\",}", Path::new("x.json")).unwrap_err();
        let entry = DiagnosticEntry::from(&error.diagnostics[0]);
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            serde_json::json!({
                "file": "x.json",
                "line": 1,
                "column": 13,
                "field": "",
                "problem": "trailing comma: remove the `,` before `}` (JSON allows none)",
                "message": "x.json:1:13: trailing comma: remove the `,` before `}` (JSON allows none)"
            })
        );
    }
}
