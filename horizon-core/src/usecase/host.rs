//! The use cases about the machine rather than one container: `doctor` (is this machine ready,
//! and how to fix what is not; it starts nothing) and `info` (the Podman service in use and the
//! containers horizon manages on it).

use serde::Serialize;

use super::{Call, Error, Horizon};
use crate::doctor::{AgentFinding, DoctorReport};
use crate::engine::{ContainerSummary, Engine, EngineVersion, LabelFilter, PodmanEngine};

/// The outcome of `doctor`.
pub type DoctorOutcome = DoctorReport;

/// The Podman service horizon uses, and what it manages there.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    /// The endpoint connected to.
    pub endpoint: String,
    /// Podman's version.
    pub podman: EngineVersion,
    /// The containers horizon manages.
    pub managed_containers: Vec<ContainerSummary>,
}

impl<E: Engine> Horizon<E> {
    /// Checks the machine (see [`crate::doctor`]); changes nothing and starts no service.
    pub async fn doctor(&self) -> DoctorOutcome {
        let agent = match &self.settings.agent {
            Ok(Some(host)) => AgentFinding::Found(host.binary.clone()),
            Ok(None) => AgentFinding::Missing,
            Err(why) => AgentFinding::Unusable(why.clone()),
        };
        let input = crate::doctor::gather(
            &self.settings.discovery,
            self.settings.paths.export_dir.clone(),
            agent,
            self.unreadable_state(),
        )
        .await;
        crate::doctor::diagnose(&input)
    }
}

impl Horizon<PodmanEngine> {
    /// The service in use and the containers horizon manages on it.
    pub async fn info(&self, call: Call<'_>) -> Result<InfoReport, Error> {
        let engine = self.engine(call).await?;
        Ok(InfoReport {
            endpoint: engine.endpoint().to_string(),
            podman: engine.version().await?,
            managed_containers: engine.list_containers(&LabelFilter::managed()).await?,
        })
    }
}
