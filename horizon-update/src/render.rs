//! Human output of every action, as pure functions into `impl Write` (tested against exact
//! strings), and the `--json` envelope that adds `"schema_version"` to every report.

use std::io::{self, Write};

use horizon_core::apps::{AppChange, SourceReport, SourceState};
use horizon_core::base::{BaseCheck, RollbackOutcome, UpgradeOutcome};
use horizon_core::printable::escape_lines;
use horizon_core::system_update::containers::{ContainerResults, ContainerRollback};
use horizon_core::system_update::generations::SystemGeneration;
use horizon_core::system_update::{
    CheckReport, History, Layer, RollbackReport, RollbackScope, UpdateReport,
};
use horizon_core::update::{ContainerCheck, GenerationRef};
use horizon_core::usecase::ContainerUpdate;

use horizon_cli_support::text::short_id as short;

/// `VERSION (COMMIT)`, or the commit alone.
fn version_and_id(version: Option<&str>, id: &str) -> String {
    match version {
        Some(version) => format!("{version} ({})", short(id)),
        None => short(id).to_owned(),
    }
}

/// `--check`.
pub fn check(out: &mut impl Write, report: &CheckReport) -> io::Result<()> {
    match &report.base {
        Layer::Done(check) => base_check(out, check)?,
        other => layer_line(out, "Base system", other)?,
    }
    containers_layer(out, &report.containers, container_check)?;
    apps(out, &report.apps, "update available", "updates available")?;
    if report.updates_available() {
        writeln!(out, "Updates are available: horizon-update --all")?;
    } else if !report.any_failed() {
        writeln!(out, "Everything is up to date.")?;
    }
    Ok(())
}

fn base_check(out: &mut impl Write, check: &BaseCheck) -> io::Result<()> {
    writeln!(
        out,
        "Base system ({}{}):",
        check.backend.name(),
        check
            .origin
            .as_deref()
            .map(|origin| format!(", {origin}"))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "  next boot: {}",
        version_and_id(check.current_version.as_deref(), &check.current)
    )?;
    if check.update_available {
        writeln!(
            out,
            "  available: {} (not downloaded; horizon-update --all stages it)",
            version_and_id(check.latest_version.as_deref(), &check.latest)
        )
    } else {
        writeln!(out, "  up to date")
    }
}

/// `--all` / `--containers`.
pub fn update(out: &mut impl Write, report: &UpdateReport) -> io::Result<()> {
    match &report.base {
        Layer::Done(UpgradeOutcome::Staged { from, to, version }) => writeln!(
            out,
            "Base system: staged {} for the next boot (now {}); the running system is unchanged. \
             Reboot to use it.",
            version_and_id(version.as_deref(), to),
            short(from)
        )?,
        Layer::Done(UpgradeOutcome::UpToDate { checksum }) => {
            writeln!(out, "Base system: up to date ({})", short(checksum))?
        }
        other => layer_line(out, "Base system", other)?,
    }
    containers_layer(out, &report.containers, container_update)?;
    apps(out, &report.apps, "updated", "updated")?;
    match (report.new_generation, report.previous_generation) {
        (Some(new), Some(previous)) => writeln!(
            out,
            "System generation {new} recorded (previous: {previous}). To go back: horizon-update --rollback"
        ),
        (Some(new), None) => writeln!(out, "System generation {new} recorded."),
        (None, Some(current)) => writeln!(
            out,
            "Nothing changed; system generation {current} stays in effect."
        ),
        (None, None) => writeln!(out, "Nothing changed."),
    }
}

/// `--rollback`.
/// An unattended run: each pre-update check, then the update, or that it was skipped and why.
pub fn unattended(
    out: &mut impl Write,
    report: &horizon_core::usecase::UnattendedReport,
) -> io::Result<()> {
    writeln!(out, "pre-update checks ({}):", report.config.display())?;
    for verdict in &report.checks {
        let mark = if verdict.skip { "skip" } else { "ok" };
        writeln!(
            out,
            "  {mark:<4} {}: {}",
            verdict.check.as_str(),
            verdict.detail
        )?;
    }
    match &report.update {
        Some(update_report) => update(out, update_report),
        None => {
            let reasons: Vec<&str> = report
                .skipped_by()
                .map(|verdict| verdict.detail.as_str())
                .collect();
            writeln!(out, "update skipped: {}", reasons.join("; "))
        }
    }
}

pub fn rollback(out: &mut impl Write, report: &RollbackReport) -> io::Result<()> {
    match &report.base {
        Layer::Done(RollbackOutcome::MadeDefault { from, to }) => writeln!(
            out,
            "Base system: {} is the default for the next boot again (was {}); the running system \
             is unchanged. Reboot to use it.",
            short(to),
            short(from)
        )?,
        Layer::Done(RollbackOutcome::AlreadyDefault { checksum }) => writeln!(
            out,
            "Base system: {} is the default for the next boot already",
            short(checksum)
        )?,
        other => layer_line(out, "Base system", other)?,
    }
    containers_layer(out, &report.containers, container_rollback)?;
    if report.any_failed() {
        writeln!(
            out,
            "System generation {} stays in effect; run the rollback again once the failure is fixed.",
            report.from_generation
        )
    } else {
        let side = match report.scope {
            RollbackScope::Both => "",
            RollbackScope::Base => " (base only)",
            RollbackScope::Containers => " (containers only)",
        };
        writeln!(
            out,
            "System generation {} is in effect again{side} (was {}).",
            report.to_generation, report.from_generation
        )
    }
}

/// `--history`.
pub fn history(out: &mut impl Write, history: &History) -> io::Result<()> {
    if history.generations.is_empty() {
        return writeln!(
            out,
            "No system generation recorded yet: horizon-update --all records one."
        );
    }
    writeln!(
        out,
        "  GEN  CAUSE              BASE                  CONTAINERS"
    )?;
    for generation in &history.generations {
        let marker = if history.current == Some(generation.generation) {
            '*'
        } else {
            ' '
        };
        writeln!(
            out,
            "{marker} {:>3}  {:<17}  {:<20}  {}",
            generation.generation,
            cause(generation),
            generation
                .base
                .as_ref()
                .map(|base| version_and_id(base.version.as_deref(), &base.checksum))
                .unwrap_or_else(|| "-".to_owned()),
            containers(generation)
        )?;
    }
    Ok(())
}

fn cause(generation: &SystemGeneration) -> &'static str {
    use horizon_core::system_update::generations::GenerationCause;
    match generation.cause {
        GenerationCause::Found => "found",
        GenerationCause::UpdateAll => "update --all",
        GenerationCause::UpdateContainers => "update --containers",
    }
}

fn containers(generation: &SystemGeneration) -> String {
    if generation.containers.is_empty() {
        return "-".to_owned();
    }
    generation
        .containers
        .iter()
        .map(|container| format!("{}:{}", container.name, container.generation))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Containers:` and one line per container, or the layer's one line.
fn containers_layer<T>(
    out: &mut impl Write,
    layer: &Layer<ContainerResults<T>>,
    line: fn(&T) -> String,
) -> io::Result<()> {
    let Layer::Done(done) = layer else {
        return layer_line(out, "Containers", layer);
    };
    writeln!(out, "Containers:")?;
    for item in &done.results {
        writeln!(out, "  {}", line(item))?;
    }
    Ok(())
}

/// `generation N (DIGEST)`.
fn generation(reference: &GenerationRef) -> String {
    match &reference.image_digest {
        Some(digest) => format!("generation {} ({})", reference.generation, short(digest)),
        None => format!("generation {}", reference.generation),
    }
}

fn container_check(check: &ContainerCheck) -> String {
    if let Some(error) = &check.error {
        return format!("{}: FAILED: {}", check.name, escape_lines(error));
    }
    // A check that did not fail knows the generation (it read the install record).
    let generation = check.generation.unwrap_or_default();
    if !check.definition_exists {
        return format!(
            "{}: generation {}; its definition is gone, nothing to update to",
            check.name, generation
        );
    }
    let mut reasons = Vec::new();
    if check.image_update {
        reasons.push(format!(
            "image {} at the registry",
            check.available_digest.as_deref().map(short).unwrap_or("?")
        ));
    }
    if check.definition_changed {
        reasons.push("definition changed".to_owned());
    }
    if reasons.is_empty() {
        format!("{}: up to date (generation {})", check.name, generation)
    } else {
        format!(
            "{}: update available (generation {}: {})",
            check.name,
            generation,
            reasons.join(", ")
        )
    }
}

fn container_update(update: &ContainerUpdate) -> String {
    use horizon_core::update::UpdateOutcome;
    match &update.result {
        // The error can quote the definition (a verify command) and what the container printed.
        Err(error) => format!(
            "{}: FAILED (the running container is untouched): {}",
            update.name,
            escape_lines(&horizon_core::update::error_chain(error))
        ),
        Ok(UpdateOutcome::Updated { from, to, .. }) => format!(
            "{}: updated from {} to {}",
            update.name,
            generation(from),
            generation(to)
        ),
        Ok(UpdateOutcome::UpToDate { current }) => {
            format!("{}: up to date ({})", update.name, generation(current))
        }
        Ok(_) => format!("{}: done", update.name),
    }
}

fn container_rollback(rollback: &ContainerRollback) -> String {
    use horizon_core::update::RollbackOutcome;
    match (&rollback.outcome, &rollback.error) {
        (_, Some(error)) => format!("{}: FAILED: {error}", rollback.name),
        (Some(RollbackOutcome::RolledBack { from, to }), None) => format!(
            "{}: {} is active again (was {})",
            rollback.name,
            generation(to),
            generation(from)
        ),
        (Some(RollbackOutcome::AlreadyActive { current }), None) => {
            format!(
                "{}: {} is active already",
                rollback.name,
                generation(current)
            )
        }
        (_, None) => format!("{}: generation {}", rollback.name, rollback.generation),
    }
}

/// `LABEL: skipped (REASON)` / `LABEL: FAILED: ERROR`.
fn layer_line<T>(out: &mut impl Write, label: &str, layer: &Layer<T>) -> io::Result<()> {
    match layer {
        Layer::Skipped { reason } => writeln!(out, "{label}: skipped ({reason})"),
        Layer::Failed { error, hints } => {
            writeln!(out, "{label}: FAILED: {error}")?;
            for hint in hints {
                writeln!(out, "  hint: {}", horizon_cli_support::hint::render(hint))?;
            }
            Ok(())
        }
        Layer::Done(_) => Ok(()),
    }
}

fn apps(out: &mut impl Write, reports: &[SourceReport], one: &str, many: &str) -> io::Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    writeln!(out, "Applications:")?;
    for report in reports {
        let name = report.source.name();
        match &report.state {
            SourceState::Skipped { reason } => writeln!(out, "  {name}: skipped ({reason})")?,
            SourceState::UpToDate { installed } => {
                writeln!(out, "  {name}: up to date ({installed} installed)")?
            }
            SourceState::Failed { error } => writeln!(out, "  {name}: FAILED: {error}")?,
            SourceState::Changes { changes } => {
                let label = if changes.len() == 1 { one } else { many };
                writeln!(out, "  {name}: {} {label}", changes.len())?;
                for change in changes {
                    writeln!(out, "    {}", app_change(change))?;
                }
            }
        }
    }
    Ok(())
}

fn app_change(change: &AppChange) -> String {
    match (&change.from, &change.to) {
        (Some(from), Some(to)) => format!("{} {} -> {}", change.name, short(from), short(to)),
        (None, Some(to)) => format!("{} (new) {}", change.name, short(to)),
        (Some(from), None) => format!("{} {}", change.name, short(from)),
        (None, None) => change.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use horizon_core::apps::AppSource;
    use horizon_core::base::BackendKind;
    use horizon_core::system_update::generations::{
        BaseRecord, ContainerRecord, GenerationCause, SYSTEM_GENERATION_SCHEMA_VERSION,
    };

    use horizon_core::update::UpdateOutcome;

    use super::*;

    const V1: &str = "0ccd480a95c6963e09e26089e87ef1c7ba5ad68f9e2dd290eafc1069606774d4";
    const V2: &str = "0272b151847cd66b07b7430a70070e6c6a120f8d292c8d250179dd7d7e38335e";

    fn text(render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        render(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn flatpak_change() -> Vec<SourceReport> {
        vec![
            SourceReport {
                source: AppSource::FlatpakSystem,
                state: SourceState::UpToDate { installed: 2 },
            },
            SourceReport {
                source: AppSource::FlatpakUser,
                state: SourceState::Changes {
                    changes: vec![AppChange {
                        name: "org.example.Hello/x86_64/stable".into(),
                        from: Some("9c1ffb40709e".into()),
                        to: Some("dd04bcfb4b0a".into()),
                    }],
                },
            },
            SourceReport {
                source: AppSource::Snap,
                state: SourceState::Skipped {
                    reason: "snapd is not installed".into(),
                },
            },
        ]
    }

    #[test]
    fn check_shows_each_layer_and_what_to_run() {
        let report = CheckReport {
            base: Layer::Done(BaseCheck {
                backend: BackendKind::Ostree,
                current: V1.into(),
                current_version: Some("1".into()),
                origin: Some("origin:horizon/stable".into()),
                latest: V2.into(),
                latest_version: Some("2".into()),
                update_available: true,
            }),
            containers: Layer::Done(ContainerResults {
                results: vec![
                ContainerCheck {
                    name: "tools".into(),
                    generation: Some(1),
                    image: "127.0.0.1:5000/horizon/tools:latest".into(),
                    installed_digest: Some(format!("sha256:{}", "a".repeat(64))),
                    available_digest: Some(format!("sha256:{}", "b".repeat(64))),
                    image_update: true,
                    definition_changed: true,
                    definition_exists: true,
                    error: None,
                    record_unreadable: false,
                },
                ContainerCheck {
                    name: "dev".into(),
                    generation: Some(3),
                    image: "127.0.0.1:5000/horizon/dev:latest".into(),
                    installed_digest: None,
                    available_digest: None,
                    image_update: false,
                    definition_changed: false,
                    definition_exists: true,
                    error: Some(
                        "resolving 127.0.0.1:5000/horizon/dev:latest at its registry: timed out"
                            .into(),
                    ),
                    record_unreadable: false,
                },
            ],
            }),
            apps: flatpak_change(),
        };
        assert_eq!(
            text(|out| check(out, &report)),
            "Base system (ostree, origin:horizon/stable):\n  next boot: 1 (0ccd480a95c6)\n  \
             available: 2 (0272b151847c) (not downloaded; horizon-update --all stages it)\n\
             Containers:\n  tools: update available (generation 1: image bbbbbbbbbbbb at the \
             registry, definition changed)\n  dev: FAILED: resolving \
             127.0.0.1:5000/horizon/dev:latest at its registry: timed out\n\
             Applications:\n  flatpak (system): up to date (2 installed)\n  flatpak (user): 1 \
             update available\n    org.example.Hello/x86_64/stable 9c1ffb40709e -> dd04bcfb4b0a\n  \
             snap: skipped (snapd is not installed)\nUpdates are available: horizon-update --all\n"
        );
        let quiet = CheckReport {
            base: Layer::Skipped {
                reason: "not an OSTree system".into(),
            },
            containers: Layer::Skipped {
                reason: "no container is installed".into(),
            },
            apps: vec![],
        };
        assert_eq!(
            text(|out| check(out, &quiet)),
            "Base system: skipped (not an OSTree system)\nContainers: skipped (no container is \
             installed)\nEverything is up to date.\n"
        );
    }

    #[test]
    fn an_update_says_the_base_is_staged_for_the_next_boot_and_names_the_generation() {
        let report = UpdateReport {
            scope: horizon_core::system_update::UpdateScope::All,
            previous_generation: Some(1),
            new_generation: Some(2),
            base: Layer::Done(UpgradeOutcome::Staged {
                from: V1.into(),
                to: V2.into(),
                version: Some("2".into()),
            }),
            containers: Layer::Done(ContainerResults {
                results: vec![
                    ContainerUpdate {
                        name: "tools".into(),
                        result: Ok(UpdateOutcome::Updated {
                            from: GenerationRef {
                                generation: 1,
                                image_digest: Some(format!("sha256:{}", "a".repeat(64))),
                            },
                            to: GenerationRef {
                                generation: 2,
                                image_digest: Some(format!("sha256:{}", "b".repeat(64))),
                            },
                            pruned: vec![],
                            prune_failures: vec![],
                        }),
                        exports: None,
                    },
                    ContainerUpdate {
                        name: "dev".into(),
                        result: Err(horizon_core::Error::InvalidRequest {
                            message: "updating `dev` failed at step \"verify\"".into(),
                        }),
                        exports: None,
                    },
                ],
            }),
            apps: flatpak_change(),
        };
        assert_eq!(
            text(|out| update(out, &report)),
            "Base system: staged 2 (0272b151847c) for the next boot (now 0ccd480a95c6); the \
             running system is unchanged. Reboot to use it.\nContainers:\n  tools: updated from \
             generation 1 (aaaaaaaaaaaa) to generation 2 (bbbbbbbbbbbb)\n  dev: FAILED (the \
             running container is untouched): updating `dev` failed at step \"verify\"\n\
             Applications:\n  flatpak (system): up \
             to date (2 installed)\n  flatpak (user): 1 updated\n    \
             org.example.Hello/x86_64/stable 9c1ffb40709e -> dd04bcfb4b0a\n  snap: skipped (snapd \
             is not installed)\nSystem generation 2 recorded (previous: 1). To go back: \
             horizon-update --rollback\n"
        );
        let failed = UpdateReport {
            base: Layer::Failed {
                error: "upgrading the base system failed: ostree admin upgrade … failed".into(),
                hints: vec![],
            },
            new_generation: None,
            containers: Layer::Failed {
                error: "no Podman service answers".into(),
                hints: vec![horizon_core::Hint::StartService],
            },
            apps: vec![],
            ..report
        };
        assert_eq!(
            text(|out| update(out, &failed)),
            format!(
                "Base system: FAILED: upgrading the base system failed: ostree admin upgrade … \
                 failed\nContainers: FAILED: no Podman service answers\n  hint: {}\nNothing \
                 changed; system generation 1 stays in effect.\n",
                horizon_cli_support::hint::NO_SERVICE
            )
        );
    }

    #[test]
    fn a_rollback_says_what_boots_next_and_which_generation_is_in_effect() {
        let report = RollbackReport {
            scope: RollbackScope::Both,
            from_generation: 2,
            to_generation: 1,
            base: Layer::Done(RollbackOutcome::MadeDefault {
                from: V2.into(),
                to: V1.into(),
            }),
            containers: Layer::Done(ContainerResults {
                results: vec![ContainerRollback {
                    name: "tools".into(),
                    generation: 1,
                    outcome: Some(horizon_core::update::RollbackOutcome::RolledBack {
                        from: GenerationRef {
                            generation: 2,
                            image_digest: None,
                        },
                        to: GenerationRef {
                            generation: 1,
                            image_digest: None,
                        },
                    }),
                    error: None,
                }],
            }),
        };
        assert_eq!(
            text(|out| rollback(out, &report)),
            "Base system: 0ccd480a95c6 is the default for the next boot again (was \
             0272b151847c); the running system is unchanged. Reboot to use it.\nContainers:\n  \
             tools: generation 1 is active again (was generation 2)\nSystem generation 1 is in \
             effect again (was 2).\n"
        );
        let failed = RollbackReport {
            base: Layer::Failed {
                error: "boom".into(),
                hints: vec![],
            },
            ..report
        };
        assert_eq!(
            text(|out| rollback(out, &failed)),
            "Base system: FAILED: boom\nContainers:\n  tools: generation 1 is active again (was \
             generation 2)\nSystem generation 2 stays in effect; run the rollback again once the \
             failure is fixed.\n"
        );
    }

    #[test]
    fn history_lists_generations_and_marks_the_current_one() {
        let generation =
            |number: u64, cause: GenerationCause, checksum: &str, version: &str| SystemGeneration {
                schema_version: SYSTEM_GENERATION_SCHEMA_VERSION,
                generation: number,
                recorded_unix: 0,
                parent: number.checked_sub(1).filter(|parent| *parent > 0),
                cause,
                base: Some(BaseRecord {
                    backend: BackendKind::Ostree,
                    os: None,
                    checksum: checksum.into(),
                    version: Some(version.into()),
                }),
                containers: vec![ContainerRecord {
                    name: "tools".into(),
                    generation: number,
                    image_digest: None,
                }],
            };
        let history_value = History {
            current: Some(1),
            generations: vec![
                generation(1, GenerationCause::Found, V1, "1"),
                generation(2, GenerationCause::UpdateAll, V2, "2"),
            ],
        };
        assert_eq!(
            text(|out| history(out, &history_value)),
            "  GEN  CAUSE              BASE                  CONTAINERS\n\
             *   1  found              1 (0ccd480a95c6)      tools:1\n    \
             2  update --all       2 (0272b151847c)      tools:2\n"
        );
        let empty = History {
            current: None,
            generations: vec![],
        };
        assert_eq!(
            text(|out| history(out, &empty)),
            "No system generation recorded yet: horizon-update --all records one.\n"
        );
    }
}
