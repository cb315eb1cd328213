//! Running an API-path exec plan attached to this process: stdin in, stdout and stderr out as
//! separate byte streams, signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) forwarded to the command,
//! and, with a terminal, raw mode and window-size changes. A closed stdout (`run … | head -1`)
//! ends quietly: the command gets SIGPIPE, as it would in a host pipeline.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::anyhow;
use horizon_core::engine::ExecStreams;
use horizon_core::exec_plan::ExecPlan;
use tokio::io::AsyncWrite;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{as_exec_failure, terminal};
use crate::exit::{self, Failure};
use crate::session::Session;

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

/// Runs the plan attached to this process: stdin in, stdout and stderr out, signals forwarded,
/// and, with a terminal, raw mode and window-size changes. Returns the command's exit status.
pub(super) async fn attach(session: &Session, plan: &ExecPlan) -> Result<i64, Failure> {
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
    // A terminal forced with `-t` for a caller that is not on one is the container's alone:
    // there is no local terminal to put in raw mode or to follow the size of.
    let tty = plan.request.tty && terminal::wants_tty();
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
