//! The workspace's binaries for end-to-end tests. Cargo only hands a test the binaries of its own
//! package, so this builds the requested one with the same cargo and profile (a no-op when it is up
//! to date) and returns the path cargo reports. Packages with test-only features get them
//! ([`TEST_FEATURES`]): the fault tests need them, and the rest of the suite runs the same binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Result, bail};

use crate::process;

/// Cargo features the end-to-end binaries are built with: horizon-cli's and horizon-update's
/// failpoints (inert unless
/// `HORIZON_FAILPOINTS` names one; see horizon-core/src/update/failpoint.rs).
pub const TEST_FEATURES: &[(&str, &str)] = &[
    ("horizon-cli", "failpoints"),
    ("horizon-update", "failpoints"),
];

/// The path of binary `bin` of package `package`, built on first request.
pub fn cargo_bin(package: &str, bin: &str) -> PathBuf {
    built_once(package, Target::Bin(bin))
}

/// The path of example `example` of package `package` (the embedding examples), built on first
/// request.
pub fn cargo_example(package: &str, example: &str) -> PathBuf {
    built_once(package, Target::Example(example))
}

/// A target cargo builds.
#[derive(Clone, Copy)]
enum Target<'a> {
    Bin(&'a str),
    Example(&'a str),
}

impl Target<'_> {
    /// Cargo's option selecting it, and its name.
    fn selector(self) -> (&'static str, String) {
        match self {
            Target::Bin(name) => ("--bin", name.to_owned()),
            Target::Example(name) => ("--example", name.to_owned()),
        }
    }
}

/// `target` of `package`, built once per test process.
fn built_once(package: &str, target: Target<'_>) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(&'static str, String), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    let key = target.selector();
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let path = build(package, target)
        .unwrap_or_else(|error| panic!("building {} failed: {error:#}", key.1));
    built.insert(key, path.clone());
    path
}

/// The static in-container agent (what `scripts/build-agent` builds: a release static-pie, in a
/// target directory of its own), built once per test process.
pub fn static_agent() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    build_static_agent(&BUILT, "")
}

/// The static agent as it was before terminals and login shells (the `before-terminals` test
/// build: it refuses their flags), built once per test process.
pub fn static_agent_before_terminals() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    build_static_agent(&BUILT, "before-terminals")
}

/// `scripts/build-agent` with `features` (empty: a normal build), once per `built`.
fn build_static_agent(built: &Mutex<Option<PathBuf>>, features: &str) -> PathBuf {
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-agent");
    let output = process::run(Command::new(&script).env("AGENT_FEATURES", features))
        .unwrap_or_else(|error| panic!("building the static agent failed: {error:#}"));
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(path.is_file(), "scripts/build-agent printed {path:?}");
    *built = Some(path.clone());
    path
}

fn build(package: &str, target: Target<'_>) -> Result<PathBuf> {
    let (kind, bin) = target.selector();
    let bin = bin.as_str();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--package",
            package,
            kind,
            bin,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (_, feature) in TEST_FEATURES.iter().filter(|(owner, _)| *owner == package) {
        command.arg("--features").arg(feature);
    }
    let output = process::run(&mut command)?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-artifact"
            && message["target"]["name"] == bin
            && let Some(executable) = message["executable"].as_str()
        {
            return Ok(PathBuf::from(executable));
        }
    }
    bail!("cargo did not report an executable for {bin} of package {package}")
}
