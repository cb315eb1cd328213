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
//!
//! One file per job: `generation` (number, pull, build container, packages, commit), `container`
//! (create through the verified path, start, verify, record), `made` (what a failure undoes),
//! `output` (running a command and keeping the end of its output). Update builds and verifies
//! its next generation with the same steps.

mod container;
mod generation;
mod made;
pub(super) mod output;

use serde::Serialize;

use crate::definition::ResolvedDefinition;
use crate::engine::{ContainerSummary, Engine, PullEvent};
use crate::{labels, naming};

pub(crate) use container::{beside_name, create_and_start, install_record};
pub(crate) use generation::{
    BuiltGeneration, build_generation, next_generation, remove_stale_builds,
};
pub(crate) use made::Made;
pub(crate) use output::exec_with_tail;

use super::error::{InstallStep, LifecycleError};
use super::spec::{DesktopHost, HostContext};
use super::start::find_managed;
use super::state::{InstallRecord, StateStore};

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
    /// Asked which manifest was pulled when the pull cannot tell.
    pub registry: &'a crate::update::RegistryClient,
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
    let host = host_context(engine, name, request.desktop, request.agent).await?;
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

/// The host facts a new container is made for: whether Podman runs rootless (asked of it), the
/// desktop resources and the agent.
pub(crate) async fn host_context<E: Engine>(
    engine: &E,
    name: &str,
    desktop: &DesktopHost,
    agent: Option<&super::agent::AgentHost>,
) -> Result<HostContext, LifecycleError> {
    let info = engine
        .info()
        .await
        .map_err(|error| LifecycleError::engine(name, "ask Podman about itself for", error))?;
    Ok(HostContext {
        rootless: info.rootless,
        desktop: desktop.clone(),
        agent: agent.cloned(),
    })
}

/// A step's result: a failure names the step it happened at.
type StepResult<T> = Result<T, (InstallStep, LifecycleError)>;

/// `result`, its failure attributed to `step`.
fn at<T>(step: InstallStep, result: Result<T, LifecycleError>) -> StepResult<T> {
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
    let reference = pull_reference(resolved);
    let mut built =
        build_generation(engine, resolved, &reference, generation, made, on_progress).await?;
    // The record's digest is the one the definition's reference names, which `check` compares.
    built.pulled.digest = request
        .registry
        .digest_of_pulled(&reference, &built.pulled)
        .await;
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
