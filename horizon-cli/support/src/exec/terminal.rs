//! The caller's terminal during `run` and `shell`: whether there is one, raw mode (put back on
//! every way out, by a guard), the window size and its changes (SIGWINCH), and the caller's stdin
//! as an async stream read by a plain thread (a blocked read on a terminal cannot be cancelled, so
//! it must not hold up the exit the way a runtime's blocking task would).

use std::io::{IsTerminal, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use horizon_core::engine::TerminalSize;
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

/// Bytes read from stdin at a time.
const STDIN_CHUNK: usize = 32 * 1024;
/// Chunks buffered between the stdin thread and the exec stream (backpressure beyond that).
const STDIN_QUEUE: usize = 4;

/// True when a command should get a terminal: the caller's stdin and stdout are both terminals
/// (as with `ssh` and `podman exec -it`; `run … | less` or `run … < file` get plain pipes).
pub fn wants_tty() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// True when stdin is a terminal this process may not read: it runs in the background
/// (`horizon-container run … &`), and a read would stop it with SIGTTIN. The command then gets no
/// stdin, as with `ssh -n`.
pub fn stdin_is_background_terminal() -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    match rustix::termios::tcgetpgrp(&stdin) {
        Ok(foreground) => foreground != rustix::process::getpgrp(),
        Err(error) => {
            tracing::debug!(%error, "cannot read the terminal's foreground process group");
            false
        }
    }
}

/// The terminal in raw mode until dropped: keys, Ctrl-C included, go to the container as bytes,
/// and the terminal in the container does the line editing and signal generation.
#[derive(Debug)]
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Switches stdin's terminal to raw mode.
    pub fn enable() -> std::io::Result<RawMode> {
        let saved = tcgetattr(std::io::stdin())?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(std::io::stdin(), OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Drain: output still queued is shown with the settings it was written under.
        if let Err(error) = tcsetattr(std::io::stdin(), OptionalActions::Drain, &self.saved) {
            tracing::debug!(%error, "restoring the terminal failed (it may be gone)");
        }
    }
}

/// The size of the terminal on stdout.
pub fn size() -> Option<TerminalSize> {
    let size = tcgetwinsize(std::io::stdout()).ok()?;
    Some(TerminalSize {
        rows: size.ws_row,
        columns: size.ws_col,
    })
}

/// The terminal's size now and after every change (SIGWINCH), for as long as the receiver lives.
pub fn watch_size() -> std::io::Result<watch::Receiver<TerminalSize>> {
    let (sender, receiver) = watch::channel(size().unwrap_or_default());
    let mut changes = signal(SignalKind::window_change())?;
    tokio::spawn(async move {
        while changes.recv().await.is_some() {
            if let Some(size) = size()
                && sender.send(size).is_err()
            {
                break;
            }
        }
    });
    Ok(receiver)
}

/// The caller's stdin as an [`AsyncRead`]. A thread reads it and hands chunks over; it ends with
/// the process (or when the reader is dropped and the next chunk arrives).
pub fn stdin() -> ChannelReader {
    let (sender, receiver) = mpsc::channel::<Vec<u8>>(STDIN_QUEUE);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buffer = vec![0u8; STDIN_CHUNK];
            loop {
                let read = match stdin.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => read,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        // A closed or unreadable stdin is an empty one.
                        tracing::debug!(%error, "reading stdin failed");
                        break;
                    }
                };
                if sender.blocking_send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
    if let Err(error) = spawned {
        // Without the thread the command sees an empty stdin; say why in debug output.
        tracing::debug!(%error, "cannot start the stdin thread");
    }
    ChannelReader {
        receiver,
        pending: Vec::new(),
        offset: 0,
    }
}

/// Reads the chunks a thread sends; end of file when the thread is done.
#[derive(Debug)]
pub struct ChannelReader {
    receiver: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    offset: usize,
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Empty chunks are skipped: a read of 0 bytes means end of file.
        while self.offset == self.pending.len() {
            match self.receiver.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(chunk)) => {
                    self.pending = chunk;
                    self.offset = 0;
                }
            }
        }
        let available = &self.pending[self.offset..];
        let taken = available.len().min(buf.remaining());
        buf.put_slice(&available[..taken]);
        self.offset += taken;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[tokio::test]
    async fn channel_reader_yields_every_chunk_then_end_of_file() {
        let (sender, receiver) = mpsc::channel(2);
        let mut reader = ChannelReader {
            receiver,
            pending: Vec::new(),
            offset: 0,
        };
        let writer = tokio::spawn(async move {
            for chunk in [b"abc".to_vec(), Vec::new(), vec![0xff; 100_000]] {
                sender.send(chunk).await.unwrap();
            }
        });
        // A small buffer: chunks are split across reads.
        let mut all = Vec::new();
        let mut buffer = [0u8; 7];
        loop {
            let read = reader.read(&mut buffer).await.unwrap();
            if read == 0 {
                break;
            }
            all.extend_from_slice(&buffer[..read]);
        }
        writer.await.unwrap();
        let mut expected = b"abc".to_vec();
        expected.extend(vec![0xff; 100_000]);
        assert_eq!(all, expected);
    }
}
