//! What the lifecycle verbs (install, status, start, stop, remove, cleanup) share: resolving a
//! definition name (an unknown one is invalid input, with the known names as the hint), the state
//! store of this user, and the mapping of lifecycle errors onto exit statuses.

use anyhow::anyhow;
use horizon_core::definition::{Catalog, ResolvedDefinition, load};
use horizon_core::engine::EngineError;
use horizon_core::lifecycle::{LifecycleError, StateStore};

use super::connection::NO_SERVICE_HINT;
use super::{definition_sources, horizon_paths};
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};

/// Reads every definition layer.
pub fn catalog(global: &GlobalArgs) -> Catalog {
    load(&definition_sources(global))
}

/// The definition called `name`; an unknown name is invalid input, and the hint lists the known
/// ones (and says when a file of that name was refused).
pub fn resolve(catalog: &Catalog, name: &str) -> Result<ResolvedDefinition, Failure> {
    if let Some(resolved) = catalog.get(name) {
        return Ok(resolved.clone());
    }
    let refused = catalog
        .invalid
        .iter()
        .find(|file| horizon_core::definition::file_stem(&file.path) == Some(name));
    let error = match refused {
        Some(file) => anyhow!(
            "the definition `{name}` in {} is invalid (see `horizon-container definition validate {}`)",
            file.path.display(),
            file.path.display()
        ),
        None => anyhow!("there is no container definition named `{name}`"),
    };
    let known: Vec<&str> = catalog
        .definitions
        .iter()
        .map(|resolved| resolved.definition.name.as_str())
        .collect();
    Err(Failure::new(exit::INVALID_INPUT, error).with_hint(format!(
        "known definitions: {} (`horizon-container list` shows them)",
        known.join(", ")
    )))
}

/// The install records of this user.
pub fn state_store(global: &GlobalArgs) -> StateStore {
    StateStore::new(&horizon_paths(global).state_dir)
}

/// The exit status and hint of a lifecycle error: no service → 3, anything else → 1.
pub fn lifecycle_failure(error: LifecycleError) -> Failure {
    let hint = match &error {
        LifecycleError::NotInstalled { name } => {
            Some(format!("install it: `horizon-container install {name}`"))
        }
        _ => None,
    };
    let unreachable = matches!(error.engine_error(), Some(EngineError::Unreachable { .. }));
    if unreachable {
        return Failure::new(exit::NO_SERVICE, anyhow!(error)).with_hint(NO_SERVICE_HINT);
    }
    let failure = Failure::new(exit::FAILURE, anyhow!(error));
    match hint {
        Some(hint) => failure.with_hint(hint),
        None => failure,
    }
}
