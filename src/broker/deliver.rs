//! Outbound delivery: from one published message to the subscribers that want it, through
//! each session's in-flight window and queue, onto each connection's send queue.

use std::rc::Rc;
use std::time::Instant;

use bytes::BytesMut;

use super::{Broker, DropReason, FLUSH_IN_FULL_BYTES, security};
use crate::connection::{Connection, TopicName};
use crate::log_debug;
use crate::message::{Delivery, Message};
use crate::protocol::{OutgoingPublish, QoS, Version};
use crate::retain::Stored;
use crate::router::Target;
use crate::send_queue::SHARE_MIN_BYTES;
use crate::session::{Rec, Session, SessionKey};
use crate::shared::GroupKey;

/// A 3.1/3.1.1 session's share of a routed message, merged over its matching subscriptions.
#[derive(Debug)]
pub(super) struct RouteTarget {
    session: SessionKey,
    qos: QoS,
    /// Matching subscriptions above QoS 0: mosquitto issues a packet identifier for each,
    /// though the client gets the message once.
    ids: u32,
}

/// The bytes of the message being routed, encoded once per variant (protocol family, QoS,
/// retain flag) for every subscriber that gets exactly those bytes. A thousand subscribers
/// then cost a thousand copies of a few dozen bytes and a thousand 2-byte packet ids, not a
/// thousand encodings. Active only while `route` runs: nothing of it outlives a publish.
#[derive(Default)]
pub(super) struct PublishCache {
    active: bool,
    variants: Vec<Encoded>,
    /// The message with bytes of its own, made for the first offline QoS 0 queue it goes
    /// to and shared by the others.
    detached: Option<Rc<Message>>,
}

struct Encoded {
    v5: bool,
    qos: QoS,
    retain: bool,
    /// The packet with packet id 0, and its payload unless that is large enough to be
    /// queued by reference.
    bytes: BytesMut,
    with_payload: bool,
    packet_id_at: usize,
    packet_len: usize,
}

impl PublishCache {
    fn start(&mut self) {
        self.active = true;
        self.variants.clear();
        self.detached = None;
    }

    fn stop(&mut self) {
        self.active = false;
        self.variants.clear();
        self.detached = None;
    }

    /// `message` with bytes of its own: once per routed message, each time outside `route`.
    pub(super) fn detach(&mut self, message: &Rc<Message>) -> Rc<Message> {
        if !self.active {
            return Rc::new(message.detached());
        }
        let detached = self
            .detached
            .get_or_insert_with(|| Rc::new(message.detached()));
        Rc::clone(detached)
    }

    fn get_or_encode(
        &mut self,
        message: &Message,
        version: Version,
        qos: QoS,
        retain: bool,
    ) -> &Encoded {
        let v5 = version == Version::V5;
        let found = self
            .variants
            .iter()
            .position(|e| e.v5 == v5 && e.qos == qos && e.retain == retain);
        let index = found.unwrap_or_else(|| {
            let publish = OutgoingPublish {
                dup: false,
                qos,
                retain,
                topic: &message.topic,
                packet_id: 0,
                topic_alias: None,
                message_expiry: None,
                subscription_ids: &[],
                properties: &message.properties,
                payload_len: message.payload.len(),
            };
            let mut bytes = BytesMut::new();
            publish.encode_header(version, &mut bytes);
            let with_payload = message.payload.len() < SHARE_MIN_BYTES;
            if with_payload {
                bytes.extend_from_slice(&message.payload);
            }
            self.variants.push(Encoded {
                v5,
                qos,
                retain,
                bytes,
                with_payload,
                packet_id_at: publish.packet_id_offset(version),
                packet_len: publish.packet_len(version),
            });
            self.variants.len() - 1
        });
        &self.variants[index]
    }
}

impl Broker {
    /// Stores (if retained) and routes a message that a client published, or a will.
    /// `origin` is the publishing session, for MQTT 5's no-local option. Returns whether any
    /// subscription matched its topic, whoever it went to: mosquitto's test for PUBACK 0x10
    /// ("no matching subscribers"), which a no-local or ACL-denied match does not get.
    pub(super) fn publish_message(
        &mut self,
        message: Rc<Message>,
        origin: Option<SessionKey>,
    ) -> bool {
        if message.retain {
            let stored = self.set_retained(&message);
            self.note_retained(&message, origin);
            if let Stored::OverCount | Stored::OverBytes = stored {
                self.log_retained_refused(&message, stored);
            }
        }
        self.route(&message, origin)
    }

    /// Sends `message` to every matching subscription, and to one member of each matching
    /// shared subscription group. Returns whether anything matched.
    fn route(&mut self, message: &Rc<Message>, origin: Option<SessionKey>) -> bool {
        let mut matches = std::mem::take(&mut self.route_matches);
        let mut targets = std::mem::take(&mut self.route_targets);
        let mut groups = std::mem::take(&mut self.route_groups);
        matches.clear();
        targets.clear();
        groups.clear();
        self.router.matches(&message.topic, &mut matches);
        self.publish_cache.start();

        // An MQTT 5 client gets one copy per matching subscription, each with its own
        // options and identifier, as from mosquitto. Earlier versions get one copy per
        // session at the highest matching QoS (MQTT-3.3.5-1): a session's matches are merged
        // without a hash set, each session remembering the mark of the last publish that
        // reached it and where its entry sits in `targets`.
        self.route_mark += 1;
        let mark = self.route_mark;
        let mut matched = false;
        let acl = self.acl_on;
        let qos_cap = self.qos_cap(message);
        // allow_duplicate_messages: earlier versions get a copy per subscription too.
        let per_subscription = self.config.allow_duplicate_messages;
        for subscriber in &matches {
            let key = match subscriber.target {
                Target::Session(key) => key,
                Target::Group(group) => {
                    matched = true;
                    if !groups.contains(&group) {
                        groups.push(group);
                    }
                    continue;
                }
            };
            let session = &mut self.sessions[key];
            // Ended, its filters still leaving the router (`teardown.rs`): no match.
            if session.is_going() {
                continue;
            }
            matched = true;
            let options = subscriber.options;
            if options.no_local && origin == Some(key) {
                continue;
            }
            if acl && !security::may_read(session, &message.topic) {
                self.count_dropped(key, DropReason::AclDenied, 1);
                continue;
            }
            if session.version == Version::V5 || per_subscription {
                let mut delivery = Delivery::new(
                    Rc::clone(message),
                    options.qos.min(qos_cap),
                    message.retain && options.retain_as_published,
                );
                if subscriber.subscription_id != 0 {
                    delivery.subscription_ids.push(subscriber.subscription_id);
                }
                self.deliver(key, delivery);
                continue;
            }
            if session.route_mark != mark {
                session.route_mark = mark;
                session.route_slot = targets.len() as u32;
                targets.push(RouteTarget {
                    session: key,
                    qos: options.qos,
                    ids: 0,
                });
            }
            let target = &mut targets[session.route_slot as usize];
            target.qos = target.qos.max(options.qos);
            target.ids += u32::from(options.qos != QoS::AtMostOnce);
        }
        for target in targets.drain(..) {
            let qos = target.qos.min(qos_cap);
            self.deliver(
                target.session,
                Delivery::new(Rc::clone(message), qos, false),
            );
            if qos != QoS::AtMostOnce && target.ids > 1 {
                self.sessions[target.session].skip_packet_ids(u64::from(target.ids - 1));
            }
        }
        for &group in &groups {
            self.deliver_to_group(group, message, None);
        }
        self.publish_cache.stop();
        self.route_matches = matches;
        self.route_targets = targets;
        self.route_groups = groups;
        matched
    }

    /// Gives a message to one member of a shared subscription group; false if the group
    /// has no member to take it (other than `except`).
    pub(super) fn deliver_to_group(
        &mut self,
        group: GroupKey,
        message: &Rc<Message>,
        except: Option<SessionKey>,
    ) -> bool {
        let member = loop {
            let Some(member) = self.shared.pick(group, except) else {
                return false;
            };
            if !self.sessions[member.session].is_going() {
                break member;
            }
            self.drop_going_member(group, member.session);
        };
        // As in mosquitto, a member the ACL denies loses its turn and the message.
        if self.acl_on && !security::may_read(&self.sessions[member.session], &message.topic) {
            self.count_dropped(member.session, DropReason::AclDenied, 1);
            return true;
        }
        let mut delivery = Delivery::new(
            Rc::clone(message),
            member.options.qos.min(self.qos_cap(message)),
            message.retain && member.options.retain_as_published,
        );
        if member.subscription_id != 0 {
            delivery.subscription_ids.push(member.subscription_id);
        }
        delivery.group = Some(group);
        self.deliver(member.session, delivery);
        true
    }

    /// The highest QoS `message` goes out at: its own, or with `upgrade_outgoing_qos` any
    /// subscription's.
    #[inline]
    pub(super) fn qos_cap(&self, message: &Message) -> QoS {
        match self.config.upgrade_outgoing_qos {
            true => QoS::ExactlyOnce,
            false => message.qos,
        }
    }

    /// Hands one message to one session: straight onto the wire if the client is online and
    /// its window has room, into the session's queue if not (behind its retained messages
    /// while those are under way, see `retained.rs`). A QoS 1/2 message is issued its
    /// packet identifier here, whatever becomes of it.
    pub(super) fn deliver(&mut self, key: SessionKey, delivery: Delivery) {
        let session = &self.sessions[key];
        let going = session.is_going();
        debug_assert!(!going, "nothing is routed to a going session");
        if going {
            return;
        }
        // Retained messages under way are the rare case, kept out of line: the common one
        // is then a single function, the delivery not moved in and out of calls.
        if session.retained.is_some() {
            return self.deliver_behind_retained(key, delivery);
        }
        self.deliver_now(key, delivery);
    }

    /// `deliver` to a session whose retained messages are under way.
    #[cold]
    #[inline(never)]
    fn deliver_behind_retained(&mut self, key: SessionKey, delivery: Delivery) {
        if let Some(delivery) = self.hold_behind_retained(key, delivery) {
            self.deliver_now(key, delivery);
        }
    }

    /// `deliver`, for a message nothing is held for: a retained one, or one that was held.
    /// Inlined into `deliver`, the hot path of every fan-out.
    #[inline(always)]
    pub(super) fn deliver_now(&mut self, key: SessionKey, mut delivery: Delivery) {
        let now = self.now;
        let session = &mut self.sessions[key];
        if delivery.qos != QoS::AtMostOnce {
            delivery.packet_seq = session.issue_packet_id();
        }
        let Some(token) = session.conn else {
            if delivery.qos != QoS::AtMostOnce {
                self.enqueue(key, delivery);
            } else if self.config.queue_qos0_messages {
                // QoS 0 messages are slices of the publisher's read buffer (see
                // `Message::from_publish`): a queued one would keep all of it alive.
                delivery.message = self.publish_cache.detach(&delivery.message);
                self.enqueue(key, delivery);
            }
            return;
        };
        let conn = &mut self.conns[token.0];
        let cache = &mut self.publish_cache;
        let journal = super::durable::journal(&mut self.durable);
        let sent = if delivery.qos == QoS::AtMostOnce {
            if conn.output_full() {
                Err(Unsent::Dropped(DropReason::SendQueueFull))
            } else {
                if pins_read_buffer(conn, &delivery.message) {
                    delivery.message = cache.detach(&delivery.message);
                }
                write_publish(conn, &delivery, 0, false, now, cache)
            }
        } else if session.queued().is_empty() && window_open(session, conn, &self.limits, &delivery)
        {
            send_in_flight(session, conn, delivery, now, cache, journal)
        } else {
            return self.enqueue(key, delivery);
        };
        match sent {
            Ok(()) => self.mark_flush(token),
            Err(Unsent::Dropped(reason)) => self.count_dropped(key, reason, 1),
            Err(Unsent::NotMounted) => {}
        }
    }

    /// Queues a message for later. A full queue (`max_queued_messages`, `max_queued_bytes`)
    /// drops it and counts it, as mosquitto does, or with `disconnect_on_full_queue`
    /// disconnects the client (MQTT 5: 0x97, quota exceeded) at the end of the turn.
    fn enqueue(&mut self, key: SessionKey, delivery: Delivery) {
        let session = &mut self.sessions[key];
        let size = delivery.size();
        let full = if session.queued().len() >= self.limits.queued_max {
            Some(DropReason::QueueFull)
        } else if session.queued_bytes() + size > self.limits.queued_bytes_max {
            Some(DropReason::QueueBytes)
        } else {
            None
        };
        if let Some(reason) = full {
            self.count_dropped(key, reason, 1);
            let session = &self.sessions[key];
            if self.config.disconnect_on_full_queue
                && let Some(token) = session.conn
            {
                self.close_at_end_of_turn(token, super::Close::QuotaExceeded);
            }
            return;
        }
        session.push_queued(delivery, super::durable::journal(&mut self.durable));
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
        let cache = &mut self.publish_cache;
        let mut journal = super::durable::journal(&mut self.durable);
        let mut sent = false;
        let (mut expired, mut oversize) = (0, 0);
        while let Some(next) = session.queued().front()
            && (next.qos == QoS::AtMostOnce || window_open(session, conn, &self.limits, next))
            && let Some(delivery) = session.pop_queued()
        {
            if delivery.message.is_expired(now) {
                session.discard(delivery, journal.as_deref_mut());
                expired += 1;
                continue;
            }
            let written = if delivery.qos == QoS::AtMostOnce {
                write_publish(conn, &delivery, 0, false, now, cache)
            } else {
                send_in_flight(session, conn, delivery, now, cache, journal.as_deref_mut())
            };
            match written {
                Ok(()) => sent = true,
                Err(Unsent::Dropped(_)) => oversize += 1,
                Err(Unsent::NotMounted) => {}
            }
        }
        if sent {
            self.mark_flush(token);
        }
        self.count_dropped(key, DropReason::Expired, expired);
        self.count_dropped(key, DropReason::Oversize, oversize);
    }
}

/// Whether the client's in-flight window has room for `delivery`: fewer messages than its
/// receive maximum and our `max_inflight_messages`, and, unless nothing is in flight, fewer
/// bytes than `max_inflight_bytes`.
fn window_open(
    session: &Session,
    conn: &Connection,
    limits: &super::Limits,
    delivery: &Delivery,
) -> bool {
    let inflight = session.inflight();
    inflight.len() < usize::from(conn.inflight_max)
        && (inflight.is_empty()
            || session.inflight_bytes() + delivery.size() <= limits.inflight_bytes_max)
}

/// Why `write_publish` wrote nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unsent {
    /// Dropped for this client, and to be counted.
    Dropped(DropReason),
    /// Its topic is outside the client's mount point: not the client's to have.
    NotMounted,
}

/// Writes a QoS 1/2 delivery with its packet id and puts it in flight. A message larger
/// than the client accepts is dropped for this client [MQTT-3.1.2-25].
fn send_in_flight(
    session: &mut Session,
    conn: &mut Connection,
    mut delivery: Delivery,
    now: Instant,
    cache: &mut PublishCache,
    mut journal: Rec,
) -> Result<(), Unsent> {
    let packet_id = session.flight_packet_id(&mut delivery, journal.as_deref_mut());
    if let Err(unsent) = write_publish(conn, &delivery, packet_id, false, now, cache) {
        session.discard(delivery, journal);
        return Err(unsent);
    }
    session.fly(packet_id, delivery, journal);
    Ok(())
}

/// Whether queueing this QoS 0 message's payload by reference would keep its publisher's
/// read buffer (all 16 KiB of it, for a 1 KiB payload) alive beyond this turn: a large
/// payload (QoS 1/2 ones have bytes of their own already, see `Message::from_publish`)
/// going to a connection with more waiting than a flush writes in full. Such a connection
/// may hold it for as long as its client does not read; the copy is made once per message
/// and shared by every connection that is behind.
fn pins_read_buffer(conn: &Connection, message: &Message) -> bool {
    message.payload.len() >= SHARE_MIN_BYTES && conn.send.len() > FLUSH_IN_FULL_BYTES
}

/// Encodes a PUBLISH onto a connection's send queue; a large payload is queued by reference.
/// Writes nothing if the packet would exceed the client's maximum size, or if its topic is
/// outside the client's mount point.
pub(super) fn write_publish(
    conn: &mut Connection,
    delivery: &Delivery,
    packet_id: u16,
    dup: bool,
    now: Instant,
    cache: &mut PublishCache,
) -> Result<(), Unsent> {
    let message = &*delivery.message;
    // mount_point: the client is sent the topic without it.
    let mounted = conn.rules.mount_point.is_some();
    let Some(topic) = conn.rules.unmount(&message.topic) else {
        log_debug!(
            "Dropped PUBLISH to {} on '{}': not under its listener's mount point.",
            conn.log_id(),
            message.topic
        );
        return Err(Unsent::NotMounted);
    };
    let name = conn.out_aliases.name(&message.topic);
    let same_for_everyone = !dup
        && !mounted
        && name == TopicName::Plain
        && delivery.subscription_ids.is_empty()
        && message.expires_at.is_none();
    let written = if cache.active && same_for_everyone {
        write_cached(conn, delivery, packet_id, cache)
    } else {
        write_encoded(conn, delivery, packet_id, dup, (topic, name), now)
    };
    if !written {
        log_debug!(
            "Dropped PUBLISH to {} on '{}': larger than the client's maximum packet size.",
            conn.log_id(),
            message.topic
        );
        return Err(Unsent::Dropped(DropReason::Oversize));
    }
    log_debug!(
        "Sending PUBLISH to {} (d{}, q{}, r{}, m{packet_id}, '{}', ... ({} bytes))",
        conn.log_id(),
        u8::from(dup),
        delivery.qos as u8,
        u8::from(delivery.retain),
        topic,
        message.payload.len()
    );
    Ok(())
}

/// The shared encoding, copied and given this subscriber's packet id.
fn write_cached(
    conn: &mut Connection,
    delivery: &Delivery,
    packet_id: u16,
    cache: &mut PublishCache,
) -> bool {
    let message = &*delivery.message;
    let encoded = cache.get_or_encode(message, conn.version, delivery.qos, delivery.retain);
    if encoded.packet_len > conn.max_packet_out as usize {
        return false;
    }
    let tail = conn.send.tail();
    let start = tail.len();
    tail.extend_from_slice(&encoded.bytes);
    if delivery.qos != QoS::AtMostOnce {
        let at = start + encoded.packet_id_at;
        tail[at..at + 2].copy_from_slice(&packet_id.to_be_bytes());
    }
    if !encoded.with_payload {
        conn.send.push_bytes(&message.payload);
    }
    true
}

/// An encoding of this subscriber's own: topic alias, subscription identifiers, remaining
/// expiry, DUP or the mount point removed differ from everyone else's.
fn write_encoded(
    conn: &mut Connection,
    delivery: &Delivery,
    packet_id: u16,
    dup: bool,
    (topic, name): (&str, TopicName),
    now: Instant,
) -> bool {
    let message = &*delivery.message;
    let (topic, topic_alias) = match name {
        TopicName::Plain => (topic, None),
        TopicName::Assign(alias) => (topic, Some(alias)),
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
    if publish.packet_len(conn.version) > conn.max_packet_out as usize {
        return false;
    }
    publish.encode_header(conn.version, conn.send.tail());
    conn.send.push_bytes(&message.payload);
    if let TopicName::Assign(alias) = name {
        conn.out_aliases.commit(&message.topic, alias);
    }
    true
}
