//! horizon under systemd, one call each: `enable` and `disable` (the template unit
//! `container@.service` installed in the unit directory, its instance enabled or disabled through
//! `systemctl`), `serve` (what the unit runs: start the container, tell systemd it runs, stay until
//! it ends or the unit is stopped), `generate_unit` (a Podman unit or Quadlet file equivalent to
//! the managed container), and the unattended update (`enable_update_timer`, and
//! `unattended_update`: the pre-update checks, then the system update unless one says to skip).
//! Units are rendered by `crate::systemd`; here they are written atomically and `systemctl` runs
//! through the one host-command helper.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Call, Error, Horizon, SystemOptions};
use crate::engine::{Engine, EngineError};
use crate::host_command::{HostCommand, Runner, SystemRunner, run_checked};
use crate::system_update::{UpdateReport, UpdateScope};
use crate::systemd::checks::{self, CheckVerdict, HostFacts, Metered};
use crate::systemd::units::{self, UnitContext, UnitScope};
use crate::systemd::{GeneratedUnit, SystemdError, UnitKind};

/// How often `serve` asks Podman whether the container still runs: its end is noticed (and the
/// unit restarted) within this long, for one cheap inspect per period.
pub const SERVE_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Where the kernel lists power supplies.
const POWER_SUPPLY_DIR: &str = "/sys/class/power_supply";
/// The load averages.
const LOADAVG: &str = "/proc/loadavg";

/// How to enable or disable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Also start (enable) or stop (disable) the unit now.
    pub now: bool,
}

/// What `enable` or `disable` did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ServiceReport {
    /// The definition.
    pub name: String,
    /// Its unit, `container@NAME.service`.
    pub unit: String,
    /// Whose manager.
    pub scope: UnitScope,
    /// The template unit's file.
    pub template: PathBuf,
    /// The template was written (it was missing or different).
    pub template_written: bool,
    /// The unit was started (enable) or stopped (disable) too.
    pub now: bool,
}

/// How a served container ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "ended")]
pub enum ServeOutcome {
    /// The unit was stopped (the call cancelled): the container was stopped.
    Stopped {
        /// What stopped it (`SIGTERM`).
        reason: String,
    },
    /// The container ended by itself, or was stopped or killed behind the unit's back.
    ContainerEnded {
        /// Its exit code, when it still exists.
        exit_code: Option<i64>,
    },
}

/// What the unattended update's timer setup wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TimerReport {
    /// The service file.
    pub service: PathBuf,
    /// The timer file.
    pub timer: PathBuf,
    /// Whose manager.
    pub scope: UnitScope,
}

/// What an unattended run did.
#[derive(Debug, serde::Serialize)]
pub struct UnattendedReport {
    /// The checks file that was read (the defaults apply when it is missing).
    pub config: PathBuf,
    /// Every check's verdict, in order.
    pub checks: Vec<CheckVerdict>,
    /// The update, unless a check said to skip it.
    pub update: Option<UpdateReport>,
}

impl UnattendedReport {
    /// The checks that said to skip.
    pub fn skipped_by(&self) -> impl Iterator<Item = &CheckVerdict> {
        self.checks.iter().filter(|verdict| verdict.skip)
    }
}

impl<E: Engine> Horizon<E> {
    /// Installs the template unit and enables `container@NAME.service` for the installed
    /// container `name` (with `now`, starts it too: `systemctl` returns once the container runs).
    pub async fn enable(
        &self,
        call: Call<'_>,
        name: &str,
        options: ServiceOptions,
    ) -> Result<ServiceReport, Error> {
        self.installed_container(call, name).await?;
        self.require_manager()?;
        let (template, template_written) = self.write_template()?;
        if template_written {
            self.systemctl(&["daemon-reload"]).await?;
        }
        self.switch_unit("enable", name, options, template, template_written)
            .await
    }

    /// Disables `container@NAME.service` (with `now`, stops it too, which stops the container).
    /// The template stays for the other containers.
    pub async fn disable(
        &self,
        _call: Call<'_>,
        name: &str,
        options: ServiceOptions,
    ) -> Result<ServiceReport, Error> {
        self.switch_unit("disable", name, options, self.template_path(), false)
            .await
    }

    /// `systemctl enable|disable [--now] container@NAME.service`, and its report.
    async fn switch_unit(
        &self,
        verb: &str,
        name: &str,
        options: ServiceOptions,
        template: PathBuf,
        template_written: bool,
    ) -> Result<ServiceReport, Error> {
        let unit = units::container_unit(name);
        let mut args = vec![verb];
        if options.now {
            args.push("--now");
        }
        args.push(&unit);
        self.systemctl(&args).await?;
        Ok(ServiceReport {
            name: name.to_owned(),
            unit,
            scope: self.settings.services.scope,
            template,
            template_written,
            now: options.now,
        })
    }

    /// What `container@NAME.service` runs: starts the container, tells the service manager it
    /// runs (when there is one), then stays until the container ends — or until the call is
    /// cancelled (the unit stopped), when it stops the container.
    pub async fn serve(&self, call: Call<'_>, name: &str) -> Result<ServeOutcome, Error> {
        let started = self.start(call, name).await?;
        let id = started.container.id.clone();
        let generation = started
            .container
            .labels
            .get(crate::labels::GENERATION)
            .map(|generation| format!(", generation {generation}"))
            .unwrap_or_default();
        self.notify(&format!(
            "READY=1\nSTATUS=running container {name}{generation}"
        ));
        let engine = self.engine(call).await?;
        loop {
            tokio::select! {
                biased;
                reason = call.cancel.cancelled() => {
                    self.notify(&format!("STOPPING=1\nSTATUS=stopping container {name}"));
                    self.stop(call, name).await?;
                    return Ok(ServeOutcome::Stopped { reason });
                }
                () = tokio::time::sleep(SERVE_POLL_INTERVAL) => {}
            }
            match engine.inspect_container(&id).await {
                Ok(details) if details.state.running => {}
                Ok(details) => {
                    return Ok(ServeOutcome::ContainerEnded {
                        exit_code: Some(details.state.exit_code),
                    });
                }
                Err(EngineError::NotFound { .. }) => {
                    return Ok(ServeOutcome::ContainerEnded { exit_code: None });
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// A unit (`kind`) equivalent to the installed container `name`, from the create spec its
    /// active container records.
    pub async fn generate_unit(
        &self,
        call: Call<'_>,
        name: &str,
        kind: UnitKind,
    ) -> Result<GeneratedUnit, Error> {
        let container = self.installed_container(call, name).await?;
        let spec = crate::lifecycle::recorded_spec(name, &container.name, &container.labels)?;
        let generation = container
            .labels
            .get(crate::labels::GENERATION)
            .and_then(|generation| generation.parse().ok());
        let scope = self.settings.services.scope;
        Ok(match kind {
            UnitKind::Systemd => crate::systemd::generate::podman_unit(
                name,
                generation,
                &spec,
                &self.settings.services.podman,
                scope,
            ),
            UnitKind::Quadlet => crate::systemd::generate::quadlet(name, generation, &spec, scope)
                .map_err(Error::from)?,
        })
    }

    /// Writes the unattended update's service and timer and enables the timer.
    pub async fn enable_update_timer(&self, _call: Call<'_>) -> Result<TimerReport, Error> {
        let services = &self.settings.services;
        let context = UnitContext {
            scope: services.scope,
            program: &services.horizon_update,
            environment: &services.environment,
        };
        self.require_manager()?;
        let dir = &self.settings.paths.unit_dir;
        let service = dir.join(units::UPDATE_SERVICE);
        let timer = dir.join(units::UPDATE_TIMER);
        let wrote_service = write_unit(&service, &units::update_service(&context))?;
        let wrote_timer = write_unit(&timer, &units::update_timer())?;
        if wrote_service || wrote_timer {
            self.systemctl(&["daemon-reload"]).await?;
        }
        self.systemctl(&["enable", "--now", units::UPDATE_TIMER])
            .await?;
        Ok(TimerReport {
            service,
            timer,
            scope: services.scope,
        })
    }

    /// The unattended update: every configured pre-update check, then the system update of
    /// `scope` unless a check says to skip it (each skip is logged and in the report).
    pub async fn unattended_update(
        &self,
        call: Call<'_>,
        scope: UpdateScope,
        options: &SystemOptions,
    ) -> Result<UnattendedReport, Error> {
        let config = self.settings.paths.update_config.clone();
        let wanted = checks::read_update_checks(&config).map_err(SystemdError::from)?;
        let runner = SystemRunner::default();
        let metered = if wanted.skip_on_metered {
            network_metering(&runner).await
        } else {
            Metered::Unknown
        };
        let facts = HostFacts {
            batteries: checks::read_batteries(Path::new(POWER_SUPPLY_DIR)),
            metered,
            load: checks::read_load(Path::new(LOADAVG)),
        };
        let mut verdicts = checks::judge(&wanted, &facts);
        if let Some(script) = &wanted.check_script {
            let command = HostCommand::new(script);
            verdicts.push(match runner.run(&command).await {
                Ok(output) => {
                    let said = if output.stderr.trim().is_empty() {
                        &output.stdout
                    } else {
                        &output.stderr
                    };
                    checks::script_verdict(script, output.code, said)
                }
                Err(error) => {
                    checks::unrunnable_script_verdict(script, &crate::update::error_chain(&error))
                }
            });
        }
        let mut report = UnattendedReport {
            config,
            checks: verdicts,
            update: None,
        };
        let mut skipped = false;
        for verdict in report.skipped_by() {
            skipped = true;
            tracing::warn!(check = verdict.check.as_str(), reason = %verdict.detail, "unattended update skipped");
        }
        if !skipped {
            report.update = Some(self.system_update(call, scope, options).await?);
        }
        Ok(report)
    }

    /// The active container of `name` (an interrupted transaction finished first), or why there
    /// is none (no such definition, or not installed).
    async fn installed_container(
        &self,
        call: Call<'_>,
        name: &str,
    ) -> Result<crate::engine::ContainerSummary, Error> {
        self.recover_before_reading(call, name).await?;
        let engine = self.engine(call).await?;
        match crate::lifecycle::find_managed(engine, name).await? {
            Some(container) => Ok(container),
            None => Err(self.resolve(name).err().unwrap_or(Error::NotInstalled {
                name: name.to_owned(),
            })),
        }
    }

    /// Refuses before anything is written when no service manager would read the units.
    fn require_manager(&self) -> Result<(), Error> {
        let services = &self.settings.services;
        if services.manager_running {
            return Ok(());
        }
        Err(SystemdError::NoManager {
            scope: services.scope,
        }
        .into())
    }

    /// Whether horizon's template unit is in the unit directory (some container was enabled).
    pub(crate) fn template_installed(&self) -> bool {
        self.template_path().is_file()
    }

    /// The template unit's path in the unit directory.
    fn template_path(&self) -> PathBuf {
        self.settings.paths.unit_dir.join(units::CONTAINER_TEMPLATE)
    }

    /// Writes the template unit when it is missing or different; returns its path and whether
    /// it was written.
    pub(crate) fn write_template(&self) -> Result<(PathBuf, bool), Error> {
        let services = &self.settings.services;
        let text = units::container_template(&UnitContext {
            scope: services.scope,
            program: &services.horizon_container,
            environment: &services.environment,
        });
        let path = self.template_path();
        let written = write_unit(&path, &text)?;
        Ok((path, written))
    }

    /// Runs `systemctl ARGS` for this process's manager.
    async fn systemctl(&self, args: &[&str]) -> Result<(), Error> {
        let mut command = HostCommand::new("systemctl");
        if let Some(flag) = self.settings.services.scope.systemctl_flag() {
            command = command.arg(flag);
        }
        let command = command.args(args.iter().copied());
        run_checked(&SystemRunner::default(), &command)
            .await
            .map_err(SystemdError::from)?;
        Ok(())
    }

    /// Tells the service manager `message`, when this process runs as its service. A manager
    /// that cannot be told is logged, not an error: the container runs either way.
    fn notify(&self, message: &str) {
        if let Some(socket) = &self.settings.services.notify_socket
            && let Err(error) = crate::systemd::notify(socket, message)
        {
            tracing::warn!(%error, socket = %socket.display(), "could not notify the service manager");
        }
    }
}

/// Writes `text` to the unit file `path` atomically unless it already holds exactly that;
/// returns whether it wrote.
fn write_unit(path: &Path, text: &str) -> Result<bool, Error> {
    if std::fs::read(path).is_ok_and(|current| current == text.as_bytes()) {
        return Ok(false);
    }
    crate::fsutil::write_atomic_mode(path, text.as_bytes(), Some(0o644))
        .map_err(|(path, source)| SystemdError::Write { path, source })?;
    Ok(true)
}

/// Whether NetworkManager says the connection is metered; unknown when it does not answer.
async fn network_metering(runner: &SystemRunner) -> Metered {
    let command = HostCommand::new("busctl").args([
        "--system",
        "get-property",
        "org.freedesktop.NetworkManager",
        "/org/freedesktop/NetworkManager",
        "org.freedesktop.NetworkManager",
        "Metered",
    ]);
    match run_checked(runner, &command).await {
        Ok(output) => checks::parse_busctl_metered(&output.stdout),
        Err(error) => {
            tracing::debug!(%error, "no network manager answered about metering");
            Metered::Unknown
        }
    }
}
