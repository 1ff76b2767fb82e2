//! The codec on the hot path: decoding a PUBLISH as it arrives, and encoding one per
//! subscriber.

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midge::protocol::{self, OutgoingPublish, Packet, Publish, QoS, Version};
use std::hint::black_box;

fn publish_bytes(payload: usize, qos: QoS) -> BytesMut {
    let publish = Publish {
        qos,
        topic: "bench/topic/42".into(),
        packet_id: if qos == QoS::AtMostOnce { 0 } else { 7 },
        payload: Bytes::from(vec![b'x'; payload]),
        ..Publish::default()
    };
    let mut out = BytesMut::new();
    Packet::Publish(publish).encode(Version::V311, &mut out);
    out
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, qos) in [
        ("publish_64B_qos0", QoS::AtMostOnce),
        ("publish_64B_qos1", QoS::AtLeastOnce),
    ] {
        let one = publish_bytes(64, qos);
        // 100 packets in one read, as a busy publisher's socket delivers them.
        let mut batch = BytesMut::new();
        for _ in 0..100 {
            batch.extend_from_slice(&one);
        }
        group.throughput(Throughput::Elements(100));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut buf = batch.clone();
                while let Ok(Some(packet)) = protocol::decode(&mut buf, Version::V311, usize::MAX) {
                    black_box(packet);
                }
            })
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let payload = Bytes::from(vec![b'x'; 64]);
    for (name, version) in [
        ("publish_64B_v311", Version::V311),
        ("publish_64B_v5", Version::V5),
    ] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            let mut out = BytesMut::with_capacity(1 << 20);
            b.iter(|| {
                if out.len() > (1 << 20) - 256 {
                    out.clear();
                }
                let publish = OutgoingPublish {
                    dup: false,
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    topic: "bench/topic/42",
                    packet_id: 9,
                    topic_alias: None,
                    message_expiry: None,
                    subscription_ids: &[],
                    properties: &[],
                    payload_len: payload.len(),
                };
                publish.encode_header(version, &mut out);
                out.extend_from_slice(&payload);
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
