//! Short runs against a midge started in this process: nothing may go missing at a modest
//! rate, and a QoS 1 run may lose nothing at all.

mod common;

use std::sync::OnceLock;

use clap::Parser;
use loadgen::cli::{Cli, Command, ScenarioCmd};
use loadgen::report::RunResult;

/// One broker for every test in this file; it runs until the test process exits.
fn broker_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        common::start_broker("listener 0 127.0.0.1\nallow_anonymous true\n".to_string())
    })
}

fn run(args: &str) -> RunResult {
    let port = broker_port().to_string();
    let argv = std::iter::once("midge_loadgen")
        .chain(args.split_whitespace())
        .chain(["-p", &port, "--quiet", "--warmup", "0.2", "--drain", "2"]);
    let Command::Run(cmd) = Cli::try_parse_from(argv).expect("arguments").command else {
        panic!("not a scenario");
    };
    let cmd: ScenarioCmd = cmd;
    loadgen::run::run(&cmd, false).expect("the run completes")
}

#[test]
fn qos0_fanout_at_a_modest_rate_delivers_every_message_to_every_subscriber() {
    let r = run("fanout --pubs 2 --subs 5 --qos 0 --rate 2000 --duration 0.8");
    // Tests run side by side in a debug build: the schedule may slip, delivery may not.
    assert!(r.sent > 1000, "sent {}", r.sent);
    assert_eq!(r.expected, r.sent * 5);
    assert_eq!(r.received, r.sent * 5, "{}", r.summary());
    assert_eq!((r.lost, r.duplicates, r.out_of_order), (0, 0, 0));
    assert!(r.ok, "{}", r.verdict);
    assert!(r.latency_us.count > 0 && r.latency_us.p50 <= r.latency_us.p99);
    assert_eq!(r.connect.count, 7);
}

#[test]
fn qos1_pairs_closed_loop_lose_nothing() {
    let r = run("pairs -n 4 --qos 1 --inflight 32 --duration 0.8");
    assert!(r.sent > 100, "sent {}", r.sent);
    assert_eq!(r.acked, r.sent, "every PUBLISH acknowledged");
    assert_eq!(r.lost, 0, "{}", r.summary());
    assert!(r.received >= r.sent);
    assert!(r.ok, "{}", r.verdict);
}

#[test]
fn qos2_fanin_over_mqtt5_is_exactly_once() {
    let r = run("fanin --pubs 3 --qos 2 -V 5 --inflight 16 --duration 0.5 --threads 2");
    assert!(r.sent > 50, "sent {}", r.sent);
    assert_eq!((r.lost, r.duplicates), (0, 0), "{}", r.summary());
    assert_eq!(r.received, r.sent);
    assert!(r.ok, "{}", r.verdict);
}

#[test]
fn a_share_group_gets_each_message_once() {
    let r = run("shared --pubs 1 --subs 4 --qos 1 --rate 1000 --duration 0.5 --threads 2");
    assert_eq!(r.expected, r.sent);
    assert_eq!((r.lost, r.duplicates), (0, 0), "{}", r.summary());
}

#[test]
fn idle_connections_are_counted() {
    let r = run("conns -c 50 --duration 0.2");
    assert_eq!(r.connect.count, 50);
    assert_eq!(r.connect.failed, 0);
    assert!(r.ok, "{}", r.verdict);
}
