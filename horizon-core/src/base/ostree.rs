//! The plain `ostree admin` backend: any OSTree system, and — with `--sysroot` and `--os` — a
//! sysroot in a directory that is not booted (how the tests use a real one).
//!
//! - status: `ostree admin status` (it has no JSON; the format is parsed line by line).
//! - check: `ostree pull --commit-metadata-only REMOTE REF` fetches only the commit object, then
//!   `rev-parse` reads the newest commit; nothing is deployed.
//! - upgrade: `ostree admin upgrade` writes a new deployment that boots next.
//! - rollback: when the deployments in front of the target are not booted (an update not booted
//!   into yet), `ostree admin undeploy` discards them (their commits stay in the repository, so a
//!   later upgrade stages them again); when the booted one is in front, the target's commit is
//!   deployed again with its own origin (`ostree admin deploy --retain --origin-file`), since this
//!   ostree has no verb that reorders deployments.

use std::path::{Path, PathBuf};

use super::{
    BackendKind, BaseCheck, BaseError, BaseStatus, BaseSystem, Deployment, RollbackOutcome,
    UpgradeOutcome, not_deployed, upgrade_with,
};
use crate::host_command::{HostCommand, Runner, run_checked};

/// The program.
const OSTREE: &str = "ostree";
/// The metadata key of a commit's version.
const VERSION_KEY: &str = "version";

/// `ostree admin` on one sysroot, for one OS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OstreeAdmin {
    /// The sysroot (`None`: `/`, the running system's).
    pub sysroot: Option<PathBuf>,
    /// The OS name (stateroot); `None`: the booted one's, else every deployment.
    pub os: Option<String>,
}

/// A deployment line of `ostree admin status` with its details, and its index among ALL
/// deployments (`undeploy` counts across OS names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedDeployment {
    /// Its position among all deployments, 0 first (what `ostree admin undeploy` takes).
    pub index: usize,
    /// The OS name (stateroot) it belongs to.
    pub os: String,
    /// Its commit, version and whether it is booted, pending or pinned.
    pub deployment: Deployment,
}

impl OstreeAdmin {
    fn sysroot_arg(&self) -> String {
        format!("--sysroot={}", self.sysroot_dir().display())
    }

    fn sysroot_dir(&self) -> &Path {
        self.sysroot.as_deref().unwrap_or(Path::new("/"))
    }

    fn repo_arg(&self) -> String {
        format!(
            "--repo={}",
            self.sysroot_dir().join("ostree/repo").display()
        )
    }

    fn admin(&self, verb: &str) -> HostCommand {
        HostCommand::new(OSTREE)
            .args(["admin", verb])
            .arg(self.sysroot_arg())
    }

    fn with_os(&self, command: HostCommand) -> HostCommand {
        match &self.os {
            Some(os) => command.arg(format!("--os={os}")),
            None => command,
        }
    }

    /// Every deployment of the sysroot, of every OS.
    async fn list(&self, runner: &impl Runner) -> Result<Vec<ListedDeployment>, BaseError> {
        let output = run_checked(runner, &self.admin("status"))
            .await
            .map_err(BaseError::tool("reading the ostree deployments"))?;
        Ok(parse_admin_status(&output.stdout))
    }

    /// The deployments of this OS (of the booted one's when no OS is configured).
    fn of_this_os<'a>(&self, listed: &'a [ListedDeployment]) -> Vec<&'a ListedDeployment> {
        let os = self.os.clone().or_else(|| {
            listed
                .iter()
                .find(|entry| entry.deployment.booted)
                .map(|entry| entry.os.clone())
        });
        listed
            .iter()
            .filter(|entry| os.as_ref().is_none_or(|os| &entry.os == os))
            .collect()
    }

    fn status_of(&self, listed: &[ListedDeployment]) -> BaseStatus {
        let mine = self.of_this_os(listed);
        BaseStatus {
            backend: BackendKind::Ostree,
            os: self
                .os
                .clone()
                .or_else(|| mine.first().map(|entry| entry.os.clone())),
            deployments: mine
                .into_iter()
                .map(|entry| entry.deployment.clone())
                .collect(),
        }
    }

    /// The origin file of a deployment (`ostree/deploy/OS/deploy/CHECKSUM.SERIAL.origin`).
    fn origin_file(&self, entry: &ListedDeployment) -> PathBuf {
        self.sysroot_dir()
            .join("ostree/deploy")
            .join(&entry.os)
            .join("deploy")
            .join(format!(
                "{}.{}.origin",
                entry.deployment.checksum,
                entry.deployment.serial.unwrap_or_default()
            ))
    }
}

impl BaseSystem for OstreeAdmin {
    fn kind(&self) -> BackendKind {
        BackendKind::Ostree
    }

    async fn status(&self, runner: &impl Runner) -> Result<BaseStatus, BaseError> {
        Ok(self.status_of(&self.list(runner).await?))
    }

    async fn check(&self, runner: &impl Runner) -> Result<BaseCheck, BaseError> {
        let status = self.status(runner).await?;
        let current = status.require_default()?;
        let refspec = current.origin.clone();
        let (remote, branch) = refspec
            .as_deref()
            .and_then(|refspec| refspec.split_once(':'))
            .ok_or_else(|| BaseError::NoRemote {
                origin: refspec.clone(),
            })?;
        let pull = HostCommand::new(OSTREE).arg(self.repo_arg()).args([
            "pull",
            "--commit-metadata-only",
            remote,
            branch,
        ]);
        run_checked(runner, &pull)
            .await
            .map_err(BaseError::tool("checking for a base update"))?;
        let refspec = format!("{remote}:{branch}");
        let rev_parse = HostCommand::new(OSTREE)
            .arg(self.repo_arg())
            .args(["rev-parse", &refspec]);
        let latest = run_checked(runner, &rev_parse)
            .await
            .map_err(BaseError::tool("reading the newest base commit"))?
            .stdout
            .trim()
            .to_owned();
        let show = HostCommand::new(OSTREE)
            .arg(self.repo_arg())
            .arg("show")
            .arg(format!("--print-metadata-key={VERSION_KEY}"))
            .arg(&latest);
        // A commit without version metadata is normal: the version is then unknown.
        let latest_version = match run_checked(runner, &show).await {
            Ok(output) => parse_variant_string(&output.stdout),
            Err(error) => {
                tracing::debug!(%error, "the newest commit has no version");
                None
            }
        };
        Ok(BaseCheck {
            backend: BackendKind::Ostree,
            update_available: latest != current.checksum,
            current: current.checksum.clone(),
            current_version: current.version.clone(),
            origin: Some(refspec),
            latest,
            latest_version,
        })
    }

    async fn upgrade(&self, runner: &impl Runner) -> Result<UpgradeOutcome, BaseError> {
        upgrade_with(self, runner, &self.with_os(self.admin("upgrade"))).await
    }

    async fn rollback_to(
        &self,
        runner: &impl Runner,
        checksum: &str,
    ) -> Result<RollbackOutcome, BaseError> {
        let listed = self.list(runner).await?;
        let status = self.status_of(&listed);
        let mine = self.of_this_os(&listed);
        let current = status.require_default()?.checksum.clone();
        let Some(position) = mine
            .iter()
            .position(|entry| entry.deployment.checksum == checksum)
        else {
            return Err(not_deployed(&status, checksum));
        };
        if position == 0 {
            return Ok(RollbackOutcome::AlreadyDefault {
                checksum: checksum.to_owned(),
            });
        }
        let in_front = &mine[..position];
        if in_front.iter().any(|entry| entry.deployment.booted) {
            let deploy = self
                .with_os(self.admin("deploy"))
                .arg("--retain")
                .arg(format!(
                    "--origin-file={}",
                    self.origin_file(mine[position]).display()
                ))
                .arg(checksum);
            run_checked(runner, &deploy)
                .await
                .map_err(BaseError::tool("deploying the earlier base commit again"))?;
        } else {
            // Highest index first, so the indexes of the others do not move.
            for entry in in_front.iter().rev() {
                let undeploy = self.admin("undeploy").arg(entry.index.to_string());
                run_checked(runner, &undeploy)
                    .await
                    .map_err(BaseError::tool("discarding the pending base deployment"))?;
            }
        }
        let after = self.status(runner).await?;
        let now = after.require_default()?;
        if now.checksum != checksum {
            return Err(BaseError::BadStatus {
                backend: BackendKind::Ostree,
                message: format!(
                    "after the rollback the default deployment is {}, not {checksum}",
                    now.checksum
                ),
            });
        }
        Ok(RollbackOutcome::MadeDefault {
            from: current,
            to: checksum.to_owned(),
        })
    }
}

/// Parses `ostree admin status`: a line per deployment — `* OS CHECKSUM.SERIAL` when booted, two
/// spaces instead of `* ` otherwise, optionally followed by `(staged)`, `(pending)` or
/// `(rollback)` — each followed by indented details (`Version: 2`, `origin refspec: r:b`,
/// `Pinned: yes`). Lines it does not know are skipped.
pub fn parse_admin_status(text: &str) -> Vec<ListedDeployment> {
    let mut listed: Vec<ListedDeployment> = Vec::new();
    for line in text.lines() {
        let detail = line.starts_with("    ");
        let booted = line.starts_with("* ");
        if !detail && (booted || line.starts_with("  ")) {
            let mut fields = line[2..].split_whitespace();
            let (Some(os), Some(id)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Some((checksum, serial)) = id.rsplit_once('.') else {
                continue;
            };
            let marks: Vec<&str> = fields.collect();
            listed.push(ListedDeployment {
                index: listed.len(),
                os: os.to_owned(),
                deployment: Deployment {
                    checksum: checksum.to_owned(),
                    serial: serial.parse().ok(),
                    version: None,
                    origin: None,
                    image_digest: None,
                    booted,
                    staged: marks.contains(&"(staged)"),
                    pinned: false,
                },
            });
            continue;
        }
        let Some(last) = listed.last_mut() else {
            continue;
        };
        let detail = line.trim();
        if let Some(version) = detail.strip_prefix("Version: ") {
            // `Version: 2 (2024-01-01T00:00:00Z)` on some versions: the version is the first word.
            last.deployment.version = version.split_whitespace().next().map(str::to_owned);
        } else if let Some(refspec) = detail.strip_prefix("origin refspec: ") {
            last.deployment.origin = Some(refspec.trim().to_owned());
        } else if detail == "Pinned: yes" {
            last.deployment.pinned = true;
        }
    }
    listed
}

/// The string inside a GVariant text rendering (`'2'` → `2`), as `ostree show
/// --print-metadata-key` prints it.
fn parse_variant_string(text: &str) -> Option<String> {
    let text = text.trim();
    let inner = text
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
        .or_else(|| {
            text.strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
        })?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_command::scripted::ScriptedRunner;

    const V1: &str = "0ccd480a95c6963e09e26089e87ef1c7ba5ad68f9e2dd290eafc1069606774d4";
    const V2: &str = "0272b151847cd66b07b7430a70070e6c6a120f8d292c8d250179dd7d7e38335e";

    fn status_text(first: (&str, &str, &str), second: Option<(&str, &str, &str)>) -> String {
        let mut text = String::new();
        for (prefix, checksum, version) in std::iter::once(first).chain(second) {
            text.push_str(&format!(
                "{prefix}horizon {checksum}.0\n    Version: {version}\n    origin refspec: origin:horizon/stable\n"
            ));
        }
        text
    }

    fn backend() -> OstreeAdmin {
        OstreeAdmin {
            sysroot: Some("/tmp/s".into()),
            os: Some("horizon".into()),
        }
    }

    #[test]
    fn admin_status_is_parsed_with_markers_details_and_unknown_lines() {
        let text = "* horizon 0272b1.1 (staged)\n    Version: 2 (2024-05-01T10:00:00Z)\n    origin refspec: origin:horizon/stable\n    Pinned: yes\n  other abc.0 (rollback)\n    origin: <unknown origin type>\n    GPG: Signature made …\n";
        let listed = parse_admin_status(text);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].os, "horizon");
        assert_eq!(
            listed[0].deployment,
            Deployment {
                checksum: "0272b1".into(),
                serial: Some(1),
                version: Some("2".into()),
                origin: Some("origin:horizon/stable".into()),
                image_digest: None,
                booted: true,
                staged: true,
                pinned: true,
            }
        );
        assert_eq!((listed[1].index, listed[1].os.as_str()), (1, "other"));
        assert_eq!(listed[1].deployment.origin, None);
        assert!(!listed[1].deployment.booted);
        assert_eq!(parse_admin_status("No deployments.\n"), []);
        assert_eq!(parse_variant_string("'31.1'\n"), Some("31.1".into()));
        assert_eq!(parse_variant_string("uint64 3"), None);
    }

    #[tokio::test]
    async fn check_fetches_only_commit_metadata_and_compares_with_the_default() {
        let runner = ScriptedRunner::default()
            .expect(
                "ostree admin status --sysroot=/tmp/s",
                0,
                &status_text(("  ", V1, "1"), None),
            )
            .expect(
                "ostree --repo=/tmp/s/ostree/repo pull --commit-metadata-only origin horizon/stable",
                0,
                "",
            )
            .expect(
                "ostree --repo=/tmp/s/ostree/repo rev-parse origin:horizon/stable",
                0,
                &format!("{V2}\n"),
            )
            .expect(
                &format!("ostree --repo=/tmp/s/ostree/repo show --print-metadata-key=version {V2}"),
                0,
                "'2'\n",
            );
        let check = backend().check(&runner).await.unwrap();
        assert!(runner.finished());
        assert_eq!(
            check,
            BaseCheck {
                backend: BackendKind::Ostree,
                current: V1.into(),
                current_version: Some("1".into()),
                origin: Some("origin:horizon/stable".into()),
                latest: V2.into(),
                latest_version: Some("2".into()),
                update_available: true,
            }
        );
    }

    #[tokio::test]
    async fn rolling_back_behind_a_booted_deployment_deploys_the_commit_again_with_its_origin() {
        let before = status_text(("* ", V2, "2"), Some(("  ", V1, "1")));
        let after = format!(
            "  horizon {V1}.1\n    Version: 1\n    origin refspec: origin:horizon/stable\n{before}"
        );
        let runner = ScriptedRunner::default()
            .expect("ostree admin status --sysroot=/tmp/s", 0, &before)
            .expect(
                &format!(
                    "ostree admin deploy --sysroot=/tmp/s --os=horizon --retain --origin-file=/tmp/s/ostree/deploy/horizon/deploy/{V1}.0.origin {V1}"
                ),
                0,
                "",
            )
            .expect("ostree admin status --sysroot=/tmp/s", 0, &after);
        let outcome = backend().rollback_to(&runner, V1).await.unwrap();
        assert!(runner.finished());
        assert_eq!(
            outcome,
            RollbackOutcome::MadeDefault {
                from: V2.into(),
                to: V1.into()
            }
        );
    }

    #[tokio::test]
    async fn rolling_back_to_a_commit_that_is_not_deployed_names_what_is() {
        let runner = ScriptedRunner::default().expect(
            "ostree admin status --sysroot=/tmp/s",
            0,
            &status_text(("  ", V2, "2"), None),
        );
        let error = backend().rollback_to(&runner, V1).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("no deployment of commit {V1} is left on this system (deployments: {V2})")
        );
    }
}
