//! Frames on a unix stream socket: sending one with descriptors attached (SCM_RIGHTS travel with
//! the frame's first bytes), reading whole frames on a blocking socket (the client), and taking
//! whatever has arrived on a non-blocking one (the agent, which never blocks on a client).

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use crate::wire::{FRAME_HEADER, MAX_FDS, MAX_FRAME, ProtocolError, frame_length};

/// Sends `frame` with `fds` attached, then the rest of it if the socket took only part.
pub fn send_frame(stream: &UnixStream, frame: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for one frame",
        ));
    }
    let sent = loop {
        match rustix::net::sendmsg(
            stream,
            &[IoSlice::new(frame)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(sent) => break sent,
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
    };
    let mut rest = &frame[sent..];
    let mut writer = stream;
    while !rest.is_empty() {
        match writer.write(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(count) => rest = &rest[count..],
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Reads one whole frame's payload from a blocking socket; `Ok(None)` at a clean end of stream.
pub fn read_frame(stream: &UnixStream) -> io::Result<Option<Vec<u8>>> {
    let mut reader = stream;
    let mut header = [0u8; FRAME_HEADER];
    let mut got = 0;
    while got < FRAME_HEADER {
        match reader.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(count) => got += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            ProtocolError::TooLarge {
                field: "frame",
                value: len,
                limit: MAX_FRAME,
            },
        ));
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// What one non-blocking receive brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// This many bytes (appended to the buffer).
    Bytes(usize),
    /// Nothing yet.
    WouldBlock,
    /// The peer closed the connection.
    Closed,
}

/// Appends what has arrived to `buffer` (at most up to one whole frame beyond what it holds) and
/// any descriptors to `fds`. More descriptors than [`MAX_FDS`] in one message is an error (the
/// kernel truncates them; what arrived is closed when `fds` is dropped).
pub fn receive(
    stream: &UnixStream,
    buffer: &mut Vec<u8>,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<Received> {
    const CHUNK: usize = 64 * 1024;
    let want = match frame_length(buffer) {
        Ok(Some(_)) => return Ok(Received::Bytes(0)),
        Ok(None) if buffer.len() < FRAME_HEADER => FRAME_HEADER - buffer.len(),
        Ok(None) => {
            let len = u32::from_le_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
            (FRAME_HEADER + len - buffer.len()).min(CHUNK)
        }
        Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
    };
    let start = buffer.len();
    buffer.resize(start + want, 0);
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let result = rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut buffer[start..])],
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    );
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    match result {
        Ok(message) => {
            buffer.truncate(start + message.bytes);
            if message.flags.contains(ReturnFlags::CTRUNC) || fds.len() > MAX_FDS {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "more descriptors than stdin, stdout and stderr",
                ));
            }
            Ok(if message.bytes == 0 {
                Received::Closed
            } else {
                Received::Bytes(message.bytes)
            })
        }
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {
            buffer.truncate(start);
            Ok(Received::WouldBlock)
        }
        Err(error) => {
            buffer.truncate(start);
            Err(error.into())
        }
    }
}

/// Takes the first whole frame's payload out of `buffer`, if there is one.
pub fn take_frame(buffer: &mut Vec<u8>) -> Result<Option<Vec<u8>>, ProtocolError> {
    let Some(len) = frame_length(buffer)? else {
        return Ok(None);
    };
    let payload = buffer[FRAME_HEADER..FRAME_HEADER + len].to_vec();
    buffer.drain(..FRAME_HEADER + len);
    Ok(Some(payload))
}
