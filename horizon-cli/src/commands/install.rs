//! `horizon-container install NAME [--reinstall]`: one call to `lifecycle::install`, with its
//! progress shown on stderr (a bar with layers and bytes on a terminal, one plain line per step and
//! per layer change otherwise) and its outcome on stdout (text, or `--json`). Then every binary of
//! the definition's `export_binaries` is exported (a name that is taken is reported, not forced,
//! and does not fail the install).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;

use horizon_core::engine::PullEvent;
use horizon_core::lifecycle::{
    DesktopHost, InstallOutcome, InstallProgress, InstallRecord, InstallRequest, install,
};
use horizon_core::naming;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::export::{DeclaredExports, export_declared, render_declared, render_refused};
use super::installed::{catalog, lifecycle_failure, resolve, state_store};
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::Failure;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;
/// Pull statuses that only report bytes: a plain log shows the layer's milestones, not these.
const BYTE_TICK_STATUSES: &[&str] = &["Downloading", "Extracting", "Copying"];
/// Pull statuses that mean a layer is there.
const LAYER_DONE_STATUSES: &[&str] = &["Download complete", "Pull complete", "Already exists"];
/// A layer id in the pull stream: Podman shows 12 hex digits (other ids are tags or digests).
const LAYER_ID_LEN: usize = 12;
/// How often the terminal spinner redraws.
const SPINNER_TICK: Duration = Duration::from_millis(120);

#[derive(Debug, Serialize)]
struct InstallReport<'a> {
    schema_version: u32,
    name: &'a str,
    /// `installed` or `already-installed`.
    outcome: &'static str,
    container: String,
    generation: Option<u64>,
    /// The generation a reinstall replaced.
    replaced_generation: Option<u64>,
    /// The definition changed since the install (only for `already-installed`).
    drifted: bool,
    record: Option<&'a InstallRecord>,
}

pub async fn run(global: &GlobalArgs, name: &str, reinstall: bool) -> Result<ExitCode, Failure> {
    let catalog = catalog(global);
    let resolved = resolve(&catalog, name)?;
    let engine = connect_engine(global).await?;
    let _lock = super::guard::lock_for_write(global, &engine, name, "install", false).await?;
    let state = state_store(global);
    let desktop = DesktopHost::probe(
        std::env::var("DISPLAY").ok(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        std::env::var("WAYLAND_DISPLAY").ok(),
    );
    let agent = super::agent_host(global);
    let request = InstallRequest {
        resolved: &resolved,
        reinstall,
        desktop: &desktop,
        state: &state,
        agent: agent.as_ref(),
    };
    let view = ProgressView::new(std::io::stderr().is_terminal());
    let outcome = install(&engine, request, &|progress| view.show(progress)).await;
    view.finish();
    let outcome = outcome.map_err(lifecycle_failure)?;
    let report = report(name, &outcome);
    let exports = export_declared(global, name, &resolved.definition.export_binaries);
    let json = InstallJson {
        report: &report,
        exports: &exports,
    };
    print_report(global.json, &json, |out| {
        render(out, &report)?;
        render_declared(out, &exports)
    })?;
    // A warning that cannot be shown must not fail the install (the JSON carries it too).
    if let Err(error) = render_refused(&mut std::io::stderr().lock(), &exports) {
        tracing::debug!(%error, "cannot write export warnings to stderr");
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--json` document: the install report and the exports of the definition's
/// `export_binaries`.
#[derive(Debug, Serialize)]
struct InstallJson<'a> {
    #[serde(flatten)]
    report: &'a InstallReport<'a>,
    exports: &'a DeclaredExports,
}

fn report<'a>(name: &'a str, outcome: &'a InstallOutcome) -> InstallReport<'a> {
    match outcome {
        InstallOutcome::Installed {
            record,
            replaced_generation,
        } => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "installed",
            container: naming::container_name(name),
            generation: Some(record.generation),
            replaced_generation: *replaced_generation,
            drifted: false,
            record: Some(record),
        },
        InstallOutcome::AlreadyInstalled {
            container,
            record,
            drifted,
        } => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "already-installed",
            container: container.name.clone(),
            generation: container
                .labels
                .get(horizon_core::labels::GENERATION)
                .and_then(|generation| generation.parse().ok()),
            replaced_generation: None,
            drifted: *drifted,
            record: record.as_ref(),
        },
        // A future outcome: say what is known.
        _ => InstallReport {
            schema_version: SCHEMA_VERSION,
            name,
            outcome: "unknown",
            container: naming::container_name(name),
            generation: None,
            replaced_generation: None,
            drifted: false,
            record: None,
        },
    }
}

fn render(out: &mut impl Write, report: &InstallReport<'_>) -> std::io::Result<()> {
    let name = report.name;
    let generation = report
        .generation
        .map_or_else(|| "?".to_owned(), |generation| generation.to_string());
    match (report.outcome, report.record) {
        ("installed", Some(record)) => {
            let digest = record
                .image_digest
                .as_deref()
                .map(|digest| format!(" ({digest})"))
                .unwrap_or_default();
            writeln!(
                out,
                "installed {name}: generation {generation}, container {} running",
                report.container
            )?;
            writeln!(out, "image: {}{digest}", record.image)?;
            if let Some(replaced) = report.replaced_generation {
                writeln!(
                    out,
                    "replaced generation {replaced} (`horizon-container cleanup` removes its image)"
                )?;
            }
            Ok(())
        }
        (_, _) if report.drifted => writeln!(
            out,
            "{name} is installed (generation {generation}, container {}), but its definition \
             changed since; nothing changed. To apply the change: horizon-container install \
             {name} --reinstall",
            report.container
        ),
        (_, _) => writeln!(
            out,
            "{name} is already installed (generation {generation}, container {}); nothing \
             changed. To rebuild it: horizon-container install {name} --reinstall",
            report.container
        ),
    }
}

/// One plain progress line, or `None` for byte ticks (a log shows milestones only).
fn plain_line(progress: &InstallProgress<'_>, pulling: &str) -> Option<String> {
    match progress {
        InstallProgress::Step { step, subject } => Some(format!("{step}: {subject}")),
        InstallProgress::Pull(event) => {
            if BYTE_TICK_STATUSES.contains(&event.status.as_str()) {
                return None;
            }
            let status = event.status.trim();
            if status.is_empty() {
                return None;
            }
            Some(match layer_id(event) {
                Some(layer) => {
                    format!("pulling {pulling}: layer {layer} {}", status.to_lowercase())
                }
                None => format!("pulling {pulling}: {status}"),
            })
        }
    }
}

/// The event's layer id, when its `id` is one (the stream also puts tags there).
fn layer_id(event: &PullEvent) -> Option<&str> {
    event
        .layer
        .as_deref()
        .filter(|id| id.len() == LAYER_ID_LEN && id.bytes().all(|byte| byte.is_ascii_hexdigit()))
}

/// Shows install progress: on a terminal, a spinner per step and a bar of bytes while pulling;
/// otherwise plain lines.
struct ProgressView {
    terminal: Option<ProgressBar>,
    state: Mutex<ViewState>,
}

#[derive(Default)]
struct ViewState {
    /// The image being pulled (the Pull step's subject).
    pulling: String,
    /// Per layer: bytes so far, total (0 while unknown), and whether it is done.
    layers: BTreeMap<String, (u64, u64, bool)>,
    /// The current step's line, printed above the bar when the next step starts.
    current: Option<String>,
}

impl ProgressView {
    fn new(terminal: bool) -> Self {
        // A terminal that cannot redraw (TERM unset or `dumb`) gets the plain lines.
        let terminal = terminal
            .then(ProgressBar::new_spinner)
            .filter(|bar| !bar.is_hidden());
        if let Some(bar) = &terminal {
            bar.enable_steady_tick(SPINNER_TICK);
        }
        ProgressView {
            terminal,
            state: Mutex::new(ViewState::default()),
        }
    }

    fn show(&self, progress: &InstallProgress<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let InstallProgress::Step { step, subject } = progress
            && *step == horizon_core::lifecycle::InstallStep::Pull
        {
            state.pulling = (*subject).to_owned();
        }
        match &self.terminal {
            None => {
                if let Some(line) = plain_line(progress, &state.pulling) {
                    // Progress is a courtesy: a closed stderr must not fail the install.
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
            Some(bar) => match progress {
                InstallProgress::Step { step, subject } => {
                    if let Some(done) = state.current.take() {
                        bar.println(format!("✓ {done}"));
                    }
                    let line = format!("{step}: {subject}");
                    bar.set_style(ProgressStyle::default_spinner());
                    bar.set_message(line.clone());
                    state.current = Some(line);
                }
                InstallProgress::Pull(event) => {
                    if let Some(layer) = layer_id(event) {
                        let entry = state.layers.entry(layer.to_owned()).or_default();
                        if let Some(total) = event.total {
                            *entry = (event.current.unwrap_or(0).min(total), total, entry.2);
                        }
                        if LAYER_DONE_STATUSES.contains(&event.status.as_str()) {
                            entry.0 = entry.1;
                            entry.2 = true;
                        }
                    }
                    let (current, total) = state
                        .layers
                        .values()
                        .fold((0, 0), |(c, t), (current, total, _)| {
                            (c + current, t + total)
                        });
                    let done = state.layers.values().filter(|(_, _, done)| *done).count();
                    if total > 0 {
                        if let Ok(style) = ProgressStyle::with_template(
                            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                        ) {
                            bar.set_style(style.progress_chars("=> "));
                        }
                        bar.set_length(total);
                        bar.set_position(current);
                    }
                    bar.set_message(format!(
                        "pulling {}: layers {done}/{}",
                        state.pulling,
                        state.layers.len()
                    ));
                }
            },
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.terminal {
            if let Ok(mut state) = self.state.lock()
                && let Some(done) = state.current.take()
            {
                bar.println(format!("✓ {done}"));
            }
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use horizon_core::lifecycle::InstallStep;

    use super::*;

    fn event(layer: Option<&str>, status: &str, current: Option<u64>) -> PullEvent {
        PullEvent {
            layer: layer.map(str::to_owned),
            status: status.to_owned(),
            current,
            total: current.map(|_| 100),
        }
    }

    #[test]
    fn plain_progress_names_each_step_and_each_layer_milestone() {
        let image = "127.0.0.1:5000/horizon/busybox:latest";
        let cases: [(InstallProgress<'_>, Option<&str>); 6] = [
            (
                InstallProgress::Step {
                    step: InstallStep::Pull,
                    subject: image,
                },
                Some("pull: 127.0.0.1:5000/horizon/busybox:latest"),
            ),
            (
                InstallProgress::Pull(&event(Some("63ca7ff05195"), "Pulling fs layer", None)),
                Some(
                    "pulling 127.0.0.1:5000/horizon/busybox:latest: layer 63ca7ff05195 pulling fs layer",
                ),
            ),
            (
                InstallProgress::Pull(&event(Some("63ca7ff05195"), "Downloading", Some(5))),
                None,
            ),
            (
                InstallProgress::Pull(&event(Some("63ca7ff05195"), "Download complete", None)),
                Some(
                    "pulling 127.0.0.1:5000/horizon/busybox:latest: layer 63ca7ff05195 download complete",
                ),
            ),
            (
                InstallProgress::Pull(&event(Some("latest"), "Pulling from horizon/busybox", None)),
                Some("pulling 127.0.0.1:5000/horizon/busybox:latest: Pulling from horizon/busybox"),
            ),
            (
                InstallProgress::Step {
                    step: InstallStep::InstallPackages,
                    subject: "apt-get: git make",
                },
                Some("install packages: apt-get: git make"),
            ),
        ];
        for (progress, expected) in cases {
            assert_eq!(
                plain_line(&progress, image).as_deref(),
                expected,
                "{progress:?}"
            );
        }
    }

    fn record() -> InstallRecord {
        InstallRecord {
            schema_version: 1,
            name: "tools".into(),
            layer: "user".into(),
            definition_hash: "ab".into(),
            generation: 2,
            image: "127.0.0.1:5000/horizon/busybox:latest".into(),
            image_digest: Some("sha256:cd".into()),
            image_id: "1234".into(),
            generation_image: "localhost/horizonos/tools:2".into(),
            generation_image_id: "5678".into(),
            container_id: "9abc".into(),
            package_manager: None,
            packages: vec![],
            persistent: true,
            installed_at: "2024-01-01T00:00:00Z".into(),
            export_binaries: vec![],
        }
    }

    #[test]
    fn renders_each_outcome() {
        let installed = InstallOutcome::Installed {
            record: record(),
            replaced_generation: Some(1),
        };
        let mut out = Vec::new();
        render(&mut out, &report("tools", &installed)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "installed tools: generation 2, container horizonos-tools running\n\
             image: 127.0.0.1:5000/horizon/busybox:latest (sha256:cd)\n\
             replaced generation 1 (`horizon-container cleanup` removes its image)\n"
        );
        let container = horizon_core::engine::ContainerSummary {
            id: "9abc".into(),
            name: "horizonos-tools".into(),
            image: "localhost/horizonos/tools:2".into(),
            image_id: "5678".into(),
            state: "running".into(),
            labels: BTreeMap::from([(horizon_core::labels::GENERATION.to_owned(), "2".to_owned())]),
        };
        for (drifted, expected) in [
            (
                false,
                "tools is already installed (generation 2, container horizonos-tools); nothing \
                 changed. To rebuild it: horizon-container install tools --reinstall\n",
            ),
            (
                true,
                "tools is installed (generation 2, container horizonos-tools), but its definition \
                 changed since; nothing changed. To apply the change: horizon-container install \
                 tools --reinstall\n",
            ),
        ] {
            let outcome = InstallOutcome::AlreadyInstalled {
                container: container.clone(),
                record: None,
                drifted,
            };
            let mut out = Vec::new();
            render(&mut out, &report("tools", &outcome)).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
