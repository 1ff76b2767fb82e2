//! Retained messages: the last retained message of each topic, for new subscribers.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use crate::message::Message;
use crate::protocol::{ByteStr, topic};

#[derive(Default)]
pub struct RetainStore {
    messages: HashMap<ByteStr, Rc<Message>>,
}

impl RetainStore {
    /// Stores `message` as its topic's retained message; an empty payload deletes it
    /// [MQTT-3.3.1-10].
    pub fn set(&mut self, message: &Rc<Message>) {
        if message.payload.is_empty() {
            self.messages.remove(message.topic.as_str());
        } else {
            self.messages
                .insert(message.topic.clone(), Rc::clone(message));
        }
    }

    /// Appends the retained messages that `filter` matches, forgetting any that expired.
    ///
    /// An exact filter is one lookup; a wildcard filter scans every retained topic. That is
    /// one scan per wildcard SUBSCRIBE, not per publish, which keeps the publish path free of
    /// any retained-message work.
    pub fn matching(&mut self, filter: &str, now: Instant, out: &mut Vec<Rc<Message>>) {
        if !topic::has_wildcard(filter) {
            if let Some(message) = self.messages.get(filter) {
                if message.is_expired(now) {
                    self.messages.remove(filter);
                } else {
                    out.push(Rc::clone(message));
                }
            }
            return;
        }
        self.messages.retain(|name, message| {
            if message.is_expired(now) {
                return false;
            }
            if topic::matches(filter, name) {
                out.push(Rc::clone(message));
            }
            true
        });
    }

    /// Forgets expired messages that nobody asked for.
    pub fn sweep_expired(&mut self, now: Instant) {
        self.messages.retain(|_, message| !message.is_expired(now));
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Every retained message, in no order (for `Broker::footprint`).
    pub fn iter(&self) -> impl Iterator<Item = &Rc<Message>> {
        self.messages.values()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QoS;
    use bytes::Bytes;

    fn message(topic: &str, payload: &'static [u8]) -> Rc<Message> {
        expiring(topic, payload, None)
    }

    fn expiring(topic: &str, payload: &'static [u8], expires_at: Option<Instant>) -> Rc<Message> {
        Rc::new(Message {
            topic: topic.into(),
            payload: Bytes::from_static(payload),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Bytes::new(),
            expires_at,
            utf8_payload: false,
        })
    }

    fn payloads(store: &mut RetainStore, filter: &str) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        store.matching(filter, Instant::now(), &mut out);
        let mut payloads: Vec<_> = out.iter().map(|m| m.payload.to_vec()).collect();
        payloads.sort();
        payloads
    }

    #[test]
    fn newer_message_replaces_older_and_empty_payload_deletes() {
        let mut store = RetainStore::default();
        store.set(&message("a/b", b"1"));
        store.set(&message("a/b", b"2"));
        assert_eq!(payloads(&mut store, "a/b"), vec![b"2".to_vec()]);
        store.set(&message("a/b", b""));
        assert!(store.is_empty());
    }

    #[test]
    fn expired_messages_are_not_returned_and_are_forgotten() {
        let mut store = RetainStore::default();
        let now = Instant::now();
        store.set(&expiring("a/b", b"1", Some(now)));
        store.set(&message("a/c", b"2"));
        let mut out = Vec::new();
        store.matching("a/+", now, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn wildcard_filters_find_every_matching_topic() {
        let mut store = RetainStore::default();
        store.set(&message("a/b", b"1"));
        store.set(&message("a/c", b"2"));
        store.set(&message("$SYS/x", b"1"));
        assert_eq!(payloads(&mut store, "a/+").len(), 2);
        assert_eq!(payloads(&mut store, "#").len(), 2);
        assert_eq!(payloads(&mut store, "$SYS/#").len(), 1);
        assert_eq!(payloads(&mut store, "a/b").len(), 1);
        assert_eq!(payloads(&mut store, "z").len(), 0);
    }
}
