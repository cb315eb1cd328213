//! horizon's in-container agent, and everything that talks to it.
//!
//! A managed container's main process (PID 1) is the static `horizon-agent` binary, bind-mounted
//! read-only from the host. It listens on a unix socket in a per-instance host directory that is
//! bind-mounted into the container; an exported wrapper's client connects, passes argv, working
//! directory, the allowlisted environment and its own stdin, stdout and stderr (SCM_RIGHTS), and
//! the agent forks and execs the program inside the container — same namespaces, cgroup,
//! capabilities and seccomp filter as the container, as the calling user — forwards signals and
//! returns the exit status. That costs a connect and a fork, not a `runc exec`.
//!
//! Modules: [`protocol`] (the versioned, bounded wire format), [`transport`] (frames and
//! descriptors on the socket), [`server`] (the agent), [`session`] (the session keeper a program
//! on a terminal runs under), [`terminal`] (the caller's terminal and the pty made like it),
//! [`client`] (the host side), [`layout`]
//! (paths on the host and in the container, the container's command line), [`environment`] and
//! [`workdir`] (the allowlist and the working-directory translation both exec paths share),
//! [`users`] (the container's passwd and group files).
//!
//! Kept free of async runtimes, serde and proc macros so the static build is small and the client
//! on every exported binary's hot path starts fast.

pub mod client;
pub mod environment;
pub mod layout;
pub mod protocol;
mod relay;
pub mod server;
pub mod session;
pub mod terminal;
pub mod transport;
pub mod users;
pub mod workdir;

mod sys;

pub use sys::die_by_signal;
