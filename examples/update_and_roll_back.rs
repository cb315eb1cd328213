//! Embedding example: a GUI's "Update" and "Undo update" buttons. [`Horizon::check`] asks the
//! registry and compares the definition (nothing changes); [`Horizon::update`] builds the next
//! generation beside the running one, verifies it and swaps, keeping the previous one;
//! [`Horizon::rollback`] returns to it without any network. Each call takes the container's lock
//! and finishes a transaction an interrupted command left behind first.
//!
//! `cargo run -p horizon-examples --example update-and-roll-back -- NAME`. It reads definitions,
//! state and the Podman endpoint as horizon-container does and uses only horizon-core's public
//! API.

use std::io::Write;

use horizon_core::{
    Call, Cancel, Event, GenerationRef, Horizon, Observer, Overrides, RollbackOptions,
    RollbackOutcome, RollbackTarget, Settings, UpdateOptions, UpdateOutcome, UpdateProgress,
    UpdateSelection,
};

/// Shows the steps of the update as they happen.
#[derive(Debug)]
struct StepLines;

impl Observer for StepLines {
    fn event(&self, event: &Event<'_>) {
        if let Event::Update {
            name,
            progress: UpdateProgress::Step { step, subject },
        } = event
        {
            // A broken pipe is the reader's choice; the update goes on.
            let _ = writeln!(std::io::stdout(), "{name}: {step} {subject}");
        }
    }
}

fn generation(reference: &GenerationRef) -> String {
    format!(
        "generation {} ({})",
        reference.generation,
        reference
            .image_digest
            .as_deref()
            .unwrap_or("no registry digest")
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: update-and-roll-back NAME")?;
    let horizon = Horizon::new(Settings::from_process(Overrides::default()));
    let cancel = Cancel::never();
    let call = Call::new(&cancel, &StepLines);
    let mut out = std::io::stdout();

    for check in horizon.check(std::slice::from_ref(&name), None).await? {
        // The generation is unknown only when the container's install record cannot be read.
        let generation = check
            .generation
            .map_or_else(|| "unknown".to_owned(), |generation| generation.to_string());
        writeln!(
            out,
            "check {}: generation {generation}, image update {}, definition changed {}",
            check.name, check.image_update, check.definition_changed
        )?;
        if let Some(error) = &check.error {
            writeln!(out, "  check failed: {error}")?;
        }
    }

    let report = horizon
        .update(
            call,
            UpdateSelection::Names(vec![name.clone()]),
            &UpdateOptions::default(),
        )
        .await?;
    for update in &report.containers {
        match &update.result {
            Ok(UpdateOutcome::Updated { from, to, .. }) => writeln!(
                out,
                "updated {}: {} -> {}",
                update.name,
                generation(from),
                generation(to)
            )?,
            Ok(UpdateOutcome::UpToDate { current }) => writeln!(
                out,
                "{} is up to date: {}",
                update.name,
                generation(current)
            )?,
            Ok(other) => writeln!(out, "{}: {other:?}", update.name)?,
            Err(error) => writeln!(out, "{} failed: {error}", update.name)?,
        }
    }
    if let Some(failure) = report.failure() {
        return Err(failure.into());
    }

    let rollback = horizon
        .rollback(
            call,
            &name,
            RollbackTarget::Previous,
            RollbackOptions::default(),
        )
        .await?;
    match &rollback.outcome {
        RollbackOutcome::RolledBack { from, to } => writeln!(
            out,
            "rolled {name} back: {} runs again, {} is kept",
            generation(to),
            generation(from)
        )?,
        other => writeln!(out, "{name}: {other:?}")?,
    }
    Ok(())
}
