//! The exec options users of `podman exec` and `toolbox run` expect, on both exec paths (each
//! forced with `HORIZON_EXEC_PATH`): `-e` (over the container's own values, byte for byte, NAME
//! alone taking the caller's value), `-w` (a directory in the container, a missing one refused
//! before anything runs), `-t` (a terminal without one), `-T` (none on one), `--user` (the API
//! path only, said so when the agent is forced), and `shell` taking the same options.

use std::io::Write;
use std::process::Stdio;

use crate::run::{EXEC_PATHS, Installed, outcome};
use crate::shell::Tmux;

#[tokio::test]
async fn env_and_workdir_options_apply_on_both_paths() {
    let installed = Installed::new("exec-options").await;
    for path in EXEC_PATHS {
        let via = installed.via(path);
        let session = &installed.session;
        let print = "printf '%s|' \"$HORIZON_RUN_TEST\" \"$NEW\" \"$FROM_CALLER\" \"${NOT_SET-unset}\"; pwd";
        let output = session
            .horizon_container()
            .env("HORIZON_EXEC_PATH", path)
            .env("FROM_CALLER", "the caller's")
            .args([
                "run",
                "-e",
                "HORIZON_RUN_TEST=from -e",
                "--env",
                "NEW=a b\n'c' $d",
                "-e",
                "FROM_CALLER",
                "-e",
                "NOT_SET",
                "-w",
                "/tmp",
                &installed.name,
                "sh",
                "-c",
                print,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // The definition's own HORIZON_RUN_TEST loses to -e; -e NAME takes the caller's value and
        // skips one the caller does not have; -w is where it runs, with no note.
        assert_eq!(
            outcome(&output),
            (
                Some(0),
                "from -e|a b\n'c' $d|the caller's|unset|/tmp\n".into(),
                String::new()
            ),
            "{path}"
        );

        let missing = session
            .horizon_container()
            .env("HORIZON_EXEC_PATH", path)
            .args([
                "run",
                "-w",
                "/no/such/dir",
                &installed.name,
                "sh",
                "-c",
                "echo ran",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        // Refused before anything runs, in the same words on both paths.
        assert_eq!(
            outcome(&missing),
            (
                Some(125),
                String::new(),
                format!(
                    "horizon-container: error: no directory /no/such/dir in the container {}\n",
                    via.container()
                )
            ),
            "{path}"
        );

        let bad = via
            .session
            .horizon(&["run", "-e", "=x", &installed.name, "true"]);
        assert_eq!(
            outcome(&bad),
            (
                Some(125),
                String::new(),
                "horizon-container: error: -e =x: no variable name before '='\n\
                 hint: -e NAME=VALUE\n"
                    .into()
            )
        );
    }
}

#[tokio::test]
async fn tty_options_force_a_terminal_on_or_off_on_both_paths() {
    let installed = Installed::new("exec-tty").await;
    let check = "if test -t 0 && test -t 1; then echo tty-yes; else echo tty-no; fi";
    for path in EXEC_PATHS {
        // -t without a terminal here: the command still gets one (its output is the terminal's,
        // lines ending in CR LF).
        let output = installed
            .session
            .horizon_container()
            .env("HORIZON_EXEC_PATH", path)
            .args(["run", "-t", &installed.name, "sh", "-c", check])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
            .wait_with_output()
            .unwrap();
        let (status, stdout, stderr) = outcome(&output);
        assert_eq!(
            (status, stdout.trim_end(), stderr.as_str()),
            (Some(0), "tty-yes", ""),
            "{path}"
        );

        // -T on a terminal: the command gets none.
        let script = format!(
            "HORIZON_EXEC_PATH={path} {} run -T {} sh -c '{check}'\necho \"exited=$?\"\nsleep 600\n",
            crate::shell::binary(),
            installed.name
        );
        let tmux = Tmux::start_named(
            &installed.session,
            &format!("tmux-{path}"),
            &script,
            100,
            30,
        );
        let screen = tmux.wait_for("exited=0");
        assert!(
            screen.lines().any(|line| line.trim_end() == "tty-no"),
            "{path}: {screen}"
        );
    }
}

#[tokio::test]
async fn user_runs_on_the_api_path_and_shell_takes_the_same_options() {
    let installed = Installed::new("exec-user").await;
    let session = &installed.session;
    // Rootless with keep-id: the command runs as the caller's uid unless --user says otherwise.
    let own = session.horizon(&["run", &installed.name, "id", "-u"]);
    let (status, own_uid, _) = outcome(&own);
    assert_eq!(status, Some(0));
    assert_ne!(own_uid, "0\n");
    let root = session.horizon(&["run", "--user", "0", &installed.name, "id", "-u"]);
    assert_eq!(outcome(&root), (Some(0), "0\n".into(), String::new()));
    let forced = session
        .horizon_container()
        .env("HORIZON_EXEC_PATH", "agent")
        .args(["run", "--user", "0", &installed.name, "id", "-u"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&forced),
        (
            Some(125),
            String::new(),
            "horizon-container: error: no agent: only the libpod API runs a command as another \
             user\n"
                .into()
        )
    );

    // `shell` without a terminal reads its commands from stdin, with the same options.
    for path in EXEC_PATHS {
        let mut child = session
            .horizon_container()
            .env("HORIZON_EXEC_PATH", path)
            .args([
                "shell",
                "-e",
                "GREETING=from -e",
                "-w",
                "/tmp",
                &installed.name,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"echo \"$GREETING in $(pwd)\"\n")
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            outcome(&output),
            (Some(0), "from -e in /tmp\n".into(), String::new()),
            "{path}"
        );
    }
}
