//! The command line of `horizon-container`, declared with clap. Help texts teach: each command says
//! what it does, and the long help gives an example.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use horizon_cli_support::exec::ExecArgs;
pub use horizon_cli_support::session::GlobalArgs;

/// Manage HorizonOS system containers: install them from definitions, run commands in them, export
/// their binaries to the host, update and roll them back.
#[derive(Debug, Parser)]
#[command(name = "horizon-container", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the Podman service horizon uses and the containers it manages.
    ///
    /// Example: horizon-container info --url unix:///run/podman/podman.sock
    Info,
    /// List every known container definition: built-in, system and user.
    ///
    /// Shows each definition's name, purpose, layer (the highest layer that defines or customises
    /// it: built-in, system or user) and image, then every definition file that was refused, with
    /// its errors. Needs no Podman.
    ///
    /// Example: horizon-container list --user-dir ./my-definitions
    List,
    /// Show, validate and describe container definitions.
    #[command(subcommand)]
    Definition(DefinitionCommand),
    /// Check that this machine can run horizon's containers, and say how to fix what is missing.
    ///
    /// Checks, as the spec's troubleshooting section does: Podman installed (4 or later), its API
    /// service answering, for a normal user the rootless prerequisites (entries in /etc/subuid and
    /// /etc/subgid, newuidmap and newgidmap, user namespaces enabled), the storage driver (vfs is
    /// slow and large), the export directory on PATH, and the static in-container agent (without it
    /// exported binaries take the slow API path). Each check is passed, warning or failed, with the
    /// fix. Starts nothing. Exit status 0 when no check failed, 1 otherwise.
    ///
    /// Example: horizon-container doctor --json
    Doctor,
    #[command(flatten)]
    Docs(horizon_cli_support::docs::DocsCommand),
    /// Install a container from its definition and start it.
    ///
    /// Pulls the definition's image, builds its generation image (the definition's packages
    /// installed with the image's package manager), creates the container horizonos-NAME with the
    /// definition's mounts, environment and security settings, checks that Podman applied exactly
    /// those, starts it and records the install. A failed install leaves nothing behind and
    /// names the step that failed. Installing what is installed changes nothing; --reinstall
    /// rebuilds it as an update does, even when nothing changed: the next generation is built
    /// and verified beside the running container, swapped in, and the current one kept for
    /// `horizon-container rollback`.
    ///
    /// Example: horizon-container install development
    ///
    /// Example: horizon-container install development --reinstall
    Install {
        /// The container's definition name (see `horizon-container list`).
        name: String,
        /// Rebuild it even when it is installed and up to date: a container made afresh from
        /// the definition (with the in-container agent it was made without, say).
        #[arg(long)]
        reinstall: bool,
        /// How many previous generations a reinstall keeps for rollback; older ones are
        /// removed (as `update --keep`; a first install keeps nothing yet).
        #[arg(
            long,
            value_name = "N",
            env = "HORIZON_KEEP_GENERATIONS",
            default_value_t = horizon_core::update::DEFAULT_KEEP_PREVIOUS
        )]
        keep: usize,
    },
    /// Check for updates, or update containers: the next generation is built and verified beside
    /// the running container, then swapped in.
    ///
    /// An update resolves the image's digest at its registry, builds the next generation (pull
    /// by digest, the definition's packages, commit), creates its container beside the running
    /// one and verifies it (it starts, the definition's verify commands pass, every exported
    /// binary is found). Only then is the running container stopped, kept under the name
    /// horizonos-NAME-GENERATION for rollback, and replaced. If anything fails before that, the
    /// running container is untouched and the exit status is 7. Already up to date: nothing
    /// happens. Exit status 5: another horizon-container is changing it (see --wait); 130:
    /// interrupted, and undone. See docs/updates.md.
    ///
    /// Example: horizon-container update --check --json
    ///
    /// Example: horizon-container update development
    ///
    /// Example: horizon-container update --all --keep 3
    Update(UpdateArgs),
    /// Return a container to its previous generation, without any network.
    ///
    /// The newest kept generation older than the running one runs again (a second rollback goes
    /// further back); the generation it replaces is kept, so `--to` can return to it. Exit
    /// status 6 when there is nothing to roll back to.
    ///
    /// Example: horizon-container rollback development
    Rollback {
        /// The container's definition name.
        name: String,
        /// Return to this kept generation instead (older or newer).
        #[arg(long, value_name = "GENERATION")]
        to: Option<u64>,
        /// When another horizon-container is changing the container, wait for it.
        #[arg(long)]
        wait: bool,
    },
    /// Show one container: state, image and digest, generation, times, exports, mounts,
    /// security and whether its definition changed since install.
    ///
    /// Example: horizon-container status development --json
    Status {
        /// The container's definition name.
        name: String,
    },
    /// Start an installed container (a non-persistent one is recreated fresh first).
    ///
    /// Example: horizon-container start development
    Start {
        /// The container's definition name.
        name: String,
        /// Stay until the container ends, and stop it on SIGTERM: what `container@.service` runs
        /// (it tells systemd once the container runs). Exit status 0 when stopped so, 1 when the
        /// container ended by itself or was stopped or killed behind it.
        #[arg(long)]
        wait: bool,
    },
    /// Stop an installed container (a non-persistent one loses its changes at the next start).
    ///
    /// Example: horizon-container stop development
    Stop {
        /// The container's definition name.
        name: String,
    },
    /// Start an installed container at boot (or at login, for a user container) through
    /// systemd: installs the template unit container@.service (user units for your containers,
    /// system units for root's) and enables container@NAME.service. Afterwards `systemctl [--user]
    /// enable|start|stop|status container@NAME.service` work directly.
    ///
    /// Example: horizon-container enable development --now
    Enable {
        /// The container's definition name.
        name: String,
        /// Start it now too (returns once the container runs).
        #[arg(long)]
        now: bool,
    },
    /// Stop starting a container at boot: disables container@NAME.service.
    ///
    /// Example: horizon-container disable development --now
    Disable {
        /// The container's definition name.
        name: String,
        /// Stop it now too.
        #[arg(long)]
        now: bool,
    },
    /// Print a unit equivalent to an installed container, for Podman's own tooling: a systemd
    /// service running `podman run`, or a Quadlet file, with the container's generation image,
    /// mounts, devices, environment, network and security (as a container of its own,
    /// NAME-unit, that horizon does not manage).
    ///
    /// Example: horizon-container generate quadlet development > ~/.config/containers/systemd/horizon-development.container
    Generate {
        /// What to print.
        #[arg(value_enum)]
        kind: GenerateKind,
        /// The container's definition name.
        name: String,
    },
    /// Remove an installed container, its generation images and its install record.
    ///
    /// The definition file stays: `install` makes the container again.
    ///
    /// Example: horizon-container remove development --keep-images
    Remove {
        /// The container's definition name.
        name: String,
        /// Keep its generation images (a later install still builds a new one).
        #[arg(long)]
        keep_images: bool,
    },
    /// Rebuild a container's state files that cannot be read.
    ///
    /// An install record, update journal or kept generation's record that is truncated, garbage
    /// or of another version stops only this container's commands (`doctor` lists them). Repair
    /// rebuilds the install record from the generation history (or, without a copy there, from
    /// the container's labels and the definition), the kept generations' records from their
    /// containers, and lets the container run as it is when its journal cannot be read; each
    /// unreadable file is kept beside it as FILE.unreadable. `remove` works without any of them.
    ///
    /// Example: horizon-container repair development
    Repair {
        /// The container's definition name.
        name: String,
    },
    /// Remove what is no longer needed: stopped containers of horizon's whose definition is
    /// gone, generation images no container uses, and dangling images (`podman image prune`).
    ///
    /// Containers horizon does not manage are never touched.
    ///
    /// Example: horizon-container cleanup --dry-run
    Cleanup {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export a container's binary to the host: a command of that name in the export directory.
    ///
    /// Writes a small wrapper script that runs BINARY in the container, as `run` does (arguments,
    /// streams, terminal, working directory, signals and exit status pass through; a stopped
    /// container is started). Without --from, the container is the one whose definition lists
    /// BINARY in export_binaries, else the running container that has it (several → an error
    /// listing them). A name that is taken — a file horizon did not write, another container's
    /// export, or a host command in PATH it would shadow — is refused (exit status 4) naming the
    /// owner; --force overrides, moving a file that is not horizon's to NAME.horizon-backup
    /// (`unexport` puts it back). --repair rewrites every wrapper (after upgrading horizon).
    /// Exit status: 0 done, 1 failed, 2 invalid input (a bad name, an ambiguous binary),
    /// 3 no Podman, 4 refused (name taken).
    ///
    /// Example: horizon-container export git --from development
    Export(ExportArgs),
    /// Remove an exported binary's wrapper (and put back the file `export --force` moved aside).
    ///
    /// A wrapper changed since horizon wrote it is left in place (it is no longer horizon's);
    /// only the record goes. Exit status 1 when nothing of that name is exported.
    ///
    /// Example: horizon-container unexport git
    Unexport {
        /// The exported command's name.
        name: String,
    },
    /// List the exported binaries: name, container, binary, state and path.
    ///
    /// States: ok; stale (written by another horizon version: `export --repair`); orphaned (its
    /// container is not installed: `cleanup` removes it); missing (the file is gone: `export
    /// --repair`); modified (changed by someone since: horizon leaves it alone).
    ///
    /// Example: horizon-container exports --json
    Exports,
    /// Run a command in a container, as if it ran here.
    ///
    /// The arguments reach the command exactly (no shell in between, any bytes); stdin, stdout
    /// and stderr stay separate and binary-safe; a terminal is allocated only when stdin and
    /// stdout are both terminals; Ctrl-C and SIGTERM/SIGHUP/SIGQUIT reach the command. It runs
    /// in the current directory when the container shares it (a mount such as the home), else
    /// in the home inside, with a note. A stopped container is started first. The exit status
    /// is the command's (126 not executable, 127 not found); 125 means horizon or Podman failed.
    /// Through the container's agent when it has one (a few milliseconds), else the libpod API;
    /// HORIZON_EXEC_PATH=api or =agent forces one. Options (-e, -w, -t, -T, --user) go before NAME.
    ///
    /// Example: horizon-container run -e RUST_LOG=debug development cargo test
    #[command(override_usage = "horizon-container run [OPTIONS] NAME [--] COMMAND [ARGS]...")]
    Run(RunArgs),
    /// Open an interactive login shell in a container.
    ///
    /// The container user's login shell (from its /etc/passwd, else bash, else sh), with a real
    /// terminal: raw mode, window-size changes, job control. Through the container's agent when it
    /// has one (a terminal made in the container, a start in milliseconds), else through the API;
    /// HORIZON_EXEC_PATH=api forces the API. Exit status as for `run`.
    ///
    /// Example: horizon-container shell development
    Shell(ShellArgs),
    /// Show a container's output (its main process's stdout and stderr).
    ///
    /// Example: horizon-container logs development --follow --tail 20
    Logs {
        /// The container (its definition's name).
        name: String,
        /// Keep printing new output until the container stops.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
    },
}

/// `export`'s arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The binary to export (its name in the container's PATH).
    #[arg(required_unless_present = "repair", value_name = "BINARY")]
    pub binary: Option<String>,
    /// The container (definition name) to export it from.
    #[arg(long, value_name = "NAME", conflicts_with = "repair")]
    pub from: Option<String>,
    /// The command's name on the host, when not BINARY.
    #[arg(long = "as", value_name = "ALIAS", conflicts_with = "repair")]
    pub alias: Option<String>,
    /// Override a collision: replace another container's export, shadow a host command, or move
    /// a file that is not horizon's aside (to NAME.horizon-backup).
    #[arg(long)]
    pub force: bool,
    /// Rewrite every exported wrapper as this horizon writes it, recreating missing ones.
    #[arg(long, conflicts_with = "binary")]
    pub repair: bool,
}

/// `update`'s arguments.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The containers (definition names); with --check, none means every installed one.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Only check: ask each image's registry for its current digest (no layer is downloaded)
    /// and compare it, and the definition, with what is installed. Exit status 0: no update;
    /// 100: at least one update available; 1: a check failed.
    #[arg(long)]
    pub check: bool,
    /// Update every installed container.
    #[arg(long, conflicts_with = "names")]
    pub all: bool,
    /// When another horizon-container is changing the container, wait for it instead of failing
    /// with exit status 5.
    #[arg(long)]
    pub wait: bool,
    /// How many previous generations to keep for rollback; older ones are removed.
    #[arg(
        long,
        value_name = "N",
        env = "HORIZON_KEEP_GENERATIONS",
        default_value_t = horizon_core::update::DEFAULT_KEEP_PREVIOUS
    )]
    pub keep: usize,
    /// Give up on a registry that does not answer within this many seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "HORIZON_REGISTRY_TIMEOUT",
        default_value_t = 30
    )]
    pub registry_timeout: u64,
}

/// `run`'s arguments. NAME and the command are optional to clap so that a missing one is
/// reported by `run` itself with exit status 125, never clap's 2, which could be the command's
/// own status.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// Called by an exported binary's client (`horizon-exec`): a container that is not installed
    /// exits 127 ("command not found"), naming the command that installs it.
    #[arg(long, hide = true)]
    pub exported: bool,
    /// The container (its definition's name), then the command and its arguments, passed on
    /// exactly: every word after NAME is the command's, options included (`--` before the
    /// command is optional).
    #[arg(
        value_name = "NAME COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub words: Vec<OsString>,
}

impl RunArgs {
    /// The container's name, the first word.
    pub fn name(&self) -> Option<OsString> {
        self.words.first().cloned()
    }

    /// The command: the words after NAME, without a `--` before them.
    pub fn command(&self) -> Vec<OsString> {
        let rest = self.words.get(1..).unwrap_or_default();
        match rest.split_first() {
            Some((first, command)) if first == "--" => command.to_vec(),
            _ => rest.to_vec(),
        }
    }
}

/// `shell`'s arguments.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub exec: ExecArgs,
    /// The container (its definition's name).
    #[arg(value_name = "NAME")]
    pub name: Option<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum DefinitionCommand {
    /// Show the merged definition of one container.
    ///
    /// The definition after merging the built-in, system and user layers. With --explain, each
    /// field shows the layer its value came from ("default" when no layer set it), and the files
    /// that contributed are listed.
    ///
    /// Example: horizon-container definition show development --explain
    Show {
        /// The container's name.
        name: String,
        /// Show the layer each field came from.
        #[arg(long)]
        explain: bool,
    },
    /// Check definition files; exit status 0 when all are valid, 2 otherwise.
    ///
    /// Each file is checked as a file of the layer it would live in: its syntax, every field, and,
    /// for the user layer, that it asks for no more privilege than the layers below grant. The
    /// layer is the system layer for files in the system directory and the user layer otherwise,
    /// unless --layer says. Errors go to stderr as FILE:LINE:COLUMN: FIELD: PROBLEM.
    ///
    /// Example: horizon-container definition validate ~/.config/horizonos/containers/*.json
    Validate {
        /// The files to check (each named NAME.json).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check the files as files of this layer.
        #[arg(long, value_enum)]
        layer: Option<LayerArg>,
    },
    /// Print the JSON Schema of definition files (for editors and other tools).
    ///
    /// Example: horizon-container definition schema > horizon-definition.schema.json
    Schema,
}

/// A layer a file can be checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LayerArg {
    /// The system directory's rules.
    System,
    /// The user directory's rules (no privilege beyond the lower layers).
    User,
}

/// `generate`'s kinds of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateKind {
    /// A systemd service running `podman run` (install it as horizon-NAME.service).
    Systemd,
    /// A Quadlet file, Podman 4.4 and later (install it as horizon-NAME.container in
    /// ~/.config/containers/systemd or /etc/containers/systemd).
    Quadlet,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `run`'s words as parsed from `args`.
    fn run_words(args: &[&str]) -> (Option<OsString>, Vec<OsString>, ExecArgs) {
        let cli = Cli::try_parse_from(["horizon-container", "run"].iter().chain(args)).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        (run.name(), run.command(), run.exec)
    }

    #[test]
    fn options_go_before_the_name_and_every_word_after_it_is_the_commands() {
        let os = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        let (name, command, exec) =
            run_words(&["-e", "A=1", "-T", "dev", "env", "-e", "--version"]);
        assert_eq!(name, Some(OsString::from("dev")));
        assert_eq!(command, os(&["env", "-e", "--version"]));
        assert_eq!((exec.env, exec.no_tty), (os(&["A=1"]), true));
        // Words after NAME that look like horizon's options are the command's.
        let (_, command, exec) = run_words(&["dev", "--version"]);
        assert_eq!((command, exec.env), (os(&["--version"]), Vec::new()));
        let (_, command, _) = run_words(&["dev", "-w", "/x"]);
        assert_eq!(command, os(&["-w", "/x"]));
        // `--` before the command is dropped, once.
        let (_, command, _) = run_words(&["dev", "--", "--", "x"]);
        assert_eq!(command, os(&["--", "x"]));
        let (name, command, _) = run_words(&[]);
        assert_eq!((name, command), (None, Vec::new()));
    }
}
