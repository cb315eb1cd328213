//! `horizon-container rollback NAME [--to GEN]`: one call to `Horizon::rollback` (under the
//! container's lock) — the previous kept generation (or the one named) runs again, without any
//! network; the generation it replaces is kept. Ctrl-C or SIGTERM stops it, and the journal puts
//! things back (or finishes the swap) before the command exits 130.

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::update::{RollbackOutcome, RollbackTarget};

use horizon_core::usecase::RollbackOptions;

use super::{Session, cancel_on_signals, print_report};

pub async fn run(
    session: &Session,
    name: &str,
    to: Option<u64>,
    wait: bool,
) -> Result<ExitCode, Failure> {
    let cancel = cancel_on_signals()?;
    let target = to.map_or(RollbackTarget::Previous, RollbackTarget::Generation);
    let report = session
        .horizon
        .rollback(
            session.call_with(&cancel),
            name,
            target,
            RollbackOptions {
                wait,
                lock_operation: None,
            },
        )
        .await?;
    print_report(session.json, &report, |out| {
        render(out, name, &report.outcome)
    })?;
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
