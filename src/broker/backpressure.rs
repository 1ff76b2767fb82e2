//! Read back-pressure: a connection that has more to receive than its bound is not read
//! until its output drains, so a peer that sends without reading costs its bound and no
//! more; its socket's receive buffer, and then TCP's window, hold the rest back on the
//! peer's side. Replies (PINGRESP, the PUBLISH acknowledgements, SUBACK, UNSUBACK) count
//! against the same bound as deliveries.
//!
//! The check runs before every packet is decoded, so a read chunk's worth of PINGREQs cannot
//! overshoot the bound by more than one reply. What was read but not decoded stays in the
//! read buffer and is decoded first when reading resumes. Resuming is the flush path's job:
//! the poller is edge-triggered and will not report input that arrived meanwhile again, so a
//! drained connection is put back on the list of connections to read.

use mio::Token;

use super::Broker;
use crate::protocol::Version;

impl Broker {
    /// Whether the connection may decode (and read) another packet now. Not while its
    /// output is full (it then waits for the drain), nor, for MQTT 3.1/3.1.1, while it has
    /// as many QoS 2 messages awaiting PUBREL as `incoming_v3_max` allows: those versions
    /// have no receive maximum to enforce, so its own TCP window holds it back instead.
    /// Nor while the persistence writer is too far behind (`durable.rs`).
    #[inline(always)]
    pub(super) fn may_take_input(&mut self, token: Token) -> bool {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return false;
        };
        if conn.output_full() {
            conn.wait_for_drain();
            return false;
        }
        let v3_session = conn.session.filter(|_| conn.version != Version::V5);
        if self.journal_full(token) {
            return false;
        }
        v3_session
            .is_none_or(|key| self.sessions[key].incoming().len() < self.limits.incoming_v3_max)
    }

    /// After a connection was written to: if it was waiting for its output to drain and
    /// now has, whatever waited goes on.
    pub(super) fn after_write(&mut self, token: Token) {
        if self
            .conns
            .get_mut(token.0)
            .is_some_and(|c| c.take_drained())
        {
            self.output_drained(token);
        }
    }

    /// The connection's output has drained below half its bound after something stopped at
    /// the bound: reading resumes (next turn, from what is buffered, then the socket). Any
    /// other work that stops at a full output resumes from here too.
    pub(super) fn output_drained(&mut self, token: Token) {
        self.mark_read(token);
    }
}
