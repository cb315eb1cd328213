//! horizon and systemd: the template unit `container@.service` that runs managed containers as
//! services (`enable`, `disable`, `autostart`), the units and Quadlet files `generate` prints
//! for Podman's own tooling, the unattended update's service and timer with their pre-update
//! checks, and the notification protocol `start --wait` speaks. Unit text is rendered by pure
//! functions ([`escape`] makes every value mean itself); installing it (atomic writes under the
//! unit directory, `systemctl` through [`crate::host_command`]) is the use cases' job.

pub mod checks;
pub mod escape;
pub mod generate;
mod notify;
pub mod units;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use checks::{CheckName, CheckVerdict, ConfigError, UpdateChecks};
pub use generate::{GeneratedUnit, UnitKind};
pub use notify::notify;
pub use units::{CONTAINER_TEMPLATE, UnitScope, container_unit};

/// Installing or generating a unit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SystemdError {
    /// No service manager of this scope runs here.
    #[error("{}", match .scope {
        UnitScope::System => "no systemd service manager runs here (systemd is not PID 1)",
        UnitScope::User => "your systemd user manager does not answer (no $XDG_RUNTIME_DIR/systemd/private: is systemd PID 1, and are you logged in or lingering?)",
    })]
    NoManager {
        /// The scope asked for.
        scope: UnitScope,
    },
    /// A unit file could not be written.
    #[error("could not write {}: {source}", .path.display())]
    Write {
        /// The file or directory that failed.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `systemctl` failed (or is missing: no service manager to ask).
    #[error(transparent)]
    Systemctl(#[from] crate::host_command::HostCommandError),
    /// A value has no spelling in the file being generated.
    #[error("the {field} value {} cannot be written in a unit file (it holds a control character)", crate::printable::escape(.value))]
    Unrepresentable {
        /// The field of the container it belongs to.
        field: String,
        /// The value.
        value: String,
    },
    /// The pre-update checks' file is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}
