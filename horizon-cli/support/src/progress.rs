//! Progress of long work on stderr — `install` and `update` build, pull and start images for
//! minutes: on a terminal a spinner per step with a bar of bytes while pulling (indicatif), in a
//! log one plain line per step (and per layer milestone where the command asks for them).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use horizon_core::engine::PullEvent;
use horizon_core::lifecycle::{InstallProgress, InstallStep};
use horizon_core::printable::escape;
use horizon_core::update::{UpdateProgress, UpdateStep};
use indicatif::{ProgressBar, ProgressStyle};

/// One event of long work, whichever operation it comes from.
pub enum Progress<'a> {
    /// A step begins.
    Step {
        /// Its name.
        step: &'a dyn Display,
        /// What it works on.
        subject: &'a str,
        /// It is the pull (its subject is the image the pull events are about).
        pull: bool,
    },
    /// The pull made progress.
    Pull(&'a PullEvent),
}

impl<'a> From<&'a InstallProgress<'a>> for Progress<'a> {
    fn from(progress: &'a InstallProgress<'a>) -> Self {
        match progress {
            InstallProgress::Step { step, subject } => Progress::Step {
                step,
                subject,
                pull: *step == InstallStep::Pull,
            },
            InstallProgress::Pull(event) => Progress::Pull(event),
        }
    }
}

impl<'a> From<&'a UpdateProgress<'a>> for Progress<'a> {
    fn from(progress: &'a UpdateProgress<'a>) -> Self {
        match progress {
            UpdateProgress::Step { step, subject } => Progress::Step {
                step,
                subject,
                pull: *step == UpdateStep::Build(InstallStep::Pull),
            },
            UpdateProgress::Pull(event) => Progress::Pull(event),
        }
    }
}

/// Pull statuses that only report bytes: a plain log shows the layer's milestones, not these.
const BYTE_TICK_STATUSES: &[&str] = &["Downloading", "Extracting", "Copying"];
/// Pull statuses that mean a layer is there.
const LAYER_DONE_STATUSES: &[&str] = &["Download complete", "Pull complete", "Already exists"];
/// A layer id in the pull stream: Podman shows 12 hex digits (other ids are tags or digests).
const LAYER_ID_LEN: usize = 12;
/// How often the terminal spinner redraws.
const SPINNER_TICK: Duration = Duration::from_millis(120);

/// "step: subject", or the step alone when it works on nothing in particular; escaped, as the
/// subject can be a definition's text (a verify command).
fn step_line(step: &dyn Display, subject: &str) -> String {
    let line = if subject.is_empty() {
        step.to_string()
    } else {
        format!("{step}: {subject}")
    };
    escape(&line).into_owned()
}

/// One plain progress line, or `None` for byte ticks (a log shows milestones only).
fn plain_line(progress: &Progress<'_>, pulling: &str) -> Option<String> {
    match progress {
        Progress::Step { step, subject, .. } => Some(step_line(*step, subject)),
        Progress::Pull(event) => {
            if BYTE_TICK_STATUSES.contains(&event.status.as_str()) {
                return None;
            }
            let status = event.status.trim();
            if status.is_empty() {
                return None;
            }
            // The status is the registry's text, passed on by Podman.
            let line = match layer_id(event) {
                Some(layer) => {
                    format!("pulling {pulling}: layer {layer} {}", status.to_lowercase())
                }
                None => format!("pulling {pulling}: {status}"),
            };
            Some(escape(&line).into_owned())
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

/// Shows the progress of long work: on a terminal, a spinner per step and a bar of bytes while
/// pulling; otherwise plain lines (each step, and with `plain_pulls` each layer's milestones).
pub struct ProgressView {
    terminal: Option<ProgressBar>,
    /// Put before every line (`update` names the container: it updates several in a row).
    prefix: String,
    plain_pulls: bool,
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
    /// A view on stderr; `terminal` when stderr is one.
    pub fn new(terminal: bool, prefix: &str, plain_pulls: bool) -> Self {
        // A terminal that cannot redraw (TERM unset or `dumb`) gets the plain lines.
        let terminal = terminal
            .then(ProgressBar::new_spinner)
            .filter(|bar| !bar.is_hidden());
        if let Some(bar) = &terminal {
            bar.enable_steady_tick(SPINNER_TICK);
        }
        ProgressView {
            terminal,
            prefix: prefix.to_owned(),
            plain_pulls,
            state: Mutex::new(ViewState::default()),
        }
    }

    /// Shows one event.
    pub fn show(&self, progress: &Progress<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if let Progress::Step {
            subject,
            pull: true,
            ..
        } = progress
        {
            state.pulling = (*subject).to_owned();
        }
        match &self.terminal {
            None => {
                if matches!(progress, Progress::Pull(_)) && !self.plain_pulls {
                    return;
                }
                if let Some(line) = plain_line(progress, &state.pulling) {
                    // Progress is a courtesy: a closed stderr must not fail the work.
                    let _ = writeln!(std::io::stderr().lock(), "{}{line}", self.prefix);
                }
            }
            Some(bar) => match progress {
                Progress::Step { step, subject, .. } => {
                    if let Some(done) = state.current.take() {
                        bar.println(format!("✓ {done}"));
                    }
                    let line = format!("{}{}", self.prefix, step_line(*step, subject));
                    bar.set_style(ProgressStyle::default_spinner());
                    bar.set_message(line.clone());
                    state.current = Some(line);
                }
                Progress::Pull(event) => {
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
                        "{}pulling {}: layers {done}/{}",
                        self.prefix,
                        state.pulling,
                        state.layers.len()
                    ));
                }
            },
        }
    }

    /// Ends the view: the last step is shown done and the spinner cleared.
    pub fn finish(&self) {
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

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Step {
                step,
                subject,
                pull,
            } => f
                .debug_struct("Step")
                .field("step", &step.to_string())
                .field("subject", subject)
                .field("pull", pull)
                .finish(),
            Progress::Pull(event) => f.debug_tuple("Pull").field(event).finish(),
        }
    }
}

impl std::fmt::Debug for ProgressView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressView")
            .field("terminal", &self.terminal.is_some())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
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
                plain_line(&(&progress).into(), image).as_deref(),
                expected,
                "{progress:?}"
            );
        }
    }

    #[test]
    fn an_update_step_is_named_alone_when_it_has_no_subject() {
        let cases = [
            (
                UpdateProgress::Step {
                    step: UpdateStep::VerifyExports,
                    subject: "",
                },
                "verify exports",
            ),
            (
                UpdateProgress::Step {
                    step: UpdateStep::Build(InstallStep::Pull),
                    subject: "busybox",
                },
                "pull: busybox",
            ),
        ];
        for (progress, expected) in cases {
            let progress: Progress<'_> = (&progress).into();
            assert_eq!(plain_line(&progress, "").as_deref(), Some(expected));
        }
        let pull = UpdateProgress::Step {
            step: UpdateStep::Build(InstallStep::Pull),
            subject: "busybox",
        };
        assert!(matches!((&pull).into(), Progress::Step { pull: true, .. }));
    }
}
