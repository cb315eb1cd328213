//! Facts about the user commands run as inside a container: its home and its login shell. They
//! live in the container (its `/etc/passwd`, the `HOME` Podman gives its processes), so one short
//! exec of [`USER_PROBE`] under `/bin/sh` reads them, and [`parse_user_facts`] turns its output
//! into [`UserFacts`]. The script is fixed text and reads nothing from the caller.

/// Prints `key=value` lines: `home` ($HOME, when it is a directory), `uid` (from
/// /proc/self/status), `passwd_home` and `login_shell` (that uid's /etc/passwd entry, each when it
/// exists), `bash` and `sh` (where they are, when they are on PATH).
pub const USER_PROBE: &str = r#"if [ -n "$HOME" ] && [ -d "$HOME" ]; then printf 'home=%s\n' "$HOME"; fi
uid=
while read -r key value rest; do
  if [ "$key" = Uid: ]; then uid=$value; fi
done < /proc/self/status
printf 'uid=%s\n' "$uid"
if [ -r /etc/passwd ]; then
  while IFS=: read -r name password id group gecos home shell || [ -n "$name" ]; do
    if [ "$id" = "$uid" ]; then
      if [ -d "$home" ]; then printf 'passwd_home=%s\n' "$home"; fi
      if [ -x "$shell" ]; then printf 'login_shell=%s\n' "$shell"; fi
      break
    fi
  done < /etc/passwd
fi
for program in bash sh; do
  if found=$(command -v "$program"); then printf '%s=%s\n' "$program" "$found"; fi
done"#;

/// The directory used when nothing better is known.
pub const ROOT_DIR: &str = "/";

/// What the probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFacts {
    /// The user's numeric id inside the container.
    pub uid: Option<u32>,
    /// `$HOME` of the container's processes, when it is a directory.
    pub home: Option<String>,
    /// The home directory in /etc/passwd, when it is a directory.
    pub passwd_home: Option<String>,
    /// The login shell in /etc/passwd, when it is executable.
    pub login_shell: Option<String>,
    /// Where bash is, when it is on PATH.
    pub bash: Option<String>,
    /// Where sh is, when it is on PATH.
    pub sh: Option<String>,
}

impl UserFacts {
    /// The user's home: `$HOME`, else the passwd entry's, else `/`.
    pub fn home_dir(&self) -> &str {
        self.home
            .as_deref()
            .or(self.passwd_home.as_deref())
            .unwrap_or(ROOT_DIR)
    }

    /// The interactive shell: the login shell from /etc/passwd (unless it refuses sessions),
    /// else bash, else sh; `None` when there is none.
    pub fn shell(&self) -> Option<&str> {
        horizon_agent_protocol::users::interactive_shell(
            self.login_shell.as_deref(),
            self.bash.as_deref(),
            self.sh.as_deref(),
        )
    }
}

/// Reads the probe's output. Unknown keys and malformed lines are ignored (a later probe may say
/// more); empty values count as absent.
pub fn parse_user_facts(output: &str) -> UserFacts {
    let mut facts = UserFacts::default();
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let value = Some(value.to_owned());
        match key {
            "uid" => facts.uid = value.and_then(|uid| uid.parse().ok()),
            "home" => facts.home = value,
            "passwd_home" => facts.passwd_home = value,
            "login_shell" => facts.login_shell = value,
            "bash" => facts.bash = value,
            "sh" => facts.sh = value,
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_debian_root_user() {
        let facts = parse_user_facts(
            "home=/root\nuid=0\npasswd_home=/root\nlogin_shell=/bin/bash\nbash=/usr/bin/bash\nsh=/usr/bin/sh\n",
        );
        assert_eq!(
            facts,
            UserFacts {
                uid: Some(0),
                home: Some("/root".into()),
                passwd_home: Some("/root".into()),
                login_shell: Some("/bin/bash".into()),
                bash: Some("/usr/bin/bash".into()),
                sh: Some("/usr/bin/sh".into()),
            }
        );
        assert_eq!(facts.home_dir(), "/root");
        assert_eq!(facts.shell(), Some("/bin/bash"));
    }

    #[test]
    fn fallbacks() {
        // Podman's keep-id entry on busybox: HOME=/, login shell /bin/sh, no bash.
        let busybox =
            parse_user_facts("home=/\nuid=1001\npasswd_home=/\nlogin_shell=/bin/sh\nsh=/bin/sh\n");
        assert_eq!(
            (busybox.home_dir(), busybox.shell()),
            ("/", Some("/bin/sh"))
        );
        // A refusing login shell gives way to bash.
        let nologin = parse_user_facts(
            "uid=65534\nlogin_shell=/usr/sbin/nologin\nbash=/bin/bash\nsh=/bin/sh\n",
        );
        assert_eq!(nologin.shell(), Some("/bin/bash"));
        // No passwd entry, no HOME: /, and sh.
        let bare = parse_user_facts("uid=\nsh=/bin/sh\nnoise\nfuture=key\n");
        assert_eq!(bare.uid, None);
        assert_eq!((bare.home_dir(), bare.shell()), ("/", Some("/bin/sh")));
        // The passwd home stands in for a missing $HOME.
        let passwd = parse_user_facts("passwd_home=/home/me\n");
        assert_eq!(passwd.home_dir(), "/home/me");
        assert_eq!(parse_user_facts("").shell(), None);
    }
}
