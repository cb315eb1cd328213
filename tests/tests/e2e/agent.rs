//! The in-container agent end to end: a managed container's main process is the static agent, its
//! socket is per instance and marked active, and programs run through it as they run natively
//! (argv byte for byte, streams, exit statuses, death by a signal, `yes | head -1`, the working
//! directory, the environment allowlist with the definition winning). Security: another user
//! cannot reach a user's socket; the client refuses a socket that is a symlink or owned by
//! someone else; a process started by the agent has the capabilities, cgroup, seccomp mode and
//! user of one started by `podman exec`; a rootful system container runs a normal user's program
//! as that user; malformed requests are refused and the agent goes on serving.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use horizon_agent_protocol::layout::{ACTIVE_FILE, AGENT_DIR, SOCKET_NAME};
use horizon_agent_protocol::transport::{read_frame, send_frame};
use horizon_agent_protocol::wire::{
    AgentMessage, ClientMessage, RefusalKind, Request, encode_client_message, parse_agent_message,
};
use horizon_e2e::TestBed;
use horizon_e2e::bins::{cargo_bin, static_agent_before_terminals};
use horizon_e2e::session::Session;

use super::run::Installed;
use crate::{assert_exit, text};

/// The uid of `nobody`: another user than the session's.
const NOBODY: u32 = 65534;

/// `horizon-agent exec NAME ARGS...` (the bare agent client) as the session's user.
fn client(session: &Session, name: &str) -> Command {
    let mut command = session.command(cargo_bin("horizon-agent", "horizon-agent"));
    command.args(["exec", name]);
    command
}

pub(crate) fn output(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn definition_dir(session: &Session, name: &str) -> PathBuf {
    session.runtime_dir.join(AGENT_DIR).join(name)
}

fn socket(session: &Session, name: &str) -> PathBuf {
    definition_dir(session, name).join("1").join(SOCKET_NAME)
}

/// `podman exec` as the container's default user.
pub(crate) fn podman_exec(session: &Session, container: &str, argv: &[&str]) -> Output {
    output(
        session
            .service
            .storage
            .podman()
            .args(["exec", container])
            .args(argv),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn programs_run_through_the_agent_as_they_run_natively() {
    let installed = Installed::new("agent-native").await;
    let (session, name) = (&installed.session, installed.name.as_str());

    // The agent is PID 1; its instance directory is private and marked active.
    let pid1 = podman_exec(session, &installed.container(), &["cat", "/proc/1/cmdline"]);
    assert!(
        text(&pid1.stdout).starts_with("/run/horizon/agent\0serve\0"),
        "{pid1:?}"
    );
    let active = definition_dir(session, name).join(ACTIVE_FILE);
    assert_eq!(std::fs::read_to_string(&active).unwrap(), "1\n");
    for dir in [
        session.runtime_dir.join(AGENT_DIR),
        definition_dir(session, name),
    ] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
    }
    assert!(socket(session, name).exists());

    // argv byte for byte, stdout and stderr apart, the exit status.
    let args: &[&[u8]] = &[b"a b", b"", b"$(x) *", b"-n", b"\xff\xfe", b"line\nbreak"];
    let mut command = client(session, name);
    command.args([
        "sh",
        "-c",
        "printf '[%s]' \"$@\"; echo err >&2; exit 7",
        "sh",
    ]);
    command.args(args.iter().map(|arg| {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(arg)
    }));
    let result = output(&mut command);
    assert_exit(&result, 7);
    assert_eq!(result.stdout, b"[a b][][$(x) *][-n][\xff\xfe][line\nbreak]");
    assert_eq!(result.stderr, b"err\n");

    // stdin in.
    let mut child = client(session, name)
        .arg("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data).unwrap())
    };
    let result = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_exit(&result, 0);
    assert!(result.stdout == data, "300 000 bytes through cat");

    // Missing program: 127, as a shell; death by a signal is passed on as such.
    let result = output(client(session, name).arg("no-such-program"));
    assert_exit(&result, 127);
    assert!(text(&result.stderr).contains("no-such-program: command not found"));
    let result = output(client(session, name).args(["sh", "-c", "kill -TERM $$"]));
    assert_eq!(result.status.signal(), Some(libc::SIGTERM), "{result:?}");

    // `yes | head -1`: the program writes to the caller's pipe itself and gets SIGPIPE.
    let agent = cargo_bin("horizon-agent", "horizon-agent");
    let script = format!(
        "'{}' exec {name} yes | head -1; echo \"${{PIPESTATUS[*]}}\"",
        agent.display()
    );
    let result = output(session.command("bash").args(["-c", &script]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "y\n141 0\n");

    // The working directory: a shared subdirectory as it is, an unshared one → the home.
    let sub = session.write_home_file("src/dir with space/f", b"x");
    let sub = sub.parent().unwrap();
    let result = output(client(session, name).arg("pwd").current_dir(sub));
    assert_eq!(text(&result.stdout), format!("{}\n", sub.display()));
    // Unshared: the same directory the API path picks (the container user's home).
    let result = output(client(session, name).arg("pwd").current_dir("/"));
    let api = output(installed.run_command(["pwd"]).current_dir("/"));
    assert_exit(&api, 0);
    assert_eq!(text(&result.stdout), text(&api.stdout));

    // The environment: allowlisted variables in, the definition's win, the host's PATH not.
    let result = output(
        client(session, name)
            .args([
                "sh",
                "-c",
                "echo \"$LC_TIME|$LC_PAPER|$HORIZON_RUN_TEST|$SECRET|$PATH\"",
            ])
            .env("LC_TIME", "caller")
            .env("LC_PAPER", "caller")
            .env("SECRET", "host")
            .env(
                "PATH",
                format!("/host/bin:{}", std::env::var("PATH").unwrap()),
            ),
    );
    assert_exit(&result, 0);
    let fields: Vec<String> = text(&result.stdout)
        .trim_end()
        .split('|')
        .map(str::to_owned)
        .collect();
    assert_eq!(
        fields[..4],
        ["from-definition", "caller", "from-definition", ""],
        "{fields:?}"
    );
    assert!(!fields[4].contains("/host/bin"), "{fields:?}");

    // A stopped container has no agent: the client says so (horizon-exec then takes the API
    // path), and `start` brings the agent back and marks it active again.
    let stop = output(session.horizon_container().args(["stop", name]));
    assert_exit(&stop, 0);
    let result = output(client(session, name).arg("true"));
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("no agent listening"),
        "{}",
        text(&result.stderr)
    );
    std::fs::remove_file(&active).unwrap();
    assert_exit(
        &output(session.horizon_container().args(["start", name])),
        0,
    );
    assert_eq!(std::fs::read_to_string(&active).unwrap(), "1\n");
    assert_exit(&output(client(session, name).arg("true")), 0);
}

/// The lines of `/proc/self/status` that describe privilege and confinement, and the cgroup.
/// (Supplementary groups are not compared: `podman exec` gives a keep-id user none, while the
/// container's main process — and so the agent's programs — has those the container's
/// `/etc/group` gives, as a login would.)
const CONFINEMENT: &str = "grep -E '^(Uid|Gid|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status; cat /proc/self/cgroup; id -u; id -g";

fn confinement_via_podman(session: &Session, container: &str) -> String {
    let result = podman_exec(session, container, &["sh", "-c", CONFINEMENT]);
    assert_exit(&result, 0);
    text(&result.stdout)
}

/// A container made where no static agent is found (`HORIZON_AGENT` names a copy of this test
/// build's debug, dynamically linked horizon-agent, private to the test so that no concurrent
/// build replaces it under it): `doctor`
/// warns with the fix, `status` shows the API exec path, its exported binary still runs (through
/// the API: the program's parent is not the container's PID 1), and the fix `doctor` and `status`
/// name — `install --reinstall` with the agent found — gives it the agent.
#[tokio::test(flavor = "multi_thread")]
async fn a_container_made_without_the_agent_takes_the_api_path_until_reinstalled() {
    let bed = TestBed::shared();
    let session = bed.user_session("agent-none");
    let name = "agent-none";
    let alias = "agent-none-sh";
    session.write_user_definition(
        name,
        &serde_json::json!({"name": name, "image": bed.busybox_image(), "persistent": true})
            .to_string(),
    );
    let debug_agent = session.home.join("dynamic-horizon-agent");
    std::fs::copy(cargo_bin("horizon-agent", "horizon-agent"), &debug_agent).unwrap();
    let without_agent = |args: &[&str]| {
        output(
            session
                .horizon_container()
                .env("HORIZON_AGENT", &debug_agent)
                .args(args),
        )
    };
    let install = without_agent(&["install", name]);
    assert_exit(&install, 0);
    assert!(
        text(&install.stderr).contains(
            "is not statically linked (build it with scripts/build-agent); containers are made \
             without it"
        ),
        "install says so: {}",
        text(&install.stderr)
    );
    assert!(
        !definition_dir(&session, name).exists(),
        "no agent directory"
    );

    let doctor = without_agent(&["doctor"]);
    assert!(
        text(&doctor.stdout).contains(&format!(
            "[warning] In-container agent: the agent binary {} is not statically linked (build it \
             with scripts/build-agent): new containers are made \
             without it, and their exported binaries and `shell` take the API path (a libpod exec \
             per call, ~150 ms instead of ~3 ms)\n",
            debug_agent.display()
        )),
        "{}",
        text(&doctor.stdout)
    );
    assert!(
        text(&doctor.stdout).contains("fix: install the static agent as /usr/libexec/horizon/"),
        "{}",
        text(&doctor.stdout)
    );

    let exec_path = |session: &Session| {
        let status = output(session.horizon_container().args(["status", name]));
        assert_exit(&status, 0);
        text(&status.stdout)
            .lines()
            .find(|line| line.starts_with("exec path:"))
            .map(str::to_owned)
            .unwrap()
    };
    assert_eq!(
        exec_path(&session),
        format!(
            "exec path:    API (made without the in-container agent; `horizon-container install \
             {name} --reinstall` gives it one)"
        )
    );
    assert_exit(
        &output(
            session
                .horizon_container()
                .args(["export", "sh", "--from", name, "--as", alias]),
        ),
        0,
    );
    let parent = || {
        let result = output(session.command(alias).args(["-c", "echo $PPID; exit 4"]));
        assert_exit(&result, 4);
        text(&result.stdout)
    };
    assert_ne!(parent(), "1\n", "the API path: podman exec's process");

    assert_exit(
        &output(
            session
                .horizon_container()
                .args(["install", name, "--reinstall"]),
        ),
        0,
    );
    assert_eq!(
        exec_path(&session),
        "exec path:    agent (exported binaries and shell start in milliseconds)"
    );
    assert_eq!(parent(), "1\n", "the agent (PID 1) started it");
    assert_exit(
        &output(session.horizon_container().args(["remove", name])),
        0,
    );
}

/// A container whose agent predates terminals and login shells (one not restarted since; here the
/// `before-terminals` test build, which refuses their request flags): a plain exported call still
/// goes through it, while a program on a terminal and `shell` — requests it refuses before
/// anything runs — take the API path and work.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_from_before_terminals_leaves_terminals_and_shells_to_the_api_path() {
    let name = "agent-old";
    let alias = "agent-old-sh";
    let session = installed_with_an_old_agent(name);
    assert_exit(
        &output(
            session
                .horizon_container()
                .args(["export", "sh", "--from", name, "--as", alias]),
        ),
        0,
    );

    // No terminal: a request the old agent knows; it starts the program (its parent is PID 1).
    let plain = output(session.command(alias).args(["-c", "echo $PPID; exit 4"]));
    assert_exit(&plain, 4);
    assert_eq!(text(&plain.stdout), "1\n", "through the agent");

    // On a terminal: the pty request is refused, the API path runs it on a terminal of its own.
    let on_tty = on_terminal(
        session.command("script"),
        &format!(
            "{alias} -c 'test -t 0 && test -t 1 && echo on-a-terminal; echo ppid=$PPID; exit 5'"
        ),
    );
    assert_exit(&on_tty, 5);
    let shown = text(&on_tty.stdout);
    // Podman's exec process has its parent outside the container (PPID 0); the agent's programs
    // have the agent or its session keeper.
    // (Before it, the note that the caller's directory is not shared: the definition mounts none.)
    assert!(
        shown.ends_with("on-a-terminal\r\nppid=0\r\n"),
        "the API path, not the agent: {shown:?}"
    );

    // `shell` asks for the login shell: refused, so the API path's shell reads the commands.
    let shell = crate::shell::shell_reading(&session, name, b"echo ppid=$PPID\nexit 6\n");
    assert_exit(&shell, 6);
    assert_eq!(
        text(&shell.stdout),
        "ppid=0\n",
        "the API path, not the agent"
    );

    assert_exit(
        &output(session.horizon_container().args(["remove", name])),
        0,
    );
}

/// A session of its own (named `name`) with a persistent busybox container of definition `name`
/// installed with the `before-terminals` test build of the agent, which refuses every request
/// flag as an agent from before them did.
pub(crate) fn installed_with_an_old_agent(name: &str) -> Session {
    let bed = TestBed::shared();
    let session = bed.user_session(name);
    session.write_user_definition(
        name,
        &serde_json::json!({"name": name, "image": bed.busybox_image(), "persistent": true})
            .to_string(),
    );
    let old_agent = static_agent_before_terminals();
    assert_exit(
        &output(
            session
                .horizon_container()
                .env("HORIZON_AGENT", &old_agent)
                .args(["install", name]),
        ),
        0,
    );
    session
}

/// Runs `command_line` on a terminal: `script` is a script(1) command (with the session's user and
/// environment), which gives it a pty of its own, so the agent's client asks for one too.
fn on_terminal(mut script: Command, command_line: &str) -> Output {
    script
        .arg("-qec")
        .arg(command_line)
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().unwrap();
    // Held open until the program has ended: at the end of its stdin script(1) types an EOF
    // character, which the pty would echo into the output.
    let keys = child.stdin.take();
    let output = child.wait_with_output().unwrap();
    drop(keys);
    output
}

/// A program on the agent's pty writing a lot and ending at once: every byte reaches the caller's
/// terminal (the relay drains the pty after the program has ended), in order, with the terminal's
/// own newline translation; the exit status comes back. script(1) is the caller's terminal.
#[tokio::test(flavor = "multi_thread")]
async fn a_program_on_a_terminal_loses_no_output() {
    let installed = Installed::new("agent-pty-volume").await;
    let (session, name) = (&installed.session, installed.name.as_str());
    const LINES: usize = 100_000;
    let result = on_terminal(
        session.command("script"),
        &format!(
            "{} exec {name} sh -c 'test -t 1 || exit 9; seq 1 {LINES}; exit 3'",
            cargo_bin("horizon-agent", "horizon-agent").display()
        ),
    );
    assert_exit(&result, 3);
    let shown = text(&result.stdout);
    let expected: String = (1..=LINES).map(|line| format!("{line}\r\n")).collect();
    assert!(
        shown == expected,
        "{} bytes shown, {} expected; the end: {:?}",
        shown.len(),
        expected.len(),
        &shown[shown.len().saturating_sub(40)..]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_process_is_confined_exactly_like_a_podman_exec_process() {
    // Rootless (keep-id): the user's uid, no capabilities.
    let installed = Installed::new("agent-confined").await;
    let (session, name) = (&installed.session, installed.name.as_str());
    let through_agent = output(client(session, name).args(["sh", "-c", CONFINEMENT]));
    assert_exit(&through_agent, 0);
    let expected = confinement_via_podman(session, &installed.container());
    assert_eq!(text(&through_agent.stdout), expected);
    assert!(expected.contains("Seccomp:\t2"), "{expected}");
    assert!(expected.contains("NoNewPrivs:\t1"), "{expected}");

    // Rootful (a system container): root's program as root, same as podman exec; a normal
    // user's program runs as that user, never as root.
    let bed = TestBed::shared();
    let root = bed.root_session("agent-rootful");
    let name = "agent-rootful";
    root.write_system_definition(
        name,
        &serde_json::json!({"name": name, "image": bed.busybox_image(), "mounts": ["/tmp"]})
            .to_string(),
    );
    assert_exit(&output(root.horizon_container().args(["install", name])), 0);
    let container = format!("horizonos-{name}");
    let through_agent = output(client(&root, name).args(["sh", "-c", CONFINEMENT]));
    assert_exit(&through_agent, 0);
    assert_eq!(
        text(&through_agent.stdout),
        confinement_via_podman(&root, &container)
    );
    let user = bed.user_session("agent-rootful-user");
    let account = user.account.clone().unwrap();
    let mut as_user = client(&user, name);
    as_user
        .env("HORIZON_RUNTIME_DIR", &root.runtime_dir)
        .args(["sh", "-c", CONFINEMENT])
        .current_dir("/tmp");
    let through_agent = output(&mut as_user);
    assert_exit(&through_agent, 0);
    let via_podman = output(
        root.service
            .storage
            .podman()
            .args([
                "exec",
                "--user",
                &format!("{}:{}", account.uid, account.gid),
            ])
            .args([container.as_str(), "sh", "-c", CONFINEMENT]),
    );
    assert_exit(&via_podman, 0);
    assert_eq!(text(&through_agent.stdout), text(&via_podman.stdout));
    assert!(
        text(&through_agent.stdout).contains(&format!("Uid:\t{0}\t{0}\t{0}\t{0}", account.uid)),
        "{}",
        text(&through_agent.stdout)
    );
    // On a terminal (script(1) gives the client one, so the agent makes a pty and runs the
    // program under its session keeper): the same confinement, and the pty is the user's own
    // (ssh and sudo reopen their terminal by name).
    let check = root.write_home_file(
        "tty-check.sh",
        format!("{CONFINEMENT}\nstat -c tty-owner=%u \"$(tty)\"\n").as_bytes(),
    );
    let shared_check = PathBuf::from("/tmp").join(format!("horizon-tty-check-{}.sh", account.uid));
    std::fs::copy(&check, &shared_check).unwrap();
    let mut script = user.command("script");
    script
        .env("HORIZON_RUNTIME_DIR", &root.runtime_dir)
        .current_dir("/tmp");
    let on_terminal = on_terminal(
        script,
        &format!(
            "{} exec {name} sh {}",
            cargo_bin("horizon-agent", "horizon-agent").display(),
            shared_check.display()
        ),
    );
    std::fs::remove_file(&shared_check).unwrap();
    assert_exit(&on_terminal, 0);
    assert_eq!(
        text(&on_terminal.stdout).replace("\r\n", "\n"),
        format!("{}tty-owner={}\n", text(&via_podman.stdout), account.uid)
    );
    assert_exit(&output(root.horizon_container().args(["remove", name])), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_socket_is_private_and_the_client_refuses_a_redirected_one() {
    let installed = Installed::new("agent-private").await;
    let (session, name) = (&installed.session, installed.name.as_str());

    // Another user can neither reach the directory nor connect to the socket.
    let mut other = client(session, name);
    other.arg("true").uid(NOBODY).gid(NOBODY);
    let result = output(&mut other);
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("Permission denied"),
        "{result:?}"
    );
    let socket_path = socket(session, name);
    let connect_as_nobody = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .args([
            "/usr/bin/python3",
            "-c",
            "import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])",
        ])
        .arg(&socket_path)
        .output()
        .unwrap();
    assert!(!connect_as_nobody.status.success());
    assert!(
        text(&connect_as_nobody.stderr).contains("PermissionError"),
        "{}",
        text(&connect_as_nobody.stderr)
    );

    // Inside the container, the socket is replaced by a symlink: the client refuses it.
    let container = installed.container();
    let swap = podman_exec(
        session,
        &container,
        &[
            "sh",
            "-c",
            "cd /run/horizon/socket && mv agent.sock real.sock && ln -s real.sock agent.sock",
        ],
    );
    assert_exit(&swap, 0);
    let result = output(client(session, name).arg("true"));
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("agent.sock: it is a symlink"),
        "{}",
        text(&result.stderr)
    );
    podman_exec(
        session,
        &container,
        &[
            "sh",
            "-c",
            "cd /run/horizon/socket && rm agent.sock && mv real.sock agent.sock",
        ],
    );
    assert_exit(&output(client(session, name).arg("true")), 0);

    // A socket owned by someone else (neither the caller nor root) is refused too.
    std::os::unix::fs::lchown(&socket_path, Some(NOBODY), None).unwrap();
    let result = output(client(session, name).arg("true"));
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("owned by uid 65534"),
        "{}",
        text(&result.stderr)
    );
}

/// Sends `frame` (with `fds`) on a fresh connection and returns the agent's answer.
fn answer(
    socket: &PathBuf,
    frame: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> Option<AgentMessage> {
    let stream = UnixStream::connect(socket).unwrap();
    // A refused connection may be closed before everything was written.
    let _ = send_frame(&stream, frame, fds);
    let payload = read_frame(&stream).ok().flatten()?;
    Some(parse_agent_message(&payload).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_are_refused_and_the_agent_goes_on() {
    let installed = Installed::new("agent-malformed").await;
    let (session, name) = (&installed.session, installed.name.as_str());
    let socket = socket(session, name);
    let refused = |message: Option<AgentMessage>, expected: RefusalKind| match message {
        Some(AgentMessage::Refused { kind, .. }) => assert_eq!(kind, expected),
        other => panic!("expected a {expected:?} refusal, got {other:?}"),
    };
    // Garbage, an unknown kind, another version, a frame beyond the limit.
    refused(
        answer(&socket, &[3, 0, 0, 0, 200, 2, 3], &[]),
        RefusalKind::Malformed,
    );
    refused(
        answer(&socket, &[1, 0, 0, 0, 99], &[]),
        RefusalKind::Malformed,
    );
    refused(
        answer(&socket, &[3, 0, 0, 0, 1, 9, 0], &[]),
        RefusalKind::Version,
    );
    refused(
        answer(&socket, &u32::MAX.to_le_bytes(), &[]),
        RefusalKind::Malformed,
    );
    // A request announcing three streams but carrying none.
    let request = Request {
        streams: 7,
        argv: vec![b"true".to_vec()],
        login_shell: false,
        working_dirs: vec![],
        environment: vec![],
        terminal: None,
        explicit_environment: vec![],
        exact_working_dir: None,
    };
    let frame = encode_client_message(&ClientMessage::Request(request.clone()));
    refused(answer(&socket, &frame, &[]), RefusalKind::Malformed);
    // Four descriptors: more than stdin, stdout and stderr.
    let files: Vec<std::fs::File> = (0..4)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    let fds: Vec<_> = files.iter().map(std::os::fd::AsFd::as_fd).collect();
    refused(answer(&socket, &frame, &fds), RefusalKind::Malformed);
    // A disallowed variable, and a connection that sends half a frame and goes away.
    let mut sneaky = encode_client_message(&ClientMessage::Request(Request {
        environment: vec![b"LANG=C".to_vec()],
        streams: 0,
        ..request
    }));
    let lang = sneaky.windows(4).position(|w| w == b"LANG").unwrap();
    sneaky[lang..lang + 4].copy_from_slice(b"PATH");
    refused(answer(&socket, &sneaky, &[]), RefusalKind::Malformed);
    let half = UnixStream::connect(&socket).unwrap();
    (&half).write_all(&frame[..frame.len() / 2]).unwrap();
    drop(half);

    // Still serving, still the same process.
    let pid1 = podman_exec(session, &installed.container(), &["cat", "/proc/1/cmdline"]);
    assert!(text(&pid1.stdout).starts_with("/run/horizon/agent\0"));
    let result = output(client(session, name).args(["echo", "still here"]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "still here\n");
    let logs = output(session.horizon_container().args(["logs", name]));
    assert!(
        text(&logs.stderr).contains("horizon-agent: refused a request of uid"),
        "{logs:?}"
    );
}

/// Connects to `socket` as euid and egid `uid` while path lookups keep root's fsuid (so the
/// directories' modes do not stop it: what the agent itself does with the peer's credentials is
/// what is tested), sends `frame` and returns the agent's answer.
fn answer_as_uid(socket: &std::path::Path, uid: u32, frame: &[u8]) -> Option<AgentMessage> {
    const SCRIPT: &str = r#"
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
uid = int(sys.argv[1])
# Socket paths are limited to 108 bytes: connect relative to the socket's directory.
os.chdir(os.path.dirname(sys.argv[2]))
os.setgroups([])
os.setresgid(0, uid, 0)
os.setresuid(0, uid, 0)
libc.setfsuid(0)
libc.setfsgid(0)
s = socket.socket(socket.AF_UNIX)
s.connect(os.path.basename(sys.argv[2]))
s.sendall(bytes.fromhex(sys.argv[3]))
def read(n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            break
        got += chunk
    return got
header = read(4)
if len(header) == 4:
    sys.stdout.write(read(int.from_bytes(header, "little")).hex())
"#;
    let hex: String = frame.iter().map(|byte| format!("{byte:02x}")).collect();
    let result = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, &uid.to_string()])
        .arg(socket)
        .arg(hex)
        .output()
        .unwrap();
    assert!(result.status.success(), "{result:?}");
    let payload = text(&result.stdout);
    if payload.is_empty() {
        return None;
    }
    let bytes: Vec<u8> = (0..payload.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&payload[at..at + 2], 16).unwrap())
        .collect();
    Some(parse_agent_message(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn roots_own_user_container_is_not_open_to_other_users() {
    let bed = TestBed::shared();
    let root = bed.root_session("agent-root-own");
    let name = crate::unique_name("agent-root-own");
    root.write_user_definition(
        &name,
        &serde_json::json!({"name": name, "image": bed.busybox_image()}).to_string(),
    );
    assert_exit(
        &output(root.horizon_container().args(["install", &name])),
        0,
    );

    // Its directories are root's alone, its socket too; root itself still runs commands.
    let instance = definition_dir(&root, &name).join("1");
    for (path, expected) in [
        (definition_dir(&root, &name), 0o700),
        (instance.clone(), 0o700),
        (instance.join(SOCKET_NAME), 0o600),
    ] {
        let mode = std::fs::symlink_metadata(&path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
    }
    let result = output(client(&root, &name).args(["echo", "root's own"]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "root's own\n");

    // Another user is stopped by the directory.
    let mut other = client(&root, &name);
    other.arg("true").uid(NOBODY).gid(NOBODY);
    let result = output(&mut other);
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("Permission denied"),
        "{result:?}"
    );

    // And by the agent, had it got past the directory: it serves only its owner.
    let request = Request {
        streams: 0,
        argv: vec![b"true".to_vec()],
        login_shell: false,
        working_dirs: vec![],
        environment: vec![],
        terminal: None,
        explicit_environment: vec![],
        exact_working_dir: None,
    };
    let frame = encode_client_message(&ClientMessage::Request(request));
    match answer_as_uid(&instance.join(SOCKET_NAME), NOBODY, &frame) {
        Some(AgentMessage::Refused { kind, message }) => {
            assert_eq!(kind, RefusalKind::Permission);
            assert_eq!(
                message,
                "this container's agent serves only its owner, uid 0 (uid 65534 asked)"
            );
        }
        other => panic!("expected a permission refusal, got {other:?}"),
    }
    // A system container's agent still serves every user, as that user.
    let system = crate::unique_name("agent-root-shared");
    root.write_system_definition(
        &system,
        &serde_json::json!({"name": system, "image": bed.busybox_image()}).to_string(),
    );
    assert_exit(
        &output(root.horizon_container().args(["install", &system])),
        0,
    );
    let shared = definition_dir(&root, &system).join("1");
    for path in [definition_dir(&root, &system), shared.clone()] {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755, "{}", path.display());
    }
    let frame = encode_client_message(&ClientMessage::Request(Request {
        streams: 0,
        argv: vec![b"true".to_vec()],
        login_shell: false,
        working_dirs: vec![],
        environment: vec![],
        terminal: None,
        explicit_environment: vec![],
        exact_working_dir: None,
    }));
    match answer_as_uid(&shared.join(SOCKET_NAME), NOBODY, &frame) {
        Some(AgentMessage::Started { .. }) => {}
        other => panic!("expected the system container to start it, got {other:?}"),
    }
    for name in [&name, &system] {
        assert_exit(&output(root.horizon_container().args(["remove", name])), 0);
    }
}
