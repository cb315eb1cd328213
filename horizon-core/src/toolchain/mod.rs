//! Development toolchains (`horizon-dev setup rust`): which toolchains exist, the image families
//! they know, what each installs, exports and probes on each family ([`recipe`], in
//! `recipes.rs`), how a container's family is read from its `/etc/os-release`, and how a
//! toolchain's entries are added to or taken from a definition's lists.
//!
//! A toolchain is recorded in the user layer of the definition, nowhere else: its packages in
//! `packages`, its binaries in `export_binaries`, its probe in `verify`. Lists in a higher layer
//! replace the lower ones whole, so the user layer carries the merged list plus the toolchain's
//! entries; removing a toolchain takes out only the entries it added that no lower layer lists.
//! Whether a toolchain is installed is read from the merged definition (every package, export
//! and probe of its recipe is there), so there is no second record to drift from the first.
//! Editing the user file keeps its other fields (`edit.rs`). The installation itself is the
//! container's next generation, built by the update transaction with the package manager the
//! build detects (`lifecycle::packages`): nothing here runs a package manager.

mod edit;
mod recipes;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::definition::{Definition, DefinitionError};
use crate::lifecycle::PackageManager;

pub use edit::{EditError, edit_user_layer};
pub use recipes::recipe;

/// The os-release files, in the order the os-release specification says to read them.
pub const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// A development toolchain `horizon-dev setup` can install.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolchain {
    /// Rust: cargo and rustc.
    Rust,
    /// Python 3 with pip (and venv where it is a package of its own).
    Python,
    /// Node.js with npm.
    Node,
    /// Go.
    Go,
    /// C and C++: gcc, clang, make, cmake.
    C,
    /// Java: the JDK (java, javac).
    Java,
}

impl Toolchain {
    /// Every toolchain, in the order they are listed.
    pub const ALL: [Toolchain; 6] = [
        Toolchain::Rust,
        Toolchain::Python,
        Toolchain::Node,
        Toolchain::Go,
        Toolchain::C,
        Toolchain::Java,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Toolchain::Rust => "rust",
            Toolchain::Python => "python",
            Toolchain::Node => "node",
            Toolchain::Go => "go",
            Toolchain::C => "c",
            Toolchain::Java => "java",
        }
    }

    /// The toolchain called `name`, or the error that lists the known ones.
    pub fn from_name(name: &str) -> Result<Toolchain, ToolchainError> {
        Toolchain::ALL
            .into_iter()
            .find(|toolchain| toolchain.name() == name)
            .ok_or_else(|| ToolchainError::Unknown {
                name: name.to_owned(),
                known: Toolchain::ALL
                    .map(|toolchain| toolchain.name().to_owned())
                    .to_vec(),
            })
    }
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A family of images that share package names and a package manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Debian, Ubuntu and their derivatives (apt-get).
    Debian,
    /// Fedora, RHEL, CentOS Stream and their derivatives (dnf).
    Fedora,
    /// Arch Linux and its derivatives (pacman).
    Arch,
    /// Alpine Linux (apk).
    Alpine,
    /// openSUSE and SLE (zypper).
    Opensuse,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 5] = [
        Family::Debian,
        Family::Fedora,
        Family::Arch,
        Family::Alpine,
        Family::Opensuse,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Family::Debian => "debian",
            Family::Fedora => "fedora",
            Family::Arch => "arch",
            Family::Alpine => "alpine",
            Family::Opensuse => "opensuse",
        }
    }

    /// The package manager its images install packages with.
    pub fn package_manager(self) -> PackageManager {
        match self {
            Family::Debian => PackageManager::AptGet,
            Family::Fedora => PackageManager::Dnf,
            Family::Arch => PackageManager::Pacman,
            Family::Alpine => PackageManager::Apk,
            Family::Opensuse => PackageManager::Zypper,
        }
    }

    /// The family an os-release `ID` or one word of `ID_LIKE` names, if one does.
    fn of_id(id: &str) -> Option<Family> {
        match id {
            "debian" | "ubuntu" => Some(Family::Debian),
            "fedora" | "rhel" | "centos" => Some(Family::Fedora),
            "arch" => Some(Family::Arch),
            "alpine" => Some(Family::Alpine),
            "suse" | "opensuse" | "sles" => Some(Family::Opensuse),
            // openSUSE's IDs carry the distribution: opensuse-tumbleweed, opensuse-leap.
            id if id.starts_with("opensuse-") => Some(Family::Opensuse),
            _ => None,
        }
    }

    /// The family an os-release file describes: its `ID` first, then the words of `ID_LIKE` in
    /// their order (the specification lists the closest relative first).
    pub fn from_os_release(text: &str) -> Result<Family, ToolchainError> {
        let release = OsRelease::parse(text);
        std::iter::once(release.id.as_str())
            .chain(release.id_like.split_whitespace())
            .find_map(Family::of_id)
            .ok_or(ToolchainError::UnsupportedFamily {
                id: release.id,
                id_like: release.id_like,
            })
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The fields of an os-release file that decide the family.
#[derive(Debug, Default, PartialEq, Eq)]
struct OsRelease {
    id: String,
    id_like: String,
}

impl OsRelease {
    /// `KEY=VALUE` lines, values optionally in double or single quotes; comments and other keys
    /// ignored. `ID` defaults to `linux`, as the specification says.
    fn parse(text: &str) -> OsRelease {
        let mut release = OsRelease {
            id: "linux".to_owned(),
            id_like: String::new(),
        };
        for line in text.lines() {
            let Some((key, value)) = line.trim().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let value = ['"', '\'']
                .iter()
                .find_map(|&quote| {
                    value
                        .strip_prefix(quote)
                        .and_then(|inner| inner.strip_suffix(quote))
                })
                .unwrap_or(value);
            match key.trim() {
                "ID" => release.id = value.to_owned(),
                "ID_LIKE" => release.id_like = value.to_owned(),
                _ => {}
            }
        }
        release
    }
}

/// What one toolchain adds to a definition on one family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// The toolchain.
    pub toolchain: Toolchain,
    /// The family.
    pub family: Family,
    /// Packages, as the family's package manager names them.
    pub packages: Vec<String>,
    /// Binaries exported to the host PATH.
    pub export_binaries: Vec<String>,
    /// The probe: commands that must exit 0 in the new generation (its verification).
    pub verify: Vec<Vec<String>>,
}

/// The three lists of a definition a toolchain changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolchainLists {
    /// `packages`.
    pub packages: Vec<String>,
    /// `export_binaries`.
    pub export_binaries: Vec<String>,
    /// `verify`.
    pub verify: Vec<Vec<String>>,
}

impl ToolchainLists {
    /// The lists of `definition`.
    pub fn of(definition: &Definition) -> Self {
        ToolchainLists {
            packages: definition.packages.clone(),
            export_binaries: definition.export_binaries.clone(),
            verify: definition.verify.clone(),
        }
    }
}

impl Recipe {
    /// Whether `definition` has every package, export and probe of this recipe.
    pub fn is_installed_in(&self, definition: &Definition) -> bool {
        self.packages
            .iter()
            .all(|package| definition.packages.contains(package))
            && self
                .export_binaries
                .iter()
                .all(|binary| definition.export_binaries.contains(binary))
            && self
                .verify
                .iter()
                .all(|argv| definition.verify.contains(argv))
    }

    /// `current` with this recipe's entries appended where missing (order kept, no repeats).
    pub fn added_to(&self, current: &ToolchainLists) -> ToolchainLists {
        ToolchainLists {
            packages: appended(&current.packages, &self.packages),
            export_binaries: appended(&current.export_binaries, &self.export_binaries),
            verify: appended(&current.verify, &self.verify),
        }
    }

    /// `current` without this recipe's entries, except those `lower` (the layers below the user
    /// layer) lists: what a lower layer asked for stays.
    pub fn removed_from(&self, current: &ToolchainLists, lower: &ToolchainLists) -> ToolchainLists {
        ToolchainLists {
            packages: without(&current.packages, &self.packages, &lower.packages),
            export_binaries: without(
                &current.export_binaries,
                &self.export_binaries,
                &lower.export_binaries,
            ),
            verify: without(&current.verify, &self.verify, &lower.verify),
        }
    }
}

fn appended<T: Clone + PartialEq>(current: &[T], added: &[T]) -> Vec<T> {
    let mut all = current.to_vec();
    for entry in added {
        if !all.contains(entry) {
            all.push(entry.clone());
        }
    }
    all
}

fn without<T: Clone + PartialEq>(current: &[T], removed: &[T], kept: &[T]) -> Vec<T> {
    current
        .iter()
        .filter(|entry| !removed.contains(entry) || kept.contains(entry))
        .cloned()
        .collect()
}

/// Why a toolchain could not be set up or listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolchainError {
    /// No toolchain has this name.
    #[error("there is no toolchain named `{name}`; known toolchains: {}", .known.join(", "))]
    Unknown {
        /// The name asked for.
        name: String,
        /// The toolchains there are.
        known: Vec<String>,
    },
    /// The container's os-release names no family horizon has recipes for.
    #[error(
        "the image's family is not supported: its os-release says ID={id:?}{}; toolchains have \
         recipes for debian, ubuntu, fedora, arch, alpine and opensuse images",
        if .id_like.is_empty() { String::new() } else { format!(", ID_LIKE={:?}", .id_like) }
    )]
    UnsupportedFamily {
        /// os-release's `ID`.
        id: String,
        /// os-release's `ID_LIKE` (empty when absent).
        id_like: String,
    },
    /// The container has no readable os-release file.
    #[error(
        "{container} has no os-release file ({}): its image's family is unknown",
        OS_RELEASE_PATHS.join(", ")
    )]
    NoOsRelease {
        /// The container.
        container: String,
    },
    /// Definitions of this user cannot be customised: no user definition directory is known.
    #[error(
        "no user definition directory is known (no home directory): a toolchain is recorded there"
    )]
    NoUserDirectory,
    /// The user layer could not be changed.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The user file is invalid now: it is not edited.
    #[error(
        "{} is invalid, so it was not changed (fix it first):\n  {}",
        .path.display(),
        diagnostics(.error)
    )]
    InvalidUserFile {
        /// The file.
        path: PathBuf,
        /// Why it is invalid.
        error: DefinitionError,
    },
    /// The user file with the toolchain's entries would be refused (a lower layer's privilege
    /// forbids changing what code runs, say): nothing was written.
    #[error(
        "{} would be refused with this change, so nothing was changed:\n  {}",
        .path.display(),
        diagnostics(.error)
    )]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why the changed file would be refused.
        error: DefinitionError,
    },
    /// The user file is not UTF-8 text.
    #[error("{}: not UTF-8 text, so it was not changed", .path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The user file could not be read.
    #[error("{}: {source}", .path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn diagnostics(error: &DefinitionError) -> String {
    error
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[cfg(test)]
mod tests;
