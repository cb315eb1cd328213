//! The units horizon installs, rendered as text by pure functions: the template
//! `container@.service`, whose instance `container@NAME.service` runs the managed container NAME
//! through `horizon-container start --wait NAME` (it stays in the foreground while the container
//! runs, tells systemd when it really runs, and stops it when systemd stops the unit), and the
//! `horizon-update` service and timer of the unattended updates.

use std::path::Path;

use super::escape::{environment_assignment, exec_line};

/// The template unit of managed containers.
pub const CONTAINER_TEMPLATE: &str = "container@.service";
/// The unattended update's service.
pub const UPDATE_SERVICE: &str = "horizon-update.service";
/// The unattended update's timer.
pub const UPDATE_TIMER: &str = "horizon-update.timer";
/// When the unattended update runs (`systemd-analyze calendar` normalises it to 00:00 daily).
pub const UPDATE_CALENDAR: &str = "daily";
/// How far systemd spreads the daily run, so a fleet does not hit its registries at once.
pub const UPDATE_RANDOMIZED_DELAY: &str = "1h";
/// Seconds between a container's unexpected end and its restart.
pub const RESTART_DELAY_SECS: u32 = 2;
/// Seconds systemd gives `start --wait` to report the container running: a non-persistent
/// container is recreated first, which can take a while on a slow disk.
pub const START_TIMEOUT_SECS: u32 = 300;
/// Seconds systemd gives the unit to stop: the container's own stop timeout and some margin.
pub const STOP_TIMEOUT_SECS: u32 = crate::lifecycle::STOP_TIMEOUT_SECS + 20;

/// The unit of one managed container: `container@NAME.service`.
pub fn container_unit(name: &str) -> String {
    format!("container@{name}.service")
}

/// Whose service manager runs the units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitScope {
    /// The user's own manager (`systemctl --user`): user containers on the rootless service.
    #[default]
    User,
    /// The system manager: system containers on the rootful service.
    System,
}

impl UnitScope {
    /// The scope of a process of this uid.
    pub fn for_uid(uid: u32) -> Self {
        if uid == 0 {
            UnitScope::System
        } else {
            UnitScope::User
        }
    }

    /// The target that pulls enabled units in at boot (or at the user manager's start).
    pub fn wanted_by(self) -> &'static str {
        match self {
            UnitScope::User => "default.target",
            UnitScope::System => "multi-user.target",
        }
    }

    /// `systemctl`'s option for this scope, if it needs one.
    pub fn systemctl_flag(self) -> Option<&'static str> {
        match self {
            UnitScope::User => Some("--user"),
            UnitScope::System => None,
        }
    }
}

/// What a unit horizon writes needs to know of the installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitContext<'a> {
    /// Whose manager runs the unit.
    pub scope: UnitScope,
    /// The absolute path of the binary the unit runs.
    pub program: &'a Path,
    /// Variables the binary needs to find what the enabling process found (horizon's
    /// directories, the Podman endpoint), in order.
    pub environment: &'a [(String, String)],
}

impl UnitContext<'_> {
    fn environment_lines(&self) -> String {
        self.environment
            .iter()
            .map(|(name, value)| format!("Environment={}\n", environment_assignment(name, value)))
            .collect()
    }

    fn command(&self, args: &[&str]) -> String {
        let program = self.program.to_string_lossy();
        let mut line = vec![program.as_ref()];
        line.extend_from_slice(args);
        exec_line(&line)
    }
}

/// `container@.service`: the template whose instance `%i` is a managed container's name.
///
/// `Type=notify`: `start --wait` reports ready once the container runs, and its status line says
/// so; it ends when the container does, and `Restart=on-failure` starts it again. Stopping the
/// unit signals `start --wait`, which stops the container and exits 0, so a stopped unit is
/// inactive, not failed. It is ordered after the Podman socket of its manager, which starts the
/// service on demand.
pub fn container_template(context: &UnitContext<'_>) -> String {
    let version = crate::VERSION;
    let environment = context.environment_lines();
    // `%i`, the instance specifier, is the one text written unescaped.
    let exec_start = format!("{} %i", context.command(&["start", "--wait"]));
    let wanted_by = context.scope.wanted_by();
    format!(
        "# Written by horizon-container {version}: the managed container %i as a service.\n\
         # `horizon-container enable NAME` (or `systemctl{flag} enable container@NAME.service`)\n\
         # starts it with the {wanted_by}.\n\
         [Unit]\n\
         Description=HorizonOS container %i\n\
         Wants=podman.socket\n\
         After=podman.socket network-online.target\n\
         StartLimitIntervalSec=60\n\
         StartLimitBurst=5\n\
         \n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=main\n\
         {environment}\
         ExecStart={exec_start}\n\
         KillMode=mixed\n\
         Restart=on-failure\n\
         RestartSec={RESTART_DELAY_SECS}\n\
         TimeoutStartSec={START_TIMEOUT_SECS}\n\
         TimeoutStopSec={STOP_TIMEOUT_SECS}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        flag = context
            .scope
            .systemctl_flag()
            .map(|flag| format!(" {flag}"))
            .unwrap_or_default(),
    )
}

/// `horizon-update.service`: one unattended run (`horizon-update --all --unattended`: the
/// pre-update checks, then the update unless one of them says to skip it).
pub fn update_service(context: &UnitContext<'_>) -> String {
    let environment = context.environment_lines();
    let exec_start = context.command(&["--all", "--unattended"]);
    format!(
        "# Written by horizon-update {version}: the unattended update, started by {UPDATE_TIMER}.\n\
         [Unit]\n\
         Description=HorizonOS unattended update\n\
         Wants=network-online.target\n\
         After=network-online.target podman.socket\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         {environment}\
         ExecStart={exec_start}\n\
         Nice=10\n\
         IOSchedulingClass=idle\n",
        version = crate::VERSION,
    )
}

/// `horizon-update.timer`: daily, spread by a random delay, and caught up after a power-off.
pub fn update_timer() -> String {
    format!(
        "# Written by horizon-update {version}: runs {UPDATE_SERVICE} daily.\n\
         [Unit]\n\
         Description=Daily HorizonOS unattended update\n\
         \n\
         [Timer]\n\
         OnCalendar={UPDATE_CALENDAR}\n\
         RandomizedDelaySec={UPDATE_RANDOMIZED_DELAY}\n\
         Persistent=true\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n",
        version = crate::VERSION,
    )
}
