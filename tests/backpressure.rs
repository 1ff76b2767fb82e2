//! Read back-pressure: a client whose output the broker cannot get rid of is not read until
//! it drains, so a peer that sends and never reads costs the broker its bound on unsent
//! bytes (`max_queued_bytes`), whatever it sends, and every reply still reaches it, in
//! order, once it reads. MQTT 3.1.1 clients with many QoS 2 messages awaiting PUBREL are
//! held back the same way instead of being disconnected.

mod common;

use std::io::{ErrorKind, Read, Write};

use common::packets::*;
use common::{Broker, Bystander, Raw};

/// Bytes of requests the peer offers: 64 MiB, which would cost as much again in replies
/// if the broker read it all.
const FLOOD_BYTES: usize = 64 << 20;

/// PINGREQs per unit of the flood (the cheapest packet to answer, and a reply as large as
/// the request); each unit starts with a QoS 1 PUBLISH whose PUBACK carries the unit's
/// number, so that the replies' order can be checked.
const PINGS_PER_UNIT: usize = 500;

fn unit_id(n: usize) -> u16 {
    u16::try_from(n % 65_000 + 1).expect("fits")
}

fn request_unit(n: usize) -> Vec<u8> {
    let mut unit = publish("d", b"", 1, false, unit_id(n));
    for _ in 0..PINGS_PER_UNIT {
        unit.extend_from_slice(&PINGREQ);
    }
    unit
}

fn reply_unit(n: usize) -> Vec<u8> {
    let mut unit = puback(unit_id(n));
    for _ in 0..PINGS_PER_UNIT {
        unit.extend_from_slice(&PINGRESP);
    }
    unit
}

/// Writes the flood without blocking until the broker stops taking it: the socket stays
/// full across `STALLED_ROUND_TRIPS` round trips of a well-behaved client, each proof that
/// the broker is turning its loop (and serving others). Returns the units begun and the
/// bytes of the last one written.
fn offer_flood(broker: &Broker, peer: &mut Raw, bystander: &mut Bystander) -> (usize, usize) {
    const STALLED_ROUND_TRIPS: usize = 20;
    peer.stream.set_nonblocking(true).expect("nonblocking");
    let (mut units, mut offset, mut written, mut stalled) = (0, 0, 0, 0);
    let mut unit = request_unit(0);
    while written < FLOOD_BYTES && stalled < STALLED_ROUND_TRIPS {
        match peer.stream.write(&unit[offset..]) {
            Ok(n) => {
                written += n;
                offset += n;
                stalled = 0;
                if offset == unit.len() {
                    units += 1;
                    unit = request_unit(units);
                    offset = 0;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                bystander.assert_still_served(broker);
                stalled += 1;
            }
            Err(e) => panic!("writing the flood: {e}"),
        }
    }
    peer.stream.set_nonblocking(false).expect("blocking");
    (units, offset)
}

/// 64 MiB of PINGREQs (and QoS 1 PUBLISHes) from a client that never reads: the broker
/// stops reading it once its bound of replies (1 MiB here) waits, stays near its size, serves
/// everybody else meanwhile, and the client gets every reply in order once it reads.
#[test]
fn a_client_that_never_reads_is_not_read_beyond_its_bound() {
    if common::midge_only() {
        return; // mosquitto reads on and queues every reply
    }
    // 1 MiB rather than the default 4: the same mechanism, and a quarter of the replies to
    // read back.
    let broker = Broker::start_with("max_queued_bytes 1048576");
    let mut bystander = Bystander::new(&broker);
    let mut peer = Raw::connected(&broker, "deaf");
    let before = broker.rss_kib();
    let (units, offset) = offer_flood(&broker, &mut peer, &mut bystander);
    let after = broker.rss_kib();
    let written = units * request_unit(0).len() + offset;
    assert!(
        written < FLOOD_BYTES,
        "the broker took the whole flood from a client that never reads"
    );
    assert!(
        after < before + 8 * 1024,
        "RSS went from {before} KiB to {after} KiB for a client that never reads"
    );

    // Now it reads: the rest of the unit it was writing, then a marker, go out meanwhile.
    let rest = request_unit(units)[offset..].to_vec();
    let mut writer = peer.stream.try_clone().expect("clone");
    let marker = publish("deaf/marker", b"", 1, false, 65_535);
    let sending = std::thread::spawn(move || {
        writer.write_all(&rest).expect("the rest of the unit");
        writer.write_all(&marker).expect("the marker");
    });
    let mut expected = Vec::new();
    for n in 0..=units {
        expected.extend(reply_unit(n));
    }
    expected.extend(puback(65_535));
    let mut got = vec![0u8; expected.len()];
    peer.stream.read_exact(&mut got).expect("every reply");
    sending.join().expect("writer");
    let first_difference = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(first_difference, None, "replies out of order or missing");
    bystander.assert_still_served(&broker);
}

/// MQTT 3.1.1 has no receive maximum: a client may leave more QoS 2 messages awaiting
/// PUBREL than `max_inflight_messages` (20) and is kept, as mosquitto keeps it; every
/// message goes out once released, and nothing else (the PINGRESP comes next). (MQTT 5 clients get 0x93 beyond the receive maximum
/// they were told: `tests/mqtt5_publish.rs`.)
#[test]
fn a_3_1_1_client_may_leave_25_qos2_messages_unreleased() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "q2", 0);
    let mut publisher = Raw::connected(&broker, "pub");
    let mut burst = Vec::new();
    for id in 1..=25u16 {
        burst.extend(publish("q2", &id.to_be_bytes(), 2, false, id));
    }
    publisher.send(&burst);
    for id in 1..=25 {
        publisher.expect(&pubrec(id));
    }
    for id in 1..=25 {
        publisher.send(&pubrel(id));
        publisher.expect(&pubcomp(id));
    }
    // mosquitto 2.0.11 delivers the 20 of its in-flight window and completes the rest
    // without delivering them (README, "How midge differs").
    let delivered = if common::broker_kind() == common::Kind::Midge {
        25
    } else {
        20
    };
    let messages: Vec<Vec<u8>> = (1..=delivered)
        .map(|id: u16| publish("q2", &id.to_be_bytes(), 0, false, 0))
        .collect();
    sub.expect_unordered(&messages);
    sub.send(&PINGREQ);
    sub.expect(&PINGRESP);
}

/// At as many unreleased QoS 2 messages as mosquitto would hold (in flight plus queued, here
/// 2 + 3), a 3.1.1 client is no longer read: the PUBLISHes after the fifth get no PUBREC,
/// its connection stays open, and deliveries to it still go out.
#[test]
fn a_3_1_1_client_at_its_bound_of_unreleased_qos2_is_held_not_closed() {
    if common::midge_only() {
        return; // mosquitto acknowledges the sixth and drops it
    }
    let broker = Broker::start_with("max_inflight_messages 2\nmax_queued_messages 3");
    let mut publisher = Raw::subscribed(&broker, "pub", "marker", 0);
    let mut burst = Vec::new();
    for id in 1..=8u16 {
        burst.extend(publish("q2", b"", 2, false, id));
    }
    publisher.send(&burst);
    for id in 1..=5 {
        publisher.expect(&pubrec(id));
    }
    // A PUBREC for the sixth would have been queued in the same turn as the fifth's, before
    // this marker is even published.
    let mut other = Raw::connected(&broker, "other");
    other.send(&publish("marker", b"m", 1, false, 1));
    other.expect(&puback(1));
    publisher.expect(&publish("marker", b"m", 0, false, 0));
}
