//! The test bed of horizon's end-to-end tests: per test process, a hermetic rootful Podman service,
//! a rootless one (the unprivileged test user's, started on first use), a local registry on a free
//! loopback port, and test images built here and pushed to it. See `shared/design/testbed.md`.
//!
//! [`TestBed::shared`] starts it once per process; an `atexit` hook stops exactly the processes it
//! started. Every service also gets SIGTERM from the kernel if the test process dies, and the next
//! run removes what a killed run left behind (containers, the rootless pause process, directories).
//! In CI a test bed that cannot start is a failure, never a skip.

// Reporting to the developer on stderr is this crate's job (test harness output).
#![allow(clippy::print_stderr)]

pub mod bins;
pub mod flatpak;
pub mod http;
pub mod images;
pub mod ostree;
pub mod podman;
pub mod process;
pub mod proxy;
pub mod registry;
pub mod session;
pub mod systemd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result};

use crate::podman::{Account, PodmanService, Storage};
use crate::registry::Registry;

/// The unprivileged user of the rootless service (created by `scripts/setup`).
pub const TEST_USER: &str = "horizon-test";
/// Label on every container a test creates, so leftovers are recognisable.
pub const TEST_LABEL: &str = "io.horizonos.test";

/// This sandbox's Podman settings (shared/design/testbed.md): runc (crun refuses the hybrid cgroup
/// layout), cgroupfs and file events (no systemd as PID 1), rlimits that fit without
/// CAP_SYS_RESOURCE, and exec sessions that do not leave conmon behind for five minutes.
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
exit_command_delay = 5
"#;

/// Added for the rootful services only: their network configuration stays in the run directory
/// instead of /etc/containers/networks. (Rootless Podman keeps it in its own storage already.)
const ROOTFUL_NETWORK_CONF: &str = "\n[network]\nnetwork_config_dir = \"NETWORK_DIR\"\n";

/// Podman's limit on the length of a `--runroot` path ("the specified runroot is longer than 50
/// characters").
const PODMAN_MAX_RUNROOT_LEN: usize = 50;

/// The running test bed.
#[derive(Debug)]
pub struct TestBed {
    /// This run's directory; everything the bed creates lives below it.
    pub dir: PathBuf,
    pub registry: Registry,
    /// A switchable proxy in front of the registry (faults: stalled, down), also plain HTTP.
    pub registry_proxy: proxy::FaultProxy,
    pub rootful: PodmanService,
    rootless: Mutex<Option<&'static PodmanService>>,
    build: Storage,
    busybox: Mutex<Option<String>>,
    debian: Mutex<Option<String>>,
    systemd: Mutex<Option<String>>,
}

static SHARED: OnceLock<TestBed> = OnceLock::new();

impl TestBed {
    /// The test bed of this process, started on first use. Panics with the whole reason if it
    /// cannot start: a test that needs Podman must fail, not skip, when Podman is missing.
    pub fn shared() -> &'static TestBed {
        SHARED.get_or_init(|| match TestBed::start() {
            Ok(bed) => {
                process::at_exit(teardown_shared);
                bed
            }
            Err(error) => {
                panic!("the test bed could not start: {error:#}\n(run scripts/setup as root first)")
            }
        })
    }

    fn start() -> Result<TestBed> {
        let base = base_dir();
        // Podman refuses a runroot path longer than 50 bytes; say so before it does, cryptically.
        let longest_runroot = base.join("run-4194304/rootless/runroot");
        anyhow::ensure!(
            longest_runroot.as_os_str().len() <= PODMAN_MAX_RUNROOT_LEN,
            "HORIZON_TESTBED_DIR {} is too long: Podman limits the runroot path to {PODMAN_MAX_RUNROOT_LEN} bytes",
            base.display()
        );
        std::fs::create_dir_all(&base)?;
        sweep_stale_runs(&base);
        let dir = base.join(format!("run-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(dir.join("logs"))?;
        set_mode(&base, 0o755)?;
        set_mode(&dir, 0o755)?;
        std::fs::write(
            dir.join("owner"),
            owner_stamp(std::process::id()).unwrap_or_default(),
        )?;

        let registry = Registry::start(&dir.join("registry"), &dir.join("logs/registry.log"))?;
        let registry_proxy = proxy::FaultProxy::start(registry.addr)?;
        let containers_conf = dir.join("containers.conf");
        std::fs::write(&containers_conf, CONTAINERS_CONF)?;
        let rootful_conf = dir.join("containers-rootful.conf");
        let network_dir = dir.join("networks").display().to_string();
        std::fs::write(
            &rootful_conf,
            format!(
                "{CONTAINERS_CONF}{}",
                ROOTFUL_NETWORK_CONF.replace("NETWORK_DIR", &network_dir)
            ),
        )?;
        let registries_conf = dir.join("registries.conf");
        std::fs::write(
            &registries_conf,
            format!(
                "unqualified-search-registries = []\n\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n\n[[registry]]\nlocation = \"{}\"\ninsecure = true\n",
                registry.host(),
                registry_proxy.host()
            ),
        )?;
        let rootful_storage =
            Storage::create(&dir.join("rootful"), None, &rootful_conf, &registries_conf)?;
        let rootful = PodmanService::start(
            "rootful podman service",
            rootful_storage,
            dir.join("rootful/podman.sock"),
            &dir.join("logs/rootful.log"),
        )?;
        let build = Storage::create(&dir.join("build"), None, &rootful_conf, &registries_conf)?;
        Ok(TestBed {
            dir,
            registry,
            registry_proxy,
            rootful,
            rootless: Mutex::new(None),
            build,
            busybox: Mutex::new(None),
            debian: Mutex::new(None),
            systemd: Mutex::new(None),
        })
    }

    /// The rootless service of the unprivileged test user, started on first use.
    pub fn rootless(&self) -> &'static PodmanService {
        let mut slot = self
            .rootless
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(service) = *slot {
            return service;
        }
        let started = (|| -> Result<PodmanService> {
            let account = Account::lookup(TEST_USER)?;
            let storage = Storage::create(
                &self.dir.join("rootless"),
                Some(account),
                &self.dir.join("containers.conf"),
                &self.dir.join("registries.conf"),
            )?;
            PodmanService::start(
                "rootless podman service",
                storage,
                self.dir.join("rootless/podman.sock"),
                &self.dir.join("logs/rootless.log"),
            )
        })();
        let service: &'static PodmanService = match started {
            Ok(service) => Box::leak(Box::new(service)),
            Err(error) => panic!("the rootless Podman service could not start: {error:#}"),
        };
        *slot = Some(service);
        service
    }

    /// `HOST:PORT/horizon/NAME:TAG` in the local registry.
    pub fn image_reference(&self, name: &str, tag: &str) -> String {
        format!("{}/horizon/{name}:{tag}", self.registry.host())
    }

    /// The busybox image, built and pushed on first use.
    pub fn busybox_image(&self) -> String {
        self.image_once(&self.busybox, "busybox", |bed, reference| {
            let tarball = bed.dir.join("busybox.tar");
            images::busybox_tarball(&bed.dir, &tarball)?;
            images::import_and_push(&bed.build, &tarball, reference, "/bin/sh")
        })
    }

    /// The Debian bookworm image (cached rootfs), built and pushed on first use.
    pub fn debian_image(&self) -> String {
        self.image_once(&self.debian, "debian", |bed, reference| {
            let tarball = images::debian_tarball()?;
            images::import_and_push(&bed.build, &tarball, reference, "/bin/bash")
        })
    }

    /// The Debian image with systemd as PID 1 (cached between runs), in the rootful service's
    /// storage, built or loaded on first use.
    pub fn systemd_image(&self) -> String {
        let debian = self.debian_image();
        let mut slot = self
            .systemd
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(reference) = &*slot {
            return reference.clone();
        }
        let reference = "localhost/horizon-test/systemd:latest".to_owned();
        if let Err(error) = images::systemd_image(&self.rootful.storage, &debian, &reference) {
            panic!("building the systemd test image failed: {error:#}");
        }
        *slot = Some(reference.clone());
        reference
    }

    /// Pushes a busybox image with `extra` files as `horizon/NAME:TAG` to the local registry (a
    /// tag pushed again is how a test makes an update available) and returns its reference.
    pub fn push_busybox_variant(&self, name: &str, tag: &str, extra: &[(&str, &[u8])]) -> String {
        let reference = self.image_reference(name, tag);
        let work = self
            .dir
            .join("variants")
            .join(format!("{name}-{tag}-{}", unique_suffix()));
        let pushed = (|| -> Result<()> {
            std::fs::create_dir_all(&work)?;
            let tarball = work.join("image.tar");
            images::busybox_variant_tarball(&work, &tarball, extra)?;
            images::import_and_push(&self.build, &tarball, &reference, "/bin/sh")?;
            std::fs::remove_dir_all(&work)?;
            Ok(())
        })();
        if let Err(error) = pushed {
            panic!("pushing {reference} failed: {error:#}");
        }
        reference
    }

    fn image_once(
        &self,
        slot: &Mutex<Option<String>>,
        name: &str,
        build: impl FnOnce(&TestBed, &str) -> Result<()>,
    ) -> String {
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(reference) = &*slot {
            return reference.clone();
        }
        let reference = self.image_reference(name, "latest");
        if let Err(error) = build(self, &reference) {
            panic!("building the {name} test image failed: {error:#}");
        }
        *slot = Some(reference.clone());
        reference
    }

    /// Stops everything this bed started and removes its directory.
    fn teardown(&self) {
        let rootless = *self
            .rootless
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(service) = rootless {
            service.stop();
        }
        self.rootful.stop();
        self.registry.stop();
        if std::env::var_os("HORIZON_TESTBED_KEEP").is_some() {
            eprintln!("testbed: kept {}", self.dir.display());
            return;
        }
        remove_run_dir(&self.dir);
    }
}

extern "C" fn teardown_shared() {
    if let Some(bed) = SHARED.get() {
        bed.teardown();
    }
}

/// `HORIZON_TESTBED_DIR`, else `/tmp/horizon-testbed` (world-traversable, so the rootless test user
/// reaches its own directories below it).
pub fn base_dir() -> PathBuf {
    std::env::var_os("HORIZON_TESTBED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/horizon-testbed"))
}

/// A number no other call in this process returns (work directories of concurrent builds).
fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}

/// `PID START_TIME`: identifies a process even after its pid is reused.
fn owner_stamp(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (starttime) counts from after the parenthesised command name.
    let after_name = stat.rsplit_once(')')?.1;
    let start_time = after_name.split_whitespace().nth(19)?;
    Some(format!("{pid} {start_time}"))
}

/// Removes what earlier runs left when they were killed before their teardown: their containers
/// (and so their conmon and container processes), the rootless pause process, their mounts and
/// directories. A run whose owner process still lives is left alone.
fn sweep_stale_runs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        if !entry.file_name().to_string_lossy().starts_with("run-") {
            continue;
        }
        let recorded = std::fs::read_to_string(dir.join("owner")).unwrap_or_default();
        let pid = recorded
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && owner_stamp(pid).as_deref() == Some(recorded.trim())
        {
            continue; // still running
        }
        eprintln!(
            "testbed: removing {} left by a run that did not finish",
            dir.display()
        );
        let registries_conf = dir.join("registries.conf");
        let rootless_account = Account::lookup(TEST_USER).ok();
        let storages = [
            ("rootful", None, dir.join("containers-rootful.conf")),
            ("rootless", rootless_account, dir.join("containers.conf")),
        ];
        for (name, account, containers_conf) in storages {
            let storage_dir = dir.join(name);
            if !storage_dir.join("root").exists() {
                continue;
            }
            let cleaned =
                Storage::create(&storage_dir, account, &containers_conf, &registries_conf)
                    .and_then(|storage| storage.remove_all_containers());
            if let Err(error) = cleaned {
                eprintln!("testbed: cleaning up {}: {error:#}", storage_dir.display());
            }
        }
        // The services got SIGTERM when their test process died, but a rootless service's child
        // in its user namespace may outlive its parent.
        process::terminate_processes_mentioning(&format!("{}/", dir.display()));
        remove_run_dir(&dir);
    }
}

/// Unmounts anything still mounted below `dir` (deepest first), then deletes it.
fn remove_run_dir(dir: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounts: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount_point| Path::new(mount_point).starts_with(dir))
        .collect();
    mounts.sort_by_key(|mount_point| std::cmp::Reverse(mount_point.len()));
    for mount_point in mounts {
        if let Err(error) = process::run(Command::new("umount").arg("--lazy").arg(mount_point)) {
            eprintln!("testbed: {error:#}");
        }
    }
    if let Err(error) = std::fs::remove_dir_all(dir) {
        eprintln!("testbed: could not remove {}: {error}", dir.display());
    }
}
