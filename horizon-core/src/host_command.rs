//! Running host tools (`ostree`, `rpm-ostree`, `bootc`, `flatpak`, `snap`): the one place that
//! shells out for the update layers. A [`HostCommand`] is a program and an argv array (never a
//! shell string); a [`Runner`] runs it and captures its output; a non-zero exit becomes a
//! [`HostCommandError`] that carries the command line and the tool's own stderr, so the error says
//! what the tool said. The trait is the seam that lets the rpm-ostree and bootc backends be tested
//! on recorded outputs where those tools do not exist.

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// How much of a failed command's stderr an error keeps (the end, where tools say what failed).
const STDERR_TAIL_BYTES: usize = 4096;

/// A program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostCommand {
    /// The program (a name looked up in PATH, or a path).
    pub program: OsString,
    /// Its arguments, passed as they are.
    pub args: Vec<OsString>,
}

impl HostCommand {
    /// `program` without arguments.
    pub fn new(program: impl Into<OsString>) -> Self {
        HostCommand {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

impl fmt::Display for HostCommand {
    /// The command line as a user would type it (for messages, not for a shell).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.to_string_lossy())?;
        for arg in &self.args {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

/// What a finished command printed, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote to stdout (lossily decoded).
    pub stdout: String,
    /// Everything it wrote to stderr (lossily decoded).
    pub stderr: String,
}

/// Running a host tool failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostCommandError {
    /// The program could not be started.
    #[error("could not run {command}")]
    Spawn {
        /// The command line, as a user would type it.
        command: String,
        /// Why it could not be started (not found, not executable…).
        #[source]
        source: std::io::Error,
    },
    /// It ran and exited with a failure.
    #[error("{command} failed ({}): {}", exit_text(*code), stderr.trim())]
    Failed {
        /// The command line, as a user would type it.
        command: String,
        /// The exit code; `None` when a signal ended it.
        code: Option<i32>,
        /// The end of its stderr.
        stderr: String,
    },
    /// It succeeded but printed something this horizon cannot read.
    #[error("could not read the output of {command}: {message}")]
    BadOutput {
        /// The command line, as a user would type it.
        command: String,
        /// What in its output could not be read.
        message: String,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

/// Runs host commands. [`SystemRunner`] runs them for real.
pub trait Runner: Send + Sync {
    /// Runs `command` to completion, capturing stdout and stderr; a non-zero exit is NOT an error
    /// here (see [`run_checked`]).
    fn run(
        &self,
        command: &HostCommand,
    ) -> impl Future<Output = Result<CommandOutput, HostCommandError>> + Send;

    /// True when `program` can be run (found in PATH, or an executable path).
    fn has_program(&self, program: &str) -> bool;
}

/// Runs commands as child processes with stdin from /dev/null and this process's environment.
#[derive(Clone, Debug, Default)]
pub struct SystemRunner {
    /// The PATH to look programs up in (`None`: the process's).
    pub path: Option<OsString>,
}

impl Runner for SystemRunner {
    async fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostCommandError> {
        let mut child = tokio::process::Command::new(&command.program);
        child
            .args(&command.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A dropped future (Ctrl-C) must not leave the tool running on our behalf.
            .kill_on_drop(true);
        if let Some(path) = &self.path {
            child.env("PATH", path);
        }
        let started = std::time::Instant::now();
        let output = child
            .output()
            .await
            .map_err(|source| HostCommandError::Spawn {
                command: command.to_string(),
                source,
            })?;
        tracing::debug!(%command, status = ?output.status.code(), elapsed = ?started.elapsed(), "host command");
        Ok(CommandOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn has_program(&self, program: &str) -> bool {
        find_program(program, self.path.as_deref()).is_some()
    }
}

/// The executable `program` resolves to: itself when it contains a slash, else the first
/// executable file of that name in `path` (or the process's PATH).
pub fn find_program(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let candidate = PathBuf::from(program);
        return executable(&candidate).then_some(candidate);
    }
    let path = path
        .map(OsString::from)
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| executable(candidate))
}

/// Runs `command` and returns its output when it exits 0, else [`HostCommandError::Failed`] with
/// the end of its stderr (its stdout when stderr is empty).
pub async fn run_checked(
    runner: &impl Runner,
    command: &HostCommand,
) -> Result<CommandOutput, HostCommandError> {
    let output = runner.run(command).await?;
    if output.code == Some(0) {
        return Ok(output);
    }
    Err(failed(command, &output))
}

/// The error for a command that ended with `output` and should not have.
pub fn failed(command: &HostCommand, output: &CommandOutput) -> HostCommandError {
    let said = if output.stderr.trim().is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    HostCommandError::Failed {
        command: command.to_string(),
        code: output.code,
        stderr: tail(said, STDERR_TAIL_BYTES).to_owned(),
    }
}

/// Runs `command` (which must exit 0) and parses its stdout as JSON.
pub async fn run_json<T: serde::de::DeserializeOwned>(
    runner: &impl Runner,
    command: &HostCommand,
) -> Result<T, HostCommandError> {
    let output = run_checked(runner, command).await?;
    serde_json::from_str(&output.stdout).map_err(|error| HostCommandError::BadOutput {
        command: command.to_string(),
        message: error.to_string(),
    })
}

/// The last `max` bytes of `text` (on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
pub(crate) mod scripted {
    //! A [`Runner`] that answers from a script of recorded outputs and records what it was asked,
    //! for backends whose tools this machine does not have.

    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Answers commands in order from a script; panics on an unexpected command.
    #[derive(Debug, Default)]
    pub struct ScriptedRunner {
        script: Mutex<VecDeque<(String, CommandOutput)>>,
        /// Every command line it was asked to run.
        pub ran: Mutex<Vec<String>>,
        /// Programs that "exist".
        pub programs: Vec<String>,
    }

    impl ScriptedRunner {
        /// Expects `command_line` next; answers with `code` and `stdout`.
        pub fn expect(self, command_line: &str, code: i32, stdout: &str) -> Self {
            self.script.lock().unwrap().push_back((
                command_line.to_owned(),
                CommandOutput {
                    code: Some(code),
                    stdout: stdout.to_owned(),
                    stderr: if code == 0 {
                        String::new()
                    } else {
                        format!("error from {command_line}")
                    },
                },
            ));
            self
        }

        /// True when every scripted command ran.
        pub fn finished(&self) -> bool {
            self.script.lock().unwrap().is_empty()
        }
    }

    impl Runner for ScriptedRunner {
        async fn run(&self, command: &HostCommand) -> Result<CommandOutput, HostCommandError> {
            let line = command.to_string();
            self.ran.lock().unwrap().push(line.clone());
            let (expected, output) = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command: {line}"));
            assert_eq!(line, expected, "commands out of order");
            Ok(output)
        }

        fn has_program(&self, program: &str) -> bool {
            self.programs.iter().any(|known| known == program)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_command_reports_its_command_line_status_and_stderr() {
        let command =
            HostCommand::new("sh").args(["-c", "echo out; echo 'no such ref' >&2; exit 3"]);
        let error = run_checked(&SystemRunner::default(), &command)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "sh -c echo out; echo 'no such ref' >&2; exit 3 failed (exit status 3): no such ref"
        );
        let missing = HostCommand::new("/nonexistent/horizon-tool");
        let error = run_checked(&SystemRunner::default(), &missing)
            .await
            .unwrap_err();
        assert!(
            crate::update::error_chain(&error)
                .starts_with("could not run /nonexistent/horizon-tool: No such file"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn json_output_is_parsed_and_bad_json_is_an_error_naming_the_command() {
        let good = HostCommand::new("echo").arg(r#"{"a": 1}"#);
        let value: serde_json::Value = run_json(&SystemRunner::default(), &good).await.unwrap();
        assert_eq!(value["a"], 1);
        let bad = HostCommand::new("echo").arg("not json");
        let error = run_json::<serde_json::Value>(&SystemRunner::default(), &bad)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "could not read the output of echo not json: expected ident at line 1 column 2"
        );
    }

    #[test]
    fn programs_are_found_in_the_given_path_only() {
        assert!(find_program("sh", Some("/bin".as_ref())).is_some());
        assert_eq!(find_program("sh", Some("/nonexistent".as_ref())), None);
        assert_eq!(
            find_program("/bin/sh", None),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(tail("abcdef", 3), "def");
    }
}
