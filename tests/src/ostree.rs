//! A real OSTree sysroot in a directory, without booting it (`shared/design/testbed.md`): a server
//! repository (archive mode) served over HTTP on loopback, a sysroot whose `origin` remote points at
//! it, and v1 deployed. Tests commit v2 on the server side, corrupt an object there, slow it down or
//! stop it, and read the sysroot's deployments back with `ostree admin status`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::http::FileServer;
use crate::process;

/// The OS name of the test sysroot (`ostree admin os-init`).
pub const OS_NAME: &str = "horizon";
/// The branch the server publishes and the sysroot follows.
pub const BRANCH: &str = "horizon/stable";
/// The sysroot's remote name.
pub const REMOTE: &str = "origin";
/// The kernel version of the test trees (a deployable tree needs a kernel and an initramfs).
const KERNEL_VERSION: &str = "6.1.0-horizon";
/// A file every test tree carries, naming its version; tests corrupt its object on the server.
pub const VERSION_FILE: &str = "/usr/lib/horizon-version";

/// One test's OSTree world.
#[derive(Debug)]
pub struct OstreeBed {
    /// The server-side repository (archive mode), served by [`OstreeBed::server`].
    pub server_repo: PathBuf,
    /// The sysroot (`--sysroot`).
    pub sysroot: PathBuf,
    /// Serves `server_repo` on loopback.
    pub server: FileServer,
    work: PathBuf,
}

impl Drop for OstreeBed {
    /// ostree makes every deployment's root directory immutable (`chattr +i`), so nobody — not
    /// even root — can delete the sysroot until that is cleared: clear it, so the test's temp
    /// directory can be removed.
    fn drop(&mut self) {
        let Ok(stateroots) = std::fs::read_dir(self.sysroot.join("ostree/deploy")) else {
            return;
        };
        for stateroot in stateroots.flatten() {
            let Ok(deployments) = std::fs::read_dir(stateroot.path().join("deploy")) else {
                continue;
            };
            for deployment in deployments.flatten() {
                if deployment.path().is_dir()
                    && let Err(error) =
                        process::run(Command::new("chattr").arg("-i").arg(deployment.path()))
                {
                    eprintln!("testbed: {error:#}");
                }
            }
        }
    }
}

/// A deployment as `ostree admin status` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedDeployment {
    pub checksum: String,
    pub serial: u32,
    pub version: Option<String>,
    pub booted: bool,
}

impl OstreeBed {
    /// Creates the server repository with v1 committed, serves it, and makes a sysroot under
    /// `dir` with v1 pulled over HTTP and deployed. Returns the bed and v1's checksum.
    pub fn create(dir: &Path) -> Result<(OstreeBed, String)> {
        let server_repo = dir.join("server-repo");
        let sysroot = dir.join("sysroot");
        let work = dir.join("work");
        for path in [&server_repo, &sysroot, &work] {
            std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))?;
        }
        ostree(&[
            &format!("--repo={}", server_repo.display()),
            "init",
            "--mode=archive",
        ])?;
        let server = FileServer::start(&server_repo)?;
        let bed = OstreeBed {
            server_repo,
            sysroot,
            server,
            work,
        };
        let v1 = bed.commit("1")?;
        let sysroot_arg = format!("--sysroot={}", bed.sysroot.display());
        let os_arg = format!("--os={OS_NAME}");
        ostree(&["admin", "init-fs", &bed.sysroot.display().to_string()])?;
        ostree(&["admin", "os-init", OS_NAME, &sysroot_arg])?;
        let repo_arg = format!("--repo={}", bed.sysroot_repo().display());
        ostree(&[
            &repo_arg,
            "remote",
            "add",
            "--no-gpg-verify",
            REMOTE,
            &bed.server.url(""),
        ])?;
        ostree(&[&repo_arg, "pull", REMOTE, BRANCH])?;
        ostree(&[
            "admin",
            "deploy",
            &sysroot_arg,
            &os_arg,
            &format!("{REMOTE}:{BRANCH}"),
        ])?;
        Ok((bed, v1))
    }

    /// The sysroot's repository.
    pub fn sysroot_repo(&self) -> PathBuf {
        self.sysroot.join("ostree/repo")
    }

    /// Commits a tree of version `version` to the server's branch; returns its checksum.
    pub fn commit(&self, version: &str) -> Result<String> {
        self.commit_with_files(version, 0)
    }

    /// Commits a tree of version `version` with `files` extra small files (so that pulling it takes
    /// that many more object downloads); returns its checksum.
    pub fn commit_with_files(&self, version: &str, files: usize) -> Result<String> {
        let tree = self.work.join(format!("tree-{version}"));
        if tree.exists() {
            std::fs::remove_dir_all(&tree)?;
        }
        let modules = tree.join("usr/lib/modules").join(KERNEL_VERSION);
        let data = tree.join("usr/share/horizon-data");
        for dir in [
            &modules,
            &data,
            &tree.join("usr/etc"),
            &tree.join("usr/bin"),
        ] {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(
            tree.join("usr/lib/os-release"),
            format!("ID={OS_NAME}\nPRETTY_NAME=\"HorizonOS {version}\"\nVERSION_ID={version}\n"),
        )?;
        std::fs::write(modules.join("vmlinuz"), format!("kernel {version}\n"))?;
        std::fs::write(
            modules.join("initramfs.img"),
            format!("initramfs {version}\n"),
        )?;
        std::fs::write(
            tree.join(VERSION_FILE.trim_start_matches('/')),
            format!("{version}\n"),
        )?;
        for index in 0..files {
            std::fs::write(
                data.join(format!("file-{index}")),
                format!("{version} {index}\n"),
            )?;
        }
        let output = ostree(&[
            &format!("--repo={}", self.server_repo.display()),
            "commit",
            "-b",
            BRANCH,
            "-s",
            &format!("HorizonOS {version}"),
            &format!("--add-metadata-string=version={version}"),
            &tree.display().to_string(),
        ])?;
        Ok(output.trim().to_owned())
    }

    /// Replaces, on the server, the object of [`VERSION_FILE`] in `commit` with another valid
    /// object (that of `/usr/lib/os-release`): well-formed, but not the content its name promises,
    /// so a client that verifies what it downloads must reject it. Returns the object's path.
    pub fn corrupt_version_object(&self, commit: &str) -> Result<PathBuf> {
        let target = self.object_path(commit, VERSION_FILE)?;
        let other = self.object_path(commit, "/usr/lib/os-release")?;
        std::fs::copy(&other, &target)
            .with_context(|| format!("overwrite {}", target.display()))?;
        Ok(target)
    }

    /// The server-side path of the content object of `file` in `commit`.
    fn object_path(&self, commit: &str, file: &str) -> Result<PathBuf> {
        let listing = ostree(&[
            &format!("--repo={}", self.server_repo.display()),
            "ls",
            "-C",
            commit,
            file,
        ])?;
        // `ls -C`: MODE UID GID SIZE CHECKSUM PATH
        let checksum = listing
            .split_whitespace()
            .nth(4)
            .filter(|checksum| checksum.len() > 2)
            .with_context(|| format!("no checksum in `ostree ls -C`: {listing}"))?;
        let object = self
            .server_repo
            .join("objects")
            .join(&checksum[..2])
            .join(format!("{}.filez", &checksum[2..]));
        if !object.is_file() {
            bail!("object {} of {file} not found", object.display());
        }
        Ok(object)
    }

    /// The deployments, newest (the default for the next boot) first.
    pub fn deployments(&self) -> Result<Vec<ListedDeployment>> {
        let status = ostree(&[
            "admin",
            "status",
            &format!("--sysroot={}", self.sysroot.display()),
        ])?;
        Ok(parse_admin_status(&status))
    }

    /// The checksum of the default deployment.
    pub fn default_checksum(&self) -> Result<String> {
        self.deployments()?
            .first()
            .map(|deployment| deployment.checksum.clone())
            .context("the sysroot has no deployment")
    }
}

/// `ostree admin status`'s deployments: lines `[*] OSNAME CHECKSUM.SERIAL [(...)]`, each followed
/// by indented detail lines such as `Version: 2`. (A second, independent reading of the format,
/// so the tests do not trust the parser they test.)
pub fn parse_admin_status(text: &str) -> Vec<ListedDeployment> {
    let mut deployments: Vec<ListedDeployment> = Vec::new();
    for line in text.lines() {
        let booted = line.starts_with("* ");
        let fields: Vec<&str> = line.trim_start_matches("* ").split_whitespace().collect();
        if (booted || line.starts_with("  ")) && !line.starts_with("    ") && fields.len() >= 2 {
            if let Some((checksum, serial)) = fields[1].split_once('.') {
                deployments.push(ListedDeployment {
                    checksum: checksum.to_owned(),
                    serial: serial.parse().unwrap_or_default(),
                    version: None,
                    booted,
                });
            }
        } else if let Some(version) = line.trim().strip_prefix("Version: ")
            && let Some(last) = deployments.last_mut()
        {
            last.version = Some(version.to_owned());
        }
    }
    deployments
}

/// Runs `ostree ARGS`; returns stdout.
fn ostree(args: &[&str]) -> Result<String> {
    let output = process::run(Command::new("ostree").args(args))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
