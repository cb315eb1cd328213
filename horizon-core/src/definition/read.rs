//! Reads one definition file into a [`LayerFile`]: the size check, the strict JSON parse, then every
//! field checked against its type and rule, with unknown keys refused (and the nearest valid key
//! offered). Field errors are collected, so one run reports every problem of a file, each with its
//! line, column and field path. The position of every field is kept, so the layer rules applied
//! later (`layers.rs`) can point at the offending value too.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::error::{DefinitionError, Diagnostic, Problem};
use super::model::{DefinitionLayer, DesktopLayer, Mount};
use super::parse::{MAX_DEFINITION_BYTES, Member, Node, Position, Value, parse_json};
use super::validate;

/// Every top-level key of a definition file, in the order the documentation lists them.
pub const FIELDS: &[&str] = &[
    "name",
    "image",
    "purpose",
    "packages",
    "export_binaries",
    "persistent",
    "mounts",
    "environment",
    "privileged",
    "capabilities",
    "desktop",
    "devices",
    "network",
    "verify",
    "autostart",
];

/// The keys of the `desktop` object.
pub(super) const DESKTOP_FIELDS: &[&str] = &["display", "audio", "gpu", "input"];

/// The keys of a mount in object form.
pub(super) const MOUNT_FIELDS: &[&str] = &["source", "target", "read_only"];

/// The file name extension of definition files.
pub(super) const EXTENSION: &str = "json";

/// One parsed and checked definition file, not yet merged with other layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// The file, as named when read.
    pub path: PathBuf,
    /// Its contents.
    pub layer: DefinitionLayer,
    /// Where each field path's value starts (`image`, `mounts[1]`, `environment.PATH`, and `""`
    /// for the document itself).
    pub positions: BTreeMap<String, Position>,
}

impl LayerFile {
    /// Where a field's value is in the file (the document's start when the field is absent).
    pub fn position(&self, field: &str) -> Position {
        self.positions
            .get(field)
            .copied()
            .unwrap_or(Position::START)
    }

    /// A diagnostic about a field of this file.
    pub fn diagnostic(&self, field: &str, problem: Problem) -> Diagnostic {
        Diagnostic {
            file: self.path.clone(),
            position: Some(self.position(field)),
            field: field.to_owned(),
            problem,
        }
    }
}

/// Reads a definition file from disk: refuses it before reading when it is not a regular file
/// (after following symlinks) or larger than [`MAX_DEFINITION_BYTES`], then parses it with
/// [`parse_layer`].
pub fn read_layer_file(path: &Path) -> Result<LayerFile, DefinitionError> {
    read_layer_file_with(path, |_| Ok(()))
}

/// [`read_layer_file`], with `check` applied to the opened file's metadata before it is read (the
/// system layer's ownership rule: checked on the open file, so a rename in between cannot swap it).
pub(crate) fn read_layer_file_with(
    path: &Path,
    check: impl FnOnce(&std::fs::Metadata) -> Result<(), Problem>,
) -> Result<LayerFile, DefinitionError> {
    let whole_file = |problem| {
        DefinitionError::single(Diagnostic {
            file: path.to_owned(),
            position: None,
            field: String::new(),
            problem,
        })
    };
    let unreadable = |error: std::io::Error| {
        whole_file(Problem::Unreadable {
            message: error.to_string(),
        })
    };
    // What is not a regular file is refused before it is opened, and again on the open file (it
    // may have been swapped in between): reading a FIFO blocks until a writer comes, a device may
    // never end, and a directory or socket has nothing to read. The open does not block on a FIFO.
    let not_regular = |metadata: &std::fs::Metadata| {
        special_kind(metadata).map(|kind| whole_file(Problem::NotRegularFile { kind }))
    };
    if let Some(refused) = std::fs::metadata(path).ok().as_ref().and_then(not_regular) {
        return Err(refused);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(unreadable)?;
    let metadata = file.metadata().map_err(unreadable)?;
    if let Some(refused) = not_regular(&metadata) {
        return Err(refused);
    }
    check(&metadata).map_err(whole_file)?;
    let size = metadata.len();
    if size > MAX_DEFINITION_BYTES as u64 {
        return Err(whole_file(Problem::TooLarge {
            size,
            limit: MAX_DEFINITION_BYTES as u64,
        }));
    }
    // Read at most one byte past the limit: a file that grows (or a device that never ends) is still
    // bounded, and parse_json reports it as too large.
    let mut bytes = Vec::new();
    file.take(MAX_DEFINITION_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    parse_layer(&bytes, path)
}

/// What a file that is not a regular one is, as a refusal names it; `None` for a regular file.
/// The metadata is the link target's, so a symlink to a regular file is read as that file.
pub(crate) fn special_kind(metadata: &std::fs::Metadata) -> Option<&'static str> {
    let kind = metadata.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() {
        Some("a character device")
    } else if kind.is_block_device() {
        Some("a block device")
    } else {
        Some("a special file")
    }
}

/// Parses and checks one definition file's bytes. `path` names the file in errors, and its stem
/// must equal the `name` field.
pub fn parse_layer(bytes: &[u8], path: &Path) -> Result<LayerFile, DefinitionError> {
    let root = parse_json(bytes).map_err(|error| {
        DefinitionError::single(Diagnostic {
            file: path.to_owned(),
            position: error.position,
            field: String::new(),
            problem: error.problem,
        })
    })?;
    let mut reader = Reader {
        path,
        diagnostics: Vec::new(),
        positions: BTreeMap::new(),
    };
    let layer = reader.document(&root);
    match layer {
        Some(layer) if reader.diagnostics.is_empty() => Ok(LayerFile {
            path: path.to_owned(),
            layer,
            positions: reader.positions,
        }),
        _ => Err(DefinitionError {
            diagnostics: reader.diagnostics,
        }),
    }
}

/// The stem of `NAME.json`, when the file name has that shape.
pub fn file_stem(path: &Path) -> Option<&str> {
    let file_name = path.file_name()?.to_str()?;
    file_name.strip_suffix(".json")
}

struct Reader<'a> {
    path: &'a Path,
    diagnostics: Vec<Diagnostic>,
    positions: BTreeMap<String, Position>,
}

impl Reader<'_> {
    fn report(&mut self, position: Position, field: &str, problem: Problem) {
        self.diagnostics.push(Diagnostic {
            file: self.path.to_owned(),
            position: Some(position),
            field: field.to_owned(),
            problem,
        });
    }

    fn wrong_type(&mut self, node: &Node, field: &str, expected: &'static str) {
        self.report(
            node.position,
            field,
            Problem::WrongType {
                expected,
                found: node.value.kind(),
            },
        );
    }

    fn object<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n [Member]> {
        self.positions.insert(field.to_owned(), node.position);
        match &node.value {
            Value::Object(members) => Some(members),
            _ => {
                self.wrong_type(node, field, "an object");
                None
            }
        }
    }

    fn array<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n [Node]> {
        self.positions.insert(field.to_owned(), node.position);
        match &node.value {
            Value::Array(items) => Some(items),
            _ => {
                self.wrong_type(node, field, "an array");
                None
            }
        }
    }

    fn string<'n>(&mut self, node: &'n Node, field: &str) -> Option<&'n str> {
        self.positions.insert(field.to_owned(), node.position);
        match &node.value {
            Value::String(text) => Some(text),
            _ => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        self.positions.insert(field.to_owned(), node.position);
        match node.value {
            Value::Bool(value) => Some(value),
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    /// A string checked by `rule`.
    fn checked<T>(
        &mut self,
        node: &Node,
        field: &str,
        rule: impl Fn(&str) -> Result<T, Problem>,
    ) -> Option<T> {
        let text = self.string(node, field)?;
        match rule(text) {
            Ok(value) => Some(value),
            Err(problem) => {
                self.report(node.position, field, problem);
                None
            }
        }
    }

    /// A list whose items are read by `item`; repeated items (by `key`) are refused.
    fn list<T>(
        &mut self,
        node: &Node,
        field: &str,
        mut item: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
        key: impl Fn(&T) -> String,
    ) -> Option<Vec<T>> {
        let items = self.array(node, field)?;
        let mut values = Vec::with_capacity(items.len());
        let mut seen = HashSet::new();
        let mut ok = true;
        for (index, child) in items.iter().enumerate() {
            let path = format!("{field}[{index}]");
            match item(self, child, &path) {
                Some(value) => {
                    let key = key(&value);
                    if !seen.insert(key.clone()) {
                        self.report(child.position, &path, Problem::Repeated { value: key });
                        ok = false;
                    }
                    values.push(value);
                }
                None => ok = false,
            }
        }
        ok.then_some(values)
    }

    fn unknown(&mut self, member: &Member, prefix: &str, known: &[&str]) {
        let field = if prefix.is_empty() {
            member.key.clone()
        } else {
            format!("{prefix}.{}", member.key)
        };
        self.report(
            member.key_position,
            &field,
            Problem::UnknownField {
                key: member.key.clone(),
                suggestion: validate::suggest(&member.key, known),
            },
        );
    }

    fn document(&mut self, root: &Node) -> Option<DefinitionLayer> {
        let members = self.object(root, "")?;
        let mut layer = DefinitionLayer::default();
        let mut name = None;
        for member in members {
            let node = &member.value;
            let key = member.key.as_str();
            match key {
                "name" => name = self.checked(node, key, validate::name),
                "image" => layer.image = self.checked(node, key, validate::image),
                "purpose" => layer.purpose = self.checked(node, key, validate::name),
                "packages" => {
                    layer.packages = self.list(
                        node,
                        key,
                        |r, n, f| r.checked(n, f, validate::package),
                        Clone::clone,
                    )
                }
                "export_binaries" => {
                    layer.export_binaries = self.list(
                        node,
                        key,
                        |r, n, f| r.checked(n, f, validate::binary),
                        Clone::clone,
                    )
                }
                "persistent" => layer.persistent = self.boolean(node, key),
                "mounts" => {
                    // Two mounts on one target would silently hide each other.
                    layer.mounts = self.list(node, key, Self::mount, |m| {
                        format!("target {}", m.target.display())
                    })
                }
                "environment" => layer.environment = self.environment(node),
                "privileged" => layer.privileged = self.boolean(node, key),
                "capabilities" => {
                    layer.capabilities = self.list(
                        node,
                        key,
                        |r, n, f| r.checked(n, f, validate::capability),
                        |c| c.name().to_owned(),
                    )
                }
                "desktop" => layer.desktop = self.desktop(node),
                "devices" => {
                    layer.devices = self.list(
                        node,
                        key,
                        |r, n, f| r.checked(n, f, validate::device),
                        |d| format!("container device {}", d.container.display()),
                    )
                }
                "network" => layer.network = self.checked(node, key, validate::network),
                "verify" => {
                    layer.verify =
                        self.list(node, key, Self::verify_command, |argv| format!("{argv:?}"))
                }
                "autostart" => layer.autostart = self.boolean(node, key),
                _ => self.unknown(member, "", FIELDS),
            }
        }
        let stem = file_stem(self.path);
        match (&name, stem) {
            (None, _) if !members.iter().any(|m| m.key == "name") => {
                self.report(root.position, "", Problem::MissingField { field: "name" });
            }
            (Some(name), Some(stem)) if name != stem => {
                let position = self.positions["name"];
                self.report(
                    position,
                    "name",
                    Problem::NameMismatch {
                        name: name.clone(),
                        stem: stem.to_owned(),
                    },
                );
            }
            (Some(_), None) => {
                self.report(Position::START, "", Problem::BadFileName);
            }
            _ => {}
        }
        layer.name = name?;
        Some(layer)
    }

    fn mount(&mut self, node: &Node, field: &str) -> Option<Mount> {
        match &node.value {
            Value::String(_) => self.checked(node, field, validate::mount_spec),
            Value::Object(members) => {
                self.positions.insert(field.to_owned(), node.position);
                let (mut source, mut target, mut read_only) = (None, None, Some(false));
                for member in members {
                    let path = format!("{field}.{}", member.key);
                    match member.key.as_str() {
                        "source" => source = self.string(&member.value, &path),
                        "target" => target = self.string(&member.value, &path),
                        "read_only" => read_only = self.boolean(&member.value, &path),
                        _ => self.unknown(member, field, MOUNT_FIELDS),
                    }
                }
                for (value, key) in [(&source, "source"), (&target, "target")] {
                    if value.is_none() && !members.iter().any(|m| m.key == key) {
                        self.report(node.position, field, Problem::MissingField { field: key });
                    }
                }
                let (source, target, read_only) = (source?, target?, read_only?);
                match validate::mount(source, target, read_only) {
                    Ok(mount) => Some(mount),
                    Err(reason) => {
                        self.report(
                            node.position,
                            field,
                            Problem::Invalid {
                                value: format!("{source}:{target}"),
                                reason,
                            },
                        );
                        None
                    }
                }
            }
            _ => {
                self.wrong_type(node, field, "a string or an object");
                None
            }
        }
    }

    fn environment(&mut self, node: &Node) -> Option<BTreeMap<String, String>> {
        let members = self.object(node, "environment")?;
        let mut environment = BTreeMap::new();
        let mut ok = true;
        for member in members {
            let field = format!("environment.{}", member.key);
            self.positions.insert(field.clone(), member.value.position);
            let name = match validate::env_name(&member.key) {
                Ok(name) => Some(name),
                Err(problem) => {
                    self.report(member.key_position, &field, problem);
                    None
                }
            };
            let value = self.checked(&member.value, &field, validate::env_value);
            match (name, value) {
                (Some(name), Some(value)) => {
                    environment.insert(name, value);
                }
                _ => ok = false,
            }
        }
        ok.then_some(environment)
    }

    fn desktop(&mut self, node: &Node) -> Option<DesktopLayer> {
        let members = self.object(node, "desktop")?;
        let mut desktop = DesktopLayer::default();
        let mut ok = true;
        for member in members {
            let field = format!("desktop.{}", member.key);
            let slot = match member.key.as_str() {
                "display" => &mut desktop.display,
                "audio" => &mut desktop.audio,
                "gpu" => &mut desktop.gpu,
                "input" => &mut desktop.input,
                _ => {
                    self.unknown(member, "desktop", DESKTOP_FIELDS);
                    ok = false;
                    continue;
                }
            };
            *slot = self.boolean(&member.value, &field);
            ok &= slot.is_some();
        }
        ok.then_some(desktop)
    }

    fn verify_command(&mut self, node: &Node, field: &str) -> Option<Vec<String>> {
        let words = self.array(node, field)?;
        let mut argv = Vec::with_capacity(words.len());
        for (index, word) in words.iter().enumerate() {
            argv.push(self.string(word, &format!("{field}[{index}]"))?.to_owned());
        }
        match validate::verify_command(&argv) {
            Ok(argv) => Some(argv),
            Err(problem) => {
                self.report(node.position, field, problem);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(path: &str, text: &str) -> Vec<String> {
        match parse_layer(text.as_bytes(), Path::new(path)) {
            Ok(file) => panic!("accepted {text}: {file:?}"),
            Err(error) => error.diagnostics.iter().map(ToString::to_string).collect(),
        }
    }

    /// Each case: a file name, its text, and every diagnostic expected, exactly.
    #[test]
    fn refuses_bad_files_with_every_problem_located() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "dev.json",
                "{\n  \"name\": \"dev\",\n  \"image\": \"quay.io/a/b:1\",\n  \"export_binary\": [\"git\"]\n}",
                &[
                    "dev.json:4:3: export_binary: unknown field `export_binary`; did you mean `export_binaries`?",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"image\": \"ubuntu:22.04\"}",
                &[
                    "dev.json:1:26: image: \"ubuntu:22.04\" is a short name, which could be pulled from any registry: use a fully qualified reference such as docker.io/library/ubuntu:22.04",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\",\n \"mounts\": [\"/home\",\n            \"/x/../etc\"]}",
                &[
                    "dev.json:3:13: mounts[1]: \"/x/../etc\" source contains '..': write the path without it",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"environment\": {\"A\": \"x\\ny\", \"1B\": \"z\"}}",
                &[
                    "dev.json:1:38: environment.A: \"x\\ny\" contains a line break: environment values must be one line",
                    "dev.json:1:46: environment.1B: \"1B\" is not a valid environment variable name: use letters, digits and '_', not starting with a digit",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"capabilities\": [\"SYS_ADMIN\", \"CAP_SYS_ADMIN\", \"SYS_GOD\"]}",
                &[
                    "dev.json:1:47: capabilities[1]: \"SYS_ADMIN\" is listed twice",
                    "dev.json:1:64: capabilities[2]: \"SYS_GOD\" is not a Linux capability: see capabilities(7) for the names (e.g. SYS_ADMIN, NET_ADMIN)",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"packages\": [\"git\", \"-rf\", \"a;b\", \"../x\", 3]}",
                &[
                    "dev.json:1:37: packages[1]: \"-rf\" is not a valid package name: start with a letter or digit and use only letters, digits and . _ + : = ~ @ -",
                    "dev.json:1:44: packages[2]: \"a;b\" is not a valid package name: start with a letter or digit and use only letters, digits and . _ + : = ~ @ -",
                    "dev.json:1:51: packages[3]: \"../x\" is not a valid package name: start with a letter or digit and use only letters, digits and . _ + : = ~ @ -",
                    "dev.json:1:59: packages[4]: expected a string, found a number",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"export_binaries\": [\"../bin/sh\", \"git;id\", \"git\", \"git\"]}",
                &[
                    "dev.json:1:37: export_binaries[0]: \"../bin/sh\" is not a valid binary name: a file name (no '/') starting with a letter, digit or '_', using only letters, digits and . _ + -",
                    "dev.json:1:50: export_binaries[1]: \"git;id\" is not a valid binary name: a file name (no '/') starting with a letter, digit or '_', using only letters, digits and . _ + -",
                    "dev.json:1:67: export_binaries[3]: \"git\" is listed twice",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"../dev\"}",
                &[
                    "dev.json:1:10: name: \"../dev\" is not a valid name: use lowercase letters, digits and '-', starting with a letter and not ending with '-', at most 63 characters",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev;rm -rf\"}",
                &[
                    "dev.json:1:10: name: \"dev;rm -rf\" is not a valid name: use lowercase letters, digits and '-', starting with a letter and not ending with '-', at most 63 characters",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"other\"}",
                &[
                    "dev.json:1:10: name: the name is \"other\" but the file is \"dev\".json: they must be equal",
                ],
            ),
            (
                "dev.json",
                "{\"image\": \"quay.io/a/b:1\"}",
                &["dev.json:1:1: missing required field `name`"],
            ),
            (
                "dev.json",
                "[1]",
                &["dev.json:1:1: expected an object, found an array"],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"persistent\": \"yes\", \"network\": \"bridge\", \"autostart\": 1}",
                &[
                    "dev.json:1:31: persistent: expected true or false, found a string",
                    "dev.json:1:49: network: \"bridge\" is not a network mode: use \"private\", \"host\" or \"none\"",
                    "dev.json:1:72: autostart: expected true or false, found a number",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"desktop\": {\"gpu\": true, \"sound\": true}}",
                &["dev.json:1:42: desktop.sound: unknown field `sound`"],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"mounts\": [{\"source\": \"/a\", \"target\": \"/t\", \"ro\": true}, {\"target\": \"/b\"}, 7]}",
                &[
                    "dev.json:1:61: mounts[0].ro: unknown field `ro`",
                    "dev.json:1:74: mounts[1]: missing required field `source`",
                    "dev.json:1:92: mounts[2]: expected a string or an object, found a number",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"mounts\": [\"/a:/data\", \"/b:/data:ro\"]}",
                &["dev.json:1:40: mounts[1]: \"target /data\" is listed twice"],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"devices\": [\"/etc/shadow\"], \"verify\": [[], [\"git\", 1]]}",
                &[
                    "dev.json:1:29: devices[0]: \"/etc/shadow\" host path must be a device under /dev/",
                    "dev.json:1:56: verify[0]: \"\" is an empty command: give the program and its arguments, e.g. [\"git\", \"--version\"]",
                    "dev.json:1:68: verify[1][1]: expected a string, found a number",
                ],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\",}",
                &["dev.json:1:15: trailing comma: remove the `,` before `}` (JSON allows none)"],
            ),
            (
                "dev.json",
                "{\"name\": \"dev\", \"name\": \"dev\"}",
                &[
                    "dev.json:1:17: duplicate key `name` (first at line 1, column 2): each key may appear once",
                ],
            ),
            (
                // What the file holds is shown escaped: it would act on a terminal.
                "dev.json",
                "{\"name\": \"dev\", \"x\\u001b[2J\": 1, \"environment\": {\"\\u0000\": \"\\u009b\"}}",
                &[
                    "dev.json:1:17: x\\u{1b}[2J: unknown field `x\\u{1b}[2J`",
                    "dev.json:1:50: environment.\\0: \"\\0\" is not a valid environment variable name: use letters, digits and '_', not starting with a digit",
                ],
            ),
            (
                "dev.txt",
                "{\"name\": \"dev\"}",
                &["dev.txt:1:1: the file name must be NAME.json with a valid container name"],
            ),
        ];
        let mismatches: Vec<String> = cases
            .iter()
            .filter(|(path, text, expected)| errors(path, text) != *expected)
            .map(|(path, text, _)| format!("{text}\n  got: {:#?}", errors(path, text)))
            .collect();
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }

    #[test]
    fn reads_every_field() {
        let text = r#"{
  "name": "full",
  "image": "quay.io/a/b:1",
  "purpose": "testing",
  "packages": ["git"],
  "export_binaries": ["git"],
  "persistent": true,
  "mounts": ["/home", "/a:/b:ro", {"source": "/c", "target": "/d", "read_only": true}],
  "environment": {"A": "1"},
  "privileged": true,
  "capabilities": ["CAP_NET_ADMIN", "ALL"],
  "desktop": {"display": true, "audio": false},
  "devices": ["/dev/fuse"],
  "network": "host",
  "verify": [["git", "--version"]],
  "autostart": true
}"#;
        let file = parse_layer(text.as_bytes(), Path::new("/x/full.json")).unwrap();
        let layer = &file.layer;
        assert_eq!(layer.name, "full");
        assert_eq!(layer.image.as_ref().unwrap().as_str(), "quay.io/a/b:1");
        assert_eq!(layer.purpose.as_deref(), Some("testing"));
        let mounts: Vec<String> = layer
            .mounts
            .iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        assert_eq!(mounts, ["/home", "/a:/b:ro", "/c:/d:ro"]);
        assert_eq!(
            layer.desktop,
            Some(DesktopLayer {
                display: Some(true),
                audio: Some(false),
                gpu: None,
                input: None
            })
        );
        assert_eq!(
            layer.verify,
            Some(vec![vec!["git".to_owned(), "--version".to_owned()]])
        );
        assert_eq!(
            file.position("mounts[1]"),
            Position {
                line: 8,
                column: 23
            }
        );
        assert_eq!(
            file.position("environment.A"),
            Position {
                line: 9,
                column: 24
            }
        );
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().strip_prefix('"'))
            .filter_map(|line| line.split('"').next())
            .collect();
        assert_eq!(
            keys, FIELDS,
            "the test covers every field, in documentation order"
        );
    }
}
