//! The bounds on what one client's SUBSCRIBEs and everyone's retained messages may make the
//! broker hold (issue 11): each refused with its SUBACK code or counted and logged, the rest
//! of the packet and every other client unaffected. midge's own keys, so midge only.
mod common;

use common::packets::*;
use common::{Broker, Raw, midge_only};

/// 3.1.1's SUBACK failure code and MQTT 5's quota exceeded.
const FAILURE: u8 = 0x80;
const QUOTA_EXCEEDED: u8 = 0x97;

#[test]
fn a_subscription_over_max_subscriptions_per_client_is_refused_and_others_still_granted() {
    if midge_only() {
        return;
    }
    let broker = Broker::start_with("max_subscriptions_per_client 2");
    let mut c = Raw::connected(&broker, "c");
    c.send(&subscribe_many(1, &[("a", 0), ("b", 1), ("c", 1)]));
    c.expect(&suback_many(1, &[0, 1, FAILURE]));
    // Changing an existing subscription adds none, so it stays allowed.
    c.send(&subscribe_many(2, &[("a", 1), ("d", 0)]));
    c.expect(&suback_many(2, &[1, FAILURE]));
    // Unsubscribing makes room.
    c.send(&unsubscribe(3, "b"));
    c.expect(&unsuback(3));
    c.send(&subscribe(4, "d", 0));
    c.expect(&suback(4, 0));
    // "c" was never subscribed: its message is dropped, "d"'s arrives.
    let mut publ = Raw::connected(&broker, "p");
    publ.send(&publish("c", b"refused", 0, false, 0));
    publ.send(&publish("d", b"granted", 0, false, 0));
    c.expect(&publish("d", b"granted", 0, false, 0));
}

#[test]
fn mqtt5_is_told_quota_exceeded_over_max_subscriptions_per_client() {
    if midge_only() {
        return;
    }
    let broker = Broker::start_with("max_subscriptions_per_client 1");
    let mut c = Raw::connected_v5(&broker, "c");
    c.send(&subscribe5(1, &[], &[("a", 0), ("b", 0)]));
    c.expect(&suback5(1, &[], &[0, QUOTA_EXCEEDED]));
}

#[test]
fn filters_over_max_filters_per_subscribe_are_refused_one_by_one() {
    if midge_only() {
        return;
    }
    let broker = Broker::start_with("max_filters_per_subscribe 2");
    let mut c = Raw::connected(&broker, "c");
    c.send(&subscribe_many(
        1,
        &[("a", 0), ("b", 0), ("c", 0), ("d", 0)],
    ));
    c.expect(&suback_many(1, &[0, 0, FAILURE, FAILURE]));
    let mut v5 = Raw::connected_v5(&broker, "v5");
    v5.send(&subscribe5(1, &[], &[("a", 0), ("b", 0), ("c", 0)]));
    v5.expect(&suback5(1, &[], &[0, 0, QUOTA_EXCEEDED]));
    let mut publ = Raw::connected(&broker, "p");
    publ.send(&publish("c", b"refused", 0, false, 0));
    publ.send(&publish("b", b"granted", 0, false, 0));
    c.expect(&publish("b", b"granted", 0, false, 0));
}

/// Publishes a retained message at QoS 1 and waits for its PUBACK.
fn retain(publ: &mut Raw, topic: &str, payload: &[u8], packet_id: u16) {
    publ.send(&publish(topic, payload, 1, true, packet_id));
    publ.expect(&puback(packet_id));
}

#[test]
fn at_max_retained_messages_a_new_topic_is_not_stored_but_still_delivered() {
    if midge_only() {
        return;
    }
    let broker = Broker::start_with("max_retained_messages 2");
    let mut live = Raw::connected(&broker, "live");
    live.send(&subscribe(1, "r/#", 0));
    live.expect(&suback(1, 0));
    let mut publ = Raw::connected(&broker, "p");
    retain(&mut publ, "r/a", b"1", 1);
    retain(&mut publ, "r/b", b"1", 2);
    retain(&mut publ, "r/c", b"1", 3);
    broker.wait_for_log("not stored: max_retained_messages (2) reached");
    // Replacing a stored topic stays allowed.
    retain(&mut publ, "r/a", b"2", 4);
    for (topic, payload) in [("r/a", b"1"), ("r/b", b"1"), ("r/c", b"1"), ("r/a", b"2")] {
        live.expect(&publish(topic, payload, 0, false, 0));
    }
    let mut late = Raw::connected(&broker, "late");
    late.send(&subscribe(1, "r/#", 0));
    late.expect(&suback(1, 0));
    late.expect(&publish("r/a", b"2", 0, true, 0));
    late.expect(&publish("r/b", b"1", 0, true, 0));
    // Nothing for r/c: the next thing to arrive is a live marker.
    publ.send(&publish("r/marker", b"m", 0, false, 0));
    late.expect(&publish("r/marker", b"m", 0, false, 0));
}

#[test]
fn at_max_retained_bytes_a_message_is_not_stored_and_the_one_it_replaces_is_deleted() {
    if midge_only() {
        return;
    }
    // Topic and payload count: "r/a" + 7 bytes is 10.
    let broker = Broker::start_with("max_retained_bytes 20");
    let mut publ = Raw::connected(&broker, "p");
    retain(&mut publ, "r/a", b"1234567", 1);
    retain(&mut publ, "r/b", b"1234567", 2);
    retain(&mut publ, "r/c", b"1", 3);
    retain(&mut publ, "r/b", b"12345678", 4);
    broker.wait_for_log("not stored: max_retained_bytes (20) reached");
    let mut late = Raw::connected(&broker, "late");
    late.send(&subscribe(1, "r/#", 0));
    late.expect(&suback(1, 0));
    late.expect(&publish("r/a", b"1234567", 0, true, 0));
    // r/b's old message went with the refused replacement, r/c never fitted.
    publ.send(&publish("r/marker", b"m", 0, false, 0));
    late.expect(&publish("r/marker", b"m", 0, false, 0));
}
