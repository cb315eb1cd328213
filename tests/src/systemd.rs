//! A real systemd for the end-to-end tests. systemd is not PID 1 on the test machines, so it
//! boots as PID 1 in a container of the bed's rootful Podman (the cached systemd image), with the
//! bed's directory (its Podman sockets, the sessions' homes and state) and horizon's binaries
//! bind-mounted at the same paths, so units inside manage containers on the bed's services. The
//! unprivileged test user exists inside with its own uid and lingers, so its user manager runs
//! `systemctl --user` units. One container per test process, removed at exit.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bins::{cargo_bin, static_agent};
use crate::podman::{Account, Storage};
use crate::session::Session;
use crate::{TEST_LABEL, TEST_USER, TestBed, process};

/// How long systemd gets to boot (and the user manager to start) before a test fails.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// The systemd container of this test process.
#[derive(Debug)]
pub struct SystemdContainer {
    /// Its name in the rootful service.
    pub name: String,
    /// The test user, who exists inside with the same uid and lingers.
    pub user: Account,
    storage: &'static Storage,
}

static SHARED: OnceLock<SystemdContainer> = OnceLock::new();

extern "C" fn remove_shared() {
    if let Some(container) = SHARED.get() {
        let removed = process::run(container.storage.podman().args([
            "rm",
            "--force",
            "--time",
            "5",
            &container.name,
        ]));
        if let Err(error) = removed {
            eprintln!("testbed: removing the systemd container: {error:#}");
        }
    }
}

impl SystemdContainer {
    /// The systemd container of this process, booted on first use.
    pub fn shared(bed: &'static TestBed) -> &'static SystemdContainer {
        SHARED.get_or_init(|| match SystemdContainer::start(bed) {
            Ok(container) => {
                process::at_exit(remove_shared);
                container
            }
            Err(error) => panic!("the systemd container could not start: {error:#}"),
        })
    }

    fn start(bed: &'static TestBed) -> Result<SystemdContainer> {
        let image = bed.systemd_image();
        let storage = &bed.rootful.storage;
        let name = format!("horizon-systemd-{}", std::process::id());
        let user = Account::lookup(TEST_USER)?;
        // A leftover of an earlier run of this pid.
        process::run(storage.podman().args(["rm", "--force", "--ignore", &name]))?;
        let mut run = storage.podman();
        run.args(["run", "--detach", "--systemd=always", "--name", &name])
            .args(["--label", TEST_LABEL]);
        let bed_dir = bed.dir.display().to_string();
        run.arg(format!("--volume={bed_dir}:{bed_dir}"));
        for dir in binary_dirs() {
            let dir = dir.display();
            run.arg(format!("--volume={dir}:{dir}:ro"));
        }
        run.args([&image, "/sbin/init"]);
        process::run(&mut run)?;
        let container = SystemdContainer {
            name,
            user,
            storage,
        };
        container.wait_booted()?;
        let (uid, gid) = (
            container.user.uid.to_string(),
            container.user.gid.to_string(),
        );
        container.checked(&["groupadd", "--gid", &gid, TEST_USER])?;
        container.checked(&[
            "useradd",
            "--uid",
            &uid,
            "--gid",
            &gid,
            "--create-home",
            TEST_USER,
        ])?;
        container.checked(&["loginctl", "enable-linger", TEST_USER])?;
        container.wait_user_manager()?;
        Ok(container)
    }

    /// `podman exec` into the container, as root with a clean environment.
    fn podman_exec(&self, user: Option<&Account>, env: &[(&str, OsString)]) -> Command {
        let mut command = self.storage.podman();
        command.arg("exec");
        if let Some(user) = user {
            command.arg(format!("--user={}:{}", user.uid, user.gid));
        }
        for (key, value) in env {
            let mut assignment = OsString::from(format!("{key}="));
            assignment.push(value);
            command.arg("--env").arg(assignment);
        }
        command.arg(&self.name);
        command
    }

    /// Runs `args` as root inside, without a session's environment.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.podman_exec(None, &[])
            .args(args)
            .output()
            .expect("podman exec")
    }

    fn checked(&self, args: &[&str]) -> Result<Output> {
        process::run(self.podman_exec(None, &[]).args(args))
    }

    /// Runs `args` inside as root with `session`'s environment (a root session), its units in
    /// the system manager's /etc/systemd/system.
    pub fn as_root(&self, session: &Session, args: &[&str]) -> Output {
        let mut env = session.environment();
        env.retain(|(key, _)| *key != "HORIZON_UNIT_DIR");
        self.podman_exec(None, &env)
            .args(args)
            .output()
            .expect("podman exec")
    }

    /// Runs `args` inside as the test user with `session`'s environment (a user session), its
    /// manager's runtime directory, and its unit directory in its home inside (where its user
    /// manager reads units).
    pub fn as_user(&self, session: &Session, args: &[&str]) -> Output {
        let mut env = session.environment();
        env.retain(|(key, _)| !matches!(*key, "XDG_RUNTIME_DIR" | "HORIZON_UNIT_DIR"));
        env.push(("XDG_RUNTIME_DIR", self.user_runtime_dir().into_os_string()));
        env.push(("HORIZON_UNIT_DIR", self.user_unit_dir().into_os_string()));
        self.podman_exec(Some(&self.user), &env)
            .args(args)
            .output()
            .expect("podman exec")
    }

    /// The test user's runtime directory inside (its manager's sockets).
    pub fn user_runtime_dir(&self) -> PathBuf {
        PathBuf::from(format!("/run/user/{}", self.user.uid))
    }

    /// Where the test user's manager reads its units inside.
    pub fn user_unit_dir(&self) -> PathBuf {
        PathBuf::from(format!("/home/{TEST_USER}/.config/systemd/user"))
    }

    /// Restarts the container (systemd shuts down, stopping its units, and boots again).
    pub fn restart(&self) -> Result<()> {
        process::run(
            self.storage
                .podman()
                .args(["restart", "--time", "60", &self.name]),
        )?;
        self.wait_booted()?;
        self.wait_user_manager()
    }

    fn wait_booted(&self) -> Result<()> {
        self.wait_for("systemctl is-system-running", || {
            let output = self.exec(&["systemctl", "is-system-running"]);
            let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (state == "running" || state == "degraded")
                .then_some(())
                .ok_or(state)
        })
    }

    fn wait_user_manager(&self) -> Result<()> {
        let unit = format!("user@{}.service", self.user.uid);
        self.wait_for(&unit, || {
            let output = self.exec(&["systemctl", "is-active", &unit]);
            let state = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            (state == "active").then_some(()).ok_or(state)
        })
    }

    fn wait_for(&self, what: &str, mut ready: impl FnMut() -> Result<(), String>) -> Result<()> {
        let started = Instant::now();
        loop {
            let last = match ready() {
                Ok(()) => return Ok(()),
                Err(state) => state,
            };
            if started.elapsed() > BOOT_TIMEOUT {
                let journal = self.exec(&["journalctl", "--no-pager", "-n", "50"]);
                bail!(
                    "{what} in {} is still `{last}` after {BOOT_TIMEOUT:?}; journal:\n{}",
                    self.name,
                    String::from_utf8_lossy(&journal.stdout)
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The directories of the binaries the units run (bind-mounted read-only at the same paths).
fn binary_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        cargo_bin("horizon-cli", "horizon-container"),
        cargo_bin("horizon-update", "horizon-update"),
        cargo_bin("horizon-exec", "horizon-exec"),
        static_agent(),
    ]
    .iter()
    .filter_map(|binary| binary.parent().map(PathBuf::from))
    .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Waits until `check` holds, polling, for at most `timeout`; the last value it saw otherwise.
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> Result<T> {
    let started = Instant::now();
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(last) if started.elapsed() > timeout => {
                return Err(anyhow::anyhow!(last)).context(format!("not within {timeout:?}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}
