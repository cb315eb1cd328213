//! The container's own user database, read by the agent (a static binary cannot use NSS): the
//! name, home and primary group of a uid from `/etc/passwd`, and its supplementary groups from
//! `/etc/group`, as runc computes them for `podman exec`.

/// One `/etc/passwd` entry's fields the agent needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// The login name.
    pub name: String,
    /// The primary group.
    pub gid: u32,
    /// The home directory.
    pub home: String,
    /// The login shell.
    pub shell: String,
}

/// Login shells that refuse a session (`/usr/sbin/nologin`, `/bin/false`): skipped in favour of
/// bash or sh.
const REFUSING_SHELLS: &[&str] = &["nologin", "false"];

/// The interactive shell `shell` starts: the user's login shell (an executable one, found by the
/// caller) unless it refuses sessions, else bash, else sh. One rule for both exec paths: the API
/// path feeds it what its probe found in the container, the agent what it finds itself.
pub fn interactive_shell<'a>(
    login_shell: Option<&'a str>,
    bash: Option<&'a str>,
    sh: Option<&'a str>,
) -> Option<&'a str> {
    let login = login_shell.filter(|shell| {
        let program = shell.rsplit('/').next().unwrap_or(shell);
        !REFUSING_SHELLS.contains(&program)
    });
    login.or(bash).or(sh)
}

/// The entry of `uid` in `passwd` (the file's text); the first wins, as with getpwuid.
pub fn passwd_entry(passwd: &str, uid: u32) -> Option<PasswdEntry> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 7 || fields[2].parse::<u32>().ok()? != uid {
            return None;
        }
        Some(PasswdEntry {
            name: fields[0].to_owned(),
            gid: fields[3].parse().ok()?,
            home: fields[5].to_owned(),
            shell: fields[6].to_owned(),
        })
    })
}

/// The supplementary groups of user `name` in `group` (the file's text), with `primary` first,
/// each once.
pub fn groups_of(group: &str, name: &str, primary: u32) -> Vec<u32> {
    let mut groups = vec![primary];
    for line in group.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || !fields[3].split(',').any(|member| member == name) {
            continue;
        }
        if let Ok(gid) = fields[2].parse::<u32>()
            && !groups.contains(&gid)
        {
            groups.push(gid);
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          broken line\n\
                          me:x:1000:1000:Me,,,:/home/me:/bin/zsh\n\
                          dup:x:1000:5:dup:/elsewhere:/bin/sh\n";
    const GROUP: &str = "root:x:0:\n\
                         wheel:x:10:root,me\n\
                         audio:x:29:me\n\
                         me:x:1000:\n\
                         bad:x:notanumber:me\n";

    #[test]
    fn users_and_groups_as_getpwuid_and_initgroups() {
        assert_eq!(
            passwd_entry(PASSWD, 1000),
            Some(PasswdEntry {
                name: "me".into(),
                gid: 1000,
                home: "/home/me".into(),
                shell: "/bin/zsh".into(),
            })
        );
        assert_eq!(passwd_entry(PASSWD, 7), None);
        assert_eq!(groups_of(GROUP, "me", 1000), vec![1000, 10, 29]);
        assert_eq!(groups_of(GROUP, "root", 0), vec![0, 10]);
        assert_eq!(groups_of(GROUP, "nobody", 65534), vec![65534]);
    }

    #[test]
    fn the_interactive_shell_skips_refusing_login_shells() {
        let (bash, sh) = (Some("/bin/bash"), Some("/bin/sh"));
        assert_eq!(
            interactive_shell(Some("/bin/zsh"), bash, sh),
            Some("/bin/zsh")
        );
        assert_eq!(interactive_shell(Some("/usr/sbin/nologin"), bash, sh), bash);
        assert_eq!(interactive_shell(Some("/bin/false"), None, sh), sh);
        assert_eq!(interactive_shell(None, None, None), None);
    }
}
