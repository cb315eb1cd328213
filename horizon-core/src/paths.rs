//! Where horizon keeps its own files on the host: state (install records, the export ledger, update
//! journals), the export directories wrappers are written to, the runtime directory, the systemd
//! unit directory and the unattended update's checks. Computed from environment values the caller
//! passes in, so tests use temporary directories.

use std::ffi::OsString;
use std::path::PathBuf;

/// State of root's (system) containers.
pub(crate) const SYSTEM_STATE_DIR: &str = "/var/lib/horizonos";
/// Where root exports binaries for everyone.
pub(crate) const SYSTEM_EXPORT_DIR: &str = "/usr/local/bin";
/// Runtime files of root's containers.
pub(crate) const SYSTEM_RUNTIME_DIR: &str = "/run/horizonos";
/// The system manager's directory for units an administrator installs.
pub(crate) const SYSTEM_UNIT_DIR: &str = "/etc/systemd/system";
/// The unattended update's checks for the system.
pub(crate) const SYSTEM_UPDATE_CONFIG: &str = "/etc/horizonos/update.json";

/// horizon's directories for one user (or for the system, when that user is root).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HorizonPaths {
    /// Persistent state: `$XDG_STATE_HOME/horizonos`, `~/.local/state/horizonos`, or
    /// `/var/lib/horizonos` for root.
    pub state_dir: PathBuf,
    /// Where exported wrappers go: `$XDG_BIN_HOME`, `~/.local/bin`, or `/usr/local/bin` for
    /// root.
    pub export_dir: PathBuf,
    /// Sockets and other files that die with the session: `$XDG_RUNTIME_DIR/horizonos`, or
    /// `/run/horizonos` for root.
    pub runtime_dir: PathBuf,
    /// Where systemd units are installed: `$XDG_CONFIG_HOME/systemd/user`,
    /// `~/.config/systemd/user`, or `/etc/systemd/system` for root.
    pub unit_dir: PathBuf,
    /// The unattended update's checks: `$XDG_CONFIG_HOME/horizonos/update.json`,
    /// `~/.config/horizonos/update.json`, or `/etc/horizonos/update.json` for root.
    pub update_config: PathBuf,
}

/// The environment values [`HorizonPaths`] depends on (the binary reads them; tests invent them).
#[derive(Clone, Debug, Default)]
pub struct PathInputs {
    /// The effective uid.
    pub uid: u32,
    /// `$HOME`.
    pub home: Option<OsString>,
    /// `$XDG_STATE_HOME`.
    pub xdg_state_home: Option<OsString>,
    /// `$XDG_BIN_HOME`.
    pub xdg_bin_home: Option<OsString>,
    /// `$XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<OsString>,
    /// `$XDG_CONFIG_HOME`.
    pub xdg_config_home: Option<OsString>,
}

impl PathInputs {
    /// Reads the process environment (for binaries).
    pub fn from_process() -> Self {
        PathInputs {
            uid: crate::endpoint::current_uid(),
            home: std::env::var_os("HOME"),
            xdg_state_home: std::env::var_os("XDG_STATE_HOME"),
            xdg_bin_home: std::env::var_os("XDG_BIN_HOME"),
            xdg_runtime_dir: std::env::var_os("XDG_RUNTIME_DIR"),
            xdg_config_home: std::env::var_os("XDG_CONFIG_HOME"),
        }
    }
}

/// An absolute path from an environment value; empty or relative values are ignored, as the XDG
/// Base Directory specification says.
fn absolute(value: &Option<OsString>) -> Option<PathBuf> {
    value
        .as_ref()
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
}

impl HorizonPaths {
    /// The standard locations for `inputs`.
    pub fn from_inputs(inputs: &PathInputs) -> Self {
        if inputs.uid == 0 {
            return HorizonPaths {
                state_dir: PathBuf::from(SYSTEM_STATE_DIR),
                export_dir: PathBuf::from(SYSTEM_EXPORT_DIR),
                runtime_dir: PathBuf::from(SYSTEM_RUNTIME_DIR),
                unit_dir: PathBuf::from(SYSTEM_UNIT_DIR),
                update_config: PathBuf::from(SYSTEM_UPDATE_CONFIG),
            };
        }
        let home = absolute(&inputs.home).unwrap_or_else(|| PathBuf::from("/"));
        let config = absolute(&inputs.xdg_config_home).unwrap_or_else(|| home.join(".config"));
        HorizonPaths {
            unit_dir: config.join("systemd/user"),
            update_config: config.join("horizonos/update.json"),
            state_dir: absolute(&inputs.xdg_state_home)
                .unwrap_or_else(|| home.join(".local/state"))
                .join("horizonos"),
            export_dir: absolute(&inputs.xdg_bin_home).unwrap_or_else(|| home.join(".local/bin")),
            runtime_dir: absolute(&inputs.xdg_runtime_dir)
                .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", inputs.uid)))
                .join("horizonos"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_paths_follow_xdg_with_fallbacks() {
        let inputs = PathInputs {
            uid: 1000,
            home: Some("/home/u".into()),
            ..Default::default()
        };
        assert_eq!(
            HorizonPaths::from_inputs(&inputs),
            HorizonPaths {
                state_dir: "/home/u/.local/state/horizonos".into(),
                export_dir: "/home/u/.local/bin".into(),
                runtime_dir: "/run/user/1000/horizonos".into(),
                unit_dir: "/home/u/.config/systemd/user".into(),
                update_config: "/home/u/.config/horizonos/update.json".into(),
            }
        );
        let inputs = PathInputs {
            xdg_state_home: Some("/s".into()),
            xdg_bin_home: Some("/b".into()),
            xdg_runtime_dir: Some("/r".into()),
            xdg_config_home: Some("/c".into()),
            ..inputs
        };
        let paths = HorizonPaths::from_inputs(&inputs);
        assert_eq!(paths.unit_dir, PathBuf::from("/c/systemd/user"));
        assert_eq!(
            (
                paths.state_dir.to_str(),
                paths.export_dir.to_str(),
                paths.runtime_dir.to_str()
            ),
            (Some("/s/horizonos"), Some("/b"), Some("/r/horizonos"))
        );
        let relative = PathInputs {
            xdg_bin_home: Some("bin".into()),
            ..inputs
        };
        assert_eq!(
            HorizonPaths::from_inputs(&relative).export_dir,
            PathBuf::from("/home/u/.local/bin")
        );
    }

    #[test]
    fn root_uses_system_paths() {
        let inputs = PathInputs {
            uid: 0,
            home: Some("/root".into()),
            ..Default::default()
        };
        let paths = HorizonPaths::from_inputs(&inputs);
        assert_eq!(paths.state_dir, PathBuf::from(SYSTEM_STATE_DIR));
        assert_eq!(paths.export_dir, PathBuf::from(SYSTEM_EXPORT_DIR));
        assert_eq!(paths.unit_dir, PathBuf::from(SYSTEM_UNIT_DIR));
        assert_eq!(paths.update_config, PathBuf::from(SYSTEM_UPDATE_CONFIG));
    }
}
