//! The command line: `midge_loadgen SCENARIO [options]`, `sink SCENARIO`, `compare`.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use midge::protocol::{QoS, Version};

#[derive(Parser, Debug)]
#[command(
    name = "midge_loadgen",
    version,
    about = "Load generator for any MQTT 3.1.1/5.0 broker: throughput, loss and latency",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[command(flatten)]
    Run(ScenarioCmd),
    /// Run a scenario against an in-process fake broker, to measure the generator's own ceiling.
    Sink(SinkArgs),
    /// Run one scenario against several brokers, or read saved results, and compare them.
    Compare(CompareArgs),
}

#[derive(Subcommand, Debug, Clone)]
pub enum ScenarioCmd {
    /// P publishers, S subscribers, all on one topic: every message goes to every subscriber.
    #[command(disable_help_flag = true)]
    Fanout {
        #[arg(long, default_value_t = 1)]
        pubs: u32,
        #[arg(long, default_value_t = 100)]
        subs: u32,
        #[command(flatten)]
        common: Common,
    },
    /// N publishers on distinct topics, one subscriber on a wildcard over all of them.
    #[command(disable_help_flag = true)]
    Fanin {
        #[arg(long, default_value_t = 100)]
        pubs: u32,
        #[command(flatten)]
        common: Common,
    },
    /// N publisher/subscriber pairs, each pair on a topic of its own.
    #[command(disable_help_flag = true)]
    Pairs {
        #[arg(long, short = 'n', default_value_t = 100)]
        pairs: u32,
        #[command(flatten)]
        common: Common,
    },
    /// Publishers into a $share group of S subscribers: each message goes to one member.
    #[command(disable_help_flag = true)]
    Shared {
        #[arg(long, default_value_t = 1)]
        pubs: u32,
        #[arg(long, default_value_t = 10)]
        subs: u32,
        /// The share group's name.
        #[arg(long, default_value = "loadgen")]
        group: String,
        #[command(flatten)]
        common: Common,
    },
    /// Open C connections, each with a subscription, hold them for --duration: connect rate,
    /// connect latency and (with --broker-pid) the broker's memory.
    #[command(disable_help_flag = true)]
    Conns {
        #[arg(long, short = 'c', default_value_t = 1000)]
        conns: u32,
        #[command(flatten)]
        common: Common,
    },
}

impl ScenarioCmd {
    pub fn common(&self) -> &Common {
        match self {
            ScenarioCmd::Fanout { common, .. }
            | ScenarioCmd::Fanin { common, .. }
            | ScenarioCmd::Pairs { common, .. }
            | ScenarioCmd::Shared { common, .. }
            | ScenarioCmd::Conns { common, .. } => common,
        }
    }

    pub fn common_mut(&mut self) -> &mut Common {
        match self {
            ScenarioCmd::Fanout { common, .. }
            | ScenarioCmd::Fanin { common, .. }
            | ScenarioCmd::Pairs { common, .. }
            | ScenarioCmd::Shared { common, .. }
            | ScenarioCmd::Conns { common, .. } => common,
        }
    }
}

/// Options every scenario takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Broker host (a loopback address or name, unless --allow-remote).
    #[arg(short = 'h', long, default_value = "127.0.0.1")]
    pub host: String,
    /// Allow a broker that is not on this machine.
    #[arg(long)]
    pub allow_remote: bool,
    #[arg(short = 'p', long, default_value_t = 1883)]
    pub port: u16,
    /// QoS of publishes and subscriptions.
    #[arg(short = 'q', long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Payload bytes per message (at least 24: the stamp of publisher, sequence and time).
    #[arg(short = 's', long, default_value_t = 64)]
    pub payload: usize,
    /// Total messages per second over all publishers, on a fixed schedule. Without it, each
    /// publisher sends as fast as the broker takes, at most --inflight messages outstanding.
    #[arg(short = 'r', long)]
    pub rate: Option<u64>,
    /// Seconds measured.
    #[arg(short = 'd', long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of publishing before measuring starts (counted for loss, not for latency).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait, after publishing stops, for messages still on their way.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Messages outstanding per publisher: unacknowledged (QoS 1/2), and undelivered to each
    /// matching subscriber (closed loop, every QoS).
    #[arg(long, default_value_t = 256)]
    pub inflight: u32,
    /// MQTT version: 311 or 5.
    #[arg(short = 'V', long = "protocol-version", default_value = "311", value_parser = ["311", "5", "mqttv311", "mqttv5"])]
    pub protocol_version: String,
    /// Topic template; %i is the publisher (or pair, or connection) number.
    #[arg(short = 't', long)]
    pub topic: Option<String>,
    /// Publish retained messages (cleared again at the end of the run).
    #[arg(long)]
    pub retain: bool,
    /// Subscribers ask for sessions that outlive their connection (MQTT 3.1.1 clean session
    /// 0, MQTT 5 a session expiry of 0xFFFFFFFF), so that a broker with persistence keeps
    /// on disk what it sends them.
    #[arg(long)]
    pub persistent: bool,
    /// Worker threads; connections are spread over them.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Write the latency percentile distribution in HdrHistogram's .hgrm format.
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// The broker's process id, to report its memory (VmRSS, VmHWM) and CPU.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// A label for this run in reports and comparisons.
    #[arg(long)]
    pub name: Option<String>,
    /// Connection attempts under way at once.
    #[arg(long, default_value_t = 500)]
    pub connect_concurrency: u32,
    /// Seconds allowed for connecting and subscribing every client.
    #[arg(long, default_value_t = 60.0)]
    pub connect_timeout: f64,
    /// Connections per source address to a loopback IPv4 broker; past it the next
    /// 127.0.0.x is bound, since one source address has ~28k ephemeral ports.
    #[arg(long, default_value_t = 25_000)]
    pub conns_per_ip: u32,
    /// No live progress on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// TLS, as mosquitto's clients take it: on with `--cafile` or `--capath`.
    #[command(flatten)]
    pub tls: midge::client::tls::TlsArgs,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
}

impl Common {
    pub fn version(&self) -> Version {
        if self.protocol_version.ends_with('5') {
            Version::V5
        } else {
            Version::V311
        }
    }

    pub fn qos(&self) -> QoS {
        QoS::from_u8(self.qos).unwrap_or_default()
    }

    /// Checks what clap cannot: ranges that depend on the unit, and sizes that make sense.
    pub fn validate(&self) -> Result<(), String> {
        let seconds = |name: &str, v: f64, min: f64| {
            if v.is_finite() && (min..=86_400.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("--{name} must be between {min} and 86400 seconds"))
            }
        };
        seconds("duration", self.duration, 0.01)?;
        seconds("warmup", self.warmup, 0.0)?;
        seconds("drain", self.drain, 0.0)?;
        seconds("connect-timeout", self.connect_timeout, 0.1)?;
        if !(1..=256).contains(&self.threads) {
            return Err("--threads must be between 1 and 256".into());
        }
        if self.payload > 64 << 20 {
            return Err("--payload must be at most 64 MiB".into());
        }
        if !(1..=32_768).contains(&self.inflight) {
            return Err("--inflight must be between 1 and 32768".into());
        }
        if self.rate == Some(0) {
            return Err("--rate must be above 0 (leave it out to run closed-loop)".into());
        }
        if self.connect_concurrency == 0 || self.conns_per_ip == 0 {
            return Err("--connect-concurrency and --conns-per-ip must be above 0".into());
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct SinkArgs {
    /// Acknowledge publishes and forward nothing: measures the publishing side alone.
    #[arg(long)]
    pub swallow: bool,
    #[command(subcommand)]
    pub scenario: ScenarioCmd,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// NAME=HOST:PORT of a broker to run the scenario against (repeatable, run in order).
    /// Append /PID to report that broker's memory and CPU: midge=127.0.0.1:1883/4242.
    #[arg(long, value_name = "NAME=HOST:PORT[/PID]")]
    pub target: Vec<String>,
    /// A saved result (`--json` output) to compare (repeatable).
    #[arg(long, value_name = "FILE")]
    pub from: Vec<PathBuf>,
    /// Where to write the latency chart.
    #[arg(long, value_name = "FILE", default_value = "compare.svg")]
    pub svg: PathBuf,
    /// Also write the markdown table to this file.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Save each target's result as NAME.json in this directory.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Chart title.
    #[arg(long)]
    pub title: Option<String>,
    /// The scenario to run against every target.
    #[command(subcommand)]
    pub scenario: Option<ScenarioCmd>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("midge_loadgen").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_briefs_example_parses() {
        let cli = parse(&[
            "fanout",
            "-h",
            "127.0.0.1",
            "-p",
            "1883",
            "--pubs",
            "1",
            "--subs",
            "100",
            "--qos",
            "0",
            "--payload",
            "64",
            "--rate",
            "2000",
            "--duration",
            "10",
            "--json",
            "--hgrm",
            "out.hgrm",
        ])
        .unwrap();
        let Command::Run(ScenarioCmd::Fanout { pubs, subs, common }) = cli.command else {
            panic!("not fanout");
        };
        assert_eq!(
            (pubs, subs, common.port, common.rate),
            (1, 100, 1883, Some(2000))
        );
        assert!(common.json && common.hgrm.is_some());
        assert_eq!(common.version(), Version::V311);
        common.validate().unwrap();
    }

    #[test]
    fn minus_h_is_the_host_and_help_is_long_only() {
        let cli = parse(&["pairs", "-h", "localhost", "-V", "5", "-n", "3"]).unwrap();
        let Command::Run(s) = cli.command else {
            panic!()
        };
        assert_eq!(s.common().host, "localhost");
        assert_eq!(s.common().version(), Version::V5);
        let help = parse(&["fanin", "--help"]).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn nonsense_is_refused() {
        assert!(parse(&["fanout", "--qos", "3"]).is_err());
        assert!(parse(&["fanout", "-V", "4"]).is_err());
        let cli = parse(&["conns", "--duration", "0"]).unwrap();
        let Command::Run(s) = cli.command else {
            panic!()
        };
        assert!(s.common().validate().is_err());
    }

    #[test]
    fn sink_and_compare_take_a_scenario() {
        let cli = parse(&["sink", "--swallow", "fanin", "--pubs", "5"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Sink(SinkArgs { swallow: true, .. })
        ));
        let cli = parse(&[
            "compare",
            "--target",
            "a=127.0.0.1:1",
            "--target",
            "b=127.0.0.1:2/77",
            "fanout",
            "--subs",
            "3",
        ])
        .unwrap();
        let Command::Compare(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.target.len(), 2);
        assert!(matches!(
            c.scenario,
            Some(ScenarioCmd::Fanout { subs: 3, .. })
        ));
    }
}
