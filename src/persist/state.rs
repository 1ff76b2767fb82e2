//! The durable state as the files describe it: what recovery hands the broker, and what a
//! snapshot writes out. Built by applying records in order; each op says what the state
//! is after it, so that applying the same journal twice changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::record::{Op, StoredMessage};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Retained messages by topic.
    pub retained: BTreeMap<Bytes, StoredMessage>,
    /// Their publishers, where `check_retain_source` keeps them, by topic.
    pub retain_sources: BTreeMap<Bytes, RetainSource>,
    /// Sessions that outlive their connection, by client id.
    pub sessions: BTreeMap<Bytes, StoredSession>,
    /// The messages sessions hold, by id. One no delivery refers to any more stays until
    /// the state is written out (`ops`): a later record in the same batch may still name
    /// it (see `Op::Message`).
    pub messages: BTreeMap<u64, StoredMessage>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetainSource {
    pub client_id: Bytes,
    pub username: Option<Bytes>,
    pub port: u16,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoredSession {
    pub version: u8,
    pub expiry: u32,
    pub packet_ids: u64,
    /// Subscription options byte and identifier, by filter.
    pub subscriptions: BTreeMap<Bytes, (u8, u32)>,
    /// Its QoS 1/2 messages, queued or in flight, by packet sequence (oldest first).
    pub deliveries: BTreeMap<u64, StoredDelivery>,
    /// Inbound QoS 2 messages awaiting PUBREL: message ids by packet id.
    pub incoming: BTreeMap<u16, u64>,
    /// A will waiting for its delay: an `Op::Will`.
    pub will: Option<Op>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    pub message: u64,
    pub qos: u8,
    pub retain: bool,
    pub subscription_ids: Vec<u32>,
    /// PUBREC received: PUBREL is what is left to send.
    pub released: bool,
}

fn session<'a>(state: &'a mut State, client_id: &Bytes) -> Option<&'a mut StoredSession> {
    state.sessions.get_mut(client_id)
}

impl State {
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Header { .. } => {}
            Op::Retain(r) => {
                self.retain_sources.remove(&r.topic);
                self.retained.insert(r.topic.clone(), r);
            }
            Op::Unretain { topic } => {
                self.retain_sources.remove(&topic);
                self.retained.remove(&topic);
            }
            Op::RetainSource {
                topic,
                client_id,
                username,
                port,
            } => {
                if self.retained.contains_key(&topic) {
                    let source = RetainSource {
                        client_id,
                        username,
                        port,
                    };
                    self.retain_sources.insert(topic, source);
                }
            }
            Op::Session {
                client_id,
                version,
                expiry,
                packet_ids,
            } => {
                let session = self.sessions.entry(client_id).or_default();
                session.version = version;
                session.expiry = expiry;
                session.packet_ids = packet_ids;
            }
            Op::SessionGone { client_id } => {
                self.sessions.remove(&client_id);
            }
            Op::Subscribe {
                client_id,
                filter,
                options,
                id,
            } => {
                if let Some(session) = session(self, &client_id) {
                    session.subscriptions.insert(filter, (options, id));
                }
            }
            Op::Unsubscribe { client_id, filter } => {
                if let Some(session) = session(self, &client_id) {
                    session.subscriptions.remove(&filter);
                }
            }
            Op::Message { id, message } => {
                self.messages.insert(id, message);
            }
            Op::Deliver {
                client_id,
                seq,
                message,
                qos,
                retain,
                subscription_ids,
            } => {
                if let Some(session) = session(self, &client_id) {
                    let delivery = StoredDelivery {
                        message,
                        qos,
                        retain,
                        subscription_ids,
                        released: false,
                    };
                    session.deliveries.insert(seq, delivery);
                }
            }
            Op::Released { client_id, seq } => {
                let delivery = session(self, &client_id).and_then(|s| s.deliveries.get_mut(&seq));
                if let Some(delivery) = delivery {
                    delivery.released = true;
                }
            }
            Op::Delivered { client_id, seq } => {
                if let Some(session) = session(self, &client_id) {
                    session.deliveries.remove(&seq);
                }
            }
            Op::Renumber {
                client_id,
                from,
                to,
            } => {
                if let Some(session) = session(self, &client_id)
                    && let Some(delivery) = session.deliveries.remove(&from)
                {
                    session.deliveries.insert(to, delivery);
                }
            }
            Op::Incoming {
                client_id,
                packet_id,
                message,
            } => {
                if let Some(session) = session(self, &client_id) {
                    session.incoming.insert(packet_id, message);
                }
            }
            Op::IncomingDone {
                client_id,
                packet_id,
            } => {
                if let Some(session) = session(self, &client_id) {
                    session.incoming.remove(&packet_id);
                }
            }
            Op::Will { ref client_id, .. } => {
                if let Some(session) = session(self, &client_id.clone()) {
                    session.will = Some(op);
                }
            }
            Op::WillGone { client_id } => {
                if let Some(session) = session(self, &client_id) {
                    session.will = None;
                }
            }
        }
    }

    /// The ids of the messages some session holds.
    fn held_messages(&self) -> BTreeSet<u64> {
        let held = self.sessions.values().flat_map(|s| {
            let delivered = s.deliveries.values().map(|d| d.message);
            delivered.chain(s.incoming.values().copied())
        });
        held.collect()
    }

    /// Drops the messages no session holds any more.
    pub fn drop_unheld_messages(&mut self) {
        let held = self.held_messages();
        self.messages.retain(|id, _| held.contains(id));
    }

    /// The highest message id the files name, below which ids are not to be reused.
    pub fn last_message_id(&self) -> u64 {
        self.messages.keys().next_back().copied().unwrap_or(0)
    }

    /// The ops that rebuild this state from nothing, for a snapshot: the messages sessions
    /// hold before the sessions that hold them, and no others.
    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        let retained = self.retained.values().flat_map(|r| {
            let source = self.retain_sources.get(&r.topic).map(|s| Op::RetainSource {
                topic: r.topic.clone(),
                client_id: s.client_id.clone(),
                username: s.username.clone(),
                port: s.port,
            });
            std::iter::once(Op::Retain(r.clone())).chain(source)
        });
        let held = self.held_messages();
        let messages = self
            .messages
            .iter()
            .filter(move |(id, _)| held.contains(id))
            .map(|(&id, message)| Op::Message {
                id,
                message: message.clone(),
            });
        let sessions = self
            .sessions
            .iter()
            .flat_map(|(client_id, s)| session_ops(client_id, s));
        retained.chain(messages).chain(sessions)
    }

    pub fn is_empty(&self) -> bool {
        self.retained.is_empty() && self.sessions.is_empty()
    }
}

/// The ops that rebuild one session.
fn session_ops<'a>(client_id: &'a Bytes, s: &'a StoredSession) -> impl Iterator<Item = Op> + 'a {
    let id = move || client_id.clone();
    let session = Op::Session {
        client_id: id(),
        version: s.version,
        expiry: s.expiry,
        packet_ids: s.packet_ids,
    };
    let subscriptions = s
        .subscriptions
        .iter()
        .map(move |(filter, &(options, sub_id))| Op::Subscribe {
            client_id: id(),
            filter: filter.clone(),
            options,
            id: sub_id,
        });
    let deliveries = s.deliveries.iter().flat_map(move |(&seq, d)| {
        let deliver = Op::Deliver {
            client_id: id(),
            seq,
            message: d.message,
            qos: d.qos,
            retain: d.retain,
            subscription_ids: d.subscription_ids.clone(),
        };
        let released = d.released.then(|| Op::Released {
            client_id: id(),
            seq,
        });
        std::iter::once(deliver).chain(released)
    });
    let incoming = s
        .incoming
        .iter()
        .map(move |(&packet_id, &message)| Op::Incoming {
            client_id: id(),
            packet_id,
            message,
        });
    std::iter::once(session)
        .chain(subscriptions)
        .chain(deliveries)
        .chain(incoming)
        .chain(s.will.clone())
}
