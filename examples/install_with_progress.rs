//! Embedding example: what a GUI's "Install" button does. One call, [`Horizon::install`], does the
//! whole job — lock, pull, build the generation, create, verify, start, record, export the
//! definition's binaries — and reports each step to an [`Observer`] while it runs; a cancel input
//! (here Ctrl-C, in a GUI a button) stops it with nothing half-made left behind.
//!
//! `cargo run -p horizon-examples --example install-with-progress -- NAME`. It reads definitions,
//! state and the Podman endpoint as horizon-container does (`HORIZON_USER_DIR`,
//! `HORIZON_STATE_DIR`, `CONTAINER_HOST`, …) and uses only horizon-core's public API.

use std::io::Write;
use std::sync::Mutex;

use horizon_core::{
    Call, Cancel, Event, Horizon, InstallOptions, InstallProgress, Installed, Observer, Overrides,
    Settings,
};

/// A progress view. A GUI would move a progress bar; this one prints a line per step and per
/// layer that finished downloading.
#[derive(Debug, Default)]
struct ProgressLines {
    out: Mutex<Vec<String>>,
}

impl Observer for ProgressLines {
    fn event(&self, event: &Event<'_>) {
        let line = match event {
            Event::Install {
                progress: InstallProgress::Step { step, subject },
                ..
            } => format!("step: {step}: {subject}"),
            Event::Install {
                progress: InstallProgress::Pull(pull),
                ..
            } if pull.status == "Download complete" => {
                format!("layer: {}", pull.layer.as_deref().unwrap_or("?"))
            }
            Event::ServiceStarted { service, .. } => format!("started Podman: {service:?}"),
            _ => return,
        };
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        out.push(line.clone());
        // A broken pipe is the reader's choice; the install goes on.
        let _ = writeln!(std::io::stdout(), "{line}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: install-with-progress NAME")?;
    let horizon = Horizon::new(Settings::from_process(Overrides::default()));

    let (trigger, cancel) = Cancel::new();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            trigger.cancel("SIGINT");
        }
    });
    let progress = ProgressLines::default();
    let report = horizon
        .install(
            Call::new(&cancel, &progress),
            &name,
            InstallOptions::default(),
        )
        .await
        .map_err(|error| format!("install {name}: {error} ({:?})", error.kind()))?;

    let mut out = std::io::stdout().lock();
    match &report.installed {
        Installed::Installed { record } => writeln!(
            out,
            "installed {} generation {} as {}",
            record.name, record.generation, record.generation_image
        )?,
        Installed::AlreadyInstalled { container, .. } => {
            writeln!(out, "{name} is installed already ({container})")?
        }
        Installed::Reinstalled { .. } => writeln!(out, "{name} was rebuilt")?,
        _ => writeln!(out, "{name}: {:?}", report.installed)?,
    }
    for export in &report.exports.exported {
        writeln!(out, "exported {}", export.entry.path.display())?;
    }
    for refused in &report.exports.refused {
        writeln!(out, "not exported {}: {}", refused.binary, refused.error)?;
    }
    writeln!(
        out,
        "{} progress events",
        progress.out.lock().map_or(0, |lines| lines.len())
    )?;
    Ok(())
}
