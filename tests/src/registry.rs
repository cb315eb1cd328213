//! A local image registry (the CNCF distribution registry, Debian's `docker-registry`) on a free
//! loopback port. Tests stop and restart it on the same port to make the registry "go down".

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::Service;

/// How long the registry may take to answer `/v2/` after start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A registry serving `dir/storage` on `addr`.
#[derive(Debug)]
pub struct Registry {
    pub addr: SocketAddr,
    config: PathBuf,
    log: PathBuf,
    process: Mutex<Option<Service>>,
}

impl Registry {
    /// Writes the registry's config under `dir` and starts it on a free loopback port.
    pub fn start(dir: &Path, log: &Path) -> Result<Registry> {
        std::fs::create_dir_all(dir.join("storage"))?;
        let addr = free_loopback_port()?;
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.join("storage").display()
            ),
        )?;
        let registry = Registry {
            addr,
            config,
            log: log.to_owned(),
            process: Mutex::new(None),
        };
        registry.resume()?;
        Ok(registry)
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Stops the registry (tests: "the registry is down"). The port stays reserved for `resume`.
    pub fn stop(&self) {
        if let Some(service) = self.lock().take() {
            service.stop();
        }
    }

    /// Starts it again on the same port and storage, and waits until it answers.
    pub fn resume(&self) -> Result<()> {
        let mut slot = self.lock();
        if slot.is_some() {
            return Ok(());
        }
        let mut command = Command::new("docker-registry");
        command.arg("serve").arg(&self.config);
        let service = Service::start("registry", command, &self.log)?;
        let deadline = Instant::now() + START_TIMEOUT;
        while !answers(self.addr) {
            if !service.is_running() || Instant::now() > deadline {
                let log_text = std::fs::read_to_string(&self.log).unwrap_or_default();
                service.stop();
                bail!(
                    "registry did not answer on {} (log {}):\n{log_text}",
                    self.addr,
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        *slot = Some(service);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Service>> {
        self.process
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A loopback port nobody listens on right now. (Another process could take it before the registry
/// binds; the registry would then fail to start and say so.)
fn free_loopback_port() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind a loopback port")?;
    Ok(listener.local_addr()?)
}

/// True when `GET /v2/` answers 200.
fn answers(addr: SocketAddr) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(b"GET /v2/ HTTP/1.0\r\nHost: registry\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"))
    };
    attempt().unwrap_or(false)
}
