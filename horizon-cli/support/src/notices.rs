//! The observer every binary hands horizon-core: a call's events shown on stderr — progress
//! through the [`ProgressView`] (a view per container, named with it, in `horizon-container`;
//! one view of layers in `horizon-update`), and one line for each notice (a service started for
//! the call, an interrupted transaction finished first, an unusable agent).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use crate::hint::enable_socket_command;
use horizon_core::engine::StartedService;
use horizon_core::update::UpdateProgress;
use horizon_core::{Event, Observer};

use crate::progress::{Progress, ProgressView};

/// How progress is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressLayout {
    /// Each container's steps in a view of its own (`horizon-container`).
    PerContainer,
    /// Layers, the containers' steps as lines of the `containers` layer (`horizon-update`).
    System,
}

/// Shows a call's events on stderr, each line prefixed with the binary's name.
pub struct StderrObserver {
    binary: &'static str,
    layout: ProgressLayout,
    terminal: bool,
    /// The view now drawn, and whose it is.
    view: Mutex<Option<(String, ProgressView)>>,
}

impl std::fmt::Debug for StderrObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StderrObserver")
            .field("binary", &self.binary)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl StderrObserver {
    /// An observer for `binary`'s calls.
    pub fn new(binary: &'static str, layout: ProgressLayout) -> Self {
        StderrObserver {
            binary,
            layout,
            terminal: std::io::stderr().is_terminal(),
            view: Mutex::new(None),
        }
    }

    /// Ends the progress view (the last step shown done); call it when the call returns.
    pub fn finish(&self) {
        if let Ok(mut view) = self.view.lock()
            && let Some((_, view)) = view.take()
        {
            view.finish();
        }
    }

    /// Shows `progress` in the view called `key` (made with `prefix` and `plain_pulls` when it
    /// is not the one drawn).
    fn show(&self, key: &str, prefix: &str, plain_pulls: bool, progress: &Progress<'_>) {
        let Ok(mut view) = self.view.lock() else {
            return;
        };
        if view.as_ref().is_none_or(|(current, _)| current != key) {
            if let Some((_, old)) = view.take() {
                old.finish();
            }
            *view = Some((
                key.to_owned(),
                ProgressView::new(self.terminal, prefix, plain_pulls),
            ));
        }
        if let Some((_, view)) = view.as_ref() {
            view.show(progress);
        }
    }

    /// One notice line, escaped (it can quote an error's text); a lost notice is not worth
    /// failing the call for.
    fn notice(&self, text: std::fmt::Arguments<'_>) {
        let text = text.to_string();
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}: {}",
            self.binary,
            horizon_core::printable::escape_lines(&text)
        );
    }
}

impl Observer for StderrObserver {
    fn event(&self, event: &Event<'_>) {
        match (event, self.layout) {
            (Event::ServiceStarted { service, uid }, _) => {
                self.notice(format_args!("{}", started_notice(service, *uid)));
            }
            (Event::Recovered { recovery, .. }, _) => self.notice(format_args!("{recovery}")),
            (Event::RecoveryFailed { name, error }, _) => self.notice(format_args!(
                "warning: could not finish an interrupted update of {name}: {}",
                horizon_core::update::error_chain(*error)
            )),
            (Event::AgentUnusable { reason }, ProgressLayout::PerContainer) => {
                tracing::warn!("{reason}; containers are made without it");
            }
            (Event::AgentUnusable { reason }, ProgressLayout::System) => {
                // Quiet: horizon-container install says it loudly.
                tracing::debug!("{reason}");
            }
            (Event::Install { progress, .. }, _) => {
                self.show("install", "", true, &(*progress).into());
            }
            (Event::Update { name, progress }, ProgressLayout::PerContainer) => {
                self.show(name, &format!("{name}: "), false, &(*progress).into());
            }
            (
                Event::Update {
                    name,
                    progress: UpdateProgress::Step { step, subject },
                },
                ProgressLayout::System,
            ) => {
                self.show_layer("containers", &format!("{name}: {step}: {subject}"));
            }
            (Event::System { progress }, _) => {
                let horizon_core::system_update::Progress::Layer { layer, action } = progress;
                self.show_layer(layer, &format!("{action}…"));
            }
            _ => {}
        }
    }
}

impl StderrObserver {
    fn show_layer(&self, layer: &str, subject: &str) {
        let prefix = format!("{}: ", self.binary);
        self.show(
            "system",
            &prefix,
            false,
            &Progress::Step {
                step: &layer,
                subject,
                pull: false,
            },
        );
    }
}

/// The line that says horizon started a service, where, and how to make it permanent.
pub fn started_notice(started: &StartedService, uid: u32) -> String {
    format!(
        "started the Podman service on unix://{} (pid {}, log {}); it exits after {} s without \
         requests. To keep one running: {}",
        started.socket.display(),
        started.pid,
        started.log.display(),
        started.idle_timeout.as_secs(),
        enable_socket_command(uid)
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_started_notice_says_what_where_and_how_to_make_it_permanent() {
        let started = StartedService {
            pid: 4242,
            socket: "/run/user/1000/podman/podman.sock".into(),
            idle_timeout: Duration::from_secs(300),
            log: "/run/user/1000/horizonos/podman-service.log".into(),
        };
        assert_eq!(
            started_notice(&started, 1000),
            "started the Podman service on \
             unix:///run/user/1000/podman/podman.sock (pid 4242, log \
             /run/user/1000/horizonos/podman-service.log); it exits after 300 s without requests. \
             To keep one running: systemctl --user enable --now podman.socket"
        );
        assert!(
            started_notice(&started, 0)
                .ends_with("To keep one running: systemctl enable --now podman.socket")
        );
    }
}
