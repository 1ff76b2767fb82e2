//! What the broker keeps on disk, and the output that waits for it (`persist/`).
//!
//! Each change to durable state is recorded as it is made, by the one method that makes
//! it: the retained store's (`set_retained`, here), sessions that outlive their connection
//! (`insert_session`, `set_expiry` and `remove_session` call `record_session`), their
//! subscriptions (`add_subscription` and `unsubscribe` call `record_subscription`), and
//! the QoS 1/2 messages they hold, queued, in flight or received, which only `Session`'s
//! own methods change and record (handed the journal by `journal`).
//!
//! A connection sent an acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) while
//! records are not yet as durable as `persistence_sync` asks is held: none of its output
//! is written until the writer has caught up with the records made before the
//! acknowledgement. Holding the whole output, not just the acknowledgement, keeps it in
//! the order it was queued, as without persistence; it waits one write, and only while
//! records are in flight.
//!
//! A connection closed while its output is held lingers until the output is released, or
//! drops it if it cannot linger (`close.rs`).
//!
//! A disk slower than the traffic stops input: past `BACKLOG_MAX` bytes handed to the
//! writer and not written, no connection is read until the writer has caught up half way.

use std::collections::HashMap;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use mio::Token;

use super::Broker;
use crate::message::{Delivery, Message};
use crate::persist::{self, Journal, Op, Options, StoredSession, message_of};
use crate::protocol::{ByteStr, Packet, QoS, SubOptions, Version};
use crate::retain::Stored;
use crate::session::{Expiry, Rec, Session, SessionKey, Subscription};
use crate::{log_notice, log_warning};

/// The broker's end of persistence.
pub(super) struct Durable {
    journal: Journal,
    /// Connections whose output waits for the journal (`Connection::held_until`).
    held: Vec<(Token, u64)>,
    /// Connections not read because the writer is behind (`BACKLOG_MAX`).
    starved: Vec<Token>,
}

impl Broker {
    /// Recovers the durable state from `persistence_location` and starts writing there.
    /// Nothing happens with `persistence false`.
    pub fn open_persistence(&mut self, waker: Arc<mio::Waker>) -> io::Result<()> {
        if !self.config.persistence {
            return Ok(());
        }
        let options = Options {
            dir: self
                .config
                .persistence_location
                .clone()
                .unwrap_or_else(|| ".".into()),
            stem: self.config.persistence_file.clone(),
            sync: self.config.persistence_sync,
            autosave_interval: self.config.autosave_interval,
            autosave_on_changes: self.config.autosave_on_changes,
        };
        let started = Instant::now();
        let dir = options.dir.clone();
        let (journal, recovered) = Journal::open(options, waker)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        let unix_now = persist::unix_seconds(SystemTime::now());
        let (mut kept, mut expired) = (0usize, 0usize);
        for r in recovered.state.retained.values() {
            let Some(message) = message_of(r, 0, self.now, unix_now) else {
                expired += 1;
                continue;
            };
            let message = Rc::new(message);
            if self.retained.set(&message) != Stored::Kept {
                continue;
            }
            kept += 1;
            if let Some(source) = recovered.state.retain_sources.get(&r.topic) {
                self.restore_retain_source(&message, source);
            }
        }
        let mut restoring = Restoring {
            stored: &recovered.state.messages,
            messages: HashMap::new(),
            now: self.now,
            unix_now,
        };
        let (mut sessions, mut subscriptions) = (0usize, 0usize);
        // In the order of their client ids, so that every start restores them the same way.
        let mut stored_sessions: Vec<_> = recovered.state.sessions.iter().collect();
        stored_sessions.sort_unstable_by_key(|(client_id, _)| *client_id);
        for (client_id, stored) in stored_sessions {
            if let Some(n) = self.restore_session(client_id, stored, &mut restoring) {
                sessions += 1;
                subscriptions += n;
            }
        }
        let held = restoring.messages.len();
        let wills = self
            .sessions
            .iter()
            .filter(|(_, s)| s.will_due().is_some())
            .count();
        log_notice!(
            "Restored {sessions} sessions with {subscriptions} subscriptions, {held} held messages and {wills} delayed wills, {kept} retained messages ({expired} expired), from {} file(s), {} records, in {} ms, from {}.",
            recovered.files,
            recovered.records,
            started.elapsed().as_millis(),
            dir.display()
        );
        self.durable = Some(Box::new(Durable {
            journal,
            held: Vec::new(),
            starved: Vec::new(),
        }));
        // What recovery read is gone: with a million messages restored, a hundred MiB.
        drop(restoring);
        drop(recovered);
        crate::memory::return_free_memory();
        Ok(())
    }

    /// The publisher of a retained message read back, for `check_retain_source`.
    fn restore_retain_source(&mut self, message: &Rc<Message>, source: &persist::RetainSource) {
        let Ok(client_id) = ByteStr::from_utf8(source.client_id.clone()) else {
            return;
        };
        let username = match source.username.as_deref().map(std::str::from_utf8) {
            Some(Ok(u)) => Some(Box::from(u)),
            Some(Err(_)) => return, // only a damaged file holds such a one
            None => None,
        };
        self.auth
            .restore_retain_source(message, client_id, username, source.port);
    }

    /// A stored session, offline, with its subscriptions, its messages and its expiry
    /// running from now (the time its client went is not kept). Returns its subscriptions'
    /// count; `None` for one that does not decode, which only a damaged file holds.
    fn restore_session(
        &mut self,
        client_id: &[u8],
        stored: &StoredSession,
        restoring: &mut Restoring,
    ) -> Option<usize> {
        let client_id = ByteStr::from_utf8(Bytes::copy_from_slice(client_id)).ok()?;
        let version = match stored.version {
            3 => Version::V31,
            4 => Version::V311,
            5 => Version::V5,
            _ => return None,
        };
        let expiry = match stored.expiry {
            0 => return None,
            seconds => Expiry::from_interval(seconds),
        };
        if self.session_ids.contains_key(client_id.as_str()) {
            return None;
        }
        let key = self.insert_session(Session::new(client_id, version, expiry));
        self.sessions[key].skip_packet_ids(stored.packet_ids);
        let mut restored = 0;
        for (filter, &(options, id)) in &stored.subscriptions {
            let filter = ByteStr::from_utf8(Bytes::copy_from_slice(filter)).ok();
            if let (Some(filter), Some(options)) = (filter, SubOptions::from_byte(options)) {
                self.add_subscription(key, filter, Subscription { options, id });
                restored += 1;
            }
        }
        let session = &mut self.sessions[key];
        for (&seq, d) in &stored.deliveries {
            let (Some(message), Some(qos)) = (restoring.message(d.message), QoS::from_u8(d.qos))
            else {
                continue; // expired, or damaged
            };
            let mut delivery = Delivery::new(message, qos, d.retain);
            delivery.subscription_ids = d.subscription_ids.clone();
            delivery.packet_seq = seq;
            session.restore_delivery(delivery, d.released);
        }
        for (&packet_id, &id) in &stored.incoming {
            if let Some(message) = restoring.message(id) {
                session.hold_incoming(packet_id, message, None);
            }
        }
        if let Some(Op::Will {
            at,
            topic,
            qos,
            retain,
            properties,
            payload,
            ..
        }) = &stored.will
            && let Some(will) = restored_will(topic, payload, *qos, *retain, properties)
        {
            // Due by the time of day it was due: at once if that has passed.
            let wait = std::time::Duration::from_secs(at.saturating_sub(restoring.unix_now));
            let at = restoring.now.checked_add(wait).unwrap_or(restoring.now);
            session.delay_will(at, will, None);
        }
        self.session_offline(key);
        Some(restored)
    }

    /// Records a session that outlives its connection as it is now: created, resumed by a
    /// client of another protocol version, given another expiry, or left by its client
    /// (which is when its count of packet identifiers is kept). One whose expiry has
    /// become "at disconnect" is gone as far as the disk goes.
    pub(super) fn record_session(&mut self, key: SessionKey) {
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        let session = &self.sessions[key];
        let client_id = session.client_id.as_bytes().clone();
        let expiry = match session.expiry {
            Expiry::AtDisconnect => return durable.journal.record(&Op::SessionGone { client_id }),
            Expiry::After(seconds) => seconds,
            Expiry::Never => u32::MAX,
        };
        durable.journal.record(&Op::Session {
            client_id,
            version: session.version as u8,
            expiry,
            packet_ids: session.packet_ids_issued(),
        });
    }

    /// Records the end of a session that outlived its connections.
    pub(super) fn record_session_gone(&mut self, key: SessionKey) {
        if let Some(durable) = self.durable.as_deref_mut() {
            let client_id = self.sessions[key].client_id.as_bytes().clone();
            durable.journal.record(&Op::SessionGone { client_id });
        }
    }

    /// Records a subscription of a session that outlives its connection: added or
    /// replaced, or (`None`) removed.
    pub(super) fn record_subscription(
        &mut self,
        key: SessionKey,
        filter: &str,
        subscription: Option<Subscription>,
    ) {
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        let session = &self.sessions[key];
        if session.expiry == Expiry::AtDisconnect {
            return;
        }
        let client_id = session.client_id.as_bytes().clone();
        let filter = Bytes::copy_from_slice(filter.as_bytes());
        durable.journal.record(&match subscription {
            Some(Subscription { options, id }) => Op::Subscribe {
                client_id,
                filter,
                options: options.to_byte(),
                id,
            },
            None => Op::Unsubscribe { client_id, filter },
        });
    }

    /// Stores a retained message (an empty payload deletes the topic's) and records the
    /// change.
    pub(super) fn set_retained(&mut self, message: &Rc<Message>) -> Stored {
        let stored = self.retained.set(message);
        if let Some(durable) = self.durable.as_deref_mut() {
            let topic = || message.topic.as_bytes().clone();
            match stored {
                Stored::Kept => durable
                    .journal
                    .record(&Op::Retain(persist::stored_message(message, self.now))),
                Stored::Deleted | Stored::OverBytes => {
                    durable.journal.record(&Op::Unretain { topic: topic() })
                }
                Stored::OverCount => {}
            }
        }
        stored
    }

    /// Records who published a retained message just stored, when `check_retain_source`
    /// keeps its publisher.
    pub(super) fn record_retain_source(&mut self, message: &Rc<Message>) {
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        if let Some((client_id, username, port)) = self.auth.retain_source_of(message) {
            durable.journal.record(&Op::RetainSource {
                topic: message.topic.as_bytes().clone(),
                client_id: client_id.as_bytes().clone(),
                username: username.map(|u| Bytes::copy_from_slice(u.as_bytes())),
                port,
            });
        }
    }

    /// Queues an acknowledgement; the connection's output then waits until the records
    /// made so far are durable.
    pub(super) fn send_ack(&mut self, token: Token, packet: &Packet) {
        self.send(token, packet);
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        let batch = durable.journal.end();
        if durable.journal.is_durable(batch) {
            return;
        }
        let conn = &mut self.conns[token.0];
        if conn.held_until == 0 {
            durable.held.push((token, conn.serial()));
        }
        conn.held_until = batch;
    }

    /// Lets go of the connections whose records are durable now, and reads again those
    /// the writer's backlog stopped. Runs before the flush's writes.
    pub(super) fn release_held(&mut self) {
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        let (conns, journal) = (&mut self.conns, &durable.journal);
        let mut released = Vec::new();
        durable.held.retain(|&(token, serial)| {
            let Some(conn) = conns.get_mut(token.0).filter(|c| c.serial() == serial) else {
                return false; // gone, and its token perhaps taken by a new connection
            };
            if !journal.is_durable(conn.held_until) {
                return true;
            }
            conn.held_until = 0;
            released.push(token);
            false
        });
        let starved = if durable.journal.backlog() <= persist::BACKLOG_MAX / 2 {
            if !durable.starved.is_empty() {
                log_notice!("Persistence has caught up; input resumed.");
            }
            std::mem::take(&mut durable.starved)
        } else {
            // Not yet: the writer wakes the loop again after its next write.
            durable.journal.want_wake();
            Vec::new()
        };
        for token in released {
            self.mark_flush(token);
        }
        for token in starved {
            self.mark_read(token);
        }
    }

    /// Hands the turn's records to the writer. Runs after the flush.
    pub(super) fn hand_off_journal(&mut self) {
        if let Some(durable) = self.durable.as_deref_mut() {
            durable.journal.hand_off();
        }
    }

    /// Whether the writer is so far behind that `token` must not be read; it is read
    /// again once the writer catches up.
    #[inline]
    pub(super) fn journal_full(&mut self, token: Token) -> bool {
        // Checked before every packet: without persistence, a test and no call.
        self.durable.is_some() && self.journal_behind(token)
    }

    fn journal_behind(&mut self, token: Token) -> bool {
        let Some(durable) = self.durable.as_deref_mut() else {
            return false;
        };
        if durable.journal.backlog() <= persist::BACKLOG_MAX {
            return false;
        }
        if durable.starved.is_empty() {
            log_warning!(
                "Warning: Persistence is behind the traffic; input paused until the disk catches up."
            );
        }
        // The writer wakes the loop when it has written more.
        durable.journal.want_wake();
        durable.starved.push(token);
        true
    }

    /// Keeps the journal's clock with the broker's.
    pub(super) fn journal_now(&mut self) {
        if let Some(durable) = self.durable.as_deref_mut() {
            durable.journal.set_now(self.now);
        }
    }

    /// Writes what is left, saves a snapshot, and stops writing. For shut-down.
    pub fn close_persistence(&mut self) {
        if let Some(mut durable) = self.durable.take() {
            durable.journal.close();
        }
    }
}

/// A will as stored, unless it does not decode (only a damaged file holds such a one).
fn restored_will(
    topic: &Bytes,
    payload: &Bytes,
    qos: u8,
    retain: bool,
    properties: &Bytes,
) -> Option<crate::protocol::Will> {
    let topic = ByteStr::from_utf8(Bytes::copy_from_slice(topic)).ok()?;
    let payload = Bytes::copy_from_slice(payload);
    let properties = Bytes::copy_from_slice(properties);
    crate::protocol::Will::restored(topic, payload, QoS::from_u8(qos)?, retain, properties)
}

/// The journal, for a `Session` method to record what it changes; `None` without
/// persistence. A function of the field, so that a session can be borrowed beside it.
pub(super) fn journal(durable: &mut Option<Box<Durable>>) -> Rec<'_> {
    durable.as_deref_mut().map(|d| &mut d.journal)
}

/// The messages recovery hands the sessions: one `Rc` for each, however many hold it.
struct Restoring<'a> {
    stored: &'a persist::state::Messages,
    messages: HashMap<u64, Rc<Message>>,
    now: Instant,
    unix_now: u64,
}

impl Restoring<'_> {
    /// Stored message `id`, unless it has expired or the files do not have it.
    fn message(&mut self, id: u64) -> Option<Rc<Message>> {
        if let Some(message) = self.messages.get(&id) {
            return Some(Rc::clone(message));
        }
        let message = message_of(self.stored.get(id)?, id, self.now, self.unix_now)?;
        let message = Rc::new(message);
        self.messages.insert(id, Rc::clone(&message));
        Some(message)
    }
}
