//! The command line of `horizon-update`, declared with clap, and its validation into one
//! [`Action`] before anything runs (clap cannot say "`--containers` is an action of its own, or
//! the side of `--rollback`", so [`Action::from_flags`] does, as a pure function).

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use horizon_cli_support::docs::DocsCommand;

/// Examples shown at the end of `--help`.
const EXAMPLES: &str = "\
Examples:
  horizon-update --check                 what would change (exit status 100: updates available)
  horizon-update --all                   stage the base update, update containers and apps
  horizon-update --containers            update every installed container
  horizon-update --rollback              previous base deployment and container generations
  horizon-update --rollback --base       only the base deployment
  horizon-update --history --json        the recorded system generations
  horizon-update --enable-timer          update unattended every day (horizon-update.timer)
  horizon-update --all --unattended      what the timer runs: the pre-update checks, then --all

Exit status: 0 done (--check: everything up to date); 1 a layer or the operation failed (the
report shows each layer); 2 invalid arguments; 5 another horizon-update is running;
6 nothing to roll back to; 100 --check found updates; 130 interrupted (Ctrl-C: what a container update left half done was
reverted or completed first).";

/// Update HorizonOS: the immutable base system (OSTree), the system containers and the user
/// applications (Flatpak, snaps), recorded together as system generations so that one rollback
/// restores the base deployment and the containers as they were.
///
/// The running system is never modified: a base update is staged for the next boot. Every layer
/// is independent: one that is missing on this machine is skipped, one that fails does not stop
/// the others.
#[derive(Debug, Parser)]
#[command(
    name = "horizon-update",
    version,
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub flags: ActionFlags,
    #[command(flatten)]
    pub options: Options,
    #[command(subcommand)]
    pub docs: Option<DocsCommand>,
}

/// The action flags (exactly one action; see [`Action::from_flags`]).
#[derive(Debug, Default, Args)]
pub struct ActionFlags {
    /// Check every layer for updates without changing anything: the base (a new commit on its
    /// origin, found without deploying), and the applications.
    #[arg(long)]
    pub check: bool,
    /// Update everything: stage the base update for the next boot, then the containers, then the
    /// Flatpak apps and snaps; record the result as a new system generation.
    #[arg(long)]
    pub all: bool,
    /// Update every installed container (each independently). With --rollback: roll back only the
    /// containers.
    #[arg(long)]
    pub containers: bool,
    /// Restore the previous system generation: its base deployment becomes the default for the
    /// next boot, and the containers return to the generations recorded with it.
    #[arg(long)]
    pub rollback: bool,
    /// With --rollback: roll back only the base deployment.
    #[arg(long, requires = "rollback")]
    pub base: bool,
    /// List the recorded system generations (`*` marks the one in effect).
    #[arg(long)]
    pub history: bool,
    /// Install and enable horizon-update.service and horizon-update.timer: `--all --unattended`
    /// daily (a random delay of up to an hour; a run missed while powered off runs at boot).
    /// System units for root, user units otherwise.
    #[arg(long)]
    pub enable_timer: bool,
}

/// Options of every action.
#[derive(Debug, Args)]
pub struct Options {
    /// Print machine-readable JSON (with a "schema_version") instead of text.
    #[arg(long)]
    pub json: bool,
    /// With --all or --containers: run the pre-update checks first (battery, metered
    /// connection, load, your check script; configured in /etc/horizonos/update.json, or
    /// ~/.config/horizonos/update.json for a user; HORIZON_UPDATE_CONFIG overrides) and skip the
    /// update, saying why, when one of them says so. A skip exits 0.
    #[arg(long)]
    pub unattended: bool,
    /// The OSTree sysroot to manage (default: the running system's). Implies the ostree backend.
    #[arg(long, value_name = "DIR", env = "HORIZON_SYSROOT")]
    pub sysroot: Option<PathBuf>,
    /// The OS name (stateroot) in the sysroot (default: the booted one's).
    #[arg(long, value_name = "NAME", env = "HORIZON_OS")]
    pub os: Option<String>,
    /// The base-system tool: detected by default (rpm-ostree, then bootc, then ostree on a booted
    /// OSTree system).
    #[arg(
        long,
        value_name = "TOOL",
        env = "HORIZON_BASE_BACKEND",
        default_value = "auto"
    )]
    pub backend: BackendChoice,
    /// Directory of horizon's state: install records, system generations (default
    /// $XDG_STATE_HOME/horizonos, else ~/.local/state/horizonos; /var/lib/horizonos for root).
    #[arg(long, value_name = "DIR", env = "HORIZON_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Podman API endpoint for the containers: unix:///path/podman.sock, tcp://HOST:PORT or
    /// http://HOST:PORT. Default: CONTAINER_HOST, then the rootless socket, then
    /// /run/podman/podman.sock.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Directory of system container definitions (default /etc/containers/system).
    #[arg(long, value_name = "DIR", env = "HORIZON_SYSTEM_DIR")]
    pub system_dir: Option<PathBuf>,
    /// Directory of your own container definitions (default
    /// $XDG_CONFIG_HOME/horizonos/containers, else ~/.config/horizonos/containers).
    #[arg(long, value_name = "DIR", env = "HORIZON_USER_DIR")]
    pub user_dir: Option<PathBuf>,
}

/// `--backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    Auto,
    Ostree,
    RpmOstree,
    Bootc,
}

/// What to do, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Check,
    All,
    Containers,
    Rollback(horizon_core::system_update::RollbackScope),
    History,
    EnableTimer,
}

impl Action {
    /// The one action the flags ask for, or what is wrong with them.
    pub fn from_flags(flags: &ActionFlags) -> Result<Action, String> {
        use horizon_core::system_update::RollbackScope;
        let named: Vec<&str> = [
            (flags.check, "--check"),
            (flags.all, "--all"),
            (flags.containers && !flags.rollback, "--containers"),
            (flags.rollback, "--rollback"),
            (flags.history, "--history"),
            (flags.enable_timer, "--enable-timer"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        match named.as_slice() {
            [] => Err(
                "say what to do: --check, --all, --containers, --rollback, --history or --enable-timer"
                    .to_owned(),
            ),
            [_, _, ..] => Err(format!(
                "{} cannot be used together: choose one",
                named.join(" and ")
            )),
            ["--check"] => Ok(Action::Check),
            ["--all"] => Ok(Action::All),
            ["--containers"] => Ok(Action::Containers),
            ["--history"] => Ok(Action::History),
            ["--enable-timer"] => Ok(Action::EnableTimer),
            _ => match (flags.base, flags.containers) {
                (true, true) => Err(
                    "--rollback --base --containers is --rollback: leave both out to roll back both"
                        .to_owned(),
                ),
                (true, false) => Ok(Action::Rollback(RollbackScope::Base)),
                (false, true) => Ok(Action::Rollback(RollbackScope::Containers)),
                (false, false) => Ok(Action::Rollback(RollbackScope::Both)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use horizon_core::system_update::RollbackScope;

    use super::*;

    fn flags(list: &[&str]) -> ActionFlags {
        ActionFlags {
            check: list.contains(&"check"),
            all: list.contains(&"all"),
            containers: list.contains(&"containers"),
            rollback: list.contains(&"rollback"),
            base: list.contains(&"base"),
            history: list.contains(&"history"),
            enable_timer: list.contains(&"enable-timer"),
        }
    }

    #[test]
    fn flags_become_one_action_or_a_message() {
        let cases: Vec<(&[&str], Result<Action, &str>)> = vec![
            (&["check"], Ok(Action::Check)),
            (&["all"], Ok(Action::All)),
            (&["containers"], Ok(Action::Containers)),
            (&["history"], Ok(Action::History)),
            (&["enable-timer"], Ok(Action::EnableTimer)),
            (&["rollback"], Ok(Action::Rollback(RollbackScope::Both))),
            (
                &["rollback", "base"],
                Ok(Action::Rollback(RollbackScope::Base)),
            ),
            (
                &["rollback", "containers"],
                Ok(Action::Rollback(RollbackScope::Containers)),
            ),
            (
                &[],
                Err(
                    "say what to do: --check, --all, --containers, --rollback, --history or --enable-timer",
                ),
            ),
            (
                &["check", "all"],
                Err("--check and --all cannot be used together: choose one"),
            ),
            (
                &["all", "containers"],
                Err("--all and --containers cannot be used together: choose one"),
            ),
            (
                &["rollback", "base", "containers"],
                Err(
                    "--rollback --base --containers is --rollback: leave both out to roll back both",
                ),
            ),
        ];
        for (list, expected) in cases {
            assert_eq!(
                Action::from_flags(&flags(list)),
                expected.map_err(str::to_owned),
                "{list:?}"
            );
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }
}
