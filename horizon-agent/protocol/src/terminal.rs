//! Terminal settings as the wire carries them ([`TerminalSettings`]): read from a terminal (the
//! client reads the caller's) and applied to one (the agent sets up the pseudo-terminal it makes
//! for the program), so the program starts with the caller's line discipline, special characters
//! and window size — a shell or an editor reads them once, at start. A caller that is not on a
//! terminal but asks for one (`-t`) gets a new terminal's defaults ([`default_settings`]).

use std::io;
use std::os::fd::AsFd;

use rustix::termios::{
    ControlModes, InputModes, LocalModes, OptionalActions, OutputModes, SpecialCodeIndex, Termios,
    Winsize,
};

use crate::wire::{SPECIAL_CODES, TerminalSettings};

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

/// The speed a new Linux terminal has (`B38400`).
const DEFAULT_SPEED: u32 = 38400;
/// The special characters a new Linux terminal has (the kernel's `INIT_C_CC`, what `stty sane`
/// sets), in the order of [`SPECIAL_CODE_ORDER`]: ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, VSWTC 0,
/// ^Q ^S ^Z, VEOL 0, ^R ^O ^W ^V, VEOL2 0.
const DEFAULT_SPECIAL_CODES: [u8; SPECIAL_CODES] =
    [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0];

/// The settings a new pseudo-terminal's slave starts with on Linux (the kernel's
/// `tty_std_termios` with the pty's control modes: cooked mode, echo, signals, CR-to-NL on input,
/// NL-to-CRNL on output), `rows`×`columns`, for the program's `streams`: what `podman exec -t`
/// gives a program whatever the caller's descriptors are.
pub fn default_settings(streams: u8, rows: u16, columns: u16) -> TerminalSettings {
    TerminalSettings {
        streams,
        modes: [
            (InputModes::ICRNL | InputModes::IXON).bits(),
            (OutputModes::OPOST | OutputModes::ONLCR).bits(),
            // The speed is in the control modes too (`CBAUD`), as a terminal reports them.
            (ControlModes::CS8 | ControlModes::CREAD).bits() | libc::B38400,
            (LocalModes::ISIG
                | LocalModes::ICANON
                | LocalModes::ECHO
                | LocalModes::ECHOE
                | LocalModes::ECHOK
                | LocalModes::ECHOCTL
                | LocalModes::ECHOKE
                | LocalModes::IEXTEN)
                .bits(),
        ],
        line_discipline: 0,
        special_codes: DEFAULT_SPECIAL_CODES,
        speeds: [DEFAULT_SPEED, DEFAULT_SPEED],
        size: [rows, columns, 0, 0],
    }
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

/// Sets the terminal `fd` up as `settings` say: modes, line discipline, special characters, speeds
/// and window size.
pub fn apply_settings(fd: impl AsFd, settings: &TerminalSettings) -> io::Result<()> {
    let mut termios = rustix::termios::tcgetattr(&fd)?;
    apply(&mut termios, settings)?;
    rustix::termios::tcsetattr(&fd, OptionalActions::Now, &termios)?;
    let [ws_row, ws_col, ws_xpixel, ws_ypixel] = settings.size;
    rustix::termios::tcsetwinsize(
        &fd,
        Winsize {
            ws_row,
            ws_col,
            ws_xpixel,
            ws_ypixel,
        },
    )?;
    Ok(())
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
