//! Which container provides a binary, when `export` is not told (`--from`): the definitions that
//! list it in `export_binaries` first; failing those, the installed containers that have it in
//! their `PATH` (running ones only: looking must not start containers). One candidate is the
//! answer; several are an [`ExportError::Ambiguous`] listing them; none is
//! [`ExportError::NoProvider`], naming the stopped containers it did not search.

use crate::definition::Catalog;
use crate::engine::{Engine, EngineError, ExecRequest, RunState};
use crate::lifecycle::{self, InstallRecord};

use super::error::ExportError;

/// The lookup run in a container: prints the first executable file called `$1` in `PATH`, as
/// the runtime resolves a program name (not `command -v`: busybox sh answers with the bare name of
/// its applets).
const LOCATE_SCRIPT: &str = r#"IFS=:; set -f; for d in $PATH; do [ -f "${d:-.}/$1" ] && [ -x "${d:-.}/$1" ] && { printf '%s\n' "${d:-.}/$1"; exit 0; }; done; exit 1"#;
/// `$0` of the lookup, named in `sh`'s own messages.
const LOCATE_NAME: &str = "horizon-locate";

/// The definitions whose `export_binaries` list `binary`, sorted.
pub fn declared_providers(catalog: &Catalog, binary: &str) -> Vec<String> {
    let mut names: Vec<String> = catalog
        .definitions
        .iter()
        .filter(|resolved| {
            resolved
                .definition
                .export_binaries
                .iter()
                .any(|listed| listed == binary)
        })
        .map(|resolved| resolved.definition.name.clone())
        .collect();
    names.sort();
    names
}

/// Where `binary` is in running container `container`'s `PATH` (an absolute path), or `None`.
pub async fn locate_binary<E: Engine>(
    engine: &E,
    container: &str,
    binary: &str,
) -> Result<Option<String>, EngineError> {
    let request = ExecRequest {
        argv: [
            crate::exec_plan::argv::CONTAINER_SHELL,
            "-c",
            LOCATE_SCRIPT,
            LOCATE_NAME,
            binary,
        ]
        .map(str::to_owned)
        .to_vec(),
        ..ExecRequest::default()
    };
    let output = engine.exec(container, &request).await?;
    let found = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok((output.exit_code == 0 && found.starts_with('/')).then_some(found))
}

/// The definition that provides `binary` (see the module documentation). `records` are the
/// install records.
pub async fn resolve_provider<E: Engine>(
    engine: &E,
    catalog: &Catalog,
    records: &[InstallRecord],
    binary: &str,
) -> Result<String, ExportError> {
    let declared = declared_providers(catalog, binary);
    match declared.as_slice() {
        [one] => return Ok(one.clone()),
        [] => {}
        _ => {
            return Err(ExportError::Ambiguous {
                binary: binary.to_owned(),
                from: "definitions' export_binaries",
                candidates: declared,
            });
        }
    }
    let mut searched = Vec::new();
    let mut stopped = Vec::new();
    let mut candidates = Vec::new();
    for record in records {
        let Some(container) = lifecycle::find_managed(engine, &record.name).await? else {
            continue;
        };
        if container.state != RunState::Running {
            stopped.push(record.name.clone());
            continue;
        }
        searched.push(record.name.clone());
        if locate_binary(engine, &container.name, binary)
            .await?
            .is_some()
        {
            candidates.push(record.name.clone());
        }
    }
    candidates.sort();
    match candidates.len() {
        1 => Ok(candidates.remove(0)),
        0 => Err(ExportError::NoProvider {
            binary: binary.to_owned(),
            searched,
            stopped,
        }),
        _ => Err(ExportError::Ambiguous {
            binary: binary.to_owned(),
            from: "installed containers",
            candidates,
        }),
    }
}
