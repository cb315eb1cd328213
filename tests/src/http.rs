//! A static file server on a loopback port, for the OSTree and Flatpak remotes of the tests. Written
//! here (a thread per connection, `GET`/`HEAD`, `Connection: close`) rather than run as a program,
//! because the tests need faults a stock server lacks: it goes down and comes back on the same port,
//! and it can slow down object downloads so that a test kills an upgrade in the middle of a pull.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
/// A client that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests whose path contains this are "object downloads" (OSTree's repository layout).
const OBJECT_PATH: &str = "/objects/";

/// What the connection threads share with the test.
#[derive(Debug, Default)]
struct Shared {
    /// Delay before answering an object request.
    object_delay_ms: AtomicU64,
    /// Object requests seen so far.
    object_requests: AtomicU64,
}

/// A running (or stopped) file server.
#[derive(Debug)]
pub struct FileServer {
    /// The loopback address it listens on, kept across `stop`/`resume`.
    pub addr: SocketAddr,
    root: PathBuf,
    shared: Arc<Shared>,
    running: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

impl FileServer {
    /// Serves the files below `root` on a free loopback port.
    pub fn start(root: &Path) -> Result<FileServer> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind a loopback port")?;
        let server = FileServer {
            addr: listener.local_addr()?,
            root: root.to_owned(),
            shared: Arc::default(),
            running: Mutex::new(None),
        };
        server.serve(listener)?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT/PATH`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Stops listening (clients get "connection refused": the remote is down).
    pub fn stop(&self) {
        if let Some((stop, thread)) = self.lock().take() {
            stop.store(true, Ordering::SeqCst);
            // A panicked accept loop has nothing left to stop.
            let _ = thread.join();
        }
    }

    /// Listens again on the same port.
    pub fn resume(&self) -> Result<()> {
        if self.lock().is_some() {
            return Ok(());
        }
        let listener =
            TcpListener::bind(self.addr).with_context(|| format!("rebind {}", self.addr))?;
        self.serve(listener)
    }

    /// Delays every object download by `delay` from now on (zero: no delay).
    pub fn set_object_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.object_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// How many object downloads were requested so far.
    pub fn object_requests(&self) -> u64 {
        self.shared.object_requests.load(Ordering::SeqCst)
    }

    fn serve(&self, listener: TcpListener) -> Result<()> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = self.root.clone();
        let shared = Arc::clone(&self.shared);
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("file-server-{}", self.addr.port()))
            .spawn(move || accept_loop(&listener, &root, &shared, &stop_flag))?;
        *self.lock() = Some((stop, thread));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Arc<AtomicBool>, JoinHandle<()>)>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(listener: &TcpListener, root: &Path, shared: &Arc<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let root = root.to_owned();
                let shared = Arc::clone(shared);
                std::thread::spawn(move || {
                    // A client that hangs up mid-answer is its own business.
                    let _ = answer(stream, &root, &shared);
                });
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
            }
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
}

fn answer(stream: TcpStream, root: &Path, shared: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if path.contains(OBJECT_PATH) {
        shared.object_requests.fetch_add(1, Ordering::SeqCst);
        let delay = shared.object_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
    }
    let mut stream = stream;
    let file = resolve(root, path).and_then(|file| std::fs::read(file).ok());
    match (method, file) {
        ("GET" | "HEAD", Some(body)) => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method == "GET" {
                stream.write_all(&body)?;
            }
        }
        ("GET" | "HEAD", None) => {
            stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
        }
        _ => {
            stream.write_all(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
        }
    }
    stream.flush()
}

/// The file below `root` that a URL path names; `None` for anything that would leave `root`.
fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|component| !matches!(component, Component::Normal(_)))
    {
        return None;
    }
    let file = root.join(relative);
    file.is_file().then_some(file)
}
