//! The broker's deadlines: keep-alive, the CONNECT timeout, lingering closes, will delays and
//! session expiry, in a heap keyed by deadline instead of a scan of every connection and
//! session per tick.
//!
//! A connection's keep-alive deadline moves with every packet it sends, and the heap is not
//! touched then: deadlines only move later that way, so the entry in the heap is early at
//! worst. When it comes due, the deadline is worked out again from the connection's state;
//! if it is still ahead the timer is armed again for it, otherwise the time is up. Changes
//! that bring a deadline nearer (CONNECT accepted with a short keep-alive, the start of a
//! lingering close, a will delay, a session going offline) arm the timer for the nearer
//! time. A slab key reused by a new connection or session only means an early look.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use mio::Token;

use super::Broker;
use super::close::Close;
use super::linger::LINGER;
use crate::connection::{Connection, State};
use crate::log_notice;
use crate::session::{Session, SessionKey};

/// What a deadline belongs to: a connection (by slab key, its token) or a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Timer {
    Conn(usize),
    Session(usize),
}

/// Heap entries tolerated beyond the armed timers before stale ones are swept out.
const STALE_MIN: usize = 64;

/// Armed timers, each with one deadline, in a min-heap. Re-arming a timer for an earlier
/// time leaves its old entry behind, stale; stale entries are skipped when they come up and
/// swept out when they outnumber the armed ones, so the heap stays within twice the timers.
#[derive(Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
    /// The deadline of each armed timer: its one live entry in the heap.
    armed: HashMap<Timer, Instant>,
}

impl Deadlines {
    /// Makes `timer` come due at `at` at the latest; one armed for earlier stays as it is.
    pub(super) fn arm(&mut self, timer: Timer, at: Instant) {
        if self.armed.get(&timer).is_some_and(|&armed| armed <= at) {
            return;
        }
        self.armed.insert(timer, at);
        self.heap.push(Reverse((at, timer)));
        if self.heap.len() > 2 * self.armed.len() + STALE_MIN {
            let armed = &self.armed;
            self.heap
                .retain(|Reverse((at, timer))| armed.get(timer) == Some(at));
        }
    }

    /// Takes out the next timer due at `now`, if any.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        while let Some(&Reverse((at, timer))) = self.heap.peek() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if self.armed.get(&timer) == Some(&at) {
                self.armed.remove(&timer);
                return Some(timer);
            }
        }
        None
    }

    /// Gives back room after a storm of connections has gone; true if anything shrank.
    pub(super) fn shrink_if_sparse(&mut self) -> bool {
        let sparse = |len: usize, capacity: usize| capacity > 1024 && len * 4 < capacity;
        if !sparse(self.heap.len(), self.heap.capacity())
            && !sparse(self.armed.len(), self.armed.capacity())
        {
            return false;
        }
        self.heap.shrink_to_fit();
        self.armed.shrink_to_fit();
        true
    }

    /// Heap entries, stale ones included; for tests.
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.heap.len()
    }
}

/// When a connection's time is up, and whether it is then closed for a reason (`Some`) or
/// is a lingering close to end (`None`). `None` overall for a client without keep-alive.
fn conn_deadline(conn: &Connection, connect_timeout: Duration) -> Option<(Instant, Option<Close>)> {
    let (limit, reason) = match conn.state {
        State::AwaitingConnect => (connect_timeout, Some(Close::ConnectTimeout)),
        State::Connected if conn.keep_alive_limit_ms > 0 => (
            Duration::from_millis(u64::from(conn.keep_alive_limit_ms)),
            Some(Close::KeepAliveTimeout),
        ),
        State::Connected => return None,
        State::Closing(_) => (LINGER, None),
    };
    Some((conn.last_packet_at.checked_add(limit)?, reason))
}

/// The next thing due for a session: its delayed will, or its expiry while offline.
fn session_deadline(session: &Session) -> Option<Instant> {
    let will = session.delayed_will.as_ref().map(|w| w.0);
    let expiry = session.expires_at.filter(|_| session.conn.is_none());
    will.into_iter().chain(expiry).min()
}

impl Broker {
    /// Runs every timer due now.
    pub(super) fn run_due_timers(&mut self) {
        while let Some(timer) = self.deadlines.pop_due(self.now) {
            match timer {
                Timer::Conn(key) => self.on_conn_timer(Token(key)),
                Timer::Session(key) => self.on_session_timer(key),
            }
        }
    }

    /// Arms a connection's timer for its current deadline; after accept, CONNECT and the
    /// start of a lingering close, which may bring the deadline nearer.
    pub(super) fn arm_conn_timer(&mut self, token: Token) {
        let Some(conn) = self.conns.get(token.0) else {
            return;
        };
        if let Some((at, _)) = conn_deadline(conn, self.config.connect_timeout) {
            self.deadlines.arm(Timer::Conn(token.0), at);
        }
    }

    /// Arms a session's timer; after a will delay starts or the session goes offline.
    pub(super) fn arm_session_timer(&mut self, key: SessionKey) {
        if let Some(at) = self.sessions.get(key).and_then(session_deadline) {
            self.deadlines.arm(Timer::Session(key), at);
        }
    }

    fn on_conn_timer(&mut self, token: Token) {
        let Some(conn) = self.conns.get(token.0) else {
            return;
        };
        let Some((at, reason)) = conn_deadline(conn, self.config.connect_timeout) else {
            return;
        };
        if self.now < at {
            return self.deadlines.arm(Timer::Conn(token.0), at);
        }
        // Not read while its output is full: its silence may be ours. Looked at again each
        // tick until it is read again.
        if conn.state == State::Connected && conn.held_by_output() {
            let next = self.now + self.tick_interval();
            return self.deadlines.arm(Timer::Conn(token.0), next);
        }
        match reason {
            Some(reason) => self.close(token, reason),
            None => self.end_linger(token),
        }
    }

    /// Publishes a will whose delay has run out, and ends an offline session whose time is
    /// up.
    fn on_session_timer(&mut self, key: SessionKey) {
        let now = self.now;
        // A going session has neither will nor expiry left (`Session::end`).
        let Some(session) = self.sessions.get_mut(key).filter(|s| !s.is_going()) else {
            return;
        };
        if session.delayed_will.as_ref().is_some_and(|w| now >= w.0)
            && let Some(delayed) = session.delayed_will.take()
        {
            let (_, will) = *delayed;
            self.publish_will(will, Some(key));
        }
        let Some(session) = self.sessions.get(key) else {
            return;
        };
        if session.conn.is_none() && session.expires_at.is_some_and(|t| now >= t) {
            log_notice!("Expiring client {} due to timeout.", session.client_id);
            return self.remove_session(key);
        }
        self.arm_session_timer(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: Instant, n: u64) -> Instant {
        base + Duration::from_millis(n)
    }

    #[test]
    fn timers_come_due_in_order_and_not_before_their_time() {
        let base = Instant::now();
        let mut d = Deadlines::default();
        d.arm(Timer::Conn(1), ms(base, 300));
        d.arm(Timer::Session(1), ms(base, 100));
        d.arm(Timer::Conn(2), base + Duration::from_micros(200_500));
        assert_eq!(d.pop_due(ms(base, 99)), None);
        assert_eq!(d.pop_due(ms(base, 100)), Some(Timer::Session(1)));
        assert_eq!(d.pop_due(ms(base, 200)), None);
        assert_eq!(d.pop_due(ms(base, 1000)), Some(Timer::Conn(2)));
        assert_eq!(d.pop_due(ms(base, 1000)), Some(Timer::Conn(1)));
        assert_eq!(d.pop_due(ms(base, 1000)), None, "each comes due once");
    }

    #[test]
    fn arming_for_later_keeps_the_earlier_deadline_and_earlier_replaces_it() {
        let base = Instant::now();
        let mut d = Deadlines::default();
        d.arm(Timer::Conn(1), ms(base, 500));
        d.arm(Timer::Conn(1), ms(base, 900));
        assert_eq!(d.pop_due(ms(base, 500)), Some(Timer::Conn(1)));
        d.arm(Timer::Conn(1), ms(base, 900));
        d.arm(Timer::Conn(1), ms(base, 600));
        assert_eq!(d.pop_due(ms(base, 600)), Some(Timer::Conn(1)));
        // The 900 ms entry went stale when 600 replaced it.
        assert_eq!(d.pop_due(ms(base, 2000)), None);
    }

    // A connection whose deadline keeps coming nearer leaves stale entries; they are swept
    // out, so the heap does not grow with the re-arming.
    #[test]
    fn stale_entries_are_swept_out() {
        let base = Instant::now();
        let mut d = Deadlines::default();
        for t in 0..100 {
            d.arm(Timer::Session(t), ms(base, 1_000_000));
        }
        for step in 0..10_000 {
            d.arm(Timer::Conn(7), ms(base, 500_000 - step));
            assert!(d.entries() <= 2 * 101 + STALE_MIN + 1, "{}", d.entries());
        }
        assert_eq!(d.pop_due(ms(base, 500_000)), Some(Timer::Conn(7)));
        assert_eq!(d.pop_due(ms(base, 999_999)), None);
    }
}
