//! What both sides of horizon's in-container agent share: the agent binary (`horizon-agent`, PID 1
//! of a managed container), its clients (`horizon-agent-client`, used by `horizon-exec` and
//! horizon-core) and horizon-core, which prepares the agent's directories and command line.
//!
//! A managed container's main process is the static agent, bind-mounted read-only from the host.
//! It listens on a unix socket in a per-instance host directory that is bind-mounted into the
//! container; a client connects, passes argv, working directory, the allowlisted environment and
//! its own stdin, stdout and stderr (SCM_RIGHTS), and the agent forks and execs the program inside
//! the container, forwards signals and returns the exit status.
//!
//! Modules: [`wire`] (the versioned, bounded messages), [`transport`] (frames and descriptors on
//! the socket), [`layout`] (paths on the host and in the container, the container's command line),
//! [`naming`] (the container a definition runs as), [`environment`] and [`workdir`] (the allowlist
//! and the working-directory translation both exec paths share), [`users`] (the container's passwd
//! and group files, the interactive shell), [`terminal`] (terminal settings as the wire carries
//! them), [`sys`] (signal masks and signalfds, the only `unsafe` code of this crate).
//!
//! Kept free of async runtimes, serde and proc macros: the static agent stays small and
//! `horizon-exec` starts fast.

pub mod environment;
pub mod layout;
pub mod naming;
pub mod sys;
pub mod terminal;
pub mod transport;
pub mod users;
pub mod wire;
pub mod workdir;
