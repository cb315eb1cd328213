//! `install`: from a definition to a running, verified managed container, or to nothing at all.
//!
//! The steps ([`InstallStep`]): pull the image (progress reported through a callback); build the
//! generation image in a build container created from the pulled image id (root inside, no keep-id,
//! a private network so package mirrors are reachable): detect the package manager, install the
//! packages (argv arrays), commit as `localhost/horizonos/NAME:GENERATION` with horizon's labels,
//! remove the build container; create `horizonos-NAME` from the generation image and verify the
//! security Podman applied; start it; write the install record. A failure undoes everything this
//! install made (container, build container, generation image, an image it pulled for the first
//! time) and names the step. The install is journaled like an update (`update::journal`,
//! operation `install`): the journal is on disk before the first Podman object is made, records
//! `built` and `verified`, and goes once the record is written, so a crash at any step leaves a
//! journal the next command reverts (before `verified`) or completes (the start and the record).
//! A container with neither a record nor a journal was never known to be verified: install
//! removes it and installs afresh. An installed definition (a container and its record) is left as it is: replacing its container (a
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
use crate::update::UpdateError;
use crate::update::failpoint;
use crate::update::journal::{Journal, JournalStep, JournalStore};
use crate::{labels, naming};

pub(crate) use container::{beside_name, create_and_start, install_record};
pub(crate) use generation::{
    BuiltGeneration, build_generation, next_generation, remove_stale_builds,
};
pub(crate) use made::Made;
pub(crate) use output::exec_with_tail;

use super::error::{InstallStep, LifecycleError};
use super::spec::{DesktopHost, HostContext};
use super::start::{find_managed, managed_filter};
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
    /// Where the install's journal is kept while it runs.
    pub journals: &'a JournalStore,
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
/// The caller holds the definition's lock and has recovered its journal.
pub async fn install<E: Engine>(
    engine: &E,
    request: InstallRequest<'_>,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> Result<InstallOutcome, LifecycleError> {
    let definition = &request.resolved.definition;
    let name = definition.name.as_str();
    let existing = find_managed(engine, name).await?;
    if let Some(container) = existing {
        if let Some(record) = request.state.read(name)? {
            let drifted =
                container.labels.get(labels::DEFINITION_HASH) != Some(&definition.content_hash());
            return Ok(InstallOutcome::AlreadyInstalled {
                container,
                record: Some(record),
                drifted,
            });
        }
        // A container with neither a record nor a journal was never known to be verified: it
        // is not installed, and installing repairs it.
        on_progress(&InstallProgress::Step {
            step: InstallStep::RemoveIncomplete,
            subject: &container.name,
        });
        remove_incomplete(engine, name)
            .await
            .map_err(|source| LifecycleError::InstallFailed {
                name: name.to_owned(),
                step: InstallStep::RemoveIncomplete,
                source: Box::new(source),
                cleanup_failures: Vec::new(),
            })?;
    }
    let host = host_context(engine, name, request.desktop, request.agent).await?;
    let generation = next_generation(engine, name, None, request.state).await?;
    // On disk before the first Podman object is made: a crash from here on leaves a journal the
    // next command completes or reverts.
    let mut journal = Journal::install(name, generation);
    journaled(request.journals.write(&journal))?;
    let mut made = Made::default();
    let built = build_and_start(
        engine,
        &request,
        &host,
        &mut journal,
        &mut made,
        on_progress,
    )
    .await;
    match built {
        Ok(record) => {
            // Should this fail, the journal says verified: the next command completes it.
            journaled(request.journals.clear(name))?;
            Ok(InstallOutcome::Installed { record })
        }
        Err((step, source)) => {
            let mut cleanup_failures = made.undo(engine).await;
            // The journal stays while anything is left, so the next command removes the rest.
            if cleanup_failures.is_empty()
                && let Err(error) = request.journals.clear(name)
            {
                cleanup_failures.push(crate::update::error_chain(&error));
            }
            Err(LifecycleError::InstallFailed {
                name: name.to_owned(),
                step,
                source: Box::new(source),
                cleanup_failures,
            })
        }
    }
}

/// Removes `name`'s managed containers and generation images: what an install left that no
/// record and no journal account for.
async fn remove_incomplete<E: Engine>(engine: &E, name: &str) -> Result<(), LifecycleError> {
    let filter = managed_filter(name);
    let containers = engine
        .list_containers(&filter)
        .await
        .map_err(|error| LifecycleError::engine(name, "find the containers of", error))?;
    for container in containers {
        match engine.remove_container(&container.id, true).await {
            Ok(()) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(LifecycleError::engine(name, "remove a container of", error)),
        }
    }
    let images = engine
        .list_images(&filter)
        .await
        .map_err(|error| LifecycleError::engine(name, "list the generation images of", error))?;
    for image in images {
        match engine.remove_image(&image.id, false).await {
            Ok(()) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => {
                return Err(LifecycleError::engine(
                    name,
                    "remove a generation image of",
                    error,
                ));
            }
        }
    }
    Ok(())
}

/// A journal write's failure as the install's.
fn journaled(result: Result<(), UpdateError>) -> Result<(), LifecycleError> {
    result.map_err(|error| match error {
        UpdateError::State {
            action,
            path,
            source,
        } => LifecycleError::Journal {
            action,
            path,
            source,
        },
        UpdateError::Lifecycle(error) => error,
        // The journal store fails with nothing else.
        other => LifecycleError::Journal {
            action: "write the install journal",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(crate::update::error_chain(&other)),
        },
    })
}

/// Failpoint `point` of a test build, its failure attributed to `step` (nothing in a normal build).
async fn reached(step: InstallStep, point: &'static str) -> StepResult<()> {
    failpoint::hit(point)
        .await
        .map_err(|fired| (step, fired.into()))
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

/// Builds generation `journal.to_generation`, creates, starts and verifies its container under
/// the active name and records it; each stage is journaled before the next begins.
async fn build_and_start<E: Engine>(
    engine: &E,
    request: &InstallRequest<'_>,
    host: &HostContext,
    journal: &mut Journal,
    made: &mut Made,
    on_progress: &(dyn Fn(&InstallProgress<'_>) + Send + Sync),
) -> StepResult<InstallRecord> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    reached(InstallStep::Pull, "install-begun").await?;
    let reference = pull_reference(resolved);
    let mut built = build_generation(
        engine,
        resolved,
        &reference,
        journal.to_generation,
        &request.state.owner(),
        made,
        on_progress,
    )
    .await?;
    // The record's digest is the one the definition's reference names, which `check` compares.
    built.pulled.digest = request
        .registry
        .digest_of_pulled(&reference, &built.pulled)
        .await;
    journal.pulled_image = made.pulled_image.clone();
    at(
        InstallStep::Commit,
        journaled(request.journals.record(journal, JournalStep::Built)),
    )?;
    reached(InstallStep::Commit, "install-built").await?;
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
    let record = install_record(resolved, &built, &details);
    journal.to_record = Some(record.clone());
    at(
        InstallStep::Verify,
        journaled(request.journals.record(journal, JournalStep::Verified)),
    )?;
    reached(InstallStep::Verify, "install-verified").await?;

    on_progress(&InstallProgress::Step {
        step: InstallStep::Record,
        subject: &request.state.path(name).display().to_string(),
    });
    at(InstallStep::Record, request.state.write(&record))?;
    reached(InstallStep::Record, "install-recorded").await?;
    Ok(record)
}
