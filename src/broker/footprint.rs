//! A read-only census of what the broker holds, for the tests and fuzz targets that check
//! that hostile input cannot make it grow beyond what was sent (see `tests/common/inproc.rs`
//! and `fuzz/`). The broker itself never calls it; it walks every connection and session, so
//! it is not for the hot path.

use super::Broker;

/// Counts and byte totals over every connection and session the broker holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Connections open as far as MQTT goes; the totals below are over these.
    pub connections: usize,
    /// Connections lingering before their socket closes (see `linger.rs`).
    pub lingering: usize,
    pub sessions: usize,
    /// Entries in the client id index; equal to `sessions` unless the two disagree.
    pub session_ids: usize,
    /// Received bytes not yet decoded (an incomplete packet), summed over connections.
    pub read_buffered_bytes: usize,
    /// The memory behind those read buffers.
    pub read_capacity_bytes: usize,
    /// Bytes waiting to be written, summed over connections.
    pub send_queued_bytes: usize,
    pub subscriptions: usize,
    /// Outgoing QoS 1/2 messages awaiting acknowledgement, and messages queued behind them.
    pub inflight: usize,
    pub queued: usize,
    /// Inbound QoS 2 messages awaiting PUBREL.
    pub incoming: usize,
    pub retained: usize,
}

impl Broker {
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            connections: self.connection_count(),
            lingering: self.lingering,
            sessions: self.sessions.len(),
            session_ids: self.session_ids.len(),
            retained: self.retained.len(),
            ..Footprint::default()
        };
        for (_, conn) in self.conns.iter().filter(|(_, c)| !c.is_closing()) {
            f.read_buffered_bytes += conn.read_buf.len();
            f.read_capacity_bytes += conn.read_buf.capacity();
            f.send_queued_bytes += conn.send.len();
        }
        for (_, session) in &self.sessions {
            f.subscriptions += session.subscriptions.len();
            f.inflight += session.inflight.len();
            f.queued += session.queued.len();
            f.incoming += session.incoming.len();
        }
        f
    }
}
