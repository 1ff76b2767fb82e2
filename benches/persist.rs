//! What a compaction spends per QoS 1 message into a persistent session: reading back its
//! Message, Deliver and Delivered records (framed and checksummed) into the durable state.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midge::persist::record::Records;
use midge::persist::{Op, State, StoredMessage};
use std::hint::black_box;

const SESSIONS: usize = 100;
const MESSAGES: u64 = 100_000;
/// Messages per loop turn, as a loaded broker hands them over.
const PER_BATCH: u64 = 64;

fn client(n: u64) -> Bytes {
    Bytes::from(format!("mlg0123abcd-s{}", n % SESSIONS as u64))
}

/// A journal's records as `persistence` writes them for MESSAGES QoS 1 messages of 64
/// bytes, each delivered to one session and acknowledged a batch later.
fn journal() -> Vec<u8> {
    let mut out = Vec::new();
    for n in 0..SESSIONS as u64 {
        Op::Session {
            client_id: client(n),
            version: 4,
            expiry: u32::MAX,
            packet_ids: 0,
        }
        .encode(&mut out);
    }
    for n in 0..MESSAGES {
        Op::Message {
            id: n + 1,
            message: StoredMessage {
                topic: Bytes::from(format!("bench/{}", n % SESSIONS as u64)),
                qos: 1,
                retain: false,
                utf8_payload: false,
                expires_at: 0,
                properties: Bytes::new(),
                payload: Bytes::from(vec![b'x'; 64]),
            },
        }
        .encode(&mut out);
        Op::Deliver {
            client_id: client(n),
            seq: n + 1,
            message: n + 1,
            qos: 1,
            retain: false,
            subscription_ids: Vec::new(),
        }
        .encode(&mut out);
        if n >= PER_BATCH {
            let acked = n - PER_BATCH;
            Op::Delivered {
                client_id: client(acked),
                seq: acked + 1,
            }
            .encode(&mut out);
        }
        if n % PER_BATCH == PER_BATCH - 1 {
            Op::BatchEnd.encode(&mut out);
        }
    }
    out
}

fn persist(c: &mut Criterion) {
    let data = Bytes::from(journal());
    let mut group = c.benchmark_group("persist");
    group.throughput(Throughput::Elements(MESSAGES));
    group.sample_size(20);
    group.bench_function("compact 100k QoS 1 messages", |b| {
        b.iter(|| {
            let mut state = State::default();
            let mut records = Records::new(data.clone(), 0);
            while let Some(record) = records.next_record() {
                state.apply_record(record);
            }
            black_box(state.messages.len())
        })
    });
    group.finish();
}

criterion_group!(benches, persist);
criterion_main!(benches);
