//! Exported binaries end to end, as the unprivileged test user with busybox containers (and root
//! for a system export): `install` exports a definition's `export_binaries` and `remove` takes
//! them away; collisions (another container's export, a host command, a file horizon did not
//! write) are refused with exit status 4 naming the owner, and `--force` keeps a backup that
//! `unexport` puts back; an ambiguous binary lists the candidates; a container removed behind
//! horizon's back makes its wrapper exit 127 with the install command; `cleanup` removes orphaned
//! wrappers; `--repair` rewrites stale and missing wrappers and leaves changed ones alone; inside
//! its own container a wrapper runs the binary directly (never itself), inside another it refuses;
//! the loop guard; a stopped container is started on demand.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use horizon_core::export::{WrapperSpec, content_hash, wrapper};
use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;
use horizon_e2e::session::{self, Session};
use serde_json::{Value, json};

use crate::{assert_exit, text};

/// A user session whose busybox containers (home mounted) are installed.
pub struct Exporting {
    pub session: Session,
}

impl Exporting {
    /// A session of the test user with `containers` (name, export_binaries) installed.
    pub fn new(test: &str, containers: &[(&str, &[&str])]) -> Exporting {
        Self::with_session(TestBed::shared().user_session(test), containers)
    }

    /// Installs `containers` in `session`.
    pub fn with_session(session: Session, containers: &[(&str, &[&str])]) -> Exporting {
        // Wrappers point at horizon-exec beside horizon-container: build it first.
        cargo_bin("horizon-exec", "horizon-exec");
        let exporting = Exporting { session };
        for (name, exports) in containers {
            let definition = json!({
                "name": name,
                "image": TestBed::shared().busybox_image(),
                "persistent": true,
                "mounts": [exporting.session.home.display().to_string()],
                "export_binaries": exports,
            });
            exporting.install(name, &definition);
        }
        exporting
    }

    /// Writes `definition` (a user definition, or a system one for root) and installs it;
    /// returns install's output.
    pub fn install(&self, name: &str, definition: &Value) -> Output {
        if self.session.account.is_some() {
            self.session
                .write_user_definition(name, &definition.to_string());
        } else {
            self.session
                .write_system_definition(name, &definition.to_string());
        }
        let install = self.hc(&["install", name]);
        assert_exit(&install, 0);
        install
    }

    /// `horizon-container ARGS` as the session's user, no stdin.
    pub fn hc(&self, args: &[&str]) -> Output {
        self.session
            .horizon_container()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// The wrapper `name` in the export directory.
    pub fn wrapper(&self, name: &str) -> PathBuf {
        self.session.export_dir.join(name)
    }

    /// Runs the exported command `name` by name (the export directory is first on PATH), with
    /// `stdin` as its input.
    pub fn call(&self, name: &str, args: &[&str], stdin: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .session
            .command(name)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The ledger file's JSON.
    pub fn ledger(&self) -> Value {
        let path = self.session.state_dir.join("exports.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// `podman ARGS` on the session's storage, as its user; must succeed.
    pub fn podman(&self, args: &[&str]) -> String {
        let output = self
            .session
            .service
            .storage
            .podman()
            .args(args)
            .output()
            .unwrap();
        assert_exit(&output, 0);
        text(&output.stdout)
    }
}

/// The wrapper horizon writes for `container`'s `binary`.
fn expected_wrapper(container: &str, binary: &str) -> String {
    wrapper::render(&WrapperSpec {
        container,
        binary,
        client: cargo_bin("horizon-exec", "horizon-exec").to_str().unwrap(),
        version: horizon_core::VERSION,
    })
}

/// Exit status, stdout, stderr.
pub fn outcome(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// The host command an export of `name` would shadow.
fn host_command(name: &str) -> PathBuf {
    session::host_command(name).unwrap_or_else(|| panic!("the host has no {name}"))
}

/// busybox's sha3sum of "abc" (224 bits, its default), as the container prints it.
const ABC_SHA3: &str = "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf  -\n";

#[test]
fn install_exports_the_definitions_binaries_and_remove_takes_them_away() {
    let name = "ex-basic";
    let exporting = Exporting::new("export_basic", &[]);
    let definition = json!({
        "name": name,
        "image": TestBed::shared().busybox_image(),
        "persistent": true,
        "mounts": [exporting.session.home.display().to_string()],
        "export_binaries": ["sha3sum", "ipcalc"],
    });
    exporting
        .session
        .write_user_definition(name, &definition.to_string());
    let install = exporting.hc(&["install", name]);
    assert_exit(&install, 0);
    let (sum, ipcalc) = (exporting.wrapper("sha3sum"), exporting.wrapper("ipcalc"));
    assert!(
        text(&install.stdout).ends_with(&format!(
            "exported: sha3sum ({})\nexported: ipcalc ({})\n",
            sum.display(),
            ipcalc.display()
        )),
        "{}",
        text(&install.stdout)
    );
    for (path, binary) in [(&sum, "sha3sum"), (&ipcalc, "ipcalc")] {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            expected_wrapper(name, binary)
        );
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }
    let hash = |path: &Path| content_hash(&std::fs::read(path).unwrap());
    assert_eq!(
        exporting.ledger(),
        json!({
            "schema_version": 1,
            "exports": [
                {"name": "ipcalc", "path": ipcalc, "container": name, "binary": "ipcalc",
                 "content_hash": hash(&ipcalc), "horizon_version": horizon_core::VERSION,
                 "backup": null},
                {"name": "sha3sum", "path": sum, "container": name, "binary": "sha3sum",
                 "content_hash": hash(&sum), "horizon_version": horizon_core::VERSION,
                 "backup": null},
            ]
        })
    );
    let listed = exporting.hc(&["exports"]);
    assert_eq!(
        outcome(&listed),
        (
            Some(0),
            format!(
                "NAME     CONTAINER  BINARY   STATE  PATH\n\
                 ipcalc   ex-basic   ipcalc   ok     {}\n\
                 sha3sum  ex-basic   sha3sum  ok     {}\n",
                ipcalc.display(),
                sum.display()
            ),
            String::new()
        )
    );
    let listed: Value =
        serde_json::from_slice(&exporting.hc(&["exports", "--json"]).stdout).unwrap();
    assert_eq!(listed["schema_version"], 1);
    assert_eq!(listed["export_dir"], json!(exporting.session.export_dir));
    assert_eq!(listed["exports"][1]["state"], "ok");
    // status names what the ledger holds for the container.
    let status = text(&exporting.hc(&["status", name]).stdout);
    assert!(
        status.contains("\nexports:      ipcalc sha3sum\n"),
        "{status}"
    );
    let status: Value =
        serde_json::from_slice(&exporting.hc(&["status", name, "--json"]).stdout).unwrap();
    assert_eq!(status["exports"], exporting.ledger()["exports"]);

    // Installing again changes nothing and says so.
    let again = exporting.hc(&["install", name, "--json"]);
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["exports"]["exported"][0]["change"], "unchanged");
    assert_eq!(again["exports"]["refused"], json!([]));

    let called = exporting.call("sha3sum", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (Some(0), ABC_SHA3.to_owned(), String::new())
    );

    // A stopped container is started on demand.
    assert_exit(&exporting.hc(&["stop", name]), 0);
    let called = exporting.call("sha3sum", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (Some(0), ABC_SHA3.to_owned(), String::new())
    );
    let state = exporting.podman(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        "horizonos-ex-basic",
    ]);
    assert_eq!(state, "running\n");

    let removed = exporting.hc(&["remove", name]);
    assert_exit(&removed, 0);
    assert!(
        text(&removed.stdout).ends_with(&format!(
            "unexported ipcalc (from {name}): removed {}\nunexported sha3sum (from {name}): removed {}\n",
            ipcalc.display(),
            sum.display()
        )),
        "{}",
        text(&removed.stdout)
    );
    assert!(!sum.exists() && !ipcalc.exists());
    assert_eq!(exporting.ledger()["exports"], json!([]));
}

#[test]
fn collisions_are_refused_naming_the_owner_and_force_keeps_a_backup() {
    let exporting = Exporting::new("export_collisions", &[("ex-col-a", &[]), ("ex-col-b", &[])]);
    let sum = exporting.wrapper("sha3sum");
    let first = exporting.hc(&["export", "sha3sum", "--from", "ex-col-a"]);
    assert_eq!(
        outcome(&first),
        (
            Some(0),
            format!("exported sha3sum from ex-col-a: {}\n", sum.display()),
            String::new()
        )
    );
    let written = std::fs::read(&sum).unwrap();

    // Another container's export.
    let taken = exporting.hc(&["export", "sha3sum", "--from", "ex-col-b"]);
    assert_eq!(
        outcome(&taken),
        (
            Some(4),
            String::new(),
            format!(
                "horizon-container: error: cannot export sha3sum: {} is already exported from the \
                 container ex-col-a (its sha3sum)\nhint: --force exports it anyway; or choose \
                 another name with --as\n",
                sum.display()
            )
        )
    );
    assert_eq!(std::fs::read(&sum).unwrap(), written, "nothing changed");

    // A host command in PATH.
    let shadow = exporting.hc(&["export", "cat", "--from", "ex-col-a"]);
    assert_eq!(
        outcome(&shadow),
        (
            Some(4),
            String::new(),
            format!(
                "horizon-container: error: cannot export cat: it would shadow the host command \
                 {}\nhint: --force exports it anyway; or choose another name with --as\n",
                host_command("cat").display()
            )
        )
    );
    assert!(!exporting.wrapper("cat").exists());

    // A file horizon did not write: refused, then moved aside with --force and put back by
    // unexport.
    let mine = exporting
        .session
        .write_home_file(".local/bin/ipcalc", b"#!/bin/sh\necho mine\n");
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o755)).unwrap();
    let foreign = exporting.hc(&["export", "ipcalc", "--from", "ex-col-a"]);
    assert_eq!(
        outcome(&foreign),
        (
            Some(4),
            String::new(),
            format!(
                "horizon-container: error: cannot export ipcalc: {} exists and was not written by \
                 horizon\nhint: --force moves it aside to ipcalc.horizon-backup and exports; or \
                 choose another name with --as\n",
                mine.display()
            )
        )
    );
    assert_eq!(std::fs::read(&mine).unwrap(), b"#!/bin/sh\necho mine\n");
    let forced = exporting.hc(&["export", "ipcalc", "--from", "ex-col-a", "--force"]);
    let backup = exporting.wrapper("ipcalc.horizon-backup");
    assert_eq!(
        outcome(&forced),
        (
            Some(0),
            format!(
                "exported ipcalc from ex-col-a: {path}\n  overrode: {path} exists and was not \
                 written by horizon\n  the previous file is kept as {}\n",
                backup.display(),
                path = mine.display()
            ),
            String::new()
        )
    );
    assert_eq!(std::fs::read(&backup).unwrap(), b"#!/bin/sh\necho mine\n");
    assert_eq!(
        std::fs::read_to_string(&mine).unwrap(),
        expected_wrapper("ex-col-a", "ipcalc")
    );
    let unexported = exporting.hc(&["unexport", "ipcalc"]);
    assert_eq!(
        outcome(&unexported),
        (
            Some(0),
            format!(
                "unexported ipcalc (from ex-col-a): removed {}\n  restored the previous file from {}\n",
                mine.display(),
                backup.display()
            ),
            String::new()
        )
    );
    assert_eq!(std::fs::read(&mine).unwrap(), b"#!/bin/sh\necho mine\n");
    assert!(!backup.exists());

    // Without --from: both running containers have ipcalc.
    let ambiguous = exporting.hc(&["export", "ipcalc"]);
    assert_eq!(
        outcome(&ambiguous),
        (
            Some(2),
            String::new(),
            "horizon-container: error: ipcalc is provided by several containers (installed \
             containers): ex-col-a, ex-col-b\nhint: say which: `horizon-container export ipcalc \
             --from ex-col-a`\n"
                .to_owned()
        )
    );
    let nowhere = exporting.hc(&["export", "no-such-tool"]);
    assert_eq!(
        outcome(&nowhere),
        (
            Some(1),
            String::new(),
            "horizon-container: error: no container provides no-such-tool (searched: ex-col-a, \
             ex-col-b)\nhint: name the container: `horizon-container export no-such-tool --from \
             NAME` (`horizon-container list` shows the definitions)\n"
                .to_owned()
        )
    );
    let missing = exporting.hc(&["export", "no-such-tool", "--from", "ex-col-a"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).starts_with(
            "horizon-container: error: no-such-tool is not in the PATH of the container ex-col-a\n"
        ),
        "{}",
        text(&missing.stderr)
    );
    let invalid = exporting.hc(&["export", "../sh", "--from", "ex-col-a"]);
    assert_eq!(invalid.status.code(), Some(2));
    let not_installed = exporting.hc(&["export", "sh", "--from", "ex-col-zzz"]);
    assert_eq!(
        outcome(&not_installed),
        (
            Some(1),
            String::new(),
            "horizon-container: error: ex-col-zzz is not installed\nhint: install it: \
             `horizon-container install ex-col-zzz`\n"
                .to_owned()
        )
    );

    // Another name with --as: the command runs the binary.
    let alias = exporting.hc(&["export", "sha3sum", "--from", "ex-col-b", "--as", "sum-b"]);
    assert_exit(&alias, 0);
    let called = exporting.call("sum-b", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (Some(0), ABC_SHA3.to_owned(), String::new())
    );

    // --force over another container's export rewrites it for the new one.
    let over = exporting.hc(&["export", "sha3sum", "--from", "ex-col-b", "--force"]);
    assert_exit(&over, 0);
    assert_eq!(
        std::fs::read_to_string(&sum).unwrap(),
        expected_wrapper("ex-col-b", "sha3sum")
    );
    let names: Vec<String> = std::fs::read_dir(&exporting.session.export_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["ipcalc", "sha3sum", "sum-b"]);
}

#[test]
fn a_removed_container_exits_127_and_cleanup_removes_orphaned_wrappers() {
    let name = "ex-orphan";
    let exporting = Exporting::new("export_orphans", &[(name, &["sha3sum"])]);
    let sum = exporting.wrapper("sha3sum");
    assert!(sum.exists());
    exporting.podman(&["rm", "--force", "horizonos-ex-orphan"]);
    let called = exporting.call("sha3sum", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (
            Some(127),
            String::new(),
            format!(
                "horizon-container: error: sha3sum: it runs in the container {name}, which is \
                 not installed\nhint: install it: `horizon-container install {name}`\n"
            )
        )
    );
    // The definition goes: cleanup removes its record, and with it the wrapper.
    std::fs::remove_file(
        exporting
            .session
            .definitions_dir()
            .join(format!("{name}.json")),
    )
    .unwrap();
    let dry = exporting.hc(&["cleanup", "--dry-run"]);
    assert_exit(&dry, 0);
    assert!(
        text(&dry.stdout).ends_with(&format!(
            "would remove export sha3sum (container {name} not installed) {}\n",
            sum.display()
        )),
        "{}",
        text(&dry.stdout)
    );
    assert!(sum.exists(), "a dry run removes nothing");
    let cleaned = exporting.hc(&["cleanup", "--json"]);
    assert_exit(&cleaned, 0);
    let cleaned: Value = serde_json::from_slice(&cleaned.stdout).unwrap();
    assert_eq!(cleaned["schema_version"], 1);
    assert_eq!(cleaned["exports"][0]["name"], "sha3sum");
    assert_eq!(cleaned["exports"][0]["file"], "removed");
    assert!(!sum.exists());
    assert_eq!(exporting.ledger()["exports"], json!([]));
}

#[test]
fn repair_rewrites_stale_and_missing_wrappers_and_leaves_changed_ones_alone() {
    let name = "ex-repair";
    let exporting = Exporting::new("export_repair", &[(name, &["sha3sum", "ipcalc", "nmeter"])]);
    let (sum, ipcalc, nmeter) = (
        exporting.wrapper("sha3sum"),
        exporting.wrapper("ipcalc"),
        exporting.wrapper("nmeter"),
    );
    // sha3sum as an older horizon wrote it (ledger and file agree); ipcalc deleted; nmeter edited.
    let old = std::fs::read_to_string(&sum).unwrap().replace(
        &format!("horizon {}", horizon_core::VERSION),
        "horizon 0.0.1",
    );
    std::fs::write(&sum, &old).unwrap();
    let mut ledger = exporting.ledger();
    for entry in ledger["exports"].as_array_mut().unwrap() {
        if entry["name"] == "sha3sum" {
            entry["content_hash"] = json!(content_hash(old.as_bytes()));
            entry["horizon_version"] = json!("0.0.1");
        }
    }
    std::fs::write(
        exporting.session.state_dir.join("exports.json"),
        ledger.to_string(),
    )
    .unwrap();
    std::fs::remove_file(&ipcalc).unwrap();
    let edited = format!("{}# mine\n", expected_wrapper(name, "nmeter"));
    std::fs::write(&nmeter, &edited).unwrap();
    let listed = exporting.hc(&["exports"]);
    assert_eq!(
        text(&listed.stdout),
        format!(
            "NAME     CONTAINER  BINARY   STATE     PATH\n\
             ipcalc   ex-repair  ipcalc   missing   {}\n\
             nmeter   ex-repair  nmeter   modified  {}\n\
             sha3sum  ex-repair  sha3sum  stale     {}\n",
            ipcalc.display(),
            nmeter.display(),
            sum.display()
        )
    );
    let repaired = exporting.hc(&["export", "--repair"]);
    assert_eq!(
        outcome(&repaired),
        (
            Some(0),
            format!(
                "ipcalc ({}): recreated\nnmeter ({}): skipped: changed since horizon wrote it \
                 (--force moves it aside and rewrites)\nsha3sum ({}): rewritten\n",
                ipcalc.display(),
                nmeter.display(),
                sum.display()
            ),
            String::new()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&sum).unwrap(),
        expected_wrapper(name, "sha3sum")
    );
    assert_eq!(
        std::fs::read_to_string(&ipcalc).unwrap(),
        expected_wrapper(name, "ipcalc")
    );
    assert_eq!(std::fs::read_to_string(&nmeter).unwrap(), edited);
    let states: Vec<Value> = exporting.ledger()["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["horizon_version"].clone())
        .collect();
    assert_eq!(states, vec![json!(horizon_core::VERSION); 3]);
    let called = exporting.call("sha3sum", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (Some(0), ABC_SHA3.to_owned(), String::new())
    );
}

#[test]
fn inside_containers_a_wrapper_runs_the_binary_directly_or_refuses() {
    let exporting = Exporting::new("export_inside", &[("ex-in-a", &[]), ("ex-in-b", &[])]);
    for args in [
        &["export", "sha3sum", "--from", "ex-in-a"][..],
        &["export", "sha3sum", "--from", "ex-in-a", "--as", "in-sum"],
    ] {
        assert_exit(&exporting.hc(args), 0);
    }
    let export_dir = exporting.session.export_dir.display().to_string();
    // In its own container, with the export directory first on PATH (the home is mounted): the
    // alias and the wrapper named like the binary both reach busybox's sha3sum, and `env` (which
    // searches PATH) finds the wrapper first, which must not run itself.
    let script = format!(
        "export PATH='{export_dir}':$PATH; printf abc | in-sum; printf abc | env sha3sum; \
         echo \"marker=$HORIZONOS_CONTAINER\""
    );
    let inside = exporting.hc(&["run", "ex-in-a", "sh", "-c", &script]);
    assert_eq!(
        outcome(&inside),
        (
            Some(0),
            format!("{ABC_SHA3}{ABC_SHA3}marker=ex-in-a\n"),
            String::new()
        )
    );
    let script = format!("export PATH='{export_dir}':$PATH; in-sum </dev/null");
    let elsewhere = exporting.hc(&["run", "ex-in-b", "sh", "-c", &script]);
    assert_eq!(
        outcome(&elsewhere),
        (
            Some(126),
            String::new(),
            "sha3sum: exported from the container ex-in-a; this is the container ex-in-b, which \
             cannot run it (run it on the host)\n"
                .to_owned()
        )
    );
    // The loop guard of the client.
    let looped = exporting
        .session
        .command("in-sum")
        .env("HORIZON_EXEC_GUARD", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&looped),
        (
            Some(126),
            String::new(),
            "horizon-exec: sha3sum: loop detected: horizon-exec started itself again (a wrapper \
             exported over horizon's own programs?); `horizon-container exports` lists the \
             wrappers\n"
                .to_owned()
        )
    );
}

#[test]
fn root_exports_a_system_containers_binary() {
    let bed = TestBed::shared();
    let exporting = Exporting::with_session(
        bed.root_session("export_root"),
        &[("ex-root", &["sha3sum"])],
    );
    let sum = exporting.wrapper("sha3sum");
    assert_eq!(
        std::fs::read_to_string(&sum).unwrap(),
        expected_wrapper("ex-root", "sha3sum")
    );
    let called = exporting.call("sha3sum", &[], b"abc");
    assert_eq!(
        outcome(&called),
        (Some(0), ABC_SHA3.to_owned(), String::new())
    );
    assert_exit(&exporting.hc(&["remove", "ex-root"]), 0);
    assert!(!sum.exists());
}
