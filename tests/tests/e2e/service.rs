//! Reaching the Podman service, end to end through `horizon-container`: a service that stops →
//! exit 3 naming what was tried and the fix; no service for a user whose `podman` is installed →
//! horizon starts one and says so; no service and no `podman` → exit 3 with the paths and the fix;
//! and `HORIZON_DEBUG=1` tracing every API call.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;
use horizon_e2e::podman::{PodmanService, Storage};
use horizon_e2e::process::{pid_alive, terminate_pid};

use crate::{assert_exit, text};

/// The hint every "no service" failure ends with (horizon-cli's `NO_SERVICE_HINT`).
const NO_SERVICE_HINT: &str = "hint: start the service: `systemctl --user enable --now podman.socket` (rootless), \
     `systemctl enable --now podman.socket` (root), or `podman system service --time=0 &`\n";

fn horizon_container() -> Command {
    let mut command = Command::new(cargo_bin("horizon-cli", "horizon-container"));
    command
        .env_remove("CONTAINER_HOST")
        .env_remove("HORIZON_DEBUG")
        .env_remove("RUST_LOG");
    command
}

#[test]
fn a_service_that_stops_makes_info_exit_3_with_the_endpoint_tried_and_the_fix() {
    let bed = TestBed::shared();
    // A private service: the shared ones are never stopped.
    let dir = bed.dir.join("ps");
    let storage = Storage::create(
        &dir,
        None,
        &bed.dir.join("containers-rootful.conf"),
        &bed.dir.join("registries.conf"),
    )
    .unwrap();
    let service = PodmanService::start(
        "private podman service",
        storage,
        dir.join("podman.sock"),
        &dir.join("service.log"),
    )
    .unwrap();
    let url = service.url();

    let running = horizon_container()
        .args(["info", "--url", &url])
        .output()
        .unwrap();
    assert_exit(&running, 0);
    assert!(
        text(&running.stdout).starts_with(&format!("endpoint: {url}\npodman:   4.3.1 ")),
        "{}",
        text(&running.stdout)
    );

    service.stop();
    let stopped = horizon_container()
        .args(["info", "--url", &url])
        .output()
        .unwrap();
    assert_exit(&stopped, 3);
    assert_eq!(text(&stopped.stdout), "");
    let stderr = text(&stopped.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert_eq!(
        lines[0],
        "horizon-container: error: no Podman service answered; tried:"
    );
    let attempt = format!("  {url} (--url): cannot reach the Podman service at {url}: ");
    assert!(lines[1].starts_with(&attempt), "{stderr}");
    // The socket is gone with the service, or refuses: either way the reason is the OS's.
    assert!(
        lines[1].ends_with("No such file or directory (os error 2)")
            || lines[1].ends_with("Connection refused (os error 111)"),
        "{stderr}"
    );
    // An explicit endpoint is never replaced by a service horizon starts.
    assert!(stderr.ends_with(NO_SERVICE_HINT), "{stderr}");
}

/// A runtime directory of the test user's own (short: Podman's runroot lives below it and may not
/// exceed 50 bytes), empty and private, as a login session's would be.
fn private_runtime_dir(bed: &TestBed, name: &str, uid: u32, gid: u32) -> PathBuf {
    let dir = bed.dir.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Stops, by pid, the service horizon started and Podman's rootless pause process, even when an
/// assertion fails.
struct StartedServiceGuard {
    service_pid: Option<u32>,
    runtime_dir: PathBuf,
}

impl Drop for StartedServiceGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.service_pid {
            stop_process_group(pid);
        }
        // Podman 4.3 keeps the pause process's pid in its tmpdir, below the runtime directory.
        let pause = std::fs::read_to_string(self.runtime_dir.join("libpod/tmp/pause.pid"))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok());
        if let Some(pid) = pause {
            terminate_pid(pid);
        }
    }
}

/// How long the started service gets to stop after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// `kill -SIGNAL -- -GROUP`; true when the group had a process to signal.
fn signal_group(group: u32, signal: &str) -> bool {
    Command::new("kill")
        .args([signal, "--", &format!("-{group}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// True while a process of the group lives.
fn group_alive(group: u32) -> bool {
    signal_group(group, "-0")
}

/// Stops the process group the started service leads: rootless Podman re-executes itself inside
/// the user namespace as a child in the same group, which must go too.
fn stop_process_group(group: u32) {
    signal_group(group, "-TERM");
    let deadline = Instant::now() + STOP_GRACE;
    while group_alive(group) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if group_alive(group) {
        signal_group(group, "-KILL");
    }
}

#[test]
fn without_a_socket_horizon_starts_the_users_service_and_says_so() {
    let bed = TestBed::shared();
    let session = bed.user_session("service-autostart");
    let account = session.account.clone().unwrap();
    let runtime_dir = private_runtime_dir(bed, "as", account.uid, account.gid);
    let mut guard = StartedServiceGuard {
        service_pid: None,
        runtime_dir: runtime_dir.clone(),
    };
    let info = |json: bool| {
        let mut command = session.horizon_container();
        command
            .env_remove("CONTAINER_HOST")
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("CONTAINERS_CONF", bed.dir.join("containers.conf"))
            .arg("info");
        if json {
            command.arg("--json");
        }
        command.output().unwrap()
    };

    let first = info(true);
    let socket = runtime_dir.join("podman/podman.sock");
    // horizon's runtime directory: the session's (HORIZON_RUNTIME_DIR), where the agents' sockets
    // are too.
    let log = session.runtime_dir.join("podman-service.log");
    let stderr = text(&first.stderr);
    // Record the pid before asserting, so the guard stops the service whatever happens.
    let pid: Option<u32> = stderr
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse().ok());
    guard.service_pid = pid;
    assert_exit(&first, 0);
    let pid = pid.unwrap_or_else(|| panic!("no pid in {stderr}"));
    assert_eq!(
        stderr,
        format!(
            "horizon-container: started the Podman service on unix://{} (pid {pid}, log {}); it \
             exits after 300 s without requests. To keep one running: systemctl --user enable \
             --now podman.socket\n",
            socket.display(),
            log.display()
        )
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["endpoint"], format!("unix://{}", socket.display()));
    assert_eq!(report["podman"]["version"], "4.3.1");

    // The service is the one announced: podman, as the user, detached, on that socket.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv: Vec<String> = cmdline
        .split(|&byte| byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    assert_eq!(
        argv[1..],
        [
            "system".to_owned(),
            "service".to_owned(),
            "--time=300".to_owned(),
            format!("unix://{}", socket.display())
        ]
    );
    assert!(argv[0].ends_with("/podman"), "{argv:?}");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1),
        Some(account.uid.to_string().as_str())
    );
    assert!(log.is_file(), "{} missing", log.display());

    // The next command finds it running: nothing started, nothing said.
    let second = info(false);
    assert_exit(&second, 0);
    assert_eq!(text(&second.stderr), "");
    assert!(
        text(&second.stdout).starts_with(&format!("endpoint: unix://{}\n", socket.display())),
        "{}",
        text(&second.stdout)
    );
    assert!(pid_alive(pid));

    drop(guard);
    assert!(
        !pid_alive(pid),
        "the started service {pid} is still running"
    );
}

#[test]
fn no_socket_and_no_podman_exits_3_listing_the_paths_tried_and_how_to_install() {
    let bed = TestBed::shared();
    let session = bed.user_session("service-no-podman");
    let account = session.account.clone().unwrap();
    let runtime_dir = private_runtime_dir(bed, "np", account.uid, account.gid);
    // A PATH without podman: only the (empty) export directory.
    let path = session.export_dir.display().to_string();
    let output = session
        .horizon_container()
        .env_remove("CONTAINER_HOST")
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("PATH", &path)
        .arg("info")
        .output()
        .unwrap();
    assert_exit(&output, 3);
    assert_eq!(text(&output.stdout), "");
    let stderr = text(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let rootless = format!(
        "unix://{}",
        runtime_dir.join("podman/podman.sock").display()
    );
    let rootful = "unix:///run/podman/podman.sock";
    assert_eq!(lines.len(), 5, "{stderr}");
    assert_eq!(
        lines[0],
        "horizon-container: error: no Podman service answered; tried:"
    );
    assert!(
        lines[1].starts_with(&format!(
            "  {rootless} (rootless socket): cannot reach the Podman service at {rootless}: "
        )),
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(&format!(
            "  {rootful} (rootful socket): cannot reach the Podman service at {rootful}: "
        )),
        "{stderr}"
    );
    assert_eq!(
        lines[3],
        format!("and could not start one: Podman is not installed: no `podman` in PATH ({path})")
    );
    assert_eq!(
        lines[4],
        "hint: install Podman (`sudo apt-get install podman` on Debian, `sudo dnf install podman` \
         on Fedora), then run the command again"
    );
    // Nothing was created: no lock, no log, no socket directory.
    assert_eq!(std::fs::read_dir(&runtime_dir).unwrap().count(), 0);
}

/// The API-call lines of a `HORIZON_DEBUG=1` stderr: (method, path, status, operation).
fn api_calls(stderr: &str) -> Vec<(String, String, String, String)> {
    // `name=value`, or `name="value with spaces"` (tracing quotes string fields).
    let field = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!(" {name}="))? + name.len() + 2;
        let rest = &line[start..];
        let value = match rest.strip_prefix('"') {
            Some(quoted) => quoted.split('"').next()?,
            None => rest.split(' ').next()?,
        };
        Some(value.to_owned())
    };
    stderr
        .lines()
        .filter(|line| line.contains("podman api call"))
        .map(|line| {
            let duration: f64 = field(line, "duration_ms")
                .and_then(|ms| ms.parse().ok())
                .unwrap_or_else(|| panic!("no duration in {line}"));
            assert!(duration >= 0.0, "{line}");
            (
                field(line, "method").unwrap_or_default(),
                field(line, "path").unwrap_or_default(),
                field(line, "status").unwrap_or_default(),
                field(line, "operation").unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn horizon_debug_traces_every_api_call_with_method_path_status_and_duration() {
    let bed = TestBed::shared();
    let output = horizon_container()
        .args(["info", "--url", &bed.rootful.url()])
        .env("HORIZON_DEBUG", "1")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let stderr = text(&output.stderr);
    let call = |method: &str, path: &str, operation: &str| {
        (
            method.to_owned(),
            path.to_owned(),
            "200".to_owned(),
            operation.to_owned(),
        )
    };
    assert_eq!(
        api_calls(&stderr),
        [
            call("GET", "/v4.0.0/libpod/_ping", "ping"),
            call("GET", "/v4.0.0/libpod/version", "version"),
            call("GET", "/v4.3.1/libpod/containers/json", "list containers"),
        ],
        "{stderr}"
    );
    // No colours when stderr is not a terminal, and no HTTP-library chatter.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(
        stderr
            .lines()
            .all(|line| line.contains("horizon_core") || line.contains("horizon_container")),
        "{stderr}"
    );

    // Without HORIZON_DEBUG: silence.
    let quiet = horizon_container()
        .args(["info", "--url", &bed.rootful.url()])
        .output()
        .unwrap();
    assert_exit(&quiet, 0);
    assert_eq!(text(&quiet.stderr), "");
}

#[test]
fn horizon_debug_traces_a_failed_connection_too() {
    let output = horizon_container()
        .args(["info", "--url", "unix:///nonexistent/podman.sock"])
        .env("HORIZON_DEBUG", "1")
        .output()
        .unwrap();
    assert_exit(&output, 3);
    assert_eq!(
        api_calls(&text(&output.stderr)),
        [(
            "GET".to_owned(),
            "/v4.0.0/libpod/_ping".to_owned(),
            "unreachable".to_owned(),
            "ping".to_owned()
        )]
    );
}

#[test]
fn two_commands_at_once_start_one_service() {
    let bed = TestBed::shared();
    let session = bed.user_session("service-concurrent");
    let account = session.account.clone().unwrap();
    let runtime_dir = private_runtime_dir(bed, "cc", account.uid, account.gid);
    let mut guard = StartedServiceGuard {
        service_pid: None,
        runtime_dir: runtime_dir.clone(),
    };
    let spawn = || {
        session
            .horizon_container()
            .env_remove("CONTAINER_HOST")
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("CONTAINERS_CONF", bed.dir.join("containers.conf"))
            .arg("info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let notices: Vec<String> = outputs
        .iter()
        .map(|output| text(&output.stderr))
        .filter(|stderr| !stderr.is_empty())
        .collect();
    guard.service_pid = notices.first().and_then(|notice| {
        notice
            .split("(pid ")
            .nth(1)?
            .split(',')
            .next()?
            .parse()
            .ok()
    });
    for output in &outputs {
        assert_exit(output, 0);
    }
    // One of them started the service (and said so); the other waited for it and used it.
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("horizon-container: started the Podman service on "),
        "{notices:?}"
    );
    assert!(guard.service_pid.is_some_and(pid_alive));
}
