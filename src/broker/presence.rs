//! Telling a session's shared groups that its client came or went, a slice per loop turn.
//!
//! A group keeps its online members apart, so that a pick prefers them without looking at
//! the others; each group a session belongs to is told when its client connects and when
//! it leaves. That is about a microsecond per group (a lookup by name and filter, then the
//! move), and a client may hold thousands of shared subscriptions: 10,000 made every
//! CONNECT and every close stall the loop for 22 ms. So a session with more than
//! `GROUPS_PER_TURN` has the rest done at the end of the following turns (`Broker::flush`),
//! the event loop not sleeping meanwhile.
//!
//! Until its last slice some groups have the member on the wrong side, which changes who
//! is picked and nothing else: a message picked for a member thought offline that is in
//! fact online is sent at once, like any delivery to a connected session; one picked for a
//! member thought online whose client has gone waits in its session's queue, as it would
//! for any offline member. A later change for the same session replaces the one in
//! progress, and covers every group again.

use std::collections::VecDeque;

use super::Broker;
use crate::protocol::ByteStr;
use crate::session::SessionKey;
use crate::shared;

/// Groups told per loop turn, at most: about a millisecond.
pub const GROUPS_PER_TURN: usize = 1024;

/// One session whose groups are still being told.
struct Move {
    key: SessionKey,
    online: bool,
    /// Its shared filters, and how many have been done.
    filters: Vec<ByteStr>,
    done: usize,
}

#[derive(Default)]
pub(super) struct Moves {
    queue: VecDeque<Move>,
}

impl Broker {
    /// Tells the shared groups a session belongs to that its client has come or gone: at
    /// once, or `GROUPS_PER_TURN` at the end of this turn and each next one.
    pub(super) fn set_shared_online(&mut self, key: SessionKey, online: bool) {
        self.forget_presence(key);
        let subscriptions = &self.sessions[key].subscriptions;
        if subscriptions.shared_len() <= GROUPS_PER_TURN {
            let filters = subscriptions.iter_shared();
            for (name, filter) in filters.filter_map(|f| shared::split(f)) {
                self.shared.set_online(name, filter, key, online);
            }
            return;
        }
        let filters = subscriptions.iter_shared().cloned().collect();
        self.presence.queue.push_back(Move {
            key,
            online,
            filters,
            done: 0,
        });
    }

    /// Drops what is left to tell of a session: it came or went again, or it is gone.
    pub(super) fn forget_presence(&mut self, key: SessionKey) {
        if !self.presence.queue.is_empty() {
            self.presence.queue.retain(|m| m.key != key);
        }
    }

    /// One turn's slice of the groups still to be told. Called at the end of the turn.
    pub(super) fn run_presence(&mut self) {
        let mut budget = GROUPS_PER_TURN;
        while budget > 0
            && let Some(next) = self.presence.queue.front_mut()
        {
            let end = next.filters.len().min(next.done + budget);
            for filter in &next.filters[next.done..end] {
                if let Some((name, filter)) = shared::split(filter) {
                    self.shared.set_online(name, filter, next.key, next.online);
                }
            }
            budget -= end - next.done;
            next.done = end;
            if next.done == next.filters.len() {
                self.presence.queue.pop_front();
            }
        }
    }

    /// Whether groups are still to be told, so the event loop should go on without waiting.
    pub(super) fn presence_pending(&self) -> bool {
        !self.presence.queue.is_empty()
    }
}
