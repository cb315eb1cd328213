//! The test bed itself: a run killed with SIGKILL takes its services down with it (the kernel's
//! parent-death signal), and the next run removes what it left — its containers and their conmon
//! processes, and its directory — so nothing breaks the next run.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use horizon_e2e::bins::cargo_bin;
use horizon_e2e::process::pid_alive;

/// Pids of live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_run_leaves_nothing_that_breaks_the_next() {
    let base = tempfile::Builder::new()
        .prefix("hzk-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        base.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let testbed = cargo_bin("horizon-e2e", "horizon-testbed");

    // A bed with a running container in it, then SIGKILL before it can tear anything down.
    let script = "set -e; podman run -d --name victim \"$HORIZON_TEST_BUSYBOX\" sleep 1000 >/dev/null; \
                  podman inspect --format '{{.State.Pid}}' victim; echo ready; sleep 1000";
    let mut killed = Command::new(&testbed)
        .args(["run", "--", "sh", "-c", script])
        .env("HORIZON_TESTBED_DIR", base.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(killed.stdout.take().unwrap()).lines();
    let container_pid: u32 = lines.next().unwrap().unwrap().trim().parse().unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let run_dir = base.path().join(format!("run-{}", killed.id()));
    let run_dir_text = run_dir.display().to_string();
    assert!(run_dir.is_dir());
    assert!(pid_alive(container_pid));
    killed.kill().unwrap();
    killed.wait().unwrap();

    // The services died with it; the container and its conmon outlive it (Podman detaches them).
    wait_until("the killed run's services are gone", || {
        processes_mentioning(&format!("{run_dir_text}/rootful/podman.sock")).is_empty()
            && processes_mentioning(&format!("{run_dir_text}/registry")).is_empty()
    });
    assert!(
        pid_alive(container_pid),
        "the container survives its killed test run"
    );

    // The next run sweeps it: container stopped, conmon gone, directory removed.
    let next = Command::new(&testbed)
        .args(["run", "--", "true"])
        .env("HORIZON_TESTBED_DIR", base.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert_eq!(next.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "testbed: removing {run_dir_text} left by a run that did not finish"
        )),
        "{stderr}"
    );
    assert!(!Path::new(&run_dir).exists());
    assert!(
        !pid_alive(container_pid),
        "the killed run's container was stopped"
    );
    assert_eq!(processes_mentioning(&run_dir_text), Vec::<u32>::new());
    // And the next run cleaned up after itself too.
    let left: Vec<_> = std::fs::read_dir(base.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
