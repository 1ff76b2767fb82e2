//! The lingering close: a connection the broker ends while its client may still be sending is
//! not closed at once. Closing a socket with unread input makes the kernel reset the
//! connection and throw away what it had not sent yet, so the client might never read the
//! DISCONNECT or refusing CONNACK that explains the close. Instead the connection stays in
//! the slab and the poller, under its token, as `State::Closing`: its last bytes are flushed
//! as the socket takes them, then its write side is shut down (the client reads EOF), and what
//! the client still sends is read and discarded until its EOF. It is closed then, or when
//! `LINGER` has passed, or when it has sent `DISCARD_KIB_MAX` KiB more after its output was
//! out and acknowledged; nothing about it blocks the loop.
//!
//! The session and the will are settled when the close is decided, not here: a lingering
//! connection has no session, takes no place under `max_connections`, and at most
//! `LINGERING_MAX` linger at once (beyond that a connection is closed at once, as before),
//! so that file descriptors stay bounded.

use std::io;
use std::time::Duration;

use mio::Token;

use super::{Broker, READS_PER_TURN};
use crate::connection::State;

/// How long a closing connection may take to receive its last bytes and send its EOF.
pub const LINGER: Duration = Duration::from_secs(2);

/// KiB discarded, once the output is out, before a client that keeps sending is cut off (as
/// soon as the kernel holds nothing it has not acknowledged). While the output is still going
/// out only `LINGER` bounds the reading: cutting a client off then would lose what it is to
/// read.
pub const DISCARD_KIB_MAX: u16 = 1024;

/// Connections lingering at once, at most.
pub const LINGERING_MAX: usize = 1024;

impl Broker {
    /// Starts the lingering close of a connection whose MQTT side has just ended, if there is
    /// room; returns false if there is none and the caller must close it at once.
    pub(super) fn begin_linger(&mut self, token: Token) -> bool {
        if self.lingering >= LINGERING_MAX {
            return false;
        }
        let Some(conn) = self.conns.get_mut(token.0) else {
            return false;
        };
        conn.begin_closing(self.now);
        self.lingering += 1;
        self.arm_conn_timer(token);
        self.mark_flush(token);
        // Input that arrived before the close raises no new readiness edge.
        self.mark_read(token);
        true
    }

    /// A closing connection is readable: discard what it sent, noting its EOF.
    pub(super) fn on_readable_closing(&mut self, token: Token) {
        for _ in 0..READS_PER_TURN {
            let Some(conn) = self.conns.get_mut(token.0) else {
                return;
            };
            let State::Closing(mut linger) = conn.state else {
                return;
            };
            match conn.discard_input() {
                Ok(0) => {
                    linger.input_done = true;
                    conn.state = State::Closing(linger);
                    if linger.output_done {
                        self.end_linger(token);
                    }
                    return;
                }
                Ok(n) => {
                    if linger.output_done {
                        let kib = u16::try_from(n.div_ceil(1024)).unwrap_or(u16::MAX);
                        linger.discarded_kib = linger.discarded_kib.saturating_add(kib);
                        // Cut off only once the client has our last bytes: a reset would
                        // throw away any the kernel still holds.
                        if linger.discarded_kib > DISCARD_KIB_MAX
                            && conn.unacknowledged_bytes() == 0
                        {
                            return self.end_linger(token);
                        }
                    }
                    conn.state = State::Closing(linger);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return self.end_linger(token),
            }
        }
        self.mark_read(token);
    }

    /// A closing connection's turn to write: its last bytes, then the shutdown of its write
    /// side.
    pub(super) fn flush_closing(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        let State::Closing(mut linger) = conn.state else {
            return;
        };
        if linger.output_done {
            return;
        }
        match conn.flush_closing() {
            Ok(false) => {}
            Ok(true) => {
                linger.output_done = true;
                conn.state = State::Closing(linger);
                if linger.input_done {
                    self.end_linger(token);
                }
            }
            Err(_) => self.end_linger(token),
        }
    }

    /// Closes a lingering connection's socket.
    pub(super) fn end_linger(&mut self, token: Token) {
        if self.conns.get(token.0).is_some_and(|c| c.is_closing()) {
            self.conns.remove(token.0);
            self.lingering -= 1;
        }
    }
}
