//! `horizon-dev` end to end, as the test user: any command in the development container with
//! `run`'s transparency (argv, streams, exit status) through the agent, a command named like
//! horizon-dev's own verbs after `--`, the container chosen by `--container`, by the
//! configuration file, and a broken file refused at its line; `shell`; and a development
//! container that is not installed: refused without a terminal, installed with `--yes`, and
//! offered (and installed) on a terminal.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use horizon_e2e::TestBed;
use horizon_e2e::bins::cargo_bin;
use horizon_e2e::session::Session;

use crate::run::{Installed, outcome};
use crate::shell::Tmux;

/// `horizon-dev ARGS...` in `session`.
fn horizon_dev(session: &Session) -> Command {
    session.command(cargo_bin("horizon-dev", "horizon-dev"))
}

/// Runs `horizon-dev ARGS...` without stdin.
fn dev(session: &Session, args: &[&str]) -> Output {
    horizon_dev(session)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn commands_run_in_the_development_container_as_with_run() {
    let installed = Installed::new("dev-cmd").await;
    let session = &installed.session;
    let name = installed.name.as_str();
    // Through the agent (forced: no fallback), every argument as it is, the status passed on.
    let output = horizon_dev(session)
        .env("HORIZON_EXEC_PATH", "agent")
        .args([
            "--container",
            name,
            "sh",
            "-c",
            "printf '%s|' \"$@\"; exit 7",
            "sh",
        ])
        .args(["a b", "--help", "-e", "", "$HOME"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (Some(7), "a b|--help|-e||$HOME|".into(), String::new())
    );
    // stdin in, stdout out; options before the command are horizon-dev's.
    let mut child = horizon_dev(session)
        .args([
            "--container",
            name,
            "-e",
            "X=from -e",
            "sh",
            "-c",
            "cat; echo \"$X\"",
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
        .write_all(b"piped in\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        outcome(&output),
        (Some(0), "piped in\nfrom -e\n".into(), String::new())
    );

    // A program named like horizon-dev's own verbs, after `--`.
    let bin = session.write_home_file("bin/setup", b"#!/bin/sh\necho \"setup ran: $*\"\n");
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:/bin:/usr/bin", bin.parent().unwrap().display());
    let output = dev(
        session,
        &[
            "--container",
            name,
            "-e",
            &format!("PATH={path}"),
            "--",
            "setup",
            "--list",
        ],
    );
    assert_eq!(
        outcome(&output),
        (Some(0), "setup ran: --list\n".into(), String::new())
    );
    // A missing program is the command's failure, told as a shell tells it.
    let output = dev(session, &["--container", name, "no-such-tool"]);
    assert_eq!(
        outcome(&output),
        (
            Some(127),
            String::new(),
            "no-such-tool: command not found\n".into()
        )
    );

    // `shell` without a terminal reads commands from stdin.
    let mut child = horizon_dev(session)
        .args(["--container", name, "shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo \"shell: $HORIZON_RUN_TEST\"\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        outcome(&output),
        (Some(0), "shell: from-definition\n".into(), String::new())
    );
}

#[tokio::test]
async fn the_configuration_file_names_the_development_container() {
    let installed = Installed::new("dev-config").await;
    let session = &installed.session;
    let config = session.write_home_file(
        ".config/horizonos/dev.json",
        format!("{{\"container\": \"{}\"}}", installed.name).as_bytes(),
    );
    let output = dev(session, &["sh", "-c", "echo \"$HORIZON_RUN_TEST\""]);
    assert_eq!(
        outcome(&output),
        (Some(0), "from-definition\n".into(), String::new())
    );
    // --container (and HORIZON_DEV_CONTAINER) win over the file.
    let output = horizon_dev(session)
        .env("HORIZON_DEV_CONTAINER", "dev-config-nothing-here")
        .args(["true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (status, _, stderr) = outcome(&output);
    assert_eq!(status, Some(125));
    assert!(
        stderr.contains("dev-config-nothing-here is not installed"),
        "{stderr}"
    );

    std::fs::write(&config, "{\n  \"contaner\": \"x\"\n}\n").unwrap();
    let output = dev(session, &["true"]);
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            format!(
                "horizon-dev: error: {}:2:12: unknown field `contaner`, expected `container`\n",
                config.display()
            )
        )
    );
}

#[tokio::test]
async fn a_development_container_that_is_not_installed_is_offered_for_install() {
    let bed = TestBed::shared();
    let name = crate::unique_name("dev-offer");
    let session = bed.user_session(&name);
    let definition = serde_json::json!({
        "name": name,
        "image": bed.busybox_image(),
        "mounts": [session.home.display().to_string()],
    });
    session.write_user_definition(&name, &definition.to_string());

    // Without a terminal: refused, with the ways out, and nothing installed.
    let output = dev(&session, &["--container", &name, "true"]);
    assert_eq!(
        outcome(&output),
        (
            Some(125),
            String::new(),
            format!(
                "horizon-dev: error: the development container {name} is not installed (no \
                 terminal to ask on)\n\
                 hint: install it: `horizon-container install {name}`\n\
                 hint: or let horizon-dev install it first: `horizon-dev --container {name} \
                 --yes …`\n"
            )
        )
    );
    let state = |session: &Session| {
        let status = session.horizon(&["status", &name]);
        let stdout = crate::text(&status.stdout);
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("state:"))
            .map(|state| state.trim().to_owned())
            .unwrap_or_else(|| panic!("{status:?}"))
    };
    assert_eq!(state(&session), "not installed");

    // On a terminal: asked; "n" installs nothing, "y" installs it and runs the command.
    let script = format!(
        "{dev} --container {name} sh -c 'echo ran-in-$HOSTNAME'\necho \"exited=$?\"\n\
         {dev} --container {name} sh -c 'echo ran-in-$HOSTNAME'\necho \"exited=$?\"\nsleep 600\n",
        dev = cargo_bin("horizon-dev", "horizon-dev").display()
    );
    let tmux = Tmux::start(&session, &script, 160, 40);
    tmux.wait_for_line("the question", |line| {
        line.ends_with("is not installed. Install it now? [y/N]")
    });
    tmux.line("n");
    tmux.wait_for("exited=125");
    tmux.wait_for_line("the second question", |line| {
        line.ends_with("Install it now? [y/N]")
    });
    tmux.line("y");
    let screen = tmux.wait_for("exited=0");
    assert!(
        screen.contains(&format!("installing the development container {name}")),
        "{screen}"
    );
    assert!(
        screen.lines().any(|line| line.starts_with("ran-in-")),
        "{screen}"
    );
    assert_eq!(state(&session), "running");

    // --yes on a container removed again: installed without asking, no terminal needed.
    let removed = session.horizon(&["remove", &name]);
    assert_eq!(removed.status.code(), Some(0), "{removed:?}");
    let output = dev(
        &session,
        &["--container", &name, "--yes", "echo", "installed"],
    );
    let (status, stdout, stderr) = outcome(&output);
    assert_eq!(
        (status, stdout.as_str()),
        (Some(0), "installed\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("installing the development container {name}")),
        "{stderr}"
    );
}
