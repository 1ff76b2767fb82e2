//! Ending a session: at once for everything a client can see, a bounded slice per loop
//! turn for the router.
//!
//! A session ends when its clean connection closes, when a clean start replaces it, and
//! when it expires offline. Its client id is free at once (the same client may reconnect in
//! the same turn and gets a fresh session), it stops receiving at once, its queues and
//! will are settled at once; but taking its filters out of the router costs a hash lookup
//! and a few frees each, under half a microsecond, and a client may hold hundreds of
//! thousands of them (`max_subscriptions_per_client 0`). Done in one go, 200,000 of them
//! stalled every other client for about 100 ms. So a session with more than
//! `FILTERS_PER_TURN` filters keeps its slot in the session slab, marked as going
//! (`Session::end`), and its filters are taken out of the router a slice per turn, at the
//! end of the turn (`Broker::flush`), the event loop not sleeping while some are left.
//!
//! While it goes, the router may still match its filters: `route` skips a going session,
//! and a shared group that picks a going member drops it from the group there and then
//! and picks again, so no message is delivered to it or queued for it. Its slab key is not
//! reused until the last slice, so no router entry can reach another session.

use std::collections::VecDeque;

use super::Broker;
use crate::protocol::ByteStr;
use crate::router::Target;
use crate::session::{Expiry, IntoFilters, SessionKey};
use crate::shared::GroupKey;

/// Filters taken out of the router per loop turn, at most, for the sessions that are
/// going. Under 2 ms of work at 0.35 to 0.45 µs each (`cargo bench --bench churn -- hoard`:
/// 1.8 ms for the slowest turn), in line with the 4,096 packets one connection may have
/// handled in a turn (`PACKETS_PER_TURN`), so a bystander's reply waits no longer behind a
/// going session than behind a busy client; and 200,000 filters are gone in 49 turns, a
/// fraction of a second. A session with no more than this many is torn down at once, as
/// before.
pub const FILTERS_PER_TURN: usize = 4096;

/// One going session and the filters it still has in the router.
struct Going {
    key: SessionKey,
    filters: IntoFilters,
}

/// The sessions that are going, oldest first, and what each still has in the router.
#[derive(Default)]
pub(super) struct GoingSessions {
    queue: VecDeque<Going>,
}

impl GoingSessions {
    /// Adds a session whose filters are to be taken out of the router.
    fn push(&mut self, key: SessionKey, filters: IntoFilters) {
        debug_assert!(self.queue.iter().all(|g| g.key != key), "goes once");
        self.queue.push_back(Going { key, filters });
    }

    /// Moves at most `max` filters of the oldest going session into `out`; returns that
    /// session's key, and whether they are its last (it is then off the list, and its
    /// slot may be freed). `None` when no session is going.
    fn next_slice(&mut self, max: usize, out: &mut Vec<ByteStr>) -> Option<(SessionKey, bool)> {
        let going = self.queue.front_mut()?;
        out.extend(going.filters.by_ref().take(max));
        let key = going.key;
        let last = going.filters.len() == 0;
        if last {
            self.queue.pop_front();
        }
        Some((key, last))
    }

    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

impl Broker {
    /// Ends a session (see the module's comment); its filters leave the router now, or a
    /// slice per turn if it has more than `FILTERS_PER_TURN`. A will still waiting for its
    /// delay goes out now: the session's end is the latest a will may wait [MQTT-3.1.3-9].
    /// It goes out while the session still exists, to be checked against its client's ACL,
    /// but after the session has stopped receiving, so its own no-local subscriptions have
    /// nothing to spare (nor do the others).
    pub(super) fn remove_session(&mut self, key: SessionKey) {
        self.forget_presence(key);
        if self.sessions[key].expiry != Expiry::AtDisconnect {
            self.record_session_gone(key);
        }
        let session = &mut self.sessions[key];
        let persistent = session.expiry != Expiry::AtDisconnect;
        // Its end is on disk already: the will's going need not be.
        let delayed = session.take_delayed_will(None);
        let subscriptions = session.end();
        self.session_ids.remove(session.client_id.as_str());
        self.persistent_sessions -= usize::from(persistent);
        if let Some(will) = delayed {
            self.publish_will(will, Some(key));
        }
        self.sessions[key].auth = None;
        let mut filters = subscriptions.into_filters();
        if filters.len() > FILTERS_PER_TURN {
            return self.going.push(key, filters);
        }
        for filter in filters.by_ref() {
            self.drop_route(key, &filter);
        }
        self.sessions.remove(key.0);
    }

    /// One turn's slice of the going sessions' filters, `FILTERS_PER_TURN` at most; a
    /// session whose last filters these are is gone with them. Called at the end of the
    /// turn, in `flush`.
    pub(super) fn run_teardown(&mut self) {
        let mut budget = FILTERS_PER_TURN;
        let mut filters = Vec::new();
        while budget > 0
            && let Some((key, last)) = self.going.next_slice(budget, &mut filters)
        {
            budget -= filters.len();
            for filter in filters.drain(..) {
                self.drop_route(key, &filter);
            }
            if last {
                debug_assert!(self.sessions[key].is_going());
                self.sessions.remove(key.0);
            }
        }
    }

    /// Whether sessions are still being taken out of the router, or their shared groups
    /// told that their client came or went (`presence.rs`), so the event loop should go on
    /// without waiting for events.
    pub fn teardown_pending(&self) -> bool {
        !self.going.is_empty() || self.presence_pending()
    }

    /// A shared group picked a going member: it leaves the group now (the group leaves the
    /// router if that was its last member), so that the pick can go to someone else. Its
    /// slice would have done the same later, and finds nothing to do then.
    pub(super) fn drop_going_member(&mut self, group: GroupKey, key: SessionKey) {
        debug_assert!(self.sessions[key].is_going());
        let Some(g) = self.shared.get(group) else {
            return;
        };
        let (name, filter) = (g.name.clone(), g.filter.clone());
        if self.shared.leave(&name, &filter, key).is_some() && !filter.is_empty() {
            self.router.unsubscribe(&filter, Target::Group(group));
        }
    }
}
