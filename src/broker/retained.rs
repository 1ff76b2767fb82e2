//! Sending a new subscription's retained messages as they are found, a bounded batch per
//! loop turn, and only while the client's output is under its bound (see
//! `retain/cursor.rs`). The first batch goes out with the SUBACK; the rest at the end of
//! later turns (`Broker::flush`), and the event loop does not sleep while a cursor has
//! room to go on.

use std::rc::Rc;

use super::{Broker, DropReason};
use crate::log_warning;
use crate::message::{Delivery, Message};
use crate::protocol::{ByteStr, QoS};
use crate::retain::{Budget, Position, RetainedCursor, Stored};
use crate::session::{SessionKey, Subscription};

/// Retained messages one client is sent per loop turn at most, and trie nodes visited
/// looking for them: one turn's work for one client stays bounded whatever the store holds.
const MESSAGES_PER_TURN: usize = 256;
const VISITS_PER_TURN: usize = 4096;

/// Retained messages refused by the store's bounds per log line about them.
const REFUSALS_PER_LOG_LINE: u64 = 1000;

impl Broker {
    /// Makes `filter`'s retained messages due to the session (after its SUBACK is queued).
    pub(super) fn queue_retained(&mut self, key: SessionKey, filter: ByteStr) {
        let session = &mut self.sessions[key];
        let cursor = session.retained.get_or_insert_with(Box::default);
        cursor.add(filter);
        if !self.retained_pending.contains(&key) {
            self.retained_pending.push(key);
        }
    }

    /// A message for a session whose retained messages are still under way waits behind
    /// them (within the session queue's bounds: beyond, it is dropped and counted). Shared
    /// subscriptions' messages are not held: they have no retained messages to follow.
    pub(super) fn hold_behind_retained(
        &mut self,
        key: SessionKey,
        mut delivery: Delivery,
    ) -> Option<Delivery> {
        let session = &mut self.sessions[key];
        let Some(cursor) = session.retained.as_deref_mut() else {
            return Some(delivery);
        };
        if delivery.group.is_some() {
            return Some(delivery);
        }
        let (count, bytes) = cursor.held();
        let full = if count + session.queued().len() >= self.limits.queued_max {
            Some(DropReason::QueueFull)
        } else if bytes + session.queued_bytes() + delivery.size() > self.limits.queued_bytes_max {
            Some(DropReason::QueueBytes)
        } else {
            None
        };
        if let Some(reason) = full {
            self.count_dropped(key, reason, 1);
            return None;
        }
        // A QoS 0 message is a slice of its publisher's read buffer, which a held one
        // would keep alive.
        if delivery.qos == QoS::AtMostOnce {
            delivery.message = self.publish_cache.detach(&delivery.message);
        }
        if let Some(cursor) = self.sessions[key].retained.as_deref_mut() {
            cursor.hold(delivery);
        }
        None
    }

    /// Goes on with every cursor that has room; called at the start of each flush.
    pub(super) fn run_retained(&mut self) {
        if self.retained_pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.retained_pending);
        pending.retain(|&key| {
            if self.cursor_may_run(key) {
                self.run_cursor(key);
            }
            self.sessions
                .get(key.0)
                .is_some_and(|s| s.retained.is_some())
        });
        pending.append(&mut self.retained_pending);
        self.retained_pending = pending;
    }

    /// Whether a cursor could go on now, so the event loop should not wait for events.
    pub fn retained_ready(&self) -> bool {
        self.retained_pending
            .iter()
            .any(|&key| self.cursor_may_run(key))
    }

    /// A cursor goes on while its client is online, its send queue under its bound and
    /// nothing waits in its session queue (a full in-flight window holds it until acks come).
    fn cursor_may_run(&self, key: SessionKey) -> bool {
        let Some(session) = self.sessions.get(key.0) else {
            return false;
        };
        session.retained.is_some()
            && session.queued().is_empty()
            && session.conn.is_some_and(|token| {
                self.conns
                    .get(token.0)
                    .is_some_and(|c| !c.is_closing() && self.has_room(c))
            })
    }

    fn has_room(&self, conn: &crate::connection::Connection) -> bool {
        conn.send.len() < self.limits.send_queue_bytes_max
    }

    /// One turn's batch of a session's retained messages.
    pub(super) fn run_cursor(&mut self, key: SessionKey) {
        let mut budget = Budget {
            visits: VISITS_PER_TURN,
            found: MESSAGES_PER_TURN,
        };
        let mut found = Vec::new();
        loop {
            let Some(cursor) = self.sessions[key].retained.as_deref_mut() else {
                return;
            };
            let Some((filter, from)) = cursor.current() else {
                return self.finish_retained(key);
            };
            let Some(&subscription) = self.sessions[key].subscriptions.get(&filter) else {
                self.advance_cursor(key, None);
                continue;
            };
            found.clear();
            let next =
                self.retained
                    .walk(&filter, from.as_ref(), self.now, &mut budget, &mut found);
            match self.send_found(key, subscription, &mut found) {
                Some(stopped) => return self.advance_cursor(key, Some(stopped)),
                None => self.advance_cursor(key, next.clone()),
            }
            if next.is_some() {
                return;
            }
        }
    }

    fn advance_cursor(&mut self, key: SessionKey, next: Option<Position>) {
        if let Some(cursor) = self.sessions[key].retained.as_deref_mut() {
            cursor.advance(next);
        }
    }

    /// Sends what a walk found, in order, until the client's output is over its bound;
    /// returns where to resume if it stopped early.
    fn send_found(
        &mut self,
        key: SessionKey,
        subscription: Subscription,
        found: &mut Vec<Rc<Message>>,
    ) -> Option<Position> {
        for message in found.drain(..) {
            if !self.cursor_may_run(key) {
                return Some(Position::at(&message.topic));
            }
            if !self.may_receive_retained(key, &message) {
                continue;
            }
            let qos = subscription.options.qos.min(self.qos_cap(&message));
            let mut delivery = Delivery::new(message, qos, true);
            if subscription.id != 0 {
                delivery.subscription_ids.push(subscription.id);
            }
            self.deliver_now(key, delivery);
        }
        None
    }

    /// A retained message the store's bounds refused: logged for the first refusal and
    /// every thousandth after, so a flood of them cannot flood the log; `RetainStore`
    /// counts them all.
    pub(super) fn log_retained_refused(&self, message: &Message, stored: Stored) {
        let refused = self.retained.refused();
        if refused % REFUSALS_PER_LOG_LINE != 1 {
            return;
        }
        let (key, max) = match stored {
            Stored::OverCount => ("max_retained_messages", self.config.max_retained_messages),
            _ => ("max_retained_bytes", self.config.max_retained_bytes),
        };
        log_warning!(
            "Retained message on '{}' not stored: {key} ({}) reached; {refused} refused so far.",
            message.topic,
            max.unwrap_or(usize::MAX)
        );
    }

    /// Every due retained message is out: what was held behind them follows.
    fn finish_retained(&mut self, key: SessionKey) {
        let Some(cursor) = self.sessions[key].retained.take() else {
            return;
        };
        let cursor: RetainedCursor = *cursor;
        let mut expired = 0;
        for delivery in cursor.into_held() {
            if delivery.message.is_expired(self.now) {
                expired += 1;
            } else {
                self.deliver_now(key, delivery);
            }
        }
        self.count_dropped(key, DropReason::Expired, expired);
    }
}
