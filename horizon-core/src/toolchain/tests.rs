//! The recipes of every toolchain on every family (packages, and the package manager's exact
//! commands), family detection from os-release files, the list arithmetic, and the user-file edit.

use std::path::Path;

use super::*;
use crate::lifecycle::{PackageCommand, package_commands};

fn words(list: &[String]) -> String {
    list.join(" ")
}

#[test]
fn every_toolchain_has_packages_on_every_family_installed_by_its_package_manager() {
    use Family::*;
    use Toolchain::*;
    // (toolchain, family, packages, the package manager's install command)
    let table: &[(Toolchain, Family, &str, &str)] = &[
        (
            Rust,
            Debian,
            "cargo",
            "apt-get install -y --no-install-recommends cargo",
        ),
        (
            Rust,
            Fedora,
            "rust cargo",
            "dnf install -y --setopt=install_weak_deps=False rust cargo",
        ),
        (Rust, Arch, "rust", "pacman -Syu --noconfirm --needed rust"),
        (Rust, Alpine, "rust cargo", "apk add --no-cache rust cargo"),
        (
            Rust,
            Opensuse,
            "rust cargo",
            "zypper --non-interactive install --no-recommends rust cargo",
        ),
        (
            Python,
            Debian,
            "python3 python3-pip python3-venv",
            "apt-get install -y --no-install-recommends python3 python3-pip python3-venv",
        ),
        (
            Python,
            Fedora,
            "python3 python3-pip",
            "dnf install -y --setopt=install_weak_deps=False python3 python3-pip",
        ),
        (
            Python,
            Arch,
            "python python-pip",
            "pacman -Syu --noconfirm --needed python python-pip",
        ),
        (
            Python,
            Alpine,
            "python3 py3-pip",
            "apk add --no-cache python3 py3-pip",
        ),
        (
            Python,
            Opensuse,
            "python3 python3-pip",
            "zypper --non-interactive install --no-recommends python3 python3-pip",
        ),
        (
            Node,
            Debian,
            "nodejs npm",
            "apt-get install -y --no-install-recommends nodejs npm",
        ),
        (
            Node,
            Fedora,
            "nodejs npm",
            "dnf install -y --setopt=install_weak_deps=False nodejs npm",
        ),
        (
            Node,
            Arch,
            "nodejs npm",
            "pacman -Syu --noconfirm --needed nodejs npm",
        ),
        (Node, Alpine, "nodejs npm", "apk add --no-cache nodejs npm"),
        (
            Node,
            Opensuse,
            "nodejs-default npm-default",
            "zypper --non-interactive install --no-recommends nodejs-default npm-default",
        ),
        (
            Go,
            Debian,
            "golang-go",
            "apt-get install -y --no-install-recommends golang-go",
        ),
        (
            Go,
            Fedora,
            "golang",
            "dnf install -y --setopt=install_weak_deps=False golang",
        ),
        (Go, Arch, "go", "pacman -Syu --noconfirm --needed go"),
        (Go, Alpine, "go", "apk add --no-cache go"),
        (
            Go,
            Opensuse,
            "go",
            "zypper --non-interactive install --no-recommends go",
        ),
        (
            C,
            Debian,
            "gcc clang make cmake libc6-dev",
            "apt-get install -y --no-install-recommends gcc clang make cmake libc6-dev",
        ),
        (
            C,
            Fedora,
            "gcc clang make cmake glibc-devel",
            "dnf install -y --setopt=install_weak_deps=False gcc clang make cmake glibc-devel",
        ),
        (
            C,
            Arch,
            "gcc clang make cmake",
            "pacman -Syu --noconfirm --needed gcc clang make cmake",
        ),
        (
            C,
            Alpine,
            "gcc clang make cmake musl-dev",
            "apk add --no-cache gcc clang make cmake musl-dev",
        ),
        (
            C,
            Opensuse,
            "gcc clang make cmake glibc-devel",
            "zypper --non-interactive install --no-recommends gcc clang make cmake glibc-devel",
        ),
        (
            Java,
            Debian,
            "default-jdk-headless",
            "apt-get install -y --no-install-recommends default-jdk-headless",
        ),
        (
            Java,
            Fedora,
            "java-21-openjdk-devel",
            "dnf install -y --setopt=install_weak_deps=False java-21-openjdk-devel",
        ),
        (
            Java,
            Arch,
            "jdk-openjdk",
            "pacman -Syu --noconfirm --needed jdk-openjdk",
        ),
        (
            Java,
            Alpine,
            "openjdk21-jdk",
            "apk add --no-cache openjdk21-jdk",
        ),
        (
            Java,
            Opensuse,
            "java-21-openjdk-devel",
            "zypper --non-interactive install --no-recommends java-21-openjdk-devel",
        ),
    ];
    assert_eq!(
        table.len(),
        Toolchain::ALL.len() * Family::ALL.len(),
        "every pair is listed"
    );
    for &(toolchain, family, packages, install) in table {
        let recipe = recipe(toolchain, family);
        assert_eq!((recipe.toolchain, recipe.family), (toolchain, family));
        assert_eq!(words(&recipe.packages), packages, "{toolchain} on {family}");
        let commands = package_commands(family.package_manager(), &recipe.packages);
        let last = commands.last().map(PackageCommand::display);
        assert_eq!(last.as_deref(), Some(install), "{toolchain} on {family}");
        // Every package is a valid definition entry.
        for package in &recipe.packages {
            crate::definition::validate::package(package).unwrap();
        }
    }
}

#[test]
fn exports_and_probes_are_the_same_on_every_family() {
    let table: &[(Toolchain, &str, &[&str])] = &[
        (
            Toolchain::Rust,
            "cargo rustc",
            &["cargo --version", "rustc --version"],
        ),
        (
            Toolchain::Python,
            "python3 pip3",
            &["python3 --version", "pip3 --version"],
        ),
        (
            Toolchain::Node,
            "node npm",
            &["node --version", "npm --version"],
        ),
        (Toolchain::Go, "go gofmt", &["go version"]),
        (
            Toolchain::C,
            "gcc clang make cmake",
            &[
                "gcc --version",
                "clang --version",
                "make --version",
                "cmake --version",
            ],
        ),
        (
            Toolchain::Java,
            "java javac",
            &["java -version", "javac -version"],
        ),
    ];
    for &(toolchain, exports, probes) in table {
        for family in Family::ALL {
            let recipe = recipe(toolchain, family);
            assert_eq!(
                words(&recipe.export_binaries),
                exports,
                "{toolchain} on {family}"
            );
            let verify: Vec<String> = recipe.verify.iter().map(|argv| words(argv)).collect();
            assert_eq!(verify, probes, "{toolchain} on {family}");
            for binary in &recipe.export_binaries {
                crate::definition::validate::binary(binary).unwrap();
            }
            for argv in &recipe.verify {
                crate::definition::validate::verify_command(argv).unwrap();
            }
        }
    }
}

#[test]
fn toolchain_names_round_trip_and_an_unknown_one_lists_the_known() {
    for toolchain in Toolchain::ALL {
        assert_eq!(Toolchain::from_name(toolchain.name()).unwrap(), toolchain);
    }
    let error = Toolchain::from_name("cobol").unwrap_err();
    assert_eq!(
        error.to_string(),
        "there is no toolchain named `cobol`; known toolchains: rust, python, node, go, c, java"
    );
}

#[test]
fn the_family_comes_from_id_then_id_like() {
    let table: &[(&str, Family)] = &[
        (
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
            Family::Debian,
        ),
        ("ID=ubuntu\nID_LIKE=debian\n", Family::Debian),
        ("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n", Family::Debian),
        ("ID=fedora\n", Family::Fedora),
        ("ID=\"centos\"\nID_LIKE=\"rhel fedora\"\n", Family::Fedora),
        (
            "ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n",
            Family::Fedora,
        ),
        ("ID=arch\n", Family::Arch),
        ("ID=endeavouros\nID_LIKE=arch\n", Family::Arch),
        ("NAME=\"Alpine Linux\"\nID=alpine\n", Family::Alpine),
        (
            "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n",
            Family::Opensuse,
        ),
        ("ID='opensuse-leap'\n", Family::Opensuse),
        ("ID=\"sles\"\n", Family::Opensuse),
        ("# a comment\n\n ID = debian \n", Family::Debian),
    ];
    for &(text, family) in table {
        assert_eq!(Family::from_os_release(text).unwrap(), family, "{text:?}");
    }
}

#[test]
fn an_unknown_family_is_named_as_found() {
    let error = Family::from_os_release("ID=gentoo\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the image's family is not supported: its os-release says ID=\"gentoo\"; toolchains \
         have recipes for debian, ubuntu, fedora, arch, alpine and opensuse images"
    );
    let error = Family::from_os_release("ID=void\nID_LIKE=\"solaris bsd\"\n").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ID=\"void\", ID_LIKE=\"solaris bsd\""),
        "{error}"
    );
    // No ID at all: os-release's default.
    assert!(matches!(
        Family::from_os_release("NAME=x\n"),
        Err(ToolchainError::UnsupportedFamily { id, .. }) if id == "linux"
    ));
}

fn lists(packages: &[&str], exports: &[&str], verify: &[&[&str]]) -> ToolchainLists {
    let owned = |words: &[&str]| words.iter().map(|&w| w.to_owned()).collect::<Vec<_>>();
    ToolchainLists {
        packages: owned(packages),
        export_binaries: owned(exports),
        verify: verify.iter().map(|argv| owned(argv)).collect(),
    }
}

#[test]
fn adding_appends_what_is_missing_and_removing_keeps_what_a_lower_layer_lists() {
    let c = recipe(Toolchain::C, Family::Debian);
    let lower = lists(&["git", "make"], &["git", "make"], &[&["git", "--version"]]);
    let added = c.added_to(&lower);
    assert_eq!(
        added,
        lists(
            &["git", "make", "gcc", "clang", "cmake", "libc6-dev"],
            &["git", "make", "gcc", "clang", "cmake"],
            &[
                &["git", "--version"],
                &["gcc", "--version"],
                &["clang", "--version"],
                &["make", "--version"],
                &["cmake", "--version"],
            ],
        )
    );
    assert_eq!(c.added_to(&added), added, "adding twice changes nothing");
    assert_eq!(c.removed_from(&added, &lower), lower);
}

#[test]
fn installed_means_every_entry_of_the_recipe_is_in_the_definition() {
    let rust = recipe(Toolchain::Rust, Family::Debian);
    let image = crate::definition::validate::image("quay.io/x/y:1").unwrap();
    let mut definition = Definition::new("dev", image);
    assert!(!rust.is_installed_in(&definition));
    let all = rust.added_to(&ToolchainLists::of(&definition));
    definition.packages = all.packages.clone();
    definition.export_binaries = all.export_binaries.clone();
    assert!(!rust.is_installed_in(&definition), "the probe is missing");
    definition.verify = all.verify;
    assert!(rust.is_installed_in(&definition));
}

#[test]
fn the_edit_keeps_every_other_member_in_its_place() {
    let before = br#"{
  "name": "dev",
  "image": "quay.io/x/y:1",
  "environment": {"EDITOR": "vi", "A": "1"},
  "mounts": ["/home", {"source": "/tmp", "target": "/tmp", "read_only": true}],
  "packages": ["git"],
  "persistent": true
}"#;
    let rust = recipe(Toolchain::Rust, Family::Debian);
    let after = edit_user_layer(
        Some(before),
        Path::new("dev.json"),
        "dev",
        &rust.added_to(&lists(&["git"], &[], &[])),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(after.clone()).unwrap(),
        r#"{
  "name": "dev",
  "image": "quay.io/x/y:1",
  "environment": {
    "EDITOR": "vi",
    "A": "1"
  },
  "mounts": [
    "/home",
    {
      "source": "/tmp",
      "target": "/tmp",
      "read_only": true
    }
  ],
  "packages": ["git", "cargo"],
  "export_binaries": ["cargo", "rustc"],
  "persistent": true,
  "verify": [["cargo", "--version"], ["rustc", "--version"]]
}
"#
    );
    let layer = crate::definition::parse_layer(&after, Path::new("dev.json")).unwrap();
    assert_eq!(
        layer.layer.packages,
        Some(vec!["git".into(), "cargo".into()])
    );
}

#[test]
fn a_new_user_file_names_the_definition_and_a_non_object_is_refused() {
    let go = recipe(Toolchain::Go, Family::Arch);
    let new = edit_user_layer(
        None,
        Path::new("dev.json"),
        "dev",
        &go.added_to(&ToolchainLists::default()),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(new).unwrap(),
        "{\n  \"name\": \"dev\",\n  \"packages\": [\"go\"],\n  \"export_binaries\": [\"go\", \
         \"gofmt\"],\n  \"verify\": [[\"go\", \"version\"]]\n}\n"
    );
    let error = edit_user_layer(
        Some(b"[1]"),
        Path::new("dev.json"),
        "dev",
        &ToolchainLists::default(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "dev.json: not a definition (a JSON object): found an array"
    );
}
