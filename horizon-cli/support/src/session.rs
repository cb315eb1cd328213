//! The options every `horizon-container` and `horizon-dev` command accepts (the Podman endpoint,
//! horizon's directories, `--json`) and the [`Session`] a command runs in: one [`Horizon`] with
//! this process's settings and those options applied, and the observer that shows its calls'
//! progress and notices on stderr.

use std::path::PathBuf;

use clap::Args;
use horizon_core::usecase::Overrides;
use horizon_core::{Call, Cancel, Horizon, Settings};

use crate::exit::Failure;
use crate::notices::{ProgressLayout, StderrObserver};

/// Options every command of `horizon-container` and `horizon-dev` accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Podman API endpoint: unix:///path/podman.sock, tcp://HOST:PORT or http://HOST:PORT.
    /// Default: CONTAINER_HOST, then the rootless socket, then /run/podman/podman.sock.
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,
    /// Print machine-readable JSON (with a "schema_version") instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Directory of system container definitions (default /etc/containers/system).
    #[arg(long, global = true, value_name = "DIR", env = "HORIZON_SYSTEM_DIR")]
    pub system_dir: Option<PathBuf>,
    /// Directory of your own container definitions (default
    /// $XDG_CONFIG_HOME/horizonos/containers, else ~/.config/horizonos/containers).
    #[arg(long, global = true, value_name = "DIR", env = "HORIZON_USER_DIR")]
    pub user_dir: Option<PathBuf>,
    /// The uid that must own system definition files (default 0, root). For building an OS tree
    /// or testing as an ordinary user; never needed on a running system.
    #[arg(long, global = true, value_name = "UID", hide = true)]
    pub system_owner: Option<u32>,
    /// Directory of horizon's state: install records, the export ledger (default
    /// $XDG_STATE_HOME/horizonos, else ~/.local/state/horizonos; /var/lib/horizonos for root).
    #[arg(long, global = true, value_name = "DIR", env = "HORIZON_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Directory exported binaries are written to (default $XDG_BIN_HOME, else ~/.local/bin;
    /// /usr/local/bin for root).
    #[arg(long, global = true, value_name = "DIR", env = "HORIZON_EXPORT_DIR")]
    pub export_dir: Option<PathBuf>,
    /// Directory of runtime files: the agents' sockets (default $XDG_RUNTIME_DIR/horizonos;
    /// /run/horizonos for root).
    #[arg(long, global = true, value_name = "DIR", env = "HORIZON_RUNTIME_DIR")]
    pub runtime_dir: Option<PathBuf>,
}

/// One command's horizon: the settings of this process with the global options applied, how to
/// render, and the observer of its calls.
pub struct Session {
    /// The library, with this process's settings.
    pub horizon: Horizon,
    /// `--json`.
    pub json: bool,
    /// Shows the calls' progress and notices on stderr.
    pub observer: StderrObserver,
    never: Cancel,
}

impl Session {
    /// The session of these global options, for `binary` (named on its stderr lines).
    pub fn new(binary: &'static str, global: &GlobalArgs) -> Self {
        Session {
            horizon: Horizon::new(settings(global)),
            json: global.json,
            observer: StderrObserver::new(binary, ProgressLayout::PerContainer),
            never: Cancel::never(),
        }
    }

    /// A call that is not cancelled (readers, and commands whose signals go elsewhere).
    pub fn call(&self) -> Call<'_> {
        Call::new(&self.never, &self.observer)
    }

    /// A call with `cancel`.
    pub fn call_with<'a>(&'a self, cancel: &'a Cancel) -> Call<'a> {
        Call::new(cancel, &self.observer)
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

/// This process's settings with the global options applied.
pub fn settings(global: &GlobalArgs) -> Settings {
    Settings::from_process(Overrides {
        url: global.url.clone(),
        system_dir: global.system_dir.clone(),
        user_dir: global.user_dir.clone(),
        system_owner: global.system_owner,
        state_dir: global.state_dir.clone(),
        export_dir: global.export_dir.clone(),
        runtime_dir: global.runtime_dir.clone(),
    })
}

/// Ctrl-C and SIGTERM cancel the call that gets this input.
pub fn cancel_on_signals() -> Result<Cancel, Failure> {
    Ok(crate::interrupt::cancel_on_signals()?)
}
