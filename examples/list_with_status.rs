//! Embedding example: a GUI's container list. [`Horizon::list`] gives every definition with its
//! installed state (and says why the states are unknown when no Podman service answers);
//! [`Horizon::status`] gives one container's details: its generation, the generations kept for
//! rollback, whether its definition drifted since install, and its exports.
//!
//! `cargo run -p horizon-examples --example list-with-status`. It reads definitions, state and the
//! Podman endpoint as horizon-container does and uses only horizon-core's public API.

use std::io::Write;

use horizon_core::{Call, Cancel, Horizon, InstalledState, Overrides, Settings, Unobserved};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let horizon = Horizon::new(Settings::from_process(Overrides::default()));
    let cancel = Cancel::never();
    let call = Call::new(&cancel, &Unobserved);
    let mut out = std::io::stdout();

    let list = horizon.list(call).await?;
    for refused in &list.catalog.invalid {
        writeln!(out, "refused definition file: {}", refused.path.display())?;
    }
    let Some(states) = &list.states else {
        let why = list.states_unknown.as_ref().map(ToString::to_string);
        writeln!(out, "states unknown: {}", why.unwrap_or_default())?;
        return Ok(());
    };
    let mut installed = Vec::new();
    for resolved in &list.catalog.definitions {
        let name = &resolved.definition.name;
        let summary = states.by_definition.get(name);
        let state = summary.map(|summary| summary.state);
        writeln!(
            out,
            "{name}: {}{}",
            state.map_or("unknown", InstalledState::as_str),
            if summary.is_some_and(|summary| summary.drifted) {
                " (definition changed since install)"
            } else {
                ""
            }
        )?;
        if state.is_some_and(|state| state != InstalledState::NotInstalled) {
            installed.push(name.clone());
        }
    }

    for name in installed {
        let report = horizon.status(call, &name).await?;
        let status = &report.status;
        let generation = status
            .container
            .as_ref()
            .map_or("none".to_owned(), |facts| facts.generation.to_string());
        writeln!(
            out,
            "{name}: {}, generation {generation}, kept {:?}, drifted {}",
            status.state.as_str(),
            status.kept_generations,
            status.drifted
        )?;
        match &report.exports {
            Ok(exports) => {
                for export in exports {
                    writeln!(out, "  exports {} -> {}", export.name, export.binary)?;
                }
            }
            // The export ledger cannot be read: the status stands without the exports.
            Err(error) => writeln!(out, "  exports unknown: {error}")?,
        }
    }
    Ok(())
}
