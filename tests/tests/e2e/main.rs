//! horizon's end-to-end tests: horizon-core and the binaries against the real test bed (a hermetic
//! Podman service, a local registry and images built here). One test binary, so the bed starts once;
//! each test uses names of its own, so they run in parallel.

// Test code: a panic with the value is the most useful failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_info;
mod docs;
mod doctor;
mod engine;
mod lifecycle;
mod logs;
mod run;
mod service;
mod shell;
mod testbed;

/// A container name unique to this test and process, so parallel tests and reruns never collide.
pub fn unique_name(test: &str) -> String {
    format!("horizon-e2e-{test}-{}", std::process::id())
}
