//! Carrying a command line into a container exactly. Podman's exec API takes the argv as JSON
//! strings, and Podman decodes them as UTF-8, replacing invalid bytes: a UTF-8 argv goes as it is,
//! and an argv with any non-UTF-8 argument goes through [`ARGUMENT_DECODER`], a fixed POSIX `sh`
//! script that rebuilds each argument from an escaped form and `exec`s the result. The script holds
//! no caller text; the arguments travel as its positional parameters, so nothing is ever parsed by
//! a shell as code.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The shell that runs [`ARGUMENT_DECODER`] (and the user probe): POSIX, present in every image
/// with a userland.
pub const CONTAINER_SHELL: &str = "/bin/sh";

/// `$0` of the decoder, which is what `sh` names in its own error messages.
pub const DECODER_NAME: &str = "horizon-argv";

/// Rebuilds the argv from its positional parameters and replaces itself with it. Each parameter is
/// `r` + the argument (UTF-8, as is) or `e` + a `printf` format that yields the argument's bytes:
/// only plain bytes (letters, digits, `/._,:=+@` and space) and `\ooo` escapes, so the format
/// never starts with `-` nor holds a conversion. The `x` guard keeps trailing newlines, which
/// `$(…)` would strip. Because the program is `exec`ed, its exit status (126 not executable, 127
/// not found) and signals are its own.
pub const ARGUMENT_DECODER: &str = r#"n=$#
for arg do
  case $arg in
    e*) arg=$(printf "${arg#e}x"); arg=${arg%x} ;;
    *) arg=${arg#r} ;;
  esac
  set -- "$@" "$arg"
done
shift "$n"
exec "$@""#;

/// Prefix of a parameter that carries its argument unchanged.
const PLAIN_TAG: char = 'r';
/// Prefix of a parameter that carries its argument as a `printf` format.
const ESCAPED_TAG: char = 'e';

/// The kernel's limit on one argument, with its terminating NUL (`MAX_ARG_STRLEN`, 32 pages).
pub const MAX_ARGUMENT_BYTES: usize = 32 * 4096;

/// An argv that cannot be carried into the container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgvError {
    /// There is no program to run.
    #[error("no command given")]
    Empty,
    /// A non-UTF-8 argument is too long once escaped for the decoder.
    #[error(
        "argument {index} is not UTF-8 and too long to pass: {length} bytes, escaped to {escaped} \
         (the limit for one argument is {limit} bytes)"
    )]
    TooLong {
        /// Position in the argv (0 is the program).
        index: usize,
        /// Its length in bytes.
        length: usize,
        /// Its length once escaped.
        escaped: usize,
        /// The kernel's limit, [`MAX_ARGUMENT_BYTES`] − 1.
        limit: usize,
    },
    /// The program name starts with `-` and the decoder is needed: `exec` would read it as an
    /// option in some shells.
    #[error(
        "program name {program:?} starts with '-', which cannot be run together with non-UTF-8 arguments"
    )]
    ProgramLooksLikeOption {
        /// The program name, lossily decoded for display.
        program: String,
    },
}

/// How an argv reaches the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CarriedArgv {
    /// Every argument is UTF-8: passed as it is.
    Direct(Vec<String>),
    /// Some argument is not: passed through [`ARGUMENT_DECODER`] (this is the whole exec argv).
    Decoded(Vec<String>),
}

impl CarriedArgv {
    /// The argv to put in the exec request.
    pub fn into_exec_argv(self) -> Vec<String> {
        match self {
            CarriedArgv::Direct(argv) | CarriedArgv::Decoded(argv) => argv,
        }
    }

    /// True when the container needs [`CONTAINER_SHELL`] to run it.
    pub fn needs_shell(&self) -> bool {
        matches!(self, CarriedArgv::Decoded(_))
    }
}

/// Chooses how to carry `argv`: directly when it is all UTF-8, else through the decoder.
pub fn carry_argv(argv: &[OsString]) -> Result<CarriedArgv, ArgvError> {
    let Some(program) = argv.first() else {
        return Err(ArgvError::Empty);
    };
    let utf8: Option<Vec<String>> = argv
        .iter()
        .map(|argument| argument.to_str().map(str::to_owned))
        .collect();
    if let Some(utf8) = utf8 {
        return Ok(CarriedArgv::Direct(utf8));
    }
    if program.as_bytes().starts_with(b"-") {
        return Err(ArgvError::ProgramLooksLikeOption {
            program: program.to_string_lossy().into_owned(),
        });
    }
    let mut carried = vec![
        CONTAINER_SHELL.to_owned(),
        "-c".to_owned(),
        ARGUMENT_DECODER.to_owned(),
        DECODER_NAME.to_owned(),
    ];
    for (index, argument) in argv.iter().enumerate() {
        let parameter = match argument.to_str() {
            Some(text) => format!("{PLAIN_TAG}{text}"),
            None => {
                let escaped = format!("{ESCAPED_TAG}{}", escape_for_printf(argument.as_bytes()));
                if escaped.len() >= MAX_ARGUMENT_BYTES {
                    return Err(ArgvError::TooLong {
                        index,
                        length: argument.len(),
                        escaped: escaped.len(),
                        limit: MAX_ARGUMENT_BYTES - 1,
                    });
                }
                escaped
            }
        };
        carried.push(parameter);
    }
    Ok(CarriedArgv::Decoded(carried))
}

/// Bytes that stand for themselves in a `printf` format and in any position (no `%`, `\`, `-`).
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"/._,:=+@ ".contains(&byte)
}

/// A `printf` format whose output is exactly `bytes`: plain bytes as they are, every other byte as
/// a three-digit octal escape (POSIX `printf` reads at most three digits, so a following digit is
/// never swallowed).
fn escape_for_printf(bytes: &[u8]) -> String {
    let mut format = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        if is_plain(byte) {
            format.push(char::from(byte));
        } else {
            format.push_str(&format!("\\{byte:03o}"));
        }
    }
    format
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStringExt;

    use super::*;

    fn os(text: &str) -> OsString {
        OsString::from(text)
    }

    #[test]
    fn utf8_argv_goes_as_it_is() {
        let argv = vec![os("printf"), os("%s\n"), os(""), os("-n"), os("a b\n$(x)*")];
        assert_eq!(
            carry_argv(&argv).unwrap(),
            CarriedArgv::Direct(vec![
                "printf".into(),
                "%s\n".into(),
                String::new(),
                "-n".into(),
                "a b\n$(x)*".into()
            ])
        );
    }

    #[test]
    fn non_utf8_argv_goes_through_the_decoder() {
        let argv = vec![
            os("printf"),
            os("%s"),
            OsString::from_vec(b"\xff-a%\\1\n".to_vec()),
        ];
        let carried = carry_argv(&argv).unwrap();
        assert!(carried.needs_shell());
        assert_eq!(
            carried.into_exec_argv(),
            vec![
                "/bin/sh".to_owned(),
                "-c".into(),
                ARGUMENT_DECODER.into(),
                "horizon-argv".into(),
                "rprintf".into(),
                "r%s".into(),
                "e\\377\\055a\\045\\1341\\012".into(),
            ]
        );
    }

    #[test]
    fn escaped_format_never_starts_with_a_dash_nor_holds_a_conversion() {
        let all: Vec<u8> = (1..=255).collect();
        let format = escape_for_printf(&all);
        assert!(!format.contains('%'));
        assert!(!format.contains('-'));
        assert!(format.starts_with("\\001"));
        // Every backslash starts a three-digit octal escape.
        for piece in format.split('\\').skip(1) {
            assert!(piece.len() >= 3 && piece[..3].bytes().all(|b| (b'0'..=b'7').contains(&b)));
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(carry_argv(&[]), Err(ArgvError::Empty));
        let long = OsString::from_vec(vec![0xff; MAX_ARGUMENT_BYTES / 4]);
        assert_eq!(
            carry_argv(&[os("echo"), long]),
            Err(ArgvError::TooLong {
                index: 1,
                length: 32768,
                escaped: 131073,
                limit: 131071
            })
        );
        let fits = OsString::from_vec(vec![0xff; MAX_ARGUMENT_BYTES / 4 - 1]);
        assert!(carry_argv(&[os("echo"), fits]).is_ok());
        assert_eq!(
            carry_argv(&[os("-x"), OsString::from_vec(vec![0xff])]),
            Err(ArgvError::ProgramLooksLikeOption {
                program: "-x".into()
            })
        );
        assert_eq!(
            ArgvError::Empty.to_string(),
            "no command given",
            "the message the CLI shows"
        );
    }
}
