//! The managed container of a built generation: its name while it is not the active one, its
//! creation through the one verified create path (the spec, then the security Podman applied
//! checked against it), its start (and its agent's), the definition's verify commands, and the
//! install record that describes it once it runs.

use crate::definition::ResolvedDefinition;
use crate::engine::{Engine, ExecRequest};
use crate::lifecycle::create::create_verified;
use crate::lifecycle::error::{InstallStep, LifecycleError};
use crate::lifecycle::spec::{HostContext, container_spec};
use crate::lifecycle::state::{INSTALL_RECORD_SCHEMA_VERSION, InstallRecord};
use crate::lifecycle::{agent, confine};
use crate::naming;

use super::generation::BuiltGeneration;
use super::made::Made;
use super::output::exec_with_tail;
use super::{InstallProgress, StepResult, at, reached};

/// The name of a definition's container of `generation` while it is not the active one: a new
/// generation being verified beside the running container, or a previous one kept for rollback.
pub(crate) fn beside_name(definition: &str, generation: u64) -> String {
    format!("{}-{generation}", naming::container_name(definition))
}

/// Creates the managed container of `built` as `create_name` (the same create path for a first
/// install, a reinstall and an update: the spec, the security check), starts it and runs the
/// definition's verify commands in it.
pub(crate) async fn create_and_start<E: Engine>(
    engine: &E,
    resolved: &ResolvedDefinition,
    host: &HostContext,
    built: &BuiltGeneration,
    create_name: &str,
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<crate::engine::ContainerDetails> {
    let definition = &resolved.definition;
    let name = definition.name.as_str();
    let step =
        |step: InstallStep, subject: &str| on_progress(&InstallProgress::Step { step, subject });
    let spec = container_spec(resolved, &built.image, built.generation, host);
    step(InstallStep::Create, create_name);
    made.container = Some(create_name.to_owned());
    let details = create_verified(engine, name, &spec, create_name)
        .await
        .map_err(|(step, error, _)| (step, error))?;
    reached(InstallStep::Create, "container-created").await?;
    step(InstallStep::Start, create_name);
    at(
        InstallStep::Start,
        confine::start_checked(engine, name, create_name, &details).await,
    )?;
    if !agent::wait_for_agent(&spec.mounts).await {
        return Err((
            InstallStep::Start,
            LifecycleError::AgentNotListening {
                container: create_name.to_owned(),
                socket: agent::agent_instance_dir(&spec.mounts)
                    .unwrap_or_default()
                    .join(horizon_agent_protocol::layout::SOCKET_NAME),
                seconds: agent::AGENT_START_TIMEOUT.as_secs(),
            },
        ));
    }
    reached(InstallStep::Start, "container-started").await?;
    // The definition's own checks, before anything touches a running container.
    if !definition.verify.is_empty() {
        let subject: Vec<String> = definition
            .verify
            .iter()
            .map(|argv| argv.join(" "))
            .collect();
        step(InstallStep::Verify, &subject.join("; "));
        at(
            InstallStep::Verify,
            run_verify(engine, name, create_name, &definition.verify).await,
        )?;
    }
    Ok(details)
}

/// The install record of `built`, running as the container `details` describes.
pub(crate) fn install_record(
    resolved: &ResolvedDefinition,
    built: &BuiltGeneration,
    details: &crate::engine::ContainerDetails,
) -> InstallRecord {
    let definition = &resolved.definition;
    InstallRecord {
        schema_version: INSTALL_RECORD_SCHEMA_VERSION,
        name: definition.name.clone(),
        layer: resolved.layer().as_str().to_owned(),
        definition_hash: definition.content_hash(),
        generation: built.generation,
        image: definition.image.full.clone(),
        image_digest: built.pulled.digest.clone(),
        image_id: built.pulled.id.clone(),
        generation_image: built.image.clone(),
        generation_image_id: built.image_id.clone(),
        container_id: details.id.clone(),
        package_manager: built
            .package_manager
            .map(|manager| manager.program().to_owned()),
        packages: definition.packages.clone(),
        persistent: definition.persistent,
        installed_at: details.created.to_string(),
        export_binaries: definition.export_binaries.clone(),
    }
}

/// Runs the definition's verify commands in its new container (as its default user); each must
/// exit 0.
async fn run_verify<E: Engine>(
    engine: &E,
    definition: &str,
    container: &str,
    commands: &[Vec<String>],
) -> Result<(), LifecycleError> {
    for argv in commands {
        let request = ExecRequest {
            argv: argv.clone(),
            ..Default::default()
        };
        let (exit_code, output_tail) =
            exec_with_tail(engine, definition, container, &request).await?;
        if exit_code != 0 {
            return Err(LifecycleError::VerifyFailed {
                command: argv.join(" "),
                exit_code,
                output_tail,
            });
        }
    }
    Ok(())
}
