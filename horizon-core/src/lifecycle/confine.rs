//! The mounts a user file chose stay inside the home and /tmp at every create and start, not only
//! when the file was read: a source (or a directory above it) can be replaced by a symlink after
//! install, and Podman keeps the path, not the directory — the kernel follows whatever the path
//! has become at each start (measured on Podman 4.3.1: a persistent container restarted after its
//! source became a symlink to another directory mounts that directory, and inspect still shows
//! the old path). So:
//!
//! - at create, each such source is resolved and checked, and Podman is given the resolved path
//!   (what inspect then shows is compared with it by the security check);
//! - before each start, the source Podman holds is resolved and checked again, and the identity
//!   (device and inode) of the directory it names is taken;
//! - after the start, what the container's main process sees at the mount's target must be that
//!   directory: a swap between the check and the start (Podman resolves the path itself) is
//!   caught there, and the container is killed before anything runs in it.
//!
//! Which mounts are checked is recorded at create in the label [`labels::USER_MOUNTS`] (the
//! targets, and the home they were allowed in), so a recreation from the recorded spec, a
//! restart and a rollback check them as the install did.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::definition::{UserMounts, user_mount_allowed};
use crate::engine::{BindMount, ContainerDetails, ContainerSpec, Engine, StateChange};
use crate::labels;

use super::error::LifecycleError;

/// Where the host sees a process's root directory, and so its mounts.
const PROC: &str = "/proc";

/// The label value: which mounts are the user's, and the home they may be in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Confinement {
    home: Option<PathBuf>,
    targets: Vec<String>,
}

/// The label recording `user_mounts`, when there are any.
pub(crate) fn label(user_mounts: &UserMounts) -> Option<String> {
    if user_mounts.targets.is_empty() {
        return None;
    }
    let confinement = Confinement {
        home: user_mounts.home.clone(),
        targets: user_mounts
            .targets
            .iter()
            .map(|target| target.display().to_string())
            .collect(),
    };
    // Strings and an optional path: it always serialises.
    serde_json::to_string(&confinement).ok()
}

/// The confinement a container (or spec) was made with; `None` when no mount is the user's.
fn of(
    definition: &str,
    container: &str,
    container_labels: &std::collections::BTreeMap<String, String>,
) -> Result<Option<Confinement>, LifecycleError> {
    let Some(text) = container_labels.get(labels::USER_MOUNTS) else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|error| LifecycleError::BadCreateSpec {
            name: definition.to_owned(),
            container: container.to_owned(),
            message: format!("label {}: {error}", labels::USER_MOUNTS),
        })
}

fn refused(definition: &str, mount: &BindMount, reason: String) -> LifecycleError {
    LifecycleError::MountRefused {
        name: definition.to_owned(),
        host_path: PathBuf::from(&mount.source),
        target: PathBuf::from(&mount.target),
        reason,
    }
}

/// `mount`'s source resolved and checked against the user's places; it must exist.
fn resolve(
    definition: &str,
    confinement: &Confinement,
    mount: &BindMount,
) -> Result<PathBuf, LifecycleError> {
    let resolved = user_mount_allowed(Path::new(&mount.source), confinement.home.as_deref())
        .map_err(|reason| refused(definition, mount, reason))?;
    if let Err(error) = std::fs::symlink_metadata(&resolved) {
        return Err(refused(
            definition,
            mount,
            format!("{} cannot be used: {error}", resolved.display()),
        ));
    }
    Ok(resolved)
}

/// The spec to create from `spec`: each of the user's mounts with its source resolved (and
/// checked). Everything else is `spec` as it is.
pub(crate) fn pin(definition: &str, spec: &ContainerSpec) -> Result<ContainerSpec, LifecycleError> {
    let mut pinned = spec.clone();
    let Some(confinement) = of(definition, &spec.name, &spec.labels)? else {
        return Ok(pinned);
    };
    for mount in &mut pinned.mounts {
        if confinement.targets.contains(&mount.target) {
            mount.source = resolve(definition, &confinement, mount)?
                .display()
                .to_string();
        }
    }
    Ok(pinned)
}

/// A checked source and the directory (device, inode) it names just before a start.
struct Pin {
    mount: BindMount,
    identity: (u64, u64),
}

/// Checks the user's mounts of the container `details` describes, as Podman holds them, and
/// takes the identity of what each names.
fn pins(definition: &str, details: &ContainerDetails) -> Result<Vec<Pin>, LifecycleError> {
    let Some(confinement) = of(definition, &details.name, &details.labels)? else {
        return Ok(Vec::new());
    };
    let mut pins = Vec::new();
    for mount in &details.mounts {
        if !confinement.targets.contains(&mount.target) {
            continue;
        }
        let resolved = resolve(definition, &confinement, mount)?;
        let metadata = std::fs::metadata(&resolved).map_err(|error| {
            refused(
                definition,
                mount,
                format!("{} cannot be used: {error}", resolved.display()),
            )
        })?;
        pins.push(Pin {
            mount: mount.clone(),
            identity: (metadata.dev(), metadata.ino()),
        });
    }
    Ok(pins)
}

/// Whether the process `pid` sees, at each pin's target, the directory that was checked.
fn verify(definition: &str, pins: &[Pin], pid: i64) -> Result<(), LifecycleError> {
    for pin in pins {
        let seen = Path::new(PROC)
            .join(pid.to_string())
            .join("root")
            .join(pin.mount.target.trim_start_matches('/'));
        match std::fs::symlink_metadata(&seen) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == pin.identity => {}
            Ok(_) => {
                return Err(refused(
                    definition,
                    &pin.mount,
                    format!(
                        "{} was replaced while the container started: it mounted another directory than the one checked",
                        pin.mount.source
                    ),
                ));
            }
            Err(error) => {
                return Err(refused(
                    definition,
                    &pin.mount,
                    format!(
                        "what the container mounted at {} cannot be checked ({error})",
                        pin.mount.target
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Starts `container` (described by `before`, inspected before the start) after checking the
/// user's mounts, then checks that it mounted what was checked; when it did not, it is killed
/// and the start refused.
pub(crate) async fn start_checked<E: Engine>(
    engine: &E,
    definition: &str,
    container: &str,
    before: &ContainerDetails,
) -> Result<StateChange, LifecycleError> {
    let pins = pins(definition, before)?;
    let change = engine
        .start_container(container)
        .await
        .map_err(|error| LifecycleError::engine(definition, "start", error))?;
    if pins.is_empty() {
        return Ok(change);
    }
    let after = engine
        .inspect_container(container)
        .await
        .map_err(|error| LifecycleError::engine(definition, "inspect", error))?;
    // A container that has already exited holds no mount any more, and ran only horizon's
    // command in the meantime.
    if !after.state.running {
        return Ok(change);
    }
    if let Err(refusal) = verify(definition, &pins, after.state.pid) {
        if let Err(error) = engine.stop_container(container, Duration::ZERO).await {
            tracing::warn!(%error, container, "cannot kill a container whose mount was refused");
        }
        return Err(refusal);
    }
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(source: &Path, home: &Path) -> ContainerSpec {
        let mut spec = ContainerSpec {
            name: "c".to_owned(),
            ..ContainerSpec::default()
        };
        spec.mounts = vec![
            BindMount {
                source: source.display().to_string(),
                target: "/x".to_owned(),
                read_only: false,
            },
            BindMount {
                source: "/etc/hostname".to_owned(),
                target: "/run/horizon/agent".to_owned(),
                read_only: true,
            },
        ];
        let user_mounts = UserMounts {
            home: Some(home.to_owned()),
            targets: vec![PathBuf::from("/x")],
        };
        spec.labels
            .insert(labels::USER_MOUNTS.to_owned(), label(&user_mounts).unwrap());
        spec
    }

    #[test]
    fn a_user_mount_is_created_resolved_and_refused_once_it_leads_out_of_the_home() {
        let home = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(home.path()).unwrap();
        let victim = tempfile::tempdir_in("/var/tmp").unwrap();
        std::fs::create_dir(home.join("real")).unwrap();
        std::os::unix::fs::symlink(home.join("real"), home.join("link")).unwrap();

        // Through a symlink inside the home: Podman gets the resolved path, nothing else changes.
        let spec = spec_with(&home.join("link"), &home);
        let pinned = pin("d", &spec).unwrap();
        assert_eq!(
            pinned.mounts[0].source,
            home.join("real").display().to_string()
        );
        assert_eq!(pinned.mounts[1], spec.mounts[1]);

        // The link now leads outside: refused, naming the mount and where it leads.
        std::fs::remove_file(home.join("link")).unwrap();
        std::os::unix::fs::symlink(victim.path(), home.join("link")).unwrap();
        let error = pin("d", &spec).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the mount {link}:/x of d is refused: {link} resolves to {victim}, which is outside your home ({home}) and /tmp; a user definition may mount only paths inside those. Nothing was started with it: make {link} a directory inside the home or /tmp again, or change the definition's mounts and reinstall",
                link = home.join("link").display(),
                victim = victim.path().display(),
                home = home.display(),
            )
        );

        // A source that is gone is refused too.
        let gone = spec_with(&home.join("gone"), &home);
        let error = pin("d", &gone).unwrap_err().to_string();
        assert!(
            error.contains("gone cannot be used: No such file"),
            "{error}"
        );
        // A spec without the label is left alone.
        let mut unconfined = spec.clone();
        unconfined.labels.remove(labels::USER_MOUNTS);
        assert_eq!(pin("d", &unconfined).unwrap(), unconfined);
    }

    #[test]
    fn what_a_process_sees_at_the_target_must_be_what_was_checked() {
        let home = tempfile::tempdir().unwrap();
        let home = std::fs::canonicalize(home.path()).unwrap();
        std::fs::create_dir(home.join("x")).unwrap();
        let mut details = ContainerDetails::fixture("c");
        details.mounts = vec![BindMount {
            source: home.join("x").display().to_string(),
            target: "/x".to_owned(),
            read_only: false,
        }];
        details.labels = spec_with(&home.join("x"), &home).labels;
        let checked = pins("d", &details).unwrap();
        assert_eq!(checked.len(), 1);
        // This process's root is the host's: at /x it sees no such directory.
        let error = verify("d", &checked, i64::from(std::process::id()))
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot be checked"), "{error}");
        // Pointing the pin at this process's view of the home's x: it matches.
        let at_x = Pin {
            mount: BindMount {
                target: home.join("x").display().to_string(),
                ..checked[0].mount.clone()
            },
            identity: checked[0].identity,
        };
        verify("d", &[at_x], i64::from(std::process::id())).unwrap();
    }
}
