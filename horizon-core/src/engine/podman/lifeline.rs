//! The lifeline of an attached exec: a Podman exec session does not end when its client does
//! (conmon keeps the process, and Podman has no "end with the connection" option), so a client
//! killed with SIGKILL would leave its command running in the container. Before the session is
//! started, a small host process, the watchdog, is spawned in a process group of its own (so
//! neither the terminal's Ctrl-C nor `timeout -s KILL`, which signal the client's group, reach
//! it) with a pipe from this process as its stdin. Once the command runs, its host pid is written
//! down the pipe; when the command has ended, `done`. Should the pipe close before `done` — this
//! process died, however — the watchdog kills the command's process group with SIGKILL, as the
//! agent does for a client that goes away.
//!
//! The watchdog is a fixed script under the host's `/bin/sh` that holds no caller text: the pid
//! arrives on its stdin and is checked to be a number. It is armed only for a service on this
//! machine (a unix socket), whose pids are this machine's. A client killed between the session's
//! start and the arming (one exec inspect, a few milliseconds) is not covered.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

/// The host shell that runs [`WATCHDOG`] (every host horizon runs on has one).
const HOST_SHELL: &str = "/bin/sh";

/// `$0` of the watchdog, so `ps` on the host says what it is.
const WATCHDOG_NAME: &str = "horizon-exec-lifeline";

/// What is written once the command has ended: the watchdog then exits without killing.
const RELEASE_WORD: &str = "done";

/// Reads the command's pid, then waits for [`RELEASE_WORD`]. End of file before the pid (the
/// command never ran) kills nothing; end of file or anything else after it kills the command's
/// process group (the runtime makes the exec'd process a group leader), or the process alone if
/// it leads none.
const WATCHDOG: &str = r#"IFS= read -r pid || exit 0
case $pid in ''|*[!0-9]*) exit 1 ;; esac
IFS= read -r word
[ "$word" = done ] && exit 0
kill -s KILL -- "-$pid" 2>/dev/null || kill -s KILL "$pid" 2>/dev/null
exit 0"#;

/// A spawned watchdog and the write end of its pipe.
#[derive(Debug)]
pub(super) struct Lifeline {
    child: Child,
    pipe: Option<ChildStdin>,
}

impl Lifeline {
    /// Spawns the watchdog; `None` (logged) when the host shell cannot be started, in which case
    /// the command runs unguarded.
    pub(super) fn spawn() -> Option<Lifeline> {
        let spawned = Command::new(HOST_SHELL)
            .args(["-c", WATCHDOG, WATCHDOG_NAME])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        match spawned {
            Ok(mut child) => {
                let pipe = child.stdin.take();
                Some(Lifeline { child, pipe })
            }
            Err(error) => {
                tracing::debug!(%error, "cannot start the exec lifeline; the command is unguarded");
                None
            }
        }
    }

    /// Tells the watchdog which process to kill should this process die.
    pub(super) async fn arm(&mut self, pid: u32) {
        self.write(&format!("{pid}\n")).await;
    }

    /// The command has ended: the watchdog exits without killing anything (and is reaped).
    pub(super) async fn release(mut self) {
        self.write(&format!("{RELEASE_WORD}\n")).await;
        self.pipe = None;
        if let Err(error) = self.child.wait().await {
            tracing::debug!(%error, "cannot reap the exec lifeline");
        }
    }

    async fn write(&mut self, line: &str) {
        let Some(pipe) = self.pipe.as_mut() else {
            return;
        };
        // A watchdog that has gone guards nothing more; the command itself is unaffected.
        if let Err(error) = pipe.write_all(line.as_bytes()).await {
            tracing::debug!(%error, "the exec lifeline is gone");
            self.pipe = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Duration;

    use super::*;

    /// A process leading a group of its own, as the runtime makes an exec'd process.
    fn group_leader() -> Child {
        Command::new("sleep")
            .arg("100")
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    #[tokio::test]
    async fn a_dropped_lifeline_kills_the_group_and_a_released_one_kills_nothing() {
        let mut guarded = group_leader();
        let mut lifeline = Lifeline::spawn().unwrap();
        lifeline.arm(guarded.id().unwrap()).await;
        drop(lifeline);
        let status = tokio::time::timeout(Duration::from_secs(10), guarded.wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.signal(), Some(9));

        let mut spared = group_leader();
        let mut lifeline = Lifeline::spawn().unwrap();
        lifeline.arm(spared.id().unwrap()).await;
        lifeline.release().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(spared.try_wait().unwrap().is_none(), "released, yet killed");
        spared.kill().await.unwrap();

        // Never armed: nothing to kill, and the watchdog ends.
        let mut lifeline = Lifeline::spawn().unwrap();
        lifeline.pipe = None;
        let status = lifeline.child.wait().await.unwrap();
        assert_eq!(status.code(), Some(0));
    }
}
