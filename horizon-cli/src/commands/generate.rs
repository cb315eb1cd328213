//! `horizon-container generate systemd|quadlet NAME`: one call to `Horizon::generate_unit`, the
//! file's text on stdout (with `--json`, its name and generation too).

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::systemd::UnitKind;

use super::{Session, print_report};
use crate::cli::GenerateKind;

pub async fn run(session: &Session, kind: GenerateKind, name: &str) -> Result<ExitCode, Failure> {
    let kind = match kind {
        GenerateKind::Systemd => UnitKind::Systemd,
        GenerateKind::Quadlet => UnitKind::Quadlet,
    };
    let unit = session
        .horizon
        .generate_unit(session.call(), name, kind)
        .await?;
    print_report(session.json, &unit, |out| {
        out.write_all(unit.text.as_bytes())
    })?;
    Ok(ExitCode::SUCCESS)
}
