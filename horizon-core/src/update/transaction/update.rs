//! The update transaction: what to update ([`UpdateRequest`]) and what came of it
//! ([`UpdateOutcome`]); the registry check that decides whether there is anything to do; the
//! next generation built and its container created and verified beside the running one (install's
//! own steps, plus the check that every exported binary resolves); then the swap and the pruning
//! of generations beyond the kept ones.

use serde::Serialize;

use super::prune::prune;
use super::recovery::recover;
use super::swap::swap;
use super::{GenerationRef, Installed, begin, begun, failed, installed};
use crate::definition::ResolvedDefinition;
use crate::engine::{Engine, ExecRequest, PullEvent};
use crate::lifecycle::{
    BuiltGeneration, DesktopHost, HostContext, InstallProgress, InstallRecord, Made, beside_name,
    build_generation, create_and_start, exec_with_tail, host_context, install_record,
    next_generation,
};
use crate::naming;
use crate::update::check::available_digest;
use crate::update::error::{UpdateError, UpdateStep};
use crate::update::failpoint;
use crate::update::journal::{DefinitionChange, Journal, JournalStep, Operation};
use crate::update::lock::ContainerLock;
use crate::update::registry::RegistryClient;

/// How many previous generations an update keeps for rollback unless told otherwise.
pub const DEFAULT_KEEP_PREVIOUS: usize = 2;
/// The shell an exported binary is looked up with (`command -v`) in a new container.
const LOOKUP_SHELL: &str = "sh";

/// What to update.
#[derive(Clone, Copy, Debug)]
pub struct UpdateRequest<'a> {
    /// The definition now.
    pub resolved: &'a ResolvedDefinition,
    /// horizon's state.
    pub stores: &'a super::UpdateStores,
    /// The host's desktop resources (the new container gets what the definition asks for).
    pub desktop: &'a DesktopHost,
    /// How to reach the registry.
    pub registry: &'a RegistryClient,
    /// Previous generations to keep (containers, images, records); older ones are pruned.
    pub keep_previous: usize,
    /// The in-container agent the next container gets (see `lifecycle::HostContext::agent`).
    pub agent: Option<&'a crate::lifecycle::AgentHost>,
    /// Build the next generation even when the registry has nothing new and the definition is
    /// unchanged (`install --reinstall`: a container made afresh, with the agent it lacked, say).
    pub rebuild: bool,
    /// The user-layer file `resolved` was read from, when the caller has not written it yet (a
    /// toolchain set up or removed): the transaction writes it when it completes, and leaves it
    /// as it is when it fails or reverts.
    pub definition_change: Option<&'a DefinitionChange>,
}

impl UpdateRequest<'_> {
    /// What its journal (and the recovery of an interrupted one) calls it.
    pub fn operation(&self) -> Operation {
        if self.rebuild {
            Operation::Reinstall
        } else {
            Operation::Update
        }
    }
}

/// Progress of an update, for the caller to render.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum UpdateProgress<'a> {
    /// A step begins; `subject` is what it works on.
    Step {
        /// The step.
        step: UpdateStep,
        /// What it works on.
        subject: &'a str,
    },
    /// The pull made progress.
    Pull(&'a PullEvent),
}

/// What [`update`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UpdateOutcome {
    /// The next generation runs; the previous one is kept for rollback.
    Updated {
        /// What ran before.
        from: GenerationRef,
        /// What runs now.
        to: GenerationRef,
        /// Generations removed because more than `keep_previous` were kept.
        pruned: Vec<u64>,
        /// Objects pruning could not remove, with why (the update itself succeeded).
        prune_failures: Vec<String>,
    },
    /// The registry has the image installed and the definition is unchanged: nothing was done.
    UpToDate {
        /// What runs.
        current: GenerationRef,
    },
}

/// Updates the container of `request.resolved` (see the module documentation). The caller holds
/// its lock. An interrupted earlier transaction is recovered first.
pub async fn update<E: Engine>(
    engine: &E,
    lock: &ContainerLock,
    request: UpdateRequest<'_>,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<UpdateOutcome, UpdateError> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    let stores = request.stores;
    ensure_lock_for(lock, name);
    recover(engine, lock, stores).await?;
    let Installed { active, record, .. } = installed(engine, stores, name).await?;
    let Some(digest) = digest_to_build(request, &record, on_progress).await? else {
        return Ok(UpdateOutcome::UpToDate {
            current: GenerationRef::of(&record),
        });
    };

    let host = host_context(engine, name, request.desktop, request.agent).await?;
    let generation = next_generation(engine, name, Some(&active), &stores.records).await?;
    let mut journal = Journal {
        keep_previous: request.keep_previous,
        definition_change: request.definition_change.cloned(),
        ..begun(
            request.operation(),
            name,
            record.generation,
            &active,
            generation,
        )
    };
    begin(stores, &record, &journal)?;
    let to_record =
        build_next_or_undo(engine, request, &host, &digest, &mut journal, on_progress).await?;

    on_progress(&UpdateProgress::Step {
        step: UpdateStep::Swap,
        subject: &naming::container_name(name),
    });
    swap(engine, stores, &mut journal).await?;
    let pruned = prune(engine, stores, name, request.keep_previous).await;
    failpoint::hit("update-pruned").await?;
    stores.journals.clear(name)?;
    Ok(UpdateOutcome::Updated {
        from: GenerationRef::of(&record),
        to: GenerationRef::of(&to_record),
        pruned: pruned.generations,
        prune_failures: pruned.failures,
    })
}

/// The registry's digest of the definition's image, or `None` when there is nothing to build: the
/// running generation was built from that digest and the definition is unchanged (a rebuild
/// always builds).
async fn digest_to_build(
    request: UpdateRequest<'_>,
    record: &InstallRecord,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<Option<String>, UpdateError> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    on_progress(&UpdateProgress::Step {
        step: UpdateStep::Check,
        subject: &resolved.definition.image.full,
    });
    let digest = available_digest(resolved, request.registry)
        .await
        .map_err(|error| failed(name, UpdateStep::Check, error, Vec::new()))?;
    let up_to_date = !request.rebuild
        && record.image_digest.as_deref() == Some(digest.as_str())
        && record.definition_hash == resolved.definition.content_hash();
    Ok((!up_to_date).then_some(digest))
}

/// [`build_next`]; when it fails, what it made is removed before the failure is returned. The
/// journal is cleared only when all of it went: otherwise it stays, so the next command's recovery
/// removes the rest.
async fn build_next_or_undo<E: Engine>(
    engine: &E,
    request: UpdateRequest<'_>,
    host: &HostContext,
    digest: &str,
    journal: &mut Journal,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<InstallRecord, UpdateError> {
    let name = request.resolved.definition.name.as_str();
    let mut made = Made::default();
    match build_next(
        engine,
        request,
        host,
        digest,
        journal,
        &mut made,
        on_progress,
    )
    .await
    {
        Ok(to_record) => Ok(to_record),
        Err((step, error)) => {
            let cleanup_failures = made.undo(engine).await;
            if cleanup_failures.is_empty() {
                request.stores.journals.clear(name)?;
            }
            Err(failed(name, step, error, cleanup_failures))
        }
    }
}

/// Builds generation `journal.to_generation` from `digest`, creates and verifies its container
/// beside the running one, and returns the record it will have. Each stage is journaled.
// The transaction's parts (request, host, journal, what was made, progress) are separate
// borrows on purpose: `made` and `journal` are undone or kept by the caller.
async fn build_next<E: Engine>(
    engine: &E,
    request: UpdateRequest<'_>,
    host: &HostContext,
    digest: &str,
    journal: &mut Journal,
    made: &mut Made,
    on_progress: &(dyn Fn(&UpdateProgress<'_>) + Send + Sync),
) -> Result<InstallRecord, (UpdateStep, UpdateError)> {
    let resolved = request.resolved;
    let name = resolved.definition.name.as_str();
    let generation = journal.to_generation;
    let journals = &request.stores.journals;
    let build_progress = |progress: &InstallProgress<'_>| match progress {
        InstallProgress::Step { step, subject } => on_progress(&UpdateProgress::Step {
            step: UpdateStep::Build(*step),
            subject,
        }),
        InstallProgress::Pull(event) => on_progress(&UpdateProgress::Pull(event)),
    };
    failpoint::hit("update-begun")
        .await
        .map_err(|fired| (UpdateStep::Check, fired.into()))?;
    let image = &resolved.definition.image;
    let reference = format!("{}/{}@{digest}", image.registry, image.repository);
    let built: BuiltGeneration = build_generation(
        engine,
        resolved,
        &reference,
        generation,
        &request.stores.records.owner(),
        made,
        &build_progress,
    )
    .await
    .map_err(|(step, error)| (UpdateStep::Build(step), error.into()))?;
    journal.pulled_image = made.pulled_image.clone();
    let at_build = |error: UpdateError| {
        (
            UpdateStep::Build(crate::lifecycle::InstallStep::Commit),
            error,
        )
    };
    journals
        .record(journal, JournalStep::Built)
        .map_err(at_build)?;
    failpoint::hit("update-built")
        .await
        .map_err(|fired| at_build(fired.into()))?;

    let create_name = beside_name(name, generation);
    let details = create_and_start(
        engine,
        resolved,
        host,
        &built,
        &create_name,
        made,
        &build_progress,
    )
    .await
    .map_err(|(step, error)| (UpdateStep::Build(step), error.into()))?;
    let at_verify = |error: UpdateError| (UpdateStep::VerifyExports, error);
    on_progress(&UpdateProgress::Step {
        step: UpdateStep::VerifyExports,
        subject: &resolved.definition.export_binaries.join(" "),
    });
    verify_exports(
        engine,
        name,
        &create_name,
        &resolved.definition.export_binaries,
    )
    .await
    .map_err(at_verify)?;
    let mut to_record = install_record(resolved, &built, &details);
    // The digest asked for is the one built, whatever the pull reported.
    to_record.image_digest = Some(digest.to_owned());
    journal.to_record = Some(to_record.clone());
    journals
        .record(journal, JournalStep::Verified)
        .map_err(at_verify)?;
    failpoint::hit("update-verified")
        .await
        .map_err(|fired| at_verify(fired.into()))?;
    Ok(to_record)
}

/// Checks that every exported binary resolves (`command -v`) in the new container.
async fn verify_exports<E: Engine>(
    engine: &E,
    name: &str,
    container: &str,
    binaries: &[String],
) -> Result<(), UpdateError> {
    for binary in binaries {
        let request = ExecRequest {
            argv: [
                LOOKUP_SHELL,
                "-c",
                "command -v -- \"$1\" >/dev/null",
                LOOKUP_SHELL,
                binary,
            ]
            .map(str::to_owned)
            .to_vec(),
            ..Default::default()
        };
        let (exit_code, _) = exec_with_tail(engine, name, container, &request).await?;
        if exit_code != 0 {
            return Err(UpdateError::ExportMissing {
                binary: binary.clone(),
            });
        }
    }
    Ok(())
}

/// A lock for another container is a programming error of the caller.
fn ensure_lock_for(lock: &ContainerLock, name: &str) {
    debug_assert_eq!(lock.name(), name, "the lock held is not this container's");
}
