//! `horizon-container run NAME [--] CMD ARGS...`: a command in a container, transparently. The
//! plan (argv, environment, directory, starting the container) comes from horizon-core's
//! `exec_plan`; this module wires the caller's side to it: stdin, stdout and stderr as separate
//! byte streams, a terminal in raw mode when there is one, window-size changes, and signals
//! (SIGINT, SIGTERM, SIGHUP, SIGQUIT) forwarded to the command. `shell` runs through here too.
//!
//! Exit status: the command's own; 125 for every failure of horizon or Podman (including bad
//! arguments and no service), so the two never mix. A closed stdout (`run … | head -1`) ends
//! quietly: the command gets SIGPIPE, as it would in a host pipeline, and its status (141 when
//! SIGPIPE ended it) is passed on.

use std::ffi::OsString;
use std::io::Write;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::anyhow;
use horizon_cli_support::exit::{self, Failure};
use horizon_core::engine::ExecStreams;
use horizon_core::exec_plan::{ExecPlan, Invocation, PlanNote};
use horizon_core::usecase::{render_working_dir_note, this_process_caller};
use tokio::io::AsyncWrite;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::Session;
use crate::cli::RunArgs;
use crate::terminal;

/// Signals that end or interrupt a program: delivered to the command instead of ending horizon
/// (which then exits with the command's status).
const FORWARDED_SIGNALS: [SignalKind; 4] = [
    SignalKind::interrupt(),
    SignalKind::terminate(),
    SignalKind::hangup(),
    SignalKind::quit(),
];

/// How long a command whose stdout was closed may go on writing before SIGTERM follows the
/// SIGPIPE (for one that ignores SIGPIPE: in the container its writes never fail).
const CLOSED_PIPE_GRACE: Duration = Duration::from_secs(1);

/// `run`: parse, plan, attach.
pub async fn run(session: &Session, args: RunArgs) -> Result<ExitCode, Failure> {
    let name = definition_name(args.name)?;
    if args.command.is_empty() {
        return Err(
            Failure::new(exit::EXEC_FAILURE, anyhow!("no command given"))
                .with_hint(format!("horizon-container run {name} COMMAND [ARGS...]")),
        );
    }
    let binary = args.command[0].to_string_lossy().into_owned();
    let outcome = execute(session, &name, Invocation::Command(args.command)).await;
    match outcome {
        Err(failure) if args.exported => Err(exported_failure(failure, &name, &binary)),
        other => other,
    }
}

/// For an exported binary, a container that is not installed is "command not found" (127), and
/// the message names the command the user typed.
fn exported_failure(failure: Failure, name: &str, binary: &str) -> Failure {
    let not_installed = matches!(
        failure.error.downcast_ref::<horizon_core::Error>(),
        Some(horizon_core::Error::NotInstalledToRun { .. })
    );
    if !not_installed {
        return failure;
    }
    Failure {
        error: anyhow!("{binary}: it runs in the container {name}, which is not installed"),
        status: exit::NOT_INSTALLED_EXPORT,
        hints: failure.hints,
    }
}

/// The NAME argument of `run` and `shell` (125 when it is missing or not text).
pub fn definition_name(name: Option<OsString>) -> Result<String, Failure> {
    let usage = || "horizon-container run NAME COMMAND [ARGS...] or horizon-container shell NAME";
    let name = name.ok_or_else(|| {
        Failure::new(exit::EXEC_FAILURE, anyhow!("no container name given")).with_hint(usage())
    })?;
    name.into_string().map_err(|name| {
        Failure::new(
            exit::EXEC_FAILURE,
            anyhow!("container name {name:?} is not valid UTF-8"),
        )
        .with_hint("`horizon-container list` shows the container names")
    })
}

/// Runs `invocation` in definition `name`'s container attached to this process's streams and
/// returns the command's exit status. Every failure has status 125.
pub async fn execute(
    session: &Session,
    name: &str,
    invocation: Invocation,
) -> Result<ExitCode, Failure> {
    let caller = this_process_caller(terminal::wants_tty());
    let plan = session
        .horizon
        .prepare_exec(session.call(), name, &invocation, &caller)
        .await
        .map_err(|error| as_exec_failure(error.into()))?;
    let mut stderr = std::io::stderr().lock();
    // A note that cannot be shown must not stop the command.
    if let Err(error) = render_notes(&plan.notes, &plan.container, &mut stderr) {
        tracing::debug!(%error, "cannot write notes to stderr");
    }
    drop(stderr);
    let status = attach(session, &plan).await?;
    exit_status(status)
}

/// Any failure of `run`/`shell` exits 125, whatever status it would have elsewhere.
fn as_exec_failure(mut failure: Failure) -> Failure {
    failure.status = exit::EXEC_FAILURE;
    failure
}

/// The notes shown on stderr before the command runs.
pub fn render_notes(
    notes: &[PlanNote],
    container: &str,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for note in notes {
        match note {
            PlanNote::WorkingDirNotShared {
                caller_dir,
                running_in,
            } => {
                render_working_dir_note(
                    out,
                    caller_dir.as_deref(),
                    container,
                    running_in.as_deref(),
                )?;
            }
            other => writeln!(out, "horizon-container: note: {other:?}")?,
        }
    }
    Ok(())
}

/// The process's exit status as this process's own (125 if Podman reports something no process
/// can exit with).
fn exit_status(status: i64) -> Result<ExitCode, Failure> {
    u8::try_from(status).map(ExitCode::from).map_err(|_| {
        Failure::new(
            exit::EXEC_FAILURE,
            anyhow!("Podman reported exit status {status}, which no process can have"),
        )
    })
}

/// Runs the plan attached to this process: stdin in, stdout and stderr out, signals forwarded,
/// and, with a terminal, raw mode and window-size changes. Returns the command's exit status.
async fn attach(session: &Session, plan: &ExecPlan) -> Result<i64, Failure> {
    let io_failure = |what: &str, error: std::io::Error| {
        Failure::new(exit::EXEC_FAILURE, anyhow!("{what}: {error}"))
    };
    let (signal_sender, signal_receiver) = mpsc::unbounded_channel();
    for kind in FORWARDED_SIGNALS {
        let mut incoming =
            signal(kind).map_err(|error| io_failure("cannot handle signals", error))?;
        let sender = signal_sender.clone();
        tokio::spawn(async move {
            while incoming.recv().await.is_some() {
                if sender.send(kind.as_raw_value()).is_err() {
                    break;
                }
            }
        });
    }
    let tty = plan.request.tty;
    let resize = if tty {
        Some(
            terminal::watch_size()
                .map_err(|error| io_failure("cannot follow the terminal size", error))?,
        )
    } else {
        None
    };
    // Restored when this function returns, on every path, before any error is printed.
    let _raw_mode = if tty {
        Some(
            terminal::RawMode::enable()
                .map_err(|error| io_failure("cannot set the terminal to raw mode", error))?,
        )
    } else {
        None
    };
    let mut stdin = (!terminal::stdin_is_background_terminal()).then(terminal::stdin);
    let mut stdout = ClosedPipe::new(tokio::io::stdout(), signal_sender.clone());
    let mut stderr = ClosedPipe::new(tokio::io::stderr(), signal_sender);
    let streams = ExecStreams {
        stdin: stdin
            .as_mut()
            .map(|reader| reader as &mut (dyn tokio::io::AsyncRead + Send + Unpin)),
        stdout: &mut stdout,
        stderr: &mut stderr,
        resize,
        signals: Some(signal_receiver),
    };
    session
        .horizon
        .attach_exec(session.call(), plan, streams)
        .await
        .map_err(|error| as_exec_failure(error.into()))
}

/// One of this process's output streams. When its reader goes away (EPIPE), the command gets
/// SIGPIPE, as a host process writing to that pipe would, and what it still writes is dropped;
/// should it go on writing for [`CLOSED_PIPE_GRACE`] (it ignores SIGPIPE), SIGTERM follows.
struct ClosedPipe<W> {
    inner: W,
    signals: mpsc::UnboundedSender<i32>,
    closed_since: Option<Instant>,
    terminated: bool,
}

impl<W> ClosedPipe<W> {
    fn new(inner: W, signals: mpsc::UnboundedSender<i32>) -> Self {
        ClosedPipe {
            inner,
            signals,
            closed_since: None,
            terminated: false,
        }
    }

    /// Handles a result of the inner writer: a broken pipe closes this stream.
    fn absorb<T>(&mut self, result: std::io::Result<T>, closed_value: T) -> std::io::Result<T> {
        match result {
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                self.close();
                Ok(closed_value)
            }
            other => other,
        }
    }

    fn close(&mut self) {
        self.closed_since = Some(Instant::now());
        self.signal(SignalKind::pipe());
    }

    fn signal(&self, kind: SignalKind) {
        if self.signals.send(kind.as_raw_value()).is_err() {
            tracing::debug!("the command has ended; no signal sent");
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for ClosedPipe<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(since) = self.closed_since {
            if !self.terminated && since.elapsed() >= CLOSED_PIPE_GRACE {
                self.terminated = true;
                self.signal(SignalKind::terminate());
            }
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => Poll::Ready(self.absorb(result, buf.len())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.closed_since.is_some() {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(self.absorb(result, ())),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.closed_since.is_some() {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(self.absorb(result, ())),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[test]
    fn notes_name_both_directories() {
        let notes = vec![
            PlanNote::WorkingDirNotShared {
                caller_dir: Some("/etc/ssh".into()),
                running_in: Some("/home/me".into()),
            },
            PlanNote::WorkingDirNotShared {
                caller_dir: None,
                running_in: None,
            },
        ];
        let mut out = Vec::new();
        render_notes(&notes, "horizonos-dev", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "horizon-container: note: /etc/ssh is not shared with horizonos-dev; running in \
             /home/me (the home directory there)\n\
             horizon-container: note: the current directory no longer exists; running in the \
             container's default directory\n"
        );
    }

    #[test]
    fn exit_statuses_pass_through() {
        for status in [0, 1, 7, 126, 127, 141, 255] {
            assert_eq!(
                exit_status(status).unwrap(),
                ExitCode::from(u8::try_from(status).unwrap())
            );
        }
        for status in [-1, 256] {
            let failure = exit_status(status).unwrap_err();
            assert_eq!(failure.status, exit::EXEC_FAILURE);
        }
    }

    #[test]
    fn failures_exit_125_with_the_install_hint() {
        use horizon_core::usecase::DefinitionLookup;
        let plan_failure = |lookup: DefinitionLookup| {
            as_exec_failure(Failure::from(horizon_core::Error::NotInstalledToRun {
                name: "dev".into(),
                lookup,
            }))
        };
        let failure = plan_failure(DefinitionLookup::Valid);
        assert_eq!(failure.status, 125);
        assert_eq!(failure.error.to_string(), "dev is not installed");
        assert_eq!(
            failure.hint(),
            Some("install it: `horizon-container install dev`")
        );
        let invalid =
            DefinitionLookup::Invalid("/home/me/.config/horizonos/containers/dev.json".into());
        assert_eq!(
            plan_failure(invalid).hint(),
            Some(
                "its definition /home/me/.config/horizonos/containers/dev.json is invalid: \
                 `horizon-container definition validate \
                 /home/me/.config/horizonos/containers/dev.json` says why; then \
                 `horizon-container install dev`"
            )
        );
        let exported = exported_failure(plan_failure(DefinitionLookup::Valid), "dev", "git");
        assert_eq!(exported.status, 127);
        assert_eq!(
            exported.error.to_string(),
            "git: it runs in the container dev, which is not installed"
        );
        assert_eq!(
            exported.hint(),
            Some("install it: `horizon-container install dev`")
        );
        let failure = as_exec_failure(Failure::new(exit::NO_SERVICE, anyhow!("no Podman")));
        assert_eq!(failure.status, 125);
        assert_eq!(
            definition_name(None).unwrap_err().status,
            exit::EXEC_FAILURE
        );
    }

    /// A writer whose reader has gone.
    struct Broken;

    impl AsyncWrite for Broken {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_pipe_sends_sigpipe_then_sigterm_to_a_writer_that_goes_on() {
        let (sender, mut receiver) = mpsc::unbounded_channel();
        let mut pipe = ClosedPipe::new(Broken, sender);
        pipe.write_all(b"first").await.unwrap();
        pipe.flush().await.unwrap();
        assert_eq!(receiver.try_recv(), Ok(SignalKind::pipe().as_raw_value()));
        pipe.write_all(b"still going").await.unwrap();
        assert!(receiver.try_recv().is_err(), "no SIGTERM within the grace");
        tokio::time::advance(CLOSED_PIPE_GRACE).await;
        pipe.write_all(b"and going").await.unwrap();
        pipe.write_all(b"and going").await.unwrap();
        assert_eq!(
            receiver.try_recv(),
            Ok(SignalKind::terminate().as_raw_value())
        );
        assert!(receiver.try_recv().is_err(), "SIGTERM is sent once");
    }
}
