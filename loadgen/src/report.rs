//! A run's result and the ways it is shown: the summary table, one JSON object, and the
//! percentile distribution in HdrHistogram's `.hgrm` text format.

use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::stats::{Counters, Percentiles};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConnectStats {
    /// Connections that got their CONNACK.
    pub count: u64,
    pub failed: u64,
    /// From the first connect() to the last client ready.
    pub seconds: f64,
    pub per_s: f64,
    /// connect() to CONNACK.
    pub latency_us: Percentiles,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BrokerStats {
    pub pid: u32,
    pub rss_kib_before: Option<u64>,
    pub rss_kib_connected: Option<u64>,
    pub rss_kib_end: Option<u64>,
    pub hwm_kib: Option<u64>,
    /// Of one core, over the measured window.
    pub cpu_percent: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunResult {
    pub name: String,
    pub scenario: String,
    pub target: String,
    pub mqtt: String,
    pub qos: u8,
    pub payload: usize,
    pub publishers: usize,
    pub subscribers: usize,
    pub connections: usize,
    pub rate: Option<u64>,
    pub inflight: u32,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub drain_s: f64,
    pub threads: usize,
    pub sent: u64,
    pub received: u64,
    pub expected: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub acked: u64,
    pub foreign: u64,
    pub errors: u64,
    pub disconnects: u64,
    pub behind_schedule: u64,
    pub stalls: u64,
    /// Skipped sequence numbers that never arrived (the rest of `lost` was still at the tail).
    pub gaps_missing: u64,
    pub sent_per_s: f64,
    pub received_per_s: f64,
    pub sent_bytes_per_s: f64,
    pub received_bytes_per_s: f64,
    pub latency_us: Percentiles,
    /// How late the generator sent scheduled messages (`--rate` runs): its own lag, or the
    /// broker holding it back.
    pub send_lag_us: Option<Percentiles>,
    pub connect: ConnectStats,
    pub broker: Option<BrokerStats>,
    /// The generator's own CPU over the measured window, in % of one core (all threads).
    pub loadgen_cpu_percent: f64,
    /// The latency curve: (quantile, microseconds), as HdrHistogram iterates it.
    pub percentiles: Vec<(f64, u64)>,
    pub first_error: Option<String>,
    /// False when a QoS 1/2 run lost messages, a QoS 2 run duplicated one, or a client was
    /// disconnected.
    pub ok: bool,
    pub verdict: String,
    #[serde(skip)]
    pub histogram: Option<Histogram<u64>>,
}

impl RunResult {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        plan: &Plan,
        c: &Counters,
        gaps_missing: u64,
        latency: &Histogram<u64>,
        connect: ConnectStats,
        loadgen_cpu_percent: f64,
        threads: usize,
        first_error: Option<String>,
    ) -> RunResult {
        let o = &plan.common;
        let lost = c.expected.saturating_sub(c.unique);
        let per_s = |n: u64| n as f64 / o.duration;
        let mut r = RunResult {
            name: o.name.clone().unwrap_or_else(|| plan.target.to_string()),
            scenario: plan.scenario.to_string(),
            target: plan.target.to_string(),
            mqtt: if o.version() == midge::protocol::Version::V5 {
                "5"
            } else {
                "3.1.1"
            }
            .into(),
            qos: o.qos,
            payload: plan.payload,
            publishers: plan.publishers.len(),
            subscribers: plan.subscribers.len(),
            connections: plan.connections(),
            rate: o.rate,
            inflight: o.inflight,
            duration_s: o.duration,
            warmup_s: o.warmup,
            drain_s: 0.0,
            threads,
            sent: c.sent,
            received: c.received,
            expected: c.expected,
            lost,
            duplicates: c.duplicates,
            out_of_order: c.out_of_order,
            acked: c.acked,
            foreign: c.foreign,
            errors: c.errors,
            disconnects: c.disconnects,
            behind_schedule: c.behind_schedule,
            stalls: c.stalls,
            gaps_missing,
            sent_per_s: per_s(c.sent_measured),
            received_per_s: per_s(c.received_measured),
            sent_bytes_per_s: per_s(c.bytes_sent_measured),
            received_bytes_per_s: per_s(c.bytes_received_measured),
            latency_us: Percentiles::of(latency),
            send_lag_us: None,
            connect,
            broker: None,
            loadgen_cpu_percent,
            percentiles: curve(latency),
            first_error,
            ok: true,
            verdict: String::new(),
            histogram: Some(latency.clone()),
        };
        r.judge();
        r
    }

    /// Decides `ok` and says why in `verdict`.
    pub fn judge(&mut self) {
        let mut problems = Vec::new();
        if self.qos > 0 && self.lost > 0 {
            problems.push(format!("LOST {} QoS {} messages", self.lost, self.qos));
        }
        if self.qos == 2 && self.duplicates > 0 {
            problems.push(format!("{} DUPLICATES at QoS 2", self.duplicates));
        }
        if self.disconnects > 0 {
            problems.push(format!("{} clients DISCONNECTED", self.disconnects));
        }
        self.ok = problems.is_empty();
        self.verdict = if self.ok {
            match (self.lost, self.qos) {
                (0, _) => "OK: nothing lost".into(),
                (n, _) => format!(
                    "OK for QoS 0, which may drop: {} of {} deliveries lost ({:.3} %)",
                    n,
                    self.expected,
                    100.0 * n as f64 / self.expected.max(1) as f64
                ),
            }
        } else {
            format!("FAILED: {}", problems.join("; "))
        };
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let shape = match self.scenario.as_str() {
            "conns" => format!("{} connections", self.subscribers),
            "fanin" => format!("{} pubs -> 1 sub (wildcard)", self.publishers),
            "pairs" => format!("{} pub/sub pairs", self.publishers),
            "shared" => format!(
                "{} pubs -> $share group of {}",
                self.publishers, self.subscribers
            ),
            _ => format!("{} pubs -> {} subs", self.publishers, self.subscribers),
        };
        let pacing = match self.rate {
            Some(r) => format!("{} msg/s scheduled", count(r as f64)),
            None => format!("closed loop, {} in flight per publisher", self.inflight),
        };
        let _ = writeln!(
            s,
            "\n{} against {} ({}): {shape}, MQTT {} QoS {}, {} B payload, {pacing}",
            self.scenario, self.target, self.name, self.mqtt, self.qos, self.payload
        );
        let threads = format!(
            "{} thread{}",
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        );
        if self.scenario == "conns" {
            let _ = writeln!(s, "held {} s, {threads}\n", self.duration_s + self.warmup_s);
        } else {
            let _ = writeln!(
                s,
                "measured {} s after {} s warm-up, drained {:.1} s, {threads}\n",
                self.duration_s, self.warmup_s, self.drain_s,
            );
        }
        if self.scenario != "conns" {
            let _ = writeln!(
                s,
                "  {:<14} {:>15} {:>14} {:>12}",
                "", "messages", "msg/s", "MB/s"
            );
            let row = |s: &mut String, what: &str, n: u64, rate: Option<(f64, f64)>| {
                let (r, b) = rate.map_or((String::new(), String::new()), |(r, b)| {
                    (count(r), format!("{:.1}", b / 1e6))
                });
                let _ = writeln!(s, "  {what:<14} {:>15} {r:>14} {b:>12}", count(n as f64));
            };
            row(
                &mut s,
                "sent",
                self.sent,
                Some((self.sent_per_s, self.sent_bytes_per_s)),
            );
            row(
                &mut s,
                "received",
                self.received,
                Some((self.received_per_s, self.received_bytes_per_s)),
            );
            row(&mut s, "expected", self.expected, None);
            let pct = 100.0 * self.lost as f64 / self.expected.max(1) as f64;
            let _ = writeln!(
                s,
                "  {:<14} {:>15}   ({pct:.4} %)",
                "lost",
                count(self.lost as f64)
            );
            row(&mut s, "duplicates", self.duplicates, None);
            row(&mut s, "out of order", self.out_of_order, None);
            for (what, n) in [
                ("behind sched.", self.behind_schedule),
                ("stalls", self.stalls),
                ("foreign", self.foreign),
            ] {
                if n > 0 {
                    row(&mut s, what, n, None);
                }
            }
            let _ = writeln!(s);
            s.push_str(&ladder("latency", &self.latency_us));
        }
        if let Some(lag) = &self.send_lag_us {
            let _ = writeln!(
                s,
                "\n  send lag behind the schedule: p50 {} p99 {} max {}",
                micros(lag.p50),
                micros(lag.p99),
                micros(lag.max)
            );
        }
        let cn = &self.connect;
        let _ = writeln!(
            s,
            "\n  connect: {} ready in {:.2} s ({}/s){}, CONNACK latency p50 {} p99 {} max {}",
            count(cn.count as f64),
            cn.seconds,
            count(cn.per_s),
            if cn.failed > 0 {
                format!(", {} FAILED", cn.failed)
            } else {
                String::new()
            },
            micros(cn.latency_us.p50),
            micros(cn.latency_us.p99),
            micros(cn.latency_us.max)
        );
        if let Some(b) = &self.broker {
            let mib =
                |k: Option<u64>| k.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
            let _ = write!(
                s,
                "  broker pid {}: RSS {} before, {} connected, {} at the end (peak {})",
                b.pid,
                mib(b.rss_kib_before),
                mib(b.rss_kib_connected),
                mib(b.rss_kib_end),
                mib(b.hwm_kib)
            );
            if let (Some(before), Some(after)) = (b.rss_kib_before, b.rss_kib_connected)
                && self.connect.count > 0
            {
                let per =
                    (after.saturating_sub(before) as f64 * 1024.0) / self.connect.count as f64;
                let _ = write!(s, ", {per:.0} B per connection");
            }
            if let Some(cpu) = b.cpu_percent {
                let _ = write!(s, "; CPU {cpu:.0} %");
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(
            s,
            "  loadgen CPU: {:.0} % of one core over {} thread{}{}",
            self.loadgen_cpu_percent,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            if self.rate.is_some() {
                " (it spins between scheduled sends: the send lag says whether it kept up)"
            } else if self.loadgen_cpu_percent > 90.0 * self.threads as f64 {
                " (saturated: add --threads, the generator may be the bottleneck)"
            } else {
                ""
            }
        );
        if let Some(e) = &self.first_error {
            let _ = writeln!(s, "  errors: {} (first: {e})", self.errors);
        }
        let _ = writeln!(s, "\n  {}", self.verdict);
        s
    }

    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// The percentiles as a ladder with log-scaled bars: the shape of the tail at a glance.
pub fn ladder(title: &str, p: &Percentiles) -> String {
    let rows = [
        ("p50", p.p50),
        ("p90", p.p90),
        ("p99", p.p99),
        ("p99.9", p.p999),
        ("p99.99", p.p9999),
        ("max", p.max),
    ];
    let mut s = format!(
        "  {title} ({} samples, mean {})\n",
        count(p.count as f64),
        micros(p.mean as u64)
    );
    if p.count == 0 {
        s.push_str("    (no samples)\n");
        return s;
    }
    let top = (p.max.max(1) as f64).log10().max(1.0);
    for (name, v) in rows {
        let width = ((v.max(1) as f64).log10() / top * 40.0).round() as usize;
        let _ = writeln!(
            s,
            "    {name:<7} {:>10}  {}",
            micros(v),
            "#".repeat(width.max(1))
        );
    }
    s
}

/// The curve HdrHistogram's plotters draw: 5 ticks per half distance to 100 %.
pub fn curve(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(5)
        .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
        .collect()
}

/// The percentile distribution as HdrHistogram's `outputPercentileDistribution` writes it,
/// values in milliseconds, which its plotters (and wrk2's) read.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let scale = 1000.0; // recorded in µs, written in ms
    let mut s = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for v in h.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let value = v.value_iterated_to() as f64 / scale;
        if q < 1.0 {
            let _ = writeln!(
                s,
                "{value:12.3} {q:2.12} {total:10} {:14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(s, "{value:12.3} {q:2.12} {total:10}");
        }
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    );
    let _ = writeln!(
        s,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    );
    // HdrHistogram's sub-bucket count: the power of two above 2·10^digits.
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    let _ = writeln!(
        s,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        sub_buckets
    );
    s
}

/// A count with thousands separators: 12,345,678.
pub fn count(n: f64) -> String {
    let n = n.round().max(0.0) as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds in the unit a person reads best: 850 µs, 12.3 ms, 4.56 s.
pub fn micros(us: u64) -> String {
    match us {
        0..=9_999 => format!("{us} µs"),
        10_000..=999_999 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn hgrm_has_hdrhistograms_columns_and_footer() {
        let mut h = new_histogram();
        for us in 1..=1000 {
            h.record(us).unwrap();
        }
        let text = hgrm(&h);
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines.next().unwrap(), "");
        let first: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(first, ["0.001", "0.000000000000", "1", "1.00"]);
        let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        let last: Vec<&str> = rows.last().unwrap().split_whitespace().collect();
        assert_eq!(last, ["1.000", "1.000000000000", "1000"]);
        assert!(text.contains("#[Mean    =        0.500, StdDeviation   =        0.289]"));
        assert!(text.contains("#[Max     =        1.000, Total count    =         1000]"));
        assert!(text.contains("SubBuckets     =         2048]"));
        // Counts only ever grow down the table.
        let counts: Vec<u64> = rows[2..]
            .iter()
            .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn numbers_read_at_a_glance() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_234_567.4), "1,234,567");
        assert_eq!(micros(850), "850 µs");
        assert_eq!(micros(12_345), "12.35 ms");
        assert_eq!(micros(4_560_000), "4.56 s");
    }

    #[test]
    fn losing_qos_1_messages_fails_the_run_and_qos_0_only_reports() {
        let mut r = RunResult {
            qos: 1,
            expected: 100,
            lost: 1,
            ..RunResult::default()
        };
        r.judge();
        assert!(!r.ok);
        assert!(r.verdict.contains("LOST 1 QoS 1"));
        r.qos = 0;
        r.judge();
        assert!(r.ok);
        assert!(r.verdict.contains("1 of 100"));
    }

    #[test]
    fn the_ladder_shows_every_percentile() {
        let mut h = new_histogram();
        for us in [10, 20, 30, 40, 10_000] {
            h.record(us).unwrap();
        }
        let text = ladder("latency", &Percentiles::of(&h));
        for p in ["p50", "p90", "p99", "p99.9", "p99.99", "max"] {
            assert!(text.contains(p), "{text}");
        }
        assert!(text.contains("10.0"), "{text}");
    }
}
