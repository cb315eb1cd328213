//! `install`: from a definition to a running, verified managed container, or to nothing at all.
//!
//! The steps ([`InstallStep`]): pull the image (progress reported through a callback); build the
//! generation image in a build container created from the pulled image id (root inside, no keep-id,
//! a private network so package mirrors are reachable): detect the package manager, install the
//! packages (argv arrays), commit as `localhost/horizonos/NAME:GENERATION` with horizon's labels,
//! remove the build container; create `horizonos-NAME` from the generation image and verify the
//! security Podman applied; start it; write the install record. A failure undoes everything this
//! install made (container, build container, generation image, an image it pulled for the first
//! time) and names the step. An installed definition is left as it is: replacing its container (a
//! reinstall, an update) is the journaled update transaction's job (`update::update`, with
//! `rebuild` for a reinstall), so it can be rolled back and survives a crash at any step.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::io::AsyncWrite;

use crate::definition::{DEFAULT_CAPABILITIES, ResolvedDefinition};
use crate::engine::{
    ContainerSpec, ContainerSummary, Engine, ExecRequest, ExecStreams, LabelFilter, NetworkMode,
    PullEvent,
};
use crate::{labels, naming};

use super::create::{create_verified, remove_if_present};
use super::error::{InstallStep, LifecycleError};
use super::packages::{PackageManager, package_commands};
use super::spec::{DesktopHost, HostContext, KEEPALIVE_COMMAND, container_spec, managed_labels};
use super::start::{find_managed, generation_of, managed_filter};
use super::state::{INSTALL_RECORD_SCHEMA_VERSION, InstallRecord, StateStore};

/// How many of the package manager's last output lines a failure carries.
pub const OUTPUT_TAIL_LINES: usize = 20;
/// The user package managers run as in the build container.
const BUILD_USER: &str = "0";
/// Exit status of a program that does not exist (as exec reports it).
const EXIT_NOT_FOUND: i64 = 127;

/// What to install.
#[derive(Clone, Copy, Debug)]
pub struct InstallRequest<'a> {
    /// The definition, merged from its layers.
    pub resolved: &'a ResolvedDefinition,
    /// The desktop resources of the host (for definitions with desktop integration).
    pub desktop: &'a DesktopHost,
    /// Where the install record is written.
    pub state: &'a StateStore,
    /// The in-container agent (see [`HostContext::agent`]).
    pub agent: Option<&'a super::agent::AgentHost>,
}

/// Progress of an install, for the caller to render.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum InstallProgress<'a> {
    /// A step begins; `subject` is what it works on (an image, a container, the packages).
    Step {
        /// The step.
        step: InstallStep,
        /// What it works on.
        subject: &'a str,
    },
    /// The pull made progress.
    Pull(&'a PullEvent),
}

/// What [`install`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallOutcome {
    /// A new generation was built, and its container created, verified, started and recorded.
    Installed {
        /// The new record.
        record: InstallRecord,
    },
    /// The definition is installed already; nothing was changed.
    AlreadyInstalled {
        /// Its managed container.
        container: ContainerSummary,
        /// Its install record, if one exists.
        record: Option<InstallRecord>,
        /// The definition changed since it was installed (an update or a reinstall applies it).
        drifted: bool,
    },
}

/// Installs `request.resolved` (see the module documentation), reporting progress to `on_progress`.
pub async fn install<E: Engine>(
    engine: &E,
    request: InstallRequest<'_>,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> Result<InstallOutcome, LifecycleError> {
    let definition = &request.resolved.definition;
    let name = definition.name.as_str();
    let existing = find_managed(engine, name).await?;
    if let Some(container) = existing {
        let drifted =
            container.labels.get(labels::DEFINITION_HASH) != Some(&definition.content_hash());
        return Ok(InstallOutcome::AlreadyInstalled {
            container,
            record: request.state.read(name)?,
            drifted,
        });
    }
    let info = engine
        .info()
        .await
        .map_err(|error| LifecycleError::engine(name, "ask Podman about itself for", error))?;
    let host = HostContext {
        rootless: info.rootless,
        desktop: request.desktop.clone(),
        agent: request.agent.cloned(),
    };
    let generation = next_generation(engine, name, None, request.state).await?;
    let mut made = Made::default();
    match build_and_start(engine, &request, &host, generation, &mut made, on_progress).await {
        Ok(record) => Ok(InstallOutcome::Installed { record }),
        Err((step, source)) => {
            let cleanup_failures = made.undo(engine).await;
            Err(LifecycleError::InstallFailed {
                name: name.to_owned(),
                step,
                source: Box::new(source),
                cleanup_failures,
            })
        }
    }
}

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

/// What an install (or an update) has made so far, undone in reverse on failure.
#[derive(Debug, Default)]
pub(crate) struct Made {
    /// An image this install pulled that was not there before (its id).
    pub pulled_image: Option<String>,
    /// The build container's name.
    pub build_container: Option<String>,
    /// The generation image's id.
    pub generation_image: Option<String>,
    /// The new managed container's name.
    pub container: Option<String>,
}

impl Made {
    /// Removes everything recorded, newest first; returns what could not be removed, with why.
    pub(crate) async fn undo<E: Engine>(self, engine: &E) -> Vec<String> {
        let mut failures = Vec::new();
        if let Some(container) = &self.container {
            failures.extend(remove_if_present(engine, container).await);
        }
        if let Some(container) = &self.build_container {
            failures.extend(remove_if_present(engine, container).await);
        }
        for image in [&self.generation_image, &self.pulled_image]
            .into_iter()
            .flatten()
        {
            match engine.remove_image(image, false).await {
                Ok(()) => {}
                Err(error) if error.is_not_found() => {}
                Err(error) => failures.push(format!("image {image}: {error}")),
            }
        }
        failures
    }
}

pub(crate) type StepResult<T> = Result<T, (InstallStep, LifecycleError)>;

pub(crate) fn at<T>(step: InstallStep, result: Result<T, LifecycleError>) -> StepResult<T> {
    result.map_err(|error| (step, error))
}

/// The image reference to pull: the digest decides when the definition names one.
fn pull_reference(resolved: &ResolvedDefinition) -> String {
    let image = &resolved.definition.image;
    match &image.digest {
        Some(digest) => format!("{}/{}@{digest}", image.registry, image.repository),
        None => image.full.clone(),
    }
}

async fn build_and_start<E: Engine>(
    engine: &E,
    request: &InstallRequest<'_>,
    host: &HostContext,
    generation: u64,
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<InstallRecord> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    let built = build_generation(
        engine,
        resolved,
        &pull_reference(resolved),
        generation,
        made,
        on_progress,
    )
    .await?;
    let details = create_and_start(
        engine,
        resolved,
        host,
        &built,
        &naming::container_name(name),
        made,
        on_progress,
    )
    .await?;
    super::start::activate(name, &details.mounts);

    // Record.
    let record = install_record(resolved, &built, &details);
    on_progress(&InstallProgress::Step {
        step: InstallStep::Record,
        subject: &request.state.path(name).display().to_string(),
    });
    at(InstallStep::Record, request.state.write(&record))?;
    Ok(record)
}

/// The name of a definition's container of `generation` while it is not the active one: a new
/// generation being verified beside the running container, or a previous one kept for rollback.
pub fn beside_name(definition: &str, generation: u64) -> String {
    format!("{}-{generation}", naming::container_name(definition))
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
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<BuiltGeneration> {
    let definition = &resolved.definition;
    let name = definition.name.as_str();
    let step =
        |step: InstallStep, subject: &str| on_progress(&InstallProgress::Step { step, subject });

    // Pull.
    step(InstallStep::Pull, reference);
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

    // Build the generation image.
    let build_name = format!("{}-build", naming::container_name(name));
    step(InstallStep::PrepareBuild, &build_name);
    at(
        InstallStep::PrepareBuild,
        remove_stale_builds(engine, name).await,
    )?;
    let build_spec = build_container_spec(name, &build_name, &pulled.id);
    made.build_container = Some(build_name.clone());
    engine
        .create_container(&build_spec)
        .await
        .map_err(|error| {
            (
                InstallStep::PrepareBuild,
                LifecycleError::engine(name, "create the build container of", error),
            )
        })?;
    let mut package_manager = None;
    if !definition.packages.is_empty() {
        engine.start_container(&build_name).await.map_err(|error| {
            (
                InstallStep::PrepareBuild,
                LifecycleError::engine(name, "start the build container of", error),
            )
        })?;
        step(InstallStep::DetectPackageManager, reference);
        let manager = at(
            InstallStep::DetectPackageManager,
            detect_package_manager(engine, name, &build_name, reference).await,
        )?;
        let subject = format!("{manager}: {}", definition.packages.join(" "));
        step(InstallStep::InstallPackages, &subject);
        at(
            InstallStep::InstallPackages,
            install_packages(engine, name, &build_name, manager, &definition.packages).await,
        )?;
        package_manager = Some(manager);
    }
    let generation_image = naming::generation_image(name, generation);
    step(InstallStep::Commit, &generation_image);
    let generation_image_id = engine
        .commit_container(
            &build_name,
            &naming::generation_repository(name),
            &generation.to_string(),
            &generation_image_labels(resolved, generation),
        )
        .await
        .map_err(|error| {
            (
                InstallStep::Commit,
                LifecycleError::engine(name, "commit the generation image of", error),
            )
        })?;
    made.generation_image = Some(generation_image_id.clone());
    engine
        .remove_container(&build_name, true)
        .await
        .map_err(|error| {
            (
                InstallStep::Commit,
                LifecycleError::engine(name, "remove the build container of", error),
            )
        })?;
    made.build_container = None;
    Ok(BuiltGeneration {
        generation,
        pulled,
        image: generation_image,
        image_id: generation_image_id,
        package_manager,
    })
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
    step(InstallStep::Start, create_name);
    engine.start_container(create_name).await.map_err(|error| {
        (
            InstallStep::Start,
            LifecycleError::engine(name, "start", error),
        )
    })?;
    if !super::agent::wait_for_agent(&spec.mounts).await {
        return Err((
            InstallStep::Start,
            LifecycleError::AgentNotListening {
                container: create_name.to_owned(),
                socket: super::agent::agent_instance_dir(&spec.mounts)
                    .unwrap_or_default()
                    .join(horizon_agent_protocol::layout::SOCKET_NAME),
                seconds: super::agent::AGENT_START_TIMEOUT.as_secs(),
            },
        ));
    }
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
        installed_at: details.created.clone(),
        export_binaries: definition.export_binaries.clone(),
    }
}

/// The labels of a generation image: the managed labels, and [`labels::BUILD_OF`] emptied (a
/// commit keeps the build container's labels, and containers inherit their image's; an empty value
/// never matches a build filter).
fn generation_image_labels(
    resolved: &ResolvedDefinition,
    generation: u64,
) -> BTreeMap<String, String> {
    let mut image_labels = managed_labels(resolved, generation);
    image_labels.insert(labels::BUILD_OF.to_owned(), String::new());
    image_labels
}

/// The build container: the pulled image, root inside, the default capabilities (package managers
/// change owners and drop privileges), a private network, labelled as a build and never as a
/// managed container.
fn build_container_spec(definition: &str, name: &str, image_id: &str) -> ContainerSpec {
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

/// Runs `request` in `container`; returns its exit code and the last lines of its output (stdout
/// and stderr into one buffer, in the order they arrive, as a terminal shows them).
pub(crate) async fn exec_with_tail<E: Engine>(
    engine: &E,
    definition: &str,
    container: &str,
    request: &ExecRequest,
) -> Result<(i64, Vec<String>), LifecycleError> {
    let output = SharedOutput::default();
    let mut stdout = output.clone();
    let mut stderr = output.clone();
    let streams = ExecStreams {
        stdin: None,
        stdout: &mut stdout,
        stderr: &mut stderr,
        resize: None,
        signals: None,
    };
    let exit_code = engine
        .exec_attached(container, request, streams)
        .await
        .map_err(|error| LifecycleError::engine(definition, "run a command for", error))?;
    Ok((exit_code, output.tail(OUTPUT_TAIL_LINES)))
}

/// A writer whose clones all append to one buffer.
#[derive(Clone, Debug, Default)]
struct SharedOutput(Arc<Mutex<Vec<u8>>>);

impl SharedOutput {
    /// The last `count` non-empty lines, decoded lossily.
    fn tail(&self, count: usize) -> Vec<String> {
        let bytes = self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default();
        last_lines(&bytes, count)
    }
}

/// The last `count` non-empty lines of `bytes` (carriage returns of progress lines dropped).
pub(crate) fn last_lines(bytes: &[u8], count: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.rsplit('\r')
                .next()
                .unwrap_or_default()
                .trim_end()
                .to_owned()
        })
        .filter(|line| !line.is_empty())
        .collect();
    lines[lines.len().saturating_sub(count)..].to_vec()
}

impl AsyncWrite for SharedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.0.lock() {
            Ok(mut bytes) => {
                bytes.extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            Err(_) => Poll::Ready(Err(std::io::Error::other("output buffer poisoned"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
