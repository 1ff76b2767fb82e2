//! The packet identifiers the broker gives the QoS 1/2 messages it sends a client, in
//! mosquitto's order: one per message as it reaches the client's session, from a counter of
//! the session's, whatever then becomes of the message (sent, queued, expired, dropped from a
//! full queue), 1 to 65535 and then 1 again.

mod common;

use common::packets::*;
use common::{Broker, Raw};
use std::time::Duration;

/// Publishes `count` QoS 1 messages on `topic` with packet ids from `first`, pipelined in
/// batches, and reads every PUBACK.
fn publish_qos1(p: &mut Raw, topic: &str, first: u16, count: u16) {
    let ids: Vec<u16> = (first..=u16::MAX).take(usize::from(count)).collect();
    assert_eq!(ids.len(), usize::from(count), "packet ids run out");
    for batch in ids.chunks(1000) {
        let bytes: Vec<u8> = batch
            .iter()
            .flat_map(|&id| publish(topic, b"m", 1, false, id))
            .collect();
        p.send(&bytes);
        for &id in batch {
            p.expect(&puback(id));
        }
    }
}

/// A 3.1.1 client with a persistent session subscribed to `ids/#` at QoS 1, gone offline.
fn leave_persistent_subscriber(broker: &Broker, id: &str) {
    let mut c = Raw::connected_persistent(broker, id, false);
    c.send(&subscribe(1, "ids/#", 1));
    c.expect(&suback(1, 1));
    c.send(&DISCONNECT);
    c.expect_closed();
}

// The first message is queued, the next two are dropped from the full queue: they still
// took identifiers 2 and 3, so the message after them is 4.
#[test]
fn a_message_dropped_from_a_full_queue_uses_up_its_packet_identifier() {
    let broker = Broker::start_with("max_queued_messages 1");
    leave_persistent_subscriber(&broker, "s");
    let mut p = Raw::connected(&broker, "p");
    publish_qos1(&mut p, "ids/a", 1, 3);
    let mut s = Raw::connected_persistent(&broker, "s", true);
    s.expect(&publish("ids/a", b"m", 1, false, 1));
    s.send(&puback(1));
    publish_qos1(&mut p, "ids/b", 4, 1);
    s.expect(&publish("ids/b", b"m", 1, false, 4));
}

// A message that expired in the queue took identifier 1 with it: the next is 2.
#[test]
fn a_message_that_expired_in_the_queue_uses_up_its_packet_identifier() {
    let broker = Broker::start();
    let keep = Props::new().session_expiry_interval(60);
    let connect = Connect::v5("s").clean(false).properties(&keep).build();
    let mut s = Raw::handshake(&broker, &connect, &connack5_ok(false));
    s.send(&subscribe5(1, &[], &[("ids/#", 1)]));
    s.expect(&suback5(1, &[], &[1]));
    s.send(&DISCONNECT);
    s.expect_closed();
    let mut p = Raw::connected_v5(&broker, "p");
    let short = Props::new().message_expiry_interval(1);
    p.send(
        &Publish5::new("ids/short", b"gone")
            .qos(1, 1)
            .properties(&short)
            .build(),
    );
    p.expect(&puback5(1, 0));
    std::thread::sleep(Duration::from_millis(2100));
    let mut s = Raw::handshake(&broker, &connect, &connack5_ok(true));
    p.send(&Publish5::new("ids/next", b"here").qos(1, 2).build());
    p.expect(&puback5(2, 0));
    s.expect(&Publish5::new("ids/next", b"here").qos(1, 2).build());
}

// A 3.1.1 client matched by two of its subscriptions gets the message once, but mosquitto
// takes an identifier for each match: the next message is 3, not 2.
#[test]
fn each_matching_subscription_of_a_v311_client_uses_up_a_packet_identifier() {
    let broker = Broker::start();
    let mut s = Raw::connected(&broker, "s");
    s.send(&subscribe_many(1, &[("ids/#", 1), ("ids/t", 1)]));
    s.expect(&suback_many(1, &[1, 1]));
    let mut p = Raw::connected(&broker, "p");
    publish_qos1(&mut p, "ids/t", 1, 1);
    s.expect(&publish("ids/t", b"m", 1, false, 1));
    s.send(&puback(1));
    publish_qos1(&mut p, "ids/t", 2, 1);
    s.expect(&publish("ids/t", b"m", 1, false, 3));
}

// 65535 messages reach the offline session: the first is queued with identifier 1, the
// rest are dropped with 2 to 65535. The next identifier is 1 again, never 0.
#[test]
fn packet_identifiers_wrap_from_65535_to_1() {
    let broker = Broker::start_with("max_queued_messages 1");
    leave_persistent_subscriber(&broker, "s");
    let mut p = Raw::connected(&broker, "p");
    publish_qos1(&mut p, "ids/a", 1, u16::MAX);
    let mut s = Raw::connected_persistent(&broker, "s", true);
    s.expect(&publish("ids/a", b"m", 1, false, 1));
    s.send(&puback(1));
    publish_qos1(&mut p, "ids/b", 1, 1);
    s.expect(&publish("ids/b", b"m", 1, false, 1));
}
