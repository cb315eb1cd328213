//! Transparency of exported binaries: the same commands run natively in the container (`podman
//! exec` with the same directory, environment and stdin) and through the exported wrappers on the
//! host, compared byte for byte — stdout, stderr and exit status. `git` on a real repository
//! (status, log, diff with the pager off, a file name with spaces, a relative path from a
//! subdirectory of the home), `python3 -c` reading binary stdin, `sh -c 'exit 7'`, argv with
//! spaces, empty strings and glob/`$` characters, the environment allowlist, `yes | head -1` in a
//! host pipeline (SIGPIPE), SIGTERM to the wrapper, and a terminal through tmux.
//!
//! One Debian container (git and python3 from Debian's mirror, ~60 s) serves the whole module.
//! The way a case is run is [`Way`]; every wrapper case runs on both exec paths ([`ExecPath`]):
//! through the container's agent (what a wrapper uses) and through the API path
//! (`HORIZON_EXEC_PATH=api`, what it falls back to).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use horizon_core::exec_plan::environment::is_forwarded;
use horizon_core::naming;
use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::json;

use crate::assert_exit;
use crate::export::{Exporting, outcome};
use crate::run::{lines_of, wait_limited};
use crate::shell::Tmux;

/// The definition name of the shared container.
const NAME: &str = "ex-debian";
/// The repository's directory in the home, and a subdirectory of it.
const PROJECT: &str = "project";
const SUBDIR: &str = "project/sub dir";
/// Variables every case runs with, on top of the session's: forwarded ones and one that is not.
const EXTRA_ENV: [(&str, &str); 3] = [
    ("TERM", "xterm-256color"),
    ("LC_MESSAGES", "C.UTF-8"),
    ("HORIZON_NOT_FORWARDED", "secret"),
];
/// How long a test waits for a line it expects.
const PATIENCE: Duration = Duration::from_secs(30);
/// The signal `kill` sends by default.
const SIGTERM: i32 = 15;
/// Host names of the wrappers for `sh` and `bash` (the host's own must stay the host's).
const SH_ALIAS: &str = "ex-debian-sh";
const BASH_ALIAS: &str = "ex-debian-bash";

/// The shared container with its exports and a git repository in the home.
pub struct DebianExports {
    pub exporting: Exporting,
}

/// Installs it once for the whole test process (parallel tests wait for the first).
pub fn debian() -> &'static DebianExports {
    static DEBIAN: OnceLock<DebianExports> = OnceLock::new();
    DEBIAN.get_or_init(|| {
        let bed = TestBed::shared();
        let exporting = Exporting::new("export_transparency", &[]);
        let definition = json!({
            "name": NAME,
            "image": bed.debian_image(),
            "packages": ["git", "python3"],
            "persistent": true,
            "mounts": [exporting.session.home.display().to_string()],
            "export_binaries": ["git", "python3", "yes"],
        });
        exporting.install(NAME, &definition);
        // The host has its own git, python3 and yes: install refused to shadow them; the user
        // decides to.
        for args in [
            &["export", "git", "--from", NAME, "--force"][..],
            &["export", "python3", "--from", NAME, "--force"],
            &["export", "yes", "--from", NAME, "--force"],
            &["export", "sh", "--from", NAME, "--as", SH_ALIAS],
            &["export", "bash", "--from", NAME, "--as", BASH_ALIAS],
        ] {
            assert_exit(&exporting.hc(args), 0);
        }
        let fixture = DebianExports { exporting };
        fixture.make_repository();
        fixture
    })
}

impl DebianExports {
    fn home(&self) -> &Path {
        &self.exporting.session.home
    }

    /// A git repository with history, a file name with spaces, and uncommitted changes, made
    /// natively in the container (so its owner and configuration are the container's).
    fn make_repository(&self) {
        let session = &self.exporting.session;
        session.write_home_file(&format!("{PROJECT}/README"), b"hello\n");
        session.write_home_file(&format!("{PROJECT}/file with spaces.txt"), b"one\ntwo\n");
        session.write_home_file(&format!("{SUBDIR}/data.txt"), b"data\n");
        session.write_home_file(&format!("{PROJECT}/notes.txt"), b"first\n");
        let script = "set -e
            git init -q -b main
            git config user.name 'Horizon Test'
            git config user.email test@horizon.invalid
            git add README 'file with spaces.txt' notes.txt
            GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z' \
                git commit -q -m 'first commit'
            printf 'three\\n' >> 'file with spaces.txt'
            git add 'file with spaces.txt'
            GIT_AUTHOR_DATE='2024-01-02T00:00:00Z' GIT_COMMITTER_DATE='2024-01-02T00:00:00Z' \
                git commit -q -m 'second: a name with spaces'
            printf 'changed\\n' >> notes.txt
            printf 'new\\n' > untracked.txt";
        let made = Way::Native.run(self, PROJECT, &["sh", "-c", script], b"");
        assert_exit(&made, 0);
    }

    /// The session's environment with [`EXTRA_ENV`].
    fn environment(&self) -> Vec<(String, String)> {
        self.exporting
            .session
            .environment()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_string_lossy().into_owned()))
            .chain(
                EXTRA_ENV
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
            )
            .collect()
    }
}

/// How a command is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// In the container with `podman exec`: same directory, the forwarded part of the
    /// environment, the same stdin.
    Native,
    /// On the host through the exported wrapper (found in PATH, as a user runs it), on one path.
    Wrapper(ExecPath),
}

/// The two ways `horizon-exec` gets into the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecPath {
    /// The container's agent (the default).
    Agent,
    /// The libpod API (`horizon-container run`), forced with `HORIZON_EXEC_PATH=api`.
    Api,
}

impl ExecPath {
    /// Both, agent first.
    pub const BOTH: [ExecPath; 2] = [ExecPath::Agent, ExecPath::Api];

    /// The environment that selects this path, as a shell command line's prefix.
    pub fn shell_prefix(self) -> String {
        self.env()
            .iter()
            .map(|(name, value)| format!("{name}={value} "))
            .collect()
    }

    /// The environment that selects this path.
    pub fn env(self) -> Vec<(&'static str, &'static str)> {
        match self {
            ExecPath::Agent => Vec::new(),
            ExecPath::Api => vec![("HORIZON_EXEC_PATH", "api")],
        }
    }
}

impl Way {
    /// The command running `argv` (argv\[0\] the binary's name in the container) from `dir` (relative
    /// to the home).
    pub fn command(self, fixture: &DebianExports, dir: &str, argv: &[&str]) -> Command {
        let dir = fixture.home().join(dir);
        let environment = fixture.environment();
        match self {
            Way::Native => {
                let mut command = fixture.exporting.session.service.storage.podman();
                command.args(["exec", "-i", "-w"]).arg(&dir);
                for (name, value) in environment.iter().filter(|(name, _)| is_forwarded(name)) {
                    command.arg("--env").arg(format!("{name}={value}"));
                }
                command.arg(naming::container_name(NAME)).args(argv);
                command
            }
            Way::Wrapper(path) => {
                let program = match argv[0] {
                    "sh" => SH_ALIAS,
                    "bash" => BASH_ALIAS,
                    other => other,
                };
                let mut command = fixture.exporting.session.command(program);
                command
                    .args(&argv[1..])
                    .current_dir(&dir)
                    .envs(environment)
                    .envs(path.env());
                command
            }
        }
    }

    /// Runs `argv` from `dir` with `stdin`.
    pub fn run(self, fixture: &DebianExports, dir: &str, argv: &[&str], stdin: &[u8]) -> Output {
        let mut child = self
            .command(fixture, dir, argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        let stdin = stdin.to_vec();
        // Written on a thread: a large input must not block against unread output.
        let writer = std::thread::spawn(move || {
            // The command may exit without reading it all; that is its business.
            let _ = input.write_all(&stdin);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        output
    }
}

/// Runs `argv` both ways and asserts identical stdout, stderr and exit status; returns them.
fn assert_transparent(dir: &str, argv: &[&str], stdin: &[u8]) -> (Option<i32>, String, String) {
    let fixture = debian();
    let native = Way::Native.run(fixture, dir, argv, stdin);
    for path in ExecPath::BOTH {
        let wrapped = Way::Wrapper(path).run(fixture, dir, argv, stdin);
        assert_eq!(
            (wrapped.status.code(), &wrapped.stdout, &wrapped.stderr),
            (native.status.code(), &native.stdout, &native.stderr),
            "{argv:?} from {dir}: through the wrapper ({path:?}) {:?}, natively {:?}",
            outcome(&wrapped),
            outcome(&native)
        );
    }
    outcome(&native)
}

#[test]
fn git_status_log_and_diff_are_the_same_through_the_wrapper() {
    let (code, status, _) = assert_transparent(PROJECT, &["git", "status"], b"");
    assert_eq!(code, Some(0));
    assert!(status.starts_with("On branch main\n"), "{status}");
    assert!(status.contains("modified:   notes.txt"), "{status}");
    assert!(status.contains("untracked.txt"), "{status}");
    let (_, short, _) = assert_transparent(PROJECT, &["git", "status", "--short"], b"");
    assert_eq!(short, " M notes.txt\n?? \"sub dir/\"\n?? untracked.txt\n");
    let (_, log, _) = assert_transparent(PROJECT, &["git", "--no-pager", "log", "--stat"], b"");
    assert!(log.contains("second: a name with spaces"), "{log}");
    assert!(log.contains("file with spaces.txt | 1 +"), "{log}");
    let (_, diff, _) = assert_transparent(PROJECT, &["git", "--no-pager", "diff"], b"");
    assert!(diff.ends_with(" first\n+changed\n"), "{diff}");
    let (_, named, _) = assert_transparent(
        PROJECT,
        &[
            "git",
            "--no-pager",
            "log",
            "--format=%s",
            "--",
            "file with spaces.txt",
        ],
        b"",
    );
    assert_eq!(named, "second: a name with spaces\nfirst commit\n");
    // A failing git command: its message and status, the same.
    let (code, _, stderr) = assert_transparent(PROJECT, &["git", "no-such-command"], b"");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("'no-such-command' is not a git command"),
        "{stderr}"
    );
}

#[test]
fn relative_paths_from_a_subdirectory_of_the_home() {
    let (code, diff, _) = assert_transparent(
        SUBDIR,
        &["git", "--no-pager", "diff", "--stat", "--", "../notes.txt"],
        b"",
    );
    assert_eq!(code, Some(0));
    assert_eq!(diff, " notes.txt | 1 +\n 1 file changed, 1 insertion(+)\n");
    let script = "import os, sys; print(os.getcwd()); print(open(sys.argv[1]).read(), end='')";
    let (code, stdout, _) = assert_transparent(SUBDIR, &["python3", "-c", script, "data.txt"], b"");
    assert_eq!(code, Some(0));
    let home = debian().home().display().to_string();
    assert_eq!(stdout, format!("{home}/{SUBDIR}\ndata\n"));
}

#[test]
fn python_reads_binary_stdin_and_keeps_stdout_and_stderr_apart() {
    let input: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let script = "import sys\n\
        data = sys.stdin.buffer.read()\n\
        sys.stdout.buffer.write(data[::-1])\n\
        sys.stderr.write(f'read {len(data)} bytes\\n')\n\
        sys.exit(3)";
    let (code, stdout, stderr) = assert_transparent(PROJECT, &["python3", "-c", script], &input);
    assert_eq!(code, Some(3));
    assert_eq!(stderr, "read 300000 bytes\n");
    let reversed: Vec<u8> = input.iter().rev().copied().collect();
    for path in ExecPath::BOTH {
        let wrapped = Way::Wrapper(path).run(debian(), PROJECT, &["python3", "-c", script], &input);
        assert_eq!(wrapped.stdout, reversed, "{path:?}");
    }
    assert_eq!(stdout.len(), String::from_utf8_lossy(&reversed).len());
}

#[test]
fn exit_statuses_arguments_and_the_environment() {
    let (code, stdout, stderr) = assert_transparent(
        PROJECT,
        &["sh", "-c", "echo out; echo err >&2; exit 7"],
        b"",
    );
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (Some(7), "out\n", "err\n")
    );
    let (code, stdout, _) = assert_transparent(
        PROJECT,
        &[
            "sh",
            "-c",
            "printf '[%s]' \"$@\"; echo",
            "argv0",
            "a b",
            "",
            "--",
            "-n",
            "$HOME",
            "*",
            "it's \"quoted\"",
            "line\nbreak",
        ],
        b"",
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        "[a b][][--][-n][$HOME][*][it's \"quoted\"][line\nbreak]\n"
    );
    let (code, _, stderr) = assert_transparent(PROJECT, &["sh", "-c", "no-such-command"], b"");
    assert_eq!(
        (code, stderr.as_str()),
        (Some(127), "sh: 1: no-such-command: not found\n")
    );
    let (_, stdout, _) = assert_transparent(
        PROJECT,
        &[
            "sh",
            "-c",
            "echo \"$TERM|$LANG|$LC_MESSAGES|${HORIZON_NOT_FORWARDED-unset}|$HORIZONOS_CONTAINER\"",
        ],
        b"",
    );
    assert_eq!(
        stdout,
        format!("xterm-256color|C.UTF-8|C.UTF-8|unset|{NAME}\n")
    );
    // Without a terminal, no stream is one.
    let (_, stdout, _) = assert_transparent(
        PROJECT,
        &["sh", "-c", "test -t 0 || test -t 1 || echo no-terminal"],
        b"",
    );
    assert_eq!(stdout, "no-terminal\n");
}

#[test]
fn yes_in_a_host_pipeline_ends_with_sigpipe() {
    let fixture = debian();
    let pipeline = "yes | head -1; echo \"${PIPESTATUS[@]}\"";
    // Natively the whole pipeline is in the container; through the wrapper, `yes` is the
    // exported one and `head` the host's.
    let native = Way::Native.run(fixture, PROJECT, &["bash", "-c", pipeline], b"");
    assert_eq!(
        outcome(&native),
        (Some(0), "y\n141 0\n".to_owned(), String::new())
    );
    for path in ExecPath::BOTH {
        let host = fixture
            .exporting
            .session
            .command("bash")
            .args(["-c", pipeline])
            .envs(path.env())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(outcome(&host), outcome(&native), "{path:?}");
    }
}

/// A 100×30 tmux pane (server `name`) in the project that runs `sh -c SCRIPT` through the `sh`
/// wrapper on each path, one after the other (a second tmux server on the same socket races the
/// first one's exit), each followed by `exited-PATH=STATUS`.
fn both_paths_in_one_pane<'a>(
    session: &'a Session,
    name: &str,
    script: impl Fn(ExecPath) -> String,
) -> Tmux<'a> {
    let mut pane = format!("cd {PROJECT}; ");
    for path in ExecPath::BOTH {
        pane.push_str(&format!(
            "{}{SH_ALIAS} -c '{}'; echo \"exited-{path:?}=$?\"; ",
            path.shell_prefix(),
            script(path)
        ));
    }
    pane.push_str("sleep 60\n");
    Tmux::start_named(session, name, &pane, 100, 30)
}

#[test]
fn a_wrapper_in_a_terminal_gets_one_for_stdin_and_stdout() {
    let session = &debian().exporting.session;
    let tmux = both_paths_in_one_pane(session, "tmux", |path| {
        format!("test -t 0 && test -t 1 && echo tty-in-and-out-{path:?}")
    });
    let screen = tmux.wait_for("exited-Api=0");
    for path in ExecPath::BOTH {
        let line = format!("tty-in-and-out-{path:?}");
        assert!(
            screen.lines().any(|shown| shown.trim_end() == line),
            "{path:?}: {screen}"
        );
        assert!(screen.contains(&format!("exited-{path:?}=0")), "{screen}");
    }
}

/// A program that needs its terminal (a password prompt reads `/dev/tty`, a shell asks for the
/// window size) has one on both paths: a terminal in the container that is its controlling
/// terminal, set up like the caller's.
#[test]
fn a_program_on_a_terminal_owns_it_on_both_paths() {
    let session = &debian().exporting.session;
    let tmux = both_paths_in_one_pane(session, "tmux-owns", |path| {
        format!(
            "echo \"terminal-{path:?}=$(tty)\"; read -r typed </dev/tty; echo \"read-{path:?}=$typed\"; echo \"size-{path:?}=$(stty size)\""
        )
    });
    for path in ExecPath::BOTH {
        tmux.wait_for_line("the program's terminal", |line| {
            line.starts_with(&format!("terminal-{path:?}=/dev/pts/"))
        });
        // Typed on the caller's terminal, read by the program from /dev/tty (echoed by the
        // terminal in the container).
        tmux.line(&format!("typed-{path:?}"));
        tmux.wait_for(&format!("read-{path:?}=typed-{path:?}"));
        tmux.wait_for(&format!("size-{path:?}=30 100"));
        tmux.wait_for(&format!("exited-{path:?}=0"));
    }
}

/// Ctrl-Z stops an exported program and gives the caller's shell its terminal back, `fg` brings
/// it back, Ctrl-C ends it (130): as natively, through the agent, with a terminal (the program on
/// the agent's pty, under its session keeper) and without (stdin a pipe: the caller's
/// descriptors).
#[test]
fn ctrl_z_stops_an_exported_program_and_fg_resumes_it() {
    let fixture = debian();
    let session = &fixture.exporting.session;
    let tmux = Tmux::start_named(
        session,
        "tmux-ctrl-z",
        &format!("cd {PROJECT}; PS1='hz$ ' exec bash --norc --noprofile -i\n"),
        100,
        30,
    );
    tmux.wait_for_line("the prompt", |line| line.starts_with("hz$"));
    for (mode, prefix) in [("tty", ""), ("pipe", "true | ")] {
        tmux.line(&format!(
            "{prefix}{SH_ALIAS} -c 'echo started-{mode}; exec sleep 60'"
        ));
        tmux.wait_for(&format!("started-{mode}"));
        tmux.suspend(&format!("started-{mode}"));
        tmux.line(&format!("echo back-in-the-shell-{mode}"));
        tmux.wait_for(&format!("back-in-the-shell-{mode}"));
        tmux.line("fg");
        std::thread::sleep(Duration::from_millis(500));
        tmux.interrupt();
        tmux.line(&format!("echo status-{mode}=$?"));
        tmux.wait_for(&format!("status-{mode}=130"));
    }
    tmux.line("jobs; echo jobs-listed; stty -a");
    let screen = tmux.wait_for_terminal_settings();
    let after = screen.rsplit("echo jobs-listed").next().unwrap();
    assert!(!after.contains("Stopped"), "no job is left:\n{screen}");
    crate::shell::assert_terminal_restored(after);
}

#[test]
fn sigterm_to_the_wrapper_reaches_the_command() {
    let fixture = debian();
    let script = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done";
    for path in ExecPath::BOTH {
        let mut child = Way::Wrapper(path)
            .command(fixture, PROJECT, &["sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(&mut child);
        assert_eq!(lines.recv_timeout(PATIENCE).unwrap(), "ready", "{path:?}");
        // The wrapper execs the client (which, on the API path, execs `horizon-container run`):
        // one process, this pid.
        horizon_e2e::process::signal(child.id(), SIGTERM);
        assert_eq!(
            lines.recv_timeout(PATIENCE).unwrap(),
            "got-term",
            "{path:?}"
        );
        assert_eq!(wait_limited(&mut child).code(), Some(3), "{path:?}");
    }
}

#[test]
fn non_utf8_arguments_pass_through_the_wrapper_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let fixture = debian();
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff\xfe");
    for path in ExecPath::BOTH {
        let output = Way::Wrapper(path)
            .command(
                fixture,
                PROJECT,
                &["sh", "-c", "printf '%s' \"$1\" | od -An -tx1", "x"],
            )
            .arg(odd)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            outcome(&output),
            (Some(0), " 63 61 66 e9 20 ff fe\n".to_owned(), String::new()),
            "{path:?}"
        );
    }
}

#[test]
fn the_agent_path_really_goes_through_the_agent() {
    // Started by the agent (PID 1 of the container), the command's parent is 1; started by
    // `runc exec` (the API path), its parent is outside the container's pid namespace: 0.
    let fixture = debian();
    let parent = |path: ExecPath| {
        outcome(&Way::Wrapper(path).run(fixture, PROJECT, &["sh", "-c", "echo $PPID"], b""))
    };
    assert_eq!(
        parent(ExecPath::Agent),
        (Some(0), "1\n".to_owned(), String::new())
    );
    assert_eq!(
        parent(ExecPath::Api),
        (Some(0), "0\n".to_owned(), String::new())
    );
}
