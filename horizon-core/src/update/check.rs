//! `update --check`: for each installed container, what its definition's image reference points
//! to at the registry now (manifest only, see [`super::registry`]) against the digest its running
//! generation was built from, and whether its definition changed since. Every container is checked
//! at the same time; one that cannot be checked — its install record unreadable among them —
//! carries its error and does not stop the others.
//! Nothing is pulled, built or changed, and no lock is taken: a check is a reader.

use serde::Serialize;

use super::error::UpdateError;
use super::registry::RegistryClient;
use crate::definition::{Catalog, ResolvedDefinition};
use crate::lifecycle::{InstallRecord, LifecycleError, StateStore, UnreadableRecord};

/// What to check.
#[derive(Clone, Copy, Debug)]
pub struct CheckRequest<'a> {
    /// The definitions now.
    pub catalog: &'a Catalog,
    /// The install records.
    pub state: &'a StateStore,
    /// The containers to check; empty means every installed one.
    pub names: &'a [String],
    /// How to reach registries.
    pub registry: &'a RegistryClient,
}

/// The check of one installed container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerCheck {
    /// The definition name.
    pub name: String,
    /// The generation that runs (unknown when its install record cannot be read).
    pub generation: Option<u64>,
    /// The image reference checked (the definition's now, else the one installed).
    pub image: String,
    /// The digest the running generation was built from.
    pub installed_digest: Option<String>,
    /// The digest the reference points to at the registry now (absent when the check failed).
    pub available_digest: Option<String>,
    /// The registry has another image than the one installed.
    pub image_update: bool,
    /// The definition changed since the running generation was built (an update applies it).
    pub definition_changed: bool,
    /// Whether a definition of that name exists now (without one there is nothing to update to).
    pub definition_exists: bool,
    /// Why the check failed, when it did.
    pub error: Option<String>,
    /// The check failed because the install record cannot be read (a repair rebuilds it).
    #[serde(skip)]
    pub record_unreadable: bool,
}

impl ContainerCheck {
    /// Whether `update` would build a new generation.
    pub fn update_available(&self) -> bool {
        self.definition_exists && (self.image_update || self.definition_changed)
    }
}

/// The digest generation builds of `resolved` are pulled at now: the definition's pinned digest,
/// else what its reference points to at the registry.
pub async fn available_digest(
    resolved: &ResolvedDefinition,
    registry: &RegistryClient,
) -> Result<String, UpdateError> {
    let image = &resolved.definition.image;
    if let Some(digest) = &image.digest {
        return Ok(digest.clone());
    }
    registry
        .manifest_digest(&image.full)
        .await
        .map_err(|source| UpdateError::Registry {
            reference: image.full.clone(),
            source,
        })
}

/// Checks one installed container (see the module documentation).
pub async fn check_one(
    record: &InstallRecord,
    current: Option<&ResolvedDefinition>,
    registry: &RegistryClient,
) -> ContainerCheck {
    let mut report = ContainerCheck {
        name: record.name.clone(),
        generation: Some(record.generation),
        image: current.map_or_else(
            || record.image.clone(),
            |resolved| resolved.definition.image.full.clone(),
        ),
        installed_digest: record.image_digest.clone(),
        available_digest: None,
        image_update: false,
        definition_changed: current
            .is_some_and(|resolved| resolved.definition.content_hash() != record.definition_hash),
        definition_exists: current.is_some(),
        error: None,
        record_unreadable: false,
    };
    let digest = match current {
        Some(resolved) => available_digest(resolved, registry).await,
        None => registry
            .manifest_digest(&record.image)
            .await
            .map_err(|source| UpdateError::Registry {
                reference: record.image.clone(),
                source,
            }),
    };
    match digest {
        Ok(digest) => {
            report.image_update = record.image_digest.as_deref() != Some(digest.as_str());
            report.available_digest = Some(digest);
        }
        Err(error) => report.error = Some(error_chain(&error)),
    }
    report
}

/// The check of a container whose install record cannot be read: nothing is known of what runs.
fn unreadable(record: &UnreadableRecord, current: Option<&ResolvedDefinition>) -> ContainerCheck {
    ContainerCheck {
        name: record.name.clone(),
        generation: None,
        image: current.map_or_else(String::new, |resolved| {
            resolved.definition.image.full.clone()
        }),
        installed_digest: None,
        available_digest: None,
        image_update: false,
        definition_changed: false,
        definition_exists: current.is_some(),
        error: Some(record.to_string()),
        record_unreadable: true,
    }
}

/// Checks the requested installed containers, all at once, in name order. A name that is not
/// installed is [`LifecycleError::NotInstalled`] before anything is asked of a registry.
pub async fn check(request: CheckRequest<'_>) -> Result<Vec<ContainerCheck>, UpdateError> {
    let scan = request.state.scan()?;
    let wanted = |name: &String| request.names.is_empty() || request.names.contains(name);
    for name in request.names {
        if !scan.names().contains(name) {
            return Err(LifecycleError::NotInstalled { name: name.clone() }.into());
        }
    }
    let checks = scan
        .records
        .iter()
        .filter(|record| wanted(&record.name))
        .map(|record| check_one(record, request.catalog.get(&record.name), request.registry));
    let mut checked: Vec<ContainerCheck> = futures_util::future::join_all(checks).await;
    checked.extend(
        scan.unreadable
            .iter()
            .filter(|record| wanted(&record.name))
            .map(|record| unreadable(record, request.catalog.get(&record.name))),
    );
    checked.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(checked)
}

/// An error and its causes on one line, as `--json` and tables show a per-container failure.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod error_chain_tests {
    use std::io;
    use std::path::PathBuf;

    use super::error_chain;
    use crate::base::BaseError;
    use crate::engine::ServiceStartError;
    use crate::exec_plan::{ArgvError, ExecPlanError};
    use crate::export::ExportError;
    use crate::host_command::HostCommandError;
    use crate::lifecycle::LifecycleError;
    use crate::system_update::SystemUpdateError;
    use crate::system_update::generations::GenerationError;

    fn read_only() -> io::Error {
        io::Error::from_raw_os_error(30)
    }

    /// One rule for every error with a cause: its own message says what failed, the chain adds
    /// why, so the cause is shown once.
    #[test]
    fn every_error_with_a_cause_says_it_once() {
        let cause = "Read-only file system (os error 30)";
        let path = PathBuf::from("/x/y");
        let spawn = || HostCommandError::Spawn {
            command: "ostree admin status".into(),
            source: read_only(),
        };
        let agent_dir = || LifecycleError::AgentDir {
            name: "dev".into(),
            dir: path.clone(),
            source: read_only(),
        };
        let cases: Vec<(Box<dyn std::error::Error>, String)> = vec![
            (
                Box::new(ServiceStartError::Prepare {
                    path: path.clone(),
                    source: read_only(),
                }),
                format!("cannot prepare /x/y: {cause}"),
            ),
            (
                Box::new(ServiceStartError::Spawn {
                    program: path.clone(),
                    source: read_only(),
                }),
                format!("cannot run /x/y: {cause}"),
            ),
            (
                Box::new(ExportError::Io {
                    action: "write",
                    path: path.clone(),
                    source: read_only(),
                }),
                format!("cannot write /x/y: {cause}"),
            ),
            (
                Box::new(ExecPlanError::Argv {
                    source: ArgvError::Empty,
                }),
                "no command given".into(),
            ),
            (
                Box::new(GenerationError::Io {
                    action: "read",
                    path: path.clone(),
                    source: read_only(),
                }),
                format!("could not read /x/y: {cause}"),
            ),
            (
                Box::new(spawn()),
                format!("could not run ostree admin status: {cause}"),
            ),
            (
                Box::new(BaseError::Tool {
                    action: "checking for a base update",
                    source: spawn(),
                }),
                format!(
                    "checking for a base update failed: could not run ostree admin status: {cause}"
                ),
            ),
            (
                Box::new(agent_dir()),
                format!("preparing the agent directory /x/y of dev failed: {cause}"),
            ),
            (
                Box::new(SystemUpdateError::Containers(agent_dir())),
                format!(
                    "reading the installed containers failed: preparing the agent directory /x/y \
                     of dev failed: {cause}"
                ),
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error_chain(error.as_ref()), expected);
        }
    }
}
