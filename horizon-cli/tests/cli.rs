//! The real `horizon-container` binary on temporary definition directories: `list`,
//! `definition show`, `definition validate` and `definition schema`, each with its exact stdout,
//! stderr and exit status. None of them needs Podman: every run points CONTAINER_HOST at a socket
//! that does not exist.

// The helpers are test code too: a panic with the failing value is the most useful report here.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use horizon_core::definition::{DefinitionSources, load};

const SPEC_DEVELOPMENT: &str =
    include_str!("../../horizon-core/src/definition/testdata/development.json");
const SPEC_MY_TOOLS: &str =
    include_str!("../../horizon-core/src/definition/testdata/my-tools.json");
const SCHEMA: &str = include_str!("../../schema/horizon-definition.schema.json");
/// What `list` says on stderr when Podman is unreachable (its STATE column then says `unknown`).
const NO_PODMAN_NOTE: &str = "horizon-container: note: installed state unknown: no Podman service answered; tried:
  unix:///nonexistent/podman.sock (CONTAINER_HOST): cannot reach the Podman service at unix:///nonexistent/podman.sock: error trying to connect: No such file or directory (os error 2)
";

/// A home, a system and a user directory in a temporary directory, and the binary run on them.
struct Bed {
    _dir: tempfile::TempDir,
    root: PathBuf,
    uid: u32,
}

struct Output {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Bed {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for sub in ["home", "system", "user", "files"] {
            std::fs::create_dir(root.join(sub)).unwrap();
        }
        std::fs::set_permissions(root.join("system"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let uid = std::fs::metadata(&root).unwrap().uid();
        Bed {
            _dir: dir,
            root,
            uid,
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path(relative);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    /// The library's view of the same directories (to compute content hashes).
    fn sources(&self) -> DefinitionSources {
        DefinitionSources {
            system_dir: self.path("system"),
            user_dir: Some(self.path("user")),
            home: Some(self.path("home")),
            system_owner: self.uid,
        }
    }

    fn hash(&self, name: &str) -> String {
        load(&self.sources())
            .get(name)
            .unwrap()
            .definition
            .content_hash()
    }

    /// Runs the binary with a clean environment: HOME is the bed's home, the directories come from
    /// HORIZON_SYSTEM_DIR/HORIZON_USER_DIR, and Podman is unreachable.
    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(env!("CARGO_BIN_EXE_horizon-container"))
            .env_clear()
            .env("HOME", self.path("home"))
            .env("HORIZON_SYSTEM_DIR", self.path("system"))
            .env("HORIZON_USER_DIR", self.path("user"))
            .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock")
            .arg("--system-owner")
            .arg(self.uid.to_string())
            .args(args)
            .output()
            .unwrap();
        Output {
            status: output.status.code().unwrap(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

fn assert_output(output: &Output, status: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (
            output.status,
            output.stdout.as_str(),
            output.stderr.as_str()
        ),
        (status, stdout, stderr)
    );
}

/// A bed with the spec's two examples in the user directory, a system definition, and three
/// refused files: a misspelled field, a user file asking for privilege, a group-writable system
/// file.
fn populated() -> Bed {
    let bed = Bed::new();
    bed.write("user/development.json", SPEC_DEVELOPMENT);
    bed.write("user/my-tools.json", SPEC_MY_TOOLS);
    bed.write(
        "system/toolbox.json",
        r#"{
  "name": "toolbox",
  "image": "registry.example.com/tools/toolbox:1.0",
  "purpose": "tools",
  "devices": ["/dev/fuse"]
}
"#,
    );
    bed.write(
        "user/typo.json",
        "{\n  \"name\": \"typo\",\n  \"image\": \"quay.io/a/b:1\",\n  \"export_binary\": [\"git\"]\n}\n",
    );
    bed.write(
        "user/greedy.json",
        r#"{"name": "greedy", "image": "quay.io/a/b:1", "privileged": true, "capabilities": ["SYS_ADMIN"]}"#,
    );
    let open = bed.write(
        "system/open.json",
        r#"{"name": "open", "image": "quay.io/a/b:1"}"#,
    );
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o664)).unwrap();
    bed
}

#[test]
fn list_shows_every_layer_and_every_refused_file() {
    let bed = populated();
    let output = bed.run(&["list"]);
    let (user, system) = (bed.path("user"), bed.path("system"));
    let (user, system) = (user.display(), system.display());
    assert_output(
        &output,
        0,
        &format!(
            "NAME         PURPOSE      LAYER     STATE    IMAGE
desktop      desktop      built-in  unknown  quay.io/toolbx/arch-toolbox:latest
development  development  user      unknown  quay.io/toolbx/arch-toolbox:latest
gaming       gaming       built-in  unknown  quay.io/toolbx/arch-toolbox:latest
multimedia   multimedia   built-in  unknown  quay.io/toolbx/arch-toolbox:latest
my-tools     -            user      unknown  docker.io/library/ubuntu:22.04
toolbox      tools        system    unknown  registry.example.com/tools/toolbox:1.0

invalid definition files (not used):
  {system}/open.json: refused: the system definition file is writable by its group or by others (mode 0664); only its owner may write it: run `chmod go-w {system}/open.json`
  {user}/greedy.json:1:60: privileged: refused in a user definition: only a system definition can make a container privileged
  {user}/greedy.json:1:83: capabilities[0]: refused in a user definition: SYS_ADMIN is beyond the default capability set; only a system definition can grant it
  {user}/typo.json:4:3: export_binary: unknown field `export_binary`; did you mean `export_binaries`?
"
        ),
        NO_PODMAN_NOTE,
    );
}

#[test]
fn list_json_is_versioned_and_complete() {
    let bed = populated();
    let output = bed.run(&["list", "--json"]);
    assert_eq!((output.status, output.stderr.as_str()), (0, NO_PODMAN_NOTE));
    let mut value: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    for entry in value["definitions"].as_array_mut().unwrap() {
        let name = entry["name"].as_str().unwrap().to_owned();
        assert_eq!(entry["content_hash"], bed.hash(&name).as_str());
        entry["content_hash"] = "<hash>".into();
        // Without Podman the installed state is unknown (the e2e tests cover the known states).
        let entry = entry.as_object_mut().unwrap();
        for (key, unknown) in [
            ("state", serde_json::json!("unknown")),
            ("drifted", serde_json::json!(false)),
            ("generation", serde_json::json!(null)),
        ] {
            assert_eq!(entry.remove(key), Some(unknown), "{name}: {key}");
        }
    }
    let system = bed.path("system/open.json");
    let greedy = bed.path("user/greedy.json");
    let typo = bed.path("user/typo.json");
    let builtin = |name: &str, purpose: &str| {
        serde_json::json!({"name": name, "purpose": purpose, "layer": "built-in",
            "layers": ["built-in"], "image": "quay.io/toolbx/arch-toolbox:latest", "content_hash": "<hash>"})
    };
    assert_eq!(
        value,
        serde_json::json!({
            "schema_version": 1,
            "definitions": [
                builtin("desktop", "desktop"),
                {"name": "development", "purpose": "development", "layer": "user",
                 "layers": ["built-in", "user"], "image": "quay.io/toolbx/arch-toolbox:latest",
                 "content_hash": "<hash>"},
                builtin("gaming", "gaming"),
                builtin("multimedia", "multimedia"),
                {"name": "my-tools", "purpose": null, "layer": "user", "layers": ["user"],
                 "image": "docker.io/library/ubuntu:22.04", "content_hash": "<hash>"},
                {"name": "toolbox", "purpose": "tools", "layer": "system", "layers": ["system"],
                 "image": "registry.example.com/tools/toolbox:1.0", "content_hash": "<hash>"},
            ],
            "invalid": [
                {"path": system, "layer": "system", "errors": [{
                    "file": system, "line": null, "column": null, "field": "",
                    "problem": format!("refused: the system definition file is writable by its group or by others (mode 0664); only its owner may write it: run `chmod go-w {}`", system.display()),
                    "message": format!("{0}: refused: the system definition file is writable by its group or by others (mode 0664); only its owner may write it: run `chmod go-w {0}`", system.display()),
                }]},
                {"path": greedy, "layer": "user", "errors": [
                    {"file": greedy, "line": 1, "column": 60, "field": "privileged",
                     "problem": "refused in a user definition: only a system definition can make a container privileged",
                     "message": format!("{}:1:60: privileged: refused in a user definition: only a system definition can make a container privileged", greedy.display())},
                    {"file": greedy, "line": 1, "column": 83, "field": "capabilities[0]",
                     "problem": "refused in a user definition: SYS_ADMIN is beyond the default capability set; only a system definition can grant it",
                     "message": format!("{}:1:83: capabilities[0]: refused in a user definition: SYS_ADMIN is beyond the default capability set; only a system definition can grant it", greedy.display())},
                ]},
                {"path": typo, "layer": "user", "errors": [
                    {"file": typo, "line": 4, "column": 3, "field": "export_binary",
                     "problem": "unknown field `export_binary`; did you mean `export_binaries`?",
                     "message": format!("{}:4:3: export_binary: unknown field `export_binary`; did you mean `export_binaries`?", typo.display())},
                ]},
            ]
        })
    );
}

#[test]
fn directories_come_from_options_env_or_xdg() {
    let bed = Bed::new();
    bed.write("files/my-tools.json", SPEC_MY_TOOLS);
    let config = bed.path("home/.config/horizonos/containers");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("xdg.json"),
        r#"{"name": "xdg", "image": "quay.io/a/b:1"}"#,
    )
    .unwrap();
    let names = |args: &[&str], env: &[(&str, PathBuf)]| -> Vec<String> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_horizon-container"));
        command.env_clear().env("HOME", bed.path("home"));
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.args(args).arg("list").output().unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .filter(|name| {
                !["desktop", "development", "gaming", "multimedia"].contains(&name.as_str())
            })
            .collect()
    };
    let files = bed.path("files");
    let files_arg = files.to_str().unwrap();
    assert_eq!(
        names(&[], &[]),
        ["xdg"],
        "default: ~/.config/horizonos/containers"
    );
    assert_eq!(
        names(&[], &[("XDG_CONFIG_HOME", bed.path("home/.config"))]),
        ["xdg"]
    );
    assert_eq!(names(&["--user-dir", files_arg], &[]), ["my-tools"]);
    assert_eq!(
        names(&[], &[("HORIZON_USER_DIR", files.clone())]),
        ["my-tools"]
    );
}

#[test]
fn show_prints_the_merged_definition() {
    let bed = Bed::new();
    bed.write(
        "user/development.json",
        r#"{"name": "development", "packages": ["git", "vim"], "environment": {"EDITOR": "vim"},
            "mounts": ["/home", "/tmp"]}"#,
    );
    let hash = bed.hash("development");
    let output = bed.run(&["definition", "show", "development"]);
    assert_output(
        &output,
        0,
        &format!(
            r#"name                           development
image                          quay.io/toolbx/arch-toolbox:latest
purpose                        development
packages                       git, vim
export_binaries                git, gcc, make, python, node
persistent                     true
mounts                         /home, /tmp
environment.CONTAINER_PURPOSE  development
environment.EDITOR             vim
privileged                     false
capabilities                   (default set only)
desktop.display                false
desktop.audio                  false
desktop.gpu                    false
desktop.input                  false
devices                        (none)
network                        private
verify                         ["git","--version"], ["gcc","--version"], ["make","--version"]
autostart                      false
layer                          user
content_hash                   {hash}
"#
        ),
        "",
    );
    let output = bed.run(&["definition", "show", "desktop", "--explain"]);
    let hash = bed.hash("desktop");
    // The label column is as wide as the longest label plus two, the value column likewise.
    let width = "environment.CONTAINER_PURPOSE".len() + 2;
    let value_width =
        "plasma-desktop, konsole, dolphin, pipewire, wireplumber, xdg-desktop-portal-kde".len() + 2;
    let row = |label: &str, value: &str, origin: &str| {
        format!("{label:<width$}{value:<value_width$}{origin}\n")
    };
    let expected = [
        row("name", "desktop", "built-in"),
        row("image", "quay.io/toolbx/arch-toolbox:latest", "built-in"),
        row("purpose", "desktop", "built-in"),
        row(
            "packages",
            "plasma-desktop, konsole, dolphin, pipewire, wireplumber, xdg-desktop-portal-kde",
            "built-in",
        ),
        row("export_binaries", "konsole, dolphin", "built-in"),
        row("persistent", "true", "built-in"),
        row("mounts", "/home, /tmp", "built-in"),
        row("environment.CONTAINER_PURPOSE", "desktop", "built-in"),
        row("privileged", "true", "built-in"),
        row(
            "capabilities",
            "default set + SYS_ADMIN, NET_ADMIN",
            "built-in",
        ),
        row("desktop.display", "true", "built-in"),
        row("desktop.audio", "true", "built-in"),
        row("desktop.gpu", "true", "built-in"),
        row("desktop.input", "true", "built-in"),
        row("devices", "(none)", "default"),
        row("network", "private", "default"),
        row("verify", r#"["konsole","--version"]"#, "built-in"),
        row("autostart", "false", "default"),
        format!(
            "{:<width$}privileged, capabilities SYS_ADMIN NET_ADMIN, desktop.gpu, desktop.input \
             from the built-in layer\n",
            "privilege"
        ),
        format!(
            "{:<width$}a user file may tune it but not change the code it runs: image, packages, \
             verify, environment, mounts\n",
            ""
        ),
        format!("{:<width$}built-in\n", "layer"),
        format!("{:<width$}{hash}\n", "content_hash"),
        "\nsources (lowest layer first):\n  built-in  <built-in>/desktop.json\n".to_owned(),
    ]
    .concat();
    assert_output(&output, 0, &expected, "");
}

#[test]
fn show_json_and_unknown_names() {
    let bed = Bed::new();
    bed.write("user/my-tools.json", SPEC_MY_TOOLS);
    let output = bed.run(&["definition", "show", "my-tools", "--json", "--explain"]);
    assert_eq!((output.status, output.stderr.as_str()), (0, ""));
    let path = bed.path("user/my-tools.json");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&output.stdout).unwrap(),
        serde_json::json!({
            "schema_version": 1,
            "name": "my-tools",
            "layer": "user",
            "sources": [{"layer": "user", "path": path}],
            "content_hash": bed.hash("my-tools"),
            "definition": {
                "name": "my-tools",
                "image": "docker.io/library/ubuntu:22.04",
                "purpose": null,
                "packages": ["vim", "tmux", "htop"],
                "export_binaries": ["vim", "tmux"],
                "persistent": true,
                "mounts": [],
                "environment": {},
                "privileged": false,
                "capabilities": [],
                "desktop": {"display": false, "audio": false, "gpu": false, "input": false},
                "devices": [],
                "network": "private",
                "verify": [],
                "autostart": false
            },
            "origins": {
                "name": "user", "image": "user", "packages": "user", "export_binaries": "user",
                "persistent": "user"
            }
        })
    );
    let output = bed.run(&["definition", "show", "nope"]);
    assert_output(
        &output,
        2,
        "",
        "horizon-container: error: no definition named `nope`\n\
         hint: `horizon-container list` shows every definition and every invalid file\n",
    );
    let broken = bed.write(
        "user/broken.json",
        "{\"name\": \"broken\", \"image\": \"ubuntu\"}",
    );
    let output = bed.run(&["definition", "show", "broken"]);
    assert_output(
        &output,
        2,
        "",
        &format!(
            "horizon-container: error: no definition named `broken`, because its file is invalid:\n  \
             {}:1:29: image: \"ubuntu\" is a short name, which could be pulled from any registry: use a fully qualified reference such as docker.io/library/ubuntu:TAG\n\
             hint: `horizon-container list` shows every definition and every invalid file\n",
            broken.display()
        ),
    );
}

#[test]
fn validate_reports_each_file_and_exits_2_on_any_error() {
    let bed = Bed::new();
    let files = bed.path("files");
    let good = bed.write("files/my-tools.json", SPEC_MY_TOOLS);
    let dev = bed.write("files/development.json", SPEC_DEVELOPMENT);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(br#"{"name": "bom", "image": "quay.io/a/b:1"}"#);
    let bom_file = files.join("bom.json");
    std::fs::write(&bom_file, bom).unwrap();
    let output = bed.run(&[
        "definition",
        "validate",
        good.to_str().unwrap(),
        dev.to_str().unwrap(),
        bom_file.to_str().unwrap(),
    ]);
    assert_output(
        &output,
        0,
        &format!(
            "{}: valid (user layer)\n{}: valid (user layer)\n{}: valid (user layer)\n",
            good.display(),
            dev.display(),
            bom_file.display()
        ),
        "",
    );

    let home = bed.path("home");
    std::os::unix::fs::symlink("/etc", home.join("etc")).unwrap();
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "trailing.json",
            "{\"name\": \"trailing\",\n \"image\": \"quay.io/a/b:1\",\n}".into(),
            vec![":2:26: trailing comma: remove the `,` before `}` (JSON allows none)".into()],
        ),
        (
            "dup.json",
            r#"{"name": "dup", "environment": {"A": "1", "A": "2"}}"#.into(),
            vec![":1:43: duplicate key `A` (first at line 1, column 33): each key may appear once".into()],
        ),
        (
            "env.json",
            r#"{"name": "env", "image": "quay.io/a/b:1", "environment": {"A": "x\ny"}}"#.into(),
            vec![":1:64: environment.A: \"x\\ny\" contains a line break: environment values must be one line".into()],
        ),
        (
            "caps.json",
            r#"{"name": "caps", "image": "quay.io/a/b:1", "capabilities": ["SYS_GOD"]}"#.into(),
            vec![":1:61: capabilities[0]: \"SYS_GOD\" is not a Linux capability: see capabilities(7) for the names (e.g. SYS_ADMIN, NET_ADMIN)".into()],
        ),
        (
            "escape.json",
            format!(
                r#"{{"name": "escape", "image": "quay.io/a/b:1", "mounts": ["{}/etc/shadow:/s"]}}"#,
                home.display()
            ),
            vec![format!(
                ":1:57: mounts[0]: refused in a user definition: {h}/etc/shadow resolves to /etc/shadow, which is outside your home ({h}) and /tmp; a user definition may mount only paths inside those",
                h = home.display()
            )],
        ),
        (
            "name.json",
            r#"{"name": "../name", "image": "quay.io/a/b:1"}"#.into(),
            vec![":1:10: name: \"../name\" is not a valid name: use lowercase letters, digits and '-', starting with a letter and not ending with '-', at most 63 characters".into()],
        ),
    ];
    for (file, text, expected) in &cases {
        let path = bed.write(&format!("files/{file}"), text);
        let output = bed.run(&["definition", "validate", path.to_str().unwrap()]);
        let stderr: String = expected
            .iter()
            .map(|line| format!("{}{line}\n", path.display()))
            .collect();
        assert_output(&output, 2, "", &stderr);
    }

    let big = files.join("big.json");
    std::fs::write(&big, vec![b' '; 10 * 1024 * 1024]).unwrap();
    let output = bed.run(&[
        "definition",
        "validate",
        good.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    assert_output(
        &output,
        2,
        &format!("{}: valid (user layer)\n", good.display()),
        &format!(
            "{}: the file is 10485760 bytes; a definition may be at most 1048576 bytes\n",
            big.display()
        ),
    );
}

#[test]
fn validate_applies_the_layer_of_the_file() {
    let bed = Bed::new();
    let text =
        r#"{"name": "vm", "image": "quay.io/a/b:1", "devices": ["/dev/kvm"], "network": "host"}"#;
    let in_files = bed.write("files/vm.json", text);
    let user_errors = |path: &Path| {
        format!(
            "{p}:1:54: devices[0]: refused in a user definition: /dev/kvm:/dev/kvm:rwm is a host device; only a system definition can grant devices\n\
             {p}:1:78: network: refused in a user definition: \"host\" shares the host's network namespace; only a system definition can choose it\n",
            p = path.display()
        )
    };
    let output = bed.run(&["definition", "validate", in_files.to_str().unwrap()]);
    assert_output(&output, 2, "", &user_errors(&in_files));
    // In the system directory, the same file is a system file, and valid.
    let in_system = bed.write("system/vm.json", text);
    let output = bed.run(&["definition", "validate", in_system.to_str().unwrap()]);
    assert_output(
        &output,
        0,
        &format!("{}: valid (system layer)\n", in_system.display()),
        "",
    );
    let output = bed.run(&[
        "definition",
        "validate",
        "--layer",
        "system",
        in_files.to_str().unwrap(),
    ]);
    assert_output(
        &output,
        0,
        &format!("{}: valid (system layer)\n", in_files.display()),
        "",
    );
    // Once the system layer grants them, a user file may restate them.
    let output = bed.run(&["definition", "validate", in_files.to_str().unwrap()]);
    assert_output(
        &output,
        0,
        &format!("{}: valid (user layer)\n", in_files.display()),
        "",
    );
    std::fs::remove_file(&in_system).unwrap();
    let output = bed.run(&[
        "definition",
        "validate",
        "--json",
        "--layer",
        "user",
        in_files.to_str().unwrap(),
    ]);
    assert_eq!((output.status, output.stderr.as_str()), (2, ""));
    let value: serde_json::Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["files"][0]["valid"], false);
    assert_eq!(value["files"][0]["layer"], "user");
    let messages: Vec<String> = value["files"][0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{}\n", e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(messages.concat(), user_errors(&in_files));
}

#[test]
fn schema_prints_the_committed_schema() {
    let bed = Bed::new();
    assert_output(&bed.run(&["definition", "schema"]), 0, SCHEMA, "");
}

#[test]
fn every_command_teaches_with_an_example() {
    let bed = Bed::new();
    for command in [
        &["list", "--help"][..],
        &["definition", "show", "--help"],
        &["definition", "validate", "--help"],
        &["definition", "schema", "--help"],
    ] {
        let output = bed.run(command);
        assert_eq!(output.status, 0, "{command:?}");
        assert!(
            output.stdout.contains("Example: horizon-container "),
            "{command:?}: {}",
            output.stdout
        );
    }
    let output = bed.run(&["definition", "validate"]);
    assert_eq!(output.status, 2, "clap's usage error: {}", output.stderr);
}
