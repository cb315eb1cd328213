//! What a caller hands each use case besides its arguments: a [`Cancel`] input (Ctrl-C, SIGTERM,
//! a GUI's cancel button) and an [`Observer`] that sees what happens while the call runs
//! (progress, a service started for it, an interrupted transaction it finished first). The
//! library never prints: the observer renders, or ignores.

use std::sync::Arc;

use tokio::sync::watch;

use crate::engine::StartedService;
use crate::lifecycle::InstallProgress;
use crate::update::{Recovery, UpdateError, UpdateProgress};

/// Asks a running call to stop. A call stopped between two steps puts the container back in a
/// consistent state (its journal reverts or completes what was begun) before it returns
/// [`super::Error::Interrupted`].
#[derive(Clone, Debug)]
pub struct Cancel {
    receiver: watch::Receiver<Option<Arc<str>>>,
}

/// The side of a [`Cancel`] that cancels.
#[derive(Debug)]
pub struct CancelTrigger {
    sender: watch::Sender<Option<Arc<str>>>,
}

impl CancelTrigger {
    /// Cancels every call holding the matching [`Cancel`]; `reason` is reported (e.g. `SIGINT`).
    pub fn cancel(&self, reason: &str) {
        self.sender.send_replace(Some(Arc::from(reason)));
    }
}

impl Cancel {
    /// A cancel input and its trigger.
    pub fn new() -> (CancelTrigger, Cancel) {
        let (sender, receiver) = watch::channel(None);
        (CancelTrigger { sender }, Cancel { receiver })
    }

    /// An input that never cancels.
    pub fn never() -> Cancel {
        Cancel::new().1
    }

    /// The reason, once cancelled.
    pub fn reason(&self) -> Option<String> {
        self.receiver.borrow().as_deref().map(str::to_owned)
    }

    /// Waits until cancelled and says why; never returns when the trigger is dropped uncancelled.
    pub async fn cancelled(&self) -> String {
        let mut receiver = self.receiver.clone();
        loop {
            if let Some(reason) = receiver.borrow_and_update().as_deref() {
                return reason.to_owned();
            }
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Something that happened during a call, for the caller to show.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// horizon started the user's Podman service for this call.
    ServiceStarted {
        /// The service.
        service: &'a StartedService,
        /// The caller's uid (decides the command that keeps one running).
        uid: u32,
    },
    /// An interrupted transaction of `name` was completed or reverted before the call went on.
    Recovered {
        /// The definition.
        name: &'a str,
        /// What was done.
        recovery: &'a Recovery,
    },
    /// An interrupted transaction of `name` could not be finished; a reader goes on regardless.
    RecoveryFailed {
        /// The definition.
        name: &'a str,
        /// Why.
        error: &'a UpdateError,
    },
    /// The agent binary found is unusable: containers are made without it.
    AgentUnusable {
        /// Why.
        reason: &'a str,
    },
    /// A step of an install.
    Install {
        /// The definition.
        name: &'a str,
        /// The step.
        progress: &'a InstallProgress<'a>,
    },
    /// A step of an update or reinstall.
    Update {
        /// The definition.
        name: &'a str,
        /// The step.
        progress: &'a UpdateProgress<'a>,
    },
    /// A step of a system update (`horizon-update`).
    System {
        /// The step.
        progress: &'a crate::system_update::Progress,
    },
}

/// Sees the events of a call. Must not block for long: steps wait for it.
pub trait Observer: Send + Sync {
    /// One event.
    fn event(&self, event: &Event<'_>);
}

/// An observer that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unobserved;

impl Observer for Unobserved {
    fn event(&self, _event: &Event<'_>) {}
}

/// The inputs of one call beside its arguments.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// Stops the call.
    pub cancel: &'a Cancel,
    /// Sees its events.
    pub observer: &'a dyn Observer,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("cancel", self.cancel)
            .finish_non_exhaustive()
    }
}

impl<'a> Call<'a> {
    /// A call with these inputs.
    pub fn new(cancel: &'a Cancel, observer: &'a dyn Observer) -> Self {
        Call { cancel, observer }
    }

    /// Reports `event` to the observer.
    pub(crate) fn emit(&self, event: Event<'_>) {
        self.observer.event(&event);
    }
}
