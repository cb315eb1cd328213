//! `horizon-container rollback NAME [--to GEN]`: one call to `update::rollback` under the
//! container's lock — the previous kept generation (or the one named) runs again, without any
//! network; the generation it replaces is kept. Ctrl-C or SIGTERM stops it, and the journal puts
//! things back (or finishes the swap) before the command exits 130.

use std::io::Write;
use std::process::ExitCode;

use anyhow::anyhow;
use horizon_core::update::{RollbackOutcome, RollbackTarget, recover, rollback};
use serde::Serialize;

use super::guard::{lock_for_write, render_recovery, update_failure, update_stores};
use super::{connect_engine, print_report};
use crate::cli::GlobalArgs;
use crate::exit::{self, Failure};
use crate::interrupt::Interrupt;

/// Version of the `--json` document below; bumped on any incompatible change.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
struct RollbackReport<'a> {
    schema_version: u32,
    name: &'a str,
    #[serde(flatten)]
    outcome: &'a RollbackOutcome,
}

pub async fn run(
    global: &GlobalArgs,
    name: &str,
    to: Option<u64>,
    wait: bool,
) -> Result<ExitCode, Failure> {
    let engine = connect_engine(global).await?;
    let stores = update_stores(global);
    let lock = lock_for_write(global, &engine, name, "rollback", wait).await?;
    let target = to.map_or(RollbackTarget::Previous, RollbackTarget::Generation);
    let mut interrupt = Interrupt::listen()?;
    let outcome = tokio::select! {
        // A signal that arrived wins over a step that finished meanwhile.
        biased;
        signal = interrupt.received() => {
            let recovery = recover(&engine, &lock, &stores).await.map_err(update_failure)?;
            if let Some(recovery) = &recovery {
                let _ = render_recovery(&mut std::io::stderr().lock(), recovery);
            }
            return Err(Failure::new(
                exit::INTERRUPTED,
                anyhow!("the rollback of {name} was interrupted ({signal})"),
            ));
        }
        outcome = rollback(&engine, &lock, &stores, target) => outcome.map_err(update_failure)?,
    };
    let report = RollbackReport {
        schema_version: SCHEMA_VERSION,
        name,
        outcome: &outcome,
    };
    print_report(global.json, &report, |out| render(out, name, &outcome))?;
    Ok(ExitCode::SUCCESS)
}

fn render(out: &mut impl Write, name: &str, outcome: &RollbackOutcome) -> std::io::Result<()> {
    match outcome {
        RollbackOutcome::RolledBack { from, to } => writeln!(
            out,
            "rolled {name} back: generation {} runs again (generation {} is kept; \
             `horizon-container rollback {name} --to {}` returns to it)",
            to.generation, from.generation, from.generation
        ),
        RollbackOutcome::AlreadyActive { current } => writeln!(
            out,
            "{name} runs generation {} already; nothing changed",
            current.generation
        ),
        _ => writeln!(out, "{name}: done"),
    }
}

#[cfg(test)]
mod tests {
    use horizon_core::update::GenerationRef;

    use super::*;

    #[test]
    fn renders_each_outcome() {
        let generation = |generation| GenerationRef {
            generation,
            image_digest: None,
        };
        let mut out = Vec::new();
        render(
            &mut out,
            "tools",
            &RollbackOutcome::RolledBack {
                from: generation(3),
                to: generation(2),
            },
        )
        .unwrap();
        render(
            &mut out,
            "tools",
            &RollbackOutcome::AlreadyActive {
                current: generation(2),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "rolled tools back: generation 2 runs again (generation 3 is kept; \
             `horizon-container rollback tools --to 3` returns to it)\n\
             tools runs generation 2 already; nothing changed\n"
        );
    }
}
