//! Ctrl-C and SIGTERM as the cancel input of a horizon-core call: listened for from before the
//! call starts (so neither ends the process), they cancel it, and the call reverts or completes
//! what it began before it returns `Interrupted` (the binaries exit 130).

use horizon_core::Cancel;

/// Starts listening for SIGINT and SIGTERM (from now on neither ends the process) and returns
/// the cancel input they trigger. Needs a running tokio runtime.
pub fn cancel_on_signals() -> std::io::Result<Cancel> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let (trigger, cancel) = Cancel::new();
    tokio::spawn(async move {
        let reason = tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        trigger.cancel(reason);
        // Keep listening, so a second signal does not end the process mid-recovery.
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
    });
    Ok(cancel)
}
