//! The pseudo-terminal a program on a terminal runs on. It is made in the container (its own
//! devpts, so `tty` names it and the program may reopen it), set up exactly like the caller's
//! terminal before the program starts, and its master goes back to the client, which relays
//! between it and the caller's terminal.

use std::io;
use std::os::fd::OwnedFd;

use horizon_agent_protocol::terminal::apply_settings;
use horizon_agent_protocol::wire::TerminalSettings;
use rustix::pty::OpenptFlags;

/// A new pseudo-terminal set up as `settings` say: (master, slave). Both are close-on-exec and
/// neither becomes this process's controlling terminal.
pub fn open_pty(settings: &TerminalSettings) -> io::Result<(OwnedFd, OwnedFd)> {
    let (master, slave) = new_pty()?;
    apply_settings(&slave, settings)?;
    Ok((master, slave))
}

/// A new pseudo-terminal in the kernel's settings: (master, slave), as [`open_pty`] says.
fn new_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    // The slave through the master itself (TIOCGPTPEER): no path lookup in /dev/pts.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags)?;
    Ok((master, slave))
}

#[cfg(test)]
mod tests {
    use horizon_agent_protocol::terminal::{default_settings, read_settings};
    use horizon_agent_protocol::wire::{SPECIAL_CODES, STREAM_STDIN, STREAM_STDOUT};
    use rustix::termios::{OptionalActions, SpecialCodeIndex, Winsize};

    use super::*;

    /// A window of `rows`×`columns` characters (no pixel size).
    fn window(rows: u16, columns: u16) -> Winsize {
        Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }
    }

    /// A pty made from settings reads back as those settings: what the program sees is what the
    /// caller's terminal had.
    #[test]
    fn a_pty_is_set_up_as_the_settings_say() {
        let (caller_master, caller) = open_pty(&TerminalSettings {
            streams: STREAM_STDIN,
            modes: [0, 0, 0, 0],
            line_discipline: 0,
            special_codes: [0; SPECIAL_CODES],
            speeds: [9600, 9600],
            size: [24, 80, 0, 0],
        })
        .unwrap();
        // A caller's terminal with unusual settings: raw-ish modes, ^X as VINTR, 33x101.
        let mut termios = rustix::termios::tcgetattr(&caller).unwrap();
        termios.make_raw();
        termios.special_codes[SpecialCodeIndex::VINTR] = 0x18;
        rustix::termios::tcsetattr(&caller, OptionalActions::Now, &termios).unwrap();
        rustix::termios::tcsetwinsize(&caller_master, window(33, 101)).unwrap();

        let settings = read_settings(&caller, STREAM_STDIN | STREAM_STDOUT).unwrap();
        assert_eq!(settings.size, [33, 101, 0, 0]);
        assert_eq!(settings.special_codes[0], 0x18);
        let (_master, slave) = open_pty(&settings).unwrap();
        assert_eq!(
            read_settings(&slave, STREAM_STDIN | STREAM_STDOUT).unwrap(),
            settings
        );
    }

    /// The settings a client without a terminal asks for (`-t`) are those of a pty nobody has
    /// set up: the program sees what it would under `podman exec -t`.
    #[test]
    fn default_settings_are_a_new_ptys() {
        let (master, slave) = new_pty().unwrap();
        rustix::termios::tcsetwinsize(&master, window(30, 100)).unwrap();
        assert_eq!(
            read_settings(&slave, STREAM_STDIN).unwrap(),
            default_settings(STREAM_STDIN, 30, 100)
        );
    }
}
