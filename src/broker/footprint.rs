//! A read-only census of what the broker holds, in entries and in bytes, for the tests and
//! fuzz targets that check that hostile input cannot make it grow beyond what was sent and
//! what the configuration allows (see `tests/common/inproc.rs` and `fuzz/`). The broker
//! itself never calls it; it walks every connection, session and retained message, so it is
//! not for the hot path.

use mio::Token;

use super::Broker;
use crate::connection::Connection;
use crate::message::Delivery;
use crate::session::Session;

/// Counts and byte totals over every connection and session the broker holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Connections open as far as MQTT goes; the totals below are over these.
    pub connections: usize,
    /// Connections lingering before their socket closes (see `linger.rs`).
    pub lingering: usize,
    /// Sessions, not counting those going.
    pub sessions: usize,
    /// Sessions that have ended but whose filters are still being taken out of the router
    /// (see `teardown.rs`); they hold nothing else.
    pub going_sessions: usize,
    /// Entries in the router, over all filters (a shared group's counts once).
    pub routes: usize,
    /// Entries in the client id index; equal to `sessions` unless the two disagree.
    pub session_ids: usize,
    /// Received bytes not yet decoded (an incomplete packet), summed over connections, and
    /// the most one connection holds.
    pub read_buffered_bytes: usize,
    pub read_buffered_bytes_max: usize,
    /// The memory behind those read buffers.
    pub read_capacity_bytes: usize,
    /// Bytes waiting to be written, summed over connections, and the most for one.
    pub send_queued_bytes: usize,
    pub send_queued_bytes_max: usize,
    pub subscriptions: usize,
    /// Outgoing QoS 1/2 messages awaiting acknowledgement, and messages queued behind them.
    pub inflight: usize,
    pub queued: usize,
    /// Bytes of those messages (`Delivery::size`) as the sessions' own counters say, summed
    /// over sessions, and the most one session holds.
    pub inflight_bytes: usize,
    pub inflight_bytes_max: usize,
    pub queued_bytes: usize,
    pub queued_bytes_max: usize,
    /// Sessions whose byte counters disagree with the messages in their queues.
    pub sessions_miscounted: usize,
    /// Inbound QoS 2 messages awaiting PUBREL, and their bytes.
    pub incoming: usize,
    pub incoming_bytes: usize,
    /// Retained messages, and their topics', payloads' and properties' bytes.
    pub retained: usize,
    pub retained_bytes: usize,
    /// Sessions whose retained messages are still being sent, and the messages held
    /// behind them.
    pub retained_cursors: usize,
    pub retained_held: usize,
}

/// What one connection holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionFootprint {
    pub read_buffered_bytes: usize,
    pub read_capacity_bytes: usize,
    pub send_queued_bytes: usize,
}

/// The configured bounds the footprint is checked against, in the units the broker uses
/// (`usize::MAX` for none), so that a check never copies a default of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FootprintBounds {
    /// The largest packet accepted (`max_packet_size`, the protocol's otherwise).
    pub packet_bytes: usize,
    /// What one read buffer may hold: the complete packets of one read that back-pressure
    /// or the turn's budget left undecoded, after the start of an incomplete packet.
    pub read_buffer_bytes: usize,
    /// Bytes waiting to be written to one connection before QoS 0 messages are dropped.
    pub send_queue_bytes: usize,
    /// `max_queued_bytes` for one session's queue, `max_inflight_bytes` for its window.
    pub queued_bytes: usize,
    pub inflight_bytes: usize,
}

impl Broker {
    pub fn footprint(&self) -> Footprint {
        let mut f = Footprint {
            connections: self.connection_count(),
            lingering: self.lingering,
            going_sessions: self.going.len(),
            sessions: self.sessions.len() - self.going.len(),
            session_ids: self.session_ids.len(),
            routes: self.router.subscriber_count(),
            retained: self.retained.len(),
            retained_bytes: self.retained.iter().map(|m| m.size()).sum(),
            ..Footprint::default()
        };
        // The store keeps its own count for `max_retained_bytes`; the census checks it.
        debug_assert_eq!(
            f.retained_bytes,
            self.retained.bytes(),
            "retained byte count"
        );
        for (_, conn) in self.conns.iter().filter(|(_, c)| !c.is_closing()) {
            let c = connection_footprint(conn);
            f.read_buffered_bytes += c.read_buffered_bytes;
            f.read_buffered_bytes_max = f.read_buffered_bytes_max.max(c.read_buffered_bytes);
            f.read_capacity_bytes += c.read_capacity_bytes;
            f.send_queued_bytes += c.send_queued_bytes;
            f.send_queued_bytes_max = f.send_queued_bytes_max.max(c.send_queued_bytes);
        }
        for (_, session) in &self.sessions {
            add_session(&mut f, session);
        }
        debug_assert_eq!(
            self.sessions.iter().filter(|(_, s)| s.is_going()).count(),
            f.going_sessions,
            "a going session is in the slab until its last slice, and on the list"
        );
        f
    }

    /// What the connection of `token` holds; `None` once it is gone (lingering included).
    pub fn connection_footprint(&self, token: Token) -> Option<ConnectionFootprint> {
        self.conns
            .get(token.0)
            .filter(|c| !c.is_closing())
            .map(connection_footprint)
    }

    pub fn footprint_bounds(&self) -> FootprintBounds {
        FootprintBounds {
            packet_bytes: self.limits.packet_bytes_max,
            read_buffer_bytes: self
                .limits
                .packet_bytes_max
                .saturating_add(crate::connection::READ_CHUNK_BYTES),
            send_queue_bytes: self.limits.send_queue_bytes_max,
            queued_bytes: self.limits.queued_bytes_max,
            inflight_bytes: self.limits.inflight_bytes_max,
        }
    }
}

fn connection_footprint(conn: &Connection) -> ConnectionFootprint {
    ConnectionFootprint {
        read_buffered_bytes: conn.read_buf.len(),
        read_capacity_bytes: conn.read_buf.capacity(),
        send_queued_bytes: conn.send.len(),
    }
}

fn add_session(f: &mut Footprint, session: &Session) {
    f.subscriptions += session.subscriptions.len();
    f.inflight += session.inflight().len();
    f.queued += session.queued().len();
    f.incoming += session.incoming().len();
    f.incoming_bytes += session
        .incoming()
        .iter()
        .map(|(_, m)| m.size())
        .sum::<usize>();
    f.inflight_bytes += session.inflight_bytes();
    f.inflight_bytes_max = f.inflight_bytes_max.max(session.inflight_bytes());
    f.queued_bytes += session.queued_bytes();
    f.queued_bytes_max = f.queued_bytes_max.max(session.queued_bytes());
    let inflight: usize = session.inflight().iter().map(|i| i.delivery.size()).sum();
    let queued: usize = session.queued().iter().map(Delivery::size).sum();
    if inflight != session.inflight_bytes() || queued != session.queued_bytes() {
        f.sessions_miscounted += 1;
    }
    if let Some(cursor) = &session.retained {
        f.retained_cursors += 1;
        f.retained_held += cursor.held().0;
    }
}
