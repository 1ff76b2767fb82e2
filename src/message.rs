//! An application message as the broker holds it: shared by every queue it waits in.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::protocol::{ByteStr, Properties, Publish, QoS, Will, filter_encoded};

/// A published message. One `Rc<Message>` is shared by every subscriber it goes to, the
/// retained store and offline queues; nothing in it is per subscriber.
#[derive(Debug)]
pub struct Message {
    pub topic: ByteStr,
    pub payload: Bytes,
    /// The QoS it was published with; each subscriber gets at most its subscription's.
    pub qos: QoS,
    pub retain: bool,
    /// The MQTT 5 properties every copy carries unchanged (payload format, content type,
    /// response topic, correlation data, user properties), encoded once for all subscribers.
    pub properties: Bytes,
    /// When the message expires (MQTT 5 message expiry interval), if it does.
    pub expires_at: Option<Instant>,
    /// Whether the payload was declared UTF-8 (payload format indicator 1).
    pub utf8_payload: bool,
    /// Its id in the persistence journal, once a session that outlives its connection
    /// holds it, and the batch it was last written in (see `Journal::message_id`).
    pub journaled: Cell<Journaled>,
}

/// A message's record in the journal: 0s for none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Journaled {
    pub id: u64,
    /// Counted from the start, never wrapping: a retained message may wait for years.
    pub batch: u64,
}

impl Message {
    /// Its topic's, payload's and properties' bytes: what the queue limits count.
    pub fn size(&self) -> usize {
        self.topic.len() + self.payload.len() + self.properties.len()
    }

    /// Takes the message out of a received PUBLISH.
    ///
    /// A decoded topic and payload are slices of the connection's read buffer and keep all
    /// of that buffer alive. Messages that may outlive this loop turn (QoS 1/2 ones wait for
    /// acknowledgements or offline clients, retained ones wait for subscribers) get bytes of
    /// their own, so a queued 10-byte message never pins a 16 KiB read buffer. So do QoS 0
    /// ones when `upgraded`: `upgrade_outgoing_qos` may deliver them at QoS 1 or 2.
    pub fn from_publish(publish: Publish, now: Instant, upgraded: bool) -> Message {
        let properties = publish.props();
        let forwarded_properties = forwarded_raw(&publish.raw_properties);
        let expires_at = expiry(properties, now);
        let utf8_payload = properties.payload_format_indicator == Some(1);
        let long_lived = publish.qos != QoS::AtMostOnce || publish.retain || upgraded;
        let (topic, payload) = if long_lived {
            (
                ByteStr::from(publish.topic.as_str()),
                Bytes::copy_from_slice(&publish.payload),
            )
        } else {
            (publish.topic, publish.payload)
        };
        Message {
            topic,
            payload,
            qos: publish.qos,
            retain: publish.retain,
            properties: forwarded_properties,
            expires_at,
            utf8_payload,
            journaled: Cell::default(),
        }
    }

    /// The message a will becomes when it is published. Its bytes are already its own.
    pub fn from_will(will: Will, now: Instant) -> Message {
        Message {
            properties: forwarded_raw(&will.raw_properties),
            expires_at: expiry(&will.properties, now),
            utf8_payload: will.properties.payload_format_indicator == Some(1),
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            journaled: Cell::default(),
        }
    }

    /// A copy with bytes of its own, for a QoS 0 message that is to wait in an offline
    /// client's queue (`queue_qos0_messages`) and must not pin its publisher's read buffer.
    pub fn detached(&self) -> Message {
        Message {
            topic: ByteStr::from(self.topic.as_str()),
            payload: Bytes::copy_from_slice(&self.payload),
            properties: Bytes::copy_from_slice(&self.properties),
            journaled: Cell::default(),
            ..*self
        }
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// The expiry interval a subscriber is sent: the received one minus the whole seconds
    /// the message has waited [MQTT-3.3.2-6], as mosquitto counts them, so a message passed
    /// on at once keeps its interval. Never 0 for a message that has not expired.
    pub fn expiry_remaining(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(seconds).unwrap_or(u32::MAX)
        })
    }
}

/// The properties of a received PUBLISH or will that travel on to every subscriber, in the
/// order the client wrote them (mosquitto keeps that order, and so do we).
fn forwarded_raw(raw: &[u8]) -> Bytes {
    if raw.is_empty() {
        return Bytes::new();
    }
    let mut out = BytesMut::with_capacity(raw.len());
    filter_encoded(raw, per_copy_property, &mut out);
    out.freeze()
}

/// Properties that are not forwarded as received: the message expiry is rewritten for each
/// copy, the topic alias belongs to the publisher's connection, subscription identifiers
/// are the subscriber's, and a will's delay interval is for the broker.
fn per_copy_property(id: u8) -> bool {
    matches!(id, 0x02 | 0x0b | 0x23 | 0x18)
}

fn expiry(p: &Properties, now: Instant) -> Option<Instant> {
    let seconds = p.message_expiry_interval?;
    now.checked_add(Duration::from_secs(u64::from(seconds)))
}

/// One message on its way to one subscriber, at the QoS and retain flag it goes out with.
#[derive(Debug)]
pub struct Delivery {
    pub message: Rc<Message>,
    pub qos: QoS,
    pub retain: bool,
    /// Identifiers of the subscriptions it matched (MQTT 5); usually none, and then this
    /// allocates nothing.
    pub subscription_ids: Vec<u32>,
    /// The shared subscription it came through, so that it can go to another member of the
    /// group if this one leaves before acknowledging it.
    pub group: Option<crate::ids::GroupKey>,
    /// Which of its subscriber session's packet identifiers it was issued (see
    /// `Session::issue_packet_id`); 0 until then and for QoS 0.
    pub packet_seq: u64,
    /// Whether the journal holds it: its session's methods record a delivery as the
    /// session takes it and as it lets go (see `session.rs`).
    pub(crate) recorded: bool,
}

/// A copy is another delivery, of the same message, that no journal holds yet: one handed
/// from a leaving member of a shared group to another, say.
impl Clone for Delivery {
    fn clone(&self) -> Delivery {
        Delivery {
            message: Rc::clone(&self.message),
            qos: self.qos,
            retain: self.retain,
            subscription_ids: self.subscription_ids.clone(),
            group: self.group,
            packet_seq: self.packet_seq,
            recorded: false,
        }
    }
}

impl Delivery {
    /// What the message costs in memory, near enough, for the byte limits on queues.
    pub fn size(&self) -> usize {
        self.message.size()
    }

    pub fn new(message: Rc<Message>, qos: QoS, retain: bool) -> Delivery {
        Delivery {
            message,
            qos,
            retain,
            subscription_ids: Vec::new(),
            group: None,
            packet_seq: 0,
            recorded: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring(now: Instant, seconds: u64) -> Message {
        Message {
            topic: "t".into(),
            payload: Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Bytes::new(),
            expires_at: now.checked_add(Duration::from_secs(seconds)),
            utf8_payload: false,
            journaled: Cell::default(),
        }
    }

    #[test]
    fn remaining_expiry_counts_whole_seconds_waited() {
        let start = Instant::now();
        let message = expiring(start, 4);
        let after = |ms| start + Duration::from_millis(ms);
        assert_eq!(message.expiry_remaining(start), Some(4));
        assert_eq!(message.expiry_remaining(after(999)), Some(4));
        assert_eq!(message.expiry_remaining(after(1000)), Some(3));
        assert_eq!(message.expiry_remaining(after(3999)), Some(1));
        assert!(!message.is_expired(after(3999)));
        assert!(message.is_expired(after(4000)));
    }
}
