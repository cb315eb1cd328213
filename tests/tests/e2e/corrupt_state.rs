//! A corrupt state file stops only what it must: an unreadable install record (truncated,
//! garbage, of another schema) is reported for its container alone — `update --check`,
//! `update --all`, `cleanup --dry-run`, `export` and `exports` go on with the others and carry a
//! per-container error; `status`, `update` and `rollback` of it name the file and the way back;
//! `doctor` lists it with its fix; `repair` rebuilds it from the container and the generation
//! history (the unreadable file kept beside it); `remove` always works. An unreadable journal or
//! kept generation record fails only that container's writers (or that rollback), with the same
//! way back. A user session with busybox containers.

use std::path::{Path, PathBuf};
use std::process::Output;

use horizon_e2e::TestBed;
use serde_json::{Value, json};

use crate::export::Exporting;
use crate::{assert_exit, text};

/// The ways a state file gets broken: what a crash of another tool, a full disk or a hand edit
/// leave.
fn corruptions(original: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut other_schema: Value = serde_json::from_slice(original).unwrap();
    other_schema["schema_version"] = json!(99);
    vec![
        ("truncated", original[..original.len() / 2].to_vec()),
        ("garbage", b"\x00\x01 not json at all\n".to_vec()),
        ("another schema", other_schema.to_string().into_bytes()),
    ]
}

fn record_path(exporting: &Exporting, name: &str) -> PathBuf {
    exporting
        .session
        .state_dir
        .join(format!("containers/{name}.json"))
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["name"] == json!(name))
        .unwrap_or_else(|| panic!("{name} missing: {list}"))
}

/// The hint every command about an unreadable state file of `name` ends with.
fn repair_hint(name: &str) -> String {
    format!(
        "hint: `horizon-container repair {name}` rebuilds it from the container and its \
         generation history (or `horizon-container remove {name}` removes the container)\n"
    )
}

/// The error line and hint of a command that failed on `path`, whose problem starts `problem`.
fn assert_unreadable_error(output: &Output, name: &str, path: &Path, what: &str) {
    assert_exit(output, 1);
    let stderr = text(&output.stderr);
    let prefix = format!(
        "horizon-container: error: {}: not a valid {what}: ",
        path.display()
    );
    assert!(stderr.starts_with(&prefix), "{stderr}");
    assert!(stderr.ends_with(&repair_hint(name)), "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

/// podman's names of the definition's managed containers.
fn podman_containers(exporting: &Exporting, name: &str) -> Vec<String> {
    let output = exporting
        .session
        .service
        .storage
        .podman()
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.horizonos.definition={name}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    let mut names: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    names.sort();
    names
}

fn doctor_state_check(exporting: &Exporting) -> Value {
    let output = exporting.hc(&["doctor", "--json"]);
    let report = json_of(&output);
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["id"] == "state-files")
        .unwrap_or_else(|| panic!("no state-files check: {report:#}"))
        .clone()
}

#[test]
fn a_corrupt_install_record_stops_only_its_own_container_and_repair_rebuilds_it() {
    let good = "cs-good";
    let broken = "cs-broken";
    let exporting = Exporting::new(
        "corrupt_record",
        &[(good, &["sha3sum"]), (broken, &["ipcalc"])],
    );
    let path = record_path(&exporting, broken);
    let original = std::fs::read(&path).unwrap();
    let aside = path.with_extension("json.unreadable");

    // Nothing is wrong yet: doctor says so.
    let check = doctor_state_check(&exporting);
    assert_eq!(
        (&check["status"], &check["fix"]),
        (&json!("passed"), &Value::Null)
    );

    for (how, bytes) in corruptions(&original) {
        std::fs::write(&path, &bytes).unwrap();

        // The check of all: the others are checked, the broken one carries its error.
        let output = exporting.hc(&["update", "--check", "--json"]);
        assert_exit(&output, 1);
        let checked = json_of(&output);
        let ok = entry(&checked["containers"], good);
        assert_eq!(
            (&ok["error"], &ok["update_available"]),
            (&Value::Null, &json!(false))
        );
        let bad = entry(&checked["containers"], broken);
        let error = bad["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("{}: not a valid install record: ", path.display())),
            "{how}: {bad}"
        );
        assert_eq!(bad["generation"], Value::Null, "{how}");
        assert_eq!(
            text(&output.stderr),
            format!(
                "horizon-container: error: could not check {broken}\n{}",
                repair_hint(broken)
            ),
            "{how}"
        );

        // update --all: the good one is up to date, the broken one fails alone.
        let output = exporting.hc(&["update", "--all", "--json"]);
        assert_exit(&output, 1);
        let updated = json_of(&output);
        assert_eq!(entry(&updated["containers"], good)["outcome"], "up-to-date");
        let failed = entry(&updated["containers"], broken);
        assert_eq!(failed["outcome"], Value::Null);
        assert!(
            failed["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}: not a valid install record: ", path.display())),
            "{how}: {failed}"
        );

        // cleanup --dry-run lists nothing of ours, and names the record it could not read.
        let output = exporting.hc(&["cleanup", "--dry-run", "--json"]);
        assert_exit(&output, 1);
        let cleanup = json_of(&output);
        for item in cleanup["removed"].as_array().unwrap() {
            assert!(
                item["definition"] != json!(good) && item["definition"] != json!(broken),
                "{how}: {item}"
            );
        }
        assert_eq!(cleanup["exports"], json!([]), "{how}");
        let unreadable = cleanup["unreadable_records"].as_array().unwrap();
        assert_eq!(unreadable.len(), 1, "{how}: {cleanup}");
        assert_eq!(
            (&unreadable[0]["name"], &unreadable[0]["path"]),
            (&json!(broken), &json!(path)),
            "{how}"
        );
        let stderr = text(&output.stderr);
        assert!(
            stderr.starts_with(&format!(
                "horizon-container: could not judge what of {broken} is still needed: {}: not a valid install record: ",
                path.display()
            )) && stderr.ends_with(&repair_hint(broken)),
            "{how}: {stderr}"
        );

        // Exports of another container, and the listing of all, go on.
        let output = exporting.hc(&["export", "microcom", "--from", good]);
        assert_exit(&output, 0);
        assert!(exporting.wrapper("microcom").is_file());
        assert_exit(&exporting.hc(&["unexport", "microcom"]), 0);
        let output = exporting.hc(&["exports", "--json"]);
        assert_exit(&output, 0);
        let listed = json_of(&output);
        let ipcalc = listed["exports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == "ipcalc")
            .unwrap_or_else(|| panic!("{listed}"));
        assert_eq!(
            ipcalc["state"], "ok",
            "{how}: the broken one's export is not orphaned"
        );

        // The broken one: status, update and rollback name the file and the way back.
        for args in [
            vec!["status", broken],
            vec!["update", broken],
            vec!["rollback", broken],
            vec!["install", broken],
            vec!["export", "microcom", "--from", broken],
        ] {
            let output = exporting.hc(&args);
            assert_unreadable_error(&output, broken, &path, "install record");
        }
        assert_exit(&exporting.hc(&["status", good]), 0);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{how}: nothing rewrote it"
        );

        // doctor finds it, and says how to get back.
        let check = doctor_state_check(&exporting);
        assert_eq!(check["status"], "failed", "{how}: {check}");
        assert!(
            check["detail"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{}: not a valid install record: ", path.display())),
            "{how}: {check}"
        );
        assert_eq!(
            check["fix"],
            json!(format!("horizon-container repair {broken}")),
            "{how}"
        );

        // repair: rebuilt from the container (no update ran, so no kept generation record).
        let output = exporting.hc(&["repair", broken]);
        assert_exit(&output, 0);
        assert_eq!(
            text(&output.stdout),
            format!(
                "repaired {broken}: the install record was rebuilt from its container \
                 (generation 1); the unreadable file is kept as {}\n",
                aside.display()
            ),
            "{how}"
        );
        assert_eq!(std::fs::read(&aside).unwrap(), bytes, "{how}");
        let rebuilt: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let expected: Value = serde_json::from_slice(&original).unwrap();
        assert_eq!(rebuilt, expected, "{how}");
        assert_exit(&exporting.hc(&["status", broken]), 0);
        let output = exporting.hc(&["update", "--check", broken]);
        assert_exit(&output, 0);
        assert_eq!(doctor_state_check(&exporting)["status"], "passed", "{how}");
        // A record that is fine is left alone.
        let output = exporting.hc(&["repair", broken]);
        assert_exit(&output, 0);
        assert_eq!(
            text(&output.stdout),
            format!("{broken}: nothing to repair\n"),
            "{how}"
        );
    }
}

#[test]
fn remove_works_whatever_the_record_holds() {
    let exporting = Exporting::new("corrupt_remove", &[]);
    let definition = |name: &str| {
        json!({
            "name": name,
            "image": TestBed::shared().busybox_image(),
            "persistent": true,
            "export_binaries": ["ipcalc"],
        })
    };
    let original_len = {
        exporting.install("cs-rm-probe", &definition("cs-rm-probe"));
        let bytes = std::fs::read(record_path(&exporting, "cs-rm-probe")).unwrap();
        assert_exit(&exporting.hc(&["remove", "cs-rm-probe"]), 0);
        bytes
    };
    for (index, (how, bytes)) in corruptions(&original_len).into_iter().enumerate() {
        let name = format!("cs-rm-{index}");
        exporting.install(&name, &definition(&name));
        let path = record_path(&exporting, &name);
        std::fs::write(&path, &bytes).unwrap();
        let output = exporting.hc(&["remove", &name]);
        assert_exit(&output, 0);
        assert_eq!(
            text(&output.stdout),
            format!(
                "removed {name}\n  container horizonos-{name}\n  image localhost/horizonos/{name}:1\n  \
                 install record (unreadable)\nunexported ipcalc (from {name}): removed {}\n",
                exporting.wrapper("ipcalc").display()
            ),
            "{how}"
        );
        assert!(!path.exists(), "{how}");
        assert!(!exporting.wrapper("ipcalc").exists(), "{how}");
        assert_eq!(podman_containers(&exporting, &name), Vec::<String>::new());
    }
}

#[test]
fn a_corrupt_journal_or_kept_generation_record_fails_only_what_needs_it() {
    let bed = TestBed::shared();
    let good = "cs-j-good";
    let broken = "cs-j-broken";
    let exporting = Exporting::new("corrupt_journal", &[]);
    for name in [good, broken] {
        let image = bed.push_busybox_variant(name, "latest", &[("/etc/v", b"1\n")]);
        exporting.install(
            name,
            &json!({"name": name, "image": image, "persistent": true}),
        );
    }
    // An update of the broken one, so generation 1 is kept with its record.
    bed.push_busybox_variant(broken, "latest", &[("/etc/v", b"2\n")]);
    assert_exit(&exporting.hc(&["update", broken]), 0);
    let state = exporting.session.state_dir.clone();

    // An unreadable journal: every writer of that container refuses, with the way back; readers
    // and the other container go on.
    let journal = state.join(format!("journal/{broken}.json"));
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    std::fs::write(&journal, b"{\"schema_version\": 1, \"oper").unwrap();
    for args in [vec!["update", broken], vec!["rollback", broken]] {
        assert_unreadable_error(&exporting.hc(&args), broken, &journal, "update journal");
    }
    let output = exporting.hc(&["update", "--all", "--json"]);
    assert_exit(&output, 1);
    let updated = json_of(&output);
    assert_eq!(entry(&updated["containers"], good)["outcome"], "up-to-date");
    assert!(
        entry(&updated["containers"], broken)["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "{}: not a valid update journal: ",
                journal.display()
            )),
        "{updated}"
    );
    assert_exit(&exporting.hc(&["status", broken]), 0);
    let check = doctor_state_check(&exporting);
    assert_eq!(check["status"], "failed", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains(&format!(
            "{}: not a valid update journal: ",
            journal.display()
        )),
        "{check}"
    );
    assert_eq!(
        check["fix"],
        json!(format!("horizon-container repair {broken}"))
    );
    let output = exporting.hc(&["repair", broken]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "repaired {broken}: the unreadable update journal is kept as {}; generation 2 \
             runs as it is\n",
            journal.with_extension("json.unreadable").display()
        )
    );
    assert!(!journal.exists());

    // An unreadable record of the kept generation: only the rollback to it needs it.
    let kept = state.join(format!("generations/{broken}/1.json"));
    let kept_original = std::fs::read(&kept).unwrap();
    std::fs::write(&kept, b"garbage").unwrap();
    assert_unreadable_error(
        &exporting.hc(&["rollback", broken]),
        broken,
        &kept,
        "generation record",
    );
    assert_exit(&exporting.hc(&["update", "--check", broken]), 0);
    assert_exit(&exporting.hc(&["status", broken]), 0);
    let check = doctor_state_check(&exporting);
    assert_eq!(check["status"], "failed", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains(&format!(
            "{}: not a valid generation record: ",
            kept.display()
        )),
        "{check}"
    );
    let output = exporting.hc(&["repair", broken]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "repaired {broken}: the record of kept generation 1 was rebuilt from its container; \
             the unreadable file is kept as {}\n",
            kept.with_extension("json.unreadable").display()
        )
    );
    let rebuilt: Value = serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    let expected: Value = serde_json::from_slice(&kept_original).unwrap();
    for field in [
        "name",
        "generation",
        "generation_image",
        "generation_image_id",
        "container_id",
    ] {
        assert_eq!(rebuilt[field], expected[field], "{field}");
    }
    let output = exporting.hc(&["rollback", broken]);
    assert_exit(&output, 0);
    assert_eq!(podman_containers(&exporting, broken).len(), 2);

    // An unreadable export ledger: exporting needs it and refuses; status shows the rest and
    // says the exports are unknown; doctor names it; remove takes everything but the wrappers.
    let ledger = state.join("exports.json");
    std::fs::write(&ledger, b"{\"schema_version\": 1, \"exp").unwrap();
    let output = exporting.hc(&["export", "microcom", "--from", good]);
    assert_exit(&output, 1);
    let refused = format!(
        "horizon-container: error: {}: not a valid export ledger: ",
        ledger.display()
    );
    assert!(
        text(&output.stderr).starts_with(&refused),
        "{}",
        text(&output.stderr)
    );
    let output = exporting.hc(&["status", good]);
    assert_exit(&output, 0);
    assert!(
        text(&output.stderr).starts_with(&format!(
            "horizon-container: warning: the exports are unknown: {}: not a valid export ledger: ",
            ledger.display()
        )),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout)
            .contains("\nexports:      unknown (the export ledger cannot be read)\n"),
        "{}",
        text(&output.stdout)
    );
    let check = doctor_state_check(&exporting);
    assert_eq!(check["status"], "failed", "{check}");
    assert!(
        check["fix"]
            .as_str()
            .unwrap()
            .starts_with(&format!("move {} aside", ledger.display())),
        "{check}"
    );
    let output = exporting.hc(&["remove", good]);
    assert_exit(&output, 1);
    assert!(
        text(&output.stderr).starts_with(&refused),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(podman_containers(&exporting, good), Vec::<String>::new());
    std::fs::remove_file(&ledger).unwrap();
    assert_exit(&exporting.hc(&["remove", broken]), 0);
    assert_eq!(doctor_state_check(&exporting)["status"], "passed");
}
