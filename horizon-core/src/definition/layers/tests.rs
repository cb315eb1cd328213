//! Tests of loading, merging, the user layer's privilege rules and the system layer's ownership
//! rules, on temporary directories.

use std::ffi::OsString;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::super::tests_support::sources;
use super::*;
use crate::definition::{Desktop, read_layer_file};

const SPEC_DEVELOPMENT: &str = include_str!("../testdata/development.json");
const SPEC_MY_TOOLS: &str = include_str!("../testdata/my-tools.json");

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    sources: DefinitionSources,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let sources = sources(&root);
        std::fs::create_dir_all(&sources.system_dir).unwrap();
        std::fs::create_dir_all(sources.user_dir.as_ref().unwrap()).unwrap();
        // tempdir's default mode depends on the umask; the system directory must not be writable
        // by others for its files to be trusted.
        std::fs::set_permissions(&sources.system_dir, std::fs::Permissions::from_mode(0o755))
            .unwrap();
        Fixture {
            _dir: dir,
            root,
            sources,
        }
    }

    fn home(&self) -> &Path {
        self.sources.home.as_deref().unwrap()
    }

    fn write(&self, layer: Layer, name: &str, text: &str) -> PathBuf {
        let path = self.sources.dir(layer).unwrap().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    fn load(&self) -> Catalog {
        load(&self.sources)
    }

    fn errors_of(&self, layer: Layer, name: &str, text: &str) -> Vec<String> {
        let path = self.write(layer, name, text);
        let catalog = self.load();
        let invalid: Vec<&InvalidFile> =
            catalog.invalid.iter().filter(|f| f.path == path).collect();
        assert_eq!(invalid.len(), 1, "{name} was accepted: {text}");
        std::fs::remove_file(&path).unwrap();
        invalid[0]
            .error
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

fn names(catalog: &Catalog) -> Vec<(&str, Layer)> {
    catalog
        .definitions
        .iter()
        .map(|r| (r.definition.name.as_str(), r.layer()))
        .collect()
}

#[test]
fn builtins_are_valid_and_load_alone() {
    let fixture = Fixture::new();
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
    assert_eq!(
        names(&catalog),
        [
            ("desktop", Layer::BuiltIn),
            ("development", Layer::BuiltIn),
            ("gaming", Layer::BuiltIn),
            ("multimedia", Layer::BuiltIn)
        ]
    );
    let desktop = &catalog.get("desktop").unwrap().definition;
    assert!(desktop.privileged);
    assert_eq!(
        desktop.desktop,
        Desktop {
            display: true,
            audio: true,
            gpu: true,
            input: true
        }
    );
    assert_eq!(
        catalog.get("development").unwrap().sources,
        [Source {
            layer: Layer::BuiltIn,
            path: PathBuf::from("<built-in>/development.json")
        }]
    );
}

#[test]
fn the_specs_examples_parse_unchanged_in_every_layer() {
    for layer in [Layer::System, Layer::User] {
        let fixture = Fixture::new();
        fixture.write(layer, "development.json", SPEC_DEVELOPMENT);
        fixture.write(layer, "my-tools.json", SPEC_MY_TOOLS);
        let catalog = fixture.load();
        assert_eq!(catalog.invalid, [], "{layer}");
        let tools = &catalog.get("my-tools").unwrap().definition;
        assert_eq!(tools.image.as_str(), "docker.io/library/ubuntu:22.04");
        assert_eq!(tools.packages, ["vim", "tmux", "htop"]);
        assert_eq!(tools.export_binaries, ["vim", "tmux"]);
        assert!(tools.persistent);
        assert_eq!(tools.purpose, None);
        let development = catalog.get("development").unwrap();
        assert_eq!(development.layer(), layer);
        let mounts: Vec<String> = development
            .definition
            .mounts
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(mounts, ["/home", "/tmp"]);
        assert_eq!(
            development.definition.environment["CONTAINER_PURPOSE"],
            "development"
        );
    }
    // And alone, as `definition validate` reads them.
    let fixture = Fixture::new();
    let dir = fixture.root.join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("development.json", SPEC_DEVELOPMENT),
        ("my-tools.json", SPEC_MY_TOOLS),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        read_layer_file(&path).unwrap();
        check_file(&fixture.sources, &path, Layer::User).unwrap();
        check_file(&fixture.sources, &path, Layer::System).unwrap();
    }
}

#[test]
fn layers_merge_field_by_field_and_remember_where_each_field_came_from() {
    let fixture = Fixture::new();
    fixture.write(
        Layer::System,
        "development.json",
        r#"{"name": "development", "image": "registry.example.com/dev:2",
            "packages": ["git"], "environment": {"EDITOR": "vi"}, "desktop": {"display": true}}"#,
    );
    fixture.write(
        Layer::User,
        "development.json",
        r#"{"name": "development", "packages": ["git", "vim"],
            "environment": {"EDITOR": "nvim", "PAGER": "less"}, "desktop": {"audio": true},
            "network": "none"}"#,
    );
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
    let resolved = catalog.get("development").unwrap();
    let d = &resolved.definition;
    assert_eq!(d.image.as_str(), "registry.example.com/dev:2");
    assert_eq!(d.packages, ["git", "vim"], "lists are replaced");
    assert_eq!(
        d.export_binaries,
        ["git", "gcc", "make", "python", "node"],
        "untouched fields keep the lower layer's value"
    );
    assert_eq!(
        d.environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["CONTAINER_PURPOSE=development", "EDITOR=nvim", "PAGER=less"],
        "maps merge key by key"
    );
    assert_eq!(
        d.desktop,
        Desktop {
            display: true,
            audio: true,
            gpu: false,
            input: false
        }
    );
    assert_eq!(d.network, Network::None);
    let origins: Vec<(&str, Layer)> = resolved
        .origins
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        origins,
        [
            ("desktop.audio", Layer::User),
            ("desktop.display", Layer::System),
            ("environment.CONTAINER_PURPOSE", Layer::BuiltIn),
            ("environment.EDITOR", Layer::User),
            ("environment.PAGER", Layer::User),
            ("export_binaries", Layer::BuiltIn),
            ("image", Layer::System),
            ("mounts", Layer::BuiltIn),
            ("name", Layer::BuiltIn),
            ("network", Layer::User),
            ("packages", Layer::User),
            ("persistent", Layer::BuiltIn),
            ("purpose", Layer::BuiltIn),
            ("verify", Layer::BuiltIn),
        ]
    );
    assert_eq!(
        resolved.origin("privileged"),
        None,
        "never set: the default"
    );
    let layers: Vec<Layer> = resolved.sources.iter().map(|s| s.layer).collect();
    assert_eq!(layers, [Layer::BuiltIn, Layer::System, Layer::User]);
    assert_eq!(resolved.layer(), Layer::User);
}

#[test]
fn one_bad_file_never_hides_the_others() {
    let fixture = Fixture::new();
    let bad_override = fixture.write(
        Layer::User,
        "development.json",
        r#"{"name": "development", "export_binary": ["git"]}"#,
    );
    let bad_new = fixture.write(Layer::System, "broken.json", "{\"name\": \"broken\",");
    fixture.write(Layer::User, "my-tools.json", SPEC_MY_TOOLS);
    fixture.write(Layer::User, "notes.txt", "not a definition");
    fixture.write(Layer::User, ".hidden.json", "{");
    let catalog = fixture.load();
    assert_eq!(
        names(&catalog),
        [
            ("desktop", Layer::BuiltIn),
            ("development", Layer::BuiltIn),
            ("gaming", Layer::BuiltIn),
            ("multimedia", Layer::BuiltIn),
            ("my-tools", Layer::User)
        ],
        "the invalid override leaves the built-in in force"
    );
    let invalid: Vec<(PathBuf, Layer, String)> = catalog
        .invalid
        .iter()
        .map(|f| (f.path.clone(), f.layer, f.error.to_string()))
        .collect();
    assert_eq!(
        invalid,
        [
            (
                bad_new.clone(),
                Layer::System,
                format!(
                    "{}:1:19: unexpected end of file: expected a key in double quotes",
                    bad_new.display()
                )
            ),
            (
                bad_override.clone(),
                Layer::User,
                format!(
                    "{}:1:25: export_binary: unknown field `export_binary`; did you mean `export_binaries`?",
                    bad_override.display()
                )
            ),
        ]
    );
}

#[test]
fn a_new_definition_needs_an_image_and_all_needs_privileged() {
    let fixture = Fixture::new();
    let cases: &[(Layer, &str, &str, &[&str])] = &[
        (
            Layer::User,
            "x.json",
            r#"{"name": "x"}"#,
            &[":1:1: missing required field `image`"],
        ),
        (
            Layer::System,
            "x.json",
            r#"{"name": "x", "image": "quay.io/a/b:1", "capabilities": ["ALL"]}"#,
            &[
                ":1:58: capabilities[0]: the capability ALL is allowed only with \"privileged\": true",
            ],
        ),
        (
            // The built-in desktop grants ALL-free privilege; a system file may lower it, but not
            // while also asking for ALL.
            Layer::System,
            "desktop.json",
            r#"{"name": "desktop", "privileged": false, "capabilities": ["ALL"]}"#,
            &[
                ":1:59: capabilities[0]: the capability ALL is allowed only with \"privileged\": true",
            ],
        ),
    ];
    for (layer, name, text, expected) in cases {
        let path = fixture.sources.dir(*layer).unwrap().join(name);
        let expected: Vec<String> = expected
            .iter()
            .map(|e| format!("{}{e}", path.display()))
            .collect();
        assert_eq!(fixture.errors_of(*layer, name, text), expected, "{text}");
    }
    fixture.write(
        Layer::System,
        "x.json",
        r#"{"name": "x", "image": "quay.io/a/b:1", "privileged": true, "capabilities": ["CAP_ALL"]}"#,
    );
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
    assert_eq!(
        catalog.get("x").unwrap().definition.capabilities,
        [Capability::All]
    );
}

#[test]
fn a_user_file_can_never_raise_privilege() {
    let fixture = Fixture::new();
    let home = fixture.home().to_owned();
    std::fs::create_dir_all(home.join("src")).unwrap();
    symlink("/etc", home.join("etc-link")).unwrap();
    symlink(home.join("src"), home.join("src-link")).unwrap();
    symlink(home.join("nowhere"), home.join("dangling")).unwrap();
    let path = fixture.sources.user_dir.as_ref().unwrap().join("x.json");
    let h = home.display();
    let definition = |extra: &str| format!(r#"{{"name": "x", "image": "quay.io/a/b:1", {extra}}}"#);
    // Each case: the extra fields of a new user definition `x`, and the diagnostics expected after
    // the file's path.
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            r#""privileged": true"#.into(),
            vec![":1:55: privileged: refused in a user definition: only a system definition can make a container privileged".into()],
        ),
        (
            r#""capabilities": ["CHOWN", "CAP_NET_ADMIN", "SYS_ADMIN"]"#.into(),
            vec![
                ":1:67: capabilities[1]: refused in a user definition: NET_ADMIN is beyond the default capability set; only a system definition can grant it".into(),
                ":1:84: capabilities[2]: refused in a user definition: SYS_ADMIN is beyond the default capability set; only a system definition can grant it".into(),
            ],
        ),
        (
            r#""devices": ["/dev/fuse"]"#.into(),
            vec![":1:53: devices[0]: refused in a user definition: /dev/fuse:/dev/fuse:rwm is a host device; only a system definition can grant devices".into()],
        ),
        (
            r#""network": "host""#.into(),
            vec![":1:52: network: refused in a user definition: \"host\" shares the host's network namespace; only a system definition can choose it".into()],
        ),
        (
            r#""desktop": {"display": true, "audio": true, "gpu": true, "input": true}"#.into(),
            vec![
                ":1:92: desktop.gpu: refused in a user definition: GPU access is access to host devices (/dev/dri); only a system definition can grant it".into(),
                ":1:107: desktop.input: refused in a user definition: input access is access to host devices (/dev/input); only a system definition can grant it".into(),
            ],
        ),
        (
            r#""mounts": ["/etc:/host-etc:ro", "/home"]"#.into(),
            vec![
                format!(":1:52: mounts[0]: refused in a user definition: /etc is outside your home ({h}) and /tmp; a user definition may mount only paths inside those"),
                format!(":1:73: mounts[1]: refused in a user definition: /home is outside your home ({h}) and /tmp; a user definition may mount only paths inside those"),
            ],
        ),
        (
            format!(r#""mounts": ["{h}/etc-link/ssh:/ssh"]"#),
            vec![format!(
                ":1:52: mounts[0]: refused in a user definition: {h}/etc-link/ssh resolves to /etc/ssh, which is outside your home ({h}) and /tmp; a user definition may mount only paths inside those"
            )],
        ),
        (
            format!(r#""mounts": ["{h}/dangling/x:/x"]"#),
            vec![format!(
                ":1:52: mounts[0]: refused in a user definition: {h}/dangling cannot be resolved (No such file or directory (os error 2)); a user definition may mount only paths that resolve inside the home directory or /tmp"
            )],
        ),
    ];
    let mut mismatches = Vec::new();
    for (extra, expected) in cases {
        let text = definition(&extra);
        let expected: Vec<String> = expected
            .iter()
            .map(|e| format!("{}{e}", path.display()))
            .collect();
        let got = fixture.errors_of(Layer::User, "x.json", &text);
        if got != expected {
            mismatches.push(format!("{text}\n  got: {got:#?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // What the user may do: mounts inside home and /tmp (through symlinks that stay inside, and
    // paths that do not exist yet), default capabilities, display and audio, no network.
    fixture.write(
        Layer::User,
        "x.json",
        &definition(&format!(
            r#""mounts": ["{h}", "{h}/src-link:/src", "{h}/not-yet/dir:/w:ro", "/tmp"],
                "capabilities": ["CHOWN", "CAP_KILL"], "desktop": {{"display": true, "audio": true}},
                "network": "none", "privileged": false"#
        )),
    );
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
}

#[test]
fn a_user_file_may_restate_what_lower_layers_grant() {
    let fixture = Fixture::new();
    fixture.write(
        Layer::System,
        "desktop.json",
        r#"{"name": "desktop", "devices": ["/dev/kvm"], "network": "host",
            "mounts": ["/home", "/tmp", "/srv/media:/media"]}"#,
    );
    // The built-in desktop is privileged with SYS_ADMIN and NET_ADMIN and every desktop access.
    fixture.write(
        Layer::User,
        "desktop.json",
        r#"{"name": "desktop", "privileged": true, "capabilities": ["SYS_ADMIN"],
            "devices": ["/dev/kvm:/dev/kvm:rwm"], "network": "host", "desktop": {"gpu": true},
            "mounts": ["/home", "/srv/media:/media:ro"]}"#,
    );
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
    let d = &catalog.get("desktop").unwrap().definition;
    assert_eq!(d.capabilities, [Capability::SysAdmin]);
    assert_eq!(
        d.mounts.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["/home", "/srv/media:/media:ro"]
    );
    // Widening a read-only grant to read-write is raising it.
    fixture.write(
        Layer::System,
        "development.json",
        r#"{"name": "development", "mounts": ["/srv/code:/code:ro"]}"#,
    );
    let path = fixture
        .sources
        .user_dir
        .as_ref()
        .unwrap()
        .join("development.json");
    assert_eq!(
        fixture.errors_of(
            Layer::User,
            "development.json",
            r#"{"name": "development", "mounts": ["/srv/code:/code"]}"#
        ),
        [format!(
            "{}:1:36: mounts[0]: refused in a user definition: /srv/code is outside your home ({}) and /tmp; a user definition may mount only paths inside those",
            path.display(),
            fixture.home().display()
        )]
    );
}

#[test]
fn a_user_file_may_not_change_the_code_a_lower_layers_privilege_runs() {
    let fixture = Fixture::new();
    fixture.write(
        Layer::System,
        "desktop.json",
        r#"{"name": "desktop", "devices": ["/dev/kvm"]}"#,
    );
    fixture.write(
        Layer::System,
        "media.json",
        r#"{"name": "media", "image": "quay.io/a/media:1", "network": "host",
            "mounts": ["/home", "/srv/media:/media:ro", "/tmp"]}"#,
    );
    let user = fixture.sources.user_dir.clone().unwrap();
    let rule = |name: &str, field: &str, grants: &str, undo: &str| {
        format!(
            "{field}: refused in a user definition: {name} runs with privilege a user file cannot \
             grant ({grants}), so a user file may not change the code it runs: leave out \
             `{field}`, drop that privilege in this file ({undo}), or give your container a name \
             of its own"
        )
    };
    let desktop_grants = "privileged, capabilities SYS_ADMIN NET_ADMIN, desktop.gpu, \
                          desktop.input from the built-in layer; devices /dev/kvm:/dev/kvm:rwm \
                          from the system layer";
    let desktop_undo = r#""privileged": false, "capabilities": [], "devices": [], "desktop": {"gpu": false, "input": false}"#;
    let media_grants = "network host, mount /srv/media:/media:ro from the system layer";
    let media_undo = r#""network": "private", "mounts": ["/home", "/tmp/x:/usr/bin"]"#;
    let cases: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "desktop",
            r#"{"name": "desktop", "image": "quay.io/evil/x:1", "packages": [],
                "environment": {"CONTAINER_PURPOSE": "desktop", "LD_PRELOAD": "/x.so"}}"#,
            vec![
                format!(
                    ":1:30: {}",
                    rule("desktop", "image", desktop_grants, desktop_undo)
                ),
                format!(
                    ":1:62: {}",
                    rule("desktop", "packages", desktop_grants, desktop_undo)
                ),
                format!(
                    ":2:79: {}",
                    rule(
                        "desktop",
                        "environment.LD_PRELOAD",
                        desktop_grants,
                        desktop_undo
                    )
                ),
            ],
        ),
        (
            // Dropping the built-in's grants is not enough while the system's device is held.
            "desktop",
            r#"{"name": "desktop", "verify": [], "privileged": false, "capabilities": [],
                "desktop": {"gpu": false, "input": false}}"#,
            vec![format!(
                ":1:31: {}",
                rule(
                    "desktop",
                    "verify",
                    "devices /dev/kvm:/dev/kvm:rwm from the system layer",
                    r#""devices": []"#
                )
            )],
        ),
        (
            "media",
            r#"{"name": "media", "mounts": ["/home", "/srv/media:/media:ro", "/tmp/x:/usr/bin"]}"#,
            vec![format!(
                ":1:63: {}",
                rule("media", "mounts[2]", media_grants, media_undo)
            )],
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, text, expected) in cases {
        let path = user.join(format!("{name}.json"));
        let expected: Vec<String> = expected
            .iter()
            .map(|e| format!("{}{e}", path.display()))
            .collect();
        let got = fixture.errors_of(Layer::User, &format!("{name}.json"), text);
        if got != expected {
            mismatches.push(format!("{text}\n  got: {got:#?}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // Tuning, restating, narrowing, and dropping every grant before choosing the code.
    for (name, text) in [
        (
            "desktop",
            r#"{"name": "desktop", "image": "quay.io/toolbx/arch-toolbox:latest",
                "export_binaries": [], "persistent": false, "autostart": true, "network": "none",
                "mounts": ["/home:/home:ro"], "environment": {"CONTAINER_PURPOSE": "desktop"},
                "capabilities": ["NET_ADMIN"], "desktop": {"audio": false}, "devices": []}"#,
        ),
        (
            "desktop",
            r#"{"name": "desktop", "image": "quay.io/mine/x:1", "privileged": false,
                "capabilities": [], "devices": [], "desktop": {"gpu": false, "input": false}}"#,
        ),
        (
            "media",
            r#"{"name": "media", "image": "quay.io/mine/media:2", "network": "none",
                "mounts": ["/home"], "environment": {"A": "b"}}"#,
        ),
        (
            "development",
            r#"{"name": "development", "image": "quay.io/mine/dev:1", "packages": ["vim"],
                "environment": {"LD_PRELOAD": "/x.so"}, "verify": [["vim", "--version"]]}"#,
        ),
    ] {
        let path = fixture.write(Layer::User, &format!("{name}.json"), text);
        let catalog = fixture.load();
        assert_eq!(catalog.invalid, [], "{text}");
        std::fs::remove_file(path).unwrap();
    }

    // What each definition holds, with the layer that granted it.
    fixture.write(
        Layer::User,
        "desktop.json",
        r#"{"name": "desktop", "privileged": true, "desktop": {"gpu": false}}"#,
    );
    let catalog = fixture.load();
    let held = |name: &str| -> Vec<(&'static str, String, Layer)> {
        catalog
            .get(name)
            .unwrap()
            .privilege
            .iter()
            .map(|g| (g.field, g.what.clone(), g.layer))
            .collect()
    };
    assert_eq!(
        held("desktop"),
        [
            ("privileged", "privileged".to_owned(), Layer::BuiltIn),
            (
                "capabilities",
                "capabilities SYS_ADMIN NET_ADMIN".to_owned(),
                Layer::BuiltIn
            ),
            (
                "devices",
                "devices /dev/kvm:/dev/kvm:rwm".to_owned(),
                Layer::System
            ),
            ("desktop.input", "desktop.input".to_owned(), Layer::BuiltIn),
        ],
        "a user file's restated privilege is still the lower layer's"
    );
    assert_eq!(held("development"), []);
    assert_eq!(
        held("gaming"),
        [
            ("desktop.gpu", "desktop.gpu".to_owned(), Layer::BuiltIn),
            ("desktop.input", "desktop.input".to_owned(), Layer::BuiltIn),
        ]
    );
}

#[test]
fn system_files_must_be_owned_by_root_and_writable_only_by_it() {
    let fixture = Fixture::new();
    let path = fixture.write(Layer::System, "my-tools.json", SPEC_MY_TOOLS);
    let error_of = |catalog: &Catalog| {
        catalog
            .invalid
            .iter()
            .map(|f| f.error.to_string())
            .collect::<Vec<_>>()
    };
    for (mode, shown) in [(0o664, "0664"), (0o646, "0646")] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let catalog = fixture.load();
        assert!(catalog.get("my-tools").is_none());
        assert_eq!(
            error_of(&catalog),
            [format!(
                "{p}: refused: the system definition file is writable by its group or by others (mode {shown}); only its owner may write it: run `chmod go-w {p}`",
                p = path.display()
            )]
        );
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut other_owner = fixture.sources.clone();
    let uid = fixture.sources.system_owner;
    other_owner.system_owner = uid + 1;
    let catalog = load(&other_owner);
    assert_eq!(
        error_of(&catalog),
        [format!(
            "{d}: refused: the system definition directory is owned by uid {uid}, not by uid {o}: run `chown {o} {d}`",
            d = fixture.sources.system_dir.display(),
            o = uid + 1
        )]
    );
    std::fs::set_permissions(
        &fixture.sources.system_dir,
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let catalog = fixture.load();
    assert_eq!(names(&catalog).len(), 4, "only the built-ins remain");
    assert_eq!(
        error_of(&catalog),
        [format!(
            "{d}: refused: the system definition directory is writable by its group or by others (mode 0777); only its owner may write it: run `chmod go-w {d}`",
            d = fixture.sources.system_dir.display()
        )]
    );
    // The user layer has no such rule: it is the user's own.
    std::fs::set_permissions(
        &fixture.sources.system_dir,
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let user_file = fixture.write(Layer::User, "my-tools.json", SPEC_MY_TOOLS);
    std::fs::set_permissions(&user_file, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(fixture.load().invalid, []);
}

#[test]
fn size_limit_bom_and_name_rules_apply_to_files_on_disk() {
    let fixture = Fixture::new();
    let big = fixture.root.join("home/big.json");
    let mut text = String::from("{\"name\": \"big\", \"packages\": [");
    while text.len() < 10 * 1024 * 1024 {
        text.push_str("\"git\", ");
    }
    text.push_str("\"git\"]}");
    std::fs::write(&big, &text).unwrap();
    assert_eq!(
        read_layer_file(&big).unwrap_err().to_string(),
        format!(
            "{}: the file is {} bytes; a definition may be at most 1048576 bytes",
            big.display(),
            text.len()
        )
    );
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(SPEC_MY_TOOLS.as_bytes());
    let path = fixture
        .sources
        .user_dir
        .as_ref()
        .unwrap()
        .join("my-tools.json");
    std::fs::write(&path, bom).unwrap();
    let catalog = fixture.load();
    assert_eq!(catalog.invalid, []);
    assert_eq!(catalog.get("my-tools").unwrap().layer(), Layer::User);
    let expected = format!(
        "{}:1:10: name: the name is \"tools\" but the file is \"other\".json: they must be equal",
        fixture
            .sources
            .user_dir
            .as_ref()
            .unwrap()
            .join("other.json")
            .display()
    );
    assert_eq!(
        fixture.errors_of(
            Layer::User,
            "other.json",
            r#"{"name": "tools", "image": "quay.io/a/b:1"}"#
        ),
        [expected]
    );
}

#[test]
fn what_is_not_a_regular_file_is_refused_unread_and_listed() {
    let fixture = Fixture::new();
    let user = fixture.sources.user_dir.clone().unwrap();
    let fifo = user.join("fifo.json");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    std::fs::create_dir(user.join("dir.json")).unwrap();
    symlink("/dev/null", user.join("null.json")).unwrap();
    symlink(&fifo, user.join("to-fifo.json")).unwrap();
    let elsewhere = fixture.home().join("real.json");
    std::fs::write(&elsewhere, r#"{"name": "real", "image": "quay.io/a/b:1"}"#).unwrap();
    symlink(&elsewhere, user.join("real.json")).unwrap();
    let catalog = fixture.load();
    assert_eq!(catalog.get("real").unwrap().layer(), Layer::User);
    let refused: Vec<String> = catalog
        .invalid
        .iter()
        .map(|file| file.error.to_string())
        .collect();
    let kind = |file: &str, kind: &str| {
        format!(
            "{}: not a regular file but {kind}: a definition is read only from a regular file",
            user.join(file).display()
        )
    };
    assert_eq!(
        refused,
        [
            kind("dir.json", "a directory"),
            kind("fifo.json", "a FIFO (named pipe)"),
            kind("null.json", "a character device"),
            kind("to-fifo.json", "a FIFO (named pipe)"),
        ]
    );
    assert_eq!(
        read_layer_file(&fifo).unwrap_err().to_string(),
        kind("fifo.json", "a FIFO (named pipe)")
    );
}

#[test]
fn sources_from_the_environment() {
    let os = |s: &str| Some(OsString::from(s));
    type Case<'a> = (
        Option<OsString>,
        Option<OsString>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let cases: &[Case] = &[
        (
            os("/home/u"),
            None,
            Some("/home/u"),
            Some("/home/u/.config/horizonos/containers"),
        ),
        (
            os("/home/u"),
            os("/cfg"),
            Some("/home/u"),
            Some("/cfg/horizonos/containers"),
        ),
        (
            os("/home/u"),
            os("relative"),
            Some("/home/u"),
            Some("/home/u/.config/horizonos/containers"),
        ),
        (
            os("/home/u"),
            os(""),
            Some("/home/u"),
            Some("/home/u/.config/horizonos/containers"),
        ),
        (None, os("/cfg"), None, Some("/cfg/horizonos/containers")),
        (os(""), None, None, None),
        (os("relative/home"), None, None, None),
    ];
    for (home, xdg, expected_home, expected_user) in cases {
        let sources = DefinitionSources::from_environment(home.clone(), xdg.clone());
        assert_eq!(
            (sources.home.as_deref(), sources.user_dir.as_deref()),
            (expected_home.map(Path::new), expected_user.map(Path::new)),
            "{home:?} {xdg:?}"
        );
        assert_eq!(sources.system_dir, Path::new("/etc/containers/system"));
        assert_eq!(sources.system_owner, 0);
    }
}

#[test]
fn missing_directories_are_empty_layers() {
    let fixture = Fixture::new();
    let mut sources = fixture.sources.clone();
    sources.system_dir = fixture.root.join("absent");
    sources.user_dir = None;
    let catalog = load(&sources);
    assert_eq!(catalog.invalid, []);
    assert_eq!(names(&catalog).len(), 4);
}
