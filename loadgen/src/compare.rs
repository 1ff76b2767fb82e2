//! Several runs side by side: run one scenario against each `--target` in turn, or read
//! saved results, then print a markdown table with ratios to the first run and draw their
//! latency curves in one SVG chart.

use std::path::Path;

use crate::cli::{CompareArgs, ScenarioCmd};
use crate::report::{RunResult, count, micros};
use crate::svg::{Series, latency_chart};

/// A `--target NAME=HOST:PORT[/PID]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub pid: Option<u32>,
}

pub fn parse_target(spec: &str) -> Result<Target, String> {
    let bad = || format!("--target {spec:?}: expected NAME=HOST:PORT or NAME=HOST:PORT/PID");
    let (name, addr) = spec.split_once('=').ok_or_else(bad)?;
    let (addr, pid) = match addr.split_once('/') {
        Some((a, p)) => (a, Some(p.parse().map_err(|_| bad())?)),
        None => (addr, None),
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || host.is_empty() {
        return Err(bad());
    }
    Ok(Target {
        name: name.to_string(),
        host: host.to_string(),
        port: port.parse().map_err(|_| bad())?,
        pid,
    })
}

/// Runs the comparison; Ok(false) if any run failed its own checks.
pub fn compare(args: &CompareArgs) -> Result<bool, String> {
    let mut results = Vec::new();
    for path in &args.from {
        results.extend(load(path)?);
    }
    if !args.target.is_empty() {
        let scenario = args.scenario.as_ref().ok_or(
            "--target needs a scenario to run, e.g. `compare --target ... fanout --subs 100`",
        )?;
        let targets: Vec<Target> = args
            .target
            .iter()
            .map(|t| parse_target(t))
            .collect::<Result<_, _>>()?;
        for (i, t) in targets.iter().enumerate() {
            if i > 0 {
                // Let the previous broker's sockets and queues settle.
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
            let mut cmd: ScenarioCmd = scenario.clone();
            let c = cmd.common_mut();
            c.host = t.host.clone();
            c.port = t.port;
            c.name = Some(t.name.clone());
            c.broker_pid = t.pid.or(c.broker_pid);
            eprintln!("== {} ({}:{})", t.name, t.host, t.port);
            let result = crate::run::run(&cmd, false)?;
            eprint!("{}", result.summary());
            if let Some(dir) = &args.save {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = dir.join(format!("{}.json", t.name));
                std::fs::write(&path, result.json() + "\n")
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            results.push(result);
        }
    }
    if results.is_empty() {
        return Err(
            "nothing to compare: give --target NAME=HOST:PORT (with a scenario) or --from FILE"
                .into(),
        );
    }
    let table = markdown(&results);
    print!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let title = args.title.clone().unwrap_or_else(|| describe(&results[0]));
    let series: Vec<Series> = results
        .iter()
        .map(|r| Series {
            name: &r.name,
            points: &r.percentiles,
            count: r.latency_us.count,
        })
        .collect();
    std::fs::write(&args.svg, latency_chart(&title, &series))
        .map_err(|e| format!("{}: {e}", args.svg.display()))?;
    eprintln!("latency chart: {}", args.svg.display());
    Ok(results.iter().all(|r| r.ok))
}

/// Every JSON object in a file, one per line (the `--json` output, possibly several runs).
pub fn load(path: &Path) -> Result<Vec<RunResult>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let results: Vec<RunResult> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{}: {e}", path.display())))
        .collect::<Result<_, _>>()?;
    if results.is_empty() {
        return Err(format!("{}: no result in it", path.display()));
    }
    Ok(results)
}

/// "fanout 1→100, QoS 0, 64 B, closed loop"
pub fn describe(r: &RunResult) -> String {
    let shape = match r.scenario.as_str() {
        "conns" => format!("{} connections", r.subscribers),
        "pairs" => format!("{} pairs", r.publishers),
        _ => format!("{}→{}", r.publishers, r.subscribers),
    };
    let pacing = r.rate.map_or("closed loop".to_string(), |rate| {
        format!("{} msg/s", count(rate as f64))
    });
    format!(
        "{} {shape}, MQTT {} QoS {}, {} B, {pacing}",
        r.scenario, r.mqtt, r.qos, r.payload
    )
}

/// Which way is better for a row, for the ratio's reading.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
    Neither,
}

/// The markdown table: one column per run, then one ratio column per later run against
/// the first.
pub fn markdown(results: &[RunResult]) -> String {
    type Row = (
        &'static str,
        Better,
        fn(&RunResult) -> Option<f64>,
        fn(f64) -> String,
    );
    let rows: [Row; 14] = [
        (
            "sent msg/s",
            Better::Higher,
            |r| Some(r.sent_per_s),
            |v| count(v),
        ),
        (
            "received msg/s",
            Better::Higher,
            |r| Some(r.received_per_s),
            |v| count(v),
        ),
        (
            "received MB/s",
            Better::Higher,
            |r| Some(r.received_bytes_per_s / 1e6),
            |v| format!("{v:.1}"),
        ),
        ("lost", Better::Lower, |r| Some(r.lost as f64), |v| count(v)),
        (
            "duplicates",
            Better::Lower,
            |r| Some(r.duplicates as f64),
            |v| count(v),
        ),
        (
            "latency p50",
            Better::Lower,
            |r| lat(r, r.latency_us.p50),
            us,
        ),
        (
            "latency p90",
            Better::Lower,
            |r| lat(r, r.latency_us.p90),
            us,
        ),
        (
            "latency p99",
            Better::Lower,
            |r| lat(r, r.latency_us.p99),
            us,
        ),
        (
            "latency p99.9",
            Better::Lower,
            |r| lat(r, r.latency_us.p999),
            us,
        ),
        (
            "latency p99.99",
            Better::Lower,
            |r| lat(r, r.latency_us.p9999),
            us,
        ),
        (
            "latency max",
            Better::Lower,
            |r| lat(r, r.latency_us.max),
            us,
        ),
        (
            "connects/s",
            Better::Higher,
            |r| Some(r.connect.per_s),
            |v| count(v),
        ),
        (
            "broker RSS (MiB)",
            Better::Lower,
            |r| r.broker.as_ref()?.rss_kib_end.map(|k| k as f64 / 1024.0),
            |v| format!("{v:.1}"),
        ),
        (
            "broker CPU %",
            Better::Neither,
            |r| r.broker.as_ref()?.cpu_percent,
            |v| format!("{v:.0}"),
        ),
    ];
    let base = &results[0];
    let mut s = format!("**{}**\n\n|  |", describe(base));
    for r in results {
        s += &format!(" {} |", r.name);
    }
    for r in &results[1..] {
        s += &format!(" {} / {} |", r.name, base.name);
    }
    s += "\n|---|";
    s += &"---:|".repeat(2 * results.len() - 1);
    s += "\n";
    let idle = results.iter().all(|r| r.scenario == "conns");
    for (name, better, get, fmt) in rows {
        // Idle connections carry no messages: only the connection and broker rows say anything.
        if idle && !name.starts_with("conn") && !name.starts_with("broker") {
            continue;
        }
        let values: Vec<Option<f64>> = results.iter().map(get).collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        s += &format!("| {name} |");
        for v in &values {
            s += &format!(" {} |", v.map_or("–".into(), fmt));
        }
        for v in &values[1..] {
            s += &format!(" {} |", ratio(values[0], *v, better));
        }
        s += "\n";
    }
    s += "| verdict |";
    for r in results {
        s += &format!(" {} |", if r.ok { "ok" } else { "**FAILED**" });
    }
    s += &" |".repeat(results.len() - 1);
    s += "\n\n";
    s
}

fn lat(r: &RunResult, v: u64) -> Option<f64> {
    (r.latency_us.count > 0).then_some(v as f64)
}

fn us(v: f64) -> String {
    micros(v as u64)
}

/// "2.31×", with the better side marked when it matters which way is better.
fn ratio(base: Option<f64>, other: Option<f64>, better: Better) -> String {
    match (base, other) {
        (Some(b), Some(o)) if b > 0.0 => {
            let r = o / b;
            let mark = match better {
                Better::Higher if r < 0.95 => " (worse)",
                Better::Lower if r > 1.05 => " (worse)",
                Better::Higher if r > 1.05 => " (better)",
                Better::Lower if r < 0.95 => " (better)",
                _ => "",
            };
            format!("{r:.2}×{mark}")
        }
        (Some(b), Some(o)) if b == 0.0 && o == 0.0 => "=".into(),
        _ => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_a_broker_and_optionally_its_pid() {
        assert_eq!(
            parse_target("midge=127.0.0.1:1883/42").unwrap(),
            Target {
                name: "midge".into(),
                host: "127.0.0.1".into(),
                port: 1883,
                pid: Some(42)
            }
        );
        assert_eq!(parse_target("m=[::1]:1884").unwrap().host, "::1");
        for bad in ["midge", "=127.0.0.1:1", "m=127.0.0.1", "m=h:x", "m=h:1/x"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    fn result(name: &str, received_per_s: f64, p99: u64) -> RunResult {
        let mut r = RunResult {
            name: name.into(),
            scenario: "fanout".into(),
            mqtt: "3.1.1".into(),
            publishers: 1,
            subscribers: 100,
            payload: 64,
            received_per_s,
            ok: true,
            ..RunResult::default()
        };
        r.latency_us.count = 10;
        r.latency_us.p99 = p99;
        r
    }

    #[test]
    fn the_table_puts_runs_side_by_side_with_ratios_to_the_first() {
        let table = markdown(&[
            result("midge", 2_000_000.0, 100),
            result("mosquitto", 500_000.0, 400),
        ]);
        assert!(
            table.contains("| | midge | mosquitto | mosquitto / midge |")
                || table.contains("|  | midge | mosquitto | mosquitto / midge |"),
            "{table}"
        );
        assert!(
            table.contains("| received msg/s | 2,000,000 | 500,000 | 0.25× (worse) |"),
            "{table}"
        );
        assert!(
            table.contains("| latency p99 | 100 µs | 400 µs | 4.00× (worse) |"),
            "{table}"
        );
        assert!(
            !table.contains("broker RSS"),
            "rows nobody measured are left out"
        );
    }

    #[test]
    fn saved_results_round_trip() {
        let dir = std::env::temp_dir().join(format!("loadgen-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.json");
        let r = result("midge", 1.0, 1);
        std::fs::write(&path, format!("{}\n{}\n", r.json(), r.json())).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].name, "midge");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
