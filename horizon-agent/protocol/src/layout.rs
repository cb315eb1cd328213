//! Where the agent lives, on the host and in the container, and how the host side prepares it.
//!
//! Host, below horizon's runtime directory (`$XDG_RUNTIME_DIR/horizonos`, `/run/horizonos` for
//! root), written only by horizon on the host:
//!
//! ```text
//! RUNTIME/agent/                 0700 (a user's) or 0755 (root's: system containers serve everyone)
//! RUNTIME/agent/NAME/            the definition's directory: 0700, or 0755 for a shared one
//!                                (root's system and built-in containers, whose exports every
//!                                user runs); root's own (user-layer) containers are not shared
//! RUNTIME/agent/NAME/active      "GEN\n": the container instance wrappers use (atomic rename)
//! RUNTIME/agent/NAME/GEN/        one per container instance, bind-mounted into it (read-write)
//! RUNTIME/agent/NAME/GEN/agent.sock
//! ```
//!
//! Container: the static agent binary at [`AGENT_IN_CONTAINER`] (a read-only bind mount of the
//! host's), the instance directory at [`SOCKET_DIR_IN_CONTAINER`]. One directory per instance means
//! two containers of one definition (an update verified beside the running one) never share a
//! socket; `active` says which one the wrappers reach, and only horizon on the host moves it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The agent binary inside every agent-managed container.
pub const AGENT_IN_CONTAINER: &str = "/run/horizon/agent";
/// The container's view of its instance directory.
pub const SOCKET_DIR_IN_CONTAINER: &str = "/run/horizon/socket";
/// The socket's file name in the instance directory.
pub const SOCKET_NAME: &str = "agent.sock";
/// The agent's directory below the runtime directory.
pub const AGENT_DIR: &str = "agent";
/// The file naming the active instance.
pub const ACTIVE_FILE: &str = "active";
/// The agent's subcommand that serves (the container's command).
pub const SERVE: &str = "serve";
/// `serve`'s option naming one bind mount: `--mount SOURCE TARGET`.
pub const MOUNT_OPTION: &str = "--mount";
/// `serve`'s option that makes the agent serve only the uid it runs as, with a socket only that
/// uid may open: the agent of a container that is not shared, running as root.
pub const PRIVATE_OPTION: &str = "--private";
/// `serve`'s option naming a variable the definition sets: `--definition-env NAME` (the
/// definition's environment wins over the caller's, as on the API path).
pub const DEFINITION_ENV_OPTION: &str = "--definition-env";
/// The installed location of the agent relative to the directory of `horizon-container`
/// (`/usr/bin` → `/usr/libexec/horizon/horizon-agent`).
pub const LIBEXEC_RELATIVE: &str = "../libexec/horizon/horizon-agent";
/// The agent's file name beside `horizon-container` (a development build, `target/…`).
pub const AGENT_FILE_NAME: &str = "horizon-agent";
/// The longest instance name in `active` (a generation number).
const MAX_ACTIVE_LEN: usize = 32;

/// Where horizon's own mounts live in an agent-managed container.
pub const AGENT_MOUNT_ROOT: &str = "/run/horizon";

/// True for the agent's own mounts (the binary and the socket directory), which are horizon's,
/// not the definition's.
pub fn is_agent_mount(target: &str) -> bool {
    Path::new(target).starts_with(AGENT_MOUNT_ROOT)
}

/// `RUNTIME/agent/NAME`.
pub fn definition_dir(runtime_dir: &Path, definition: &str) -> PathBuf {
    runtime_dir.join(AGENT_DIR).join(definition)
}

/// `RUNTIME/agent/NAME/GEN`: the host source of the container's [`SOCKET_DIR_IN_CONTAINER`].
pub fn instance_dir(runtime_dir: &Path, definition: &str, generation: u64) -> PathBuf {
    definition_dir(runtime_dir, definition).join(generation.to_string())
}

/// The mode of horizon's agent directories for a caller of uid `uid`: `RUNTIME/agent/` itself
/// when `definition` is false, a definition's directories when it is true. A user's are private;
/// root's `agent/` must be reachable by every user, who may use system containers' exports (each
/// runs as itself), and so are the directories of a `shared` definition, but not of root's own.
pub fn directory_mode(uid: u32, definition: bool, shared: bool) -> u32 {
    if uid == 0 && (!definition || shared) {
        0o755
    } else {
        0o700
    }
}

/// Creates an instance directory and its parents below the runtime directory (modes from
/// [`directory_mode`]: `shared` says whether other users may reach this definition's agent),
/// idempotently; existing directories get those modes again.
pub fn prepare_instance_dir(instance_dir: &Path, shared: bool) -> io::Result<()> {
    let uid = rustix::process::geteuid().as_raw();
    let mode = directory_mode(uid, true, shared);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(instance_dir)?;
    // The instance and definition directories, and `agent/` above them: mkdir's mode is
    // filtered by the umask.
    let definition_dir = instance_dir.parent();
    let agent_dir = definition_dir.and_then(Path::parent);
    for (path, mode) in [
        (Some(instance_dir), mode),
        (definition_dir, mode),
        (agent_dir, directory_mode(uid, false, shared)),
    ] {
        if let Some(path) = path {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Makes `instance_dir` (`RUNTIME/agent/NAME/GEN`) the active one: writes `GEN\n` to a temporary
/// file beside `active` and renames it over (readers see the old or the new, never half). No fsync:
/// the runtime directory is a tmpfs that does not outlive a crash anyway.
pub fn activate(instance_dir: &Path) -> io::Result<()> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an agent instance directory",
        )
    };
    let instance = instance_dir.file_name().ok_or_else(invalid)?;
    let instance = instance.to_str().ok_or_else(invalid)?;
    if instance.is_empty() || !instance.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let definition_dir = instance_dir.parent().ok_or_else(invalid)?;
    let temporary = definition_dir.join(format!(".{ACTIVE_FILE}.{}", std::process::id()));
    let mut file = File::create(&temporary)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    file.write_all(format!("{instance}\n").as_bytes())?;
    drop(file);
    std::fs::rename(&temporary, definition_dir.join(ACTIVE_FILE))
}

/// The active instance's name read from an open `active` file (digits only).
pub fn read_active(file: &File) -> io::Result<String> {
    let mut text = String::new();
    file.take(MAX_ACTIVE_LEN as u64 + 1)
        .read_to_string(&mut text)?;
    let name = text.trim_end_matches('\n');
    if name.is_empty()
        || name.len() > MAX_ACTIVE_LEN
        || !name.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the active file does not name a generation",
        ));
    }
    Ok(name.to_owned())
}

/// The container's command: `AGENT serve [--private] [--mount SOURCE TARGET]...
/// [--definition-env NAME]...`.
pub fn serve_command(
    private: bool,
    mounts: &[(String, String)],
    definition_env: &[String],
) -> Vec<String> {
    let mut command = vec![AGENT_IN_CONTAINER.to_owned(), SERVE.to_owned()];
    if private {
        command.push(PRIVATE_OPTION.to_owned());
    }
    for (source, target) in mounts {
        command.extend([MOUNT_OPTION.to_owned(), source.clone(), target.clone()]);
    }
    for name in definition_env {
        command.extend([DEFINITION_ENV_OPTION.to_owned(), name.clone()]);
    }
    command
}

/// What [`serve_command`] encoded, parsed back (the agent's own command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeOptions {
    /// The container's bind mounts, host source → container target.
    pub mounts: Vec<(PathBuf, PathBuf)>,
    /// Variables the definition sets.
    pub definition_env: Vec<String>,
    /// Serve only the uid the agent runs as ([`PRIVATE_OPTION`]).
    pub private: bool,
}

/// Parses the arguments after `serve`.
pub fn parse_serve_options(args: &[OsString]) -> Result<ServeOptions, String> {
    let mut options = ServeOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some(MOUNT_OPTION) => match (args.next(), args.next()) {
                (Some(source), Some(target)) => options
                    .mounts
                    .push((PathBuf::from(source), PathBuf::from(target))),
                _ => return Err(format!("{MOUNT_OPTION} needs SOURCE and TARGET")),
            },
            Some(PRIVATE_OPTION) => options.private = true,
            Some(DEFINITION_ENV_OPTION) => match args.next().and_then(|name| name.to_str()) {
                Some(name) => options.definition_env.push(name.to_owned()),
                None => return Err(format!("{DEFINITION_ENV_OPTION} needs a NAME")),
            },
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(options)
}

/// Where the agent binary is for a `horizon-container` at `exe`: the installed
/// `../libexec/horizon/horizon-agent`, else `horizon-agent` beside it, whichever exists first.
pub fn find_agent_beside(exe: &Path) -> Option<PathBuf> {
    let dir = exe.parent()?;
    [dir.join(LIBEXEC_RELATIVE), dir.join(AGENT_FILE_NAME)]
        .into_iter()
        .find(|candidate| candidate.is_file())
}

/// ELF program header type of the dynamic loader's path: present in every dynamically linked
/// executable, absent from a static(-pie) one.
const PT_INTERP: u32 = 3;

/// True when `path` is a 64-bit little-endian ELF executable without a program interpreter: a
/// static binary that runs in any image (glibc, musl or none at all).
pub fn is_static_executable(path: &Path) -> io::Result<bool> {
    let mut header = [0u8; 64];
    let mut file = File::open(path)?;
    file.read_exact(&mut header)?;
    if &header[..4] != b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return Ok(false);
    }
    let u16_at = |bytes: &[u8], at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let phoff = u64::from_le_bytes(header[0x20..0x28].try_into().unwrap_or([0; 8]));
    let phentsize = usize::from(u16_at(&header, 0x36));
    let phnum = usize::from(u16_at(&header, 0x38));
    if phentsize < 4 || phnum > 4096 {
        return Ok(false);
    }
    let mut table = vec![0u8; phentsize * phnum];
    io::Seek::seek(&mut file, io::SeekFrom::Start(phoff))?;
    file.read_exact(&mut table)?;
    Ok(!table
        .chunks_exact(phentsize)
        .any(|entry| u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) == PT_INTERP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serve_command_round_trips() {
        let mounts = vec![
            ("/home/me".to_owned(), "/home/me".to_owned()),
            ("/data x".to_owned(), "/mnt/--mount".to_owned()),
        ];
        let env = vec!["EDITOR".to_owned()];
        let command = serve_command(true, &mounts, &env);
        assert_eq!(
            command,
            [
                AGENT_IN_CONTAINER,
                "serve",
                "--private",
                "--mount",
                "/home/me",
                "/home/me",
                "--mount",
                "/data x",
                "/mnt/--mount",
                "--definition-env",
                "EDITOR"
            ]
        );
        let args: Vec<OsString> = command[2..].iter().map(OsString::from).collect();
        assert_eq!(
            parse_serve_options(&args),
            Ok(ServeOptions {
                mounts: mounts
                    .iter()
                    .map(|(s, t)| (PathBuf::from(s), PathBuf::from(t)))
                    .collect(),
                definition_env: env,
                private: true,
            })
        );
        assert!(!serve_command(false, &mounts, &[]).contains(&PRIVATE_OPTION.to_owned()));
        assert!(parse_serve_options(&[OsString::from("--mount"), OsString::from("/x")]).is_err());
        assert!(parse_serve_options(&[OsString::from("--bogus")]).is_err());
    }

    #[test]
    fn only_roots_shared_definitions_are_reachable_by_others() {
        assert_eq!(directory_mode(0, false, false), 0o755);
        assert_eq!(directory_mode(0, true, true), 0o755);
        assert_eq!(directory_mode(0, true, false), 0o700);
        for (definition, shared) in [(false, false), (true, true), (true, false)] {
            assert_eq!(directory_mode(1000, definition, shared), 0o700);
        }
    }

    #[test]
    fn activation_is_an_atomic_pointer_to_a_generation() {
        let dir = std::env::temp_dir().join(format!("horizon-agent-layout-{}", std::process::id()));
        let instance = instance_dir(&dir, "dev", 3);
        prepare_instance_dir(&instance, true).unwrap();
        activate(&instance).unwrap();
        let active = definition_dir(&dir, "dev").join(ACTIVE_FILE);
        assert_eq!(std::fs::read_to_string(&active).unwrap(), "3\n");
        assert_eq!(read_active(&File::open(&active).unwrap()).unwrap(), "3");
        assert!(activate(&dir.join("not-a-generation")).is_err());
        std::fs::write(&active, "../../etc\n").unwrap();
        assert!(read_active(&File::open(&active).unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_dynamic_executable_is_not_static() {
        // The test binary itself is dynamically linked (a normal cargo build).
        let exe = std::env::current_exe().unwrap();
        assert!(!is_static_executable(&exe).unwrap());
        assert!(!is_static_executable(Path::new("/etc/hostname")).unwrap_or(false));
    }
}
