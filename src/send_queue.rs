//! A connection's outgoing bytes, written with as few syscalls as possible.
//!
//! Small packets are encoded straight into a tail buffer; large payloads are queued by
//! reference (`Bytes`), so fanning a big message out to many subscribers costs a reference
//! count per subscriber instead of a copy. One `writev` sends the queued chunks and the tail
//! together. Everything a loop turn queues for a connection is flushed once, at the end of the
//! turn, so a subscriber that receives fifty messages in a turn costs one syscall, not fifty.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::{Buf, Bytes, BytesMut};

/// Payloads at least this large are queued by reference; smaller ones are copied into the
/// tail, where an extra iovec and a reference count would cost more than the copy.
pub const SHARE_MIN_BYTES: usize = 1024;

/// iovecs handed to one `writev`; Linux accepts 1024, but a few dozen already fill a socket.
const IOVECS_MAX: usize = 64;

#[derive(Default)]
pub struct SendQueue {
    /// Sealed chunks, oldest first; all of them go out before the tail.
    chunks: VecDeque<Bytes>,
    chunks_len: usize,
    /// Where small packets are encoded. Released when the queue drains, so an idle
    /// connection holds no buffer at all.
    tail: BytesMut,
}

impl SendQueue {
    pub fn new() -> SendQueue {
        SendQueue::default()
    }

    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.chunks_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer to encode a packet into; it is sent after everything queued before it.
    pub fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `bytes` after everything else: by reference if large, by copy if small.
    pub fn push_bytes(&mut self, bytes: &Bytes) {
        if bytes.len() < SHARE_MIN_BYTES {
            self.tail.extend_from_slice(bytes);
            return;
        }
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.chunks_len += sealed.len();
            self.chunks.push_back(sealed);
        }
        self.chunks_len += bytes.len();
        self.chunks.push_back(bytes.clone());
    }

    /// Writes until the queue is empty (`Ok(true)`), the socket would block or `limit`
    /// bytes are written (`Ok(false)`; `unsent` tells the two apart from the caller's side:
    /// a full socket reports writable again, a spent limit does not).
    pub fn write_to<W: Write>(&mut self, writer: &mut W, limit: usize) -> io::Result<bool> {
        let mut left = limit;
        while !self.is_empty() {
            if left == 0 {
                return Ok(false);
            }
            let written = {
                let mut slices = [IoSlice::new(&[]); IOVECS_MAX];
                let mut count = 0;
                let mut room = left;
                // The tail goes only behind the last chunk: behind the 63rd of more it
                // would overtake the rest.
                let tail = (self.chunks.len() < IOVECS_MAX).then_some(&self.tail[..]);
                let pieces = self.chunks.iter().map(|c| &c[..]).chain(tail);
                for piece in pieces {
                    if room == 0 || count == IOVECS_MAX {
                        break;
                    }
                    let take = piece.len().min(room);
                    if take > 0 {
                        slices[count] = IoSlice::new(&piece[..take]);
                        count += 1;
                        room -= take;
                    }
                }
                match writer.write_vectored(&slices[..count]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.consume(written);
            left -= written;
        }
        // Give the buffer back: most connections are idle most of the time. Keeping it would
        // save an allocation per turn but measures slower: the allocator hands the same hot
        // block to the next connection, while a thousand kept buffers spread a turn's writes
        // over a thousand cold pages.
        self.tail = BytesMut::new();
        Ok(true)
    }

    fn consume(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(written);
                return;
            };
            let n = written.min(front.len());
            front.advance(n);
            self.chunks_len -= n;
            written -= n;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that accepts at most `limit` bytes per call and then would block.
    struct Trickle {
        got: Vec<u8>,
        limit: usize,
        calls_left: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.calls_left == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.calls_left -= 1;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.limit - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn order_is_kept_across_copied_and_shared_pieces() {
        let mut q = SendQueue::new();
        let big = Bytes::from(vec![b'B'; SHARE_MIN_BYTES]);
        q.tail().extend_from_slice(b"h1");
        q.push_bytes(&big);
        q.tail().extend_from_slice(b"h2");
        q.push_bytes(&Bytes::from_static(b"small"));
        assert_eq!(q.len(), 2 + SHARE_MIN_BYTES + 2 + 5);

        let mut sock = Trickle {
            got: Vec::new(),
            limit: 7,
            calls_left: usize::MAX,
        };
        assert!(q.write_to(&mut sock, usize::MAX).unwrap());
        let mut expected = b"h1".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"h2small");
        assert_eq!(sock.got, expected);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_socket_keeps_the_rest_for_later() {
        let mut q = SendQueue::new();
        q.tail().extend_from_slice(b"0123456789");
        let mut sock = Trickle {
            got: Vec::new(),
            limit: 4,
            calls_left: 1,
        };
        assert!(!q.write_to(&mut sock, usize::MAX).unwrap());
        assert_eq!(q.len(), 6);
        sock.calls_left = usize::MAX;
        assert!(q.write_to(&mut sock, usize::MAX).unwrap());
        assert_eq!(sock.got, b"0123456789");
    }

    #[test]
    fn the_tail_waits_behind_more_chunks_than_one_write_takes() {
        let mut q = SendQueue::new();
        let mut expected = Vec::new();
        for i in 0..IOVECS_MAX * 2 {
            let chunk = Bytes::from(vec![i as u8; SHARE_MIN_BYTES]);
            expected.extend_from_slice(&chunk);
            q.push_bytes(&chunk);
        }
        q.tail().extend_from_slice(b"last");
        expected.extend_from_slice(b"last");
        let mut sock = Trickle {
            got: Vec::new(),
            limit: usize::MAX,
            calls_left: usize::MAX,
        };
        assert!(q.write_to(&mut sock, usize::MAX).unwrap());
        assert_eq!(sock.got, expected);
    }

    #[test]
    fn a_write_stops_at_its_limit_and_goes_on_from_there() {
        let mut q = SendQueue::new();
        let big = Bytes::from(vec![b'B'; SHARE_MIN_BYTES]);
        q.push_bytes(&big);
        q.tail().extend_from_slice(b"tail");
        let mut sock = Trickle {
            got: Vec::new(),
            limit: usize::MAX,
            calls_left: usize::MAX,
        };
        assert!(!q.write_to(&mut sock, 1000).unwrap());
        assert_eq!(sock.got.len(), 1000);
        assert_eq!(q.len(), SHARE_MIN_BYTES + 4 - 1000);
        assert!(!q.write_to(&mut sock, 20).unwrap());
        assert_eq!(sock.got.len(), 1020);
        assert!(q.write_to(&mut sock, usize::MAX).unwrap());
        assert_eq!(&sock.got[..SHARE_MIN_BYTES], &big[..]);
        assert_eq!(&sock.got[SHARE_MIN_BYTES..], b"tail");
    }

    #[test]
    fn large_payloads_are_shared_not_copied() {
        let mut q = SendQueue::new();
        let big = Bytes::from(vec![1u8; 4096]);
        q.push_bytes(&big);
        assert_eq!(q.chunks.front().map(|c| c.as_ptr()), Some(big.as_ptr()));
    }

    #[test]
    fn a_drained_queue_holds_no_buffer() {
        let mut q = SendQueue::new();
        q.tail().extend_from_slice(&[0u8; 10_000]);
        let mut sock = Trickle {
            got: Vec::new(),
            limit: usize::MAX,
            calls_left: usize::MAX,
        };
        assert!(q.write_to(&mut sock, usize::MAX).unwrap());
        assert_eq!(q.tail.capacity(), 0);
    }
}
