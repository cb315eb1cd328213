//! Hermetic Podman for the test bed: a storage of our own (`--root/--runroot/--tmpdir`, never the
//! machine's), the `podman` CLI pointed at it, and a `podman system service` on our own socket —
//! rootful, or rootless as the unprivileged test user.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use horizon_core::Endpoint;

use crate::process::{self, Service};

/// How long a freshly started service may take to answer its first ping.
const SERVICE_START_TIMEOUT: Duration = Duration::from_secs(60);
/// The PATH Podman and its helpers (conmon, runc, netavark) run with: the environment is cleared so
/// nothing of the caller's (CONTAINER_HOST above all) leaks in.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// An unprivileged account that Podman runs as (rootless).
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

impl Account {
    /// Looks an account up in /etc/passwd.
    pub fn lookup(name: &str) -> Result<Account> {
        let passwd = std::fs::read_to_string("/etc/passwd").context("read /etc/passwd")?;
        for line in passwd.lines() {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() >= 7 && fields[0] == name {
                return Ok(Account {
                    name: name.to_owned(),
                    uid: fields[2].parse().context("uid in /etc/passwd")?,
                    gid: fields[3].parse().context("gid in /etc/passwd")?,
                    home: PathBuf::from(fields[5]),
                });
            }
        }
        bail!("user {name:?} does not exist: run scripts/setup (as root) to create it")
    }
}

/// One container storage and the configuration every `podman` call on it uses.
#[derive(Clone, Debug)]
pub struct Storage {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub tmpdir: PathBuf,
    /// XDG_RUNTIME_DIR for a rootless user; Podman keeps its pause-process pid there.
    pub runtime_dir: Option<PathBuf>,
    pub account: Option<Account>,
    pub containers_conf: PathBuf,
    pub registries_conf: PathBuf,
}

impl Storage {
    /// Creates the directories (owned by the account, for rootless) under `dir`.
    pub fn create(
        dir: &Path,
        account: Option<Account>,
        containers_conf: &Path,
        registries_conf: &Path,
    ) -> Result<Storage> {
        let storage = Storage {
            root: dir.join("root"),
            runroot: dir.join("runroot"),
            tmpdir: dir.join("tmp"),
            runtime_dir: account.as_ref().map(|_| dir.join("runtime")),
            account,
            containers_conf: containers_conf.to_owned(),
            registries_conf: registries_conf.to_owned(),
        };
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let mut owned = vec![dir.to_owned(), storage.tmpdir.clone()];
        owned.extend(storage.runtime_dir.clone());
        for path in &owned {
            std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
        }
        if let Some(account) = &storage.account {
            for path in &owned {
                std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid))
                    .with_context(|| format!("chown {} to {}", path.display(), account.name))?;
            }
            if let Some(runtime_dir) = &storage.runtime_dir {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(runtime_dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(storage)
    }

    /// The environment of every Podman process on this storage (after `env_clear`).
    fn environment(&self) -> Vec<(&'static str, OsString)> {
        let home = self
            .account
            .as_ref()
            .map_or_else(|| PathBuf::from("/root"), |a| a.home.clone());
        let mut env = vec![
            ("PATH", OsString::from(SYSTEM_PATH)),
            ("HOME", home.into_os_string()),
            (
                "CONTAINERS_CONF",
                self.containers_conf.clone().into_os_string(),
            ),
            (
                "CONTAINERS_REGISTRIES_CONF",
                self.registries_conf.clone().into_os_string(),
            ),
        ];
        if let Some(runtime_dir) = &self.runtime_dir {
            env.push(("XDG_RUNTIME_DIR", runtime_dir.clone().into_os_string()));
        }
        env
    }

    /// A `podman` command on this storage, as the storage's account, with a clean environment.
    pub fn podman(&self) -> Command {
        let mut command = Command::new("podman");
        command
            .env_clear()
            .envs(self.environment())
            .current_dir("/")
            .arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .arg("--tmpdir")
            .arg(&self.tmpdir)
            .args(["--storage-driver", "overlay"]);
        if let Some(account) = &self.account {
            use std::os::unix::process::CommandExt;
            command.uid(account.uid).gid(account.gid);
        }
        command
    }

    /// The pid of Podman's rootless pause process (it holds the user namespace), if any. Podman
    /// 4.3 keeps it in `--tmpdir`; older releases under `$XDG_RUNTIME_DIR/libpod/tmp`.
    pub fn pause_pid(&self) -> Option<u32> {
        let runtime_dir = self.runtime_dir.as_ref()?;
        [
            self.tmpdir.join("pause.pid"),
            runtime_dir.join("libpod/tmp/pause.pid"),
        ]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
    }

    /// Removes every container in this storage (killing its processes), then Podman's rootless pause
    /// process. Used at teardown and to clean up after a run that was killed.
    pub fn remove_all_containers(&self) -> Result<()> {
        let result = process::run(
            self.podman()
                .args(["rm", "--all", "--force", "--time", "0"]),
        );
        if let Some(pid) = self.pause_pid() {
            process::terminate_pid(pid);
        }
        result.map(drop)
    }
}

/// A running `podman system service` on its own socket.
#[derive(Debug)]
pub struct PodmanService {
    pub storage: Storage,
    pub socket: PathBuf,
    process: Service,
}

impl PodmanService {
    /// Starts the service and waits until it answers a ping.
    pub fn start(
        name: &str,
        storage: Storage,
        socket: PathBuf,
        log: &Path,
    ) -> Result<PodmanService> {
        let mut command = storage.podman();
        command
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()));
        let process = Service::start(name, command, log)?;
        let service = PodmanService {
            storage,
            socket,
            process,
        };
        service.wait_until_ready(log)?;
        Ok(service)
    }

    fn wait_until_ready(&self, log: &Path) -> Result<()> {
        let deadline = Instant::now() + SERVICE_START_TIMEOUT;
        loop {
            if ping(&self.socket).is_ok() {
                return Ok(());
            }
            if !self.process.is_running() || Instant::now() > deadline {
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                bail!(
                    "{} did not answer on {} (log {}):\n{log_text}",
                    self.process.name,
                    self.socket.display(),
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The endpoint horizon connects to.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::Unix(self.socket.clone())
    }

    /// `unix://…`, for `--url` and `CONTAINER_HOST`.
    pub fn url(&self) -> String {
        self.endpoint().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Removes every container, stops the service and the rootless pause process.
    pub fn stop(&self) {
        if let Err(error) = self.storage.remove_all_containers() {
            eprintln!("testbed: cleaning up {}: {error:#}", self.process.name);
        }
        self.process.stop();
    }
}

/// A minimal HTTP ping over the socket, without an async runtime.
pub fn ping(socket: &Path) -> Result<()> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("unexpected ping answer: {answer}")
    }
}
