//! Subscription storms: 10,000 clients subscribing to one hot filter and unsubscribing
//! again, and 10,000 clients joining and leaving one shared group. Each iteration is the
//! whole storm, so per-operation work that grows with the list shows as quadratic time.
//! Then issue 11's hoarder, through the whole broker in process: one client with 200,000
//! subscriptions disconnects, and its session is torn down; and a persistent session with
//! 100,000 subscriptions reconnects and disconnects, telling its shared groups each time.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use midge::protocol::{QoS, SubOptions};
use midge::router::{Router, Subscriber, Target};
use midge::shared::{Member, SharedGroups};
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use midge::broker::Broker;
use midge::config::Config;
use mio::Token;

mod common;

#[allow(dead_code)]
#[path = "../tests/common/packets.rs"]
mod packets;

const CLIENTS: usize = 10_000;

fn subscriber(session: usize) -> Subscriber {
    Subscriber {
        target: Target::Session(midge::ids::SessionKey(session)),
        options: SubOptions::qos(QoS::AtMostOnce),
        subscription_id: 0,
    }
}

fn member(session: usize) -> Member {
    Member {
        session: midge::ids::SessionKey(session),
        options: SubOptions::qos(QoS::AtMostOnce),
        subscription_id: 0,
    }
}

/// Every client subscribes, then every client unsubscribes, in the order they came.
fn hot_filter(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    for filter in ["hot/topic", "hot/+"] {
        let filter = midge::protocol::ByteStr::from(filter);
        group.bench_with_input(
            BenchmarkId::new("subscribe_unsubscribe", filter.as_str()),
            &filter,
            |b, filter| {
                let mut router = Router::new();
                b.iter(|| {
                    for i in 0..CLIENTS {
                        router.subscribe(filter, subscriber(i));
                    }
                    for i in 0..CLIENTS {
                        black_box(
                            router.unsubscribe(filter, Target::Session(midge::ids::SessionKey(i))),
                        );
                    }
                })
            },
        );
    }
    group.finish();
}

/// Every client joins one `$share` group, then every client leaves it.
fn shared_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    group.bench_function("shared_join_leave", |b| {
        let mut groups = SharedGroups::default();
        b.iter(|| {
            for i in 0..CLIENTS {
                groups.join("g", "hot/topic", member(i), true);
            }
            for i in 0..CLIENTS {
                black_box(groups.leave("g", "hot/topic", midge::ids::SessionKey(i)));
            }
        })
    });
    group.finish();
}

/// Messages to a group of 10,000 where only the last member to join is online.
fn shared_pick(c: &mut Criterion) {
    let mut groups = SharedGroups::default();
    let mut key = midge::ids::GroupKey(0);
    for i in 0..CLIENTS {
        key = groups.join("g", "hot/topic", member(i), i == CLIENTS - 1).0;
    }
    let mut group = c.benchmark_group("churn");
    group.bench_function("shared_pick_one_online", |b| {
        b.iter(|| black_box(groups.pick(key, None)))
    });
    group.finish();
}

/// The hoarder of `bench/abuse.py`: SUBSCRIBEs of 1,000 filters `hoard/N/i` each.
const HOARD_SUBSCRIBES: usize = 200;
const HOARD_FILTERS: usize = 1000;

/// A broker holding one connected client with `HOARD_SUBSCRIBES` x `HOARD_FILTERS`
/// subscriptions: the client's socket and token.
fn hoarder(broker: &mut Broker, listener: &TcpListener) -> (Token, TcpStream) {
    let hello = packets::connect_v311("hoarder", true, 0);
    subscribed(broker, listener, &hello, HOARD_SUBSCRIBES, |n, i| {
        format!("hoard/{n}/{i}")
    })
}

/// A client connected with `hello` that has subscribed to `subscribes` x `HOARD_FILTERS`
/// filters, the `i`th of the `n`th SUBSCRIBE named by `name(n, i)`: its token and socket.
fn subscribed(
    broker: &mut Broker,
    listener: &TcpListener,
    hello: &[u8],
    subscribes: usize,
    name: impl Fn(usize, usize) -> String,
) -> (Token, TcpStream) {
    let (token, mut client) = common::accept(broker, listener);
    client.set_nonblocking(true).expect("nonblocking");
    client.write_all(hello).expect("CONNECT");
    let mut sink = vec![0u8; 64 * 1024];
    for n in 0..subscribes {
        let names: Vec<String> = (0..HOARD_FILTERS).map(|i| name(n, i)).collect();
        let filters: Vec<(&str, u8)> = names.iter().map(|f| (f.as_str(), 0)).collect();
        let mut bytes = &packets::subscribe_many(n as u16 + 1, &filters)[..];
        while !bytes.is_empty() {
            if let Ok(written) = client.write(bytes) {
                bytes = &bytes[written..];
            }
            broker.on_readable(token);
            broker.flush();
            while client.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
    }
    for _ in 0..100 {
        broker.on_readable(token);
        broker.flush();
        while client.read(&mut sink).is_ok_and(|n| n > 0) {}
    }
    assert_eq!(
        broker.footprint().subscriptions,
        subscribes * HOARD_FILTERS,
        "every filter subscribed"
    );
    (token, client)
}

/// The hoarder sends DISCONNECT: the time from then until its session is gone, and the
/// longest loop turn on the way (what a bystander waits for at worst). Subscriptions are
/// unbounded here, as an operator may configure them (the default stops at 10,000).
fn hoard_disconnect(c: &mut Criterion) {
    midge::log::init(midge::log::LogTypes::NONE, &[]).expect("quiet log");
    let text = "allow_anonymous true\nmax_subscriptions_per_client 0\n";
    let config = Config::parse(text, "bench").expect("config").0;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut group = c.benchmark_group("churn");
    for worst_turn in [false, true] {
        let name = if worst_turn {
            "hoard_disconnect_worst_turn"
        } else {
            "hoard_disconnect"
        };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let auth = midge::auth::Auth::load(&config, []).expect("no security files");
                    let mut broker = Broker::new(config.clone(), auth);
                    let (token, mut client) = hoarder(&mut broker, &listener);
                    client.write_all(&packets::DISCONNECT).expect("DISCONNECT");
                    let (mut longest, start) = (Duration::ZERO, Instant::now());
                    loop {
                        let turn = Instant::now();
                        broker.set_now(turn);
                        broker.on_readable(token);
                        broker.flush();
                        longest = longest.max(turn.elapsed());
                        if !broker.teardown_pending() {
                            break;
                        }
                    }
                    assert_eq!(broker.footprint().routes, 0, "torn down");
                    total += if worst_turn { longest } else { start.elapsed() };
                }
                total
            })
        });
    }
    group.finish();
}

/// Subscriptions of the session that reconnects.
const RECONNECT_SUBSCRIBES: usize = 100;

/// A persistent session (3.1.1, clean session 0) with `RECONNECT_SUBSCRIBES` x
/// `HOARD_FILTERS` subscriptions, all, a tenth or one of them in a shared group of its own
/// (`$share/g/s/K`): the longest loop turn of one reconnect and one disconnect, from the
/// CONNECT read to the socket closed after DISCONNECT and the last slice after it. Each
/// tells every shared group of the session that it came or went.
fn shared_reconnect(c: &mut Criterion) {
    midge::log::init(midge::log::LogTypes::NONE, &[]).expect("quiet log");
    let text = "allow_anonymous true\nmax_subscriptions_per_client 0\n";
    let config = Config::parse(text, "bench").expect("config").0;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hello = packets::connect_v311("member", false, 0);
    let total = RECONNECT_SUBSCRIBES * HOARD_FILTERS;
    let mut group = c.benchmark_group("churn");
    for (name, shared) in [
        ("reconnect_100k_shared", total),
        ("reconnect_10k_of_100k_shared", total / 10),
        ("reconnect_1_of_100k_shared", 1),
    ] {
        let auth = midge::auth::Auth::load(&config, []).expect("no security files");
        let mut broker = Broker::new(config.clone(), auth);
        let (token, mut client) = subscribed(
            &mut broker,
            &listener,
            &hello,
            RECONNECT_SUBSCRIBES,
            |n, i| match n * HOARD_FILTERS + i {
                k if k < shared => format!("$share/g/s/{k}"),
                k => format!("p/{k}"),
            },
        );
        client.write_all(&packets::DISCONNECT).expect("DISCONNECT");
        broker.on_readable(token);
        broker.flush();
        assert_eq!(broker.connection_count(), 0, "gone offline");
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut time = Duration::ZERO;
                for _ in 0..iters {
                    let (token, mut client) = common::accept(&mut broker, &listener);
                    client.write_all(&hello).expect("CONNECT");
                    // The longest turn: the CONNECT's, the close's, or one of the slices
                    // after them (`broker/presence.rs`).
                    let mut longest = Duration::ZERO;
                    let mut turn = |broker: &mut Broker, read: bool| {
                        let start = Instant::now();
                        broker.set_now(start);
                        if read {
                            broker.on_readable(token);
                        }
                        broker.flush();
                        longest = longest.max(start.elapsed());
                    };
                    turn(&mut broker, true);
                    while broker.teardown_pending() {
                        turn(&mut broker, false);
                    }
                    client.write_all(&packets::DISCONNECT).expect("DISCONNECT");
                    turn(&mut broker, true);
                    while broker.teardown_pending() {
                        turn(&mut broker, false);
                    }
                    time += longest;
                    let mut connack = [0u8; 4];
                    client.read_exact(&mut connack).expect("CONNACK");
                    assert_eq!(connack, [0x20, 2, 1, 0], "session present");
                    assert_eq!(broker.connection_count(), 0, "gone offline again");
                }
                time
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hot_filter, shared_group, shared_pick, hoard_disconnect, shared_reconnect
}
criterion_main!(benches);
