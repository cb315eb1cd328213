//! `horizon-update` as one call: the base system, the containers and the applications checked,
//! updated or rolled back together, or the system generations listed. The host facts of the base
//! (which OSTree tool, which sysroot) and of the application sources are found here from the
//! options; the container layer goes through the same container use cases as
//! `horizon-container`. A cancelled update or rollback finishes the container transactions it
//! left in their journals and records no system generation.

use std::path::{Path, PathBuf};

use super::{Call, Error, Event, Horizon};
use crate::apps::AppHost;
use crate::base::{BackendKind, BaseDetection, DetectInput, OSTREE_BOOTED_MARKER, detect};
use crate::engine::Engine;
use crate::host_command::{SystemRunner, find_program};
use crate::system_update::{
    self, CheckReport, History, Progress, RollbackReport, RollbackScope, SystemContext,
    SystemUpdateError, UpdateReport, UpdateScope,
};

/// snapd's socket: snaps are a layer only where snapd runs.
const SNAPD_SOCKET: &str = "/run/snapd.socket";

/// What `horizon-update` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemAction {
    /// What is new in every layer; nothing changed.
    Check,
    /// Update these layers.
    Update(UpdateScope),
    /// Return to the previous system generation.
    Rollback(RollbackScope),
}

/// Where the base system is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemOptions {
    /// The base-system tool (`None`: detected).
    pub backend: Option<BackendKind>,
    /// The OSTree sysroot (`None`: the running system's).
    pub sysroot: Option<PathBuf>,
    /// The OSTree stateroot (`None`: the booted one).
    pub os: Option<String>,
}

impl<E: Engine> Horizon<E> {
    /// `--check`: every layer, nothing changed.
    pub async fn system_check(&self, call: Call<'_>, options: &SystemOptions) -> CheckReport {
        let host = SystemHost::find(options);
        system_update::check(&host.context(self), &progress_to(call)).await
    }

    /// `--all` / `--containers`, under the system lock.
    pub async fn system_update(
        &self,
        call: Call<'_>,
        scope: UpdateScope,
        options: &SystemOptions,
    ) -> Result<UpdateReport, Error> {
        let run = self.begin_system_run(options)?;
        let context = run.host.context(self);
        let progress = progress_to(call);
        let now = crate::update::now_unix();
        let work = system_update::update(&context, call, &run.lock, scope, now, &progress);
        self.finish_system_run(call, "system update", &run, work)
            .await
    }

    /// `--rollback`, under the system lock.
    pub async fn system_rollback(
        &self,
        call: Call<'_>,
        scope: RollbackScope,
        options: &SystemOptions,
    ) -> Result<RollbackReport, Error> {
        let run = self.begin_system_run(options)?;
        let context = run.host.context(self);
        let progress = progress_to(call);
        let work = system_update::rollback(&context, call, &run.lock, scope, &progress);
        self.finish_system_run(call, "system rollback", &run, work)
            .await
    }

    /// What an update or rollback of the system holds while it runs: the machine's facts, the
    /// system lock, and the containers whose journals a cancel must finish.
    fn begin_system_run(&self, options: &SystemOptions) -> Result<SystemRun, Error> {
        Ok(SystemRun {
            host: SystemHost::find(options),
            lock: system_update::lock(&self.settings.paths.state_dir)?,
            installed: self
                .state_store()
                .scan()
                .map(|scan| scan.names())
                // An unreadable state directory: the container layer reports why.
                .unwrap_or_default(),
        })
    }

    /// Runs `work` until it ends or the call is cancelled; an interrupted container layer is the
    /// whole run's interruption.
    async fn finish_system_run<T>(
        &self,
        call: Call<'_>,
        operation: &str,
        run: &SystemRun,
        work: impl Future<Output = Result<T, SystemUpdateError>>,
    ) -> Result<T, Error> {
        let names: Vec<&str> = run.installed.iter().map(String::as_str).collect();
        self.until_cancelled(call, operation, &names, async {
            work.await.map_err(|error| match error {
                SystemUpdateError::Interrupted(error) => *error,
                other => other.into(),
            })
        })
        .await
    }

    /// `--history`.
    pub fn system_history(&self) -> Result<History, Error> {
        Ok(system_update::history(&self.settings.paths.state_dir)?)
    }
}

/// The call's observer sees each step of a system run.
fn progress_to(call: Call<'_>) -> impl Fn(Progress) + Send + Sync + '_ {
    move |progress: Progress| {
        call.emit(Event::System {
            progress: &progress,
        })
    }
}

/// See [`Horizon::begin_system_run`].
struct SystemRun {
    host: SystemHost,
    lock: system_update::SystemLock,
    installed: Vec<String>,
}

/// The base and application facts of this machine.
struct SystemHost {
    runner: SystemRunner,
    base: BaseDetection,
    apps: AppHost,
}

impl SystemHost {
    fn find(options: &SystemOptions) -> Self {
        let base = detect(&DetectInput {
            backend: options.backend,
            sysroot: options.sysroot.clone(),
            os: options.os.clone(),
            ostree_booted: Path::new(OSTREE_BOOTED_MARKER).exists(),
            has_ostree: find_program("ostree", None).is_some(),
            has_rpm_ostree: find_program("rpm-ostree", None).is_some(),
            has_bootc: find_program("bootc", None).is_some(),
        });
        let apps = AppHost {
            has_flatpak: find_program("flatpak", None).is_some(),
            has_snapd: find_program("snap", None).is_some() && Path::new(SNAPD_SOCKET).exists(),
        };
        SystemHost {
            runner: SystemRunner::default(),
            base,
            apps,
        }
    }

    fn context<'a, E: Engine>(
        &'a self,
        horizon: &'a Horizon<E>,
    ) -> SystemContext<'a, SystemRunner, E> {
        SystemContext {
            runner: &self.runner,
            base: &self.base,
            horizon,
            apps: &self.apps,
            state_dir: &horizon.settings.paths.state_dir,
        }
    }
}
