//! Ctrl-C and SIGTERM during work that must not stop halfway: listened for from before the work
//! starts (so neither ends the process), and awaited beside it; the caller then finishes or undoes
//! what was interrupted and exits 130. Shared by horizon-container (`update`, `rollback`) and
//! horizon-update.

use crate::exit::Failure;

/// SIGINT and SIGTERM, listened for from before the work starts.
pub struct Interrupt {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Interrupt {
    /// Starts listening: from now on neither signal ends the process.
    pub fn listen() -> Result<Self, Failure> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Interrupt {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for either; says which.
    pub async fn received(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
