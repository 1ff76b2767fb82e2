//! The send schedule of a paced (`--rate`) run, in integer nanoseconds.
//!
//! `P` publishers share a total rate `R`: message `k` of publisher `i` is due at
//! `start + (k·P + i)·10⁹ / R`. The publishers interleave instead of bursting together, the
//! total is exact over any stretch of time, and the intended time of a message never depends
//! on when it was actually sent: a stalled broker makes the backlog's latency grow rather than
//! the schedule slide (no coordinated omission).

const NS_PER_S: u128 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    start_ns: u64,
    index: u64,
    stride: u64,
    rate: u64,
}

impl Schedule {
    /// Publisher `index` of `stride`, sharing `rate` messages per second (`rate` > 0).
    pub fn new(start_ns: u64, index: u64, stride: u64, rate: u64) -> Schedule {
        Schedule {
            start_ns,
            index,
            stride: stride.max(1),
            rate: rate.max(1),
        }
    }

    /// When message `k` is due.
    pub fn due(&self, k: u64) -> u64 {
        let slot = u128::from(k) * u128::from(self.stride) + u128::from(self.index);
        let offset = slot * NS_PER_S / u128::from(self.rate);
        self.start_ns
            .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
    }

    /// How many messages are due at or before `now_ns`: message `k` is due iff `k < count`.
    pub fn due_count(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns {
            return 0;
        }
        // due() floors s·10⁹/R; that is ≤ t iff s·10⁹ < (t+1)·R, i.e. s ≤ ((t+1)·R − 1)/10⁹.
        let elapsed = u128::from(now_ns - self.start_ns);
        let last_slot = ((elapsed + 1) * u128::from(self.rate) - 1) / NS_PER_S;
        let index = u128::from(self.index);
        if last_slot < index {
            return 0;
        }
        let count = (last_slot - index) / u128::from(self.stride) + 1;
        u64::try_from(count).unwrap_or(u64::MAX)
    }

    /// Messages due before `end_ns` (exclusive): the whole run's worth.
    pub fn total_before(&self, end_ns: u64) -> u64 {
        if end_ns <= self.start_ns {
            return 0;
        }
        self.due_count(end_ns - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_publisher_at_ten_thousand_per_second_is_due_every_100_us() {
        let s = Schedule::new(1_000, 0, 1, 10_000);
        assert_eq!(s.due(0), 1_000);
        assert_eq!(s.due(1), 101_000);
        assert_eq!(s.due(10_000), 1_000_001_000);
        assert_eq!(s.due_count(999), 0);
        assert_eq!(s.due_count(1_000), 1);
        assert_eq!(s.due_count(100_999), 1);
        assert_eq!(s.due_count(101_000), 2);
        assert_eq!(s.total_before(1_000_001_000), 10_000);
    }

    #[test]
    fn publishers_interleave_and_share_the_total_exactly() {
        let publishers: Vec<Schedule> = (0..3).map(|i| Schedule::new(0, i, 3, 1_000)).collect();
        // 1,000/s over three publishers: every millisecond one of them, in turn.
        let mut all: Vec<u64> = publishers
            .iter()
            .flat_map(|s| (0..4).map(|k| s.due(k)))
            .collect();
        all.sort_unstable();
        let want: Vec<u64> = (0..12).map(|s| s * 1_000_000).collect();
        assert_eq!(all, want);
        let total: u64 = publishers
            .iter()
            .map(|s| s.total_before(1_000_000_000))
            .sum();
        assert_eq!(total, 1_000);
    }

    #[test]
    fn due_count_agrees_with_due_everywhere() {
        // A rate that does not divide a second evenly.
        let s = Schedule::new(5, 2, 7, 333);
        for k in 0..200 {
            let t = s.due(k);
            assert_eq!(s.due_count(t), k + 1, "message {k} is due at {t}");
            assert_eq!(s.due_count(t - 1), k, "and not a nanosecond before");
        }
    }

    #[test]
    fn huge_runs_do_not_overflow() {
        let s = Schedule::new(0, 0, 1, 1);
        assert_eq!(s.due(u64::MAX), u64::MAX);
        assert_eq!(s.due_count(u64::MAX), u64::MAX / 1_000_000_000 + 1);
    }
}
