//! One run from start to end: plan the clients, start the worker threads, connect, publish
//! through warm-up and the measured window, drain, stop, and add up what the workers saw.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::cli::ScenarioCmd;
use crate::engine::{Client, Worker, WorkerResult};
use crate::plan::{Accounting, Plan};
use crate::report::{BrokerStats, ConnectStats, RunResult};
use crate::shared::{Phase, Shared};
use crate::stats::{Counters, Percentiles, SeenSet, new_histogram};
use crate::sys;

const WAKER: mio::Token = mio::Token(usize::MAX);

/// Runs `cmd` against its target. `swallow` tells the publishers that the (fake) broker
/// forwards nothing, so that no delivery is expected.
pub fn run(cmd: &ScenarioCmd, swallow: bool) -> Result<RunResult, String> {
    let run_tag = run_tag();
    let plan = Arc::new(Plan::new(cmd, run_tag)?);
    let c = &plan.common;
    let total = plan.connections();
    let want_fds = total as u64 + 256;
    let have_fds = sys::raise_nofile(want_fds);
    if have_fds < want_fds {
        return Err(format!(
            "{total} connections need {want_fds} file descriptors and the limit is {have_fds} \
             (raise it with ulimit -n, or as root)"
        ));
    }
    let threads = c.threads.min(total).max(1);
    let shared = Arc::new(Shared::new(threads, plan.publishers.len(), swallow));
    let broker_before = c.broker_pid.and_then(sys::memory_of);

    let mut handles = Vec::new();
    for (index, clients) in assign(&plan, threads).into_iter().enumerate() {
        let poll = mio::Poll::new().map_err(|e| format!("poll: {e}"))?;
        let waker = mio::Waker::new(poll.registry(), WAKER).map_err(|e| format!("waker: {e}"))?;
        shared.add_waker(Arc::new(waker));
        let worker = Worker::new(index, plan.clone(), shared.clone(), poll, clients);
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{index}"))
            .spawn(move || worker.run())
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        handles.push(handle);
    }
    let stop = |shared: &Shared, handles: Vec<std::thread::JoinHandle<WorkerResult>>| {
        shared.set_phase(Phase::Stop);
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a worker thread panicked".to_string()))
            .collect::<Result<Vec<_>, _>>()
    };

    let progress = Progress::new(c.quiet);
    // Connect and subscribe everyone, within the time allowed.
    let setup_deadline = Instant::now() + Duration::from_secs_f64(c.connect_timeout);
    loop {
        let ready = shared.total(|p| &p.ready);
        let failed = shared.total(|p| &p.failed);
        progress.setup(ready, failed, total);
        if ready + failed >= total as u64 {
            break;
        }
        if Instant::now() >= setup_deadline {
            let results = stop(&shared, handles)?;
            return Err(format!(
                "only {ready} of {total} clients connected and subscribed within {} s{}",
                c.connect_timeout,
                first_error(&results).map_or(String::new(), |e| format!(": {e}"))
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let failed = shared.total(|p| &p.failed);
    if failed > 0 && plan.scenario != "conns" || failed == total as u64 {
        let results = stop(&shared, handles)?;
        return Err(format!(
            "{failed} of {total} clients could not connect or subscribe: {}",
            first_error(&results).unwrap_or("no reason given")
        ));
    }
    let broker_connected = c.broker_pid.and_then(sys::memory_of);

    // Publish: warm-up, then the measured window.
    let warmup_ns = (c.warmup * 1e9) as u64;
    let duration_ns = (c.duration * 1e9) as u64;
    let start = shared.now_ns() + 1_000_000;
    shared.set_window(start, warmup_ns, duration_ns);
    shared.set_phase(Phase::Publish);
    let (measure_start, measure_end) = shared.window();
    let mut broker_cpu_start = None;
    let mut next_line = start + 1_000_000_000;
    loop {
        let now = shared.now_ns();
        if broker_cpu_start.is_none() && now >= measure_start {
            broker_cpu_start = c.broker_pid.and_then(sys::cpu_ns_of).map(|cpu| (cpu, now));
        }
        if now >= measure_end {
            break;
        }
        if now >= next_line {
            progress.line(&shared, now - start, "");
            next_line += 1_000_000_000;
        }
        let until = next_line
            .min(measure_end)
            .min(if broker_cpu_start.is_none() {
                measure_start
            } else {
                u64::MAX
            });
        std::thread::sleep(Duration::from_nanos(
            until.saturating_sub(now).clamp(1, 50_000_000),
        ));
    }
    let broker_cpu = match (broker_cpu_start, c.broker_pid.and_then(sys::cpu_ns_of)) {
        (Some((cpu0, t0)), Some(cpu1)) => {
            Some(100.0 * cpu1.saturating_sub(cpu0) as f64 / (shared.now_ns() - t0) as f64)
        }
        _ => None,
    };

    // Drain: wait for what is on its way, then stop.
    shared.set_phase(Phase::Drain);
    let drain_start = shared.now_ns();
    let drain_ns = (c.drain * 1e9) as u64;
    let mut last_seen = (u64::MAX, u64::MAX);
    let mut last_change = drain_start;
    loop {
        let now = shared.now_ns();
        let seen = (shared.total(|p| &p.received), shared.total(|p| &p.acked));
        if seen != last_seen {
            last_seen = seen;
            last_change = now;
        }
        let all_in = shared.total(|p| &p.unique) >= shared.total(|p| &p.expected)
            && shared.total(|p| &p.unacked) == 0;
        // QoS 0 may lose messages for good: a second without news ends the wait.
        let quiet = c.qos == 0 && now - last_change > 1_000_000_000;
        if all_in || quiet || now - drain_start >= drain_ns {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let broker_end = c.broker_pid.and_then(sys::memory_of);
    let drained_s = (shared.now_ns() - drain_start) as f64 / 1e9;
    let results = stop(&shared, handles)?;
    progress.done();

    let mut result = combine(&plan, results, threads);
    result.drain_s = drained_s;
    if let Some(pid) = c.broker_pid {
        result.broker = Some(BrokerStats {
            pid,
            rss_kib_before: broker_before.map(|m| m.rss_kib),
            rss_kib_connected: broker_connected.map(|m| m.rss_kib),
            rss_kib_end: broker_end.map(|m| m.rss_kib),
            hwm_kib: broker_end.map(|m| m.hwm_kib),
            cpu_percent: broker_cpu,
        });
    }
    Ok(result)
}

/// A tag for this run's stamps: different for every run, the same across its threads.
fn run_tag() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ d.as_secs() as u32);
    nanos ^ std::process::id().rotate_left(16)
}

/// Spreads the clients over the workers, subscribers first: connection `n` overall gets the
/// `n`th source address.
fn assign(plan: &Plan, threads: usize) -> Vec<Vec<Client>> {
    let mut per_worker = vec![Vec::new(); threads];
    for (n, s) in plan.subscribers.iter().enumerate() {
        per_worker[n % threads].push(Client::Sub {
            id: s.id,
            source: plan.source_for(n),
        });
    }
    let subs = plan.subscribers.len();
    for (i, p) in plan.publishers.iter().enumerate() {
        per_worker[i % threads].push(Client::Pub {
            id: p.id,
            source: plan.source_for(subs + i),
        });
    }
    per_worker
}

fn first_error(results: &[WorkerResult]) -> Option<&str> {
    results.iter().find_map(|r| r.first_error.as_deref())
}

/// Adds up the workers' counts and histograms into the run's result.
fn combine(plan: &Plan, results: Vec<WorkerResult>, threads: usize) -> RunResult {
    let mut counters = Counters::default();
    let mut latency = new_histogram();
    let mut connect_latency = new_histogram();
    let mut send_lag = new_histogram();
    let mut group: Vec<SeenSet> = vec![SeenSet::default(); plan.publishers.len()];
    let (mut cpu_ns, mut cpu_wall_ns, mut missing) = (0u64, 0u64, 0u64);
    let mut first_connect = u64::MAX;
    let mut last_ready = 0;
    let mut error = None;
    for r in &results {
        counters.add(&r.counters);
        let _ = latency.add(&r.latency);
        let _ = connect_latency.add(&r.connect_latency);
        let _ = send_lag.add(&r.send_lag);
        if plan.accounting == Accounting::Group {
            for (mine, theirs) in group.iter_mut().zip(&r.group_seen) {
                // A message seen on two threads reached two members: a duplicate.
                counters.duplicates += mine.merge(theirs);
            }
        }
        cpu_ns += r.cpu_ns;
        cpu_wall_ns = cpu_wall_ns.max(r.cpu_wall_ns);
        missing += r.missing;
        first_connect = first_connect.min(r.first_connect_ns.unwrap_or(u64::MAX));
        last_ready = last_ready.max(r.last_ready_ns.unwrap_or(0));
        if error.is_none() {
            error = r.first_error.clone();
        }
    }
    if plan.accounting == Accounting::Group {
        counters.unique = group.iter().map(SeenSet::len).sum();
    }
    let connect_s = last_ready.saturating_sub(first_connect) as f64 / 1e9;
    let connected = connect_latency.len();
    let mut result = RunResult::new(
        plan,
        &counters,
        missing,
        &latency,
        ConnectStats {
            count: connected,
            failed: counters.connects_failed,
            seconds: connect_s,
            per_s: if connect_s > 0.0 {
                connected as f64 / connect_s
            } else {
                0.0
            },
            latency_us: Percentiles::of(&connect_latency),
        },
        if cpu_wall_ns > 0 {
            100.0 * cpu_ns as f64 / cpu_wall_ns as f64
        } else {
            0.0
        },
        threads,
        error,
    );
    if plan.common.rate.is_some() {
        result.send_lag_us = Some(Percentiles::of(&send_lag));
    }
    result
}

/// The live progress line on stderr, once a second.
struct Progress {
    quiet: bool,
    last: std::cell::Cell<(u64, u64, u64)>,
    last_setup: std::cell::Cell<Option<Instant>>,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            last: std::cell::Cell::new((0, 0, 0)),
            last_setup: std::cell::Cell::new(None),
        }
    }

    fn setup(&self, ready: u64, failed: u64, total: usize) {
        if self.quiet {
            return;
        }
        let now = Instant::now();
        let due = self
            .last_setup
            .get()
            .is_none_or(|t| now - t >= Duration::from_secs(1));
        if due || ready + failed >= total as u64 {
            self.last_setup.set(Some(now));
            let done = ready + failed >= total as u64;
            let failed = if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            };
            eprint!("\r\x1b[Kconnecting: {ready}/{total} ready{failed}");
            if done {
                eprintln!();
            }
        }
    }

    fn line(&self, shared: &Shared, elapsed_ns: u64, note: &str) {
        let (sent, received) = (shared.total(|p| &p.sent), shared.total(|p| &p.received));
        let (last_sent, last_received, last_ns) = self.last.get();
        self.last.set((sent, received, elapsed_ns));
        let live: Histogram<u64> = shared.take_live();
        if self.quiet {
            return;
        }
        let secs = (elapsed_ns - last_ns) as f64 / 1e9;
        let rate = |now: u64, then: u64| crate::report::count((now - then) as f64 / secs.max(1e-9));
        let p99 = if live.is_empty() {
            "-".to_string()
        } else {
            crate::report::micros(live.value_at_quantile(0.99))
        };
        let conns = shared.total(|p| &p.ready) - shared.total(|p| &p.disconnects);
        let _ = writeln!(
            std::io::stderr(),
            "[{:>4.0}s] sent {:>11}/s  received {:>12}/s  p99 {:>9}  connections {}{note}",
            elapsed_ns as f64 / 1e9,
            rate(sent, last_sent),
            rate(received, last_received),
            p99,
            conns
        );
    }

    fn done(&self) {}
}
