//! The toolchain use cases of `horizon-dev setup`: set one up or remove one
//! ([`Horizon::setup_toolchain`]), list them ([`Horizon::toolchains`]). A setup or
//! removal is a change of the container's user-layer definition (`packages`, `export_binaries`,
//! `verify`; see `crate::toolchain`) built as the container's next generation by the update
//! transaction, under the container's lock after its journal was recovered, like every update.
//! The new file is handed to the transaction, which writes it only when the new generation is
//! verified and swapped in: a setup whose probe fails leaves the file byte for byte as it was,
//! and the same container and generation running. A rollback past the setup puts the file back
//! (the transaction keeps the file as it was with the generation that ran before).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::exports::DeclaredExports;
use super::{Call, Error, Horizon, UpdateOptions};
use crate::definition::{self, Layer, ResolvedDefinition};
use crate::engine::{Engine, ExecRequest};
use crate::export::UnexportOutcome;
use crate::lifecycle;
use crate::toolchain::{
    Family, OS_RELEASE_PATHS, Recipe, Toolchain, ToolchainError, ToolchainLists, edit_user_layer,
    recipe,
};
use crate::update::{ContainerLock, DefinitionChange, LockWait, UpdateOutcome};

/// How to set up or remove a toolchain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetupOptions {
    /// Queue behind another horizon process holding the container's lock instead of failing.
    pub wait: bool,
    /// Previous generations to keep (`None`: the settings' default).
    pub keep_previous: Option<usize>,
    /// Export the toolchain's binaries even where they would shadow a host command (or take the
    /// place of a file that is not horizon's, which is moved aside), as `export --force` does.
    pub force_exports: bool,
    /// Remove the toolchain instead of setting it up.
    pub remove: bool,
}

/// What a setup or removal changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ToolchainChange {
    /// The toolchain is installed: a new generation has it.
    Installed,
    /// It was installed already: nothing was done.
    AlreadyInstalled,
    /// It is removed: a new generation is without it.
    Removed,
    /// The definition had none of its entries (beyond what lower layers list): nothing was done.
    NotInstalled,
}

/// The report of [`Horizon::setup_toolchain`].
#[derive(Debug, Serialize)]
pub struct SetupReport {
    /// The container's definition.
    pub container: String,
    /// What the toolchain is on this container's family.
    pub recipe: Recipe,
    /// What was done.
    pub change: ToolchainChange,
    /// The user-layer file that records it.
    pub definition: PathBuf,
    /// The update that built the new generation (none when nothing was done).
    pub update: Option<UpdateOutcome>,
    /// The definition's exports after the change (none when nothing was done).
    pub exports: Option<DeclaredExports>,
    /// The wrappers removed with the binaries the definition no longer declares.
    pub unexported: Vec<UnexportOutcome>,
}

/// The report of [`Horizon::toolchains`].
#[derive(Debug, Serialize)]
pub struct ToolchainList {
    /// The container's definition.
    pub container: String,
    /// Its image's family.
    pub family: Family,
    /// Every toolchain, in [`Toolchain::ALL`] order.
    pub toolchains: Vec<ListedToolchain>,
}

/// One toolchain of a [`ToolchainList`].
#[derive(Debug, Serialize)]
pub struct ListedToolchain {
    /// What it installs, exports and probes on the family.
    #[serde(flatten)]
    pub recipe: Recipe,
    /// The merged definition has all of it.
    pub installed: bool,
}

impl<E: Engine> Horizon<E> {
    /// Sets up `toolchain` in `container` — its packages, exports and probe added to the user
    /// layer of the definition, built and verified as the next generation, then exported — or,
    /// with `options.remove`, removes it: the entries it added (never what a lower layer lists)
    /// taken out, built as the next generation, its wrappers removed.
    pub async fn setup_toolchain(
        &self,
        call: Call<'_>,
        container: &str,
        toolchain: &str,
        options: &SetupOptions,
    ) -> Result<SetupReport, Error> {
        let toolchain = Toolchain::from_name(toolchain)?;
        // A refused file that customises the definition is not built over, nor edited.
        self.resolve_to_build(container, "changed")?;
        let path = self
            .settings
            .sources
            .dir(Layer::User)
            .ok_or(ToolchainError::NoUserDirectory)?
            .join(format!("{container}.json"));
        self.require_installed(container)?;
        self.engine(call).await?;
        self.warn_unusable_agent(call);
        let operation = if options.remove {
            "toolchain removal"
        } else {
            "setup"
        };
        self.until_cancelled(call, operation, &[container], async {
            let lock = self
                .lock_for_write(call, container, "setup", LockWait::when(options.wait))
                .await?;
            self.change_toolchain(call, &lock, container, toolchain, &path, options)
                .await
        })
        .await
    }

    /// Every toolchain, what it installs on `container`'s family, and which are installed (read
    /// from the merged definition).
    pub async fn toolchains(
        &self,
        call: Call<'_>,
        container: &str,
    ) -> Result<ToolchainList, Error> {
        let resolved = self.resolve(container)?;
        self.require_installed(container)?;
        self.recover_before_reading(call, container).await?;
        let family = self.family_of(call, container).await?;
        let toolchains = Toolchain::ALL
            .into_iter()
            .map(|toolchain| {
                let recipe = recipe(toolchain, family);
                ListedToolchain {
                    installed: recipe.is_installed_in(&resolved.definition),
                    recipe,
                }
            })
            .collect();
        Ok(ToolchainList {
            container: container.to_owned(),
            family,
            toolchains,
        })
    }

    /// The setup (or removal) under `lock`.
    async fn change_toolchain(
        &self,
        call: Call<'_>,
        lock: &ContainerLock,
        container: &str,
        toolchain: Toolchain,
        path: &Path,
        options: &SetupOptions,
    ) -> Result<SetupReport, Error> {
        let family = self.family_of(call, container).await?;
        let recipe = recipe(toolchain, family);
        // The definition as it is now, under the lock (the catalog was read before it).
        let before = read_user_file(path)?;
        let current = self.current_definition(container, path, before.as_deref())?;
        let now = ToolchainLists::of(&current.definition);
        let (change, lists) = match options.remove {
            false if recipe.is_installed_in(&current.definition) => {
                (ToolchainChange::AlreadyInstalled, None)
            }
            false => (ToolchainChange::Installed, Some(recipe.added_to(&now))),
            true => {
                let lower = definition::below(&self.settings.sources, Layer::User, container)
                    .map(|lower| ToolchainLists::of(&lower.definition))
                    .unwrap_or_default();
                let lists = recipe.removed_from(&now, &lower);
                if lists == now {
                    (ToolchainChange::NotInstalled, None)
                } else {
                    (ToolchainChange::Removed, Some(lists))
                }
            }
        };
        let mut report = SetupReport {
            container: container.to_owned(),
            recipe,
            change,
            definition: path.to_owned(),
            update: None,
            exports: None,
            unexported: Vec::new(),
        };
        let forced: &[String] = if options.force_exports {
            &report.recipe.export_binaries
        } else {
            &[]
        };
        let declared = &current.definition.export_binaries;
        let Some(lists) = lists else {
            if change == ToolchainChange::AlreadyInstalled {
                // Exports refused by an earlier setup can be made now (`force_exports`).
                let (exports, _) = self.follow_declared(container, declared, declared, forced)?;
                report.exports = Some(exports);
            }
            return Ok(report);
        };
        let after = edit_user_layer(
            before.as_deref().map(str::as_bytes),
            path,
            container,
            &lists,
        )
        .map_err(ToolchainError::from)?;
        let next = definition::check_bytes(&self.settings.sources, path, &after, Layer::User)
            .map_err(|error| ToolchainError::Refused {
                path: path.to_owned(),
                error,
            })?;
        let definition_change = DefinitionChange {
            path: path.to_owned(),
            before,
            // The edit writes text.
            after: Some(String::from_utf8_lossy(&after).into_owned()),
        };
        let update_options = UpdateOptions {
            keep_previous: options.keep_previous,
            ..UpdateOptions::default()
        };
        let outcome = self
            .update_locked(call, lock, &next, &update_options, Some(&definition_change))
            .await?;
        if let UpdateOutcome::UpToDate { .. } = outcome {
            // The running generation was built from the changed definition already (the
            // file had been edited back by hand): only the file is behind.
            definition_change.apply().map_err(Error::from)?;
        }
        let (exports, unexported) = self.follow_declared(
            container,
            declared,
            &next.definition.export_binaries,
            forced,
        )?;
        report.update = Some(outcome);
        report.exports = Some(exports);
        report.unexported = unexported;
        Ok(report)
    }

    /// The merged definition with the user file as `content` says (none: as the lower layers make
    /// it). A user file that is invalid now is refused, so it is never edited.
    fn current_definition(
        &self,
        container: &str,
        path: &Path,
        content: Option<&str>,
    ) -> Result<ResolvedDefinition, Error> {
        let sources = &self.settings.sources;
        match content {
            Some(text) => definition::check_bytes(sources, path, text.as_bytes(), Layer::User)
                .map_err(|error| {
                    ToolchainError::InvalidUserFile {
                        path: path.to_owned(),
                        error,
                    }
                    .into()
                }),
            None => definition::below(sources, Layer::User, container).ok_or_else(|| {
                self.resolve(container)
                    .err()
                    .unwrap_or(Error::NotInstalled {
                        name: container.to_owned(),
                    })
            }),
        }
    }

    /// Refuses a container without an install record.
    fn require_installed(&self, container: &str) -> Result<(), Error> {
        match self.state_store().read(container)? {
            Some(_) => Ok(()),
            None => Err(Error::NotInstalled {
                name: container.to_owned(),
            }),
        }
    }

    /// The family of `container`'s image, from its os-release file. Read through an exec in the
    /// running container (started when stopped, as export's binary check does): its files are
    /// its generation image's, and reading the image itself would take a container of its own.
    async fn family_of(&self, call: Call<'_>, container: &str) -> Result<Family, Error> {
        let engine = self.engine(call).await?;
        let details = lifecycle::ensure_running(engine, container).await?;
        for path in OS_RELEASE_PATHS {
            let request = ExecRequest {
                argv: vec!["cat".to_owned(), path.to_owned()],
                ..ExecRequest::default()
            };
            let output = engine.exec(&details.name, &request).await?;
            if output.exit_code == 0 {
                let text = String::from_utf8_lossy(&output.stdout);
                return Ok(Family::from_os_release(&text)?);
            }
        }
        Err(ToolchainError::NoOsRelease {
            container: container.to_owned(),
        }
        .into())
    }
}

/// The user file's content; `None` when there is none.
fn read_user_file(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Err(ToolchainError::NotUtf8 {
                path: path.to_owned(),
            }
            .into()),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ToolchainError::Unreadable {
            path: path.to_owned(),
            source,
        }
        .into()),
    }
}
