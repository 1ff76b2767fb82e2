//! What the broker keeps on disk, and the acknowledgements that wait for it (`persist/`).
//!
//! Durable state changes here only, each change recorded as it is made: today the retained
//! store (`set_retained`). An acknowledgement of a PUBLISH (PUBACK, PUBREC, PUBCOMP) made
//! while records are not yet as durable as `persistence_sync` asks is held, in order, and
//! released by the flush once the writer has caught up with the records made before it.
//! Holding every acknowledgement behind the journal rather than only those with records of
//! their own keeps them in the order their PUBLISHes came [MQTT-4.6.0-2] at the cost of
//! a wait of one write for the rest, and only while records are in flight.
//!
//! A disk slower than the traffic stops input: past `BACKLOG_MAX` bytes handed to the
//! writer and not written, no connection is read until the writer has caught up half way.

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mio::Token;

use super::Broker;
use crate::message::Message;
use crate::persist::{self, Journal, Op, Options, Retained};
use crate::protocol::{ByteStr, Packet, QoS};
use crate::retain::Stored;
use crate::{log_notice, log_warning};

/// The broker's end of persistence.
pub(super) struct Durable {
    journal: Journal,
    /// Acknowledgements waiting for the records made before them, oldest first.
    held: VecDeque<Held>,
    /// Connections not read because the writer is behind (`BACKLOG_MAX`).
    starved: Vec<Token>,
}

struct Held {
    token: Token,
    serial: u64,
    /// Journal position the acknowledgement waits for.
    position: u64,
    packet: Packet,
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
        log_notice!(
            "Restored {kept} retained messages ({expired} expired) from {} file(s), {} records, in {} ms, from {}.",
            recovered.files,
            recovered.records,
            started.elapsed().as_millis(),
            dir.display()
        );
        self.durable = Some(Box::new(Durable {
            journal,
            held: VecDeque::new(),
            starved: Vec::new(),
        }));
        Ok(())
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

    /// Queues an acknowledgement of a PUBLISH: now, or once the records made so far are
    /// durable.
    pub(super) fn send_ack(&mut self, token: Token, packet: Packet) {
        if let Some(durable) = self.durable.as_deref_mut() {
            let position = durable.journal.end();
            if !durable.held.is_empty() || !durable.journal.is_durable(position) {
                let serial = self.conns[token.0].serial();
                durable.held.push_back(Held {
                    token,
                    serial,
                    position,
                    packet,
                });
                return;
            }
        }
        self.send(token, &packet);
    }

    /// Queues the acknowledgements whose records are durable now. Runs before the flush.
    pub(super) fn release_acks(&mut self) {
        let Some(durable) = self.durable.as_deref_mut() else {
            return;
        };
        let mut released = Vec::new();
        while let Some(held) = durable.held.front() {
            if !durable.journal.is_durable(held.position) {
                break;
            }
            released.extend(durable.held.pop_front());
        }
        let starved = if durable.journal.backlog() <= persist::BACKLOG_MAX / 2 {
            std::mem::take(&mut durable.starved)
        } else {
            // Not yet: the writer wakes the loop again after its next write.
            let _ = durable.journal.is_durable(u64::MAX);
            Vec::new()
        };
        for held in released {
            // The connection may have gone, and its token to a new one, meanwhile.
            if self
                .conns
                .get(held.token.0)
                .is_some_and(|c| c.serial() == held.serial && !c.is_closing())
            {
                self.send(held.token, &held.packet);
            }
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
        // Asks the writer to wake the loop when it has written more.
        let _ = durable.journal.is_durable(u64::MAX);
        durable.starved.push(token);
        true
    }

    /// Whether acknowledgements wait for the writer: the loop sleeps until it wakes it.
    pub fn acks_held(&self) -> usize {
        self.durable.as_deref().map_or(0, |d| d.held.len())
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
