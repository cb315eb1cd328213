//! `horizon-container run` end to end, as the unprivileged test user against its rootless Podman
//! service: argv fidelity (spaces, quotes, `$(…)`, `*`, newlines, the empty string, leading `-`,
//! non-UTF-8 bytes, a 100 KiB argument), exit statuses (0/1/7/126/127, 125 for horizon's own
//! failures), stdin in and binary stdout out byte-exact with stderr apart, the environment
//! allowlist (the container's configured variables winning, as installed, not as a definition
//! file changed since says), the working directory (shared or not), Ctrl-C reaching the command, a closed stdout,
//! a stopped container started first, and a container that is not installed.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use horizon_core::engine::{Engine, PodmanEngine};
use horizon_core::naming;
use horizon_e2e::TestBed;
use horizon_e2e::session::Session;

/// How long a test waits for output it expects from a running command.
const PATIENCE: Duration = Duration::from_secs(30);

/// A session of the test user with an installed (running) container of definition `name`.
pub struct Installed {
    pub session: Session,
    pub name: String,
}

impl Installed {
    /// Writes definition `name` (busybox, the session's home mounted, a test environment) and
    /// installs it with `horizon-container install`, as the session's user.
    pub async fn new(name: &str) -> Installed {
        let bed = TestBed::shared();
        let session = bed.user_session(name);
        let definition = serde_json::json!({
            "name": name,
            "image": bed.busybox_image(),
            "persistent": true,
            "mounts": [session.home.display().to_string()],
            "environment": {
                "HORIZON_RUN_TEST": "from-definition",
                "LC_TIME": "from-definition",
                "PS1": "hz-prompt$ ",
            },
        });
        session.write_user_definition(name, &definition.to_string());
        let install = session
            .horizon_container()
            .args(["install", name])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            install.status.code(),
            Some(0),
            "install {name}: {install:?}"
        );
        Installed {
            session,
            name: name.to_owned(),
        }
    }

    /// The engine of this session's service.
    pub fn engine(&self) -> PodmanEngine {
        PodmanEngine::new(&self.session.service.endpoint())
    }

    /// `horizonos-NAME`.
    pub fn container(&self) -> String {
        naming::container_name(&self.name)
    }

    /// `horizon-container run NAME ARGS...` as the test user, in its home, on the path `run`
    /// chooses.
    pub fn run_command<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.view(None).run_command(args)
    }

    /// Runs it with no stdin and returns its output.
    pub fn run<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Output {
        self.view(None).run(args)
    }

    /// This container, with `run` on `path` when one is given.
    fn view(&self, path: Option<&'static str>) -> Via<'_> {
        Via {
            session: &self.session,
            name: &self.name,
            path,
        }
    }
}

/// The two ways into a container, each forced with `HORIZON_EXEC_PATH` (no fallback from one to
/// the other): the transparency tests run on both.
pub const EXEC_PATHS: [&str; 2] = ["agent", "api"];

/// An installed container seen through one exec path (`None`: the one `run` chooses).
pub struct Via<'a> {
    pub session: &'a Session,
    pub name: &'a str,
    pub path: Option<&'static str>,
}

impl Installed {
    /// This container with `run` forced onto `path` (one of [`EXEC_PATHS`]).
    pub fn via(&self, path: &'static str) -> Via<'_> {
        // Shown with a failing test's output: which path failed.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("exec path: {path}");
        }
        self.view(Some(path))
    }
}

impl Via<'_> {
    /// `horizon-container run NAME ARGS...` on this path.
    pub fn run_command<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut command = self.session.horizon_container();
        if let Some(path) = self.path {
            command.env("HORIZON_EXEC_PATH", path);
        }
        command.arg("run").arg(self.name).args(args);
        command
    }

    /// Runs it with no stdin and returns its output.
    pub fn run<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Output {
        self.run_command(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `horizonos-NAME`.
    pub fn container(&self) -> String {
        naming::container_name(self.name)
    }
}

/// Exit status, stdout and stderr, for one assertion on the whole outcome.
pub fn outcome(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Lines of a child's stdout, delivered as they come (so a test can wait for one with a limit).
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for a child with a limit, killing it if it overstays.
pub fn wait_limited(child: &mut Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{child:?} did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The arguments that break naive command building, each of which must arrive as it is.
fn tricky_arguments() -> Vec<OsString> {
    vec![
        "two words".into(),
        "'single' \"double\" `back`".into(),
        "$(echo injected) ${HOME} $HOME".into(),
        "*".into(),
        "line one\nline two\n".into(),
        "".into(),
        "-n".into(),
        "--".into(),
        "--json".into(),
        "tab\there; semi & amp | pipe > out".into(),
        "é 日本 🦀".into(),
        "a".repeat(100 * 1024).into(),
    ]
}

/// `printf '%s\0' ARGS...` prints each argument followed by a NUL: the expected output.
fn nul_terminated(arguments: &[OsString]) -> Vec<u8> {
    let mut expected = Vec::new();
    for argument in arguments {
        expected.extend_from_slice(argument.as_bytes());
        expected.push(0);
    }
    expected
}

fn printf_argv(arguments: &[OsString]) -> Vec<OsString> {
    let mut argv: Vec<OsString> = vec!["printf".into(), "%s\\0".into()];
    argv.extend(arguments.iter().cloned());
    argv
}

#[tokio::test]
async fn run_passes_every_argument_exactly() {
    let installed = Installed::new("run-argv").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);

        let utf8 = tricky_arguments();
        let output = installed.run(printf_argv(&utf8));
        assert_eq!(
            (output.status.code(), output.stderr.as_slice()),
            (Some(0), &b""[..])
        );
        assert!(
            output.stdout == nul_terminated(&utf8),
            "UTF-8 arguments changed on the way: {:?}",
            String::from_utf8_lossy(&output.stdout)
        );

        // Non-UTF-8 bytes (and every other byte value but NUL) among the same arguments, and `--`
        // before the command: the argv goes through the decoder and still arrives byte for byte.
        let mut mixed = tricky_arguments();
        mixed.push(OsString::from_vec(vec![
            0xff, 0xfe, b'%', b'\\', b'-', 0x80,
        ]));
        mixed.push(OsString::from_vec((1..=255).collect()));
        mixed.push(OsString::from_vec(b"\xc3(\n\n".to_vec()));
        let mut argv: Vec<OsString> = vec!["--".into()];
        argv.extend(printf_argv(&mixed));
        let output = installed.run(argv);
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ),
            (Some(0), "".into())
        );
        assert!(
            output.stdout == nul_terminated(&mixed),
            "non-UTF-8 arguments changed on the way: {:?}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[tokio::test]
async fn run_exits_with_the_commands_status() {
    let installed = Installed::new("run-status").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        let cases: &[(&[&str], i32)] = &[
            (&["true"], 0),
            (&["false"], 1),
            (&["sh", "-c", "exit 7"], 7),
            (&["/etc/passwd"], 126),
            (&["no-such-program"], 127),
        ];
        for (argv, status) in cases {
            let output = installed.run(*argv);
            assert_eq!(output.status.code(), Some(*status), "{argv:?}: {output:?}");
            assert!(output.stdout.is_empty(), "{argv:?}: {output:?}");
            if *status < 126 {
                assert!(output.stderr.is_empty(), "{argv:?}: {output:?}");
            }
        }
        // A program that is not there, or not executable, is the command's failure: Podman's
        // message says so on stderr, and horizon adds nothing.
        let missing = installed.run(["no-such-program"]);
        let stderr = String::from_utf8_lossy(&missing.stderr);
        assert!(
            stderr.contains("no-such-program") && !stderr.contains("horizon-container"),
            "{stderr}"
        );

        // horizon's own failures are 125: no command, a name that is not installed.
        let no_command = installed.run(Vec::<&str>::new());
        assert_eq!(
            outcome(&no_command),
            (
                Some(125),
                String::new(),
                "horizon-container: error: no command given\n\
                 hint: horizon-container run run-status COMMAND [ARGS...]\n"
                    .into()
            )
        );
    }
}

#[tokio::test]
async fn run_streams_stdin_and_binary_output_exactly_with_stderr_apart() {
    let installed = Installed::new("run-streams").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);

        // 1 MiB of pseudo-random bytes (every value, no pattern a text path would survive).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let data: Vec<u8> = (0..1024 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut child = installed
            .run_command(["cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = data.clone();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stderr)
            ),
            (Some(0), "".into())
        );
        assert_eq!(output.stdout.len(), data.len());
        assert!(output.stdout == data, "the bytes changed on the way");

        // Interleaved writes to stdout and stderr arrive on their own streams.
        let output = installed.run([
            "sh",
            "-c",
            "printf 'out 1\\n'; printf 'err 1\\n' >&2; printf 'out 2\\n'; printf 'err 2\\n' >&2; exit 3",
        ]);
        assert_eq!(
            outcome(&output),
            (Some(3), "out 1\nout 2\n".into(), "err 1\nerr 2\n".into())
        );

        // No terminal without one: stdin and stdout are pipes here.
        let output = installed.run([
            "sh",
            "-c",
            "if test -t 0 || test -t 1; then echo tty; else echo no-tty; fi",
        ]);
        assert_eq!(outcome(&output), (Some(0), "no-tty\n".into(), "".into()));
    }
}

/// `HORIZON_RUN_TEST` and `LC_TIME` in `installed`, on the agent path (its `sh` exported as
/// `drift-sh`, which the test exports first) and on the API path (`run`), with the caller's own
/// `LC_TIME`.
fn configured_environment(installed: &Installed) -> [(Option<i32>, String, String); 2] {
    let script = ["-c", "echo \"$HORIZON_RUN_TEST\"; echo \"$LC_TIME\""];
    let agent = installed
        .session
        .command(installed.session.export_dir.join("drift-sh"))
        .args(script)
        .env("LC_TIME", "from-caller")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let api = installed
        .run_command(["sh"].into_iter().chain(script))
        .env("HORIZON_EXEC_PATH", "api")
        .env("LC_TIME", "from-caller")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    [outcome(&agent), outcome(&api)]
}

#[tokio::test]
async fn a_changed_definition_reaches_commands_only_once_an_update_applies_it() {
    let installed = Installed::new("run-env-drift").await;
    // Wrappers run horizon-exec beside horizon-container: build it first.
    horizon_e2e::bins::cargo_bin("horizon-exec", "horizon-exec");
    let export = installed
        .session
        .horizon_container()
        .args([
            "export",
            "sh",
            "--from",
            "run-env-drift",
            "--as",
            "drift-sh",
        ])
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{export:?}");
    let as_installed = (
        Some(0),
        "from-definition\nfrom-definition\n".to_owned(),
        String::new(),
    );
    assert_eq!(
        configured_environment(&installed),
        [as_installed.clone(), as_installed.clone()]
    );
    // The file changes; the container does not until it is updated: both paths keep what the
    // container was created with (and its LC_TIME still wins over the caller's).
    let mut definition: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            installed
                .session
                .definitions_dir()
                .join("run-env-drift.json"),
        )
        .unwrap(),
    )
    .unwrap();
    definition["environment"]["HORIZON_RUN_TEST"] = "edited".into();
    installed
        .session
        .write_user_definition("run-env-drift", &definition.to_string());
    assert_eq!(
        configured_environment(&installed),
        [as_installed.clone(), as_installed]
    );
    let update = installed
        .session
        .horizon_container()
        .args(["update", "run-env-drift"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(update.status.code(), Some(0), "{update:?}");
    let updated = (
        Some(0),
        "edited\nfrom-definition\n".to_owned(),
        String::new(),
    );
    assert_eq!(
        configured_environment(&installed),
        [updated.clone(), updated]
    );
}

#[tokio::test]
async fn run_forwards_only_the_allowlisted_environment() {
    let installed = Installed::new("run-env").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        let output = installed
            .run_command([
                "sh",
                "-c",
                "printf '%s|' \"$HORIZON_RUN_TEST\" \"$LANG\" \"$LC_TIME\" \"$LC_PAPER\" \"$TERM\" \
                 \"$NOT_FORWARDED\" \"$CONTAINER_HOST\" \"$PATH\"",
            ])
            .env("LC_TIME", "from-caller")
            .env("LC_PAPER", "de_DE.UTF-8")
            .env("TERM", "xterm-caller")
            .env("NOT_FORWARDED", "secret")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // LANG comes from the caller (session: C.UTF-8), LC_TIME from the definition (which wins),
        // PATH is the container's, the caller's other variables stay outside.
        assert_eq!(
            outcome(&output),
            (
                Some(0),
                "from-definition|C.UTF-8|from-definition|de_DE.UTF-8|xterm-caller|||\
                 /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|"
                    .into(),
                "".into()
            )
        );
    }
}

#[tokio::test]
async fn run_starts_in_the_callers_directory_when_the_container_shares_it() {
    let installed = Installed::new("run-workdir").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        let session = &installed.session;
        let sub = session
            .write_home_file("projects/my app/README", b"hello\n")
            .parent()
            .unwrap()
            .to_path_buf();
        let output = installed
            .run_command(["sh", "-c", "pwd; cat README"])
            .current_dir(&sub)
            .env("PWD", &sub)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            outcome(&output),
            (Some(0), format!("{}\nhello\n", sub.display()), "".into())
        );

        // The session's base directory exists on the host only: the command runs in the home
        // inside (Podman's keep-id user has home /), and a note says so.
        let outside = session.home.parent().unwrap();
        let output = installed
            .run_command(["pwd"])
            .current_dir(outside)
            .env("PWD", outside)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            outcome(&output),
            (
                Some(0),
                "/\n".into(),
                format!(
                    "horizon-container: note: {} is not shared with {}; running in / (the home \
                     directory there)\n",
                    outside.display(),
                    installed.container()
                )
            )
        );
    }
}

#[tokio::test]
async fn ctrl_c_and_the_ending_signals_reach_the_command_without_a_terminal() {
    let installed = Installed::new("run-sigint").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        for (signal, name, status) in [
            (libc::SIGINT, "INT", 3),
            (libc::SIGTERM, "TERM", 4),
            (libc::SIGHUP, "HUP", 5),
            (libc::SIGQUIT, "QUIT", 6),
        ] {
            // `wait` is a builtin the trap interrupts (a foreground child killed by the same signal
            // would make sh report it on stderr). The background sleep ignores the signal, as
            // background jobs of a non-interactive sh do (SIGTERM ends it): the trap ends it, or (on the agent
            // path, where the command holds the test's own pipes) stderr would stay open.
            let script = format!(
                "trap 'echo got-{name}; kill $! 2>/dev/null; exit {status}' {name}; sleep 1000 & echo ready; wait"
            );
            let mut child = installed
                .run_command(["sh", "-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let lines = lines_of(&mut child);
            assert_eq!(lines.recv_timeout(PATIENCE).unwrap(), "ready");
            horizon_e2e::process::signal(child.id(), signal);
            assert_eq!(lines.recv_timeout(PATIENCE).unwrap(), format!("got-{name}"));
            let exit = wait_limited(&mut child);
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            // horizon-container did not die of the signal: it exits with the command's status.
            assert_eq!((exit.code(), stderr.as_str()), (Some(status), ""), "{name}");
            assert!(
                lines.recv_timeout(Duration::from_secs(1)).is_err(),
                "nothing after got-{name}"
            );
        }
    }
}

#[tokio::test]
async fn ctrl_c_reaches_the_commands_children_as_on_a_terminal() {
    let installed = Installed::new("run-sigint-group").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        let mut child = installed
            .run_command(["sh", "-c", "echo ready; sleep 120; echo not-interrupted"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        assert_eq!(lines.recv_timeout(PATIENCE).unwrap(), "ready");
        // Let sh start sleep before the signal.
        std::thread::sleep(Duration::from_millis(500));
        let sent = std::time::Instant::now();
        horizon_e2e::process::signal(child.id(), libc::SIGINT);
        let status = wait_limited(&mut child);
        // sh and its sleep both got SIGINT (not only sh, which would leave horizon waiting for the
        // orphaned sleep's 120 s): the exit is prompt, with sh's status for death by SIGINT.
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "{:?}",
            sent.elapsed()
        );
        assert_eq!(status.code(), Some(130));
        assert!(lines.recv_timeout(Duration::from_secs(1)).is_err());
        let output = installed.run(["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
        let (status, processes, _) = outcome(&output);
        assert_eq!(status, Some(0));
        assert!(!processes.contains("sleep 120"), "{processes}");
    }
}

#[tokio::test]
async fn a_closed_stdout_ends_the_command_quietly_like_sigpipe() {
    let installed = Installed::new("run-pipe").await;
    let installed_on_both = installed;
    for path in EXEC_PATHS {
        let installed = installed_on_both.via(path);
        let mut child = installed
            .run_command(["yes", "horizon"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // The reader (and with it the pipe's read end) is dropped here, as `| head -1` does.
        assert_eq!(first, "horizon\n");
        let status = wait_limited(&mut child);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!((status.code(), stderr.as_str()), (Some(141), ""));
        // `yes` is gone from the container, not left writing into the void.
        let output = installed.run(["sh", "-c", "cat /proc/[0-9]*/comm"]);
        let (status, processes, _) = outcome(&output);
        assert_eq!(status, Some(0));
        assert!(!processes.lines().any(|name| name == "yes"), "{processes}");
    }
}

#[tokio::test]
async fn run_starts_a_stopped_container_first() {
    let installed = Installed::new("run-stopped").await;
    let engine = installed.engine();
    engine
        .stop_container(&installed.container(), Duration::from_secs(1))
        .await
        .unwrap();
    assert!(
        !engine
            .inspect_container(&installed.container())
            .await
            .unwrap()
            .state
            .running
    );
    let output = installed.run(["echo", "started"]);
    assert_eq!(outcome(&output), (Some(0), "started\n".into(), "".into()));
    assert!(
        engine
            .inspect_container(&installed.container())
            .await
            .unwrap()
            .state
            .running
    );
}

#[tokio::test]
async fn run_of_what_is_not_installed_exits_125_and_says_how_to_install() {
    let bed = TestBed::shared();
    let session = bed.user_session("run-absent");
    let definition = serde_json::json!({ "name": "run-absent", "image": bed.busybox_image() });
    session.write_user_definition("run-absent", &definition.to_string());
    let output = session
        .horizon_container()
        .args(["run", "run-absent", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            "horizon-container: error: run-absent is not installed\n\
             hint: install it: `horizon-container install run-absent`\n"
                .into()
        )
    );

    // A definition file that is refused: the hint points at it.
    let broken = session.write_user_definition("run-broken", "{\"name\": \"run-broken\",");
    let output = session
        .horizon_container()
        .args(["run", "run-broken", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            format!(
                "horizon-container: error: run-broken is not installed\n\
                 hint: its definition {path} is invalid: `horizon-container definition validate \
                 {path}` says why; then `horizon-container install run-broken`\n",
                path = broken.display()
            )
        )
    );

    // No definition at all says that too.
    let output = session
        .horizon_container()
        .args(["run", "nothing-like-it", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            "horizon-container: error: nothing-like-it is not installed\n\
             hint: there is no definition named nothing-like-it either: `horizon-container list` \
             shows them, then `horizon-container install nothing-like-it`\n"
                .into()
        )
    );
}

#[tokio::test]
async fn run_without_a_podman_service_exits_125_not_3() {
    let bed = TestBed::shared();
    let session = bed.user_session("run-no-service");
    let missing = session.home.join("no-podman.sock");
    let output = session
        .horizon_container()
        .env("CONTAINER_HOST", format!("unix://{}", missing.display()))
        .args(["run", "anything", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (status, stdout, stderr) = outcome(&output);
    assert_eq!((status, stdout.as_str()), (Some(125), ""));
    assert!(
        stderr.starts_with("horizon-container: error: ")
            && stderr.contains(&missing.display().to_string())
            && stderr.contains("\nhint: "),
        "{stderr}"
    );
}
