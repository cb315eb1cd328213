//! Creating a managed container the one safe way: create it with its spec recorded in a label,
//! inspect it, compare the security Podman applied with what was asked, and remove it again when
//! they differ. Install and the recreation of non-persistent containers both go through here, and
//! so every create resolves and checks the mounts a user file chose (`confine.rs`).

use crate::engine::{ContainerDetails, ContainerSpec, Engine};
use crate::labels;

use super::error::{InstallStep, LifecycleError};
use super::security::check_security;

/// The label value that records `spec` (without the label itself).
pub(crate) fn spec_label(spec: &ContainerSpec) -> String {
    let mut recorded = spec.clone();
    recorded.labels.remove(labels::CREATE_SPEC);
    // A ContainerSpec is strings, numbers and maps with string keys: it always serialises.
    serde_json::to_string(&recorded).unwrap_or_default()
}

/// The spec a managed container was created from, read back from its label.
pub(crate) fn recorded_spec(
    definition: &str,
    container: &str,
    container_labels: &std::collections::BTreeMap<String, String>,
) -> Result<ContainerSpec, LifecycleError> {
    let bad = |message: String| LifecycleError::BadCreateSpec {
        name: definition.to_owned(),
        container: container.to_owned(),
        message,
    };
    let text = container_labels
        .get(labels::CREATE_SPEC)
        .ok_or_else(|| bad(format!("label {} is missing", labels::CREATE_SPEC)))?;
    let mut spec: ContainerSpec =
        serde_json::from_str(text).map_err(|error| bad(error.to_string()))?;
    spec.labels
        .insert(labels::CREATE_SPEC.to_owned(), text.clone());
    Ok(spec)
}

/// Creates `spec` under `create_name` (the spec's own name is what the label records), then checks
/// its security. On failure it returns the step that failed, and nothing is left behind except
/// what the returned cleanup failures name.
pub(crate) async fn create_verified<E: Engine>(
    engine: &E,
    definition: &str,
    spec: &ContainerSpec,
    create_name: &str,
) -> Result<ContainerDetails, (InstallStep, LifecycleError, Vec<String>)> {
    if let Err(source) = super::agent::prepare_agent_dir(&spec.mounts, &spec.labels) {
        return Err((
            InstallStep::Create,
            LifecycleError::AgentDir {
                name: definition.to_owned(),
                dir: super::agent::agent_instance_dir(&spec.mounts).unwrap_or_default(),
                source,
            },
            Vec::new(),
        ));
    }
    let pinned = match super::confine::pin(definition, spec) {
        Ok(pinned) => pinned,
        Err(error) => return Err((InstallStep::Create, error, Vec::new())),
    };
    let mut creating = pinned.clone();
    creating.name = create_name.to_owned();
    creating
        .labels
        .insert(labels::CREATE_SPEC.to_owned(), spec_label(spec));
    if let Err(error) = engine.create_container(&creating).await {
        // A create that failed may still have left a container behind (Podman removes it itself in
        // every case seen, but a timeout could interrupt that).
        let leftovers = remove_if_present(engine, create_name).await;
        return Err((
            InstallStep::Create,
            LifecycleError::engine(definition, "create container for", error),
            leftovers,
        ));
    }
    let details = match engine.inspect_container(create_name).await {
        Ok(details) => details,
        Err(error) => {
            let leftovers = remove_if_present(engine, create_name).await;
            return Err((
                InstallStep::VerifySecurity,
                LifecycleError::engine(definition, "inspect container of", error),
                leftovers,
            ));
        }
    };
    let mismatches = check_security(&pinned, &details);
    if !mismatches.is_empty() {
        let leftovers = remove_if_present(engine, create_name).await;
        return Err((
            InstallStep::VerifySecurity,
            LifecycleError::SecurityMismatch {
                name: create_name.to_owned(),
                mismatches,
            },
            leftovers,
        ));
    }
    Ok(details)
}

/// Removes a container (forcefully) if it exists; returns what could not be removed, with why.
pub(crate) async fn remove_if_present<E: Engine>(engine: &E, name: &str) -> Vec<String> {
    match engine.remove_container(name, true).await {
        Ok(()) => Vec::new(),
        Err(error) if error.is_not_found() => Vec::new(),
        Err(error) => vec![format!("container {name}: {error}")],
    }
}
