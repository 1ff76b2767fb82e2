//! What a run counts: per-stream loss, duplicate and order bookkeeping, the latency
//! histogram, and the counters each worker thread keeps and the run adds up.

use hdrhistogram::Histogram;

/// Latencies are recorded in microseconds, up to an hour, to three significant digits.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("valid histogram bounds")
}

/// How one message arrived, relative to the others of its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The next sequence number, or later ones skipped over (which may still come).
    New,
    /// An earlier number that had been skipped: new, but out of order.
    Late,
    /// A number already seen.
    Duplicate,
}

/// Bookkeeping for the messages of one publisher as seen by one subscriber. In-order arrival
/// costs one comparison; skipped numbers are kept as ranges so that a late one is told from a
/// duplicate exactly. At most `MAX_GAPS` ranges are kept: past that the oldest are forgotten,
/// and a number from them that turns up is counted as a duplicate (`forgotten` says how often
/// that could have happened).
#[derive(Clone, Debug, Default)]
pub struct StreamTracker {
    next: u64,
    /// Skipped, half-open ranges below `next`, oldest first.
    gaps: Vec<(u64, u64)>,
    pub forgotten: u64,
}

pub const MAX_GAPS: usize = 4096;

impl StreamTracker {
    #[inline]
    pub fn record(&mut self, seq: u64) -> Arrival {
        if seq == self.next {
            self.next += 1;
            return Arrival::New;
        }
        if seq > self.next {
            if self.gaps.len() == MAX_GAPS {
                self.gaps.remove(0);
                self.forgotten += 1;
            }
            self.gaps.push((self.next, seq));
            self.next = seq + 1;
            return Arrival::New;
        }
        // Late arrivals are usually recent: search from the newest gap.
        let Some(i) = self
            .gaps
            .iter()
            .rposition(|&(lo, hi)| lo <= seq && seq < hi)
        else {
            return Arrival::Duplicate;
        };
        let (lo, hi) = self.gaps[i];
        match (seq == lo, seq + 1 == hi) {
            (true, true) => {
                self.gaps.remove(i);
            }
            (true, false) => self.gaps[i].0 = seq + 1,
            (false, true) => self.gaps[i].1 = seq,
            (false, false) => {
                self.gaps[i].1 = seq;
                self.gaps.insert(i + 1, (seq + 1, hi));
            }
        }
        Arrival::Late
    }

    /// Numbers skipped and not (yet) arrived.
    pub fn missing(&self) -> u64 {
        self.gaps.iter().map(|(lo, hi)| hi - lo).sum()
    }
}

/// The messages of one publisher seen by any member of a shared-subscription group: members
/// live on different threads, so each thread keeps a bitmap and the run merges them, counting
/// a number seen by two threads as a duplicate.
#[derive(Clone, Debug, Default)]
pub struct SeenSet {
    words: Vec<u64>,
}

impl SeenSet {
    /// True if `seq` is new to this set.
    #[inline]
    pub fn insert(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.words.len() {
            self.words.resize((word + 1).next_power_of_two(), 0);
        }
        let new = self.words[word] & (1 << bit) == 0;
        self.words[word] |= 1 << bit;
        new
    }

    /// Adds `other` to `self` and returns how many numbers both held.
    pub fn merge(&mut self, other: &SeenSet) -> u64 {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        let mut both = 0;
        for (mine, theirs) in self.words.iter_mut().zip(&other.words) {
            both += u64::from((*mine & theirs).count_ones());
            *mine |= theirs;
        }
        both
    }

    pub fn len(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The counters of one worker thread; the run adds them up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// PUBLISH packets written by publishers.
    pub sent: u64,
    /// Those whose intended send time fell in the measured window.
    pub sent_measured: u64,
    /// Deliveries those should make: each message times its matching subscribers.
    pub expected: u64,
    /// Acknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2).
    pub acked: u64,
    /// Stamped PUBLISH packets received by subscribers, duplicates included.
    pub received: u64,
    /// Those received inside the measured window.
    pub received_measured: u64,
    /// Distinct (publisher, sequence) pairs per subscriber (per group for shared).
    pub unique: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    /// PUBLISH packets without this run's stamp: retained leftovers, other clients.
    pub foreign: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub bytes_sent_measured: u64,
    pub bytes_received_measured: u64,
    /// Messages the schedule called for that the publisher could not send before the end.
    pub behind_schedule: u64,
    /// Times a closed-loop QoS 0 publisher waited 250 ms without a delivery and gave up on
    /// the outstanding ones (they show up as lost).
    pub stalls: u64,
    /// Protocol errors and refusals (a failure reason code, a malformed packet).
    pub errors: u64,
    /// Connections that closed before the run ended.
    pub disconnects: u64,
    pub connects_failed: u64,
    /// Gap ranges forgotten for lack of room (see `StreamTracker`).
    pub gaps_forgotten: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.sent += o.sent;
        self.sent_measured += o.sent_measured;
        self.expected += o.expected;
        self.acked += o.acked;
        self.received += o.received;
        self.received_measured += o.received_measured;
        self.unique += o.unique;
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.foreign += o.foreign;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.bytes_sent_measured += o.bytes_sent_measured;
        self.bytes_received_measured += o.bytes_received_measured;
        self.behind_schedule += o.behind_schedule;
        self.stalls += o.stalls;
        self.errors += o.errors;
        self.disconnects += o.disconnects;
        self.connects_failed += o.connects_failed;
        self.gaps_forgotten += o.gaps_forgotten;
    }
}

/// Latency in whole microseconds from an intended send time to a receive time, both in ns
/// on the run's clock. A receive "before" the send (clock skew between threads is impossible
/// with one monotonic clock, but a foreign stamp could claim it) counts as zero.
#[inline]
pub fn latency_us(sent_ns: u64, received_ns: u64) -> u64 {
    received_ns.saturating_sub(sent_ns) / 1000
}

/// The percentiles every report shows, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_streams_are_all_new() {
        let mut t = StreamTracker::default();
        for seq in 0..1000 {
            assert_eq!(t.record(seq), Arrival::New);
        }
        assert_eq!(t.missing(), 0);
    }

    #[test]
    fn skipped_numbers_are_missing_until_they_arrive_late() {
        let mut t = StreamTracker::default();
        for seq in [0, 1, 5, 6, 3, 9] {
            t.record(seq);
        }
        // 2, 4, 7, 8 never came.
        assert_eq!(t.missing(), 4);
        assert_eq!(t.record(4), Arrival::Late);
        assert_eq!(t.record(2), Arrival::Late);
        assert_eq!(t.record(8), Arrival::Late);
        assert_eq!(t.record(7), Arrival::Late);
        assert_eq!(t.missing(), 0);
        assert!(t.gaps.is_empty());
    }

    #[test]
    fn repeats_are_duplicates_whether_in_order_or_late() {
        let mut t = StreamTracker::default();
        assert_eq!(t.record(0), Arrival::New);
        assert_eq!(t.record(0), Arrival::Duplicate);
        assert_eq!(t.record(10), Arrival::New);
        assert_eq!(t.record(10), Arrival::Duplicate);
        assert_eq!(t.record(5), Arrival::Late);
        assert_eq!(t.record(5), Arrival::Duplicate);
        // The gap split around 5: both halves still count.
        assert_eq!(t.missing(), 8);
        assert_eq!(t.record(4), Arrival::Late);
        assert_eq!(t.record(6), Arrival::Late);
        assert_eq!(t.missing(), 6);
    }

    #[test]
    fn the_gap_list_is_bounded_and_says_what_it_forgot() {
        let mut t = StreamTracker::default();
        for i in 0..(MAX_GAPS as u64 + 10) {
            t.record(i * 2 + 1);
        }
        assert_eq!(t.gaps.len(), MAX_GAPS);
        assert_eq!(t.forgotten, 10);
        // 0 was in a forgotten gap: it can only be called a duplicate now.
        assert_eq!(t.record(0), Arrival::Duplicate);
    }

    #[test]
    fn group_bitmaps_merge_and_count_overlap_as_duplicates() {
        let mut a = SeenSet::default();
        let mut b = SeenSet::default();
        assert!(a.insert(3));
        assert!(!a.insert(3));
        a.insert(1000);
        b.insert(3);
        b.insert(70_000);
        assert_eq!(a.merge(&b), 1);
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn histograms_keep_three_significant_digits() {
        let mut h = new_histogram();
        for us in 1..=10_000u64 {
            h.record(us).unwrap();
        }
        h.record(latency_us(1_000, 5_000_000_000)).unwrap();
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 10_001);
        assert_eq!(p.min, 1);
        assert!((4_995..=5_005).contains(&p.p50), "{}", p.p50);
        assert!((9_890..=9_910).contains(&p.p99), "{}", p.p99);
        // 4,999,999 µs, within 0.1 %.
        assert!(p.max.abs_diff(4_999_999) < 5_000, "{}", p.max);
        assert_eq!(latency_us(10, 5), 0);
    }

    #[test]
    fn counters_add_up() {
        let mut a = Counters {
            sent: 1,
            received: 2,
            ..Counters::default()
        };
        let b = Counters {
            sent: 10,
            received: 20,
            duplicates: 3,
            ..Counters::default()
        };
        a.add(&b);
        assert_eq!((a.sent, a.received, a.duplicates), (11, 22, 3));
    }
}
