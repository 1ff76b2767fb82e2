//! What the broker keeps on disk, and the output that waits for it (`persist/`).
//!
//! Each change to durable state is recorded as it is made, by the one method that makes
//! it: the retained store's (`set_retained`, here), sessions that outlive their connection
//! (`insert_session`, `set_expiry` and `remove_session` call `record_session`) and their
//! subscriptions (`add_subscription` and `unsubscribe` call `record_subscription`). Queued
//! and in-flight messages are not kept yet.
//!
//! A connection sent an acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) while
//! records are not yet as durable as `persistence_sync` asks is held: none of its output
//! is written until the writer has caught up with the records made before the
//! acknowledgement. Holding the whole output, not just the acknowledgement, keeps it in
//! the order it was queued, as without persistence; it waits one write, and only while
//! records are in flight.
//!
//! A disk slower than the traffic stops input: past `BACKLOG_MAX` bytes handed to the
//! writer and not written, no connection is read until the writer has caught up half way.

use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mio::Token;

use super::Broker;
use crate::message::Message;
use crate::persist::{self, Journal, Op, Options, Retained, StoredSession};
use crate::protocol::{ByteStr, Packet, QoS, SubOptions, Version};
use crate::retain::Stored;
use crate::session::{Expiry, Session, SessionKey, Subscription};
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
        let unix_now = unix_seconds(SystemTime::now());
        let (mut kept, mut expired) = (0usize, 0usize);
        for r in recovered.state.retained.into_values() {
            match message_of(r, self.now, unix_now) {
                Some(message) => {
                    kept += usize::from(self.retained.set(&Rc::new(message)) == Stored::Kept)
                }
                None => expired += 1,
            }
        }
        let (mut sessions, mut subscriptions) = (0usize, 0usize);
        for (client_id, stored) in recovered.state.sessions {
            if let Some(n) = self.restore_session(&client_id, stored) {
                sessions += 1;
                subscriptions += n;
            }
        }
        log_notice!(
            "Restored {sessions} sessions with {subscriptions} subscriptions and {kept} retained messages ({expired} expired) from {} file(s), {} records, in {} ms, from {}.",
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
        Ok(())
    }

    /// A stored session, offline, with its subscriptions and its expiry running from now
    /// (the time its client went is not kept). Returns its subscriptions' count; `None`
    /// for one that does not decode, which only a damaged file holds.
    fn restore_session(&mut self, client_id: &[u8], stored: StoredSession) -> Option<usize> {
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
        for (filter, (options, id)) in stored.subscriptions {
            let filter = ByteStr::from_utf8(Bytes::copy_from_slice(&filter)).ok();
            if let (Some(filter), Some(options)) = (filter, SubOptions::from_byte(options)) {
                self.add_subscription(key, filter, Subscription { options, id });
                restored += 1;
            }
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
                    .record(&Op::Retain(retained_of(message, self.now))),
                Stored::Deleted | Stored::OverBytes => {
                    durable.journal.record(&Op::Unretain { topic: topic() })
                }
                Stored::OverCount => {}
            }
        }
        stored
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

    /// Writes what is left, saves a snapshot, and stops writing. For shut-down.
    pub fn close_persistence(&mut self) {
        if let Some(mut durable) = self.durable.take() {
            durable.journal.close();
        }
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A retained message as stored: its expiry as a time of day, since the clock the broker
/// keeps it by does not survive a restart.
fn retained_of(message: &Message, now: Instant) -> Retained {
    let expires_at = message.expires_at.map_or(0, |at| {
        unix_seconds(SystemTime::now() + at.saturating_duration_since(now)).max(1)
    });
    Retained {
        topic: message.topic.as_bytes().clone(),
        qos: message.qos as u8,
        utf8_payload: message.utf8_payload,
        expires_at,
        properties: message.properties.clone(),
        payload: message.payload.clone(),
    }
}

/// The message a stored retained message is, unless it has expired or is not one (a
/// topic that is not UTF-8 could only come from a damaged file).
fn message_of(r: Retained, now: Instant, unix_now: u64) -> Option<Message> {
    let expires_at = match r.expires_at {
        0 => None,
        at if at <= unix_now => return None,
        at => Some(now + std::time::Duration::from_secs(at - unix_now)),
    };
    Some(Message {
        topic: ByteStr::from_utf8(Bytes::copy_from_slice(&r.topic)).ok()?,
        payload: Bytes::copy_from_slice(&r.payload),
        qos: QoS::from_u8(r.qos)?,
        retain: true,
        properties: Bytes::copy_from_slice(&r.properties),
        expires_at,
        utf8_payload: r.utf8_payload,
    })
}
