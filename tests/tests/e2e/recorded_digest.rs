//! The digest an install records is the registry's digest of the reference its definition names,
//! even when the image is already in local storage under another name pulled from another
//! manifest (Podman then keeps one image known by both digests, and its own "digest" is the first
//! one): `update --check` right after the install says up to date, and `update` (of one, or
//! `--all`) builds nothing. A user session with busybox containers.

use std::process::Command;

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::{Value, json};

use crate::{assert_exit, text, unique_name};

/// The registry's manifest digest of `reference`, as skopeo reports it.
fn registry_digest(reference: &str) -> String {
    let output = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let inspected: Value = serde_json::from_slice(&output.stdout).unwrap();
    inspected["Digest"].as_str().unwrap().to_owned()
}

/// Copies `from` (an OCI image, as `podman push` writes what `podman import` made) to `to` in the
/// registry as a Docker schema 2 manifest: the same image (config and layers), under another name,
/// with another manifest digest.
fn copy_as_docker_schema2(from: &str, to: &str) {
    let output = Command::new("skopeo")
        .args([
            "copy",
            "--quiet",
            "--format",
            "v2s2",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!("docker://{from}"))
        .arg(format!("docker://{to}"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn record(session: &Session, name: &str) -> Value {
    let path = session.state_dir.join(format!("containers/{name}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The generation labels of `name`'s generation images, sorted.
fn generation_images(session: &Session, name: &str) -> Vec<String> {
    let output = session
        .service
        .storage
        .podman()
        .args([
            "images",
            "--filter",
            &format!("label=io.horizonos.definition={name}"),
            "--format",
            "{{index .Labels \"io.horizonos.generation\"}}",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mut generations: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    generations.sort();
    generations
}

#[test]
fn an_image_already_stored_under_another_name_records_the_digest_of_the_reference_pulled() {
    let bed = TestBed::shared();
    let session = bed.user_session("recorded-digest");
    let first = unique_name("dig-first");
    let second = unique_name("dig-second");
    let again = unique_name("dig-again");
    let first_image = bed.push_busybox_variant(&first, "latest", &[("/etc/dig", b"same\n")]);
    let second_image = bed.image_reference(&second, "latest");
    copy_as_docker_schema2(&first_image, &second_image);
    let first_digest = registry_digest(&first_image);
    let second_digest = registry_digest(&second_image);
    assert_ne!(first_digest, second_digest, "two manifests of one image");

    // The first install stores the image; the next two find it there under the first name.
    let containers = [
        (&first, &first_image, &first_digest),
        (&second, &second_image, &second_digest),
        (&again, &second_image, &second_digest),
    ];
    for (name, image, _) in containers {
        let definition = json!({"name": name, "image": image, "persistent": true});
        session.write_user_definition(name, &definition.to_string());
        assert_exit(&session.horizon(&["install", name]), 0);
    }
    assert_eq!(
        record(&session, &first)["image_id"],
        record(&session, &second)["image_id"],
        "one image in local storage"
    );
    for (name, image, digest) in containers {
        let installed = record(&session, name);
        assert_eq!(
            (
                installed["image"].as_str(),
                installed["image_digest"].as_str()
            ),
            (Some(image.as_str()), Some(digest.as_str())),
            "{name}"
        );
    }

    // --check of each: up to date, with the registry's digest.
    for (name, _, digest) in containers {
        let output = session.horizon(&["update", "--check", name]);
        assert_exit(&output, 0);
        assert_eq!(
            text(&output.stdout),
            format!("{name}: up to date (generation 1, {})\n", &digest[7..19])
        );
    }
    let output = session.horizon(&["update", "--check", "--json"]);
    assert_exit(&output, 0);
    let checked: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(checked["updates_available"], false, "{checked}");
    for (name, _, digest) in containers {
        let entry = checked["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["name"] == json!(name))
            .unwrap_or_else(|| panic!("{name} missing: {checked}"));
        assert_eq!(
            (
                &entry["installed_digest"],
                &entry["available_digest"],
                &entry["image_update"],
                &entry["error"]
            ),
            (&json!(digest), &json!(digest), &json!(false), &Value::Null),
            "{name}"
        );
    }

    // update of one, then of all: nothing to build.
    let output = session.horizon(&["update", &second]);
    assert_exit(&output, 0);
    assert_eq!(
        text(&output.stdout),
        format!(
            "{second} is up to date (generation 1, image {})\n",
            &second_digest[7..19]
        )
    );
    let output = session.horizon(&["update", "--all", "--json"]);
    assert_exit(&output, 0);
    let updated: Value = serde_json::from_slice(&output.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = updated["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["name"].as_str().unwrap(),
                entry["outcome"].as_str().unwrap_or("none"),
            )
        })
        .collect();
    let mut expected: Vec<(&str, &str)> = containers
        .iter()
        .map(|(name, _, _)| (name.as_str(), "up-to-date"))
        .collect();
    expected.sort();
    assert_eq!(outcomes, expected, "{updated}");
    for (name, _, digest) in containers {
        assert_eq!(generation_images(&session, name), ["1"], "{name}");
        assert_eq!(record(&session, name)["generation"], 1);
        assert_eq!(record(&session, name)["image_digest"], json!(digest));
    }
    for (name, _, _) in containers {
        assert_exit(&session.horizon(&["remove", name]), 0);
    }
}
