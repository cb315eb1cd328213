//! A session of one simulated user for CLI end-to-end tests: a home directory of its own, a clean
//! environment pointing horizon at the test bed (never at the machine's /etc, /var/lib or
//! /usr/local/bin), and commands run as that user — the unprivileged test user against its rootless
//! service (the spec's default), or root against the rootful one (system containers).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::TestBed;
use crate::bins::{cargo_bin, static_agent};
use crate::podman::{Account, PodmanService};

/// PATH inside a session: the system's, after the session's export directory.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The first executable called `name` in a session's system PATH: the host command an export of
/// that name would shadow.
pub fn host_command(name: &str) -> Option<PathBuf> {
    SYSTEM_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file())
}

/// One user's view of horizon in a test.
#[derive(Debug)]
pub struct Session {
    /// `$HOME`, created for this session (owned by the session's user).
    pub home: PathBuf,
    /// The system definitions directory (`HORIZON_SYSTEM_DIR`), owned by root.
    pub system_dir: PathBuf,
    /// horizon's state directory (`HORIZON_STATE_DIR`).
    pub state_dir: PathBuf,
    /// Where exported wrappers go (`HORIZON_EXPORT_DIR`), first on PATH.
    pub export_dir: PathBuf,
    /// horizon's runtime directory (`HORIZON_RUNTIME_DIR`): the agents' sockets.
    pub runtime_dir: PathBuf,
    /// The Podman service this session talks to.
    pub service: &'static PodmanService,
    /// The unprivileged account, or `None` for root.
    pub account: Option<Account>,
}

impl TestBed {
    /// A session of the unprivileged test user against its rootless service.
    pub fn user_session(&'static self, test: &str) -> Session {
        let service = self.rootless();
        self.session(test, service, service.storage.account.clone())
    }

    /// A session of root against the rootful service (system containers).
    pub fn root_session(&'static self, test: &str) -> Session {
        self.session(test, &self.rootful, None)
    }

    /// A session of root against a service of the test's own (one a test may stop or kill).
    pub fn root_session_on(&'static self, test: &str, service: &'static PodmanService) -> Session {
        self.session(test, service, None)
    }

    fn session(
        &'static self,
        test: &str,
        service: &'static PodmanService,
        account: Option<Account>,
    ) -> Session {
        let base = self.dir.join("sessions").join(test);
        if base.exists() {
            std::fs::remove_dir_all(&base).expect("remove an old session directory");
        }
        let home = base.join("home");
        let session = Session {
            system_dir: base.join("system"),
            state_dir: home.join(".local/state/horizonos"),
            export_dir: home.join(".local/bin"),
            runtime_dir: base.join("runtime"),
            home,
            service,
            account,
        };
        for dir in [
            &session.home,
            &session.state_dir,
            &session.export_dir,
            &session.definitions_dir(),
            &session.runtime_dir,
        ] {
            std::fs::create_dir_all(dir).expect("create session directories");
        }
        std::fs::create_dir_all(&session.system_dir)
            .expect("create the system definitions directory");
        if let Some(account) = &session.account {
            chown_tree(&session.home, account);
            chown_tree(&session.runtime_dir, account);
            set_mode(&session.runtime_dir, 0o700);
            // The user must reach its home below the run directory.
            for dir in [base.parent().expect("sessions dir"), &base] {
                set_mode(dir, 0o755);
            }
        }
        session
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Gives `path` and everything below it to `account`, never following a link (a test's link to
/// /dev/zero must not give the host's device away).
fn chown_tree(path: &Path, account: &Account) {
    std::os::unix::fs::lchown(path, Some(account.uid), Some(account.gid)).expect("lchown");
    if path
        .symlink_metadata()
        .is_ok_and(|metadata| metadata.is_dir())
    {
        for entry in std::fs::read_dir(path).expect("read_dir").flatten() {
            chown_tree(&entry.path(), account);
        }
    }
}

impl Session {
    /// The user layer's directory (`~/.config/horizonos/containers`).
    pub fn definitions_dir(&self) -> PathBuf {
        self.home.join(".config/horizonos/containers")
    }

    /// The environment of every command in this session.
    pub fn environment(&self) -> Vec<(&'static str, OsString)> {
        let path = format!("{}:{SYSTEM_PATH}", self.export_dir.display());
        let mut env = vec![
            ("PATH", OsString::from(path)),
            ("HOME", self.home.clone().into_os_string()),
            ("LANG", OsString::from("C.UTF-8")),
            ("CONTAINER_HOST", OsString::from(self.service.url())),
            (
                "HORIZON_SYSTEM_DIR",
                self.system_dir.clone().into_os_string(),
            ),
            ("HORIZON_STATE_DIR", self.state_dir.clone().into_os_string()),
            (
                "HORIZON_RUNTIME_DIR",
                self.runtime_dir.clone().into_os_string(),
            ),
            ("HORIZON_AGENT", static_agent().into_os_string()),
            (
                "HORIZON_EXPORT_DIR",
                self.export_dir.clone().into_os_string(),
            ),
            // Never the machine's /etc/systemd/system or /etc/horizonos/update.json.
            (
                "HORIZON_UNIT_DIR",
                self.home.join(".units").into_os_string(),
            ),
            (
                "HORIZON_UPDATE_CONFIG",
                self.home.join(".update.json").into_os_string(),
            ),
            // The registries.conf the session's Podman service reads (it marks the local registry
            // as plain HTTP): what /etc/containers/registries.conf is on a real machine, for the
            // registry tools horizon runs itself (skopeo, for `update --check`).
            (
                "CONTAINERS_REGISTRIES_CONF",
                self.service
                    .storage
                    .registries_conf
                    .clone()
                    .into_os_string(),
            ),
        ];
        if let Some(runtime_dir) = &self.service.storage.runtime_dir {
            env.push(("XDG_RUNTIME_DIR", runtime_dir.clone().into_os_string()));
        }
        env
    }

    /// `program` as this session's user, in its home, with a clean environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .envs(self.environment())
            .current_dir(&self.home);
        if let Some(account) = &self.account {
            command.uid(account.uid).gid(account.gid);
        }
        command
    }

    /// The `horizon-container` binary in this session.
    pub fn horizon_container(&self) -> Command {
        self.command(cargo_bin("horizon-cli", "horizon-container"))
    }

    /// Runs `horizon-container ARGS` in this session, without stdin, and returns its output.
    pub fn horizon(&self, args: &[&str]) -> std::process::Output {
        self.horizon_container()
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run horizon-container")
    }

    /// Writes a user definition file `NAME.json` (owned by the session's user).
    pub fn write_user_definition(&self, name: &str, json: &str) -> PathBuf {
        let path = self.definitions_dir().join(format!("{name}.json"));
        std::fs::write(&path, json).expect("write definition");
        if let Some(account) = &self.account {
            std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid)).expect("chown");
        }
        path
    }

    /// Writes a system definition file `NAME.json` (owned by root, mode 0644).
    pub fn write_system_definition(&self, name: &str, json: &str) -> PathBuf {
        let path = self.system_dir.join(format!("{name}.json"));
        std::fs::write(&path, json).expect("write definition");
        set_mode(&path, 0o644);
        path
    }

    /// Gives `path` itself (a link is not followed) to the session's user.
    pub fn give_to_user(&self, path: &Path) {
        if let Some(account) = &self.account {
            std::os::unix::fs::lchown(path, Some(account.uid), Some(account.gid)).expect("lchown");
        }
    }

    /// Creates a file (and its parent directories) in the home, owned by the session's user.
    pub fn write_home_file(&self, relative: &str, contents: &[u8]) -> PathBuf {
        let path = self.home.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, contents).expect("write home file");
        if let Some(account) = &self.account {
            chown_tree(&self.home, account);
        }
        path
    }
}
