//! Named failpoints at every step boundary of an install, an update or a rollback, for the fault
//! tests.
//!
//! Compiled in only with the `failpoints` cargo feature (the end-to-end test bed builds
//! `horizon-container` with it; a normal build contains none of this: `hit` is an empty inline
//! function there). The test build reads `HORIZON_FAILPOINTS` once, in the binary, and hands it to
//! `configure`: `POINT=ACTION[,POINT=ACTION…]`, where ACTION is `kill` (SIGKILL to this process:
//! a crash), `interrupt` (SIGINT to this process: Ctrl-C, then the process goes on until it notices),
//! `error` (the step fails with `UpdateError::Failpoint` or `LifecycleError::Failpoint`) or `sleep(MS)` (a slow step, so a test
//! can act meanwhile, e.g. stop the Podman service).
//!
//! Why a small hook of our own and not the `fail` crate: the actions the tests need are signals to
//! the process itself and a plain error, configured from outside the process; `fail`'s
//! configuration language and registry (pause/resume within one process, probabilities, callbacks)
//! would be a dependency whose main features go unused, and its `return` action would still need
//! this code to map onto our error type.

use super::error::UpdateError;
use crate::lifecycle::LifecycleError;

/// The failpoints of an update or rollback, in the order a transaction passes them.
pub const FAILPOINTS: &[&str] = &[
    "update-begun",
    "update-built",
    "update-verified",
    "swap-stopped-old",
    "swap-renamed-old",
    "swap-renamed-new",
    "swap-started-new",
    "update-recorded",
    "update-pruned",
];

/// The failpoints of an install, in the order it passes them: the journal written, the base image
/// pulled, the build container created, the generation image committed (its build container not
/// yet removed), the build journaled, the container created, started, verified and journaled, the
/// record written. The build and container points are on the steps an update shares.
pub const INSTALL_FAILPOINTS: &[&str] = &[
    "install-begun",
    "build-pulled",
    "build-container-created",
    "build-committed",
    "install-built",
    "container-created",
    "container-started",
    "install-verified",
    "install-recorded",
];

#[cfg(feature = "failpoints")]
mod active {
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::Fired;

    /// What a failpoint does when it is reached.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(super) enum Action {
        Kill,
        Interrupt,
        Error,
        Sleep(Duration),
    }

    static CONFIGURED: OnceLock<Vec<(String, Action)>> = OnceLock::new();

    pub(super) fn parse(spec: &str) -> Result<Vec<(String, Action)>, String> {
        let mut points = Vec::new();
        for entry in spec.split(',').filter(|entry| !entry.trim().is_empty()) {
            let (point, action) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}`: expected POINT=ACTION"))?;
            let action = match action.trim() {
                "kill" => Action::Kill,
                "interrupt" => Action::Interrupt,
                "error" => Action::Error,
                other => {
                    let millis = other
                        .strip_prefix("sleep(")
                        .and_then(|rest| rest.strip_suffix(')'))
                        .and_then(|millis| millis.parse().ok())
                        .ok_or_else(|| format!("`{other}`: unknown failpoint action"))?;
                    Action::Sleep(Duration::from_millis(millis))
                }
            };
            points.push((point.trim().to_owned(), action));
        }
        Ok(points)
    }

    pub(super) fn configure(spec: &str) -> Result<(), String> {
        let points = parse(spec)?;
        CONFIGURED
            .set(points)
            .map_err(|_| "failpoints are configured already".to_owned())
    }

    pub(crate) async fn hit(point: &'static str) -> Result<(), Fired> {
        let Some(action) = CONFIGURED.get().and_then(|points| {
            points
                .iter()
                .find(|(name, _)| name == point)
                .map(|(_, action)| action.clone())
        }) else {
            return Ok(());
        };
        tracing::debug!(point, ?action, "failpoint");
        let me = rustix::process::getpid();
        match action {
            Action::Kill => {
                // The process ends here, as in a crash.
                let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
                std::future::pending::<()>().await;
                Ok(())
            }
            Action::Interrupt => {
                // As Ctrl-C: the process's own handler decides what happens.
                let _ = rustix::process::kill_process(me, rustix::process::Signal::INT);
                // Let the signal arrive before the next step begins.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok(())
            }
            Action::Error => Err(Fired {
                point: point.to_owned(),
            }),
            Action::Sleep(duration) => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
        }
    }
}

/// A failpoint whose action is `error` fired: the step fails with it. A normal build has no
/// value of it (the type is empty there), so the conversions below cost nothing.
#[cfg(feature = "failpoints")]
#[derive(Debug)]
pub(crate) struct Fired {
    /// The failpoint's name.
    point: String,
}

/// No failpoint fires in a normal build.
#[cfg(not(feature = "failpoints"))]
#[derive(Debug)]
pub(crate) enum Fired {}

impl From<Fired> for UpdateError {
    fn from(fired: Fired) -> Self {
        #[cfg(feature = "failpoints")]
        return UpdateError::Failpoint { point: fired.point };
        #[cfg(not(feature = "failpoints"))]
        match fired {}
    }
}

impl From<Fired> for LifecycleError {
    fn from(fired: Fired) -> Self {
        #[cfg(feature = "failpoints")]
        return LifecycleError::Failpoint { point: fired.point };
        #[cfg(not(feature = "failpoints"))]
        match fired {}
    }
}

/// The variable a test build reads its failpoints from.
pub const FAILPOINTS_ENV: &str = "HORIZON_FAILPOINTS";

/// Configures the failpoints from [`FAILPOINTS_ENV`] when it is set; once per process, in the
/// binary's `main`.
#[cfg(feature = "failpoints")]
pub fn configure_from_env() -> Result<(), String> {
    match std::env::var_os(FAILPOINTS_ENV) {
        Some(spec) => configure(&spec.to_string_lossy()),
        None => Ok(()),
    }
}

/// Configures the failpoints from `spec` (see the module documentation); once per process.
#[cfg(feature = "failpoints")]
pub fn configure(spec: &str) -> Result<(), String> {
    active::configure(spec)
}

/// Reaches failpoint `point`: in a test build, does what it is configured to do.
#[cfg(feature = "failpoints")]
pub(crate) async fn hit(point: &'static str) -> Result<(), Fired> {
    debug_assert!(
        FAILPOINTS.contains(&point) || INSTALL_FAILPOINTS.contains(&point),
        "unknown failpoint {point}"
    );
    active::hit(point).await
}

/// Reaches failpoint `point`: nothing, in a normal build.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) async fn hit(_point: &'static str) -> Result<(), Fired> {
    Ok(())
}

#[cfg(all(test, feature = "failpoints"))]
mod tests {
    use std::time::Duration;

    use super::active::{Action, parse};

    #[test]
    fn specs_parse_into_actions_and_mistakes_are_named() {
        assert_eq!(
            parse("update-built=kill, swap-stopped-old=sleep(250),update-verified=error").unwrap(),
            [
                ("update-built".to_owned(), Action::Kill),
                (
                    "swap-stopped-old".to_owned(),
                    Action::Sleep(Duration::from_millis(250))
                ),
                ("update-verified".to_owned(), Action::Error),
            ]
        );
        assert_eq!(parse("").unwrap(), []);
        assert_eq!(parse("x").unwrap_err(), "`x`: expected POINT=ACTION");
        assert_eq!(
            parse("x=boom").unwrap_err(),
            "`boom`: unknown failpoint action"
        );
    }
}
