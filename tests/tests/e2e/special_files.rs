//! Definition paths that are not regular files, through the `horizon-container` binary against
//! the real test bed: a FIFO, a socket, a device, a directory or a dangling link where a
//! definition should be is refused without being read — never a hang — and listed as invalid, in
//! the user layer and in the system layer; a link to a regular file is read as that file.

use std::os::unix::fs::symlink;
use std::process::{Command, Output, Stdio};

use horizon_e2e::TestBed;
use horizon_e2e::session::Session;
use serde_json::json;

use crate::run::wait_limited;

/// `horizon-container ARGS`, killed (and the test failed) if it does not exit in time.
fn horizon_limited(session: &Session, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = session
        .horizon_container()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_limited(&mut child);
    let output: Output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_fifo_socket_device_directory_or_dangling_link_is_refused_unread_and_listed_as_invalid() {
    let bed = TestBed::shared();
    let session = bed.user_session("hostile_special");
    let dir = session.definitions_dir();
    // A link to a regular file elsewhere (as dotfile managers make) is read as that file.
    let real = session.write_home_file(
        "dotfiles/real.json",
        json!({"name": "real", "image": bed.busybox_image()})
            .to_string()
            .as_bytes(),
    );
    let fifo = dir.join("fifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    std::fs::create_dir(dir.join("dir.json")).unwrap();
    symlink(&fifo, dir.join("link.json")).unwrap();
    symlink("/dev/zero", dir.join("zero.json")).unwrap();
    symlink(dir.join("nowhere"), dir.join("gone.json")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("sock.json")).unwrap();
    symlink(&real, dir.join("real.json")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        session.give_to_user(&entry.unwrap().path());
    }

    let refused = |file: &str, why: &str| format!("{}/{file}: {why}", dir.display());
    let not_regular = |file: &str, kind: &str| {
        refused(
            file,
            &format!(
                "not a regular file but {kind}: a definition is read only from a regular file"
            ),
        )
    };
    let errors = [
        not_regular("dir.json", "a directory"),
        not_regular("fifo.json", "a FIFO (named pipe)"),
        refused(
            "gone.json",
            "cannot read the file: No such file or directory (os error 2)",
        ),
        not_regular("link.json", "a FIFO (named pipe)"),
        not_regular("sock.json", "a socket"),
        not_regular("zero.json", "a character device"),
    ];
    // The FIFO first: reading it would block until a writer came.
    for index in [1, 3, 5, 4, 0, 2] {
        let (file, error) = (
            ["dir", "fifo", "gone", "link", "sock", "zero"][index],
            &errors[index],
        );
        let path = dir.join(format!("{file}.json"));
        let (code, stdout, stderr) = horizon_limited(
            &session,
            &["definition", "validate", path.to_str().unwrap()],
        );
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (Some(2), "", format!("{error}\n").as_str()),
            "{file}"
        );
    }
    let (code, stdout, stderr) = horizon_limited(&session, &["list"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let real_row = format!(
        "real         -            user      not installed  {}",
        bed.busybox_image()
    );
    assert!(stdout.contains(&format!("\n{real_row}\n")), "{stdout}");
    assert!(
        stdout.ends_with(&format!(
            "\ninvalid definition files (not used):\n  {}\n",
            errors.join("\n  ")
        )),
        "{stdout}"
    );
    let (code, stdout, stderr) = horizon_limited(&session, &["install", "fifo"]);
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (
            Some(2),
            "",
            format!(
                "horizon-container: error: the definition `fifo` in {p} is invalid\n\
                 hint: its definition {p} is invalid: `horizon-container definition validate {p}` \
                 says why; then `horizon-container install fifo`\n",
                p = fifo.display()
            )
            .as_str()
        )
    );
}

#[test]
fn a_fifo_in_the_system_directory_is_listed_as_an_invalid_system_file() {
    let bed = TestBed::shared();
    let session = bed.root_session("hostile_system_fifo");
    let fifo = session.system_dir.join("sysfifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (code, stdout, stderr) = horizon_limited(&session, &["list", "--json"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let message = format!(
        "{}: not a regular file but a FIFO (named pipe): a definition is read only from a regular file",
        fifo.display()
    );
    assert_eq!(
        listed["invalid"],
        json!([{
            "path": fifo,
            "layer": "system",
            "errors": [{
                "file": fifo,
                "line": null,
                "column": null,
                "field": "",
                "problem": "not a regular file but a FIFO (named pipe): a definition is read only from a regular file",
                "message": message,
            }]
        }])
    );
}
