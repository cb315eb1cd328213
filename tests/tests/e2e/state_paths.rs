//! horizon's directories given as relative paths (`HORIZON_EXPORT_DIR=relbin`, the state and
//! runtime directories alike) are taken relative to where the command runs and stored absolute:
//! what an export recorded is found again from any other directory, and `export --repair` there
//! writes where the ledger says, never into the current directory. A user session with a busybox
//! container.

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::export::Exporting;
use crate::{assert_exit, text};

/// `horizon-container ARGS` in `dir` with `variable=value`.
fn hc_in(exporting: &Exporting, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = exporting.session.horizon_container();
    command
        .current_dir(dir)
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null());
    command.output().unwrap()
}

fn make_dir(exporting: &Exporting, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    if let Some(account) = &exporting.session.account {
        std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid)).unwrap();
    }
}

#[test]
fn relative_directories_are_taken_from_where_the_command_runs_and_stored_absolute() {
    let name = "rel-dirs";
    let exporting = Exporting::new("relative_dirs", &[(name, &[])]);
    let home = &exporting.session.home;
    let (here, elsewhere) = (home.join("here"), home.join("elsewhere"));
    make_dir(&exporting, &here);
    make_dir(&exporting, &elsewhere);
    let relative = [("HORIZON_EXPORT_DIR", "relbin")];
    let wrapper = here.join("relbin/sha3sum");

    let exported = hc_in(
        &exporting,
        &here,
        &relative,
        &["export", "sha3sum", "--from", name],
    );
    assert_exit(&exported, 0);
    assert!(wrapper.is_file(), "{}", text(&exported.stdout));
    assert!(
        text(&exported.stdout).contains(&wrapper.display().to_string()),
        "{}",
        text(&exported.stdout)
    );
    let ledger: Value = serde_json::from_slice(
        &std::fs::read(exporting.session.state_dir.join("exports.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(ledger["exports"][0]["path"], wrapper.display().to_string());

    // From elsewhere, with the same relative setting, the export is where it was made.
    let listed = hc_in(&exporting, &elsewhere, &[], &["exports", "--json"]);
    assert_exit(&listed, 0);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["exports"][0]["state"], "ok", "{listed}");
    assert_eq!(listed["exports"][0]["path"], wrapper.display().to_string());
    std::fs::remove_file(&wrapper).unwrap();
    let repaired = hc_in(&exporting, &elsewhere, &relative, &["export", "--repair"]);
    assert_exit(&repaired, 0);
    assert_eq!(
        text(&repaired.stdout),
        format!("sha3sum ({}): recreated\n", wrapper.display())
    );
    assert!(wrapper.is_file());
    assert!(!elsewhere.join("relbin").exists());

    // Relative state and runtime directories: a container installed with them is found, and its
    // agent reached, from elsewhere through the same directories given absolute (the runtime
    // directory is bind-mounted into the container, the record's path is stored).
    let second = "rel-dirs-state";
    let definition = serde_json::json!({
        "name": second, "image": horizon_e2e::TestBed::shared().busybox_image(),
    });
    exporting
        .session
        .write_user_definition(second, &definition.to_string());
    let relative_state = [
        ("HORIZON_STATE_DIR", "relstate"),
        ("HORIZON_RUNTIME_DIR", "relrun"),
    ];
    assert_exit(
        &hc_in(&exporting, &here, &relative_state, &["install", second]),
        0,
    );
    let (state_dir, runtime_dir) = (here.join("relstate"), here.join("relrun"));
    assert!(
        state_dir
            .join(format!("containers/{second}.json"))
            .is_file()
    );
    let absolute_state = [
        ("HORIZON_STATE_DIR", state_dir.to_str().unwrap()),
        ("HORIZON_RUNTIME_DIR", runtime_dir.to_str().unwrap()),
    ];
    let ran = hc_in(
        &exporting,
        &elsewhere,
        &absolute_state,
        &["run", second, "pwd"],
    );
    assert_exit(&ran, 0);
    let status = hc_in(
        &exporting,
        &elsewhere,
        &absolute_state,
        &["status", second, "--json"],
    );
    assert_exit(&status, 0);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["record"]["name"], second, "{status}");
    assert_exit(
        &hc_in(&exporting, &elsewhere, &absolute_state, &["remove", second]),
        0,
    );

    // Unexported from elsewhere, naming the export directory it is in (horizon removes wrappers
    // only from the export directory in use).
    let export_dir = here.join("relbin");
    let in_export_dir = [("HORIZON_EXPORT_DIR", export_dir.to_str().unwrap())];
    let unexported = hc_in(
        &exporting,
        &elsewhere,
        &in_export_dir,
        &["unexport", "sha3sum"],
    );
    assert_exit(&unexported, 0);
    assert!(!wrapper.exists(), "{}", text(&unexported.stdout));
}
