//! horizon's end-to-end tests: horizon-core and the binaries against the real test bed (a hermetic
//! Podman service, a local registry and images built here). One test binary, so the bed starts once;
//! each test uses names of its own, so they run in parallel.

// Test code: a panic with the value is the most useful failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod agent_options;
mod base_ostree;
mod cli_info;
mod client_death;
mod corrupt_state;
mod dev;
mod dev_setup;
mod docs;
mod doctor;
mod embedding;
mod engine;
mod exec_options;
mod export;
mod export_transparency;
mod horizon_update;
mod horizon_update_containers;
mod hostile_text;
mod install_crash;
mod layer_privilege;
mod lifecycle;
mod logs;
mod mount_escape;
mod recorded_digest;
mod rough_edges;
mod run;
mod service;
mod shell;
mod special_files;
mod state_files;
mod state_paths;
mod systemd;
mod testbed;
mod update;

/// Held by the root tests that install a built-in definition (its container name is the same in
/// every session of the shared rootful service) and by those that assert the built-ins' states, so
/// that one never sees the other's container.
pub static ROOTFUL_BUILTINS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`ROOTFUL_BUILTINS`] (a test that panicked while holding it leaves nothing to guard).
pub fn rootful_builtins() -> std::sync::MutexGuard<'static, ()> {
    ROOTFUL_BUILTINS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A container name unique to this test and process, so parallel tests and reruns never collide.
pub fn unique_name(test: &str) -> String {
    format!("horizon-e2e-{test}-{}", std::process::id())
}

/// Output bytes as text, for assertions and failure messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts an exit status, showing both streams when it is wrong.
pub fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}
