//! Rebuilding an install record from what Podman holds, for a record that cannot be read: the
//! container's labels say whose it is, which generation, from which definition hash and layer,
//! and whether it persists; its inspection says when it was made and which generation image it
//! runs; the definition as it is now fills in the image reference, packages and exported
//! binaries. Of the base image only the active generation's can be found (the definition's
//! reference in local storage); its digest is recorded only when the image says which it is, so
//! a record rebuilt without one makes the next check offer an update (a rebuild, never a wrong
//! "up to date").

use crate::definition::ResolvedDefinition;
use crate::engine::{ContainerSummary, Engine};
use crate::{labels, naming};

use super::error::LifecycleError;
use super::start::generation_of;
use super::state::{INSTALL_RECORD_SCHEMA_VERSION, InstallRecord};

/// The label value of a persistent container.
const PERSISTENT_VALUE: &str = "true";

/// The record of `container`, a managed container of definition `name` (see the module
/// documentation); `active` when it is the one that runs, whose base image is looked up.
pub(crate) async fn record_from_container<E: Engine>(
    engine: &E,
    name: &str,
    container: &ContainerSummary,
    current: Option<&ResolvedDefinition>,
    active: bool,
) -> Result<InstallRecord, LifecycleError> {
    let details = engine
        .inspect_container(&container.id)
        .await
        .map_err(|error| LifecycleError::engine(name, "inspect the container of", error))?;
    let label = |key: &str| details.labels.get(key).cloned().unwrap_or_default();
    let generation = generation_of(&details.labels);
    let definition = current.map(|resolved| &resolved.definition);
    let reference = definition.map(|definition| definition.image.full.clone());
    let base = match (&reference, active) {
        (Some(reference), true) => match engine.inspect_image(reference).await {
            Ok(image) => Some((image.id.clone(), image.digest_of(reference))),
            // Not in local storage any more: the record says "unknown".
            Err(error) if error.is_not_found() => None,
            Err(error) => {
                return Err(LifecycleError::engine(
                    name,
                    "inspect the base image of",
                    error,
                ));
            }
        },
        _ => None,
    };
    let (image_id, image_digest) = base.unwrap_or_default();
    Ok(InstallRecord {
        schema_version: INSTALL_RECORD_SCHEMA_VERSION,
        name: name.to_owned(),
        layer: details
            .labels
            .get(labels::LAYER)
            .cloned()
            .or_else(|| current.map(|resolved| resolved.layer().as_str().to_owned()))
            .unwrap_or_default(),
        definition_hash: label(labels::DEFINITION_HASH),
        generation,
        image: reference.unwrap_or_else(|| container.image.clone()),
        image_digest,
        image_id,
        generation_image: naming::generation_image(name, generation),
        generation_image_id: details.image_id.clone(),
        container_id: details.id.clone(),
        // Which manager installed the packages is not kept anywhere else.
        package_manager: None,
        packages: definition
            .map(|definition| definition.packages.clone())
            .unwrap_or_default(),
        persistent: label(labels::PERSISTENT) == PERSISTENT_VALUE,
        installed_at: details.created.to_string(),
        export_binaries: definition
            .map(|definition| definition.export_binaries.clone())
            .unwrap_or_default(),
    })
}
