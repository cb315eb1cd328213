//! What horizon's binaries (`horizon-container`, `horizon-update`, `horizon-dev`) share, so each
//! binary is only its command line, one horizon-core call per command, and the rendering of its
//! report: the failure type and the one exit-status table ([`exit`]), hints rendered as command
//! lines ([`hint`]), tracing on stderr ([`logging`]), the progress view ([`progress`]), the
//! observer that shows a call's events on stderr ([`notices`]), Ctrl-C and SIGTERM as a cancel
//! input ([`interrupt`]), completions and man pages ([`docs`]), the `--json` envelope and
//! closed-pipe handling ([`output`]), and small text helpers ([`text`]).

pub mod docs;
pub mod exec;
pub mod exit;
pub mod hint;
pub mod interrupt;
pub mod logging;
pub mod notices;
pub mod output;
pub mod progress;
pub mod session;
pub mod text;
