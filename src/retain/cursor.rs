//! One session's retained messages still to be sent: the filters whose messages are due,
//! where the walk of the first one stands, and what was published for the session meanwhile.
//!
//! A SUBSCRIBE's retained messages go out a batch per loop turn, and only while the client's
//! output is under its bound, so a subscription to `#` over a large store costs no more
//! memory than the client reads. Messages published for the session while they are under
//! way are held here and sent after them, in order, as mosquitto (which queues the retained
//! messages at once) would send them: a client never gets a topic's retained message after
//! a newer message on that topic. The filters are bounded by the session's subscriptions,
//! the held messages by the session queue's bounds (the broker checks them).

use std::collections::{HashSet, VecDeque};

use super::Position;
use crate::message::Delivery;
use crate::protocol::ByteStr;

#[derive(Debug, Default)]
pub struct RetainedCursor {
    /// Filters in subscription order; the front one is under way at `position`. Entries no
    /// longer in `pending` (unsubscribed) are skipped.
    filters: VecDeque<ByteStr>,
    pending: HashSet<ByteStr>,
    position: Option<Position>,
    held: VecDeque<Delivery>,
    held_bytes: usize,
}

impl RetainedCursor {
    /// Adds a filter whose retained messages are due; one already due is sent once.
    pub fn add(&mut self, filter: ByteStr) {
        if self.pending.insert(filter.clone()) {
            self.filters.push_back(filter);
        }
    }

    /// Forgets an unsubscribed filter.
    pub fn remove(&mut self, filter: &str) {
        if !self.pending.remove(filter) {
            return;
        }
        // Stale entries are skipped when they reach the front; compacting keeps a client
        // that subscribes and unsubscribes in a loop from growing the list.
        if self.filters.len() > 2 * self.pending.len() + 16 {
            let pending = &self.pending;
            self.filters.retain(|f| pending.contains(f.as_str()));
        }
    }

    /// The filter under way and where its walk stands; `None` when all are done.
    pub fn current(&mut self) -> Option<(ByteStr, Option<Position>)> {
        while let Some(front) = self.filters.front() {
            if self.pending.contains(front.as_str()) {
                return Some((front.clone(), self.position.clone()));
            }
            self.filters.pop_front();
            self.position = None;
        }
        None
    }

    /// Records how far the current filter's walk got; `None`: it is done.
    pub fn advance(&mut self, next: Option<Position>) {
        if next.is_none()
            && let Some(done) = self.filters.pop_front()
        {
            self.pending.remove(done.as_str());
        }
        self.position = next;
    }

    /// Holds a message published for the session until the retained ones are out.
    pub fn hold(&mut self, delivery: Delivery) {
        self.held_bytes += delivery.size();
        self.held.push_back(delivery);
    }

    /// Messages held and their bytes, for the session queue's bounds.
    pub fn held(&self) -> (usize, usize) {
        (self.held.len(), self.held_bytes)
    }

    /// The held messages, in the order they were published for the session.
    pub fn into_held(self) -> VecDeque<Delivery> {
        self.held
    }
}
