//! A TCP proxy in front of the local registry whose behaviour a test switches: forward (a healthy
//! registry), stall (connections are accepted and never answered: a hung registry, for timeouts)
//! or down (nothing listens: connection refused). The test bed starts one and marks its address as
//! a plain-HTTP registry in registries.conf, so images referenced through it are pulled and checked
//! exactly like images of the registry itself.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

/// How the proxy treats connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Pass bytes both ways.
    Forward,
    /// Accept, read, never answer.
    Stall,
    /// Do not listen: connections are refused.
    Down,
}

/// How often the accept loop looks at the mode.
const POLL: Duration = Duration::from_millis(20);

/// The proxy; its thread runs for the life of the process.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: Arc<Mutex<ProxyMode>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free loopback port, forwarding.
    pub fn start(upstream: SocketAddr) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("bind the proxy port")?;
        let addr = listener.local_addr()?;
        let mode = Arc::new(Mutex::new(ProxyMode::Forward));
        let shared = Arc::clone(&mode);
        std::thread::Builder::new()
            .name("registry-proxy".into())
            .spawn(move || accept_loop(Some(listener), addr, upstream, &shared))?;
        Ok(FaultProxy { addr, mode })
    }

    /// `127.0.0.1:PORT`, the registry part of image references through the proxy.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Switches the behaviour for new connections.
    pub fn set_mode(&self, mode: ProxyMode) {
        *self
            .mode
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = mode;
        // Let the accept loop notice (it closes or reopens the port).
        std::thread::sleep(POLL * 3);
    }
}

fn accept_loop(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    upstream: SocketAddr,
    mode: &Mutex<ProxyMode>,
) {
    loop {
        let current = *mode.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if current == ProxyMode::Down {
            listener = None;
            std::thread::sleep(POLL);
            continue;
        }
        if listener.is_none() {
            listener = TcpListener::bind(addr).ok();
        }
        let Some(active) = &listener else {
            std::thread::sleep(POLL);
            continue;
        };
        if active.set_nonblocking(true).is_err() {
            std::thread::sleep(POLL);
            continue;
        }
        match active.accept() {
            Ok((client, _)) => {
                let _ = client.set_nonblocking(false);
                std::thread::spawn(move || match current {
                    ProxyMode::Forward => forward(client, upstream),
                    _ => stall(client),
                });
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Copies bytes both ways until either side closes.
fn forward(client: TcpStream, upstream: SocketAddr) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (Ok(mut client_read), Ok(mut server_write)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let to_server = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut server_write);
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    let _ = std::io::copy(&mut server_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = to_server.join();
}

/// Reads whatever comes and never answers, until the client gives up.
fn stall(mut client: TcpStream) {
    let mut buffer = [0u8; 4096];
    while let Ok(read) = client.read(&mut buffer) {
        if read == 0 {
            break;
        }
    }
    let _ = client.flush();
}
