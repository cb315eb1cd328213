//! A user definition's mount source checked when the file was read is checked again whenever a
//! container is made or started from it: install, `start` of a persistent container (Podman keeps
//! the source path and the kernel follows whatever it has become at each start), `start` of a
//! non-persistent one (recreated from its recorded spec), `update` and `rollback`. The attack: the
//! source (or a directory above it) is replaced by a symlink to a victim directory outside the
//! home and /tmp; the container must never see the victim, the refusal says which mount and why,
//! and putting the directory back makes everything work again. The victim is a directory of the
//! test's own under /var/tmp, never a real system directory.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;

use crate::{assert_exit, text, unique_name};

/// What the victim directory holds: the container must never read it.
const SECRET: &str = "victim-secret\n";
/// What the real source holds.
const INSIDE: &str = "inside-the-home\n";

fn podman(session: &Session, args: &[&str]) -> Output {
    session
        .service
        .storage
        .podman()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A victim directory outside the home and /tmp, holding `data/f` (the secret).
struct Victim(PathBuf);

impl Victim {
    fn new(name: &str) -> Victim {
        let dir = PathBuf::from("/var/tmp").join(format!("{name}-victim"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(dir.join("data")).unwrap();
        std::fs::write(dir.join("data/f"), SECRET).unwrap();
        std::fs::write(dir.join("f"), SECRET).unwrap();
        Victim(dir)
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        // Best effort: a leftover directory under /var/tmp harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The mount source in the home: `home/p/data` holding `f`.
fn real_source(session: &Session) -> PathBuf {
    let source = session.write_home_file("p/data/f", INSIDE.as_bytes());
    source.parent().unwrap().to_owned()
}

/// How the attacker swaps the path: the source itself, or a directory above it.
#[derive(Clone, Copy, Debug)]
enum Swap {
    Source,
    Parent,
}

/// Replaces the source (or its parent) by a symlink into the victim; returns what undoes it.
fn swap(session: &Session, source: &Path, victim: &Victim, how: Swap) -> Box<dyn Fn()> {
    let (moved, link, target) = match how {
        Swap::Source => (source.to_owned(), source.to_owned(), victim.0.clone()),
        Swap::Parent => {
            let parent = source.parent().unwrap().to_owned();
            (parent.clone(), parent, victim.0.clone())
        }
    };
    let aside = moved.with_extension("aside");
    std::fs::rename(&moved, &aside).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    session.give_to_user(&link);
    Box::new(move || {
        std::fs::remove_file(&link).unwrap();
        std::fs::rename(&aside, &moved).unwrap();
    })
}

fn definition(name: &str, image: &str, source: &Path, persistent: bool) -> String {
    serde_json::json!({
        "name": name,
        "image": image,
        "persistent": persistent,
        "mounts": [format!("{}:/x", source.display())],
    })
    .to_string()
}

fn running(session: &Session, container: &str) -> String {
    let state = podman(
        session,
        &["inspect", "--format", "{{.State.Running}}", container],
    );
    text(&state.stdout).trim().to_owned()
}

fn mount_sources(session: &Session, container: &str) -> String {
    let mounts = podman(
        session,
        &[
            "inspect",
            "--format",
            "{{range .Mounts}}{{if eq .Destination \"/x\"}}{{.Source}}{{end}}{{end}}",
            container,
        ],
    );
    text(&mounts.stdout).trim().to_owned()
}

/// `start` after the swap is refused, naming the mount and the resolved path, and the container
/// does not run; `run` (which starts it too) never prints the secret; undone, it starts again.
fn start_is_refused_after_a_swap(session: &Session, name: &str, persistent: bool, how: Swap) {
    let bed = TestBed::shared();
    let victim = Victim::new(name);
    let source = real_source(session);
    session.write_user_definition(
        name,
        &definition(name, &bed.busybox_image(), &source, persistent),
    );
    let container = format!("horizonos-{name}");
    assert_exit(&session.horizon(&["install", name]), 0);
    let read = session.horizon(&["run", name, "cat", "/x/f"]);
    assert_exit(&read, 0);
    assert_eq!(text(&read.stdout), INSIDE);
    assert_eq!(
        mount_sources(session, &container),
        source.display().to_string()
    );
    assert_exit(&session.horizon(&["stop", name]), 0);

    let undo = swap(session, &source, &victim, how);
    let resolved = match how {
        Swap::Source => victim.0.clone(),
        Swap::Parent => victim.0.join("data"),
    };
    let start = session.horizon(&["start", name]);
    let context = format!("{name} ({how:?}, persistent {persistent}): {start:?}");
    assert_exit(&start, 1);
    let stderr = text(&start.stderr);
    assert!(
        stderr.contains(&format!(
            "the mount {}:/x of {name} is refused: {} resolves to {}, which is outside",
            source.display(),
            source.display(),
            resolved.display()
        )),
        "{context}"
    );
    assert!(!text(&start.stdout).contains(SECRET), "{context}");
    assert_eq!(running(session, &container), "false", "{context}");
    let read = session.horizon(&["run", name, "cat", "/x/f"]);
    assert!(!text(&read.stdout).contains(SECRET), "{context}: {read:?}");
    assert_ne!(read.status.code(), Some(0), "{context}: {read:?}");
    assert_eq!(running(session, &container), "false", "{context}");

    undo();
    let start = session.horizon(&["start", name]);
    assert_exit(&start, 0);
    let read = session.horizon(&["run", name, "cat", "/x/f"]);
    assert_exit(&read, 0);
    assert_eq!(text(&read.stdout), INSIDE);
    assert_exit(&session.horizon(&["remove", name]), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn root_never_mounts_a_user_source_swapped_for_a_symlink_at_start() {
    let bed = TestBed::shared();
    for (persistent, how, test) in [
        (false, Swap::Source, "mnt-np-src"),
        (false, Swap::Parent, "mnt-np-parent"),
        (true, Swap::Source, "mnt-p-src"),
        (true, Swap::Parent, "mnt-p-parent"),
    ] {
        let session = bed.root_session(test);
        start_is_refused_after_a_swap(&session, &unique_name(test), persistent, how);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rootless_user_never_mounts_a_source_swapped_for_a_symlink_at_start() {
    let bed = TestBed::shared();
    for (persistent, test) in [(false, "mnt-user-np"), (true, "mnt-user-p")] {
        let session = bed.user_session(test);
        start_is_refused_after_a_swap(&session, &unique_name(test), persistent, Swap::Source);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn install_update_and_rollback_never_mount_a_swapped_source() {
    let bed = TestBed::shared();
    let session = bed.root_session("mnt-update");
    let name = unique_name("mnt-update");
    let victim = Victim::new(&name);
    let source = real_source(&session);
    let container = format!("horizonos-{name}");
    let refused = format!(
        "the mount {}:/x of {name} is refused: {} resolves to {}, which is outside",
        source.display(),
        source.display(),
        victim.0.display()
    );
    let v1 = bed.push_busybox_variant(&name, "latest", &[("etc/version", b"1\n")]);
    let file = session.write_user_definition(&name, &definition(&name, &v1, &source, false));

    // Install with the source already swapped: the definition is refused when read.
    let undo = swap(&session, &source, &victim, Swap::Source);
    let install = session.horizon(&["install", &name]);
    assert_exit(&install, 2);
    assert!(
        text(&install.stderr).contains(&format!("the definition `{name}` in")),
        "{install:?}"
    );
    let validate = session.horizon(&["definition", "validate", &file.display().to_string()]);
    assert!(
        text(&validate.stdout).contains("resolves to")
            || text(&validate.stderr).contains("resolves to"),
        "{validate:?}"
    );
    assert_eq!(
        podman(&session, &["container", "exists", &container])
            .status
            .code(),
        Some(1)
    );
    undo();
    assert_exit(&session.horizon(&["install", &name]), 0);

    // An update reads the definition again: refused there, before anything is built; generation
    // 1 goes on running, untouched. (A swap after that read is caught at the create, which goes
    // through the same checked path as a recreation.)
    bed.push_busybox_variant(&name, "latest", &[("etc/version", b"2\n")]);
    let undo = swap(&session, &source, &victim, Swap::Source);
    let update = session.horizon(&["update", &name]);
    assert_exit(&update, 2);
    assert!(
        text(&update.stderr).contains(&format!("the definition `{name}` in")),
        "{update:?}"
    );
    let version = session.horizon(&["run", &name, "cat", "/etc/version", "/x/f"]);
    assert!(!text(&version.stdout).contains(SECRET), "{version:?}");
    undo();
    let version = session.horizon(&["run", &name, "cat", "/etc/version", "/x/f"]);
    assert_exit(&version, 0);
    assert_eq!(text(&version.stdout), format!("1\n{INSIDE}"));
    let update = session.horizon(&["update", &name]);
    assert_exit(&update, 0);
    let version = session.horizon(&["run", &name, "cat", "/etc/version", "/x/f"]);
    assert_eq!(text(&version.stdout), format!("2\n{INSIDE}"));

    // A rollback to generation 1 (its kept container is started again) is refused too.
    let undo = swap(&session, &source, &victim, Swap::Source);
    let rollback = session.horizon(&["rollback", &name]);
    assert_ne!(rollback.status.code(), Some(0), "{rollback:?}");
    assert!(text(&rollback.stderr).contains(&refused), "{rollback:?}");
    let read = session.horizon(&["run", &name, "cat", "/x/f"]);
    assert!(!text(&read.stdout).contains(SECRET), "{read:?}");
    assert_eq!(running(&session, &container), "false");
    undo();
    let read = session.horizon(&["run", &name, "cat", "/etc/version", "/x/f"]);
    assert_exit(&read, 0);
    assert!(text(&read.stdout).ends_with(INSIDE), "{read:?}");
    assert_exit(&session.horizon(&["remove", &name]), 0);
}
