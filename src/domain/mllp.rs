//! MLLP framing (HL7's minimal lower-layer protocol): each message travels as `0x0B` message
//! `0x1C 0x0D`, with no length, checksum or session. [`Frames`] reassembles the messages of a
//! byte stream whatever the reads: a frame split over several reads, several frames in one read,
//! bytes outside a frame (skipped), and frames larger than allowed (refused, never buffered on).

/// Start of a frame.
pub const START: u8 = 0x0B;
/// End of a frame: this, then a carriage return.
pub const END: [u8; 2] = [0x1C, 0x0D];

/// One frame's content, or a frame refused for its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete message.
    Message(Vec<u8>),
    /// A frame over the size limit; its bytes were dropped.
    TooLarge,
}

/// A stream's frames, as bytes arrive.
#[derive(Debug)]
pub struct Frames {
    buf: Vec<u8>,
    in_frame: bool,
    dropping: bool,
    max: usize,
}

impl Frames {
    /// A reader of frames of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            in_frame: false,
            dropping: false,
            max,
        }
    }

    /// Takes the bytes of one read; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = vec![];
        for &b in bytes {
            if !self.in_frame {
                if b == START {
                    self.in_frame = true;
                    self.dropping = false;
                    self.buf.clear();
                }
                continue;
            }
            if b == END[1] && self.buf.last() == Some(&END[0]) {
                self.buf.pop();
                self.in_frame = false;
                if self.dropping {
                    out.push(Frame::TooLarge);
                } else {
                    out.push(Frame::Message(std::mem::take(&mut self.buf)));
                }
                self.dropping = false;
                continue;
            }
            if b == START && !self.dropping {
                // A new start before the end: the unfinished frame was broken; start again.
                self.buf.clear();
                continue;
            }
            if self.dropping {
                // Keep only what is needed to see the end.
                self.buf.clear();
                self.buf.push(b);
                continue;
            }
            self.buf.push(b);
            if self.buf.len() > self.max + 1 {
                self.dropping = true;
                let last = b;
                self.buf.clear();
                self.buf.push(last);
            }
        }
        out
    }
}

/// `message` framed for the wire.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.extend_from_slice(&END);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_merged_frames_are_reassembled() {
        let mut f = Frames::new(100);
        let a = frame(b"MSH|one");
        let b = frame(b"MSH|two");
        // One frame over three reads.
        assert!(f.push(&a[..3]).is_empty());
        assert!(f.push(&a[3..a.len() - 1]).is_empty());
        assert_eq!(
            f.push(&a[a.len() - 1..]),
            [Frame::Message(b"MSH|one".to_vec())]
        );
        // Two frames and noise in one read.
        let mut both = b"noise".to_vec();
        both.extend_from_slice(&a);
        both.extend_from_slice(&b);
        assert_eq!(
            f.push(&both),
            [
                Frame::Message(b"MSH|one".to_vec()),
                Frame::Message(b"MSH|two".to_vec())
            ]
        );
    }

    #[test]
    fn an_oversize_frame_is_refused_and_the_next_one_read() {
        let mut f = Frames::new(10);
        let big = frame(&[b'x'; 50]);
        let small = frame(b"MSH|ok");
        let mut both = big.clone();
        both.extend_from_slice(&small);
        assert_eq!(
            f.push(&both),
            [Frame::TooLarge, Frame::Message(b"MSH|ok".to_vec())]
        );
        // A carriage return inside a message is not an end.
        let mut f = Frames::new(100);
        assert_eq!(
            f.push(&frame(b"MSH|a\rPID|b")),
            [Frame::Message(b"MSH|a\rPID|b".to_vec())]
        );
    }
}
