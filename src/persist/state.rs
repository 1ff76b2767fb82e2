//! The durable state as the files describe it: what recovery hands the broker, and what a
//! snapshot writes out. Built by applying records in order; each op says what the state
//! is after it, so that applying the same journal twice changes nothing.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::record::{Op, Retained};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Retained messages by topic.
    pub retained: BTreeMap<Bytes, Retained>,
    /// Sessions that outlive their connection, by client id.
    pub sessions: BTreeMap<Bytes, StoredSession>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct StoredSession {
    pub version: u8,
    pub expiry: u32,
    pub packet_ids: u64,
    /// Subscription options byte and identifier, by filter.
    pub subscriptions: BTreeMap<Bytes, (u8, u32)>,
}

impl State {
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Header { .. } => {}
            Op::Retain(r) => {
                self.retained.insert(r.topic.clone(), r);
            }
            Op::Unretain { topic } => {
                self.retained.remove(&topic);
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
                if let Some(session) = self.sessions.get_mut(&client_id) {
                    session.subscriptions.insert(filter, (options, id));
                }
            }
            Op::Unsubscribe { client_id, filter } => {
                if let Some(session) = self.sessions.get_mut(&client_id) {
                    session.subscriptions.remove(&filter);
                }
            }
        }
    }

    /// The ops that rebuild this state from nothing, for a snapshot.
    pub fn ops(&self) -> impl Iterator<Item = Op> + '_ {
        let retained = self.retained.values().cloned().map(Op::Retain);
        let sessions = self.sessions.iter().flat_map(|(client_id, s)| {
            let session = Op::Session {
                client_id: client_id.clone(),
                version: s.version,
                expiry: s.expiry,
                packet_ids: s.packet_ids,
            };
            let subscriptions =
                s.subscriptions
                    .iter()
                    .map(|(filter, &(options, id))| Op::Subscribe {
                        client_id: client_id.clone(),
                        filter: filter.clone(),
                        options,
                        id,
                    });
            std::iter::once(session).chain(subscriptions)
        });
        retained.chain(sessions)
    }

    pub fn is_empty(&self) -> bool {
        self.retained.is_empty() && self.sessions.is_empty()
    }
}
