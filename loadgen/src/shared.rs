//! What the worker threads and the thread that steers the run share: the clock, the phase,
//! the measured window, delivery counts for closed-loop pacing, and live progress.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU8, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::stats::new_histogram;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Connecting and subscribing.
    Setup = 0,
    /// Publishing: warm-up, then the measured window.
    Publish = 1,
    /// Publishing has stopped; waiting for what is still on its way.
    Drain = 2,
    /// Disconnect and hand back the results.
    Stop = 3,
}

/// One worker's running totals, published once per loop turn for the progress line and for
/// deciding when the drain is over.
pub struct Progress {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub unique: AtomicU64,
    pub expected: AtomicU64,
    pub acked: AtomicU64,
    pub unacked: AtomicU64,
    pub ready: AtomicU64,
    pub failed: AtomicU64,
    pub disconnects: AtomicU64,
    /// Latencies since the steering thread last looked.
    pub live: Mutex<Histogram<u64>>,
}

pub struct Shared {
    origin: Instant,
    phase: AtomicU8,
    publish_start_ns: AtomicU64,
    measure_start_ns: AtomicU64,
    measure_end_ns: AtomicU64,
    /// Deliveries counted so far for each publisher, over all subscribers and threads.
    delivered: Vec<AtomicU64>,
    pub progress: Vec<Progress>,
    /// The sink forwards nothing: publishers expect no deliveries.
    pub swallow: bool,
    wakers: Mutex<Vec<Arc<mio::Waker>>>,
}

impl Shared {
    pub fn new(workers: usize, publishers: usize, swallow: bool) -> Shared {
        Shared {
            origin: Instant::now(),
            phase: AtomicU8::new(Phase::Setup as u8),
            publish_start_ns: AtomicU64::new(u64::MAX),
            measure_start_ns: AtomicU64::new(u64::MAX),
            measure_end_ns: AtomicU64::new(u64::MAX),
            delivered: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
            progress: (0..workers)
                .map(|_| Progress {
                    sent: AtomicU64::new(0),
                    received: AtomicU64::new(0),
                    unique: AtomicU64::new(0),
                    expected: AtomicU64::new(0),
                    acked: AtomicU64::new(0),
                    unacked: AtomicU64::new(0),
                    ready: AtomicU64::new(0),
                    failed: AtomicU64::new(0),
                    disconnects: AtomicU64::new(0),
                    live: Mutex::new(new_histogram()),
                })
                .collect(),
            swallow,
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Nanoseconds on the run's monotonic clock, shared by every thread.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    pub fn workers(&self) -> usize {
        self.progress.len()
    }

    #[inline]
    pub fn phase(&self) -> Phase {
        match self.phase.load(Acquire) {
            0 => Phase::Setup,
            1 => Phase::Publish,
            2 => Phase::Drain,
            _ => Phase::Stop,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Release);
        self.wake_all();
    }

    pub fn add_waker(&self, waker: Arc<mio::Waker>) {
        if let Ok(mut w) = self.wakers.lock() {
            w.push(waker);
        }
    }

    fn wake_all(&self) {
        if let Ok(wakers) = self.wakers.lock() {
            for w in wakers.iter() {
                let _ = w.wake();
            }
        }
    }

    /// Fixes the timeline before publishing starts: publishing from `start`, measuring from
    /// `start + warmup` to `+ duration`.
    pub fn set_window(&self, start: u64, warmup_ns: u64, duration_ns: u64) {
        self.publish_start_ns.store(start, Relaxed);
        self.measure_start_ns.store(start + warmup_ns, Relaxed);
        self.measure_end_ns
            .store(start + warmup_ns + duration_ns, Relaxed);
    }

    pub fn publish_start(&self) -> u64 {
        self.publish_start_ns.load(Relaxed)
    }

    /// The measured window, [start, end) in ns.
    #[inline]
    pub fn window(&self) -> (u64, u64) {
        (
            self.measure_start_ns.load(Relaxed),
            self.measure_end_ns.load(Relaxed),
        )
    }

    #[inline]
    pub fn delivered(&self, publisher: u32) -> u64 {
        self.delivered[publisher as usize].load(Relaxed)
    }

    pub fn add_delivered(&self, publisher: u32, n: u64) {
        self.delivered[publisher as usize].fetch_add(n, Relaxed);
    }

    /// Sum of one progress counter over the workers.
    pub fn total(&self, field: impl Fn(&Progress) -> &AtomicU64) -> u64 {
        self.progress.iter().map(|p| field(p).load(Relaxed)).sum()
    }

    /// The latencies recorded since the last call, over all workers.
    pub fn take_live(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for p in &self.progress {
            if let Ok(mut live) = p.live.lock() {
                let _ = all.add(&*live);
                live.reset();
            }
        }
        all
    }
}
