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
        let progress = |progress: Progress| {
            call.emit(Event::System {
                progress: &progress,
            })
        };
        system_update::check(&host.context(self), &progress).await
    }

    /// `--all` / `--containers`, under the system lock.
    pub async fn system_update(
        &self,
        call: Call<'_>,
        scope: UpdateScope,
        options: &SystemOptions,
    ) -> Result<UpdateReport, Error> {
        let host = SystemHost::find(options);
        let lock = system_update::lock(&self.settings.paths.state_dir)?;
        let names = self.installed_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let progress = |progress: Progress| {
            call.emit(Event::System {
                progress: &progress,
            })
        };
        let context = host.context(self);
        let work = system_update::update(
            &context,
            call,
            &lock,
            scope,
            crate::update::now_unix(),
            &progress,
        );
        self.until_cancelled(call, "system update", &names, async {
            unwrap_interrupted(work.await)
        })
        .await
    }

    /// `--rollback`, under the system lock.
    pub async fn system_rollback(
        &self,
        call: Call<'_>,
        scope: RollbackScope,
        options: &SystemOptions,
    ) -> Result<RollbackReport, Error> {
        let host = SystemHost::find(options);
        let lock = system_update::lock(&self.settings.paths.state_dir)?;
        let names = self.installed_names();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let progress = |progress: Progress| {
            call.emit(Event::System {
                progress: &progress,
            })
        };
        let context = host.context(self);
        let work = system_update::rollback(&context, call, &lock, scope, &progress);
        self.until_cancelled(call, "system rollback", &names, async {
            unwrap_interrupted(work.await)
        })
        .await
    }

    /// `--history`.
    pub fn system_history(&self) -> Result<History, Error> {
        Ok(system_update::history(&self.settings.paths.state_dir)?)
    }

    /// The installed containers (none when the records cannot be read: the layer says why).
    fn installed_names(&self) -> Vec<String> {
        self.state_store()
            .list()
            .map(|records| records.into_iter().map(|record| record.name).collect())
            .unwrap_or_default()
    }
}

/// An interrupted container layer is the whole run's interruption.
fn unwrap_interrupted<T>(result: Result<T, SystemUpdateError>) -> Result<T, Error> {
    result.map_err(|error| match error {
        SystemUpdateError::Interrupted(error) => *error,
        other => other.into(),
    })
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
