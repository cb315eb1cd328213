//! Podman's multiplexed stream format (exec attach and logs without a TTY): each frame is an 8-byte
//! header — stream number, three zero bytes, a big-endian u32 length — then the payload. Stream 1 is
//! stdout, 2 stderr, 3 an error message from Podman itself. Decoding is incremental and pure, so it
//! is tested on split and garbled input without a service.

use crate::engine::EngineError;

/// A decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// Podman reports a failure of the session on stream 3.
    Error(Vec<u8>),
}

/// Why the byte stream is not valid framing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed multiplexed stream: {0}")]
pub(crate) struct FrameError(pub String);

/// Size of a frame header.
const HEADER_LEN: usize = 8;
/// Refuse absurd frame lengths rather than buffering gigabytes (Podman sends at most 32 KiB).
const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Accumulates bytes and yields whole frames.
#[derive(Debug, Default)]
pub(crate) struct FrameDecoder {
    buffer: Vec<u8>,
}

impl FrameDecoder {
    /// Adds received bytes.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete frame, if the buffer holds one.
    pub(crate) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buffer.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = &self.buffer[..HEADER_LEN];
        let length = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if length > MAX_FRAME_LEN {
            return Err(FrameError(format!("frame of {length} bytes")));
        }
        let stream = header[0];
        if header[1..4] != [0, 0, 0] {
            return Err(FrameError(format!("header {header:?}")));
        }
        if self.buffer.len() < HEADER_LEN + length {
            return Ok(None);
        }
        let payload = self.buffer[HEADER_LEN..HEADER_LEN + length].to_vec();
        self.buffer.drain(..HEADER_LEN + length);
        match stream {
            // Stream 0 (stdin) is never sent back; treat it as stdout like Docker clients do.
            0 | 1 => Ok(Some(Frame::Stdout(payload))),
            2 => Ok(Some(Frame::Stderr(payload))),
            3 => Ok(Some(Frame::Error(payload))),
            other => Err(FrameError(format!("unknown stream number {other}"))),
        }
    }

    /// [`Self::next_frame`], invalid framing being a protocol error of `operation`.
    pub(crate) fn next_frame_of(
        &mut self,
        operation: &'static str,
    ) -> Result<Option<Frame>, EngineError> {
        self.next_frame().map_err(|error| EngineError::Protocol {
            operation,
            message: error.to_string(),
        })
    }

    /// True when bytes of an incomplete frame are left (the stream was cut mid-frame).
    pub(crate) fn has_partial_frame(&self) -> bool {
        !self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![stream, 0, 0, 0];
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    fn decode_all(decoder: &mut FrameDecoder) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame);
        }
        frames
    }

    #[test]
    fn decodes_frames_split_at_every_byte() {
        let mut bytes = frame(1, b"out\n");
        bytes.extend(frame(2, b"err\xff\x00"));
        bytes.extend(frame(3, b"boom"));
        bytes.extend(frame(1, b""));
        for split in 0..bytes.len() {
            let mut decoder = FrameDecoder::default();
            decoder.push(&bytes[..split]);
            let mut frames = decode_all(&mut decoder);
            decoder.push(&bytes[split..]);
            frames.extend(decode_all(&mut decoder));
            assert_eq!(
                frames,
                [
                    Frame::Stdout(b"out\n".to_vec()),
                    Frame::Stderr(b"err\xff\x00".to_vec()),
                    Frame::Error(b"boom".to_vec()),
                    Frame::Stdout(Vec::new()),
                ],
                "split at {split}"
            );
            assert!(!decoder.has_partial_frame());
        }
    }

    #[test]
    fn refuses_garbage() {
        let cases: [(&[u8], &str); 3] = [
            (&[7, 0, 0, 0, 0, 0, 0, 1, b'x'], "unknown stream number 7"),
            (&[1, 9, 0, 0, 0, 0, 0, 1, b'x'], "header"),
            (
                &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
                "frame of 4294967295 bytes",
            ),
        ];
        for (bytes, message) in cases {
            let mut decoder = FrameDecoder::default();
            decoder.push(bytes);
            let error = decoder.next_frame().unwrap_err();
            assert!(error.to_string().contains(message), "{error}");
        }
    }

    #[test]
    fn reports_a_cut_frame() {
        let mut decoder = FrameDecoder::default();
        decoder.push(&frame(1, b"hello")[..7]);
        assert_eq!(decoder.next_frame().unwrap(), None);
        assert!(decoder.has_partial_frame());
    }
}
