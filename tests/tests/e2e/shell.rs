//! `run` with a terminal and `shell`, driven through a real terminal: tmux (started as the test
//! user, on a socket of its own) runs `horizon-container` in a pane, the test types keys and reads
//! the screen. Proves a TTY is allocated only with a terminal, the prompt appears, the window
//! size follows `tmux resize-window`, Ctrl-C and Ctrl-Z act inside (job control), and after
//! `exit` or a hangup the caller's terminal is back in its normal mode.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use horizon_e2e::bins::cargo_bin;
use horizon_e2e::process;
use horizon_e2e::session::Session;

use crate::run::{Installed, outcome};

/// How long a test waits for the screen to show what it expects.
const PATIENCE: Duration = Duration::from_secs(30);
/// The name of the tmux session (and its only window).
const TARGET: &str = "main";

/// A tmux server of the test user running one command in one pane; killed when dropped.
pub(crate) struct Tmux<'a> {
    session: &'a Session,
    socket: PathBuf,
}

impl<'a> Tmux<'a> {
    /// Starts `script` (a file in the session's home, run by sh) in a `columns`×`rows` pane.
    pub(crate) fn start(session: &'a Session, script: &str, columns: u16, rows: u16) -> Tmux<'a> {
        Tmux::start_named(session, "tmux", script, columns, rows)
    }

    /// As [`Tmux::start`], with a server (socket and script) of its own named `name`: for tests
    /// that share one session and run at the same time.
    pub(crate) fn start_named(
        session: &'a Session,
        name: &str,
        script: &str,
        columns: u16,
        rows: u16,
    ) -> Tmux<'a> {
        let path = session.write_home_file(&format!("{name}.sh"), script.as_bytes());
        let tmux = Tmux {
            session,
            socket: session.home.join(format!("{name}.sock")),
        };
        tmux.tmux(&[
            "new-session",
            "-d",
            "-s",
            TARGET,
            "-x",
            &columns.to_string(),
            "-y",
            &rows.to_string(),
            "sh",
            path.to_str().unwrap(),
        ]);
        tmux
    }

    fn tmux(&self, args: &[&str]) -> String {
        let mut command = self.session.command("tmux");
        command
            .env("TERM", "xterm-256color")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null());
        String::from_utf8(process::run(&mut command).unwrap().stdout).unwrap()
    }

    /// Types `keys` (tmux key names: "Enter", "C-c", or literal text).
    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", TARGET];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types a line of text and Enter.
    pub(crate) fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", TARGET, "-l", text]);
        self.keys(&["Enter"]);
    }

    /// The pane's visible text.
    pub(crate) fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", TARGET])
    }

    /// Waits until some line of the screen satisfies `wanted`; returns the screen.
    pub(crate) fn wait_for_line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if screen.lines().any(|line| wanted(line.trim_end())) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("the screen never showed {what}:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The pid of the `horizon-container` process the pane's shell started.
    fn horizon_pid(&self) -> u32 {
        let pane = self.tmux(&["display-message", "-p", "-t", TARGET, "#{pane_pid}"]);
        let pane = pane.trim();
        let children =
            std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children")).unwrap();
        children
            .split_whitespace()
            .map(|pid| pid.parse::<u32>().unwrap())
            .find(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|comm| comm.trim() == "horizon-contain")
            })
            .unwrap_or_else(|| panic!("no horizon-container under pane process {pane}"))
    }

    /// Waits for a line that is exactly `text`.
    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait_for_line(text, |line| line == text)
    }

    /// Sends Ctrl-C and waits until the shell shows its next prompt (a non-empty line after a new
    /// `^C`): keys typed before that reach the dying program on the terminal, not the shell (as a
    /// user's typeahead would), and the line typed next would be lost.
    pub(crate) fn interrupt(&self) -> String {
        let interrupts = |screen: &str| screen.lines().filter(|line| line.contains("^C")).count();
        let before = interrupts(&self.screen());
        self.press_until("C-c", "a prompt after Ctrl-C", |screen| {
            let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
            let prompt_after = lines
                .iter()
                .rposition(|line| line.contains("^C"))
                .and_then(|at| lines.get(at + 1))
                .is_some_and(|next| !next.is_empty());
            interrupts(screen) > before && prompt_after
        })
    }

    /// Sends Ctrl-Z and waits until the shell reports `job` stopped.
    pub(crate) fn suspend(&self, job: &str) -> String {
        self.press_until("C-z", "the stopped job", |screen| {
            screen
                .lines()
                .any(|line| line.contains("Stopped") && line.contains(job))
        })
    }

    /// Presses `key` until the screen satisfies `done`, again every second: a key that comes
    /// before the program took the terminal (a loaded machine) reaches the shell, which ignores
    /// it, and pressing it again at the prompt is harmless.
    fn press_until(&self, key: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            self.keys(&[key]);
            let again = Instant::now() + Duration::from_secs(1);
            while Instant::now() < again {
                let screen = self.screen();
                if done(&screen) {
                    return screen;
                }
                if Instant::now() > deadline {
                    panic!("the screen never showed {what}:\n{screen}");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Waits until `stty -a` has printed its local-mode line (the last one, holding `icanon` or
    /// `-icanon`), so the whole listing is on the screen.
    pub(crate) fn wait_for_terminal_settings(&self) -> String {
        self.wait_for_line("stty -a's settings", |line| line.contains("icanon"))
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let mut command = self.session.command("tmux");
        command
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .stdin(Stdio::null());
        // The server may be gone already (its only pane ended).
        let _ = command.output();
    }
}

pub(crate) fn binary() -> String {
    cargo_bin("horizon-cli", "horizon-container")
        .display()
        .to_string()
}

#[tokio::test]
async fn run_gets_a_terminal_only_when_it_has_one() {
    let installed = Installed::new("run-tty").await;
    let check = "if test -t 0 && test -t 1; then echo tty-yes; else echo tty-no; fi; exit 5";
    let script = format!(
        "{} run {} sh -c '{check}'\necho \"exited=$?\"\nsleep 600\n",
        binary(),
        installed.name
    );
    let tmux = Tmux::start(&installed.session, &script, 100, 30);
    tmux.wait_for("exited=5");
    let screen = tmux.screen();
    assert!(
        screen.lines().any(|line| line.trim_end() == "tty-yes"),
        "{screen}"
    );

    // The same command with pipes: no terminal.
    let output = installed.run(["sh", "-c", check]);
    assert_eq!(outcome(&output), (Some(5), "tty-no\n".into(), "".into()));
}

#[tokio::test]
async fn shell_through_the_agent_is_an_interactive_login_shell_with_a_real_terminal() {
    interactive_login_shell("shell-tty", ShellPath::Agent).await;
}

#[tokio::test]
async fn shell_on_the_api_path_is_an_interactive_login_shell_with_a_real_terminal() {
    interactive_login_shell("shell-tty-api", ShellPath::Api).await;
}

/// How `shell` gets into the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShellPath {
    /// The container's agent (the default when it has one): a pty from the agent, the shell
    /// under its session keeper.
    Agent,
    /// The libpod API with a tty (`HORIZON_EXEC_PATH=api`; containers without an agent).
    Api,
}

/// `shell` in a real terminal: a login shell in the home, with the window size and its changes,
/// Ctrl-C and job control inside, the exit status passed on and the terminal restored.
async fn interactive_login_shell(name: &str, path: ShellPath) {
    let installed = Installed::new(name).await;
    let select = match path {
        ShellPath::Agent => "",
        ShellPath::Api => "HORIZON_EXEC_PATH=api ",
    };
    let script = format!(
        "{select}{} shell {}\nstatus=$?\n# After a newline: the shell's last prompt may still be on the line.\nprintf '\\nshell-exited=%s\\n' \"$status\"\nstty -a\nsleep 600\n",
        binary(),
        installed.name
    );
    let tmux = Tmux::start(&installed.session, &script, 100, 30);
    // The definition's PS1 (the container's environment) is the prompt of busybox's sh.
    tmux.wait_for_line("the prompt", |line| line.starts_with("hz-prompt$"));

    // The path taken: under the agent, the shell's parent is the session keeper.
    tmux.line("echo \"parent:$(tr '\\0' ' ' </proc/$PPID/cmdline)\"; tty");
    let screen = tmux.wait_for_line("the parent", |line| line.starts_with("parent:"));
    let parent = screen
        .lines()
        .find(|line| line.starts_with("parent:"))
        .unwrap();
    assert_eq!(
        parent.contains("keep-session -- /bin/sh -l"),
        path == ShellPath::Agent,
        "{path:?}: {parent}"
    );
    tmux.wait_for_line("the shell's terminal", |line| line.starts_with("/dev/pts/"));

    // A login shell, in the home (the session's home is mounted: the caller's directory).
    tmux.line("echo \"login:$0 dir:$PWD\"");
    tmux.wait_for(&format!(
        "login:/bin/sh dir:{}",
        installed.session.home.display()
    ));

    // The window size, and its changes.
    tmux.line("stty size");
    tmux.wait_for("30 100");
    tmux.tmux(&["resize-window", "-t", TARGET, "-x", "120", "-y", "40"]);
    // The new size reaches the shell's terminal through SIGWINCH and the client's relay: ask
    // until it has (a `stty` typed before that rightly prints the old size).
    let deadline = Instant::now() + PATIENCE;
    while !tmux
        .screen()
        .lines()
        .any(|line| line.trim_end() == "40 120")
    {
        assert!(
            Instant::now() < deadline,
            "the new size never arrived:\n{}",
            tmux.screen()
        );
        tmux.line("stty size");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Ctrl-C interrupts the foreground command inside; the shell lives on.
    tmux.line("sleep 60");
    std::thread::sleep(Duration::from_millis(300));
    tmux.interrupt();
    tmux.line("echo after-ctrl-c");
    tmux.wait_for("after-ctrl-c");

    // Job control: Ctrl-Z stops the foreground job, `jobs` lists it, `fg` brings it back to be
    // interrupted.
    tmux.line("sleep 60");
    std::thread::sleep(Duration::from_millis(300));
    let screen = tmux.suspend("sleep 60");
    assert!(screen.contains("[1]"), "{screen}");
    tmux.line("jobs");
    tmux.wait_for_line("the job listed", |line| {
        line.starts_with("[1]") && line.contains("Stopped")
    });
    tmux.line("fg");
    std::thread::sleep(Duration::from_millis(300));
    tmux.interrupt();
    tmux.line("jobs; echo jobs-done");
    let screen = tmux.wait_for("jobs-done");
    let after = screen.rsplit("jobs; echo jobs-done").next().unwrap();
    assert!(!after.contains("[1]"), "the job is gone:\n{screen}");

    tmux.line("exit 7");
    tmux.wait_for("shell-exited=7");
    assert_terminal_restored(&tmux.wait_for_terminal_settings());
}

#[tokio::test]
async fn a_hangup_ends_the_shell_and_restores_the_terminal() {
    let installed = Installed::new("shell-hangup").await;
    let script = format!(
        "{} shell {}\nstatus=$?\n# After a newline: the shell's last prompt may still be on the line.\nprintf '\\nshell-exited=%s\\n' \"$status\"\nstty -a\nsleep 600\n",
        binary(),
        installed.name
    );
    let tmux = Tmux::start(&installed.session, &script, 100, 30);
    tmux.wait_for_line("the prompt", |line| line.starts_with("hz-prompt$"));
    // SIGHUP (the terminal went away) reaches the shell inside, which exits with 128 + 1; horizon
    // passes that on, with the terminal back in its normal mode.
    process::signal(tmux.horizon_pid(), libc::SIGHUP);
    tmux.wait_for("shell-exited=129");
    assert_terminal_restored(&tmux.wait_for_terminal_settings());
}

/// `stty -a` on the screen shows the terminal in its normal (cooked, echoing) mode.
pub(crate) fn assert_terminal_restored(screen: &str) {
    let settings: Vec<&str> = screen
        .split(|c: char| c.is_whitespace() || c == ';')
        .collect();
    for setting in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(
            settings.contains(&setting),
            "{setting} is off after the shell:\n{screen}"
        );
    }
}

/// `horizon-container shell NAME` without a terminal, reading `commands` from its stdin.
pub(crate) fn shell_reading(session: &Session, name: &str, commands: &[u8]) -> Output {
    let mut child = session
        .horizon_container()
        .args(["shell", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, commands).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn shell_without_a_terminal_reads_commands_from_stdin() {
    let installed = Installed::new("shell-stdin").await;
    let output = shell_reading(
        &installed.session,
        &installed.name,
        b"echo \"$0 in $PWD\"\nexit 4\n",
    );
    assert_eq!(
        outcome(&output),
        (
            Some(4),
            format!("/bin/sh in {}\n", installed.session.home.display()),
            "".into()
        )
    );
}

#[tokio::test]
async fn shell_is_the_login_shell_from_the_containers_passwd() {
    // Root's entry in Debian's /etc/passwd names bash (busybox's names sh, as the tests above
    // show); the root session runs against the rootful service.
    let bed = horizon_e2e::TestBed::shared();
    let session = bed.root_session("shell-debian");
    let name = "shell-debian";
    session.write_system_definition(
        name,
        &serde_json::json!({ "name": name, "image": bed.debian_image() }).to_string(),
    );
    let install = session
        .horizon_container()
        .args(["install", name])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(install.status.code(), Some(0), "{install:?}");
    // A login shell: bash says so; the session's home is not shared, so it runs in root's home
    // inside, and the note says so.
    let output = shell_reading(
        &session,
        name,
        b"shopt -q login_shell && echo \"login $0 in $PWD\"\n",
    );
    assert_eq!(
        outcome(&output),
        (
            Some(0),
            "login /bin/bash in /root\n".into(),
            format!(
                "horizon-container: note: {} is not shared with horizonos-{name}; running in \
                 /root (the home directory there)\n",
                session.home.display()
            )
        )
    );
}
