//! `horizon-container generate systemd|quadlet NAME`: one call to `Horizon::generate_unit`, the
//! file's text on stdout (with `--json`, its name and generation too).

use std::io::Write;
use std::process::ExitCode;

use horizon_cli_support::exit::Failure;
use horizon_core::systemd::UnitKind;

use super::{Session, print_report};
use crate::cli::GenerateCommand;

pub async fn run(session: &Session, command: GenerateCommand) -> Result<ExitCode, Failure> {
    let (kind, name) = match command {
        GenerateCommand::Systemd { name } => (UnitKind::Systemd, name),
        GenerateCommand::Quadlet { name } => (UnitKind::Quadlet, name),
    };
    let unit = session
        .horizon
        .generate_unit(session.call(), &name, kind)
        .await?;
    print_report(session.json, &unit, |out| {
        out.write_all(unit.text.as_bytes())
    })?;
    Ok(ExitCode::SUCCESS)
}
