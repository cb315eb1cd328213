//! The exec options (`-e NAME=VALUE`, `-w DIR`, `-t`, `-T`) through the real agent in a real
//! container, driven with the bare agent client (`horizon-agent exec [OPTIONS] NAME …`, the same
//! client library horizon-core calls): explicit variables win over the definition's and the
//! forwarded ones, any name allowed, values byte for byte; an exact directory is used as it is, or
//! refused with nothing run; `-t` gives a terminal to a caller in a pipeline (its stdin's end
//! reaching the program as the terminal's end of file), `-T` gives none to a caller on a terminal
//! (tmux) while its keys and output still pass; and an agent that predates the options refuses
//! them, which the client turns into "no agent" (the caller's cue to take the API path).

use std::io::Write;
use std::process::Stdio;

use horizon_e2e::bins::cargo_bin;

use std::process::Command;

use horizon_e2e::session::Session;

use super::agent::{installed_with_an_old_agent, output, podman_exec};
use super::run::Installed;
use super::shell::Tmux;
use crate::{assert_exit, text};

/// `horizon-agent exec` as the session's user; options, then the definition's name, follow.
fn agent_exec(session: &Session) -> Command {
    let mut command = session.command(cargo_bin("horizon-agent", "horizon-agent"));
    command.arg("exec");
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn explicit_variables_and_an_exact_directory_reach_the_program() {
    let installed = Installed::new("agent-opts-env").await;
    let (session, name) = (&installed.session, installed.name.as_str());

    // `-e` over the definition's variables (HORIZON_RUN_TEST, and LC_TIME, which the definition
    // fixes against the caller's), over a forwarded one (LC_PAPER), new ones of any name (LD_*),
    // values with spaces, newlines and '=' byte for byte; the implicit allowlist is unchanged
    // (SECRET stays out).
    let result = output(
        agent_exec(session)
            .args([
                "-e",
                "HORIZON_RUN_TEST=explicit",
                "-e",
                "LC_TIME=explicit time",
                "-e",
                "LC_PAPER=explicit",
                "-e",
                "NEW=a  b\nc=d ",
                "-e",
                "LD_LIBRARY_PATH=/opt/lib dir",
                "-e",
                "EMPTY=",
            ])
            .arg(name)
            .args([
                "sh",
                "-c",
                "printf '[%s]' \"$HORIZON_RUN_TEST\" \"$LC_TIME\" \"$LC_PAPER\" \"$NEW\" \
                 \"$LD_LIBRARY_PATH\" \"${EMPTY-unset}\" \"$SECRET\"",
            ])
            .env("LC_PAPER", "caller")
            .env("LC_TIME", "caller")
            .env("SECRET", "host"),
    );
    assert_exit(&result, 0);
    assert_eq!(
        text(&result.stdout),
        "[explicit][explicit time][explicit][a  b\nc=d ][/opt/lib dir][][]"
    );
    assert_eq!(text(&result.stderr), "");
    // A name the client cannot send is refused before anything is asked.
    let result = output(agent_exec(session).args(["-e", "=value", name, "true"]));
    assert_exit(&result, 125);
    assert_eq!(
        text(&result.stderr),
        "horizon-agent: \"\" is not a variable name (it must not be empty nor contain '=' or a \
         NUL byte)\n"
    );

    // `-w`: that directory, as it is, from a caller's directory the container does not share
    // (no note, no fallback to the home), and over a shared one.
    let result = output(
        agent_exec(session)
            .args(["-w", "/tmp", name, "pwd"])
            .current_dir("/"),
    );
    assert_exit(&result, 0);
    assert_eq!(
        (text(&result.stdout), text(&result.stderr)),
        ("/tmp\n".into(), "".into())
    );
    let result = output(agent_exec(session).args(["-w", "/etc", name, "pwd"]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "/etc\n");

    // Not a directory in the container (missing, or a file): refused, 125, nothing ran.
    let container = installed.container();
    for missing in ["/nonexistent", "/etc/passwd"] {
        let marker = "/tmp/agent-opts-ran";
        let result = output(agent_exec(session).args(["-w", missing, name, "touch", marker]));
        assert_exit(&result, 125);
        assert_eq!(
            (text(&result.stdout), text(&result.stderr)),
            (
                "".into(),
                format!("horizon-agent: no directory {missing} in the container {container}\n")
            )
        );
        let ran = podman_exec(session, &container, &["test", "-e", marker]);
        assert_exit(&ran, 1);
    }
    // A relative directory is not sent at all.
    let result = output(agent_exec(session).args(["-w", "tmp", name, "true"]));
    assert_exit(&result, 125);
    assert!(
        text(&result.stderr).contains("the working directory tmp is not an absolute path"),
        "{}",
        text(&result.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_is_given_with_t_and_withheld_with_capital_t() {
    let installed = Installed::new("agent-opts-tty").await;
    let (session, name) = (&installed.session, installed.name.as_str());

    // `-t` in a pipeline: the program is on a terminal (all three streams, stderr merged into
    // stdout), in a new terminal's settings (so the input is echoed, and newlines become CRLF),
    // sized by LINES and COLUMNS; the end of the piped stdin ends `cat`'s input.
    let mut child = agent_exec(session)
        .args(["-t", name, "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hi\n").unwrap();
    let result = child.wait_with_output().unwrap();
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "hi\r\nhi\r\n");
    assert_eq!(text(&result.stderr), "");
    let result = output(
        agent_exec(session)
            .args(["-t", name, "sh", "-c"])
            .arg("test -t 0 && test -t 1 && test -t 2 && echo on-a-tty; stty size; echo err >&2; exit 3")
            .env("LINES", "30")
            .env("COLUMNS", "100"),
    );
    assert_exit(&result, 3);
    assert_eq!(text(&result.stdout), "on-a-tty\r\n30 100\r\nerr\r\n");
    assert_eq!(text(&result.stderr), "");
    // Without LINES and COLUMNS: 24×80.
    let result = output(agent_exec(session).args(["-t", name, "stty", "size"]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "24 80\r\n");

    // `-T` on a terminal (a tmux pane): no terminal for the program — not even the caller's own
    // descriptors, which would be one — while the pane still shows its output and takes a line
    // it reads; without `-T` the same call is on a terminal.
    let agent = cargo_bin("horizon-agent", "horizon-agent");
    let script = format!(
        "'{agent}' exec -T {name} sh -c 'test -t 0; echo \"t0=$?\"; test -t 1; echo \"t1=$?\"; \
         test -t 2; echo \"t2=$?\" >&2; read line; echo \"got $line\"'; echo \"rc=$?\"\n\
         '{agent}' exec {name} sh -c 'test -t 0 && test -t 1 && echo auto-on-a-tty'\n\
         sleep 600\n",
        agent = agent.display()
    );
    let tmux = Tmux::start(session, &script, 100, 30);
    tmux.wait_for("t0=1");
    tmux.wait_for("t1=1");
    tmux.wait_for("t2=1");
    tmux.line("hello there");
    tmux.wait_for("got hello there");
    tmux.wait_for("rc=0");
    tmux.wait_for("auto-on-a-tty");
}

/// A container whose agent predates the options (the `before-terminals` test build, which
/// refuses every flag as a reserved bit): each option is refused before anything runs, and the
/// client says "no agent" (which sends horizon-core and horizon-exec to the API path); a call that
/// needs no option still runs through that agent.
#[tokio::test(flavor = "multi_thread")]
async fn an_agent_from_before_the_options_leaves_them_to_the_api_path() {
    let name = "agent-opts-old";
    let session = installed_with_an_old_agent(name);
    let marker = "/tmp/agent-opts-old-ran";
    for options in [
        &["-e", "A=b"][..],
        &["-w", "/tmp"][..],
        // Piped streams: a terminal only because it is forced.
        &["-t"][..],
    ] {
        let result = output(
            agent_exec(&session)
                .args(options)
                .args([name, "touch", marker]),
        );
        assert_exit(&result, 125);
        let stderr = text(&result.stderr);
        assert!(
            stderr.starts_with("horizon-agent: no agent: the container's agent refused")
                && stderr.contains("it predates them"),
            "{options:?}: {stderr}"
        );
    }
    let container = format!("horizonos-{name}");
    assert_exit(
        &podman_exec(&session, &container, &["test", "-e", marker]),
        1,
    );
    // `-T` without a terminal asks for nothing new: the old agent runs it (its parent is PID 1).
    let result = output(agent_exec(&session).args(["-T", name, "sh", "-c", "echo $PPID"]));
    assert_exit(&result, 0);
    assert_eq!(text(&result.stdout), "1\n");
    assert_exit(
        &output(session.horizon_container().args(["remove", name])),
        0,
    );
}
