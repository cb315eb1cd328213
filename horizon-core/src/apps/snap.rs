//! Snaps through the `snap` CLI (when snapd is present):
//!
//! - installed: `snap list` (a table: Name, Version, Rev, …; the revision identifies what runs);
//! - check: `snap refresh --list` (the same columns for snaps with a newer revision; "All snaps
//!   up to date." goes to stderr and stdout stays empty);
//! - update: `snap refresh`, then the list again: every snap whose revision changed was updated.

use super::{SourceState, changes, pending, state_from};
use crate::host_command::{HostCommand, HostCommandError, Runner, run_checked};

/// The program.
const SNAP: &str = "snap";
/// The first column's header in snap's tables.
const HEADER_FIRST_COLUMN: &str = "Name";
/// The revision's column in `snap list` and `snap refresh --list`.
const REVISION_COLUMN: usize = 2;

/// `(name, revision)` pairs from a snap table, header skipped.
pub fn parse_table(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = *fields.first()?;
            if name == HEADER_FIRST_COLUMN {
                return None;
            }
            Some((name.to_owned(), (*fields.get(REVISION_COLUMN)?).to_owned()))
        })
        .collect()
}

async fn installed(runner: &impl Runner) -> Result<Vec<(String, String)>, HostCommandError> {
    let output = run_checked(runner, &HostCommand::new(SNAP).arg("list")).await?;
    Ok(parse_table(&output.stdout))
}

/// The snaps with a newer revision in their channel, without refreshing them.
pub async fn check(runner: &impl Runner) -> SourceState {
    let result = async {
        let before = installed(runner).await?;
        let command = HostCommand::new(SNAP).args(["refresh", "--list"]);
        let offered = parse_table(&run_checked(runner, &command).await?.stdout);
        Ok::<_, HostCommandError>(state_from(pending(&before, offered), before.len()))
    };
    result.await.unwrap_or_else(|error| SourceState::Failed {
        error: crate::update::error_chain(&error),
    })
}

/// Refreshes every snap.
pub async fn update(runner: &impl Runner) -> SourceState {
    let result = async {
        let before = installed(runner).await?;
        run_checked(runner, &HostCommand::new(SNAP).arg("refresh")).await?;
        let after = installed(runner).await?;
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

    const LIST: &str = include_str!("testdata/snap-list.txt");
    const REFRESH_LIST: &str = include_str!("testdata/snap-refresh-list.txt");

    #[test]
    fn tables_give_names_and_revisions() {
        assert_eq!(
            parse_table(LIST),
            [
                ("core22".to_owned(), "1122".to_owned()),
                ("firefox".to_owned(), "3728".to_owned()),
                ("snapd".to_owned(), "20671".to_owned()),
            ]
        );
        assert_eq!(parse_table(""), []);
    }

    #[tokio::test]
    async fn check_and_update_report_revision_changes() {
        let runner = ScriptedRunner::default()
            .expect("snap list", 0, LIST)
            .expect("snap refresh --list", 0, REFRESH_LIST);
        let expected = AppChange {
            name: "firefox".into(),
            from: Some("3728".into()),
            to: Some("3779".into()),
        };
        assert_eq!(
            check(&runner).await,
            SourceState::Changes {
                changes: vec![expected.clone()]
            }
        );
        let refreshed = LIST.replace("3728", "3779");
        let runner = ScriptedRunner::default()
            .expect("snap list", 0, LIST)
            .expect(
                "snap refresh",
                0,
                "firefox 123.0-1 from Mozilla✓ refreshed\n",
            )
            .expect("snap list", 0, &refreshed);
        assert_eq!(
            update(&runner).await,
            SourceState::Changes {
                changes: vec![expected]
            }
        );
        let runner = ScriptedRunner::default()
            .expect("snap list", 0, LIST)
            .expect("snap refresh --list", 0, "");
        assert_eq!(check(&runner).await, SourceState::UpToDate { installed: 3 });
    }
}
