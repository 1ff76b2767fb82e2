//! A client's session: what survives between its connections when it asks for a persistent
//! session, and the delivery state of its QoS 1 and 2 messages in both directions.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::Token;

use crate::message::{Delivery, Message};
use crate::persist::Journal;
use crate::protocol::{ByteStr, QoS, SubOptions, Version, topic};

mod inflight;
pub use inflight::{Inflight, InflightWindow, OutState};

/// How often, at most, the log says that messages are being dropped for one client.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The messages dropped for one client, and what the log has been told of them.
#[derive(Debug, Default)]
pub struct Dropped {
    total: u64,
    /// Dropped since the last log line.
    unreported: u64,
    reported_at: Option<Instant>,
}

impl Dropped {
    /// Counts `n` drops at `now`. Returns how many to report when a log line is due: at the
    /// first drop, then at most once per [`DROP_LOG_INTERVAL`], the drops since the last line.
    pub fn count(&mut self, n: u64, now: Instant) -> Option<u64> {
        self.total += n;
        self.unreported += n;
        let due = self
            .reported_at
            .is_none_or(|at| now.saturating_duration_since(at) >= DROP_LOG_INTERVAL);
        if !due {
            return None;
        }
        self.reported_at = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}

pub use crate::ids::SessionKey;

/// The broker's sessions, by key.
impl std::ops::Index<SessionKey> for slab::Slab<Session> {
    type Output = Session;

    fn index(&self, key: SessionKey) -> &Session {
        &self[key.0]
    }
}

impl std::ops::IndexMut<SessionKey> for slab::Slab<Session> {
    fn index_mut(&mut self, key: SessionKey) -> &mut Session {
        &mut self[key.0]
    }
}

/// Where a session's methods record what they change: the journal, when the broker keeps
/// state on disk. A session that ends with its connection records nothing.
pub type Rec<'a> = Option<&'a mut Journal>;

/// When a session ends once its client is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// With its connection: 3.1.1's clean session, MQTT 5's expiry interval 0.
    AtDisconnect,
    /// This many seconds after the connection ends (MQTT 5's finite expiry interval); in
    /// seconds as the protocol has it, which keeps this in eight bytes.
    After(u32),
    /// Never by the client's wish: 3.1.1's persistent session, MQTT 5's 0xFFFFFFFF. The
    /// broker's `persistent_client_expiration` may still end it.
    Never,
}

impl Expiry {
    /// The expiry a CONNECT asks for.
    pub fn requested(version: Version, clean_start: bool, interval: Option<u32>) -> Expiry {
        if version != Version::V5 {
            return if clean_start {
                Expiry::AtDisconnect
            } else {
                Expiry::Never
            };
        }
        Expiry::from_interval(interval.unwrap_or(0))
    }

    /// MQTT 5's session expiry interval, in seconds.
    pub fn from_interval(seconds: u32) -> Expiry {
        match seconds {
            0 => Expiry::AtDisconnect,
            u32::MAX => Expiry::Never,
            s => Expiry::After(s),
        }
    }
}

/// Past this many subscriptions a session indexes them by hash instead of searching a list.
const SUBSCRIPTIONS_LISTED_MAX: usize = 16;

/// A client's subscriptions by filter. Most clients have one or two, and every session is
/// kept in memory even while its client is idle or away: a short list costs a few dozen
/// bytes where a hash map costs a few hundred. A client with many moves to a hash map, boxed
/// so that the list's sessions do not carry a map's size.
/// The shared ones (`$share/...`) are kept apart, so that a client's comings and goings,
/// which tell each of its shared groups (see `Broker::set_shared_online`), look at those
/// only, however many others it has.
#[derive(Debug, Default)]
pub struct Subscriptions {
    plain: ByFilter,
    /// Boxed, and `None` while there are none: most clients have none, and their sessions
    /// stay the size they were.
    shared: Option<Box<ByFilter>>,
}

#[derive(Debug)]
enum ByFilter {
    Listed(Vec<(ByteStr, Subscription)>),
    #[allow(clippy::box_collection)]
    Hashed(Box<HashMap<ByteStr, Subscription>>),
}

impl Default for ByFilter {
    fn default() -> ByFilter {
        ByFilter::Listed(Vec::new())
    }
}

impl Subscriptions {
    /// Adds or replaces a subscription; returns the one it replaced.
    pub fn insert(&mut self, filter: ByteStr, subscription: Subscription) -> Option<Subscription> {
        if topic::is_shared(&filter) {
            self.shared
                .get_or_insert_default()
                .insert(filter, subscription)
        } else {
            self.plain.insert(filter, subscription)
        }
    }

    pub fn get(&self, filter: &str) -> Option<&Subscription> {
        if topic::is_shared(filter) {
            self.shared.as_deref()?.get(filter)
        } else {
            self.plain.get(filter)
        }
    }

    pub fn remove(&mut self, filter: &str) -> Option<Subscription> {
        if !topic::is_shared(filter) {
            return self.plain.remove(filter);
        }
        let shared = self.shared.as_deref_mut()?;
        let removed = shared.remove(filter);
        if shared.len() == 0 {
            self.shared = None;
        }
        removed
    }

    /// Every filter, taken out, for tearing the session down: no copy of each, and no
    /// lookup to remove it.
    pub fn into_filters(self) -> IntoFilters {
        IntoFilters {
            plain: self.plain.into_filters(),
            shared: self.shared.map(|shared| shared.into_filters()),
        }
    }

    /// Every shared filter (`$share/...`), borrowed: the others are not looked at.
    pub fn iter_shared(&self) -> impl Iterator<Item = &ByteStr> {
        let (listed, hashed) = match self.shared.as_deref() {
            None => (None, None),
            Some(ByFilter::Listed(list)) => (Some(list.iter().map(|(f, _)| f)), None),
            Some(ByFilter::Hashed(map)) => (None, Some(map.keys())),
        };
        listed
            .into_iter()
            .flatten()
            .chain(hashed.into_iter().flatten())
    }

    pub fn len(&self) -> usize {
        self.plain.len() + self.shared.as_ref().map_or(0, |shared| shared.len())
    }

    pub fn shared_len(&self) -> usize {
        self.shared.as_ref().map_or(0, |shared| shared.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ByFilter {
    fn insert(&mut self, filter: ByteStr, subscription: Subscription) -> Option<Subscription> {
        match self {
            ByFilter::Listed(list) => {
                if let Some((_, existing)) = list.iter_mut().find(|(f, _)| *f == filter) {
                    return Some(std::mem::replace(existing, subscription));
                }
                if list.len() < SUBSCRIPTIONS_LISTED_MAX {
                    list.reserve_exact(1);
                    list.push((filter, subscription));
                    return None;
                }
                let mut map: HashMap<_, _> = list.drain(..).collect();
                map.insert(filter, subscription);
                *self = ByFilter::Hashed(Box::new(map));
                None
            }
            ByFilter::Hashed(map) => map.insert(filter, subscription),
        }
    }

    fn get(&self, filter: &str) -> Option<&Subscription> {
        match self {
            ByFilter::Listed(list) => list.iter().find(|(f, _)| f == filter).map(|(_, s)| s),
            ByFilter::Hashed(map) => map.get(filter),
        }
    }

    fn remove(&mut self, filter: &str) -> Option<Subscription> {
        match self {
            ByFilter::Listed(list) => {
                let i = list.iter().position(|(f, _)| f.as_str() == filter)?;
                Some(list.swap_remove(i).1)
            }
            ByFilter::Hashed(map) => map.remove(filter),
        }
    }

    fn into_filters(self) -> FilterKeys {
        match self {
            ByFilter::Listed(list) => FilterKeys::Listed(list.into_iter()),
            ByFilter::Hashed(map) => FilterKeys::Hashed(map.into_keys()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ByFilter::Listed(list) => list.len(),
            ByFilter::Hashed(map) => map.len(),
        }
    }
}

/// The filters of a session being torn down (`Subscriptions::into_filters`), each once.
#[derive(Debug)]
pub struct IntoFilters {
    plain: FilterKeys,
    shared: Option<FilterKeys>,
}

/// One part's filters, taken out.
#[derive(Debug)]
enum FilterKeys {
    Listed(std::vec::IntoIter<(ByteStr, Subscription)>),
    Hashed(std::collections::hash_map::IntoKeys<ByteStr, Subscription>),
}

impl Iterator for FilterKeys {
    type Item = ByteStr;

    fn next(&mut self) -> Option<ByteStr> {
        match self {
            FilterKeys::Listed(list) => list.next().map(|(filter, _)| filter),
            FilterKeys::Hashed(keys) => keys.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            FilterKeys::Listed(list) => list.size_hint(),
            FilterKeys::Hashed(keys) => keys.size_hint(),
        }
    }
}

impl ExactSizeIterator for FilterKeys {}

impl Iterator for IntoFilters {
    type Item = ByteStr;

    fn next(&mut self) -> Option<ByteStr> {
        self.plain.next().or_else(|| self.shared.as_mut()?.next())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self.plain.len() + self.shared.as_ref().map_or(0, ExactSizeIterator::len);
        (len, Some(len))
    }
}

impl ExactSizeIterator for IntoFilters {}

/// One of a client's subscriptions, as it asked for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub options: SubOptions,
    /// MQTT 5 subscription identifier; 0 for none.
    pub id: u32,
}

#[derive(Debug)]
pub struct Session {
    pub client_id: ByteStr,
    /// The connection currently attached, if the client is online.
    pub conn: Option<Token>,
    /// The protocol version of the client's latest connection.
    pub version: Version,
    pub expiry: Expiry,
    /// When an offline persistent session is discarded (`persistent_client_expiration`).
    pub expires_at: Option<Instant>,
    /// The client's filters (shared ones with their `$share/GROUP/` prefix) and their
    /// options: the router and the shared groups hold the reverse index.
    pub subscriptions: Subscriptions,
    /// Sent QoS 1/2 messages not yet fully acknowledged, oldest first (re-sent in this order
    /// on reconnect), found by packet id. Bounded by the in-flight window.
    /// This, `queued` and `incoming` change only through the methods below, which keep
    /// the byte counts and record each change in the journal.
    inflight: InflightWindow,
    /// Messages waiting for room in the in-flight window or for the client to come back.
    /// Bounded by `max_queued_messages`.
    queued: VecDeque<Delivery>,
    /// Inbound QoS 2 messages received but not yet released by PUBREL: like mosquitto, they
    /// reach subscribers only on PUBREL, so a re-sent PUBLISH is never delivered twice.
    /// A vector: it holds at most the receive maximum, and usually nothing.
    incoming: Vec<(u16, Rc<Message>)>,
    /// Bytes of the messages in `inflight` and `queued`, for `max_inflight_bytes` and
    /// `max_queued_bytes`.
    inflight_bytes: usize,
    queued_bytes: usize,
    /// Messages dropped for this client, and when the log last said so. Boxed, from the
    /// first drop: most sessions never see one.
    pub dropped: Option<Box<Dropped>>,
    /// A will whose MQTT 5 delay is running: published at the instant unless the client
    /// comes back first.
    delayed_will: Option<Box<(Instant, crate::protocol::Will)>>,
    /// The client's username and ACL rules, when the broker has password or ACL files;
    /// kept while offline too, since queued messages are checked as they are routed.
    pub auth: Option<Box<crate::auth::ClientAuth>>,
    /// Retained messages still to be sent for its subscriptions, and what waits behind them
    /// (see `retain/cursor.rs`). Boxed: almost always none.
    pub retained: Option<Box<crate::retain::RetainedCursor>>,
    /// Packet identifiers handed out so far (see `issue_packet_id`).
    packet_ids_issued: u64,
    /// Marks the session as already matched by the publish being routed (see the router).
    pub(crate) route_mark: u64,
    pub(crate) route_slot: u32,
    /// Ended, its filters still being taken out of the router (see `end`).
    going: bool,
    /// The deadline its timer is armed for (see `broker/timers.rs`).
    pub(crate) timer_armed: u64,
}

impl Session {
    pub fn new(client_id: ByteStr, version: Version, expiry: Expiry) -> Session {
        Session {
            client_id,
            conn: None,
            version,
            expiry,
            expires_at: None,
            subscriptions: Subscriptions::default(),
            inflight: InflightWindow::default(),
            queued: VecDeque::new(),
            incoming: Vec::new(),
            inflight_bytes: 0,
            queued_bytes: 0,
            dropped: None,
            delayed_will: None,
            auth: None,
            retained: None,
            packet_ids_issued: 0,
            route_mark: 0,
            route_slot: 0,
            going: false,
            timer_armed: 0,
        }
    }

    /// Ends the session for everything but the router, which may take a few loop turns to
    /// forget its filters (`broker/teardown.rs`): from now on it receives nothing and holds
    /// nothing (no messages, no retained messages due, no will, no expiry), and its slot
    /// in the session slab stays taken, so that its key is not reused while the router
    /// still names it. Its client id and ACL rules stay, for the will its end publishes.
    /// Returns the subscriptions, to take out of the router.
    pub fn end(&mut self) -> Subscriptions {
        self.going = true;
        self.conn = None;
        self.expiry = Expiry::AtDisconnect;
        self.expires_at = None;
        self.inflight = InflightWindow::default();
        self.queued = VecDeque::new();
        self.incoming = Vec::new();
        self.inflight_bytes = 0;
        self.queued_bytes = 0;
        self.delayed_will = None;
        self.retained = None;
        std::mem::take(&mut self.subscriptions)
    }

    /// Whether the session has ended (`end`) and only its slot is left.
    pub fn is_going(&self) -> bool {
        self.going
    }

    /// Gives a QoS 1/2 message its packet identifier as it reaches the session, as mosquitto
    /// does: whether it goes out at once, waits in the queue (and perhaps expires there) or
    /// is dropped because the queue is full, it takes the next number of a per-session
    /// counter, 1, 2, ... 65535, 1, ... Returns the counter, from which `packet_id` takes the
    /// identifier; the counter also tells `flight_packet_id` whether identifiers have come
    /// round since the oldest message in flight.
    pub fn issue_packet_id(&mut self) -> u64 {
        self.packet_ids_issued += 1;
        self.packet_ids_issued
    }

    /// Identifiers handed out so far, for persistence.
    pub fn packet_ids_issued(&self) -> u64 {
        self.packet_ids_issued
    }

    /// Uses up `count` identifiers, as mosquitto does for each further match of a message
    /// that a 3.1.1 client gets once.
    pub fn skip_packet_ids(&mut self, count: u64) {
        self.packet_ids_issued += count;
    }

    /// The identifier a delivery goes into flight with: the one it was issued, unless that
    /// is still in use [MQTT-2.2.1-4], which needs 65535 identifiers handed out since the
    /// oldest message in flight (mosquitto reuses it then); it then gets the next free one.
    /// In-flight messages are kept in the order they were issued, so one comparison with the
    /// oldest usually decides.
    /// A session restored from disk may have older messages queued than it has in flight
    /// (released ones, see `restore_delivery`); those take the search.
    pub fn flight_packet_id(&mut self, delivery: &mut Delivery, rec: Rec) -> u16 {
        debug_assert!(
            delivery.packet_seq != 0,
            "issued before it goes into flight"
        );
        debug_assert!(self.inflight.len() < usize::from(u16::MAX));
        let seq = delivery.packet_seq;
        let oldest = self.inflight.front().map(|i| i.delivery.packet_seq);
        if oldest.is_none_or(|oldest| oldest < seq && seq - oldest < u64::from(u16::MAX)) {
            return packet_id(seq);
        }
        loop {
            let id = packet_id(delivery.packet_seq);
            if !self.inflight.contains(id) {
                if delivery.recorded
                    && delivery.packet_seq != seq
                    && let Some(journal) = self.journal(rec)
                {
                    journal.renumbered(&self.client_id, seq, delivery.packet_seq);
                }
                return id;
            }
            delivery.packet_seq = self.issue_packet_id();
        }
    }

    /// The journal, for a session that outlives its connection.
    fn journal<'a>(&self, rec: Rec<'a>) -> Rec<'a> {
        rec.filter(|_| self.expiry != Expiry::AtDisconnect)
    }

    /// Records a QoS 1/2 delivery the session takes, unless the journal has it already.
    fn take(&self, delivery: &mut Delivery, rec: Rec) {
        if !delivery.recorded
            && delivery.qos != QoS::AtMostOnce
            && let Some(journal) = self.journal(rec)
        {
            journal.deliver(&self.client_id, delivery);
            delivery.recorded = true;
        }
    }

    /// Records that the session is done with a delivery.
    fn let_go(&self, delivery: &Delivery, rec: Rec) {
        if delivery.recorded
            && let Some(journal) = self.journal(rec)
        {
            journal.delivered(&self.client_id, delivery.packet_seq);
        }
    }

    /// The messages waiting, oldest first.
    pub fn queued(&self) -> &VecDeque<Delivery> {
        &self.queued
    }

    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// The messages in flight, in the order they were sent.
    pub fn inflight(&self) -> &InflightWindow {
        &self.inflight
    }

    pub fn inflight_bytes(&self) -> usize {
        self.inflight_bytes
    }

    /// Queues a message behind the others.
    pub fn push_queued(&mut self, mut delivery: Delivery, rec: Rec) {
        self.take(&mut delivery, rec);
        self.queued_bytes += delivery.size();
        self.queued.push_back(delivery);
    }

    /// Takes the oldest queued message, to go into flight (`fly`) or be let go (`discard`).
    #[must_use]
    pub fn pop_queued(&mut self) -> Option<Delivery> {
        let delivery = self.queued.pop_front()?;
        self.queued_bytes -= delivery.size();
        Some(delivery)
    }

    /// Lets go of a message taken out of the queue, or never queued, that will not be
    /// sent: it expired, or the client does not take messages that large.
    pub fn discard(&mut self, delivery: Delivery, rec: Rec) {
        self.let_go(&delivery, rec);
    }

    /// Puts a QoS 1/2 message into flight, sent with `packet_id` (`flight_packet_id`).
    pub fn fly(&mut self, packet_id: u16, mut delivery: Delivery, rec: Rec) {
        self.take(&mut delivery, rec);
        let state = match delivery.qos {
            QoS::ExactlyOnce => OutState::AwaitPubRec,
            _ => OutState::AwaitPubAck,
        };
        self.inflight_bytes += delivery.size();
        self.inflight.push_back(Inflight {
            packet_id,
            state,
            delivery,
        });
    }

    /// Where the message in flight with `packet_id` stands, if there is one.
    pub fn inflight_state(&mut self, packet_id: u16) -> Option<OutState> {
        self.inflight.get(packet_id).map(|i| i.state)
    }

    /// Ends a message's flight (PUBACK, PUBCOMP, a refusing PUBREC). Returns whether one
    /// was in flight with `packet_id`.
    pub fn complete(&mut self, packet_id: u16, rec: Rec) -> bool {
        let Some(done) = self.inflight.remove(packet_id) else {
            return false;
        };
        self.inflight_bytes -= done.delivery.size();
        self.let_go(&done.delivery, rec);
        true
    }

    /// PUBREC: the client has the QoS 2 message; PUBREL is what is left to send.
    pub fn release(&mut self, packet_id: u16, rec: Rec) {
        let Some(inflight) = self.inflight.get_mut(packet_id) else {
            return;
        };
        if inflight.state != OutState::AwaitPubRec {
            return;
        }
        inflight.state = OutState::AwaitPubComp;
        let (recorded, seq) = (inflight.delivery.recorded, inflight.delivery.packet_seq);
        if recorded && let Some(journal) = self.journal(rec) {
            journal.released(&self.client_id, seq);
        }
    }

    /// Keeps only the messages, queued or in flight (with their state), that `keep` wants,
    /// and lets go of the others. Returns how many went.
    pub fn retain_deliveries(
        &mut self,
        mut keep: impl FnMut(&Delivery, Option<OutState>) -> bool,
        rec: Rec,
    ) -> usize {
        let before = self.inflight.len() + self.queued.len();
        let mut gone = Vec::new();
        self.inflight.retain(|i| {
            let kept = keep(&i.delivery, Some(i.state));
            if !kept && i.delivery.recorded {
                gone.push(i.delivery.packet_seq);
            }
            kept
        });
        self.queued.retain(|d| {
            let kept = keep(d, None);
            if !kept && d.recorded {
                gone.push(d.packet_seq);
            }
            kept
        });
        if let Some(journal) = self.journal(rec) {
            for seq in gone {
                journal.delivered(&self.client_id, seq);
            }
        }
        self.inflight_bytes = self.inflight.iter().map(|i| i.delivery.size()).sum();
        self.queued_bytes = self.queued.iter().map(Delivery::size).sum();
        before - self.inflight.len() - self.queued.len()
    }

    /// A delivery read back from disk, which the journal holds already: a released QoS 2
    /// message goes back into flight (its PUBREL is re-sent on reconnect), any other into
    /// the queue, to be sent again. Deliveries come in the order they were issued.
    pub fn restore_delivery(&mut self, mut delivery: Delivery, released: bool) {
        delivery.recorded = true;
        self.packet_ids_issued = self.packet_ids_issued.max(delivery.packet_seq);
        let id = packet_id(delivery.packet_seq);
        if !released {
            self.queued_bytes += delivery.size();
            return self.queued.push_back(delivery);
        }
        if self.inflight.contains(id) {
            return; // only a damaged file holds the same identifier twice
        }
        self.inflight_bytes += delivery.size();
        self.inflight.push_back(Inflight {
            packet_id: id,
            state: OutState::AwaitPubComp,
            delivery,
        });
    }

    /// When the will waiting for its delay is due, if one waits.
    pub fn will_due(&self) -> Option<Instant> {
        self.delayed_will.as_ref().map(|w| w.0)
    }

    /// A will to publish at `at`, unless the client comes back first.
    pub fn delay_will(&mut self, at: Instant, will: crate::protocol::Will, rec: Rec) {
        if let Some(journal) = self.journal(rec) {
            journal.will(&self.client_id, at, &will);
        }
        self.delayed_will = Some(Box::new((at, will)));
    }

    /// Takes the will waiting for its delay: to publish it (the delay is over, the session
    /// ends) or to drop it (the client is back).
    pub fn take_delayed_will(&mut self, rec: Rec) -> Option<crate::protocol::Will> {
        let (_, will) = *self.delayed_will.take()?;
        if let Some(journal) = self.journal(rec) {
            journal.will_gone(&self.client_id);
        }
        Some(will)
    }

    /// Inbound QoS 2 messages awaiting PUBREL.
    pub fn incoming(&self) -> &[(u16, Rc<Message>)] {
        &self.incoming
    }

    pub fn is_incoming(&self, packet_id: u16) -> bool {
        self.incoming.iter().any(|(id, _)| *id == packet_id)
    }

    /// Holds an inbound QoS 2 message until its PUBREL; the caller has checked it is new.
    pub fn hold_incoming(&mut self, packet_id: u16, message: Rc<Message>, rec: Rec) {
        if let Some(journal) = self.journal(rec) {
            journal.incoming(&self.client_id, packet_id, &message);
        }
        self.incoming.push((packet_id, message));
    }

    /// PUBREL: the held inbound message, to publish now.
    pub fn release_incoming(&mut self, packet_id: u16, rec: Rec) -> Option<Rc<Message>> {
        let i = self.incoming.iter().position(|(id, _)| *id == packet_id)?;
        let (_, message) = self.incoming.swap_remove(i);
        if let Some(journal) = self.journal(rec) {
            journal.incoming_done(&self.client_id, packet_id);
        }
        Some(message)
    }
}

/// The packet identifier of the `seq`th one a session hands out: 1 to 65535, then 1 again.
pub fn packet_id(seq: u64) -> u16 {
    ((seq.wrapping_sub(1) % u64::from(u16::MAX)) + 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::QoS;

    #[test]
    fn drops_are_reported_at_the_first_then_once_per_interval_with_the_count_since() {
        let start = Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        let mut dropped = Dropped::default();
        assert_eq!(dropped.count(1, at(0)), Some(1));
        assert_eq!(dropped.count(1, at(1)), None);
        assert_eq!(dropped.count(5, at(59)), None);
        assert_eq!(dropped.count(1, at(60)), Some(7));
        assert_eq!(dropped.count(2, at(61)), None);
        assert_eq!(dropped.count(1, at(500)), Some(3));
        assert_eq!(dropped.total(), 11);
    }

    pub(super) fn delivery() -> Delivery {
        let message = Rc::new(Message {
            topic: "t".into(),
            payload: bytes::Bytes::new(),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: bytes::Bytes::new(),
            expires_at: None,
            utf8_payload: false,
            journaled: Default::default(),
        });
        Delivery::new(message, QoS::AtLeastOnce, false)
    }

    #[test]
    fn subscriptions_are_listed_then_hashed_and_behave_the_same() {
        let mut subs = Subscriptions::default();
        let sub = |qos| Subscription {
            options: SubOptions::qos(qos),
            id: 0,
        };
        for i in 0..40 {
            assert_eq!(
                subs.insert(format!("t/{i}").into(), sub(QoS::AtMostOnce)),
                None
            );
            if i < 16 {
                assert!(matches!(subs.plain, ByFilter::Listed(_)));
            }
        }
        assert!(matches!(subs.plain, ByFilter::Hashed(_)));
        assert_eq!(subs.len(), 40);
        assert_eq!(
            subs.insert("t/3".into(), sub(QoS::AtLeastOnce)),
            Some(sub(QoS::AtMostOnce))
        );
        assert_eq!(subs.remove("t/3"), Some(sub(QoS::AtLeastOnce)));
        assert_eq!(subs.remove("t/3"), None);
        let mut filters: Vec<ByteStr> = subs.into_filters().collect();
        filters.sort();
        let mut expected: Vec<ByteStr> = (0..40)
            .filter(|&i| i != 3)
            .map(|i| format!("t/{i}").into())
            .collect();
        expected.sort();
        assert_eq!(filters, expected);
        let mut few = Subscriptions::default();
        few.insert("a".into(), sub(QoS::AtMostOnce));
        assert_eq!(few.remove("a"), Some(sub(QoS::AtMostOnce)));
        assert!(few.is_empty());
    }

    #[test]
    fn shared_subscriptions_are_kept_apart_through_replace_and_remove() {
        let sub = |qos| Subscription {
            options: SubOptions::qos(qos),
            id: 0,
        };
        let shared = |subs: &Subscriptions| subs.iter_shared().count();
        let mut subs = Subscriptions::default();
        for i in 0..40 {
            subs.insert(format!("t/{i}").into(), sub(QoS::AtMostOnce));
        }
        assert_eq!(shared(&subs), 0);
        subs.insert("$share/g/t".into(), sub(QoS::AtMostOnce));
        let replaced = subs.insert("$share/g/t".into(), sub(QoS::AtLeastOnce));
        assert_eq!(replaced, Some(sub(QoS::AtMostOnce)));
        subs.insert("$share/h".into(), sub(QoS::AtMostOnce));
        let apart = |subs: &Subscriptions| subs.shared.as_ref().map_or(0, |s| s.len());
        assert_eq!((subs.plain.len(), apart(&subs), subs.len()), (40, 2, 42));
        assert_eq!(shared(&subs), 2);
        assert_eq!(subs.get("$share/g/t"), Some(&sub(QoS::AtLeastOnce)));
        assert!(subs.get("t/39").is_some() && subs.get("$share/g/t/39").is_none());
        assert!(subs.remove("$share/g/t").is_some());
        assert!(subs.remove("$share/g/t").is_none());
        assert!(subs.remove("t/1").is_some());
        assert_eq!((subs.plain.len(), apart(&subs)), (39, 1));
        let left: Vec<&ByteStr> = subs.iter_shared().collect();
        assert_eq!(left, [&ByteStr::from("$share/h")]);
        let filters = subs.into_filters();
        assert_eq!(filters.len(), 40);
        let all: Vec<ByteStr> = filters.collect();
        assert_eq!(all.len(), 40);
        assert!(all.contains(&ByteStr::from("$share/h")) && all.contains(&"t/39".into()));
        let mut last = Subscriptions::default();
        last.insert("$share/g/t".into(), sub(QoS::AtMostOnce));
        assert!(last.remove("$share/g/t").is_some());
        assert!(
            last.shared.is_none(),
            "the box goes with the last shared subscription"
        );
    }

    /// Issues a delivery's identifier and puts it in flight.
    fn fly(s: &mut Session) -> u16 {
        let mut d = delivery();
        d.packet_seq = s.issue_packet_id();
        let packet_id = s.flight_packet_id(&mut d, None);
        s.fly(packet_id, d, None);
        packet_id
    }

    #[test]
    fn packet_ids_start_at_one_and_increase() {
        let mut s = Session::new("c".into(), Version::V311, Expiry::AtDisconnect);
        assert_eq!(fly(&mut s), 1);
        assert_eq!(fly(&mut s), 2);
        s.skip_packet_ids(3);
        assert_eq!(fly(&mut s), 6);
    }

    #[test]
    fn packet_ids_wrap_from_65535_to_1() {
        assert_eq!(packet_id(1), 1);
        assert_eq!(packet_id(65535), 65535);
        assert_eq!(packet_id(65536), 1);
        assert_eq!(packet_id(2 * 65535 + 7), 7);
    }

    // A message stuck in flight while 65535 others were issued (dropped, say) keeps its
    // identifier to itself: the message that would reuse it gets the next free one.
    #[test]
    fn an_identifier_still_in_flight_is_not_reused_after_wrapping() {
        let mut s = Session::new("c".into(), Version::V311, Expiry::AtDisconnect);
        assert_eq!(fly(&mut s), 1);
        assert_eq!(fly(&mut s), 2);
        s.skip_packet_ids(65535 - 2);
        assert_eq!(fly(&mut s), 3);
        assert!(s.complete(1, None));
        s.skip_packet_ids(65535 - 3);
        // 1 is free again (its message was acknowledged), 2 is not.
        assert_eq!(fly(&mut s), 1);
        assert_eq!(fly(&mut s), 4);
    }
}
