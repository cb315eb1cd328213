//! A Flatpak world without a public remote (`shared/design/testbed.md`): a repository built here
//! holding a minimal runtime and app (`org.example.Hello`, whose `hello` prints its version), served
//! over HTTP on loopback, and a user installation and a system installation of its own
//! (`FLATPAK_USER_DIR`, `FLATPAK_SYSTEM_DIR`), each with v1 of the app installed. Tests publish v2
//! and read back what each installation has.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::http::FileServer;
use crate::process;

/// The test app.
pub const APP_ID: &str = "org.example.Hello";
/// Its ref on the remote.
pub const APP_REF: &str = "app/org.example.Hello/x86_64/stable";
/// The test runtime's ref.
const RUNTIME_REF: &str = "runtime/org.example.Platform/x86_64/1";
/// The remote's name in both installations.
pub const REMOTE: &str = "horizon-test";
/// The runtime's metadata; `xa.metadata` must equal the file byte for byte (no trailing newline).
const RUNTIME_METADATA: &str = "[Runtime]\nname=org.example.Platform\nruntime=org.example.Platform/x86_64/1\nsdk=org.example.Platform/x86_64/1";
/// The app's metadata (same rule).
const APP_METADATA: &str =
    "[Application]\nname=org.example.Hello\nruntime=org.example.Platform/x86_64/1\ncommand=hello";

/// The two kinds of Flatpak installation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installation {
    User,
    System,
}

impl Installation {
    /// The flatpak option that selects it.
    pub fn flag(self) -> &'static str {
        match self {
            Installation::User => "--user",
            Installation::System => "--system",
        }
    }
}

/// One test's Flatpak world.
#[derive(Debug)]
pub struct FlatpakBed {
    /// The repository (archive mode) served by [`FlatpakBed::server`].
    pub repo: PathBuf,
    /// `FLATPAK_USER_DIR`.
    pub user_dir: PathBuf,
    /// `FLATPAK_SYSTEM_DIR`.
    pub system_dir: PathBuf,
    /// Serves `repo`.
    pub server: FileServer,
    work: PathBuf,
}

impl FlatpakBed {
    /// Builds the repository with the runtime and v1 of the app, serves it, and installs the app
    /// (and so the runtime) in a user and a system installation under `dir`.
    pub fn create(dir: &Path) -> Result<FlatpakBed> {
        let repo = dir.join("flatpak-repo");
        let work = dir.join("flatpak-work");
        std::fs::create_dir_all(&work)?;
        run(Command::new("ostree")
            .arg(format!("--repo={}", repo.display()))
            .args(["init", "--mode=archive"]))?;
        let server = FileServer::start(&repo)?;
        let bed = FlatpakBed {
            repo,
            user_dir: dir.join("flatpak-user"),
            system_dir: dir.join("flatpak-system"),
            server,
            work,
        };
        let runtime = bed.work.join("runtime");
        std::fs::create_dir_all(runtime.join("files/bin"))?;
        std::fs::copy("/bin/busybox", runtime.join("files/bin/sh"))
            .context("copy /bin/busybox into the runtime (busybox-static: scripts/setup)")?;
        bed.commit_tree(&runtime, RUNTIME_REF, RUNTIME_METADATA)?;
        bed.publish("1")?;
        for installation in [Installation::User, Installation::System] {
            run(bed
                .flatpak()
                .args(["remote-add", installation.flag(), "--no-gpg-verify", REMOTE])
                .arg(bed.server.url("")))?;
            run(bed.flatpak().args([
                "install",
                installation.flag(),
                "-y",
                "--noninteractive",
                REMOTE,
                APP_ID,
            ]))?;
        }
        Ok(bed)
    }

    /// Commits version `version` of the app (its `hello` prints `hello VERSION`) and updates the
    /// repository's summary; returns the commit.
    pub fn publish(&self, version: &str) -> Result<String> {
        let app = self.work.join(format!("app-{version}"));
        std::fs::create_dir_all(app.join("files/bin"))?;
        let hello = app.join("files/bin/hello");
        std::fs::write(&hello, format!("#!/bin/sh\necho hello {version}\n"))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hello, std::fs::Permissions::from_mode(0o755))?;
        self.commit_tree(&app, APP_REF, APP_METADATA)
    }

    fn commit_tree(&self, tree: &Path, reference: &str, metadata: &str) -> Result<String> {
        std::fs::write(tree.join("metadata"), metadata)?;
        let output = run(Command::new("ostree")
            .arg(format!("--repo={}", self.repo.display()))
            .args(["commit", "-b", reference])
            .arg(format!("--add-metadata-string=xa.metadata={metadata}"))
            .arg(tree))?;
        run(self.flatpak().arg("build-update-repo").arg(&self.repo))?;
        Ok(output.trim().to_owned())
    }

    /// The environment that points flatpak (and horizon-update) at these installations.
    pub fn environment(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("FLATPAK_USER_DIR", self.user_dir.clone().into_os_string()),
            (
                "FLATPAK_SYSTEM_DIR",
                self.system_dir.clone().into_os_string(),
            ),
        ]
    }

    /// A `flatpak` command with this bed's environment.
    pub fn flatpak(&self) -> Command {
        let mut command = Command::new("flatpak");
        command.envs(self.environment());
        command
    }

    /// The full commit of the app installed in `installation`.
    pub fn installed_commit(&self, installation: Installation) -> Result<String> {
        let output =
            run(self
                .flatpak()
                .args(["info", installation.flag(), "--show-commit", APP_ID]))?;
        Ok(output.trim().to_owned())
    }

    /// What the installed app's `hello` prints (its `files/bin/hello`, read from the deployment).
    pub fn installed_hello(&self, installation: Installation) -> Result<String> {
        let dir = match installation {
            Installation::User => &self.user_dir,
            Installation::System => &self.system_dir,
        };
        let script = dir
            .join("app")
            .join(APP_ID)
            .join("current/active/files/bin/hello");
        std::fs::read_to_string(&script).with_context(|| format!("read {}", script.display()))
    }
}

fn run(command: &mut Command) -> Result<String> {
    let output = process::run(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
