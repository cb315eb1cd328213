//! `horizon-container logs` end to end: what the container's main process printed (written here
//! to PID 1's stdout and stderr, which are the container's output streams), stdout and stderr
//! apart, `--tail`, `--follow` until the container stops, and a container that is not installed.

use std::process::Stdio;
use std::time::Duration;

use horizon_core::engine::Engine;

use crate::run::{Installed, lines_of, outcome, wait_limited};

/// How long a test waits for a followed line.
const PATIENCE: Duration = Duration::from_secs(30);

/// Makes the container's main process print `stdout_lines` and `stderr_lines` (through its own
/// file descriptors, so they land in the container's log).
fn print_from_main(installed: &Installed, stdout_lines: &str, stderr_lines: &str) {
    let output = installed.run([
        "sh",
        "-c",
        "printf %s \"$1\" > /proc/1/fd/1; printf %s \"$2\" > /proc/1/fd/2",
        "print",
        stdout_lines,
        stderr_lines,
    ]);
    assert_eq!(outcome(&output), (Some(0), "".into(), "".into()));
}

#[tokio::test]
async fn logs_show_the_main_process_output_with_streams_apart() {
    let installed = Installed::new("logs-show").await;
    print_from_main(&installed, "out one\nout two\n", "err one\n");

    let logs = |args: &[&str]| {
        installed
            .session
            .horizon_container()
            .arg("logs")
            .arg(&installed.name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    assert_eq!(
        outcome(&logs(&[])),
        (Some(0), "out one\nout two\n".into(), "err one\n".into())
    );
    // The last line of the log is "out two" or "err one", whichever Podman wrote last; each
    // stays on its own stream.
    let (status, stdout, stderr) = outcome(&logs(&["--tail", "1"]));
    assert_eq!(status, Some(0));
    assert!(
        (stdout.as_str(), stderr.as_str()) == ("out two\n", "")
            || (stdout.as_str(), stderr.as_str()) == ("", "err one\n"),
        "{stdout:?} {stderr:?}"
    );

    // Following: new output appears as it is printed; the stream ends when the container stops.
    let mut follow = installed
        .session
        .horizon_container()
        .args(["logs", "-f", "--tail", "0", &installed.name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut follow);
    // Give the follower time to attach before printing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    print_from_main(&installed, "followed\n", "");
    assert_eq!(lines.recv_timeout(PATIENCE).unwrap(), "followed");
    installed
        .engine()
        .stop_container(&installed.container(), Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(wait_limited(&mut follow).code(), Some(0));
}

#[tokio::test]
async fn logs_of_what_is_not_installed_say_how_to_install() {
    let bed = horizon_e2e::TestBed::shared();
    let session = bed.user_session("logs-absent");
    let output = session
        .horizon_container()
        .args(["logs", "logs-absent"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (
            Some(1),
            String::new(),
            "horizon-container: error: logs-absent is not installed\n\
             hint: install it: `horizon-container install logs-absent`\n"
                .into()
        )
    );
}
