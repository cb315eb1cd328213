//! `horizon-container definition show|validate|schema`: the merged definition of one container
//! (with `--explain`, where each field came from and what privilege lower layers grant it),
//! checking definition files, and the JSON Schema.
//! All three read definitions only, so they need no Podman.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_core::definition::{
    CODE_FIELDS, Catalog, Definition, DefinitionSources, Grant, Layer, ResolvedDefinition, Source,
    check_file, describe_grants, file_stem, json_schema_text,
};
use horizon_core::printable::{self, escape};
use serde::Serialize;

use super::list::{DiagnosticEntry, InvalidEntry};
use super::{Session, finish_output, print_report};
use crate::cli::{DefinitionCommand, LayerArg};
use horizon_cli_support::exit::{self, Failure};

/// The origin shown for a field no layer set.
const DEFAULT_ORIGIN: &str = "default";
/// Shown for an empty list or map.
const NONE: &str = "(none)";
/// Space between columns.
const GAP: usize = 2;

pub fn run(session: &Session, command: DefinitionCommand) -> Result<ExitCode, Failure> {
    match command {
        DefinitionCommand::Show { name, explain } => show(session, &name, explain),
        DefinitionCommand::Validate { files, layer } => validate(session, &files, layer),
        DefinitionCommand::Schema => {
            let mut stdout = std::io::stdout().lock();
            finish_output(stdout.write_all(json_schema_text().as_bytes()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Debug, Serialize)]
struct ShowReport<'a> {
    name: &'a str,
    layer: Layer,
    sources: &'a [Source],
    content_hash: String,
    definition: &'a Definition,
    #[serde(skip_serializing_if = "Option::is_none")]
    origins: Option<&'a BTreeMap<String, Layer>>,
    /// With `--explain`, what it grants that a user file could not (when it grants anything).
    #[serde(skip_serializing_if = "Option::is_none")]
    privilege: Option<&'a [Grant]>,
}

fn show(session: &Session, name: &str, explain: bool) -> Result<ExitCode, Failure> {
    let catalog = session.horizon.catalog();
    let refused: Vec<String> = refused_files_named(catalog, name);
    let Some(resolved) = catalog.get(name) else {
        let mut message = format!("no definition named `{name}`");
        if !refused.is_empty() {
            message.push_str(", because its file is invalid:\n");
            message.push_str(&refused.join("\n"));
        }
        return Err(Failure::new(exit::INVALID_INPUT, anyhow!(message))
            .with_hint("`horizon-container list` shows every definition and every invalid file"));
    };
    if !refused.is_empty() {
        let mut stderr = std::io::stderr().lock();
        // Only a warning: if stderr is gone, the definition itself still goes to stdout.
        let _ = writeln!(
            stderr,
            "horizon-container: warning: ignored invalid file (the layers below it are shown):\n{}",
            refused.join("\n")
        );
    }
    let report = ShowReport {
        name,
        layer: resolved.layer(),
        sources: &resolved.sources,
        content_hash: resolved.definition.content_hash(),
        definition: &resolved.definition,
        origins: explain.then_some(&resolved.origins),
        privilege: (explain && !resolved.privilege.is_empty()).then_some(&resolved.privilege),
    };
    print_report(session.json, &report, |out| {
        render_show(out, resolved, explain)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The diagnostics of refused files whose name is `name`, one line each.
fn refused_files_named(catalog: &Catalog, name: &str) -> Vec<String> {
    catalog
        .invalid
        .iter()
        .filter(|file| file_stem(&file.path) == Some(name))
        .flat_map(|file| file.error.diagnostics.iter().map(|d| format!("  {d}")))
        .collect()
}

/// Extra capabilities; every container also has the default set.
fn capabilities(extra: &[horizon_core::definition::Capability]) -> String {
    if extra.is_empty() {
        return "(default set only)".to_owned();
    }
    let names: Vec<&str> = extra.iter().map(|c| c.name()).collect();
    format!("default set + {}", names.join(", "))
}

/// One `field  value  [origin]` line per field; `environment` and `desktop` one line per key.
fn render_show(
    out: &mut impl Write,
    resolved: &ResolvedDefinition,
    explain: bool,
) -> std::io::Result<()> {
    let d = &resolved.definition;
    let list = |items: Vec<String>| {
        if items.is_empty() {
            NONE.to_owned()
        } else {
            items.join(", ")
        }
    };
    let strings = |items: &[String]| list(items.to_vec());
    let mut rows: Vec<(String, String)> = vec![
        ("name".into(), d.name.clone()),
        ("image".into(), d.image.to_string()),
        (
            "purpose".into(),
            d.purpose.clone().unwrap_or_else(|| "-".into()),
        ),
        ("packages".into(), strings(&d.packages)),
        ("export_binaries".into(), strings(&d.export_binaries)),
        ("persistent".into(), d.persistent.to_string()),
        (
            "mounts".into(),
            list(d.mounts.iter().map(ToString::to_string).collect()),
        ),
    ];
    if d.environment.is_empty() {
        rows.push(("environment".into(), NONE.into()));
    }
    for (key, value) in &d.environment {
        rows.push((format!("environment.{key}"), value.clone()));
    }
    rows.extend([
        ("privileged".into(), d.privileged.to_string()),
        ("capabilities".into(), capabilities(&d.capabilities)),
        ("desktop.display".into(), d.desktop.display.to_string()),
        ("desktop.audio".into(), d.desktop.audio.to_string()),
        ("desktop.gpu".into(), d.desktop.gpu.to_string()),
        ("desktop.input".into(), d.desktop.input.to_string()),
        (
            "devices".into(),
            list(d.devices.iter().map(ToString::to_string).collect()),
        ),
        ("network".into(), d.network.to_string()),
        (
            "verify".into(),
            list(
                d.verify
                    .iter()
                    .map(|argv| serde_json::to_string(argv).unwrap_or_default())
                    .collect(),
            ),
        ),
        ("autostart".into(), d.autostart.to_string()),
    ]);
    // Values are the files' text (environment values and mount paths may hold any character but
    // a line break); labels are field names and validated variable names.
    for (_, value) in &mut rows {
        *value = escape(value).into_owned();
    }
    let label_width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + GAP;
    let value_width = rows
        .iter()
        .map(|(_, value)| value.chars().count())
        .max()
        .unwrap_or(0)
        + GAP;
    for (label, value) in &rows {
        if explain {
            let origin = resolved
                .origin(label)
                .map(Layer::as_str)
                .unwrap_or(DEFAULT_ORIGIN);
            writeln!(
                out,
                "{label:<label_width$}{value:<value_width$}{origin}",
                value_width = value_width
            )?;
        } else {
            writeln!(
                out,
                "{}",
                format!("{label:<label_width$}{value}").trim_end()
            )?;
        }
    }
    if explain && !resolved.privilege.is_empty() {
        writeln!(
            out,
            "{:<label_width$}{}",
            "privilege",
            describe_grants(&resolved.privilege)
        )?;
        writeln!(
            out,
            "{:<label_width$}a user file may tune it but not change the code it runs: {}",
            "",
            CODE_FIELDS.join(", ")
        )?;
    }
    writeln!(out, "{:<label_width$}{}", "layer", resolved.layer())?;
    writeln!(out, "{:<label_width$}{}", "content_hash", d.content_hash())?;
    if explain {
        writeln!(out)?;
        writeln!(out, "sources (lowest layer first):")?;
        for source in &resolved.sources {
            writeln!(
                out,
                "  {:<10}{}",
                source.layer,
                printable::path(&source.path)
            )?;
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct ValidateReport<'a> {
    files: &'a [ValidateEntry],
}

#[derive(Debug, Serialize)]
struct ValidateEntry {
    path: PathBuf,
    layer: Layer,
    valid: bool,
    errors: Vec<DiagnosticEntry>,
}

fn validate(
    session: &Session,
    files: &[PathBuf],
    layer: Option<LayerArg>,
) -> Result<ExitCode, Failure> {
    let sources = &session.horizon.settings().sources;
    let mut entries = Vec::new();
    for path in files {
        let layer = match layer {
            Some(LayerArg::System) => Layer::System,
            Some(LayerArg::User) => Layer::User,
            None => layer_of(sources, path),
        };
        let errors = match check_file(sources, path, layer) {
            Ok(_) => Vec::new(),
            Err(error) => {
                InvalidEntry::from(&horizon_core::definition::InvalidFile {
                    path: path.clone(),
                    layer,
                    error,
                })
                .errors
            }
        };
        entries.push(ValidateEntry {
            path: path.clone(),
            layer,
            valid: errors.is_empty(),
            errors,
        });
    }
    let all_valid = entries.iter().all(|entry| entry.valid);
    let report = ValidateReport { files: &entries };
    print_report(session.json, &report, |out| {
        render_validate(out, &mut std::io::stderr().lock(), &entries)
    })?;
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::INVALID_INPUT)
    })
}

/// A file in the system directory is checked as a system file; any other as a user file.
fn layer_of(sources: &DefinitionSources, path: &Path) -> Layer {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let parent = path.parent().map(canonical);
    if parent.is_some_and(|parent| parent == canonical(&sources.system_dir)) {
        Layer::System
    } else {
        Layer::User
    }
}

/// Valid files on `out`, every error on `err`.
fn render_validate(
    out: &mut impl Write,
    err: &mut impl Write,
    entries: &[ValidateEntry],
) -> std::io::Result<()> {
    for entry in entries {
        if entry.valid {
            writeln!(
                out,
                "{}: valid ({} layer)",
                printable::path(&entry.path),
                entry.layer
            )?;
        }
        for error in &entry.errors {
            writeln!(err, "{}", error.message)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use horizon_core::definition::DefinitionSources;

    use super::*;

    fn sources(dir: &Path) -> DefinitionSources {
        DefinitionSources {
            system_dir: dir.join("system"),
            user_dir: Some(dir.join("user")),
            home: Some(dir.to_owned()),
            system_owner: 0,
        }
    }

    #[test]
    fn shows_a_definition_and_explains_it() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user");
        std::fs::create_dir(&user).unwrap();
        std::fs::write(
            user.join("development.json"),
            r#"{"name": "development", "packages": ["git"], "environment": {"EDITOR": "vi"}}"#,
        )
        .unwrap();
        let catalog = horizon_core::definition::load(&sources(dir.path()));
        let resolved = catalog.get("development").unwrap();
        let hash = resolved.definition.content_hash();
        let mut out = Vec::new();
        render_show(&mut out, resolved, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "name                           development\n\
                 image                          quay.io/toolbx/arch-toolbox:latest\n\
                 purpose                        development\n\
                 packages                       git\n\
                 export_binaries                git, gcc, make, python, node\n\
                 persistent                     true\n\
                 mounts                         /home, /tmp\n\
                 environment.CONTAINER_PURPOSE  development\n\
                 environment.EDITOR             vi\n\
                 privileged                     false\n\
                 capabilities                   (default set only)\n\
                 desktop.display                false\n\
                 desktop.audio                  false\n\
                 desktop.gpu                    false\n\
                 desktop.input                  false\n\
                 devices                        (none)\n\
                 network                        private\n\
                 verify                         [\"git\",\"--version\"], [\"gcc\",\"--version\"], [\"make\",\"--version\"]\n\
                 autostart                      false\n\
                 layer                          user\n\
                 content_hash                   {hash}\n"
            )
        );
        let mut out = Vec::new();
        render_show(&mut out, resolved, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3], format!("{:<31}{:<64}user", "packages", "git"));
        assert_eq!(
            lines[10],
            format!("{:<31}{:<64}default", "capabilities", "(default set only)")
        );
        assert_eq!(
            lines[7],
            format!(
                "{:<31}{:<64}built-in",
                "environment.CONTAINER_PURPOSE", "development"
            )
        );
        assert!(text.ends_with(&format!(
            "\nsources (lowest layer first):\n  built-in  <built-in>/development.json\n  user      {}\n",
            user.join("development.json").display()
        )));
        assert!(!text.contains("\nprivilege "), "development grants nothing");
    }

    #[test]
    fn explain_names_the_privilege_a_lower_layer_grants() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = horizon_core::definition::load(&sources(dir.path()));
        let resolved = catalog.get("desktop").unwrap();
        let mut out = Vec::new();
        render_show(&mut out, resolved, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        let privilege: Vec<&str> = text
            .lines()
            .skip_while(|line| !line.starts_with("privilege "))
            .take(3)
            .collect();
        assert_eq!(
            privilege,
            [
                "privilege                      privileged, capabilities SYS_ADMIN NET_ADMIN, \
                 desktop.gpu, desktop.input from the built-in layer",
                "                               a user file may tune it but not change the code it \
                 runs: image, packages, verify, environment, mounts",
                "layer                          built-in",
            ]
        );
        let mut out = Vec::new();
        render_show(&mut out, resolved, false).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("\nprivilege "));
    }
}
