//! Test images built here, without a public registry: a busybox image (a rootfs of busybox-static
//! and its applet links, in about a second) and a Debian bookworm minbase image (debootstrap from
//! Debian's mirror, about 40 s, cached as a tarball between runs). Both are imported into a build
//! storage of their own and pushed to the local registry, so the services under test really pull.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::podman::Storage;
use crate::process;

/// Where debootstrap fetches from (Debian's mirror is reachable from CI: it is a package registry).
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";
/// The suite of the Debian test image.
const DEBIAN_SUITE: &str = "bookworm";

/// The cache directory for the Debian rootfs tarball: `HORIZON_TESTBED_CACHE`, else
/// `$XDG_CACHE_HOME/horizon-testbed`, else `~/.cache/horizon-testbed`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HORIZON_TESTBED_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache")
        });
    base.join("horizon-testbed")
}

/// Writes a busybox rootfs tarball (busybox-static, its applets linked where `--list-full` says,
/// and a minimal /etc) to `tarball`.
pub fn busybox_tarball(work: &Path, tarball: &Path) -> Result<()> {
    busybox_variant_tarball(work, tarball, &[])
}

/// [`busybox_tarball`] with extra files (`(path inside, contents)`, written last, so they may
/// replace an applet link): a changed image, for updates. `work` must be this call's own.
pub fn busybox_variant_tarball(work: &Path, tarball: &Path, extra: &[(&str, &[u8])]) -> Result<()> {
    let rootfs = work.join("busybox-rootfs");
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    for dir in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "home", "proc", "sys", "dev",
    ] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .context("copy /bin/busybox (install busybox-static: scripts/setup)")?;
    let listing = process::run(Command::new("/bin/busybox").arg("--list-full"))?;
    for applet in String::from_utf8_lossy(&listing.stdout).lines() {
        let link = rootfs.join(applet);
        if applet == "bin/busybox" || link.exists() {
            continue;
        }
        std::os::unix::fs::symlink("/bin/busybox", &link)
            .with_context(|| format!("link {}", link.display()))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    std::fs::write(
        rootfs.join("etc/os-release"),
        "ID=busybox\nPRETTY_NAME=\"horizon test busybox\"\n",
    )?;
    for (path, contents) in extra {
        let target = rootfs.join(path.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if target.is_symlink() {
            std::fs::remove_file(&target)?;
        }
        std::fs::write(&target, contents).with_context(|| format!("write {}", target.display()))?;
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    process::run(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(tarball)
            .arg("."),
    )?;
    std::fs::remove_dir_all(&rootfs)?;
    Ok(())
}

/// The cached Debian minbase rootfs tarball, built with debootstrap on first use. A lock file makes
/// concurrent test processes build it once; a half-written tarball is never visible (rename).
pub fn debian_tarball() -> Result<PathBuf> {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let tarball = cache.join(format!("debian-{DEBIAN_SUITE}-minbase.tar"));
    let lock = File::create(cache.join("debian.lock"))?;
    lock.lock().context("lock the Debian image cache")?;
    if tarball.exists() {
        return Ok(tarball);
    }
    let rootfs = cache.join(format!("debian-{DEBIAN_SUITE}-rootfs.partial"));
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)?;
    }
    eprintln!(
        "testbed: building the Debian {DEBIAN_SUITE} image with debootstrap (cached afterwards in {})",
        cache.display()
    );
    process::run(
        Command::new("debootstrap")
            .args(["--variant=minbase", DEBIAN_SUITE])
            .arg(&rootfs)
            .arg(DEBIAN_MIRROR),
    )?;
    // Smaller image, and no stale package lists: tests run `apt-get update` themselves.
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let path = rootfs.join(dir);
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
            }
        }
    }
    let partial = cache.join(format!("debian-{DEBIAN_SUITE}-minbase.tar.partial"));
    process::run(
        Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&partial)
            .arg("."),
    )?;
    File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &tarball)?;
    std::fs::remove_dir_all(&rootfs)?;
    Ok(tarball)
}

/// Imports `tarball` as `reference` into `build` and pushes it to the (plain-HTTP) local registry.
pub fn import_and_push(
    build: &Storage,
    tarball: &Path,
    reference: &str,
    command: &str,
) -> Result<()> {
    if !tarball.is_file() {
        bail!("{} is missing", tarball.display());
    }
    process::run(
        build
            .podman()
            .arg("import")
            .args(["--change", &format!("CMD [\"{command}\"]")])
            .arg(tarball)
            .arg(reference),
    )?;
    process::run(
        build
            .podman()
            .args(["push", "--quiet", "--tls-verify=false", reference]),
    )?;
    Ok(())
}

/// The packages that make the Debian image boot systemd as PID 1 with user managers for
/// lingering users (`libpam-systemd` registers their sessions; without it `user@UID.service`
/// has no runtime directory).
const SYSTEMD_PACKAGES: &[&str] = &["systemd", "systemd-sysv", "dbus", "libpam-systemd"];

/// The Debian image with systemd (`SYSTEMD_PACKAGES` installed with apt from Debian's mirror,
/// committed), as `reference` in `storage`. The image is saved to the cache and loaded from it by
/// later runs, so apt runs once per machine.
pub fn systemd_image(storage: &Storage, debian: &str, reference: &str) -> Result<()> {
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).with_context(|| format!("create {}", cache.display()))?;
    let archive = cache.join(format!("debian-{DEBIAN_SUITE}-systemd.tar"));
    let lock = File::create(cache.join("systemd.lock"))?;
    lock.lock().context("lock the systemd image cache")?;
    if !archive.exists() {
        eprintln!(
            "testbed: building the systemd image with apt (cached afterwards in {})",
            cache.display()
        );
        let builder = format!("horizon-systemd-build-{}", std::process::id());
        let script = format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             --no-install-recommends {} >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*",
            SYSTEMD_PACKAGES.join(" ")
        );
        let built = process::run(
            storage
                .podman()
                .args(["run", "--name", &builder, "--label", crate::TEST_LABEL])
                .args([debian, "sh", "-c", &script]),
        )
        .and_then(|_| {
            process::run(storage.podman().args([
                "commit",
                "--quiet",
                "--change",
                "CMD [\"/sbin/init\"]",
                &builder,
                reference,
            ]))
        });
        let removed = process::run(storage.podman().args(["rm", "--force", &builder]));
        built?;
        removed?;
        let partial = cache.join(format!("debian-{DEBIAN_SUITE}-systemd.tar.partial"));
        process::run(
            storage
                .podman()
                .args(["save", "--quiet", "--output"])
                .arg(&partial)
                .arg(reference),
        )?;
        File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, &archive)?;
        return Ok(());
    }
    let loaded = process::run(
        storage
            .podman()
            .args(["load", "--quiet", "--input"])
            .arg(&archive),
    )?;
    // `podman load` names the image as it was saved; give it this run's name.
    let saved = String::from_utf8_lossy(&loaded.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("Loaded image: ").map(str::to_owned))
        .with_context(|| format!("podman load {} named no image", archive.display()))?;
    process::run(storage.podman().args(["tag", saved.trim(), reference]))?;
    Ok(())
}
