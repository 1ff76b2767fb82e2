//! The durable state as the files describe it: what recovery hands the broker, and what a
//! snapshot writes out. Built by applying records in order; each op says what the state
//! is after it, so that applying the same journal twice changes nothing.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Hashed with foldhash, seeded per process: a compaction looks a session up for every
/// record, and SipHash, std's default, was a tenth of its time.
pub type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use super::record::{DeliverFields, Op, Record, StoredMessage};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Retained messages by topic.
    pub retained: BTreeMap<Bytes, StoredMessage>,
    /// Their publishers, where `check_retain_source` keeps them, by topic.
    pub retain_sources: BTreeMap<Bytes, RetainSource>,
    /// Sessions that outlive their connection, by client id. Hashed, not ordered: a
    /// compaction looks a session up for every record of its messages.
    pub sessions: HashMap<Bytes, StoredSession>,
    /// The messages sessions hold.
    pub messages: Messages,
}

/// The messages sessions hold, each counted by the deliveries and inbound messages that
/// name it, and dropped at the end of the batch in which nothing names it any more: a
/// compaction then holds only what is live, not every message of the journal.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Messages {
    /// By id, with how many name each; those at 0 are in `loose` too.
    held: HashMap<u64, (StoredMessage, u32)>,
    /// Named by nothing since they were written or let go: dropped at the end of their
    /// batch (`Op::BatchEnd`) unless named again by then, since `Op::Message` is written
    /// once a batch and a later record of the batch may still name one.
    loose: Vec<u64>,
}

impl Messages {
    /// A message, from its record; what names it keeps naming it.
    fn write(&mut self, id: u64, message: StoredMessage) {
        match self.held.get_mut(&id) {
            Some((held, _)) => *held = message,
            None => {
                self.held.insert(id, (message, 0));
                self.loose.push(id);
            }
        }
    }

    /// One more delivery names `id`.
    fn take(&mut self, id: u64) {
        if let Some((_, refs)) = self.held.get_mut(&id) {
            *refs += 1;
        }
    }

    /// One delivery fewer names `id`.
    fn let_go(&mut self, id: u64) {
        if let Some((_, refs)) = self.held.get_mut(&id) {
            *refs = refs.saturating_sub(1);
            if *refs == 0 {
                self.loose.push(id);
            }
        }
    }

    fn end_batch(&mut self) {
        for id in self.loose.drain(..) {
            if self.held.get(&id).is_some_and(|(_, refs)| *refs == 0) {
                self.held.remove(&id);
            }
        }
    }

    fn named(&self) -> impl Iterator<Item = (&u64, &StoredMessage)> {
        self.held
            .iter()
            .filter(|(_, (_, refs))| *refs > 0)
            .map(|(id, (message, _))| (id, message))
    }

    /// A message that was written and not yet dropped.
    pub fn get(&self, id: u64) -> Option<&StoredMessage> {
        self.held.get(&id).map(|(message, _)| message)
    }

    /// How many messages sessions hold.
    pub fn len(&self) -> usize {
        self.named().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the messages sessions hold.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.named().map(|(id, _)| *id)
    }
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
    /// Applies a record as `Records::next_record` reads it.
    pub fn apply_record(&mut self, record: Record) {
        match record {
            Record::Deliver(d) => self.deliver(d),
            Record::Delivered { client_id, seq } => self.delivered(client_id, seq),
            Record::Other(op) => self.apply(op),
        }
    }

    fn deliver(&mut self, d: DeliverFields) {
        let Some(session) = self.sessions.get_mut(d.client_id) else {
            return;
        };
        let delivery = StoredDelivery {
            message: d.message,
            qos: d.qos,
            retain: d.retain,
            subscription_ids: d.subscription_ids,
            released: false,
        };
        self.messages.take(d.message);
        if let Some(old) = session.deliveries.insert(d.seq, delivery) {
            self.messages.let_go(old.message);
        }
    }

    fn delivered(&mut self, client_id: &[u8], seq: u64) {
        let session = self.sessions.get_mut(client_id);
        if let Some(done) = session.and_then(|s| s.deliveries.remove(&seq)) {
            self.messages.let_go(done.message);
        }
    }

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
                if let Some(gone) = self.sessions.remove(&client_id) {
                    let named = gone.deliveries.values().map(|d| d.message);
                    for id in named.chain(gone.incoming.into_values()) {
                        self.messages.let_go(id);
                    }
                }
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
            Op::Message { id, message } => self.messages.write(id, message),
            Op::BatchEnd => self.messages.end_batch(),
            Op::Deliver {
                client_id,
                seq,
                message,
                qos,
                retain,
                subscription_ids,
            } => self.deliver(DeliverFields {
                client_id: &client_id,
                seq,
                message,
                qos,
                retain,
                subscription_ids,
            }),
            Op::Released { client_id, seq } => {
                let delivery = session(self, &client_id).and_then(|s| s.deliveries.get_mut(&seq));
                if let Some(delivery) = delivery {
                    delivery.released = true;
                }
            }
            Op::Delivered { client_id, seq } => self.delivered(&client_id, seq),
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
                if let Some(session) = self.sessions.get_mut(&client_id) {
                    self.messages.take(message);
                    if let Some(old) = session.incoming.insert(packet_id, message) {
                        self.messages.let_go(old);
                    }
                }
            }
            Op::IncomingDone {
                client_id,
                packet_id,
            } => {
                let session = self.sessions.get_mut(&client_id);
                if let Some(done) = session.and_then(|s| s.incoming.remove(&packet_id)) {
                    self.messages.let_go(done);
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

    /// The highest message id the files name, below which ids are not to be reused:
    /// one that names nothing any more may be used again.
    pub fn last_message_id(&self) -> u64 {
        self.messages.held.keys().copied().max().unwrap_or(0)
    }

    /// The ops that rebuild this state from nothing, for a snapshot: the messages sessions
    /// hold before the sessions that hold them, and no others; in the order of their keys,
    /// so that the same state always makes the same file.
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
        let mut messages: Vec<(&u64, &StoredMessage)> = self.messages.named().collect();
        messages.sort_unstable_by_key(|(id, _)| **id);
        let messages = messages.into_iter().map(|(&id, message)| Op::Message {
            id,
            message: message.clone(),
        });
        let mut sessions: Vec<(&Bytes, &StoredSession)> = self.sessions.iter().collect();
        sessions.sort_unstable_by_key(|(client_id, _)| *client_id);
        let sessions = sessions
            .into_iter()
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
