//! Text from definition files made hostile, through the `horizon-container` binary against the
//! real test bed: keys, values, paths and file names carrying terminal escapes, NUL, C1 controls
//! and bidi overrides are shown escaped wherever horizon shows them (`definition validate`,
//! `list`, `show`, `show --explain`, `status`, error messages and progress), while the container
//! gets them byte for byte.

use horizon_e2e::TestBed;
use serde_json::json;

use crate::lifecycle::{horizon, inspect, install_fails_at_verify_of_ls, succeed};

/// Asserts that `text` holds nothing a terminal would act on: no control character but the line
/// break, no bidi override.
fn assert_printable(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| (c.is_control() && *c != '\n') || ('\u{202a}'..='\u{202e}').contains(c))
        .collect();
    assert!(bad.is_empty(), "{what} shows {bad:?} raw:\n{text}");
}

#[test]
fn escapes_in_a_files_keys_and_name_are_shown_escaped_by_validate_and_list() {
    let bed = TestBed::shared();
    let session = bed.user_session("hostile_keys");
    let text = format!(
        r#"{{
  "name": "esc-keys",
  "image": "{}",
  "x\u001b[2J": 1,
  "environment": {{"A\u001b]0;pwned\u0007": "v"}},
  "\u0000": true
}}
"#,
        bed.busybox_image()
    );
    let path = session.write_user_definition("esc-keys", &text);
    let p = path.display();
    let keys = [
        format!("{p}:4:3: x\\u{{1b}}[2J: unknown field `x\\u{{1b}}[2J`"),
        format!(
            "{p}:5:19: environment.A\\u{{1b}}]0;pwned\\u{{7}}: \"A\\u{{1b}}]0;pwned\\u{{7}}\" is not a \
             valid environment variable name: use letters, digits and '_', not starting with a digit"
        ),
        format!("{p}:6:3: \\0: unknown field `\\0`"),
    ];
    let (code, stdout, stderr) = horizon(&session, &["definition", "validate", &p.to_string()]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(2), "", format!("{}\n", keys.join("\n")).as_str())
    );

    // A file whose name carries an escape (what a glob hands `validate`).
    let red = session.write_user_definition(
        "\u{1b}[31mred",
        &format!(r#"{{"name": "red", "image": "{}"}}"#, bed.busybox_image()),
    );
    let dir = session.definitions_dir();
    let red_error = format!(
        "{}/\\u{{1b}}[31mred.json:1:10: name: the name is \"red\" but the file is \
         \"\\u{{1b}}[31mred\".json: they must be equal",
        dir.display()
    );
    let (code, stdout, stderr) =
        horizon(&session, &["definition", "validate", red.to_str().unwrap()]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(2), "", format!("{red_error}\n").as_str())
    );
    let (stdout, stderr) = succeed(&session, &["list"]);
    assert_printable("list", &stdout);
    assert_eq!(stderr, "");
    assert!(
        stdout.ends_with(&format!(
            "\ninvalid definition files (not used):\n  {red_error}\n  {}\n",
            keys.join("\n  ")
        )),
        "{stdout}"
    );
    // The error of a command on the refused definition names it escaped too.
    let (code, stdout, stderr) = horizon(&session, &["install", "esc-keys"]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""), "{stderr}");
    assert_printable("install", &stderr);
}

#[test]
fn escapes_in_a_valid_definitions_values_are_shown_escaped_and_reach_the_container_intact() {
    let bed = TestBed::shared();
    let session = bed.user_session("hostile_values");
    let name = "esc-values";
    let source = session.home.join("dir\u{1b}[2J");
    std::fs::create_dir_all(&source).unwrap();
    session.give_to_user(&source);
    let text = format!(
        r#"{{
  "name": "{name}",
  "image": "{}",
  "mounts": ["{}/dir\u001b[2J:/data"],
  "environment": {{"TITLE": "\u001b]0;owned\u0007", "RTL": "a\u202eb", "CSI": "\u009b2J", "TAB": "a\tb"}}
}}
"#,
        bed.busybox_image(),
        session.home.display()
    );
    let path = session.write_user_definition(name, &text);
    let (stdout, _) = succeed(
        &session,
        &["definition", "validate", path.to_str().unwrap()],
    );
    assert_eq!(stdout, format!("{}: valid (user layer)\n", path.display()));

    let home = session.home.display();
    let shown = [
        ("mounts", format!("{home}/dir\\u{{1b}}[2J:/data")),
        ("environment.CSI", "\\u{9b}2J".to_owned()),
        ("environment.RTL", "a\\u{202e}b".to_owned()),
        ("environment.TAB", "a\\tb".to_owned()),
        ("environment.TITLE", "\\u{1b}]0;owned\\u{7}".to_owned()),
    ];
    for explain in [false, true] {
        let mut args = vec!["definition", "show", name];
        if explain {
            args.push("--explain");
        }
        let (stdout, _) = succeed(&session, &args);
        assert_printable("show", &stdout);
        for (label, value) in &shown {
            let line = stdout
                .lines()
                .find(|line| line.split_whitespace().next() == Some(label))
                .unwrap_or_else(|| panic!("{label} in {stdout}"));
            let expected = format!("{label:<19}{value}");
            assert!(
                line.starts_with(&expected) && (explain || line == expected),
                "{line:?} is not {expected:?}"
            );
            if explain {
                assert!(line.ends_with("user"), "{line}");
            }
        }
    }

    // Installed: status shows the mount escaped; Podman and the container hold the real bytes.
    succeed(&session, &["install", name]);
    let (stdout, _) = succeed(&session, &["status", name]);
    assert_printable("status", &stdout);
    assert!(
        stdout.contains(&format!(
            "\nmounts:       {home}/dir\\u{{1b}}[2J -> /data (rw)\n"
        )),
        "{stdout}"
    );
    let inspected = inspect(&session, &format!("horizonos-{name}")).unwrap();
    let mount = inspected["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["Destination"] == "/data")
        .unwrap()
        .clone();
    assert_eq!(mount["Source"], json!(source.to_str().unwrap()));
    let (code, stdout, _) = horizon(&session, &["run", name, "sh", "-c", "printf %s \"$TITLE\""]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "\u{1b}]0;owned\u{7}"),
        "what the command prints is its own, passed as it is"
    );
    succeed(&session, &["remove", name]);
}

#[test]
fn escapes_in_a_failing_verify_command_are_shown_escaped_in_the_error() {
    let bed = TestBed::shared();
    let session = bed.user_session("hostile_verify");
    let name = "esc-verify";
    session.write_user_definition(
        name,
        &format!(
            r#"{{"name": "{name}", "image": "{}", "verify": [["ls", "/no\u001b[2J"]]}}"#,
            bed.busybox_image()
        ),
    );
    let stderr = install_fails_at_verify_of_ls(&session, name, "/no\\u{1b}[2J");
    assert_printable("install", &stderr);
}
