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
//! time. Each connection and session keeps the deadline its timer is armed for, so the heap
//! needs no index of its own: an entry whose owner holds another deadline (re-armed for
//! earlier, or a slab key taken by a new owner) is stale, skipped when it comes up and swept
//! out when stale entries pile up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
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
    Session(SessionKey),
}

impl Timer {
    /// The owner in 32 bits: the slab key shifted left, the low bit set for a session. Keys
    /// are slab indices, far below 2^31 (that many sessions would take 700 GB).
    fn pack(self) -> u32 {
        let (key, kind) = match self {
            Timer::Conn(key) => (key, 0),
            Timer::Session(key) => (key.0, 1),
        };
        u32::try_from(key << 1 | kind).unwrap_or(u32::MAX)
    }

    fn unpack(packed: u32) -> Timer {
        let key = (packed >> 1) as usize;
        if packed & 1 == 0 {
            Timer::Conn(key)
        } else {
            Timer::Session(SessionKey(key))
        }
    }
}

/// The armed deadline an owner (a connection or a session) keeps, in ticks; `NONE` when its
/// timer is not armed. A heap entry is live only while its owner's slot holds its tick, so a
/// timer re-armed for earlier, or a slab key taken by a new owner, leaves a stale entry that
/// is skipped when it comes up.
pub(crate) type ArmedAt = u64;
pub(crate) const NONE: ArmedAt = 0;

/// Heap entries tolerated beyond the owners before stale ones are swept out.
const STALE_MIN: usize = 64;

/// One heap entry in twelve bytes: the deadline in milliseconds since `base` (plus one, so
/// that no deadline is `NONE`), split in two words, and the packed owner.
type Entry = (u32, u32, u32);

/// Armed timers in a min-heap by deadline. Each owner keeps its own armed deadline (an
/// `ArmedAt`), so the heap needs no index of its own. Deadlines are rounded up to the
/// millisecond and the present down, so a timer never comes due before its time.
pub(super) struct Deadlines {
    base: Instant,
    heap: BinaryHeap<Reverse<Entry>>,
}

impl Deadlines {
    /// Counts from a day before `now`, so that no instant the broker is given is before the
    /// base (a deadline there would round to due at once, and be re-armed forever).
    pub(super) fn new(now: Instant) -> Deadlines {
        let base = now.checked_sub(Duration::from_secs(86_400)).unwrap_or(now);
        Deadlines {
            base,
            heap: BinaryHeap::new(),
        }
    }

    /// `at` in ticks, rounded up to the millisecond.
    fn ticks_at(&self, at: Instant) -> ArmedAt {
        let nanos = at.saturating_duration_since(self.base).as_nanos();
        u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX - 1) + 1
    }

    /// `now` in ticks, rounded down.
    fn ticks_now(&self, now: Instant) -> ArmedAt {
        let millis = now.saturating_duration_since(self.base).as_millis();
        u64::try_from(millis).unwrap_or(u64::MAX - 1) + 1
    }

    /// Makes `timer` come due at `at` at the latest, `armed` being its owner's slot; one
    /// armed for earlier stays as it is. True when stale entries have piled up beyond
    /// `owners` (connections and sessions, each with at most one live entry) and
    /// `sweep` is due.
    pub(super) fn arm(
        &mut self,
        timer: Timer,
        at: Instant,
        armed: &mut ArmedAt,
        owners: usize,
    ) -> bool {
        let ticks = self.ticks_at(at);
        if *armed != NONE && *armed <= ticks {
            return false;
        }
        *armed = ticks;
        self.heap
            .push(Reverse(((ticks >> 32) as u32, ticks as u32, timer.pack())));
        self.heap.len() > 2 * owners + STALE_MIN
    }

    /// Keeps only the entries `live` says are their owner's armed deadline.
    pub(super) fn sweep(&mut self, mut live: impl FnMut(Timer, ArmedAt) -> bool) {
        self.heap
            .retain(|&Reverse((hi, lo, who))| live(Timer::unpack(who), join(hi, lo)));
    }

    /// Takes out the next entry due at `now`, with the tick it was armed for: the caller
    /// checks it against the owner's slot, as it may be stale.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Timer, ArmedAt)> {
        let now = self.ticks_now(now);
        let &Reverse((hi, lo, who)) = self.heap.peek()?;
        if join(hi, lo) > now {
            return None;
        }
        self.heap.pop();
        Some((Timer::unpack(who), join(hi, lo)))
    }

    /// Gives back room after a storm of connections has gone; true if anything shrank.
    pub(super) fn shrink_if_sparse(&mut self) -> bool {
        let capacity = self.heap.capacity();
        if capacity <= 1024 || self.heap.len() * 4 >= capacity {
            return false;
        }
        self.heap.shrink_to_fit();
        true
    }

    /// Heap entries, stale ones included; for tests.
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.heap.len()
    }
}

fn join(hi: u32, lo: u32) -> ArmedAt {
    u64::from(hi) << 32 | u64::from(lo)
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
    let will = session.will_due();
    let expiry = session.expires_at.filter(|_| session.conn.is_none());
    will.into_iter().chain(expiry).min()
}

impl Broker {
    /// Runs every timer due now.
    pub(super) fn run_due_timers(&mut self) {
        while let Some((timer, at)) = self.deadlines.pop_due(self.now) {
            let armed = match timer {
                Timer::Conn(key) => self.conns.get_mut(key).map(|c| &mut c.timer_armed),
                Timer::Session(key) => self.sessions.get_mut(key.0).map(|s| &mut s.timer_armed),
            };
            match armed {
                Some(armed) if *armed == at => *armed = NONE,
                _ => continue,
            }
            match timer {
                Timer::Conn(key) => self.on_conn_timer(Token(key)),
                Timer::Session(key) => self.on_session_timer(key),
            }
        }
    }

    /// Arms `timer` for `at` at the latest, and sweeps stale entries out when they pile up.
    fn arm_timer(&mut self, timer: Timer, at: Instant) {
        let owners = self.conns.len() + self.sessions.len();
        let armed = match timer {
            Timer::Conn(key) => self.conns.get_mut(key).map(|c| &mut c.timer_armed),
            Timer::Session(key) => self.sessions.get_mut(key.0).map(|s| &mut s.timer_armed),
        };
        let Some(armed) = armed else {
            return;
        };
        if !self.deadlines.arm(timer, at, armed, owners) {
            return;
        }
        let (conns, sessions) = (&self.conns, &self.sessions);
        self.deadlines.sweep(|timer, at| match timer {
            Timer::Conn(key) => conns.get(key).is_some_and(|c| c.timer_armed == at),
            Timer::Session(key) => sessions.get(key.0).is_some_and(|s| s.timer_armed == at),
        });
    }

    /// Arms a connection's timer for its current deadline; after accept, CONNECT and the
    /// start of a lingering close, which may bring the deadline nearer.
    pub(super) fn arm_conn_timer(&mut self, token: Token) {
        let Some(conn) = self.conns.get(token.0) else {
            return;
        };
        if let Some((at, _)) = conn_deadline(conn, self.config.connect_timeout) {
            self.arm_timer(Timer::Conn(token.0), at);
        }
    }

    /// Arms a session's timer; after a will delay starts or the session goes offline.
    pub(super) fn arm_session_timer(&mut self, key: SessionKey) {
        if let Some(at) = self.sessions.get(key.0).and_then(session_deadline) {
            self.arm_timer(Timer::Session(key), at);
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
            return self.arm_timer(Timer::Conn(token.0), at);
        }
        // Not read while its output is full: its silence may be ours. Looked at again each
        // tick until it is read again.
        if conn.state == State::Connected && conn.held_by_output() {
            let next = self.now + self.tick_interval();
            return self.arm_timer(Timer::Conn(token.0), next);
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
        let Some(session) = self.sessions.get_mut(key.0).filter(|s| !s.is_going()) else {
            return;
        };
        if session.will_due().is_some_and(|at| now >= at)
            && let Some(will) =
                session.take_delayed_will(super::durable::journal(&mut self.durable))
        {
            self.publish_will(will, Some(key));
        }
        let Some(session) = self.sessions.get(key.0) else {
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

    /// The owners' armed slots, as the broker keeps them in connections and sessions.
    #[derive(Default)]
    struct Owners(std::collections::HashMap<Timer, ArmedAt>);

    impl Owners {
        fn arm(&mut self, d: &mut Deadlines, timer: Timer, at: Instant) {
            let owners = self.0.len().max(1);
            let slot = self.0.entry(timer).or_insert(NONE);
            if d.arm(timer, at, slot, owners) {
                let slots = &self.0;
                d.sweep(|t, at| slots.get(&t) == Some(&at));
            }
        }

        fn pop_due(&mut self, d: &mut Deadlines, now: Instant) -> Option<Timer> {
            while let Some((timer, at)) = d.pop_due(now) {
                if let Some(slot) = self.0.get_mut(&timer)
                    && *slot == at
                {
                    *slot = NONE;
                    return Some(timer);
                }
            }
            None
        }
    }

    #[test]
    fn timers_come_due_in_order_and_not_before_their_time() {
        let base = Instant::now();
        let mut d = Deadlines::new(base);
        let mut o = Owners::default();
        o.arm(&mut d, Timer::Conn(1), ms(base, 300));
        o.arm(&mut d, Timer::Session(SessionKey(1)), ms(base, 100));
        o.arm(
            &mut d,
            Timer::Conn(2),
            base + Duration::from_micros(200_500),
        );
        assert_eq!(o.pop_due(&mut d, ms(base, 99)), None);
        assert_eq!(
            o.pop_due(&mut d, ms(base, 100)),
            Some(Timer::Session(SessionKey(1)))
        );
        assert_eq!(o.pop_due(&mut d, ms(base, 200)), None);
        assert_eq!(
            o.pop_due(&mut d, base + Duration::from_micros(200_499)),
            None,
            "rounded up, not down"
        );
        assert_eq!(o.pop_due(&mut d, ms(base, 1000)), Some(Timer::Conn(2)));
        assert_eq!(o.pop_due(&mut d, ms(base, 1000)), Some(Timer::Conn(1)));
        assert_eq!(
            o.pop_due(&mut d, ms(base, 1000)),
            None,
            "each comes due once"
        );
    }

    #[test]
    fn arming_for_later_keeps_the_earlier_deadline_and_earlier_replaces_it() {
        let base = Instant::now();
        let mut d = Deadlines::new(base);
        let mut o = Owners::default();
        o.arm(&mut d, Timer::Conn(1), ms(base, 500));
        o.arm(&mut d, Timer::Conn(1), ms(base, 900));
        assert_eq!(o.pop_due(&mut d, ms(base, 500)), Some(Timer::Conn(1)));
        o.arm(&mut d, Timer::Conn(1), ms(base, 900));
        o.arm(&mut d, Timer::Conn(1), ms(base, 600));
        assert_eq!(o.pop_due(&mut d, ms(base, 600)), Some(Timer::Conn(1)));
        // The 900 ms entry went stale when 600 replaced it.
        assert_eq!(o.pop_due(&mut d, ms(base, 2000)), None);
    }

    // A connection whose deadline keeps coming nearer leaves stale entries; they are swept
    // out, so the heap does not grow with the re-arming.
    #[test]
    fn stale_entries_are_swept_out() {
        let base = Instant::now();
        let mut d = Deadlines::new(base);
        let mut o = Owners::default();
        for t in 0..100 {
            o.arm(&mut d, Timer::Session(SessionKey(t)), ms(base, 1_000_000));
        }
        for step in 0..10_000 {
            o.arm(&mut d, Timer::Conn(7), ms(base, 500_000 - step));
            assert!(d.entries() <= 2 * 101 + STALE_MIN + 1, "{}", d.entries());
        }
        assert_eq!(o.pop_due(&mut d, ms(base, 500_000)), Some(Timer::Conn(7)));
        assert_eq!(o.pop_due(&mut d, ms(base, 999_999)), None);
    }

    #[test]
    fn owners_pack_into_one_word_and_back() {
        for timer in [
            Timer::Conn(0),
            Timer::Session(SessionKey(0)),
            Timer::Conn(12_345),
            Timer::Session(SessionKey(1 << 30)),
        ] {
            assert_eq!(Timer::unpack(timer.pack()), timer);
        }
    }

    // What each idle connection costs the broker in fixed-size parts, so that they cannot
    // grow back unnoticed (see ARCHITECTURE.md, "Memory per idle connection").
    #[test]
    fn per_connection_structs_stay_small() {
        use std::mem::size_of;
        let conn = size_of::<Connection>();
        let session = size_of::<Session>();
        let entry = size_of::<Reverse<Entry>>();
        eprintln!("Connection {conn} bytes, Session {session}, timer heap entry {entry}");
        assert!(conn <= CONNECTION_BYTES_MAX, "Connection is {conn} bytes");
        assert!(session <= SESSION_BYTES_MAX, "Session is {session} bytes");
        assert_eq!(entry, 12);
    }

    /// mio's `TcpStream` keeps a selector id in debug builds: 12 bytes more there.
    const CONNECTION_BYTES_MAX: usize = if cfg!(debug_assertions) { 304 } else { 296 };
    const SESSION_BYTES_MAX: usize = 312;
}
