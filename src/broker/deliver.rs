//! Outbound delivery: from one published message to the subscribers that want it, through
//! each session's in-flight window and queue, onto each connection's send queue.

use std::rc::Rc;
use std::time::Instant;

use super::Broker;
use crate::connection::{Connection, TopicName};
use crate::log_debug;
use crate::message::{Delivery, Message};
use crate::protocol::{OutgoingPublish, QoS, Version};
use crate::router::Target;
use crate::session::{Inflight, OutState, Session, SessionKey};
use crate::shared::GroupKey;

/// A 3.1/3.1.1 session's share of a routed message, merged over its matching subscriptions.
#[derive(Debug)]
pub(super) struct RouteTarget {
    session: SessionKey,
    qos: QoS,
}

impl Broker {
    /// Stores (if retained) and routes a message that a client published, or a will.
    /// `origin` is the publishing session, for MQTT 5's no-local option. Returns how many
    /// subscribers it went to.
    pub(super) fn publish_message(
        &mut self,
        message: Rc<Message>,
        origin: Option<SessionKey>,
    ) -> usize {
        if message.retain {
            self.retained.set(&message);
        }
        self.route(&message, origin)
    }

    /// Sends `message` to every matching subscription, and to one member of each matching
    /// shared subscription group.
    fn route(&mut self, message: &Rc<Message>, origin: Option<SessionKey>) -> usize {
        let mut matches = std::mem::take(&mut self.route_matches);
        let mut targets = std::mem::take(&mut self.route_targets);
        let mut groups = std::mem::take(&mut self.route_groups);
        matches.clear();
        targets.clear();
        groups.clear();
        self.router.matches(&message.topic, &mut matches);

        // An MQTT 5 client gets one copy per matching subscription, each with its own
        // options and identifier, as from mosquitto. Earlier versions get one copy per
        // session at the highest matching QoS (MQTT-3.3.5-1): a session's matches are merged
        // without a hash set, each session remembering the mark of the last publish that
        // reached it and where its entry sits in `targets`.
        self.route_mark += 1;
        let mark = self.route_mark;
        let mut delivered = 0;
        for subscriber in &matches {
            let key = match subscriber.target {
                Target::Session(key) => key,
                Target::Group(group) => {
                    if !groups.contains(&group) {
                        groups.push(group);
                    }
                    continue;
                }
            };
            let options = subscriber.options;
            if options.no_local && origin == Some(key) {
                continue;
            }
            let session = &mut self.sessions[key];
            if session.version == Version::V5 {
                let mut delivery = Delivery::new(
                    Rc::clone(message),
                    options.qos.min(message.qos),
                    message.retain && options.retain_as_published,
                );
                if subscriber.subscription_id != 0 {
                    delivery.subscription_ids.push(subscriber.subscription_id);
                }
                self.deliver(key, delivery);
                delivered += 1;
                continue;
            }
            if session.route_mark != mark {
                session.route_mark = mark;
                session.route_slot = targets.len();
                targets.push(RouteTarget {
                    session: key,
                    qos: options.qos,
                });
            }
            let target = &mut targets[session.route_slot];
            target.qos = target.qos.max(options.qos);
        }
        for target in targets.drain(..) {
            let qos = target.qos.min(message.qos);
            self.deliver(
                target.session,
                Delivery::new(Rc::clone(message), qos, false),
            );
            delivered += 1;
        }
        for &group in &groups {
            delivered += usize::from(self.deliver_to_group(group, message, None));
        }
        self.route_matches = matches;
        self.route_targets = targets;
        self.route_groups = groups;
        delivered
    }

    /// Gives a message to one member of a shared subscription group; false if the group
    /// has no member to take it (other than `except`).
    pub(super) fn deliver_to_group(
        &mut self,
        group: GroupKey,
        message: &Rc<Message>,
        except: Option<SessionKey>,
    ) -> bool {
        let sessions = &self.sessions;
        let online = |key: SessionKey| sessions.get(key).is_some_and(|s| s.conn.is_some());
        let Some(member) = self.shared.pick(group, online, except) else {
            return false;
        };
        let mut delivery = Delivery::new(
            Rc::clone(message),
            member.options.qos.min(message.qos),
            message.retain && member.options.retain_as_published,
        );
        if member.subscription_id != 0 {
            delivery.subscription_ids.push(member.subscription_id);
        }
        delivery.group = Some(group);
        self.deliver(member.session, delivery);
        true
    }

    /// Hands one message to one session: straight onto the wire if the client is online and
    /// its window has room, into the session's queue if not.
    pub(super) fn deliver(&mut self, key: SessionKey, delivery: Delivery) {
        let now = self.now;
        let session = &mut self.sessions[key];
        let Some(token) = session.conn else {
            if delivery.qos != QoS::AtMostOnce || self.config.queue_qos0_messages {
                self.enqueue(key, delivery);
            }
            return;
        };
        let conn = &mut self.conns[token.0];
        if delivery.qos == QoS::AtMostOnce {
            if conn.send.len() >= self.limits.send_queue_bytes_max
                || !write_publish(conn, &delivery, 0, false, now)
            {
                session.dropped += 1;
                return;
            }
        } else if session.queued.is_empty() && session.inflight.len() < conn.inflight_max {
            send_in_flight(session, conn, delivery, now);
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

    /// Moves queued messages into the in-flight window while it has room. Messages that
    /// expired while they waited are dropped [MQTT-3.3.2-5].
    pub(super) fn fill_window(&mut self, key: SessionKey) {
        let now = self.now;
        let session = &mut self.sessions[key];
        let Some(token) = session.conn else {
            return;
        };
        let conn = &mut self.conns[token.0];
        let mut sent = false;
        while session.inflight.len() < conn.inflight_max
            && let Some(delivery) = session.queued.pop_front()
        {
            if delivery.message.is_expired(now) {
                continue;
            }
            sent = true;
            if delivery.qos == QoS::AtMostOnce {
                write_publish(conn, &delivery, 0, false, now);
            } else {
                send_in_flight(session, conn, delivery, now);
            }
        }
        if sent {
            self.mark_flush(token);
        }
    }
}

/// Gives a QoS 1/2 delivery a packet id, writes it, and records it as in flight. A message
/// larger than the client accepts is dropped for this client [MQTT-3.1.2-25].
fn send_in_flight(session: &mut Session, conn: &mut Connection, delivery: Delivery, now: Instant) {
    let packet_id = session.next_packet_id();
    if !write_publish(conn, &delivery, packet_id, false, now) {
        session.dropped += 1;
        return;
    }
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
/// Returns false, writing nothing, if the packet would exceed the client's maximum size.
pub(super) fn write_publish(
    conn: &mut Connection,
    delivery: &Delivery,
    packet_id: u16,
    dup: bool,
    now: Instant,
) -> bool {
    let message = &*delivery.message;
    let name = conn.out_aliases.name(&message.topic);
    let (topic, topic_alias) = match name {
        TopicName::Plain => (message.topic.as_str(), None),
        TopicName::Assign(alias) => (message.topic.as_str(), Some(alias)),
        TopicName::Alias(alias) => ("", Some(alias)),
    };
    let publish = OutgoingPublish {
        dup,
        qos: delivery.qos,
        retain: delivery.retain,
        topic,
        packet_id,
        topic_alias,
        message_expiry: message.expiry_remaining(now),
        subscription_ids: &delivery.subscription_ids,
        properties: &message.properties,
        payload_len: message.payload.len(),
    };
    if publish.packet_len(conn.version) > conn.max_packet_out {
        log_debug!(
            "Dropped PUBLISH to {} on '{}': larger than the client's maximum packet size.",
            conn.log_id(),
            message.topic
        );
        return false;
    }
    publish.encode_header(conn.version, conn.send.tail());
    conn.send.push_bytes(&message.payload);
    if let TopicName::Assign(alias) = name {
        conn.out_aliases.commit(&message.topic, alias);
    }
    log_debug!(
        "Sending PUBLISH to {} (d{}, q{}, r{}, m{packet_id}, '{}', ... ({} bytes))",
        conn.log_id(),
        u8::from(dup),
        delivery.qos as u8,
        u8::from(delivery.retain),
        message.topic,
        message.payload.len()
    );
    true
}
