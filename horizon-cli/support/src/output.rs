//! A command's report on stdout: pretty JSON inside the envelope every horizon document has
//! (`"schema_version"` first, then the report's fields), or the human rendering. A closed stdout
//! (`horizon-container list | head -1`) is not an error.

use std::io::Write;

use serde::Serialize;

use crate::exit::Failure;

/// Version of every `--json` document; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// A report with its schema version.
#[derive(Debug, Serialize)]
pub struct Json<'a, T: Serialize> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The report's own fields.
    #[serde(flatten)]
    pub report: &'a T,
}

impl<'a, T: Serialize> Json<'a, T> {
    /// `report` in the envelope.
    pub fn new(report: &'a T) -> Self {
        Json {
            schema_version: SCHEMA_VERSION,
            report,
        }
    }
}

/// Prints `report` as JSON (with `json`) or through `render`.
pub fn print_report<T: Serialize>(
    json: bool,
    report: &T,
    render: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    let written = if json {
        serde_json::to_writer_pretty(&mut stdout, &Json::new(report))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(stdout))
    } else {
        render(&mut stdout)
    };
    finish_output(written)
}

/// Ends a command's output: a closed pipe is not an error.
pub fn finish_output(written: std::io::Result<()>) -> Result<(), Failure> {
    match written {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::debug!("stdout closed early");
            Ok(())
        }
        other => Ok(other?),
    }
}
