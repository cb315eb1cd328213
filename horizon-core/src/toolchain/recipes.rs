//! The recipes: for each toolchain and image family, the packages (as that family's package
//! manager names them), the binaries exported and the probe that proves the toolchain runs.
//!
//! Package names were chosen for the current releases of each family (Debian 12, Ubuntu 24.04,
//! Fedora 40+, Arch, Alpine 3.19+, openSUSE Tumbleweed and Leap 15.6). Packages are installed
//! without recommended extras (`lifecycle::packages`), so a recipe lists what a working toolchain
//! needs that is only recommended: the C library's headers beside gcc on Debian, musl's on
//! Alpine. Where a family splits a toolchain into a runtime and a development package, the
//! development one is named (it brings the runtime).

use super::{Family, Recipe, Toolchain};

/// The recipe of `toolchain` on `family`.
pub fn recipe(toolchain: Toolchain, family: Family) -> Recipe {
    let packages: &[&str] = match (toolchain, family) {
        // Debian's cargo depends on rustc, which depends on gcc and the libc headers (its linker).
        (Toolchain::Rust, Family::Debian) => &["cargo"],
        // Fedora, Alpine and openSUSE split rustc (`rust`) from cargo.
        (Toolchain::Rust, Family::Fedora | Family::Alpine | Family::Opensuse) => &["rust", "cargo"],
        // Arch's `rust` holds rustc and cargo.
        (Toolchain::Rust, Family::Arch) => &["rust"],
        // Debian keeps venv (and ensurepip) out of python3.
        (Toolchain::Python, Family::Debian) => &["python3", "python3-pip", "python3-venv"],
        (Toolchain::Python, Family::Fedora | Family::Opensuse) => &["python3", "python3-pip"],
        (Toolchain::Python, Family::Arch) => &["python", "python-pip"],
        (Toolchain::Python, Family::Alpine) => &["python3", "py3-pip"],
        (Toolchain::Node, Family::Debian | Family::Fedora | Family::Arch | Family::Alpine) => {
            &["nodejs", "npm"]
        }
        // openSUSE ships versioned nodejsNN packages; the -default ones follow its default.
        (Toolchain::Node, Family::Opensuse) => &["nodejs-default", "npm-default"],
        (Toolchain::Go, Family::Debian) => &["golang-go"],
        (Toolchain::Go, Family::Fedora) => &["golang"],
        (Toolchain::Go, Family::Arch | Family::Alpine | Family::Opensuse) => &["go"],
        // gcc only recommends the libc headers on Debian; without them nothing links.
        (Toolchain::C, Family::Debian) => &["gcc", "clang", "make", "cmake", "libc6-dev"],
        (Toolchain::C, Family::Fedora | Family::Opensuse) => {
            &["gcc", "clang", "make", "cmake", "glibc-devel"]
        }
        // Arch's glibc carries its headers.
        (Toolchain::C, Family::Arch) => &["gcc", "clang", "make", "cmake"],
        (Toolchain::C, Family::Alpine) => &["gcc", "clang", "make", "cmake", "musl-dev"],
        (Toolchain::Java, Family::Debian) => &["default-jdk-headless"],
        (Toolchain::Java, Family::Fedora | Family::Opensuse) => &["java-21-openjdk-devel"],
        (Toolchain::Java, Family::Arch) => &["jdk-openjdk"],
        (Toolchain::Java, Family::Alpine) => &["openjdk21-jdk"],
    };
    let export_binaries: &[&str] = match toolchain {
        Toolchain::Rust => &["cargo", "rustc"],
        Toolchain::Python => &["python3", "pip3"],
        Toolchain::Node => &["node", "npm"],
        Toolchain::Go => &["go", "gofmt"],
        Toolchain::C => &["gcc", "clang", "make", "cmake"],
        Toolchain::Java => &["java", "javac"],
    };
    // One command per program the toolchain is used through; `go` has no --version.
    let verify: &[&[&str]] = match toolchain {
        Toolchain::Rust => &[&["cargo", "--version"], &["rustc", "--version"]],
        Toolchain::Python => &[&["python3", "--version"], &["pip3", "--version"]],
        Toolchain::Node => &[&["node", "--version"], &["npm", "--version"]],
        Toolchain::Go => &[&["go", "version"]],
        Toolchain::C => &[
            &["gcc", "--version"],
            &["clang", "--version"],
            &["make", "--version"],
            &["cmake", "--version"],
        ],
        Toolchain::Java => &[&["java", "-version"], &["javac", "-version"]],
    };
    let owned = |words: &[&str]| {
        words
            .iter()
            .map(|&word| word.to_owned())
            .collect::<Vec<_>>()
    };
    Recipe {
        toolchain,
        family,
        packages: owned(packages),
        export_binaries: owned(export_binaries),
        verify: verify.iter().map(|argv| owned(argv)).collect(),
    }
}
