//! The service itself: ping, version and info.

use hyper::Method;

use super::PodmanEngine;
use super::answers::{InfoAnswer, VersionAnswer};
use super::raw::{Patience, check_status};
use crate::engine::{EngineError, EngineInfo, EngineVersion};

/// Checks that the service answers.
pub(super) async fn ping(engine: &PodmanEngine) -> Result<(), EngineError> {
    let response = engine
        .raw
        .send_with("ping", Method::GET, "/_ping", None, Patience::Short)
        .await?;
    check_status("ping", &response)
}

/// The service's version.
pub(super) async fn version(engine: &PodmanEngine) -> Result<EngineVersion, EngineError> {
    const OPERATION: &str = "version";
    let answer: VersionAnswer = engine
        .raw_json(OPERATION, Method::GET, "/version", None)
        .await?;
    answer.into_version(OPERATION)
}

/// Facts about the service.
pub(super) async fn info(engine: &PodmanEngine) -> Result<EngineInfo, EngineError> {
    const OPERATION: &str = "info";
    let answer: InfoAnswer = engine
        .raw_json(OPERATION, Method::GET, "/info", None)
        .await?;
    answer.into_info(OPERATION)
}
