//! The spec's top layer, user applications: Flatpak apps (system and user installations) and
//! snaps. Each source is checked and updated through its own CLI; what changed is computed by
//! listing the installed apps before and after (names and commits/revisions), never by parsing
//! the progress the tool prints. A source that is not on the machine (no `flatpak`, no snapd) is
//! [`SourceState::Skipped`], not failed; one source failing does not stop the others.

pub mod flatpak;
pub mod snap;

use serde::Serialize;

use crate::host_command::Runner;

/// Where applications come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppSource {
    /// Flatpak's system-wide installation.
    FlatpakSystem,
    /// Flatpak's per-user installation.
    FlatpakUser,
    /// snapd.
    Snap,
}

impl AppSource {
    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            AppSource::FlatpakSystem => "flatpak (system)",
            AppSource::FlatpakUser => "flatpak (user)",
            AppSource::Snap => "snap",
        }
    }
}

/// One application whose installed version differs (or differed) from the source's newest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AppChange {
    /// The Flatpak ref (`app/ID/ARCH/BRANCH`) or the snap name.
    pub name: String,
    /// The installed commit or revision (`None`: newly installed, e.g. a new runtime).
    pub from: Option<String>,
    /// The newest commit or revision (`None` when the tool does not say).
    pub to: Option<String>,
}

/// What one source's check or update found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SourceState {
    /// The source is not on this machine.
    Skipped {
        /// Why it was skipped (e.g. the tool is not installed).
        reason: String,
    },
    /// Nothing to update (`installed` apps and runtimes are all current).
    UpToDate {
        /// How many apps and runtimes are installed from it.
        installed: usize,
    },
    /// Check: these have updates. Update: these were updated.
    Changes {
        /// Each app or runtime with a new commit or revision.
        changes: Vec<AppChange>,
    },
    /// The tool failed; nothing is known about the rest.
    Failed {
        /// The tool's failure, with its stderr.
        error: String,
    },
}

/// One source's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// Which source (a Flatpak installation, or snap).
    pub source: AppSource,
    /// What was found or done there.
    #[serde(flatten)]
    pub state: SourceState,
}

/// Which sources exist on this machine (the binary finds out; tests invent it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppHost {
    /// `flatpak` is installed.
    pub has_flatpak: bool,
    /// `snap` is installed and snapd's socket exists.
    pub has_snapd: bool,
}

/// Whether a run checks or updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppAction {
    /// Only ask each source what would be updated.
    Check,
    /// Update every source.
    Update,
}

/// Checks or updates every source, each independently.
pub async fn run_all(runner: &impl Runner, host: &AppHost, action: AppAction) -> Vec<SourceReport> {
    let mut reports = Vec::new();
    for installation in [flatpak::Installation::System, flatpak::Installation::User] {
        let state = if host.has_flatpak {
            match action {
                AppAction::Check => flatpak::check(runner, installation).await,
                AppAction::Update => flatpak::update(runner, installation).await,
            }
        } else {
            SourceState::Skipped {
                reason: "flatpak is not installed".to_owned(),
            }
        };
        reports.push(SourceReport {
            source: installation.source(),
            state,
        });
    }
    let state = if host.has_snapd {
        match action {
            AppAction::Check => snap::check(runner).await,
            AppAction::Update => snap::update(runner).await,
        }
    } else {
        SourceState::Skipped {
            reason: "snapd is not installed".to_owned(),
        }
    };
    reports.push(SourceReport {
        source: AppSource::Snap,
        state,
    });
    reports
}

/// The changes between two listings of (name, version) pairs: every name whose version differs
/// or that is new. Names that disappeared are not changes an update makes worth reporting.
pub(crate) fn changes(before: &[(String, String)], after: &[(String, String)]) -> Vec<AppChange> {
    after
        .iter()
        .filter_map(|(name, version)| {
            let previous = before
                .iter()
                .find(|(old_name, _)| old_name == name)
                .map(|(_, old)| old);
            (previous != Some(version)).then(|| AppChange {
                name: name.clone(),
                from: previous.cloned(),
                to: Some(version.clone()),
            })
        })
        .collect()
}

/// What a check found: each offered (name, version) paired with the installed version.
pub(crate) fn pending(
    installed: &[(String, String)],
    offered: Vec<(String, String)>,
) -> Vec<AppChange> {
    offered
        .into_iter()
        .map(|(name, version)| AppChange {
            from: installed
                .iter()
                .find(|(installed, _)| *installed == name)
                .map(|(_, version)| version.clone()),
            name,
            to: Some(version),
        })
        .collect()
}

/// `UpToDate` when nothing changed, else `Changes`.
pub(crate) fn state_from(changes: Vec<AppChange>, installed: usize) -> SourceState {
    if changes.is_empty() {
        SourceState::UpToDate { installed }
    } else {
        SourceState::Changes { changes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, version)| ((*name).to_owned(), (*version).to_owned()))
            .collect()
    }

    #[test]
    fn changes_are_new_versions_and_new_names() {
        let before = pairs(&[("a", "1"), ("b", "1"), ("gone", "1")]);
        let after = pairs(&[("a", "2"), ("b", "1"), ("new", "1")]);
        assert_eq!(
            changes(&before, &after),
            [
                AppChange {
                    name: "a".into(),
                    from: Some("1".into()),
                    to: Some("2".into())
                },
                AppChange {
                    name: "new".into(),
                    from: None,
                    to: Some("1".into())
                },
            ]
        );
        assert_eq!(
            state_from(vec![], 3),
            SourceState::UpToDate { installed: 3 }
        );
    }

    #[tokio::test]
    async fn absent_sources_are_skipped_not_failed() {
        let runner = crate::host_command::scripted::ScriptedRunner::default();
        let reports = run_all(&runner, &AppHost::default(), AppAction::Update).await;
        let json = serde_json::to_value(&reports).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"source": "flatpak-system", "state": "skipped", "reason": "flatpak is not installed"},
                {"source": "flatpak-user", "state": "skipped", "reason": "flatpak is not installed"},
                {"source": "snap", "state": "skipped", "reason": "snapd is not installed"},
            ])
        );
    }
}
