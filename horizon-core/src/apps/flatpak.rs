//! Flatpak through its CLI, one installation at a time (`--system` or `--user`; the
//! `FLATPAK_SYSTEM_DIR` and `FLATPAK_USER_DIR` of the environment select other directories, as
//! flatpak itself documents):
//!
//! - installed: `flatpak list --columns=ref,active` (ref without its kind, short commit);
//! - check: `flatpak remote-ls --updates --columns=ref,commit` (no download);
//! - update: `flatpak update -y --noninteractive`, then the list again: every ref whose active
//!   commit changed (or that is new, e.g. a runtime the new version needs) was updated.

use super::{AppSource, SourceState, changes, pending, state_from};
use crate::host_command::{HostCommand, HostCommandError, Runner, run_checked};

/// The program.
const FLATPAK: &str = "flatpak";
/// Ref kinds `remote-ls` prefixes and `list` omits.
const REF_KINDS: [&str; 2] = ["app/", "runtime/"];

/// A Flatpak installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installation {
    /// The system-wide installation (`flatpak --system`).
    System,
    /// The calling user's own installation (`flatpak --user`).
    User,
}

impl Installation {
    /// The flatpak option that selects it.
    pub fn flag(self) -> &'static str {
        match self {
            Installation::System => "--system",
            Installation::User => "--user",
        }
    }

    /// The source it is in reports.
    pub fn source(self) -> AppSource {
        match self {
            Installation::System => AppSource::FlatpakSystem,
            Installation::User => AppSource::FlatpakUser,
        }
    }
}

/// `(ref, commit)` pairs from flatpak's column output (tab-separated, no header when stdout is
/// not a terminal). A ref is given without its `app/` or `runtime/` kind.
pub fn parse_columns(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t').map(str::trim);
            let reference = fields.next().filter(|field| !field.is_empty())?;
            let commit = fields.next().filter(|field| !field.is_empty())?;
            let reference = REF_KINDS
                .iter()
                .find_map(|kind| reference.strip_prefix(kind))
                .unwrap_or(reference);
            Some((reference.to_owned(), commit.to_owned()))
        })
        .collect()
}

/// The refs installed in `installation` with their active commits.
pub async fn installed(
    runner: &impl Runner,
    installation: Installation,
) -> Result<Vec<(String, String)>, HostCommandError> {
    let command = HostCommand::new(FLATPAK)
        .arg("list")
        .arg(installation.flag())
        .arg("--columns=ref,active");
    Ok(parse_columns(&run_checked(runner, &command).await?.stdout))
}

/// The updates the installation's remotes offer, without downloading them.
pub async fn check(runner: &impl Runner, installation: Installation) -> SourceState {
    let result = async {
        let before = installed(runner, installation).await?;
        let command = HostCommand::new(FLATPAK)
            .args(["remote-ls", "--updates"])
            .arg(installation.flag())
            .arg("--columns=ref,commit");
        let offered = parse_columns(&run_checked(runner, &command).await?.stdout);
        Ok::<_, HostCommandError>(state_from(pending(&before, offered), before.len()))
    };
    result.await.unwrap_or_else(|error| SourceState::Failed {
        error: crate::update::error_chain(&error),
    })
}

/// Updates every app and runtime of the installation.
pub async fn update(runner: &impl Runner, installation: Installation) -> SourceState {
    let result = async {
        let before = installed(runner, installation).await?;
        let command = HostCommand::new(FLATPAK)
            .arg("update")
            .arg(installation.flag())
            .args(["-y", "--noninteractive"]);
        run_checked(runner, &command).await?;
        let after = installed(runner, installation).await?;
        Ok::<_, HostCommandError>(state_from(changes(&before, &after), after.len()))
    };
    result.await.unwrap_or_else(|error| SourceState::Failed {
        error: crate::update::error_chain(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::AppChange;
    use crate::host_command::scripted::ScriptedRunner;

    #[test]
    fn columns_are_parsed_and_ref_kinds_dropped() {
        let text = "org.example.Hello/x86_64/stable\tdd04bcfb4b0a\norg.example.Platform/x86_64/1\t1eac99d3241f\n\nbroken-line\n";
        assert_eq!(
            parse_columns(text),
            [
                (
                    "org.example.Hello/x86_64/stable".to_owned(),
                    "dd04bcfb4b0a".to_owned()
                ),
                (
                    "org.example.Platform/x86_64/1".to_owned(),
                    "1eac99d3241f".to_owned()
                ),
            ]
        );
        assert_eq!(
            parse_columns("app/org.example.Hello/x86_64/stable\tdd04bcfb4b0a\n")[0].0,
            "org.example.Hello/x86_64/stable"
        );
    }

    #[tokio::test]
    async fn check_pairs_offered_commits_with_installed_ones() {
        let runner = ScriptedRunner::default()
            .expect(
                "flatpak list --user --columns=ref,active",
                0,
                "org.example.Hello/x86_64/stable\t9c1ffb40709e\n",
            )
            .expect(
                "flatpak remote-ls --updates --user --columns=ref,commit",
                0,
                "app/org.example.Hello/x86_64/stable\tdd04bcfb4b0a\n",
            );
        assert_eq!(
            check(&runner, Installation::User).await,
            SourceState::Changes {
                changes: vec![AppChange {
                    name: "org.example.Hello/x86_64/stable".into(),
                    from: Some("9c1ffb40709e".into()),
                    to: Some("dd04bcfb4b0a".into()),
                }]
            }
        );
    }

    #[tokio::test]
    async fn a_failing_update_is_reported_with_flatpaks_message() {
        let runner = ScriptedRunner::default()
            .expect("flatpak list --system --columns=ref,active", 0, "")
            .expect("flatpak update --system -y --noninteractive", 1, "");
        assert_eq!(
            update(&runner, Installation::System).await,
            SourceState::Failed {
                error: "flatpak update --system -y --noninteractive failed (exit status 1): error from flatpak update --system -y --noninteractive".into()
            }
        );
    }
}
