//! `horizon-container status NAME`: one call to `Horizon::status`, rendered as labelled lines
//! (state, container, generation, images, times, exports, mounts, security, drift) or `--json`.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::engine::Timestamp;
use horizon_core::export::ExportEntry;
use horizon_core::lifecycle::{ContainerStatus, InstalledState, keeps_user_id};
use horizon_core::printable::escape;
use serde::Serialize;

use super::{Session, print_report};

/// Width of the label column.
const LABEL_WIDTH: usize = 14;

#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    #[serde(flatten)]
    status: &'a ContainerStatus,
    exports: Option<&'a [ExportEntry]>,
    /// Why the exports are unknown (the export ledger cannot be read).
    exports_error: Option<String>,
}

pub async fn run(session: &Session, name: &str) -> Result<ExitCode, Failure> {
    let found = session.horizon.status(session.call(), name).await?;
    let exports = found.exports.as_deref().ok();
    let report = StatusReport {
        status: &found.status,
        exports,
        exports_error: found.exports.as_ref().err().map(ToString::to_string),
    };
    if let Some(error) = &report.exports_error {
        // The status itself is what was asked: a lost warning must not fail it (the JSON has it).
        let _ = writeln!(
            std::io::stderr().lock(),
            "horizon-container: warning: the exports are unknown: {error}"
        );
    }
    print_report(session.json, &report, |out| {
        render(out, &found.status, exports)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One `label: value` line; the value escaped, as it holds what Podman and the definition hold
/// (mount paths, images, packages).
fn line(out: &mut impl Write, label: &str, value: impl std::fmt::Display) -> std::io::Result<()> {
    let value = value.to_string();
    writeln!(
        out,
        "{:<LABEL_WIDTH$}{}",
        format!("{label}:"),
        escape(&value)
    )
}

/// A time, or "never" when there was none.
fn time(value: Option<&Timestamp>) -> String {
    value.map_or_else(|| "never".to_owned(), Timestamp::to_string)
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// `exports` is `None` when they are unknown.
fn render(
    out: &mut impl Write,
    status: &ContainerStatus,
    exports: Option<&[ExportEntry]>,
) -> std::io::Result<()> {
    let name = &status.name;
    line(out, "name", name)?;
    line(out, "state", status.state.as_str())?;
    let definition = if !status.definition_exists {
        format!(
            "missing: no definition named {name} (`horizon-container remove {name}` removes the container)"
        )
    } else if status.drifted {
        format!(
            "changed since install (drifted); `horizon-container install {name} --reinstall` applies it"
        )
    } else if status.state == InstalledState::NotInstalled {
        format!("not installed; `horizon-container install {name}` installs it")
    } else {
        "unchanged since install".to_owned()
    };
    line(out, "definition", definition)?;
    let Some(container) = &status.container else {
        return Ok(());
    };
    line(out, "container", &container.name)?;
    line(
        out,
        "generation",
        format!("{} ({})", container.generation, container.image),
    )?;
    if let Some(&newest) = status.kept_generations.last() {
        let kept: Vec<String> = status.kept_generations.iter().map(u64::to_string).collect();
        let back = status
            .kept_generations
            .iter()
            .rev()
            .find(|&&generation| generation < container.generation);
        let hint = match back {
            Some(previous) => format!("`horizon-container rollback {name}` returns to {previous}"),
            None => {
                format!("`horizon-container rollback {name} --to {newest}` returns to {newest}")
            }
        };
        line(out, "kept", format!("{} ({hint})", kept.join(", ")))?;
    }
    if let Some(record) = &status.record {
        line(out, "image", &record.image)?;
        line(
            out,
            "digest",
            record.image_digest.as_deref().unwrap_or("unknown"),
        )?;
        let packages = if record.packages.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{} ({})",
                record.packages.join(" "),
                record.package_manager.as_deref().unwrap_or("?")
            )
        };
        line(out, "packages", packages)?;
    }
    line(out, "persistent", yes_no(container.persistent))?;
    line(out, "created", container.created)?;
    line(out, "started", time(container.run.started_at.as_ref()))?;
    if !container.run.running {
        line(out, "stopped", time(container.run.finished_at.as_ref()))?;
    }
    let exports_known = exports.is_some();
    let exports = exports
        .unwrap_or_default()
        .iter()
        .map(|entry| {
            if entry.name == entry.binary {
                entry.name.clone()
            } else {
                format!("{} ({})", entry.name, entry.binary)
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let exports = match exports.as_str() {
        _ if !exports_known => "unknown (the export ledger cannot be read)",
        "" => "none",
        listed => listed,
    };
    line(out, "exports", exports)?;
    let exec_path = if container.agent {
        "agent (exported binaries and shell start in milliseconds)".to_owned()
    } else {
        format!(
            "API (made without the in-container agent; `horizon-container install {name} \
             --reinstall` gives it one)"
        )
    };
    line(out, "exec path", exec_path)?;
    if container.mounts.is_empty() {
        line(out, "mounts", "none")?;
    }
    for (index, mount) in container.mounts.iter().enumerate() {
        let label = if index == 0 { "mounts" } else { "" };
        let mode = if mount.read_only { "ro" } else { "rw" };
        let text = format!("{} -> {} ({mode})", mount.source, mount.target);
        if label.is_empty() {
            writeln!(out, "{:LABEL_WIDTH$}{}", "", escape(&text))?;
        } else {
            line(out, label, text)?;
        }
    }
    let security = &container.security;
    let seccomp = if security.seccomp_profile.is_empty() {
        "default"
    } else {
        security.seccomp_profile.as_str()
    };
    let userns = if keeps_user_id(security) {
        "keep-id"
    } else if security.userns_mode.is_empty() {
        "default"
    } else {
        security.userns_mode.as_str()
    };
    line(
        out,
        "security",
        format!(
            "privileged {}, no-new-privileges {}, seccomp {seccomp}, network {}, user namespace {userns}",
            yes_no(security.privileged),
            yes_no(security.no_new_privileges),
            security.network_mode,
        ),
    )?;
    let capabilities: Vec<&str> = security
        .effective_caps
        .iter()
        .map(|capability| capability.strip_prefix("CAP_").unwrap_or(capability))
        .collect();
    line(out, "capabilities", capabilities.join(" "))
}

#[cfg(test)]
mod tests {
    use horizon_core::engine::{AppliedSecurity, BindMount, ContainerState, RunState};
    use horizon_core::lifecycle::{ContainerFacts, InstallRecord};

    use super::*;

    fn installed() -> ContainerStatus {
        ContainerStatus {
            name: "tools".into(),
            state: InstalledState::Stopped,
            definition_exists: true,
            drifted: true,
            installed_hash: Some("aa".into()),
            current_hash: Some("bb".into()),
            container: Some(ContainerFacts {
                name: "horizonos-tools".into(),
                id: "0123".into(),
                generation: 2,
                image: "localhost/horizonos/tools:2".into(),
                image_id: "4567".into(),
                persistent: false,
                layer: Some("user".into()),
                created: "2024-05-01T10:00:00Z".parse().unwrap(),
                run: ContainerState {
                    status: RunState::Exited,
                    running: false,
                    pid: 0,
                    exit_code: 0,
                    started_at: Some("2024-05-01T10:00:01Z".parse().unwrap()),
                    finished_at: Some("2024-05-01T11:00:00Z".parse().unwrap()),
                },
                mounts: vec![
                    BindMount {
                        source: "/home/u".into(),
                        target: "/home/u".into(),
                        read_only: false,
                    },
                    BindMount {
                        source: "/srv".into(),
                        target: "/data".into(),
                        read_only: true,
                    },
                ],
                security: AppliedSecurity {
                    effective_caps: vec!["CAP_CHOWN".into(), "CAP_KILL".into()],
                    privileged: false,
                    no_new_privileges: true,
                    seccomp_profile: String::new(),
                    network_mode: "slirp4netns".into(),
                    userns_mode: "private".into(),
                    uid_map: vec!["0:1:1000".into(), "1000:0:1".into()],
                },
                agent: false,
            }),
            record: Some(InstallRecord {
                schema_version: 1,
                name: "tools".into(),
                layer: "user".into(),
                definition_hash: "aa".into(),
                generation: 2,
                image: "127.0.0.1:5000/horizon/debian:latest".into(),
                image_digest: Some("sha256:cd".into()),
                image_id: "89".into(),
                generation_image: "localhost/horizonos/tools:2".into(),
                generation_image_id: "4567".into(),
                container_id: "0123".into(),
                package_manager: Some("apt-get".into()),
                packages: vec!["git".into(), "make".into()],
                persistent: false,
                installed_at: "2024-05-01T10:00:00Z".into(),
                export_binaries: vec!["git".into()],
            }),
            kept_generations: vec![],
        }
    }

    #[test]
    fn names_the_kept_generations_and_the_rollback_that_returns_to_one() {
        for (kept, expected) in [
            (
                vec![1],
                "kept:         1 (`horizon-container rollback tools` returns to 1)\n",
            ),
            (
                vec![1, 3],
                "kept:         1, 3 (`horizon-container rollback tools` returns to 1)\n",
            ),
            (
                vec![3],
                "kept:         3 (`horizon-container rollback tools --to 3` returns to 3)\n",
            ),
        ] {
            let status = ContainerStatus {
                kept_generations: kept,
                ..installed()
            };
            let mut out = Vec::new();
            render(&mut out, &status, Some(&[])).unwrap();
            let text = String::from_utf8(out).unwrap();
            let line = text.lines().find(|line| line.starts_with("kept:")).unwrap();
            assert_eq!(format!("{line}\n"), expected);
        }
    }

    /// The ledger's entries for `tools`: `git`, and `git` again under the alias `g`.
    fn exported() -> Vec<ExportEntry> {
        ["git", "g"]
            .into_iter()
            .map(|name| ExportEntry {
                name: name.into(),
                path: format!("/home/u/.local/bin/{name}").into(),
                container: "tools".into(),
                binary: "git".into(),
                content_hash: "sha256:ef".into(),
                horizon_version: "0.1.0".into(),
                backup: None,
            })
            .collect()
    }

    #[test]
    fn renders_an_installed_container() {
        let mut out = Vec::new();
        render(&mut out, &installed(), Some(&exported())).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name:         tools\n\
             state:        stopped\n\
             definition:   changed since install (drifted); `horizon-container install tools --reinstall` applies it\n\
             container:    horizonos-tools\n\
             generation:   2 (localhost/horizonos/tools:2)\n\
             image:        127.0.0.1:5000/horizon/debian:latest\n\
             digest:       sha256:cd\n\
             packages:     git make (apt-get)\n\
             persistent:   no\n\
             created:      2024-05-01T10:00:00Z\n\
             started:      2024-05-01T10:00:01Z\n\
             stopped:      2024-05-01T11:00:00Z\n\
             exports:      git g (git)\n\
             exec path:    API (made without the in-container agent; `horizon-container install tools --reinstall` gives it one)\n\
             mounts:       /home/u -> /home/u (rw)\n\
             \x20             /srv -> /data (ro)\n\
             security:     privileged no, no-new-privileges yes, seccomp default, network slirp4netns, user namespace keep-id\n\
             capabilities: CHOWN KILL\n"
        );
    }

    #[test]
    fn renders_a_definition_that_is_not_installed() {
        let status = ContainerStatus {
            state: InstalledState::NotInstalled,
            drifted: false,
            container: None,
            record: None,
            ..installed()
        };
        let mut out = Vec::new();
        render(&mut out, &status, Some(&[])).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name:         tools\n\
             state:        not installed\n\
             definition:   not installed; `horizon-container install tools` installs it\n"
        );
    }
}
