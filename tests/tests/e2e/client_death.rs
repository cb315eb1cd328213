//! A client that dies takes its command with it: `horizon-container run` (and an exported wrapper
//! on the API path) killed with SIGKILL — by `kill -9`, by `timeout -s KILL` — must not leave the
//! command, nor the children in its process group, running in the container. Held on both exec
//! paths: a container made with the agent (its `run` on the API path, and with
//! `HORIZON_EXEC_PATH=api`) and one made without it, with stdin closed and with stdin an open pipe.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use horizon_e2e::TestBed;

use crate::run::{Installed, lines_of, outcome, wait_limited};
use crate::{assert_exit, text};

/// How long the killed command's processes may outlive their client.
const GONE_WITHIN: Duration = Duration::from_secs(10);
/// How long a test waits for the command to say it is running.
const PATIENCE: Duration = Duration::from_secs(30);

/// Installs `name` (busybox, the home mounted) as the test user without the in-container agent.
fn install_without_agent(name: &str) -> Installed {
    let bed = TestBed::shared();
    let session = bed.user_session(name);
    let definition = serde_json::json!({
        "name": name,
        "image": bed.busybox_image(),
        "persistent": true,
        "mounts": [session.home.display().to_string()],
    });
    session.write_user_definition(name, &definition.to_string());
    let install = session
        .horizon_container()
        .env_remove("HORIZON_AGENT")
        .args(["install", name])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_exit(&install, 0);
    Installed {
        session,
        name: name.to_owned(),
    }
}

/// The command lines of every process in the container but the probe's own.
fn processes(installed: &Installed) -> String {
    let output = installed.run(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
    let (status, stdout, stderr) = outcome(&output);
    assert_eq!((status, stderr.as_str()), (Some(0), ""), "{stdout}");
    stdout
}

/// Waits until no process in the container mentions any of `markers`; panics with what is left.
fn assert_gone(installed: &Installed, markers: &[String], case: &str) {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let left = processes(installed);
        if markers.iter().all(|marker| !left.contains(marker.as_str())) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{case}: still running {GONE_WITHIN:?} after the client died: {left}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A command that starts a background child, says `ready` and sleeps in the foreground; the two
/// sleeps' distinct durations are the markers to look for afterwards.
fn sleepers(base: u32) -> (Vec<String>, Vec<String>) {
    let (background, foreground) = (format!("sleep {base}"), format!("sleep {}", base + 1));
    let script = format!("{background} & echo ready; {foreground}");
    (
        vec!["sh".into(), "-c".into(), script],
        vec![background, foreground],
    )
}

/// Starts `command` (a `run` or wrapper client), waits for `ready`, kills it with SIGKILL and
/// checks that the command and its child are gone from the container.
fn kill_and_check(installed: &Installed, mut command: Command, markers: &[String], case: &str) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = lines_of(&mut child);
    assert_eq!(
        lines.recv_timeout(PATIENCE).unwrap(),
        "ready",
        "{case}: the command did not start"
    );
    assert!(
        processes(installed).contains(markers[1].as_str()),
        "{case}: the command is not running"
    );
    horizon_e2e::process::signal(child.id(), libc::SIGKILL);
    let status = wait_limited(&mut child);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "{case}"
    );
    assert_gone(installed, markers, case);
}

#[tokio::test]
async fn sigkill_of_run_leaves_no_command_behind_with_or_without_the_agent() {
    let with_agent = Installed::new("death-agent").await;
    let without_agent = install_without_agent("death-noagent");
    let mut base = 3000;
    for (installed, path) in [
        (&with_agent, None),
        (&with_agent, Some("api")),
        (&without_agent, None),
    ] {
        for stdin_open in [false, true] {
            base += 10;
            let case = format!("{} path={path:?} stdin_open={stdin_open}", installed.name);
            let (argv, markers) = sleepers(base);
            let mut command = installed.run_command(&argv);
            if let Some(path) = path {
                command.env("HORIZON_EXEC_PATH", path);
            }
            command.stdin(if stdin_open {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            kill_and_check(installed, command, &markers, &case);
        }
    }
}

#[tokio::test]
async fn an_exported_wrapper_killed_on_the_api_path_leaves_no_command_behind() {
    let installed = install_without_agent("death-wrapper");
    let export = installed
        .session
        .horizon_container()
        .args([
            "export",
            "sh",
            "--from",
            &installed.name,
            "--as",
            "death-sh",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_exit(&export, 0);
    let (argv, markers) = sleepers(4000);
    let mut command = installed
        .session
        .command(installed.session.export_dir.join("death-sh"));
    command.args(&argv[1..]).stdin(Stdio::null());
    kill_and_check(&installed, command, &markers, "wrapper");
}

#[tokio::test]
async fn timeout_s_kill_ends_run_and_its_command() {
    let installed = install_without_agent("death-timeout");
    let started = Instant::now();
    let output = installed
        .session
        .command("timeout")
        .args(["-s", "KILL", "3"])
        .arg(horizon_e2e::bins::cargo_bin(
            "horizon-cli",
            "horizon-container",
        ))
        .args(["run", &installed.name, "sleep", "5003"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // GNU timeout sends the signal to its own process group too, so SIGKILL ends it as well.
    assert_eq!(
        (
            std::os::unix::process::ExitStatusExt::signal(&output.status),
            text(&output.stdout),
            text(&output.stderr)
        ),
        (Some(libc::SIGKILL), String::new(), String::new())
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_gone(&installed, &["sleep 5003".to_owned()], "timeout -s KILL");
}
