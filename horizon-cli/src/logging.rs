//! Tracing on stderr for horizon's binaries: `HORIZON_DEBUG=1` shows horizon's own debug events
//! (every Podman API call and host command with its status and duration), `RUST_LOG` anything
//! else. `horizon-update` includes this very file (`#[path]`), so both binaries trace alike.

/// What `HORIZON_DEBUG=1` shows: the library's and this binary's debug events, not the HTTP
/// library's chatter.
const DEBUG_FILTER: &str = concat!(
    "warn,horizon_core=debug,",
    env!("CARGO_CRATE_NAME"),
    "=debug"
);

/// Installs the stderr subscriber; colours only on a terminal.
pub fn init_tracing() {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => filter,
        Err(_) if std::env::var_os("HORIZON_DEBUG").is_some_and(|v| v != "0") => {
            DEBUG_FILTER.into()
        }
        Err(_) => "warn".into(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}
