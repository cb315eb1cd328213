//! Privilege belongs to the layer that granted it, through the `horizon-container` binary against
//! the real test bed: a user file over a definition that a lower layer makes privileged (the
//! built-in desktop, gaming and multimedia, a privileged system definition) may tune it but not
//! change the code that runs with that privilege — its image, packages, verify commands,
//! environment or mounts. Such a file is refused by `definition validate`, listed as invalid by
//! `list`, and `install`/`update` refuse to build without it, creating nothing; a tuning change is
//! applied; a file that drops the privilege may run an image of its own. Mostly as root on the
//! rootful service, where the privilege is the host's.

use std::path::Path;

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::lifecycle::{DEFAULT_CAPS, containers_labelled, horizon, inspect, succeed};
use crate::unique_name;

/// The privilege the built-in desktop grants, as a refusal names it.
const DESKTOP_GRANTS: &str = "privileged, capabilities SYS_ADMIN NET_ADMIN, desktop.gpu, desktop.input from the built-in layer";
/// What a user file writes to drop the built-in desktop's privilege.
const DESKTOP_UNDO: &str =
    r#""privileged": false, "capabilities": [], "desktop": {"gpu": false, "input": false}"#;

/// A definition file with one top-level field per line.
fn fields_file(fields: &[(&str, Value)]) -> String {
    let lines: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("  \"{key}\": {value}"))
        .collect();
    format!("{{\n{}\n}}\n", lines.join(",\n"))
}

/// `LINE:COLUMN` (1-based, in characters) of the first `needle` in `text`, or of what follows it
/// when `after`.
fn position(text: &str, needle: &str, after: bool) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} in {text}"));
    let offset = if after { offset + needle.len() } else { offset };
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!("{line}:{column}")
}

/// Where the value of top-level field `key` starts in a `fields_file`.
fn value_of(text: &str, key: &str) -> String {
    position(text, &format!("\"{key}\": "), true)
}

/// The refusal of a user file that changes `field` of `name`, which runs with `grants`.
fn refused_change(name: &str, field: &str, grants: &str, undo: &str) -> String {
    format!(
        "{field}: refused in a user definition: {name} runs with privilege a user file cannot grant \
         ({grants}), so a user file may not change the code it runs: leave out `{field}`, drop \
         that privilege in this file ({undo}), or give your container a name of its own"
    )
}

/// `horizon-container install NAME` refused because `path`, which customises it, was refused.
fn install_refused(name: &str, path: &Path, diagnostics: &[String], lower: &str) -> String {
    build_refused(name, "installed", path, diagnostics, lower)
}

fn build_refused(
    name: &str,
    operation: &str,
    path: &Path,
    diagnostics: &[String],
    lower: &str,
) -> String {
    let p = path.display();
    let mut text = format!(
        "horizon-container: error: {name} was not {operation}: {p}, which customises it, was refused:\n"
    );
    for diagnostic in diagnostics {
        text.push_str(&format!("  {diagnostic}\n"));
    }
    text.push_str(&format!(
        "hint: fix {p} (`horizon-container definition validate {p}` says why), or remove it to use \
         the {lower} definition of {name} as it is\n"
    ));
    text
}

/// `definition validate PATH` must refuse the file with exactly `diagnostics` (after the path).
fn assert_refused(session: &Session, path: &Path, diagnostics: &[String]) {
    let (code, stdout, stderr) =
        horizon(session, &["definition", "validate", path.to_str().unwrap()]);
    let expected: String = diagnostics
        .iter()
        .map(|diagnostic| format!("{}:{diagnostic}\n", path.display()))
        .collect();
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(2), "", expected.as_str()),
        "{}",
        std::fs::read_to_string(path).unwrap()
    );
}

/// `definition validate PATH` must accept the file as a user file.
fn assert_valid(session: &Session, path: &Path) {
    let (stdout, stderr) = succeed(session, &["definition", "validate", path.to_str().unwrap()]);
    assert_eq!(
        (stdout, stderr),
        (
            format!("{}: valid (user layer)\n", path.display()),
            String::new()
        ),
        "{}",
        std::fs::read_to_string(path).unwrap()
    );
}

/// Nothing of definition `name` in the session's Podman.
fn assert_no_container(session: &Session, name: &str) {
    assert_eq!(
        containers_labelled(session, &format!("io.horizonos.definition={name}")),
        Vec::<String>::new()
    );
    assert!(inspect(session, &format!("horizonos-{name}")).is_none());
}

/// The table `list` prints for the four built-ins, all not installed, and nothing else valid.
const BUILTINS_NOT_INSTALLED: &str = "\
NAME         PURPOSE      LAYER     STATE          IMAGE
desktop      desktop      built-in  not installed  quay.io/toolbx/arch-toolbox:latest
development  development  built-in  not installed  quay.io/toolbx/arch-toolbox:latest
gaming       gaming       built-in  not installed  quay.io/toolbx/arch-toolbox:latest
multimedia   multimedia   built-in  not installed  quay.io/toolbx/arch-toolbox:latest
";

#[test]
fn root_cannot_run_an_image_of_a_user_file_with_the_builtin_desktops_privilege() {
    let bed = TestBed::shared();
    let _builtins = crate::rootful_builtins();
    let session = bed.root_session("privilege_desktop");
    let fields = [
        ("name", json!("desktop")),
        ("image", json!(bed.busybox_image())),
        ("packages", json!([])),
        ("verify", json!([])),
    ];
    let text = fields_file(&fields);
    let path = session.write_user_definition("desktop", &text);
    let diagnostics: Vec<String> = ["image", "packages", "verify"]
        .iter()
        .map(|field| {
            format!(
                "{}: {}",
                value_of(&text, field),
                refused_change("desktop", field, DESKTOP_GRANTS, DESKTOP_UNDO)
            )
        })
        .collect();
    assert_refused(&session, &path, &diagnostics);

    // The built-in stays in force and the file is listed with why.
    let (stdout, _) = succeed(&session, &["list"]);
    let mut expected = format!("{BUILTINS_NOT_INSTALLED}\ninvalid definition files (not used):\n");
    for diagnostic in &diagnostics {
        expected.push_str(&format!("  {}:{diagnostic}\n", path.display()));
    }
    assert_eq!(stdout, expected);

    // install builds neither the user's image with the privilege nor the built-in in its place.
    let full: Vec<String> = diagnostics
        .iter()
        .map(|diagnostic| format!("{}:{diagnostic}", path.display()))
        .collect();
    let (code, stdout, stderr) = horizon(&session, &["install", "desktop"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            Some(2),
            "",
            install_refused("desktop", &path, &full, "built-in").as_str()
        )
    );
    assert_no_container(&session, "desktop");
    let (stdout, _) = succeed(&session, &["status", "desktop"]);
    assert!(
        stdout.starts_with("name:         desktop\nstate:        not installed\n"),
        "{stdout}"
    );
}

#[test]
fn every_field_that_decides_the_code_of_a_privileged_builtin_is_refused_in_a_user_file() {
    let bed = TestBed::shared();
    let session = bed.user_session("privilege_fields");
    let home = session.home.display().to_string();
    let busybox = bed.busybox_image();
    let desktop_packages = json!([
        "plasma-desktop",
        "konsole",
        "dolphin",
        "pipewire",
        "wireplumber",
        "xdg-desktop-portal-kde"
    ]);
    let gpu_input = "desktop.gpu, desktop.input from the built-in layer";
    let gpu_input_undo = r#""desktop": {"gpu": false, "input": false}"#;
    // (definition, its fields after `name`, the refused fields: (where, field) with the grants
    // and the undo they name).
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, Value)>,
        Vec<(String, String)>,
        &'a str,
        &'a str,
    );
    let env_value = |text: &str, key: &str| position(text, &format!("\"{key}\":"), true);
    let cases: Vec<Case> = vec![
        (
            "desktop",
            vec![("image", json!(busybox))],
            vec![(String::new(), "image".into())],
            DESKTOP_GRANTS,
            DESKTOP_UNDO,
        ),
        (
            "desktop",
            vec![(
                "packages",
                json!([
                    "plasma-desktop",
                    "konsole",
                    "dolphin",
                    "pipewire",
                    "wireplumber",
                    "xdg-desktop-portal-kde",
                    "openssh"
                ]),
            )],
            vec![(String::new(), "packages".into())],
            DESKTOP_GRANTS,
            DESKTOP_UNDO,
        ),
        (
            "desktop",
            vec![("verify", json!([["sh", "-c", "id"]]))],
            vec![(String::new(), "verify".into())],
            DESKTOP_GRANTS,
            DESKTOP_UNDO,
        ),
        (
            "desktop",
            vec![(
                "environment",
                json!({"LD_PRELOAD": format!("{home}/evil.so"), "PATH": format!("{home}/bin:/usr/bin")}),
            )],
            vec![
                ("LD_PRELOAD".into(), "environment.LD_PRELOAD".into()),
                ("PATH".into(), "environment.PATH".into()),
            ],
            DESKTOP_GRANTS,
            DESKTOP_UNDO,
        ),
        (
            "desktop",
            vec![(
                "mounts",
                json!(["/home", "/tmp", format!("{home}/bin:/usr/local/bin:ro")]),
            )],
            vec![(format!("\"{home}/bin"), "mounts[2]".into())],
            DESKTOP_GRANTS,
            DESKTOP_UNDO,
        ),
        (
            // Dropping part of the privilege is not enough: what is left is named.
            "desktop",
            vec![("image", json!(busybox)), ("privileged", json!(false))],
            vec![(String::new(), "image".into())],
            "capabilities SYS_ADMIN NET_ADMIN, desktop.gpu, desktop.input from the built-in layer",
            r#""capabilities": [], "desktop": {"gpu": false, "input": false}"#,
        ),
        (
            "gaming",
            vec![("image", json!(busybox)), ("packages", json!([]))],
            vec![
                (String::new(), "image".into()),
                (String::new(), "packages".into()),
            ],
            gpu_input,
            gpu_input_undo,
        ),
        (
            "multimedia",
            vec![(
                "verify",
                json!([["ffmpeg", "-version"], ["sh", "-c", "true"]]),
            )],
            vec![(String::new(), "verify".into())],
            "desktop.gpu from the built-in layer",
            r#""desktop": {"gpu": false}"#,
        ),
    ];
    for (name, extra, refused, grants, undo) in &cases {
        let mut fields = vec![("name", json!(name))];
        fields.extend(extra.iter().cloned());
        let text = fields_file(&fields);
        let path = session.write_user_definition(name, &text);
        let diagnostics: Vec<String> = refused
            .iter()
            .map(|(needle, field)| {
                let at = if needle.is_empty() {
                    value_of(&text, field)
                } else if field.starts_with("environment.") {
                    env_value(&text, needle)
                } else {
                    position(&text, needle, false)
                };
                format!("{at}: {}", refused_change(name, field, grants, undo))
            })
            .collect();
        assert_refused(&session, &path, &diagnostics);
        std::fs::remove_file(&path).unwrap();
    }

    // As the rootless user too, install refuses and creates nothing.
    let text = fields_file(&[("name", json!("desktop")), ("image", json!(busybox))]);
    let path = session.write_user_definition("desktop", &text);
    let diagnostic = format!(
        "{}:{}: {}",
        path.display(),
        value_of(&text, "image"),
        refused_change("desktop", "image", DESKTOP_GRANTS, DESKTOP_UNDO)
    );
    let (code, stdout, stderr) = horizon(&session, &["install", "desktop"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            Some(2),
            "",
            install_refused("desktop", &path, &[diagnostic], "built-in").as_str()
        )
    );
    assert_no_container(&session, "desktop");
    std::fs::remove_file(&path).unwrap();

    // What a user file may still do over a privileged definition: tune it, restate what the lower
    // layer has, narrow it; and over the unprivileged development, change what it runs.
    let allowed: Vec<(&str, Vec<(&str, Value)>)> = vec![
        (
            "desktop",
            vec![
                ("image", json!("quay.io/toolbx/arch-toolbox:latest")),
                ("packages", desktop_packages.clone()),
                ("purpose", json!("desktop")),
                ("export_binaries", json!(["konsole"])),
                ("persistent", json!(false)),
                ("mounts", json!(["/home", "/tmp:/tmp:ro"])),
                ("environment", json!({"CONTAINER_PURPOSE": "desktop"})),
                ("privileged", json!(true)),
                ("capabilities", json!(["SYS_ADMIN"])),
                ("desktop", json!({"audio": false, "gpu": true})),
                ("network", json!("none")),
                ("verify", json!([["konsole", "--version"]])),
                ("autostart", json!(true)),
            ],
        ),
        (
            // Drops every privilege: then the image, packages and verify are the user's to choose.
            "desktop",
            vec![
                ("image", json!(busybox)),
                ("packages", json!([])),
                ("verify", json!([["true"]])),
                ("environment", json!({"EDITOR": "vi"})),
                ("privileged", json!(false)),
                ("capabilities", json!([])),
                ("desktop", json!({"gpu": false, "input": false})),
            ],
        ),
        (
            "development",
            vec![
                ("image", json!(busybox)),
                ("packages", json!(["git", "vim"])),
                ("environment", json!({"EDITOR": "vim"})),
                ("verify", json!([["vim", "--version"]])),
                ("mounts", json!(["/home", format!("{home}/src:/src")])),
            ],
        ),
    ];
    for (name, extra) in allowed {
        let mut fields = vec![("name", json!(name))];
        fields.extend(extra);
        let path = session.write_user_definition(name, &fields_file(&fields));
        assert_valid(&session, &path);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_privileged_system_definition_is_tuned_but_never_runs_a_user_files_code() {
    let bed = TestBed::shared();
    let session = bed.root_session("privilege_system");
    let name = unique_name("pv-sys");
    let container = format!("horizonos-{name}");
    let busybox = bed.busybox_image();
    session.write_system_definition(
        &name,
        &json!({
            "name": name,
            "image": busybox,
            "privileged": true,
            "capabilities": ["NET_ADMIN"],
            "persistent": true,
        })
        .to_string(),
    );
    let grants = "privileged, capabilities NET_ADMIN from the system layer";
    let undo = r#""privileged": false, "capabilities": []"#;

    // A user file with an image of its own: refused, and nothing is built.
    let text = fields_file(&[
        ("name", json!(name)),
        ("image", json!(bed.image_reference("pv-other", "1"))),
    ]);
    let path = session.write_user_definition(&name, &text);
    let diagnostic = format!(
        "{}:{}: {}",
        path.display(),
        value_of(&text, "image"),
        refused_change(&name, "image", grants, undo)
    );
    let (code, stdout, stderr) = horizon(
        &session,
        &["definition", "validate", path.to_str().unwrap()],
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(2), "", format!("{diagnostic}\n").as_str())
    );
    let (code, stdout, stderr) = horizon(&session, &["install", &name]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            Some(2),
            "",
            install_refused(&name, &path, std::slice::from_ref(&diagnostic), "system").as_str()
        )
    );
    assert_no_container(&session, &name);

    // Without it, the system definition installs, privileged as its layer says.
    std::fs::remove_file(&path).unwrap();
    succeed(&session, &["install", &name]);
    let inspected = inspect(&session, &container).unwrap();
    assert_eq!(
        (
            &inspected["HostConfig"]["Privileged"],
            &inspected["Config"]["Labels"]["io.horizonos.layer"]
        ),
        (&json!(true), &json!("system"))
    );

    // A tuning user file (the same image restated, no network, not persistent) is applied, and
    // the container keeps the system layer's privilege.
    let tuning = fields_file(&[
        ("name", json!(name)),
        ("image", json!(busybox)),
        ("persistent", json!(false)),
        ("network", json!("none")),
    ]);
    let path = session.write_user_definition(&name, &tuning);
    assert_valid(&session, &path);
    let (stdout, _) = succeed(&session, &["install", &name, "--reinstall"]);
    assert!(
        stdout.starts_with(&format!("reinstalled {name}")),
        "{stdout}"
    );
    let inspected = inspect(&session, &container).unwrap();
    assert_eq!(
        (
            &inspected["HostConfig"]["Privileged"],
            &inspected["HostConfig"]["NetworkMode"],
            &inspected["Config"]["Labels"]["io.horizonos.layer"],
            &inspected["Config"]["Labels"]["io.horizonos.persistent"],
        ),
        (
            &json!(true),
            &json!("none"),
            &json!("user"),
            &json!("false")
        )
    );
    let (stdout, _) = succeed(&session, &["definition", "show", &name, "--explain"]);
    let privilege: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("privilege "))
        .take(2)
        .collect();
    assert_eq!(
        privilege,
        [
            format!("privilege        {grants}"),
            "                 a user file may tune it but not change the code it runs: image, \
             packages, verify, environment, mounts"
                .to_owned()
        ],
        "{stdout}"
    );

    // A user file that changes the packages: update refuses, the container is untouched, and
    // status and list say where things stand.
    let id = inspected["Id"].clone();
    let text = fields_file(&[("name", json!(name)), ("packages", json!(["openssh"]))]);
    let path = session.write_user_definition(&name, &text);
    let diagnostic = format!(
        "{}:{}: {}",
        path.display(),
        value_of(&text, "packages"),
        refused_change(&name, "packages", grants, undo)
    );
    let (code, stdout, stderr) = horizon(&session, &["update", &name]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            Some(2),
            "",
            build_refused(
                &name,
                "updated",
                &path,
                std::slice::from_ref(&diagnostic),
                "system"
            )
            .as_str()
        )
    );
    let inspected = inspect(&session, &container).unwrap();
    assert_eq!(
        (&inspected["Id"], &inspected["State"]["Running"]),
        (&id, &json!(true))
    );
    let (stdout, _) = succeed(&session, &["status", &name]);
    assert!(stdout.contains("\nstate:        running\n"), "{stdout}");
    let (stdout, _) = succeed(&session, &["list"]);
    let row = stdout
        .lines()
        .find(|line| line.starts_with(&name))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            name.as_str(),
            "-",
            "system",
            "running",
            "(drifted)",
            &busybox
        ]
    );
    assert!(
        stdout.ends_with(&format!(
            "\ninvalid definition files (not used):\n  {diagnostic}\n"
        )),
        "{stdout}"
    );
    std::fs::remove_file(&path).unwrap();
    succeed(&session, &["remove", &name]);
    assert_no_container(&session, &name);
}

#[test]
fn a_user_file_that_drops_the_builtin_gamings_privilege_runs_its_own_image_unprivileged() {
    let bed = TestBed::shared();
    let _builtins = crate::rootful_builtins();
    let session = bed.root_session("privilege_dropped");
    let text = fields_file(&[
        ("name", json!("gaming")),
        ("image", json!(bed.busybox_image())),
        ("packages", json!([])),
        ("export_binaries", json!([])),
        ("verify", json!([])),
        ("desktop", json!({"gpu": false, "input": false})),
    ]);
    let path = session.write_user_definition("gaming", &text);
    assert_valid(&session, &path);
    succeed(&session, &["install", "gaming"]);
    let inspected = inspect(&session, "horizonos-gaming").unwrap();
    assert_eq!(
        (
            &inspected["HostConfig"]["Privileged"],
            &inspected["EffectiveCaps"],
            &inspected["Config"]["Labels"]["io.horizonos.layer"],
        ),
        (&json!(false), &json!(DEFAULT_CAPS), &json!("user"))
    );
    assert!(
        inspected["HostConfig"]["Devices"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        inspected["HostConfig"]["Devices"]
    );
    succeed(&session, &["remove", "gaming"]);
    assert_no_container(&session, "gaming");
}
