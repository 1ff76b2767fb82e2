//! What the rig checks after every op (see `inproc.rs`): what the broker holds, in entries
//! and in bytes, against what the clients sent and what the configuration allows.

use midge::broker::Footprint;

use super::{PACKET_GROWTH_BYTES, Rig, SESSION_LIMITS};

impl Rig {
    /// What must hold after every op, whatever the script sent.
    pub fn check(&mut self) {
        let f = self.broker.footprint();
        let open = std::iter::once(&self.bystander)
            .chain(&self.clients)
            .filter(|c| c.on_broker)
            .count();
        assert_eq!(
            f.connections, open,
            "the broker's connections are the sockets it has not closed"
        );
        for c in &self.clients {
            assert!(
                !(c.closed_by_us && c.on_broker),
                "a connection whose client closed its socket is still held"
            );
        }
        assert_eq!(
            f.sessions, f.session_ids,
            "every session is in the client id index and nothing else is"
        );
        assert!(
            f.sessions <= self.accepted,
            "more sessions ({}) than connections ever accepted ({})",
            f.sessions,
            self.accepted
        );
        let sent: usize = self
            .clients
            .iter()
            .filter(|c| c.on_broker)
            .map(|c| c.sent)
            .sum();
        assert!(
            f.read_buffered_bytes <= sent,
            "the broker buffers {} bytes but the open connections sent {sent}",
            f.read_buffered_bytes
        );
        assert_eq!(
            self.unsent_to_readers(),
            0,
            "output left unsent to clients that read everything"
        );
        let (inflight_max, queued_max) = SESSION_LIMITS[self.variant];
        assert!(
            f.inflight <= f.sessions * inflight_max && f.incoming <= f.sessions * inflight_max,
            "{} in flight out and {} in, for {} sessions of at most {inflight_max}",
            f.inflight,
            f.incoming,
            f.sessions
        );
        assert!(
            f.queued <= f.sessions.saturating_mul(queued_max),
            "{} queued for {} sessions of at most {queued_max}",
            f.queued,
            f.sessions
        );
        // A read reserves one 16 KiB chunk; growth to hold a packet at most doubles.
        let capacity_bound = 2 * f.read_buffered_bytes + 64 * 1024 * f.connections;
        assert!(
            f.read_capacity_bytes <= capacity_bound,
            "read buffers take {} bytes for {} buffered",
            f.read_capacity_bytes,
            f.read_buffered_bytes
        );
        self.check_bytes(&f);
        self.max_footprint = max_of(&self.max_footprint, &f);
    }

    /// What the broker holds in bytes, against what was sent and what the configuration
    /// allows.
    fn check_bytes(&self, f: &Footprint) {
        let bounds = self.broker.footprint_bounds();
        let sent = self.sent_total();
        // The largest packet the broker can send: what it was sent, plus the properties and
        // mount point it may add.
        let packet_max = sent.min(bounds.packet_bytes) + PACKET_GROWTH_BYTES;
        assert!(
            f.read_buffered_bytes_max <= bounds.read_buffer_bytes,
            "a read buffer holds {} bytes, more than a packet and one read ({})",
            f.read_buffered_bytes_max,
            bounds.read_buffer_bytes
        );
        assert!(
            f.retained_bytes <= sent && f.incoming_bytes <= sent,
            "{} bytes retained and {} awaiting PUBREL, but clients sent only {sent}",
            f.retained_bytes,
            f.incoming_bytes
        );
        assert_eq!(
            f.sessions_miscounted, 0,
            "sessions whose byte counters disagree with their queues"
        );
        assert!(
            f.queued_bytes_max <= bounds.queued_bytes,
            "a session queues {} bytes, over max_queued_bytes {}",
            f.queued_bytes_max,
            bounds.queued_bytes
        );
        // One message always flies, whatever its size.
        assert!(
            f.inflight_bytes_max <= bounds.inflight_bytes.saturating_add(packet_max),
            "a session has {} bytes in flight, over max_inflight_bytes {} and one message",
            f.inflight_bytes_max,
            bounds.inflight_bytes
        );
        // Replies and deliveries alike stop at the bound; the packet that crossed it is the
        // most the broker holds beyond, whoever stopped reading.
        assert!(
            f.send_queued_bytes_max <= bounds.send_queue_bytes.saturating_add(packet_max),
            "{} bytes held for one connection, over its bound {} and one packet",
            f.send_queued_bytes_max,
            bounds.send_queue_bytes
        );
    }
}

/// The larger of each count in `a` and `b`.
pub(super) fn max_of(a: &Footprint, b: &Footprint) -> Footprint {
    Footprint {
        connections: a.connections.max(b.connections),
        lingering: a.lingering.max(b.lingering),
        sessions: a.sessions.max(b.sessions),
        going_sessions: a.going_sessions.max(b.going_sessions),
        routes: a.routes.max(b.routes),
        session_ids: a.session_ids.max(b.session_ids),
        read_buffered_bytes: a.read_buffered_bytes.max(b.read_buffered_bytes),
        read_buffered_bytes_max: a.read_buffered_bytes_max.max(b.read_buffered_bytes_max),
        read_capacity_bytes: a.read_capacity_bytes.max(b.read_capacity_bytes),
        send_queued_bytes: a.send_queued_bytes.max(b.send_queued_bytes),
        send_queued_bytes_max: a.send_queued_bytes_max.max(b.send_queued_bytes_max),
        subscriptions: a.subscriptions.max(b.subscriptions),
        inflight: a.inflight.max(b.inflight),
        queued: a.queued.max(b.queued),
        inflight_bytes: a.inflight_bytes.max(b.inflight_bytes),
        inflight_bytes_max: a.inflight_bytes_max.max(b.inflight_bytes_max),
        queued_bytes: a.queued_bytes.max(b.queued_bytes),
        queued_bytes_max: a.queued_bytes_max.max(b.queued_bytes_max),
        sessions_miscounted: a.sessions_miscounted.max(b.sessions_miscounted),
        incoming: a.incoming.max(b.incoming),
        incoming_bytes: a.incoming_bytes.max(b.incoming_bytes),
        retained: a.retained.max(b.retained),
        retained_bytes: a.retained_bytes.max(b.retained_bytes),
        retained_cursors: a.retained_cursors.max(b.retained_cursors),
        retained_held: a.retained_held.max(b.retained_held),
    }
}
