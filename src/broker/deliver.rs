//! Outbound delivery: from one published message to the subscribers that want it, through
//! each session's in-flight window and queue, onto each connection's send queue.

use std::rc::Rc;

use super::Broker;
use crate::connection::Connection;
use crate::log_debug;
use crate::message::{Delivery, Message};
use crate::protocol::QoS;
use crate::session::{Inflight, OutState, Session, SessionKey};

impl Broker {
    /// Stores (if retained) and routes a message that a client published or a will.
    pub(super) fn publish_message(&mut self, message: Rc<Message>) {
        if message.retain {
            self.retained.set(&message);
        }
        self.route(&message);
    }

    /// Sends `message` to every session with a matching subscription: once per session, at
    /// the highest QoS among its matching subscriptions (as mosquitto does for overlapping
    /// subscriptions), capped by the QoS it was published with.
    fn route(&mut self, message: &Rc<Message>) {
        let mut matches = std::mem::take(&mut self.route_matches);
        let mut targets = std::mem::take(&mut self.route_targets);
        matches.clear();
        targets.clear();
        self.router.matches(&message.topic, &mut matches);

        // Merge a session's matches without a hash set: each session remembers the mark of
        // the last publish that reached it and where its entry sits in `targets`.
        self.route_mark += 1;
        let mark = self.route_mark;
        for subscriber in &matches {
            let session = &mut self.sessions[subscriber.session];
            let qos = subscriber.options.qos;
            if session.route_mark == mark {
                let target = &mut targets[session.route_slot];
                target.1 = target.1.max(qos);
            } else {
                session.route_mark = mark;
                session.route_slot = targets.len();
                targets.push((subscriber.session, qos));
            }
        }
        for &(key, qos) in &targets {
            let delivery = Delivery {
                message: Rc::clone(message),
                qos: qos.min(message.qos),
                retain: false,
            };
            self.deliver(key, delivery);
        }
        self.route_matches = matches;
        self.route_targets = targets;
    }

    /// Hands one message to one session: straight onto the wire if the client is online and
    /// its window has room, into the session's queue if not.
    pub(super) fn deliver(&mut self, key: SessionKey, delivery: Delivery) {
        let session = &mut self.sessions[key];
        let Some(token) = session.conn else {
            if delivery.qos != QoS::AtMostOnce || self.config.queue_qos0_messages {
                self.enqueue(key, delivery);
            }
            return;
        };
        let conn = &mut self.conns[token.0];
        if delivery.qos == QoS::AtMostOnce {
            if conn.send.len() >= self.limits.send_queue_bytes_max {
                session.dropped += 1;
                return;
            }
            write_publish(conn, &delivery, 0, false);
        } else if session.queued.is_empty() && session.inflight.len() < self.limits.inflight_max {
            send_in_flight(session, conn, delivery);
        } else {
            return self.enqueue(key, delivery);
        }
        self.mark_flush(token);
    }

    /// Queues a message for later, dropping it if the queue is at `max_queued_messages`.
    fn enqueue(&mut self, key: SessionKey, delivery: Delivery) {
        let session = &mut self.sessions[key];
        if session.queued.len() >= self.limits.queued_max {
            if session.dropped == 0 {
                log_debug!(
                    "Outgoing messages are being dropped for client {}.",
                    session.client_id
                );
            }
            session.dropped += 1;
            return;
        }
        session.queued.push_back(delivery);
    }

    /// Moves queued messages into the in-flight window while it has room.
    pub(super) fn fill_window(&mut self, key: SessionKey) {
        let session = &mut self.sessions[key];
        let Some(token) = session.conn else {
            return;
        };
        let conn = &mut self.conns[token.0];
        let mut sent = false;
        while session.inflight.len() < self.limits.inflight_max
            && let Some(delivery) = session.queued.pop_front()
        {
            sent = true;
            if delivery.qos == QoS::AtMostOnce {
                write_publish(conn, &delivery, 0, false);
            } else {
                send_in_flight(session, conn, delivery);
            }
        }
        if sent {
            self.mark_flush(token);
        }
    }
}

/// Gives a QoS 1/2 delivery a packet id, writes it, and records it as in flight.
fn send_in_flight(session: &mut Session, conn: &mut Connection, delivery: Delivery) {
    let packet_id = session.next_packet_id();
    write_publish(conn, &delivery, packet_id, false);
    let state = if delivery.qos == QoS::ExactlyOnce {
        OutState::AwaitPubRec
    } else {
        OutState::AwaitPubAck
    };
    session.inflight.push_back(Inflight {
        packet_id,
        state,
        delivery,
    });
}

/// Encodes a PUBLISH onto a connection's send queue; a large payload is queued by reference.
pub(super) fn write_publish(conn: &mut Connection, delivery: &Delivery, packet_id: u16, dup: bool) {
    let publish = delivery
        .message
        .to_publish(delivery.qos, delivery.retain, packet_id, dup);
    publish.encode_header(conn.version, conn.send.tail());
    conn.send.push_bytes(&publish.payload);
    log_debug!(
        "Sending PUBLISH to {} (d{}, q{}, r{}, m{packet_id}, '{}', ... ({} bytes))",
        conn.log_id(),
        u8::from(dup),
        delivery.qos as u8,
        u8::from(delivery.retain),
        publish.topic,
        publish.payload.len()
    );
}
