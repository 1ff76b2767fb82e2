//! The records of what sessions hold: the messages, once per batch, and each delivery as
//! its session takes it and lets go. Called by the session's own methods (`session.rs`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::Journal;
use super::record::{self, MessageFields, Op, StoredMessage};
use crate::message::{Delivery, Journaled, Message};
use crate::protocol::ByteStr;

impl Journal {
    /// The broker's clock for this turn, by which message expiry is turned into a time of
    /// day for the disk.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The id a message is recorded under, writing its record unless this batch has it:
    /// a delivery's message is then always in the same file as the delivery, whatever
    /// compaction dropped from earlier files.
    fn message_id(&mut self, message: &Message) -> u64 {
        let batch = self.batches + 1;
        let mut journaled = message.journaled.get();
        if journaled.id != 0 && journaled.batch == batch {
            return journaled.id;
        }
        if journaled.id == 0 {
            self.last_message_id += 1;
            journaled.id = self.last_message_id;
        }
        let fields = MessageFields {
            topic: message.topic.as_bytes(),
            qos: message.qos as u8,
            retain: message.retain,
            utf8_payload: message.utf8_payload,
            expires_at: expires_at(message, self.now),
            properties: &message.properties,
            payload: &message.payload,
        };
        self.record_with(|out| record::message_body(out, journaled.id, &fields));
        message.journaled.set(Journaled {
            id: journaled.id,
            batch,
        });
        journaled.id
    }

    pub fn deliver(&mut self, client_id: &ByteStr, delivery: &Delivery) {
        let message = self.message_id(&delivery.message);
        self.record_with(|out| {
            record::deliver_body(
                out,
                client_id.as_bytes(),
                delivery.packet_seq,
                message,
                delivery.qos as u8,
                delivery.retain,
                &delivery.subscription_ids,
            )
        });
    }

    pub fn delivered(&mut self, client_id: &ByteStr, seq: u64) {
        self.record_with(|out| record::delivered_body(out, client_id.as_bytes(), seq));
    }

    pub fn released(&mut self, client_id: &ByteStr, seq: u64) {
        self.record_with(|out| record::released_body(out, client_id.as_bytes(), seq));
    }

    pub fn renumbered(&mut self, client_id: &ByteStr, from: u64, to: u64) {
        let client_id = client_id.as_bytes().clone();
        self.record(&Op::Renumber {
            client_id,
            from,
            to,
        });
    }

    pub fn incoming(&mut self, client_id: &ByteStr, packet_id: u16, message: &Message) {
        let message = self.message_id(message);
        self.record(&Op::Incoming {
            client_id: client_id.as_bytes().clone(),
            packet_id,
            message,
        });
    }

    pub fn incoming_done(&mut self, client_id: &ByteStr, packet_id: u16) {
        let client_id = client_id.as_bytes().clone();
        self.record(&Op::IncomingDone {
            client_id,
            packet_id,
        });
    }
}

impl Journal {
    /// A will waiting for its delay, due at `at` by the broker's clock.
    pub fn will(&mut self, client_id: &ByteStr, at: Instant, will: &crate::protocol::Will) {
        self.record(&Op::Will {
            client_id: client_id.as_bytes().clone(),
            at: unix_seconds(SystemTime::now() + at.saturating_duration_since(self.now)),
            topic: will.topic.as_bytes().clone(),
            qos: will.qos as u8,
            retain: will.retain,
            properties: will.raw_properties.clone(),
            payload: will.payload.clone(),
        });
    }

    pub fn will_gone(&mut self, client_id: &ByteStr) {
        let client_id = client_id.as_bytes().clone();
        self.record(&Op::WillGone { client_id });
    }
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// When a message expires, as a time of day (0 for never), since the clock the broker
/// keeps it by does not survive a restart.
fn expires_at(message: &Message, now: Instant) -> u64 {
    message.expires_at.map_or(0, |at| {
        unix_seconds(SystemTime::now() + at.saturating_duration_since(now)).max(1)
    })
}

/// A message as stored.
pub fn stored_message(message: &Message, now: Instant) -> StoredMessage {
    let expires_at = expires_at(message, now);
    StoredMessage {
        topic: message.topic.as_bytes().clone(),
        qos: message.qos as u8,
        retain: message.retain,
        utf8_payload: message.utf8_payload,
        expires_at,
        properties: message.properties.clone(),
        payload: message.payload.clone(),
    }
}

/// The message a stored one is, unless it has expired or is not one (a topic that is not
/// UTF-8, a QoS above 2: only a damaged file holds those). Its record stays `id`'s.
pub fn message_of(m: &StoredMessage, id: u64, now: Instant, unix_now: u64) -> Option<Message> {
    let expires_at = match m.expires_at {
        0 => None,
        at if at <= unix_now => return None,
        at => Some(now + std::time::Duration::from_secs(at - unix_now)),
    };
    Some(Message {
        topic: ByteStr::from_utf8(Bytes::copy_from_slice(&m.topic)).ok()?,
        payload: Bytes::copy_from_slice(&m.payload),
        qos: crate::protocol::QoS::from_u8(m.qos)?,
        retain: m.retain,
        properties: Bytes::copy_from_slice(&m.properties),
        expires_at,
        utf8_payload: m.utf8_payload,
        journaled: std::cell::Cell::new(Journaled { id, batch: 0 }),
    })
}
