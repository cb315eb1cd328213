//! Embedding example: find the Podman service the way horizon does, then print its version and the
//! containers horizon manages there. Uses only horizon-core's public API.
//!
//! `cargo run -p horizon-examples --example engine-status` (honours `CONTAINER_HOST`).

use horizon_core::endpoint::DiscoveryInput;
use horizon_core::engine::{Connection, Engine, LabelFilter, connect};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // No auto-start: an embedder decides itself whether to start a service.
    let Connection {
        engine,
        candidate: found,
        ..
    } = connect(&DiscoveryInput::from_process(None), None).await?;
    let version = engine.version().await?;
    let managed = engine.list_containers(&LabelFilter::managed()).await?;

    let mut report = format!(
        "Podman {} (API {}) at {} ({})\n",
        version.version, version.api_version, found.endpoint, found.origin
    );
    report.push_str(&format!(
        "containers managed by horizon: {}\n",
        managed.len()
    ));
    for container in &managed {
        report.push_str(&format!(
            "  {} [{}] {}\n",
            container.name, container.state, container.image
        ));
    }
    std::io::Write::write_all(&mut std::io::stdout(), report.as_bytes())?;
    Ok(())
}
