//! Terminals on both sides of the agent: the caller's terminal read into [`TerminalSettings`]
//! (the client), and a pseudo-terminal made from them (the agent). The pty is made in the
//! container (its own devpts, so `tty` names it and the program may reopen it), set up exactly
//! like the caller's terminal before the program starts (line discipline, special characters,
//! window size: a shell or an editor reads them once, at start), and owned by the user the program
//! runs as (as login programs chown a user's terminal).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::pty::OpenptFlags;
use rustix::termios::{
    ControlModes, InputModes, LocalModes, OptionalActions, OutputModes, SpecialCodeIndex, Termios,
    Winsize,
};

use crate::protocol::{
    SPECIAL_CODES, STREAM_STDERR, STREAM_STDIN, STREAM_STDOUT, TerminalSettings,
};

/// The named special characters, in the order the protocol carries them.
const SPECIAL_CODE_ORDER: [SpecialCodeIndex; SPECIAL_CODES] = [
    SpecialCodeIndex::VINTR,
    SpecialCodeIndex::VQUIT,
    SpecialCodeIndex::VERASE,
    SpecialCodeIndex::VKILL,
    SpecialCodeIndex::VEOF,
    SpecialCodeIndex::VTIME,
    SpecialCodeIndex::VMIN,
    SpecialCodeIndex::VSWTC,
    SpecialCodeIndex::VSTART,
    SpecialCodeIndex::VSTOP,
    SpecialCodeIndex::VSUSP,
    SpecialCodeIndex::VEOL,
    SpecialCodeIndex::VREPRINT,
    SpecialCodeIndex::VDISCARD,
    SpecialCodeIndex::VWERASE,
    SpecialCodeIndex::VLNEXT,
    SpecialCodeIndex::VEOL2,
];

/// The caller's standard streams that should be the program's terminal ([`STREAM_STDIN`]…), or
/// `None` when the program should get the caller's descriptors as they are. A terminal needs
/// stdin and stdout on one terminal (as `ssh` and `podman exec -it` decide; `cmd | less` and
/// `cmd < file` get plain descriptors) and this process in its foreground (a background job must
/// not take the terminal into raw mode); stderr is on it too when it is that terminal.
pub fn caller_terminal() -> Option<u8> {
    let stdin = rustix::stdio::stdin();
    let device = |fd: BorrowedFd<'_>| {
        rustix::termios::isatty(fd)
            .then(|| rustix::fs::fstat(fd).ok())
            .flatten()
            .map(|stat| stat.st_rdev)
    };
    let terminal = device(stdin)?;
    if device(rustix::stdio::stdout()) != Some(terminal) {
        return None;
    }
    let foreground = rustix::termios::tcgetpgrp(stdin).ok()?;
    if foreground != rustix::process::getpgrp() {
        return None;
    }
    let stderr = device(rustix::stdio::stderr()) == Some(terminal);
    Some(STREAM_STDIN | STREAM_STDOUT | if stderr { STREAM_STDERR } else { 0 })
}

/// The settings and size of the terminal `fd`, for the program's `streams`.
pub fn read_settings(fd: impl AsFd, streams: u8) -> io::Result<TerminalSettings> {
    let termios = rustix::termios::tcgetattr(&fd)?;
    let size = rustix::termios::tcgetwinsize(&fd)?;
    let mut special_codes = [0; SPECIAL_CODES];
    for (code, index) in special_codes.iter_mut().zip(SPECIAL_CODE_ORDER) {
        *code = termios.special_codes[index];
    }
    Ok(TerminalSettings {
        streams,
        modes: [
            termios.input_modes.bits(),
            termios.output_modes.bits(),
            termios.control_modes.bits(),
            termios.local_modes.bits(),
        ],
        line_discipline: termios.line_discipline,
        special_codes,
        speeds: [termios.input_speed(), termios.output_speed()],
        size: window_size_fields(&size),
    })
}

fn window_size_fields(size: &Winsize) -> [u16; 4] {
    [size.ws_row, size.ws_col, size.ws_xpixel, size.ws_ypixel]
}

/// Copies `from`'s window size to `to` (the caller's terminal to the pty's master after a
/// SIGWINCH; the kernel then tells the program).
pub fn copy_window_size(from: impl AsFd, to: impl AsFd) -> io::Result<()> {
    let size = rustix::termios::tcgetwinsize(from)?;
    rustix::termios::tcsetwinsize(to, size)?;
    Ok(())
}

/// A new pseudo-terminal set up as `settings` say: (master, slave). Both are close-on-exec and
/// neither becomes this process's controlling terminal.
pub fn open_pty(settings: &TerminalSettings) -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    // The slave through the master itself (TIOCGPTPEER): no path lookup in /dev/pts.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags)?;
    let mut termios = rustix::termios::tcgetattr(&slave)?;
    apply(&mut termios, settings)?;
    rustix::termios::tcsetattr(&slave, OptionalActions::Now, &termios)?;
    let [ws_row, ws_col, ws_xpixel, ws_ypixel] = settings.size;
    rustix::termios::tcsetwinsize(
        &slave,
        Winsize {
            ws_row,
            ws_col,
            ws_xpixel,
            ws_ypixel,
        },
    )?;
    Ok((master, slave))
}

fn apply(termios: &mut Termios, settings: &TerminalSettings) -> io::Result<()> {
    let [input, output, control, local] = settings.modes;
    termios.input_modes = InputModes::from_bits_retain(input);
    termios.output_modes = OutputModes::from_bits_retain(output);
    termios.control_modes = ControlModes::from_bits_retain(control);
    termios.local_modes = LocalModes::from_bits_retain(local);
    termios.line_discipline = settings.line_discipline;
    for (code, index) in settings.special_codes.iter().zip(SPECIAL_CODE_ORDER) {
        termios.special_codes[index] = *code;
    }
    termios.set_input_speed(settings.speeds[0])?;
    termios.set_output_speed(settings.speeds[1])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let size = Winsize {
            ws_row: 33,
            ws_col: 101,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&caller_master, size).unwrap();

        let settings = read_settings(&caller, STREAM_STDIN | STREAM_STDOUT).unwrap();
        assert_eq!(settings.size, [33, 101, 0, 0]);
        assert_eq!(settings.special_codes[0], 0x18);
        let (_master, slave) = open_pty(&settings).unwrap();
        assert_eq!(
            read_settings(&slave, STREAM_STDIN | STREAM_STDOUT).unwrap(),
            settings
        );
    }
}
