//! Table tests of [`plan`] and [`needs_user_facts`]: the whole request for each kind of caller.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use super::*;
use crate::engine::{BindMount, ContainerSpec};

/// A container created with `CONTAINER_PURPOSE` and `LANG` in its environment.
fn container() -> ContainerDetails {
    let spec = ContainerSpec {
        env: BTreeMap::from([
            ("CONTAINER_PURPOSE".to_owned(), "development".to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ]),
        ..ContainerSpec::default()
    };
    ContainerDetails {
        mounts: vec![BindMount {
            source: "/home/me".into(),
            target: "/home/me".into(),
            read_only: false,
        }],
        labels: BTreeMap::from([(
            crate::labels::CREATE_SPEC.to_owned(),
            serde_json::to_string(&spec).unwrap(),
        )]),
        ..ContainerDetails::fixture("horizonos-dev")
    }
}

fn caller(dir: &str, tty: bool) -> Caller {
    Caller {
        working_dirs: vec![PathBuf::from(dir)],
        environment: vec![
            ("TERM".into(), "xterm-kitty".into()),
            ("LANG".into(), "de_DE.UTF-8".into()),
            ("PATH".into(), "/host/bin".into()),
        ],
        tty,
        options: ExecOptions::default(),
    }
}

fn user() -> UserFacts {
    parse_user_facts("home=/home/me\nuid=1000\nlogin_shell=/bin/zsh\nbash=/bin/bash\nsh=/bin/sh\n")
}

fn command(argv: &[&str]) -> Invocation {
    Invocation::Command(argv.iter().map(OsString::from).collect())
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn a_command_from_a_shared_directory_needs_no_probe() {
    let invocation = command(&["git", "status"]);
    let caller = caller("/home/me/src", false);
    assert!(!needs_user_facts(&invocation, &caller, &container()));
    let plan = plan(&invocation, &caller, &container(), None).unwrap();
    assert_eq!(
        plan,
        ExecPlan {
            container: "horizonos-dev".into(),
            request: ExecRequest {
                tty: false,
                argv: vec!["git".into(), "status".into()],
                // The container's LANG wins over the caller's (it keeps its own value, as does
                // PATH): only the caller's TERM is passed.
                env: env(&[("TERM", "xterm-kitty")]),
                working_dir: Some("/home/me/src".into()),
                user: None,
            },
            notes: vec![],
        }
    );
}

#[test]
fn an_unshared_directory_falls_back_to_the_home_with_a_note() {
    let invocation = command(&["pwd"]);
    let caller = caller("/etc/ssh", true);
    assert!(needs_user_facts(&invocation, &caller, &container()));
    let plan = plan(&invocation, &caller, &container(), Some(&user())).unwrap();
    assert_eq!(plan.request.working_dir.as_deref(), Some("/home/me"));
    assert!(plan.request.tty);
    // The container is configured with LANG: the caller's does not override it.
    assert_eq!(plan.request.env, env(&[("TERM", "xterm-kitty")]));
    assert_eq!(
        plan.notes,
        vec![PlanNote::WorkingDirNotShared {
            caller_dir: Some("/etc/ssh".into()),
            running_in: Some("/home/me".into()),
        }]
    );
}

#[test]
fn without_a_shell_the_container_default_directory_is_used() {
    let caller = Caller {
        working_dirs: vec![],
        ..caller("/", false)
    };
    let plan = plan(&command(&["true"]), &caller, &container(), None).unwrap();
    assert_eq!(plan.request.working_dir, None);
    assert_eq!(
        plan.notes,
        vec![PlanNote::WorkingDirNotShared {
            caller_dir: None,
            running_in: None
        }]
    );
}

#[test]
fn the_login_shell_runs_as_a_login_shell() {
    let caller = caller("/home/me", true);
    assert!(needs_user_facts(
        &Invocation::LoginShell,
        &caller,
        &container()
    ));
    let plan = plan(
        &Invocation::LoginShell,
        &caller,
        &container(),
        Some(&user()),
    )
    .unwrap();
    assert_eq!(plan.request.argv, vec!["/bin/zsh", "-l"]);
    assert_eq!(plan.request.working_dir.as_deref(), Some("/home/me"));
    assert!(plan.notes.is_empty());

    let error = super::plan(
        &Invocation::LoginShell,
        &caller,
        &container(),
        Some(&UserFacts::default()),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "horizonos-dev has no shell: no login shell in its /etc/passwd, no bash and no sh"
    );
}

#[test]
fn non_utf8_arguments_need_the_containers_sh() {
    let invocation = Invocation::Command(vec!["echo".into(), OsString::from_vec(vec![0xff])]);
    let caller = caller("/home/me", false);
    assert!(needs_user_facts(&invocation, &caller, &container()));
    let planned = plan(&invocation, &caller, &container(), Some(&user())).unwrap();
    assert_eq!(planned.request.argv[..2], ["/bin/sh", "-c"]);
    assert_eq!(planned.request.argv[4..], ["recho", "e\\377"]);
    let error = plan(&invocation, &caller, &container(), None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "horizonos-dev has no usable /bin/sh, which is needed to pass non-UTF-8 arguments"
    );
}

#[test]
fn an_empty_command_is_refused() {
    let error = plan(
        &command(&[]),
        &caller("/home/me", false),
        &container(),
        None,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        ExecPlanError::Argv {
            source: ArgvError::Empty
        }
    ));
}

#[test]
fn explicit_options_win_over_the_container_and_need_no_probe() {
    let invocation = command(&["env"]);
    let caller = Caller {
        options: ExecOptions {
            environment: vec![
                ("LANG".into(), "fr_FR.UTF-8".into()),
                ("LD_PRELOAD".into(), "a b\n'c'".into()),
            ],
            working_dir: Some("/srv/build".into()),
            terminal: TerminalChoice::Always,
            user: Some("0:0".into()),
        },
        ..caller("/etc/ssh", true)
    };
    // The directory is given: the caller's unshared one does not send us to the home.
    assert!(!needs_user_facts(&invocation, &caller, &container()));
    let plan = plan(&invocation, &caller, &container(), None).unwrap();
    assert_eq!(
        plan,
        ExecPlan {
            container: "horizonos-dev".into(),
            request: ExecRequest {
                tty: true,
                argv: vec!["env".into()],
                // -e wins over the container's configured LANG, and any name is allowed.
                env: env(&[
                    ("LANG", "fr_FR.UTF-8"),
                    ("LD_PRELOAD", "a b\n'c'"),
                    ("TERM", "xterm-kitty")
                ]),
                working_dir: Some("/srv/build".into()),
                user: Some("0:0".into()),
            },
            notes: vec![],
        }
    );
}

#[test]
fn explicit_options_the_api_cannot_carry_are_refused() {
    let with = |options: ExecOptions| {
        let caller = Caller {
            options,
            ..caller("/home/me", false)
        };
        plan(&command(&["true"]), &caller, &container(), None)
            .unwrap_err()
            .to_string()
    };
    let variable = |name: OsString, value: OsString| ExecOptions {
        environment: vec![(name, value)],
        ..ExecOptions::default()
    };
    assert_eq!(
        with(variable("".into(), "x".into())),
        "cannot set the variable \"\": a name must be non-empty, without '=' or NUL"
    );
    assert_eq!(
        with(variable("A=B".into(), "x".into())),
        "cannot set the variable \"A=B\": a name must be non-empty, without '=' or NUL"
    );
    assert_eq!(
        with(variable("A".into(), OsString::from_vec(vec![0xff]))),
        "cannot set the variable \"A\": its value is not valid UTF-8, which the libpod API \
         cannot carry"
    );
    let directory = |dir: &str| ExecOptions {
        working_dir: Some(dir.into()),
        ..ExecOptions::default()
    };
    assert_eq!(
        with(directory("relative")),
        "cannot run in \"relative\": not an absolute path in the container"
    );
}

#[test]
fn the_terminal_choice_overrides_the_guess() {
    for (choice, on_terminal, tty) in [
        (TerminalChoice::Auto, true, true),
        (TerminalChoice::Auto, false, false),
        (TerminalChoice::Always, false, true),
        (TerminalChoice::Never, true, false),
    ] {
        assert_eq!(choice.resolve(on_terminal), tty, "{choice:?} {on_terminal}");
    }
}
