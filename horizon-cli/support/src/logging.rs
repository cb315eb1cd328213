//! Tracing on stderr for horizon's binaries: `HORIZON_DEBUG=1` shows horizon's own debug events
//! (every Podman API call and host command with its status and duration), `RUST_LOG` anything
//! else.

/// Installs the stderr subscriber; colours only on a terminal. `binary_crate` is the calling
/// binary's crate name (its own debug events show too).
pub fn init_tracing(binary_crate: &str) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) => filter,
        Err(_) if std::env::var_os("HORIZON_DEBUG").is_some_and(|v| v != "0") => {
            // The library's and the binary's debug events, not the HTTP library's chatter.
            format!("warn,horizon_core=debug,horizon_cli_support=debug,{binary_crate}=debug")
        }
        Err(_) => "warn".into(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .init();
}
