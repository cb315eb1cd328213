//! The wrapper script an export writes, and the marker that recognises one.
//!
//! A wrapper is a few lines of POSIX sh. Line 1 is `#!/bin/sh`; line 2 is the marker
//! (`# horizon-export: container=NAME binary=BIN`), by which horizon — and other wrappers, inside
//! a container — know the file for one of its own. The only variable text in it is the validated
//! definition and binary names and the client's absolute path, single-quoted; the arguments go on
//! as `"$@"`, untouched. On the host it execs the client (contract C1 of the design notes):
//! `exec '/…/horizon-exec' 'NAME' 'BIN' "$@"`. Inside a container (marked by
//! [`CONTAINER_MARKER_VAR`], never by `/.dockerenv`): in its own container it execs the real binary
//! found in `PATH`, skipping every file that carries the marker, so a wrapper never runs a wrapper
//! and cannot loop; in another container it fails with status 126 and says why.

use sha2::{Digest, Sha256};

/// The first line of every wrapper.
pub const SHEBANG: &str = "#!/bin/sh";
/// The start of the marker line (line 2) of every wrapper.
pub const MARKER_PREFIX: &str = "# horizon-export: ";
/// The environment variable set in every managed container (at creation, to its definition name):
/// how a wrapper knows it runs inside a container, and which one.
pub const CONTAINER_MARKER_VAR: &str = "HORIZONOS_CONTAINER";
/// Exit status of a wrapper run inside a container that is not its own (as "cannot execute").
pub const WRONG_CONTAINER_STATUS: u8 = 126;
/// Exit status of a wrapper whose binary is missing in its own container (as "not found").
pub const NOT_FOUND_STATUS: u8 = 127;
/// Prefix of a content hash.
const HASH_PREFIX: &str = "sha256:";

/// What one wrapper runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapperSpec<'a> {
    /// The definition (container) name, validated.
    pub container: &'a str,
    /// The binary inside the container, validated.
    pub binary: &'a str,
    /// The absolute path of the client (`horizon-exec`) on the host, checked by
    /// [`super::check_client_path`].
    pub client: &'a str,
    /// The version of horizon that writes it (shown in the comment; `--repair` rewrites).
    pub version: &'a str,
}

/// What the marker line of a wrapper says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrapperMarker {
    /// The definition it runs in.
    pub container: String,
    /// The binary it runs.
    pub binary: String,
}

/// `value` single-quoted for sh: inside single quotes nothing is special but the quote itself,
/// written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// The wrapper's text.
pub fn render(spec: &WrapperSpec<'_>) -> String {
    let container = shell_quote(spec.container);
    let binary = shell_quote(spec.binary);
    let client = shell_quote(spec.client);
    let (name, bin, version) = (spec.container, spec.binary, spec.version);
    format!(
        r#"{SHEBANG}
{MARKER_PREFIX}container={name} binary={bin}
# Runs {bin} of the horizon container {name}. Written by horizon {version}; do not edit:
# `horizon-container export --repair` rewrites it, `horizon-container unexport` removes it.
if [ -n "${{{CONTAINER_MARKER_VAR}+set}}" ]; then
	if [ "${CONTAINER_MARKER_VAR}" != {container} ]; then
		printf '%s\n' "{bin}: exported from the container {name}; this is the container ${CONTAINER_MARKER_VAR}, which cannot run it (run it on the host)" >&2
		exit {WRONG_CONTAINER_STATUS}
	fi
	set -f
	IFS=:
	for horizon_dir in $PATH; do
		horizon_file=${{horizon_dir:-.}}/{binary}
		[ -f "$horizon_file" ] && [ -x "$horizon_file" ] || continue
		horizon_marker=
		{{ IFS= read -r horizon_marker; IFS= read -r horizon_marker; }} <"$horizon_file" 2>/dev/null
		case $horizon_marker in '{MARKER_PREFIX}'*) continue ;; esac
		unset IFS
		set +f
		exec "$horizon_file" "$@"
	done
	printf '%s\n' "{bin}: not found in the container {name}" >&2
	exit {NOT_FOUND_STATUS}
fi
exec {client} {container} {binary} "$@"
"#
    )
}

/// The content hash recorded in the ledger: `sha256:` and the hex digest of the bytes.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{HASH_PREFIX}{hex}")
}

/// The marker of a file's contents, when they are a wrapper's (a shebang line, then the marker).
pub fn parse_marker(contents: &[u8]) -> Option<WrapperMarker> {
    let mut lines = contents.split(|&byte| byte == b'\n');
    if lines.next()? != SHEBANG.as_bytes() {
        return None;
    }
    let marker = std::str::from_utf8(lines.next()?).ok()?;
    let fields = marker.strip_prefix(MARKER_PREFIX)?;
    let mut container = None;
    let mut binary = None;
    for field in fields.split(' ') {
        match field.split_once('=') {
            Some(("container", value)) => container = Some(value.to_owned()),
            Some(("binary", value)) => binary = Some(value.to_owned()),
            _ => {}
        }
    }
    Some(WrapperMarker {
        container: container?,
        binary: binary?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_text_is_exactly_this() {
        let text = render(&WrapperSpec {
            container: "dev",
            binary: "git",
            client: "/opt/horizon/bin/horizon-exec",
            version: "0.1.0",
        });
        assert_eq!(
            text,
            r#"#!/bin/sh
# horizon-export: container=dev binary=git
# Runs git of the horizon container dev. Written by horizon 0.1.0; do not edit:
# `horizon-container export --repair` rewrites it, `horizon-container unexport` removes it.
if [ -n "${HORIZONOS_CONTAINER+set}" ]; then
	if [ "$HORIZONOS_CONTAINER" != 'dev' ]; then
		printf '%s\n' "git: exported from the container dev; this is the container $HORIZONOS_CONTAINER, which cannot run it (run it on the host)" >&2
		exit 126
	fi
	set -f
	IFS=:
	for horizon_dir in $PATH; do
		horizon_file=${horizon_dir:-.}/'git'
		[ -f "$horizon_file" ] && [ -x "$horizon_file" ] || continue
		horizon_marker=
		{ IFS= read -r horizon_marker; IFS= read -r horizon_marker; } <"$horizon_file" 2>/dev/null
		case $horizon_marker in '# horizon-export: '*) continue ;; esac
		unset IFS
		set +f
		exec "$horizon_file" "$@"
	done
	printf '%s\n' "git: not found in the container dev" >&2
	exit 127
fi
exec '/opt/horizon/bin/horizon-exec' 'dev' 'git' "$@"
"#
        );
        assert_eq!(
            parse_marker(text.as_bytes()),
            Some(WrapperMarker {
                container: "dev".into(),
                binary: "git".into()
            })
        );
    }

    #[test]
    fn quoting_keeps_a_client_path_with_quotes_and_spaces_literal() {
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
        let text = render(&WrapperSpec {
            container: "dev",
            binary: "git",
            client: "/home/o'neil/my bin/horizon-exec",
            version: "1",
        });
        assert!(text.ends_with("exec '/home/o'\\''neil/my bin/horizon-exec' 'dev' 'git' \"$@\"\n"));
    }

    #[test]
    fn only_wrappers_carry_the_marker() {
        for foreign in [
            &b""[..],
            b"#!/bin/sh\n",
            b"#!/bin/bash\n# horizon-export: container=a binary=b\n",
            b"#!/bin/sh\n# horizon-export: container=a\n",
            b"\x7fELF\x02\x01\x01\0\0\0",
            b"#!/bin/sh\n# some other script\n",
        ] {
            assert_eq!(parse_marker(foreign), None, "{foreign:?}");
        }
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(
            content_hash(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
