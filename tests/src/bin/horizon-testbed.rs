//! `horizon-testbed`: runs one command inside a fresh test bed and tears it down afterwards, so the
//! README's demo and developers get the same hermetic Podman service, registry and images as the
//! tests. The command sees `CONTAINER_HOST` (the service's socket), `HORIZON_TEST_REGISTRY` and
//! `HORIZON_TEST_BUSYBOX` (an image in that registry), and `HORIZON_TEST_PODMAN` (the podman
//! command line, with the service's storage flags, for the local `podman` CLI; unset
//! `CONTAINER_HOST` and export the service's `CONTAINERS_CONF` as given before using it).
//!
//! Usage: `horizon-testbed run [--rootless] -- COMMAND [ARGS...]` (as root).

// A command-line tool of the test bed: it reports on stderr.
#![allow(clippy::print_stderr)]

use std::process::{Command, ExitCode};

use horizon_e2e::TestBed;

const USAGE: &str = "usage: horizon-testbed run [--rootless] -- COMMAND [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(("run", rest)) = args.split_first().map(|(verb, rest)| (verb.as_str(), rest)) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let (options, command) = match rest.iter().position(|arg| arg == "--") {
        Some(split) => (&rest[..split], &rest[split + 1..]),
        None => (&[][..], rest),
    };
    let rootless = options.iter().any(|option| option == "--rootless");
    let Some((program, program_args)) = command.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };

    let bed = TestBed::shared();
    let service = if rootless {
        bed.rootless()
    } else {
        &bed.rootful
    };
    let busybox = bed.busybox_image();
    eprintln!(
        "testbed: Podman at {}, registry at {}, image {busybox}",
        service.url(),
        bed.registry.host()
    );
    let podman = service.storage.podman();
    let podman_line: Vec<String> = std::iter::once(podman.get_program())
        .chain(podman.get_args())
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let mut command = Command::new(program);
    for (name, value) in podman.get_envs() {
        if let (Some(value), true) = (value, name == "CONTAINERS_CONF") {
            command.env("HORIZON_TEST_CONTAINERS_CONF", value);
        }
    }
    let status = command
        .args(program_args)
        .env("HORIZON_TEST_PODMAN", podman_line.join(" "))
        .env("CONTAINER_HOST", service.url())
        .env("HORIZON_TEST_REGISTRY", bed.registry.host())
        .env("HORIZON_TEST_BUSYBOX", &busybox)
        .status();
    // Returning from main runs the test bed's teardown (atexit).
    match status {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .unwrap_or(1),
        ),
        Err(error) => {
            eprintln!("horizon-testbed: cannot run {program}: {error}");
            ExitCode::from(127)
        }
    }
}
