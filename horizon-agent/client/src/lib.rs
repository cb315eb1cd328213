//! The host side of horizon's in-container agent: what `horizon-exec` (every exported wrapper's
//! client) and horizon-core's `run` and `shell` call to run a program through a container's agent.
//! No async runtime, no definition, no Podman: it opens the active instance's socket
//! ([`connect`], checked step by step against a container that tries to redirect it), sends the
//! request with this process's stdin, stdout and stderr, forwards signals, relays the program's
//! terminal, follows its job-control stops, and returns how it ended ([`run`]).
//!
//! The API is flat: [`connect`] or [`connect_first`], then [`run`] with an [`Invocation`] (or
//! [`run_as_this_process`], or [`run_as_this_process_with`] and the caller's [`ExecOptions`]:
//! `-e`, `-w`, `-t`/`-T` as [`TerminalChoice`]), then [`Outcome`] or [`ClientError`]; a client that
//! should end as the program ended calls [`die_by_signal`].

mod connect;
mod error;
mod relay;
mod run;
mod terminal;
mod working_dir;

pub use connect::{
    RUNTIME_DIR_VAR, connect, connect_first, runtime_dirs, runtime_dirs_of_this_process,
};
pub use error::{ClientError, EXEC_FAILURE};
pub use horizon_agent_protocol::sys::die_by_signal;
pub use horizon_agent_protocol::wire::RefusalKind;
pub use run::{
    ExecOptions, Invocation, Outcome, TerminalChoice, run, run_as_this_process,
    run_as_this_process_with,
};
pub use terminal::caller_terminal;
pub use working_dir::{WorkingDirNote, caller_working_dirs, render_working_dir_note};
