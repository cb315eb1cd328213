//! Building a generation: its number (never reused), the pull of its base image, a build
//! container from that image (root inside, no keep-id, a private network so package mirrors are
//! reachable), the definition's packages installed by the package manager found in it (argv
//! arrays), and the commit as `localhost/horizonos/NAME:GENERATION` with horizon's labels. The
//! build container goes once the image is committed.

use std::collections::BTreeMap;

use crate::definition::{DEFAULT_CAPABILITIES, Definition, ResolvedDefinition};
use crate::engine::{
    ContainerSpec, ContainerSummary, Engine, ExecRequest, LabelFilter, NetworkMode,
};
use crate::lifecycle::error::{InstallStep, LifecycleError};
use crate::lifecycle::packages::{PackageManager, package_commands};
use crate::lifecycle::spec::{KEEPALIVE_COMMAND, managed_labels};
use crate::lifecycle::start::{generation_of, managed_filter};
use crate::lifecycle::state::StateStore;
use crate::{labels, naming};

use super::made::Made;
use super::output::exec_with_tail;
use super::{InstallProgress, StepResult, at, reached};

/// The user package managers run as in the build container.
const BUILD_USER: &str = "0";
/// Exit status of a program that does not exist (as exec reports it).
const EXIT_NOT_FOUND: i64 = 127;

/// One more than the highest generation known for `name`: its images' labels, its container's,
/// and its install record's (so a number is never reused, even after a manual `podman rmi`).
pub(crate) async fn next_generation<E: Engine>(
    engine: &E,
    name: &str,
    existing: Option<&ContainerSummary>,
    state: &StateStore,
) -> Result<u64, LifecycleError> {
    let images = engine
        .list_images(&managed_filter(name))
        .await
        .map_err(|error| LifecycleError::engine(name, "list the generation images of", error))?;
    let highest = images
        .iter()
        .map(|image| generation_of(&image.labels))
        .chain(existing.map(|container| generation_of(&container.labels)))
        .chain(
            state
                .read(name)
                .ok()
                .flatten()
                .map(|record| record.generation),
        )
        .max()
        .unwrap_or(0);
    Ok(highest + 1)
}

/// A generation image built by [`build_generation`].
#[derive(Clone, Debug)]
pub(crate) struct BuiltGeneration {
    /// The generation number.
    pub generation: u64,
    /// The base image as pulled.
    pub pulled: crate::engine::PulledImage,
    /// `localhost/horizonos/NAME:GENERATION`.
    pub image: String,
    /// Its id.
    pub image_id: String,
    /// The package manager used, when packages were installed.
    pub package_manager: Option<PackageManager>,
}

/// Pulls `reference` and builds generation `generation` of `resolved` from it: a build container,
/// the definition's packages, the commit. What it makes is noted in `made` as it goes.
pub(crate) async fn build_generation<E: Engine>(
    engine: &E,
    resolved: &ResolvedDefinition,
    reference: &str,
    generation: u64,
    owner: &str,
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<BuiltGeneration> {
    let definition = &resolved.definition;
    let name = definition.name.as_str();
    let step =
        |step: InstallStep, subject: &str| on_progress(&InstallProgress::Step { step, subject });

    step(InstallStep::Pull, reference);
    let pulled = pull(engine, name, reference, made, on_progress).await?;
    reached(InstallStep::Pull, "build-pulled").await?;

    let build_name = format!("{}-build", naming::container_name(name));
    step(InstallStep::PrepareBuild, &build_name);
    create_build_container(engine, name, &build_name, &pulled.id, owner, made).await?;
    reached(InstallStep::PrepareBuild, "build-container-created").await?;
    let mut package_manager = None;
    if !definition.packages.is_empty() {
        package_manager = Some(
            install_definition_packages(engine, definition, &build_name, reference, on_progress)
                .await?,
        );
    }
    let generation_image = naming::generation_image(name, generation);
    step(InstallStep::Commit, &generation_image);
    let generation_image_id =
        commit(engine, resolved, &build_name, generation, owner, made).await?;
    Ok(BuiltGeneration {
        generation,
        pulled,
        image: generation_image,
        image_id: generation_image_id,
        package_manager,
    })
}

/// Pulls `reference`; an image that was not there before is noted in `made` (a failure removes
/// it, while an image the machine had stays).
async fn pull<E: Engine>(
    engine: &E,
    name: &str,
    reference: &str,
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<crate::engine::PulledImage> {
    let was_present = engine.inspect_image(reference).await.is_ok();
    let pulled = engine
        .pull_image(reference, &|event| {
            on_progress(&InstallProgress::Pull(event))
        })
        .await
        .map_err(|error| {
            (
                InstallStep::Pull,
                LifecycleError::engine(name, "pull the image of", error),
            )
        })?;
    if !was_present {
        made.pulled_image = Some(pulled.id.clone());
    }
    Ok(pulled)
}

/// Creates the build container `build_name` from the pulled image `image_id`, after removing any
/// an interrupted install left.
async fn create_build_container<E: Engine>(
    engine: &E,
    name: &str,
    build_name: &str,
    image_id: &str,
    owner: &str,
    made: &mut Made,
) -> StepResult<()> {
    at(
        InstallStep::PrepareBuild,
        remove_stale_builds(engine, name).await,
    )?;
    let build_spec = build_container_spec(name, build_name, image_id, owner);
    made.build_container = Some(build_name.to_owned());
    engine
        .create_container(&build_spec)
        .await
        .map_err(|error| {
            (
                InstallStep::PrepareBuild,
                LifecycleError::engine(name, "create the build container of", error),
            )
        })?;
    Ok(())
}

/// Starts the build container, finds its package manager and installs the definition's packages
/// with it; returns the manager used.
async fn install_definition_packages<E: Engine>(
    engine: &E,
    definition: &Definition,
    build_name: &str,
    reference: &str,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<PackageManager> {
    let name = definition.name.as_str();
    let step =
        |step: InstallStep, subject: &str| on_progress(&InstallProgress::Step { step, subject });
    engine.start_container(build_name).await.map_err(|error| {
        (
            InstallStep::PrepareBuild,
            LifecycleError::engine(name, "start the build container of", error),
        )
    })?;
    step(InstallStep::DetectPackageManager, reference);
    let manager = at(
        InstallStep::DetectPackageManager,
        detect_package_manager(engine, name, build_name, reference).await,
    )?;
    let subject = format!("{manager}: {}", definition.packages.join(" "));
    step(InstallStep::InstallPackages, &subject);
    at(
        InstallStep::InstallPackages,
        install_packages(engine, name, build_name, manager, &definition.packages).await,
    )?;
    Ok(manager)
}

/// Commits the build container as generation `generation`'s image and removes the build
/// container; returns the image's id.
async fn commit<E: Engine>(
    engine: &E,
    resolved: &ResolvedDefinition,
    build_name: &str,
    generation: u64,
    owner: &str,
    made: &mut Made,
) -> StepResult<String> {
    let name = resolved.definition.name.as_str();
    let generation_image_id = engine
        .commit_container(
            build_name,
            &naming::generation_repository(name),
            &generation.to_string(),
            &generation_image_labels(resolved, generation, owner),
        )
        .await
        .map_err(|error| {
            (
                InstallStep::Commit,
                LifecycleError::engine(name, "commit the generation image of", error),
            )
        })?;
    made.generation_image = Some(generation_image_id.clone());
    reached(InstallStep::Commit, "build-committed").await?;
    engine
        .remove_container(build_name, true)
        .await
        .map_err(|error| {
            (
                InstallStep::Commit,
                LifecycleError::engine(name, "remove the build container of", error),
            )
        })?;
    made.build_container = None;
    Ok(generation_image_id)
}

/// The labels of a generation image: the managed labels, and [`labels::BUILD_OF`] emptied (a
/// commit keeps the build container's labels, and containers inherit their image's; an empty value
/// never matches a build filter).
fn generation_image_labels(
    resolved: &ResolvedDefinition,
    generation: u64,
    owner: &str,
) -> BTreeMap<String, String> {
    let mut image_labels = managed_labels(resolved, generation);
    image_labels.insert(labels::BUILD_OF.to_owned(), String::new());
    image_labels.insert(labels::OWNER.to_owned(), owner.to_owned());
    image_labels
}

/// The build container: the pulled image, root inside, the default capabilities (package managers
/// change owners and drop privileges), a private network, labelled as a build and never as a
/// managed container.
fn build_container_spec(
    definition: &str,
    name: &str,
    image_id: &str,
    owner: &str,
) -> ContainerSpec {
    ContainerSpec {
        name: name.to_owned(),
        image: image_id.to_owned(),
        command: KEEPALIVE_COMMAND
            .iter()
            .map(|&arg| arg.to_owned())
            .collect(),
        // horizon owns the main process: an image's entrypoint would wrap (or replace) it.
        entrypoint: Some(Vec::new()),
        labels: [
            (labels::MANAGED, labels::MANAGED_VALUE),
            (labels::BUILD_OF, definition),
            (labels::OWNER, owner),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect(),
        network: NetworkMode::Private,
        cap_add: DEFAULT_CAPABILITIES
            .iter()
            .map(|capability| capability.kernel_name())
            .collect(),
        // No `user`: it would be baked into the generation image by the commit (package managers
        // get root per exec instead), and the image's own user is what the container should keep.
        init: true,
        ..Default::default()
    }
}

/// Removes build containers of `definition` that an interrupted install left behind.
pub(crate) async fn remove_stale_builds<E: Engine>(
    engine: &E,
    definition: &str,
) -> Result<(), LifecycleError> {
    let filter = LabelFilter::managed().with(labels::BUILD_OF, Some(definition));
    let stale = engine.list_containers(&filter).await.map_err(|error| {
        LifecycleError::engine(definition, "find old build containers of", error)
    })?;
    for container in stale {
        engine
            .remove_container(&container.id, true)
            .await
            .map_err(|error| {
                LifecycleError::engine(definition, "remove an old build container of", error)
            })?;
    }
    Ok(())
}

/// The first package manager whose probe succeeds in the build container.
async fn detect_package_manager<E: Engine>(
    engine: &E,
    definition: &str,
    build: &str,
    image: &str,
) -> Result<PackageManager, LifecycleError> {
    for manager in PackageManager::ALL {
        let request = ExecRequest {
            argv: manager.probe(),
            user: Some(BUILD_USER.to_owned()),
            ..Default::default()
        };
        let output = engine.exec(build, &request).await.map_err(|error| {
            LifecycleError::engine(definition, "look for a package manager for", error)
        })?;
        match output.exit_code {
            0 => return Ok(manager),
            EXIT_NOT_FOUND => {}
            other => tracing::debug!(%manager, exit_code = other, "package manager probe failed"),
        }
    }
    Err(LifecycleError::NoPackageManager {
        image: image.to_owned(),
    })
}

/// Runs the package manager's commands; the first failure carries the tail of its output.
async fn install_packages<E: Engine>(
    engine: &E,
    definition: &str,
    build: &str,
    manager: PackageManager,
    packages: &[String],
) -> Result<(), LifecycleError> {
    for command in package_commands(manager, packages) {
        let request = ExecRequest {
            argv: command.argv.clone(),
            env: command.env.clone(),
            user: Some(BUILD_USER.to_owned()),
            ..Default::default()
        };
        let (exit_code, output_tail) = exec_with_tail(engine, definition, build, &request).await?;
        if exit_code != 0 {
            return Err(LifecycleError::PackagesFailed {
                command: command.display(),
                exit_code,
                output_tail,
            });
        }
    }
    Ok(())
}
