//! The embedding examples (`examples/`, programs built on horizon-core's public API alone, as a
//! GUI would be) against the test bed, as root against the rootful service: install with progress
//! and exports, update to a changed definition and roll back, list with status. Each example's
//! whole output is checked, and what Podman and horizon's state hold afterwards.

use std::process::{Output, Stdio};

use horizon_e2e::TestBed;
use horizon_e2e::bins::{cargo_bin, cargo_example};
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::{assert_exit, text, unique_name};

/// Runs example `example` with `args` in `session`, with the exec client on `PATH` as an
/// installed embedder would have it.
fn example(session: &Session, example: &str, args: &[&str]) -> Output {
    let client_dir = cargo_bin("horizon-exec", "horizon-exec")
        .parent()
        .expect("the client's directory")
        .to_owned();
    let mut command = session.command(cargo_example("horizon-examples", example));
    let path = format!(
        "{}:{}",
        std::env::var("PATH").unwrap_or_default(),
        client_dir.display()
    );
    command
        .env("PATH", format!("{}:{path}", session.export_dir.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the example")
}

fn status(session: &Session, name: &str) -> Value {
    let output = session
        .horizon_container()
        .args(["status", name, "--json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_gui_installs_with_progress_updates_rolls_back_and_lists_with_status() {
    let bed = TestBed::shared();
    let session = bed.root_session("embedding");
    let name = unique_name("embed");
    let image = bed.push_busybox_variant(&name, "latest", &[]);
    let definition = |greeting: &str| {
        json!({
            "name": name, "image": image, "persistent": true,
            "export_binaries": ["sha3sum"], "environment": {"GREETING": greeting},
        })
        .to_string()
    };
    session.write_user_definition(&name, &definition("one"));

    // Install: every step reported while it runs, then the record and the export.
    let output = example(&session, "install-with-progress", &[&name]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    let steps: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("step: "))
        .map(|line| line.split_once(": ").map_or(line, |(step, _)| step))
        .collect();
    // No packages and no verify commands: the steps of a plain image.
    assert_eq!(
        steps,
        [
            "pull",
            "prepare build container",
            "commit",
            "create",
            "start",
            "record"
        ],
        "{stdout}"
    );
    assert!(stdout.contains("\nlayer: "), "{stdout}");
    let wrapper = session.export_dir.join("sha3sum");
    assert!(
        stdout.contains(&format!(
            "installed {name} generation 1 as localhost/horizonos/{name}:1\nexported {}\n",
            wrapper.display()
        )),
        "{stdout}"
    );
    let installed = status(&session, &name);
    assert_eq!(installed["state"], "running", "{installed}");
    assert_eq!(installed["container"]["generation"], 1, "{installed}");
    // The wrapper the install exported runs the container's binary.
    let hashed = session
        .command(&wrapper)
        .arg("/etc/passwd")
        .output()
        .unwrap();
    assert_exit(&hashed, 0);
    let in_container = session
        .horizon_container()
        .args(["run", &name, "sha3sum", "/etc/passwd"])
        .output()
        .unwrap();
    assert_exit(&in_container, 0);
    assert_eq!(text(&hashed.stdout), text(&in_container.stdout));

    // A changed definition: check sees it, update builds generation 2, rollback returns to 1.
    session.write_user_definition(&name, &definition("two"));
    let output = example(&session, "update-and-roll-back", &[&name]);
    assert_exit(&output, 0);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "check {name}: generation 1, image update false, definition changed true\n"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("updated {name}: generation 1 (sha256:")),
        "{stdout}"
    );
    assert!(stdout.contains(") -> generation 2 (sha256:"), "{stdout}");
    assert!(
        stdout.contains(&format!("rolled {name} back: generation 1 (sha256:")),
        "{stdout}"
    );
    assert!(stdout.ends_with(" is kept\n"), "{stdout}");
    let rolled_back = status(&session, &name);
    assert_eq!(rolled_back["container"]["generation"], 1, "{rolled_back}");
    assert_eq!(rolled_back["kept_generations"], json!([2]), "{rolled_back}");
    // What runs is generation 1's configuration, not the definition file's.
    let greeting = session
        .horizon_container()
        .args(["run", &name, "sh", "-c", "echo $GREETING"])
        .output()
        .unwrap();
    assert_eq!(text(&greeting.stdout), "one\n");

    // The list: the built-in definitions, and this one, whose generation 1 runs with 2 kept and
    // whose definition differs from what runs.
    let output = example(&session, "list-with-status", &[]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "desktop: not installed\ndevelopment: not installed\ngaming: not installed\n\
             {name}: running (definition changed since install)\n\
             multimedia: not installed\n\
             {name}: running, generation 1, kept [2], drifted true\n  \
             exports sha3sum -> sha3sum\n"
        )
    );

    assert_exit(
        &session
            .horizon_container()
            .args(["remove", &name])
            .output()
            .unwrap(),
        0,
    );
}
