//! The rule of every field value, as pure functions from the written string to the typed value (or
//! to the [`Problem`] that says which rule it breaks and how to fix it). They know nothing of files,
//! positions or layers: `read.rs` applies them to a parsed file, `layers.rs` adds the rules that
//! depend on other layers (privilege, merged combinations).

use std::path::{Component, Path, PathBuf};

use super::error::Problem;
use super::model::{Capability, Device, ImageReference, Mount, Network};

/// The longest container name: a DNS label is at most 63 bytes, and the name becomes part of host
/// names, unit names and labels.
pub const MAX_NAME_LEN: usize = 63;
/// The longest package or binary name accepted: far beyond any real one, short enough to show.
pub const MAX_TOKEN_LEN: usize = 128;
/// The longest image tag (the OCI distribution spec's limit).
const MAX_TAG_LEN: usize = 128;
/// The registry that short names usually mean, used in the hint for a short name.
const DEFAULT_REGISTRY_HINT: &str = "docker.io";
/// The only digest algorithm accepted, and its hex length.
const DIGEST_PREFIX: &str = "sha256:";
const SHA256_HEX_LEN: usize = 64;
/// The directory every device lives under.
const DEVICE_ROOT: &str = "/dev";
/// Device cgroup permissions, in canonical order.
const DEVICE_PERMISSIONS: &str = "rwm";

fn invalid(value: &str, reason: impl Into<String>) -> Problem {
    Problem::Invalid {
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// `name`: a lowercase DNS label (`[a-z0-9-]`, starts with a letter, does not end with `-`), at most
/// [`MAX_NAME_LEN`] characters. The same rule serves `purpose`.
pub fn name(value: &str) -> Result<String, Problem> {
    const RULE: &str = "is not a valid name: use lowercase letters, digits and '-', starting with a letter and not ending with '-', at most 63 characters";
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.last() != Some(&b'-');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(value, RULE))
    }
}

/// `image`: a fully qualified reference. A short name is refused with the fully qualified form it
/// probably means.
pub fn image(value: &str) -> Result<ImageReference, Problem> {
    if value.is_empty() || value.len() > 255 || value.chars().any(|c| c.is_whitespace()) {
        return Err(invalid(
            value,
            "is not an image reference: use REGISTRY/REPOSITORY:TAG, e.g. quay.io/toolbx/arch-toolbox:latest",
        ));
    }
    let (rest, digest) = match value.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (value, None),
    };
    if let Some(digest) = digest {
        let hex = digest.strip_prefix(DIGEST_PREFIX).unwrap_or("");
        if hex.len() != SHA256_HEX_LEN
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(
                value,
                "has an invalid digest: use @sha256: followed by 64 lowercase hexadecimal digits",
            ));
        }
    }
    // The tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
    let last_slash = rest.rfind('/');
    let (path, tag) = match rest.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&rest[..colon], Some(&rest[colon + 1..]))
        }
        _ => (rest, None),
    };
    let (registry, repository) = match path.split_once('/') {
        Some((first, repository)) if is_registry_host(first) => (first, repository),
        _ => {
            let repository = if path.contains('/') {
                path.to_owned()
            } else {
                format!("library/{path}")
            };
            let suffix = match (tag, digest) {
                (_, Some(digest)) => format!("@{digest}"),
                (Some(tag), None) => format!(":{tag}"),
                (None, None) => ":TAG".to_owned(),
            };
            return Err(invalid(
                value,
                format!(
                    "is a short name, which could be pulled from any registry: use a fully qualified reference such as {DEFAULT_REGISTRY_HINT}/{repository}{suffix}"
                ),
            ));
        }
    };
    if repository.is_empty() || !repository.split('/').all(is_path_component) {
        return Err(invalid(
            value,
            "has an invalid repository: use lowercase letters, digits and single '.', '_' or '-' between them, components separated by '/'",
        ));
    }
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= MAX_TAG_LEN
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err(invalid(
                value,
                "has an invalid tag: use letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters",
            ));
        }
    }
    if tag.is_none() && digest.is_none() {
        return Err(invalid(
            value,
            format!("has no tag or digest: pin it, e.g. {value}:latest or {value}@sha256:<digest>"),
        ));
    }
    Ok(ImageReference {
        full: value.to_owned(),
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        tag: tag.map(str::to_owned),
        digest: digest.map(str::to_owned),
    })
}

/// A registry host: `localhost`, or a host name with a `.` or a `:port` (so `library/ubuntu` is a
/// repository, never a registry called `library`).
fn is_registry_host(value: &str) -> bool {
    if value == "localhost" {
        return true;
    }
    if !(value.contains('.') || value.contains(':')) {
        return false;
    }
    let (host, port) = match value.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (value, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
    });
    host_ok && port_ok
}

/// One repository path component: `[a-z0-9]+` separated by single `.`, `_`, `__` or `-`s.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && !component.contains("..")
        && !component.contains("___")
}

/// A package name: starts with a letter or digit, then letters, digits and `. _ + : = ~ @ -`. This
/// covers the package syntaxes of the usual distributions (`gcc-c++`, `python3.11`, `vim=2:9.0`)
/// and keeps out everything a shell or a package manager would read as something else: `/`,
/// whitespace, quotes, `$`, `;`, `|`, `&`, `<`, `>`, `*`, and a leading `-` (an option).
pub fn package(value: &str) -> Result<String, Problem> {
    token(
        value,
        |b| matches!(b, b'.' | b'_' | b'+' | b':' | b'=' | b'~' | b'@' | b'-'),
        "is not a valid package name: start with a letter or digit and use only letters, digits and . _ + : = ~ @ -",
    )
}

/// A binary name: a file name in the container's PATH and of the wrapper on the host, so no `/`,
/// no leading `-` or `.`, and only letters, digits and `. _ + -`.
pub fn binary(value: &str) -> Result<String, Problem> {
    token(
        value,
        |b| matches!(b, b'.' | b'_' | b'+' | b'-'),
        "is not a valid binary name: a file name (no '/') starting with a letter, digit or '_', using only letters, digits and . _ + -",
    )
    .and_then(|name| {
        if name.starts_with('.') {
            Err(invalid(value, "is not a valid binary name: it may not start with '.'"))
        } else {
            Ok(name)
        }
    })
}

fn token(value: &str, extra: impl Fn(u8) -> bool, rule: &str) -> Result<String, Problem> {
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= MAX_TOKEN_LEN
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || extra(*b));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(value, rule))
    }
}

/// An environment variable name of a definition's `environment`: `[A-Za-z_][A-Za-z0-9_]*`, and
/// not the container marker ([`crate::export::CONTAINER_MARKER_VAR`]), which horizon sets in every
/// managed container so that exported wrappers know where they run.
pub fn env_name(value: &str) -> Result<String, Problem> {
    if value == crate::export::CONTAINER_MARKER_VAR {
        return Err(invalid(
            value,
            "is reserved: horizon sets it to the container's definition name in every managed \
             container",
        ));
    }
    let bytes = value.as_bytes();
    let valid = !bytes.is_empty()
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            value,
            "is not a valid environment variable name: use letters, digits and '_', not starting with a digit",
        ))
    }
}

/// An environment variable value: one line, no NUL (the kernel cannot pass a NUL, and a newline
/// would split the value in every `KEY=value` file format it is written to).
pub fn env_value(value: &str) -> Result<String, Problem> {
    if value.contains('\0') {
        Err(invalid(
            value,
            "contains a NUL character, which an environment variable cannot hold",
        ))
    } else if value.contains(['\n', '\r']) {
        Err(invalid(
            value,
            "contains a line break: environment values must be one line",
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// A capability: `SYS_ADMIN` or `CAP_SYS_ADMIN` (capitals), or `ALL`. Unknown names are refused,
/// with the right spelling when only the case was wrong.
pub fn capability(value: &str) -> Result<Capability, Problem> {
    let bare = value.strip_prefix("CAP_").unwrap_or(value);
    if bare == "ALL" {
        return Ok(Capability::All);
    }
    if let Some(found) = Capability::KNOWN.iter().find(|c| c.name() == bare) {
        return Ok(*found);
    }
    let upper = value.to_ascii_uppercase();
    let upper_bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    if let Some(found) = Capability::KNOWN.iter().find(|c| c.name() == upper_bare) {
        return Err(invalid(
            value,
            format!("is not a capability name: write it in capitals, `{found}`"),
        ));
    }
    Err(invalid(
        value,
        "is not a Linux capability: see capabilities(7) for the names (e.g. SYS_ADMIN, NET_ADMIN)",
    ))
}

/// An absolute path, normalised: no `..`, no `.`, no doubled or trailing `/`. `..` is refused
/// rather than resolved: resolving it lexically is wrong through symlinks, and a definition has no
/// reason to need it.
pub fn absolute_path(value: &str) -> Result<PathBuf, String> {
    if !value.starts_with('/') {
        return Err("is not an absolute path: start it with '/'".to_owned());
    }
    if value.contains('\0') || value.contains(['\n', '\r']) {
        return Err("contains a NUL or a line break".to_owned());
    }
    let mut normal = PathBuf::from("/");
    for component in Path::new(value).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                return Err("contains '..': write the path without it".to_owned());
            }
            Component::Normal(part) => normal.push(part),
            Component::Prefix(_) => return Err("is not a Unix path".to_owned()),
        }
    }
    Ok(normal)
}

/// A mount from its string form: `/path`, `/host:/container`, `/host:/container:ro` (or `:rw`).
pub fn mount_spec(value: &str) -> Result<Mount, Problem> {
    let parts: Vec<&str> = value.split(':').collect();
    let (source, target, read_only) = match parts.as_slice() {
        [path] => (*path, *path, false),
        [source, target] => (*source, *target, false),
        [source, target, "ro"] => (*source, *target, true),
        [source, target, "rw"] => (*source, *target, false),
        [_, _, option] => {
            return Err(invalid(
                value,
                format!("has the mount option {option:?}: use \"ro\" or \"rw\""),
            ));
        }
        _ => {
            return Err(invalid(
                value,
                "is not a mount: use \"/path\", \"/host:/container\" or \"/host:/container:ro\"",
            ));
        }
    };
    mount(source, target, read_only).map_err(|reason| invalid(value, reason))
}

/// A mount from its parts (the object form): both paths absolute and normalised; neither may be `/`
/// (the host's root is never shared whole, and nothing may cover the container's root).
pub fn mount(source: &str, target: &str, read_only: bool) -> Result<Mount, String> {
    let source_path = absolute_path(source).map_err(|reason| format!("source {reason}"))?;
    let target_path = absolute_path(target).map_err(|reason| format!("target {reason}"))?;
    if source_path == Path::new("/") {
        return Err("mounts the host's root directory, which is never allowed".to_owned());
    }
    if target_path == Path::new("/") {
        return Err("would cover the container's root directory".to_owned());
    }
    Ok(Mount {
        source: source_path,
        target: target_path,
        read_only,
    })
}

/// A device: `/dev/HOST[:/dev/CONTAINER[:PERMISSIONS]]`, PERMISSIONS a non-empty subset of `rwm`
/// (default `rwm`), stored in canonical order.
pub fn device(value: &str) -> Result<Device, Problem> {
    let parts: Vec<&str> = value.split(':').collect();
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, DEVICE_PERMISSIONS),
        [host, container] => (*host, *container, DEVICE_PERMISSIONS),
        [host, container, permissions] => (*host, *container, *permissions),
        _ => {
            return Err(invalid(
                value,
                "is not a device: use \"/dev/HOST\", \"/dev/HOST:/dev/CONTAINER\" or \"/dev/HOST:/dev/CONTAINER:rw\"",
            ));
        }
    };
    let under_dev = |path: &str, which: &str| -> Result<PathBuf, Problem> {
        let normal =
            absolute_path(path).map_err(|reason| invalid(value, format!("{which} {reason}")))?;
        match normal.strip_prefix(DEVICE_ROOT) {
            Ok(rest) if !rest.as_os_str().is_empty() => Ok(normal),
            _ => Err(invalid(
                value,
                format!("{which} path must be a device under /dev/"),
            )),
        }
    };
    let host = under_dev(host, "host")?;
    let container = under_dev(container, "container")?;
    let mut canonical = String::new();
    for letter in DEVICE_PERMISSIONS.chars() {
        match permissions.matches(letter).count() {
            0 => {}
            1 => canonical.push(letter),
            _ => {
                return Err(invalid(value, format!("repeats the permission '{letter}'")));
            }
        }
    }
    if canonical.is_empty() || canonical.len() != permissions.len() {
        return Err(invalid(
            value,
            "has invalid permissions: use a non-empty combination of r (read), w (write) and m (mknod)",
        ));
    }
    Ok(Device {
        host,
        container,
        permissions: canonical,
    })
}

/// `network`: `private`, `host` or `none`.
pub fn network(value: &str) -> Result<Network, Problem> {
    Network::ALL
        .iter()
        .find(|(_, spelling)| *spelling == value)
        .map(|(network, _)| *network)
        .ok_or_else(|| {
            invalid(
                value,
                "is not a network mode: use \"private\", \"host\" or \"none\"",
            )
        })
}

/// One verify command: a non-empty argv whose first word is a binary name or an absolute path, and
/// whose words hold no NUL or line break. The argv is passed to exec as is, never through a shell.
pub fn verify_command(argv: &[String]) -> Result<Vec<String>, Problem> {
    let Some(program) = argv.first() else {
        return Err(invalid(
            "",
            "is an empty command: give the program and its arguments, e.g. [\"git\", \"--version\"]",
        ));
    };
    if !program.starts_with('/') {
        binary(program).map_err(|_| {
            invalid(
                program,
                "is not a program: use a binary name in the container's PATH or an absolute path",
            )
        })?;
    } else {
        absolute_path(program).map_err(|reason| invalid(program, reason))?;
    }
    for word in argv {
        if word.contains(['\0', '\n', '\r']) {
            return Err(invalid(word, "contains a NUL or a line break"));
        }
    }
    Ok(argv.to_vec())
}

/// The nearest of `candidates` to a misspelled `key`, when it is close enough to be a likely typo:
/// an edit distance of at most a third of the key's length (at least 2), or a prefix of 3 or more.
pub fn suggest(key: &str, candidates: &[&str]) -> Option<String> {
    let limit = (key.chars().count() / 3).max(2);
    let best = candidates
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .min()?;
    if best.0 <= limit {
        return Some(best.1.to_owned());
    }
    let lower = key.to_ascii_lowercase();
    candidates
        .iter()
        .find(|candidate| lower.len() >= 3 && candidate.starts_with(&lower))
        .map(|candidate| (*candidate).to_owned())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug, Problem>) -> String {
        match result {
            Ok(value) => panic!("accepted: {value:?}"),
            Err(problem) => problem.to_string(),
        }
    }

    #[test]
    fn names() {
        for ok in ["development", "my-tools", "a", "a1", &"a".repeat(63)] {
            assert_eq!(name(ok).unwrap(), ok);
        }
        let rule = "is not a valid name: use lowercase letters, digits and '-', starting with a letter and not ending with '-', at most 63 characters";
        for bad in [
            "",
            "My-Tools",
            "1abc",
            "-abc",
            "abc-",
            "a_b",
            "a.b",
            "../etc",
            "a/b",
            "x;rm -rf",
            "$(id)",
            "a b",
            "dévelopment",
            &"a".repeat(64),
        ] {
            assert_eq!(reason(name(bad)), format!("{bad:?} {rule}"), "{bad:?}");
        }
    }

    #[test]
    fn images() {
        let ok = [
            (
                "quay.io/toolbx/arch-toolbox:latest",
                "quay.io",
                "toolbx/arch-toolbox",
                Some("latest"),
                None,
            ),
            (
                "docker.io/library/ubuntu:22.04",
                "docker.io",
                "library/ubuntu",
                Some("22.04"),
                None,
            ),
            (
                "localhost/horizonos/dev:3",
                "localhost",
                "horizonos/dev",
                Some("3"),
                None,
            ),
            (
                "localhost:5000/a/b:v1.2_3",
                "localhost:5000",
                "a/b",
                Some("v1.2_3"),
                None,
            ),
            ("127.0.0.1:5000/x:y", "127.0.0.1:5000", "x", Some("y"), None),
            (
                "registry.example.com/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "registry.example.com",
                "a",
                None,
                Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
        ];
        for (input, registry, repository, tag, digest) in ok {
            let parsed = image(input).unwrap();
            assert_eq!(
                (
                    parsed.full.as_str(),
                    parsed.registry.as_str(),
                    parsed.repository.as_str(),
                    parsed.tag.as_deref(),
                    parsed.digest.as_deref()
                ),
                (input, registry, repository, tag, digest)
            );
        }
        let bad = [
            (
                "ubuntu:22.04",
                "is a short name, which could be pulled from any registry: use a fully qualified reference such as docker.io/library/ubuntu:22.04",
            ),
            (
                "ubuntu",
                "is a short name, which could be pulled from any registry: use a fully qualified reference such as docker.io/library/ubuntu:TAG",
            ),
            (
                "toolbx/arch:latest",
                "is a short name, which could be pulled from any registry: use a fully qualified reference such as docker.io/toolbx/arch:latest",
            ),
            (
                "docker.io/library/ubuntu",
                "has no tag or digest: pin it, e.g. docker.io/library/ubuntu:latest or docker.io/library/ubuntu@sha256:<digest>",
            ),
            (
                "docker.io/Library/ubuntu:1",
                "has an invalid repository: use lowercase letters, digits and single '.', '_' or '-' between them, components separated by '/'",
            ),
            (
                "docker.io/../ubuntu:1",
                "has an invalid repository: use lowercase letters, digits and single '.', '_' or '-' between them, components separated by '/'",
            ),
            (
                "docker.io/a:-x",
                "has an invalid tag: use letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters",
            ),
            (
                "docker.io/a:x;id",
                "has an invalid tag: use letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters",
            ),
            (
                "docker.io/a@sha256:abc",
                "has an invalid digest: use @sha256: followed by 64 lowercase hexadecimal digits",
            ),
            (
                "docker.io/a b:1",
                "is not an image reference: use REGISTRY/REPOSITORY:TAG, e.g. quay.io/toolbx/arch-toolbox:latest",
            ),
            (
                "",
                "is not an image reference: use REGISTRY/REPOSITORY:TAG, e.g. quay.io/toolbx/arch-toolbox:latest",
            ),
        ];
        for (input, expected) in bad {
            assert_eq!(
                reason(image(input)),
                format!("{input:?} {expected}"),
                "{input}"
            );
        }
    }

    #[test]
    fn packages_and_binaries() {
        for ok in [
            "git",
            "gcc-c++",
            "python3.11",
            "vim=2:9.0",
            "libstdc++",
            "g++",
            "node_js",
            "perl-Foo@1",
        ] {
            assert_eq!(package(ok).unwrap(), ok);
        }
        for bad in [
            "", "-rf", "a b", "a/b", "../x", "a;b", "$(id)", "`id`", "a|b", "a&b", "a>b", "a*",
            "'a'", "a\nb", "é",
        ] {
            assert!(
                reason(package(bad)).ends_with("is not a valid package name: start with a letter or digit and use only letters, digits and . _ + : = ~ @ -"),
                "{bad:?}"
            );
        }
        for ok in [
            "git",
            "g++",
            "python3.11",
            "x86_64-linux-gnu-gcc",
            "_helper",
        ] {
            assert_eq!(binary(ok).unwrap(), ok);
        }
        for bad in [
            "", "-x", "a/b", "../x", "..", "a b", "a;b", "$x", "a=b", "a:b", "~",
        ] {
            assert!(
                reason(binary(bad)).contains("is not a valid binary name"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn environment() {
        for ok in ["PATH", "_X", "a1_B"] {
            assert_eq!(env_name(ok).unwrap(), ok);
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "Ä"] {
            assert!(
                reason(env_name(bad)).contains("is not a valid environment variable name"),
                "{bad:?}"
            );
        }
        assert_eq!(
            reason(env_name("HORIZONOS_CONTAINER")),
            "\"HORIZONOS_CONTAINER\" is reserved: horizon sets it to the container's definition \
             name in every managed container"
        );
        assert_eq!(env_value("a b=c;$(x)").unwrap(), "a b=c;$(x)");
        assert_eq!(
            reason(env_value("a\nb")),
            "\"a\\nb\" contains a line break: environment values must be one line"
        );
        assert_eq!(
            reason(env_value("a\rb")),
            "\"a\\rb\" contains a line break: environment values must be one line"
        );
        assert_eq!(
            reason(env_value("a\0b")),
            "\"a\\0b\" contains a NUL character, which an environment variable cannot hold"
        );
    }

    #[test]
    fn capabilities() {
        let cases = [
            ("SYS_ADMIN", Capability::SysAdmin),
            ("CAP_SYS_ADMIN", Capability::SysAdmin),
            ("NET_ADMIN", Capability::NetAdmin),
            ("CAP_CHECKPOINT_RESTORE", Capability::CheckpointRestore),
            ("ALL", Capability::All),
            ("CAP_ALL", Capability::All),
        ];
        for (input, expected) in cases {
            assert_eq!(capability(input).unwrap(), expected, "{input}");
        }
        assert_eq!(
            reason(capability("sys_admin")),
            "\"sys_admin\" is not a capability name: write it in capitals, `SYS_ADMIN`"
        );
        for bad in ["SYS_GOD", "", "CAP_", "SYS ADMIN", "cap_foo"] {
            assert_eq!(
                reason(capability(bad)),
                format!(
                    "{bad:?} is not a Linux capability: see capabilities(7) for the names (e.g. SYS_ADMIN, NET_ADMIN)"
                )
            );
        }
        assert_eq!(Capability::KNOWN.len(), 41);
        assert_eq!(Capability::SysAdmin.kernel_name(), "CAP_SYS_ADMIN");
    }

    #[test]
    fn mounts() {
        let ok = [
            ("/home", "/home", "/home", false),
            ("/tmp/", "/tmp", "/tmp", false),
            ("//srv//data/./x", "/srv/data/x", "/srv/data/x", false),
            ("/a:/b", "/a", "/b", false),
            ("/a:/b:ro", "/a", "/b", true),
            ("/a:/b:rw", "/a", "/b", false),
        ];
        for (input, source, target, read_only) in ok {
            let mount = mount_spec(input).unwrap();
            assert_eq!(
                (
                    mount.source.to_str().unwrap(),
                    mount.target.to_str().unwrap(),
                    mount.read_only
                ),
                (source, target, read_only),
                "{input}"
            );
        }
        let bad = [
            ("home", "source is not an absolute path: start it with '/'"),
            ("/a:b", "target is not an absolute path: start it with '/'"),
            (
                "/home/../etc",
                "source contains '..': write the path without it",
            ),
            (
                "/a:/b/../c",
                "target contains '..': write the path without it",
            ),
            (
                "/",
                "mounts the host's root directory, which is never allowed",
            ),
            (
                "//.",
                "mounts the host's root directory, which is never allowed",
            ),
            ("/a:/", "would cover the container's root directory"),
            (
                "/a:/b:rx",
                "has the mount option \"rx\": use \"ro\" or \"rw\"",
            ),
            (
                "/a:/b:ro:x",
                "is not a mount: use \"/path\", \"/host:/container\" or \"/host:/container:ro\"",
            ),
            ("", "source is not an absolute path: start it with '/'"),
        ];
        for (input, expected) in bad {
            assert_eq!(
                reason(mount_spec(input)),
                format!("{input:?} {expected}"),
                "{input}"
            );
        }
    }

    #[test]
    fn devices() {
        let ok = [
            ("/dev/fuse", "/dev/fuse:/dev/fuse:rwm"),
            ("/dev/kvm:/dev/kvm", "/dev/kvm:/dev/kvm:rwm"),
            ("/dev/ttyUSB0:/dev/serial:rw", "/dev/ttyUSB0:/dev/serial:rw"),
            ("/dev/sda:/dev/sda:mr", "/dev/sda:/dev/sda:rm"),
        ];
        for (input, expected) in ok {
            assert_eq!(device(input).unwrap().to_string(), expected);
        }
        let bad = [
            ("/etc/passwd", "host path must be a device under /dev/"),
            ("/dev", "host path must be a device under /dev/"),
            (
                "/dev/../etc/shadow",
                "host contains '..': write the path without it",
            ),
            ("/dev/a:/b", "container path must be a device under /dev/"),
            (
                "/dev/a:/dev/a:",
                "has invalid permissions: use a non-empty combination of r (read), w (write) and m (mknod)",
            ),
            (
                "/dev/a:/dev/a:rx",
                "has invalid permissions: use a non-empty combination of r (read), w (write) and m (mknod)",
            ),
            ("/dev/a:/dev/a:rr", "repeats the permission 'r'"),
            (
                "/dev/a:/dev/a:r:x",
                "is not a device: use \"/dev/HOST\", \"/dev/HOST:/dev/CONTAINER\" or \"/dev/HOST:/dev/CONTAINER:rw\"",
            ),
        ];
        for (input, expected) in bad {
            assert_eq!(
                reason(device(input)),
                format!("{input:?} {expected}"),
                "{input}"
            );
        }
    }

    #[test]
    fn networks_and_verify_commands() {
        assert_eq!(network("private").unwrap(), Network::Private);
        assert_eq!(network("host").unwrap(), Network::Host);
        assert_eq!(network("none").unwrap(), Network::None);
        assert_eq!(
            reason(network("bridge")),
            "\"bridge\" is not a network mode: use \"private\", \"host\" or \"none\""
        );
        let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        assert!(verify_command(&argv(&["git", "--version"])).is_ok());
        assert!(verify_command(&argv(&["/usr/bin/env", "a b; c"])).is_ok());
        assert_eq!(
            reason(verify_command(&[])),
            "\"\" is an empty command: give the program and its arguments, e.g. [\"git\", \"--version\"]"
        );
        assert_eq!(
            reason(verify_command(&argv(&["git status"]))),
            "\"git status\" is not a program: use a binary name in the container's PATH or an absolute path"
        );
        assert_eq!(
            reason(verify_command(&argv(&["sh", "-c", "a\nb"]))),
            "\"a\\nb\" contains a NUL or a line break"
        );
    }

    #[test]
    fn suggestions() {
        let fields = [
            "name",
            "image",
            "export_binaries",
            "environment",
            "capabilities",
            "privileged",
        ];
        let cases = [
            ("export_binary", Some("export_binaries")),
            ("exportBinaries", Some("export_binaries")),
            ("imgae", Some("image")),
            ("env", Some("environment")),
            ("capability", Some("capabilities")),
            ("privilege", Some("privileged")),
            ("colour", None),
            ("x", None),
        ];
        for (key, expected) in cases {
            assert_eq!(suggest(key, &fields).as_deref(), expected, "{key}");
        }
    }
}
