//! `horizon-update`'s library side: the whole machine — the base system, the containers, the user
//! applications — checked, updated and rolled back as one, with [`generations`] recording what ran
//! together so that one rollback restores both the base deployment and the containers.
//!
//! Each layer is independent: a layer that is not on the machine is [`Layer::Skipped`], a layer
//! that fails is [`Layer::Failed`] with its error, and neither stops the others. Nothing here
//! prints; progress goes to a callback and results come back as reports for the binary to render.
//! Writers (update, rollback) hold the [`SystemLock`], so two runs never interleave, and each
//! container's own lock, so a `horizon-container update` of the same container never interleaves
//! with them either.

pub mod containers;
pub mod generations;

use std::path::Path;

use serde::Serialize;

use crate::apps::{self, AppAction, AppHost, SourceReport};
use crate::base::{BaseCheck, BaseDetection, BaseSystem, RollbackOutcome, UpgradeOutcome};
use crate::engine::Engine;
use crate::host_command::Runner;
use crate::lifecycle::StateStore;
use crate::update::{ContainerCheck, ContainerLock, LockWait, UpdateError};
use crate::usecase::{Call, ContainerUpdate, Horizon};
use containers::{ContainerResults, ContainerRollback};
use generations::{
    BaseRecord, ContainerRecord, GenerationCause, GenerationError, GenerationStore,
    SystemGeneration,
};

/// One layer's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Layer<T> {
    /// The layer is not on this machine (or not part of this run): why.
    Skipped {
        /// Why it did not run, in words for the report.
        reason: String,
    },
    /// It ran; the result.
    Done(T),
    /// It failed: the error, with the tool's own message, and what would fix it (for the binary
    /// to render; not part of the JSON report).
    Failed {
        /// The error and its causes on one line.
        error: String,
        /// What would fix it.
        #[serde(skip)]
        hints: Vec<crate::usecase::Hint>,
    },
}

impl<T> Layer<T> {
    /// True for [`Layer::Failed`].
    pub fn failed(&self) -> bool {
        matches!(self, Layer::Failed { .. })
    }

    fn from_result<E: std::error::Error>(result: Result<T, E>) -> Self {
        match result {
            Ok(value) => Layer::Done(value),
            Err(error) => Layer::Failed {
                error: crate::update::error_chain(&error),
                hints: Vec::new(),
            },
        }
    }
}

/// What `horizon-update` works on (the binary gathers it; tests build it).
#[derive(Debug)]
pub struct SystemContext<'a, R: Runner, E: Engine> {
    /// Runs the host tools.
    pub runner: &'a R,
    /// The base-system backend, or why there is none.
    pub base: &'a BaseDetection,
    /// The container side.
    pub horizon: &'a Horizon<E>,
    /// Which application sources exist.
    pub apps: &'a AppHost,
    /// horizon's state directory (install records, system generations, locks).
    pub state_dir: &'a Path,
}

/// A step of a long run, for progress display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A layer starts.
    Layer {
        /// Which layer (`base`, `containers`, `apps`).
        layer: &'static str,
        /// What is done to it (`checking`, `downloading and staging`, `rolling back`…).
        action: &'static str,
    },
}

/// The name of the system-wide lock in the lock directory: a leading dot, so no definition name
/// (a lowercase letter first) can ever be the same.
const SYSTEM_LOCK_NAME: &str = ".horizon-update";

/// Held by a `horizon-update` run that changes anything; released when dropped (or when the
/// process dies: it is an OS file lock).
#[derive(Debug)]
pub struct SystemLock {
    _lock: ContainerLock,
}

/// Takes the system-wide lock, failing at once with [`SystemUpdateError::Busy`] (naming the
/// holder's pid and since when) when another run holds it.
pub fn lock(state_dir: &Path) -> Result<SystemLock, SystemUpdateError> {
    ContainerLock::acquire(
        state_dir,
        SYSTEM_LOCK_NAME,
        containers::LOCK_OPERATION,
        LockWait::FailIfBusy,
    )
    .map(|lock| SystemLock { _lock: lock })
    .map_err(|error| match error {
        UpdateError::Busy { holder, lock, .. } => SystemUpdateError::Busy {
            holder: holder.map(|holder| (holder.pid, holder.since_unix)),
            lock,
        },
        other => SystemUpdateError::Lock(other),
    })
}

/// `--check`: every layer, nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// Whether the base system has an update.
    pub base: Layer<BaseCheck>,
    /// Whether each installed container has an update.
    pub containers: Layer<ContainerResults<ContainerCheck>>,
    /// What each app source (Flatpak installations, snap) would update.
    pub apps: Vec<SourceReport>,
}

impl CheckReport {
    /// True when some layer has an update.
    pub fn updates_available(&self) -> bool {
        matches!(&self.base, Layer::Done(check) if check.update_available)
            || matches!(&self.containers, Layer::Done(checks)
                if checks.results.iter().any(ContainerCheck::update_available))
            || self
                .apps
                .iter()
                .any(|report| matches!(report.state, apps::SourceState::Changes { .. }))
    }

    /// True when some layer (or one container's check) failed.
    pub fn any_failed(&self) -> bool {
        self.base.failed()
            || self.containers.failed()
            || matches!(&self.containers, Layer::Done(checks)
                if checks.results.iter().any(|check| check.error.is_some()))
            || apps_failed(&self.apps)
    }
}

/// True when some application source failed.
fn apps_failed(reports: &[SourceReport]) -> bool {
    reports
        .iter()
        .any(|report| matches!(report.state, apps::SourceState::Failed { .. }))
}

/// Which layers an update run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateScope {
    /// `--all`: base, containers, applications.
    All,
    /// `--containers`.
    Containers,
}

/// `--all` / `--containers`.
#[derive(Debug, Serialize)]
pub struct UpdateReport {
    /// Which layers the run updated.
    pub scope: UpdateScope,
    /// The generation in effect before the run (recorded first if the machine had changed).
    pub previous_generation: Option<u64>,
    /// The generation recorded after the run (`None` when nothing changed).
    pub new_generation: Option<u64>,
    /// What the base upgrade did.
    pub base: Layer<UpgradeOutcome>,
    /// What each container's update did.
    pub containers: Layer<ContainerResults<ContainerUpdate>>,
    /// What each app source updated.
    pub apps: Vec<SourceReport>,
}

impl UpdateReport {
    /// True when some layer (or one container) failed.
    pub fn any_failed(&self) -> bool {
        self.base.failed()
            || self.containers.failed()
            || matches!(&self.containers, Layer::Done(updates)
                if updates.results.iter().any(|update| update.result.is_err()))
            || apps_failed(&self.apps)
    }
}

/// Which side a rollback restores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackScope {
    /// Both the base and the containers.
    Both,
    /// The base system alone.
    Base,
    /// The containers alone.
    Containers,
}

/// `--rollback`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RollbackReport {
    /// Which side was restored.
    pub scope: RollbackScope,
    /// The generation that was in effect.
    pub from_generation: u64,
    /// The generation restored (now in effect, when nothing failed).
    pub to_generation: u64,
    /// What the base rollback did.
    pub base: Layer<RollbackOutcome>,
    /// What each container's rollback did.
    pub containers: Layer<ContainerResults<ContainerRollback>>,
}

impl RollbackReport {
    /// True when some side (or one container) failed.
    pub fn any_failed(&self) -> bool {
        self.base.failed()
            || self.containers.failed()
            || matches!(&self.containers, Layer::Done(rollbacks)
                if rollbacks.results.iter().any(|rollback| rollback.error.is_some()))
    }
}

/// `--history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct History {
    /// The generation in effect.
    pub current: Option<u64>,
    /// Every generation, oldest first.
    pub generations: Vec<SystemGeneration>,
}

/// A system-wide operation could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SystemUpdateError {
    /// The generations could not be read or written.
    #[error(transparent)]
    Generations(#[from] GenerationError),
    /// The install records could not be read.
    #[error("reading the installed containers failed")]
    Containers(#[source] crate::lifecycle::LifecycleError),
    /// Another horizon-update holds the system lock.
    #[error("another horizon-update is running: {}", match holder {
        Some((pid, since)) => format!("pid {pid} since {} (lock {})", crate::update::rfc3339(*since), lock.display()),
        None => format!("it holds {}", lock.display()),
    })]
    Busy {
        /// The holder's pid and when it took the lock (seconds since the Unix epoch).
        holder: Option<(u32, u64)>,
        /// The system lock file.
        lock: std::path::PathBuf,
    },
    /// The lock could not be taken for another reason.
    #[error("taking the horizon-update lock failed")]
    Lock(#[source] UpdateError),
    /// The run was cancelled (what it left half done was reverted or completed first).
    #[error(transparent)]
    Interrupted(Box<crate::usecase::Error>),
    /// There is no earlier generation.
    #[error("nothing to roll back to: {}", match current {
        Some(current) => format!("generation {current} has no earlier generation recorded before it"),
        None => "no system generation is recorded yet (horizon-update --all records one)".to_owned(),
    })]
    NothingToRollBack {
        /// The generation in effect, when one is recorded.
        current: Option<u64>,
    },
}

/// `--check`: the base (a new commit on its origin, found without deploying) and every
/// application source.
pub async fn check<R: Runner, E: Engine>(
    context: &SystemContext<'_, R, E>,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> CheckReport {
    progress(Progress::Layer {
        layer: "base",
        action: "checking",
    });
    let base = match context.base {
        BaseDetection::Absent { reason } => Layer::Skipped {
            reason: reason.clone(),
        },
        BaseDetection::Found(backend) => Layer::from_result(backend.check(context.runner).await),
    };
    progress(Progress::Layer {
        layer: "containers",
        action: "checking",
    });
    let containers = containers::check(context.horizon).await;
    progress(Progress::Layer {
        layer: "apps",
        action: "checking",
    });
    let apps = apps::run_all(context.runner, context.apps, AppAction::Check).await;
    CheckReport {
        base,
        containers,
        apps,
    }
}

/// `--all` / `--containers`: records the machine's state first when it changed since the
/// generation in effect, updates the layers of `scope` (each independently), and records the
/// result as a new generation when anything changed.
pub async fn update<R: Runner, E: Engine>(
    context: &SystemContext<'_, R, E>,
    call: Call<'_>,
    _lock: &SystemLock,
    scope: UpdateScope,
    now_unix: u64,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<UpdateReport, SystemUpdateError> {
    let store = GenerationStore::new(context.state_dir);
    let before = snapshot(context).await?;
    let previous = record_if_changed(&store, GenerationCause::Found, now_unix, &before)?;

    let base = match (scope, context.base) {
        (UpdateScope::Containers, _) => Layer::Skipped {
            reason: "not part of --containers".to_owned(),
        },
        (UpdateScope::All, BaseDetection::Absent { reason }) => Layer::Skipped {
            reason: reason.clone(),
        },
        (UpdateScope::All, BaseDetection::Found(backend)) => {
            progress(Progress::Layer {
                layer: "base",
                action: "downloading and staging",
            });
            Layer::from_result(backend.upgrade(context.runner).await)
        }
    };
    progress(Progress::Layer {
        layer: "containers",
        action: "updating",
    });
    let containers = containers::update(context.horizon, call)
        .await
        .map_err(|error| SystemUpdateError::Interrupted(Box::new(error)))?;
    let apps = match scope {
        UpdateScope::All => {
            progress(Progress::Layer {
                layer: "apps",
                action: "updating",
            });
            apps::run_all(context.runner, context.apps, AppAction::Update).await
        }
        UpdateScope::Containers => Vec::new(),
    };

    let after = snapshot(context).await?;
    let cause = match scope {
        UpdateScope::All => GenerationCause::UpdateAll,
        UpdateScope::Containers => GenerationCause::UpdateContainers,
    };
    let current = record_if_changed(&store, cause, now_unix, &after)?;
    Ok(UpdateReport {
        scope,
        previous_generation: previous,
        new_generation: (current != previous).then_some(current).flatten(),
        base,
        containers,
        apps,
    })
}

/// `--rollback`: restores the parent of the generation in effect (what the machine ran before the
/// run that recorded it) — the base deployment it recorded becomes the default for the next boot,
/// the containers return to the generations it recorded — and makes it the one in effect. When a
/// side fails, the generation in effect stays, so running the rollback again retries it.
pub async fn rollback<R: Runner, E: Engine>(
    context: &SystemContext<'_, R, E>,
    call: Call<'_>,
    _lock: &SystemLock,
    scope: RollbackScope,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<RollbackReport, SystemUpdateError> {
    let store = GenerationStore::new(context.state_dir);
    let current = store.current()?;
    let parent = match current {
        Some(current) => store.read(current)?.parent,
        None => None,
    };
    let target = match parent {
        Some(parent) => store.read(parent)?,
        None => return Err(SystemUpdateError::NothingToRollBack { current }),
    };
    let from_generation = current.unwrap_or_default();

    let base = match (scope, &target.base, context.base) {
        (RollbackScope::Containers, _, _) => Layer::Skipped {
            reason: "not part of --rollback --containers".to_owned(),
        },
        (_, None, _) => Layer::Skipped {
            reason: format!("generation {} recorded no base system", target.generation),
        },
        (_, Some(_), BaseDetection::Absent { reason }) => Layer::Skipped {
            reason: reason.clone(),
        },
        (_, Some(record), BaseDetection::Found(backend)) => {
            progress(Progress::Layer {
                layer: "base",
                action: "rolling back",
            });
            Layer::from_result(backend.rollback_to(context.runner, &record.checksum).await)
        }
    };
    let containers = match scope {
        RollbackScope::Base => Layer::Skipped {
            reason: "not part of --rollback --base".to_owned(),
        },
        RollbackScope::Both | RollbackScope::Containers => {
            progress(Progress::Layer {
                layer: "containers",
                action: "rolling back",
            });
            containers::rollback(context.horizon, call, &target.containers)
                .await
                .map_err(|error| SystemUpdateError::Interrupted(Box::new(error)))?
        }
    };
    let report = RollbackReport {
        scope,
        from_generation,
        to_generation: target.generation,
        base,
        containers,
    };
    if !report.any_failed() {
        store.set_current(target.generation)?;
    }
    Ok(report)
}

/// `--history`.
pub fn history(state_dir: &Path) -> Result<History, SystemUpdateError> {
    let store = GenerationStore::new(state_dir);
    Ok(History {
        current: store.current()?,
        generations: store.list()?,
    })
}

/// What the machine runs now: the base deployment that boots next, and the installed containers.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Snapshot {
    base: Option<BaseRecord>,
    containers: Vec<ContainerRecord>,
}

async fn snapshot<R: Runner, E: Engine>(
    context: &SystemContext<'_, R, E>,
) -> Result<Snapshot, SystemUpdateError> {
    let base = match context.base {
        BaseDetection::Absent { .. } => None,
        BaseDetection::Found(backend) => match backend.status(context.runner).await {
            Ok(status) => status.default_deployment().map(|deployment| BaseRecord {
                backend: status.backend,
                os: status.os.clone(),
                checksum: deployment.checksum.clone(),
                version: deployment.version.clone(),
            }),
            // The base layer's own step reports the failure; the record says "unknown".
            Err(error) => {
                tracing::debug!(%error, "reading the base status for the generation record");
                None
            }
        },
    };
    // A system generation names every container's generation: without one of them it would
    // restore a system that never was, so an unreadable record fails the snapshot.
    let containers = StateStore::new(context.state_dir)
        .scan()
        .and_then(crate::lifecycle::RecordScan::all)
        .map_err(SystemUpdateError::Containers)?
        .into_iter()
        .map(|record| ContainerRecord {
            name: record.name,
            generation: record.generation,
            image_digest: record.image_digest,
        })
        .collect();
    Ok(Snapshot { base, containers })
}

/// Records `snapshot` as a new generation unless the one in effect already says the same; returns
/// the generation in effect afterwards.
fn record_if_changed(
    store: &GenerationStore,
    cause: GenerationCause,
    now_unix: u64,
    snapshot: &Snapshot,
) -> Result<Option<u64>, SystemUpdateError> {
    if let Some(current) = store.current()? {
        let recorded = store.read(current)?;
        if recorded.same_state(snapshot.base.as_ref(), &snapshot.containers) {
            return Ok(Some(current));
        }
    }
    let recorded = store.record(
        cause,
        now_unix,
        snapshot.base.clone(),
        snapshot.containers.clone(),
    )?;
    Ok(Some(recorded.generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_serialise_with_their_state() {
        let done = Layer::Done(ContainerResults {
            results: vec![1, 2],
        });
        assert_eq!(
            serde_json::to_value(&done).unwrap(),
            serde_json::json!({"state": "done", "results": [1, 2]})
        );
        let skipped: Layer<ContainerResults<u8>> = Layer::Skipped {
            reason: "no container is installed".into(),
        };
        assert_eq!(
            serde_json::to_value(&skipped).unwrap(),
            serde_json::json!({"state": "skipped", "reason": "no container is installed"})
        );
    }
}
