//! horizon-dev's configuration: which container is "the development container". One small JSON
//! file, `$XDG_CONFIG_HOME/horizonos/dev.json` (default `~/.config/horizonos/dev.json`), read
//! strictly like definitions (unknown keys are errors, with line and column): `{"container":
//! "NAME"}`. A missing file is the default configuration. The choice is, most binding first: the
//! caller's (`horizon-dev --container`, `HORIZON_DEV_CONTAINER`), the file's, then
//! [`DEFAULT_DEV_CONTAINER`], the built-in development definition.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The development container when nothing else names one: the built-in definition.
pub const DEFAULT_DEV_CONTAINER: &str = "development";
/// The file, relative to `$XDG_CONFIG_HOME`.
pub const DEV_CONFIG_IN_CONFIG: &str = "horizonos/dev.json";

/// What the file says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevConfig {
    /// The development container (a definition's name).
    pub container: Option<String>,
}

/// Where the development container's name came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChosenBy {
    /// The caller named it.
    Caller,
    /// The configuration file did.
    ConfigFile(PathBuf),
    /// Nothing did: [`DEFAULT_DEV_CONTAINER`].
    Default,
}

/// The development container, and why that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevContainer {
    /// Its definition's name.
    pub name: String,
    /// What chose it.
    pub chosen_by: ChosenBy,
}

/// The configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevConfigError {
    /// It exists but cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a valid configuration.
    #[error("{}:{line}:{column}: {message}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where (1-based).
        line: usize,
        /// Where (1-based).
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The file's path for these values of `$HOME` and `$XDG_CONFIG_HOME` (relative or empty ones are
/// ignored, as the XDG Base Directory specification says); `None` without either.
pub fn dev_config_path(home: Option<&Path>, xdg_config_home: Option<&Path>) -> Option<PathBuf> {
    let config = xdg_config_home
        .filter(|dir| dir.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| {
            home.filter(|home| home.is_absolute())
                .map(|home| home.join(crate::definition::DEFAULT_CONFIG_IN_HOME))
        })?;
    Some(config.join(DEV_CONFIG_IN_CONFIG))
}

/// Reads the file at `path`; a missing one is the default configuration. A symbolic link is
/// followed: the file is the user's own configuration (dotfile managers link them), not state
/// horizon writes.
pub fn read_dev_config(path: &Path) -> Result<DevConfig, DevConfigError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(DevConfig::default());
        }
        Err(source) => {
            return Err(DevConfigError::Unreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_dev_config(&text).map_err(|error| DevConfigError::Invalid {
        path: path.to_owned(),
        line: error.line(),
        column: error.column(),
        message: strip_position(&error.to_string()),
    })
}

/// Parses the file's contents.
fn parse_dev_config(text: &[u8]) -> Result<DevConfig, serde_json::Error> {
    serde_json::from_slice(text)
}

/// serde_json's message without its own " at line L column C" (the error names the place once).
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The development container: `chosen` when the caller named one, else the file's, else the
/// default. The file is read only when it decides.
pub fn choose_dev_container(
    chosen: Option<&str>,
    config_path: Option<&Path>,
) -> Result<DevContainer, DevConfigError> {
    if let Some(name) = chosen {
        return Ok(DevContainer {
            name: name.to_owned(),
            chosen_by: ChosenBy::Caller,
        });
    }
    if let Some(path) = config_path
        && let Some(name) = read_dev_config(path)?.container
    {
        return Ok(DevContainer {
            name,
            chosen_by: ChosenBy::ConfigFile(path.to_owned()),
        });
    }
    Ok(DevContainer {
        name: DEFAULT_DEV_CONTAINER.to_owned(),
        chosen_by: ChosenBy::Default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_follows_xdg_config_home_then_home() {
        let home = Path::new("/home/me");
        assert_eq!(
            dev_config_path(Some(home), Some(Path::new("/cfg"))),
            Some(PathBuf::from("/cfg/horizonos/dev.json"))
        );
        for ignored in [None, Some(Path::new("relative")), Some(Path::new(""))] {
            assert_eq!(
                dev_config_path(Some(home), ignored),
                Some(PathBuf::from("/home/me/.config/horizonos/dev.json"))
            );
        }
        assert_eq!(dev_config_path(None, None), None);
    }

    #[test]
    fn the_caller_then_the_file_then_the_default_choose() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        let chosen = |caller| choose_dev_container(caller, Some(&path)).unwrap();
        assert_eq!(
            chosen(None),
            DevContainer {
                name: "development".into(),
                chosen_by: ChosenBy::Default
            }
        );
        std::fs::write(&path, r#"{"container": "rusty"}"#).unwrap();
        assert_eq!(
            chosen(None),
            DevContainer {
                name: "rusty".into(),
                chosen_by: ChosenBy::ConfigFile(path.clone())
            }
        );
        assert_eq!(chosen(Some("other")).chosen_by, ChosenBy::Caller);
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(chosen(None).chosen_by, ChosenBy::Default);
    }

    #[test]
    fn a_bad_file_is_an_error_at_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.json");
        std::fs::write(&path, "{\n  \"contianer\": \"x\"\n}").unwrap();
        let error = choose_dev_container(None, Some(&path)).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{}:2:14: unknown field `contianer`, expected `container`",
                path.display()
            )
        );
        // The caller's choice does not read the file at all.
        assert!(choose_dev_container(Some("x"), Some(&path)).is_ok());
    }
}
