//! Fan-out through the whole broker, in process: one publisher, N subscribers on one topic,
//! each a loopback TCP socket whose far end the benchmark drains. Per iteration the
//! publisher's socket carries 100 PUBLISH packets in one read, as from a busy client; the
//! broker decodes them, routes each to N subscribers, and flushes every subscriber once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use midge::broker::Broker;
use midge::config::Config;
use mio::Token;

mod common;

const BATCH: usize = 100;

/// A CONNECT (3.1.1, clean session) and, for subscribers, a SUBSCRIBE to `bench` at QoS 0.
fn connect(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, id.len() as u8];
    body.extend_from_slice(id.as_bytes());
    let mut packet = vec![0x10, body.len() as u8];
    packet.extend_from_slice(&body);
    packet
}

const SUBSCRIBE: [u8; 12] = [0x82, 10, 0, 1, 0, 5, b'b', b'e', b'n', b'c', b'h', 0];

fn publish() -> Vec<u8> {
    let mut packet = vec![0x30, 7 + 64, 0, 5, b'b', b'e', b'n', b'c', b'h'];
    packet.extend_from_slice(&[b'x'; 64]);
    packet
}

struct Rig {
    broker: Broker,
    publisher: (Token, TcpStream),
    sinks: Vec<TcpStream>,
}

fn attach(broker: &mut Broker, listener: &TcpListener, hello: &[u8]) -> (Token, TcpStream) {
    let (token, mut client) = common::accept(broker, listener);
    client.write_all(hello).expect("hello");
    // Loopback delivers at once; read until the broker has answered everything.
    let expected = if hello.len() > 20 { 4 + 5 } else { 4 };
    let mut reply = vec![0u8; expected];
    let mut got = 0;
    while got < expected {
        broker.on_readable(token);
        broker.flush();
        client.set_nonblocking(true).expect("nonblocking");
        if let Ok(n) = client.read(&mut reply[got..]) {
            got += n;
        }
    }
    (token, client)
}

fn rig(subscribers: usize) -> Rig {
    midge::log::init(midge::log::LogTypes::NONE, &[]).expect("quiet log");
    let config = Config::parse("allow_anonymous true\n", "bench")
        .expect("config")
        .0;
    let auth = midge::auth::Auth::load(&config, []).expect("no security files");
    let mut broker = Broker::new(config, auth);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sinks = (0..subscribers)
        .map(|i| {
            let mut hello = connect(&format!("sub{i}"));
            hello.extend_from_slice(&SUBSCRIBE);
            attach(&mut broker, &listener, &hello).1
        })
        .collect();
    let publisher = attach(&mut broker, &listener, &connect("pub"));
    Rig {
        broker,
        publisher,
        sinks,
    }
}

fn fanout(c: &mut Criterion) {
    let mut batch = Vec::new();
    for _ in 0..BATCH {
        batch.extend_from_slice(&publish());
    }
    let per_sink = batch.len();
    let mut group = c.benchmark_group("fanout");
    group.sample_size(20);
    for &subscribers in &[10, 100, 1000] {
        let mut rig = rig(subscribers);
        let mut drain = vec![0u8; per_sink];
        group.throughput(Throughput::Elements((BATCH * subscribers) as u64));
        group.bench_function(BenchmarkId::from_parameter(subscribers), |b| {
            b.iter(|| {
                let (token, publisher) = &mut rig.publisher;
                publisher.write_all(&batch).expect("publish");
                let mut owed = vec![per_sink; rig.sinks.len()];
                while owed.iter().any(|&n| n > 0) {
                    rig.broker.on_readable(*token);
                    rig.broker.flush();
                    for (sink, owed) in rig.sinks.iter_mut().zip(owed.iter_mut()) {
                        while *owed > 0 {
                            match sink.read(&mut drain[..*owed]) {
                                Ok(n) if n > 0 => *owed -= n,
                                _ => break,
                            }
                        }
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
