//! The package managers horizon can install a definition's packages with, how each is detected in
//! an image, and the exact argv of each step. Package names are passed as separate argv elements,
//! never through a shell (the definition layer has already restricted them to package-name
//! characters, none of which starts an option).

use std::collections::BTreeMap;

use serde::Serialize;

/// A package manager found in an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PackageManager {
    /// Debian, Ubuntu.
    AptGet,
    /// Fedora, CentOS Stream, RHEL.
    Dnf,
    /// Arch Linux.
    Pacman,
    /// Alpine Linux.
    Apk,
    /// openSUSE, SLE.
    Zypper,
}

impl PackageManager {
    /// Every manager, in the order they are looked for.
    pub const ALL: [PackageManager; 5] = [
        PackageManager::AptGet,
        PackageManager::Dnf,
        PackageManager::Pacman,
        PackageManager::Apk,
        PackageManager::Zypper,
    ];

    /// The program's name.
    pub fn program(self) -> &'static str {
        match self {
            PackageManager::AptGet => "apt-get",
            PackageManager::Dnf => "dnf",
            PackageManager::Pacman => "pacman",
            PackageManager::Apk => "apk",
            PackageManager::Zypper => "zypper",
        }
    }

    /// The command whose exit status 0 proves the manager is there and runs (a missing program
    /// exits 127 through exec, no shell involved).
    pub fn probe(self) -> Vec<String> {
        argv(&[self.program(), "--version"])
    }
}

impl std::fmt::Display for PackageManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.program())
    }
}

/// One command of a package installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageCommand {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
}

impl PackageCommand {
    /// The command line for messages (argv joined with spaces; never run through a shell).
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|&word| word.to_owned()).collect()
}

/// The commands that install `packages` with `manager`, non-interactively and without
/// recommended extras, refreshing the package index first where the manager needs it.
pub fn package_commands(manager: PackageManager, packages: &[String]) -> Vec<PackageCommand> {
    // apt must not ask questions (debconf); the others take flags for that.
    let env: BTreeMap<String, String> = match manager {
        PackageManager::AptGet => {
            BTreeMap::from([("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())])
        }
        _ => BTreeMap::new(),
    };
    let plain = |words: &[&str]| PackageCommand {
        argv: argv(words),
        env: env.clone(),
    };
    let installing = |words: &[&str]| {
        let mut command = plain(words);
        command.argv.extend(packages.iter().cloned());
        command
    };
    match manager {
        // Minimal Debian images ship without a package index.
        PackageManager::AptGet => vec![
            plain(&["apt-get", "update"]),
            installing(&["apt-get", "install", "-y", "--no-install-recommends"]),
        ],
        PackageManager::Dnf => vec![installing(&[
            "dnf",
            "install",
            "-y",
            "--setopt=install_weak_deps=False",
        ])],
        // A sync without the upgrade (-Sy) is a partial upgrade, which Arch does not support.
        PackageManager::Pacman => vec![installing(&["pacman", "-Syu", "--noconfirm", "--needed"])],
        PackageManager::Apk => vec![installing(&["apk", "add", "--no-cache"])],
        PackageManager::Zypper => vec![installing(&[
            "zypper",
            "--non-interactive",
            "install",
            "--no-recommends",
        ])],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_manager_gets_an_argv_array_with_the_packages_last() {
        let packages = vec!["git".to_owned(), "make".to_owned()];
        let table: [(PackageManager, &[&str]); 5] = [
            (
                PackageManager::AptGet,
                &[
                    "apt-get update",
                    "apt-get install -y --no-install-recommends git make",
                ],
            ),
            (
                PackageManager::Dnf,
                &["dnf install -y --setopt=install_weak_deps=False git make"],
            ),
            (
                PackageManager::Pacman,
                &["pacman -Syu --noconfirm --needed git make"],
            ),
            (PackageManager::Apk, &["apk add --no-cache git make"]),
            (
                PackageManager::Zypper,
                &["zypper --non-interactive install --no-recommends git make"],
            ),
        ];
        for (manager, expected) in table {
            let commands = package_commands(manager, &packages);
            let lines: Vec<String> = commands.iter().map(PackageCommand::display).collect();
            assert_eq!(lines, expected, "{manager}");
            let last = commands.last().unwrap();
            assert_eq!(last.argv[last.argv.len() - 2..], packages, "{manager}");
        }
    }

    #[test]
    fn apt_runs_without_questions() {
        for command in package_commands(PackageManager::AptGet, &["git".to_owned()]) {
            assert_eq!(
                command.env,
                BTreeMap::from([("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())])
            );
        }
        assert!(package_commands(PackageManager::Apk, &[])[0].env.is_empty());
    }

    #[test]
    fn a_package_name_with_shell_characters_stays_one_argument() {
        // The definition layer refuses such names; the argv would not be hurt by them anyway.
        let odd = "a;b$(c)".to_owned();
        let commands = package_commands(PackageManager::Apk, std::slice::from_ref(&odd));
        assert_eq!(commands[0].argv, ["apk", "add", "--no-cache", "a;b$(c)"]);
        assert_eq!(PackageManager::Dnf.probe(), ["dnf", "--version"]);
    }
}
