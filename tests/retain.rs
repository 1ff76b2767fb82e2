//! Retained messages (mosquitto's 04-retain-* tests).
mod common;
use common::{Broker, Raw, packets::*};

/// Publishes a retained message at QoS 1 and waits for its PUBACK, so that it is stored
/// before the test goes on.
fn retain(publ: &mut Raw, topic: &str, payload: &[u8], packet_id: u16) {
    publ.send(&publish(topic, payload, 1, true, packet_id));
    publ.expect(&puback(packet_id));
}

#[test]
fn retained_message_is_delivered_on_subscribe_with_the_retain_flag() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"one", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/a", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&[0x31, 0x08, 0x00, 0x03, b'r', b'/', b'a', b'o', b'n', b'e']);
}

#[test]
fn retained_qos0_message_is_stored_too() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("r/z", b"zero", 0, true, 0));
    // A PINGRESP proves the PUBLISH before it was handled.
    publ.send(&PINGREQ);
    publ.expect(&PINGRESP);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/z", 2));
    sub.expect(&suback(1, 2));
    sub.expect(&publish("r/z", b"zero", 0, true, 0));
}

#[test]
fn retained_message_is_delivered_through_a_plus_filter() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"one", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/+", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r/a", b"one", 0, true, 0));
}

#[test]
fn retained_messages_of_several_topics_are_delivered_through_a_hash_filter() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"one", 1);
    retain(&mut publ, "r/b/c", b"two", 2);
    retain(&mut publ, "other", b"no", 3);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/#", 0));
    sub.expect(&suback(1, 0));
    sub.expect_unordered(&[
        publish("r/a", b"one", 0, true, 0),
        publish("r/b/c", b"two", 0, true, 0),
    ]);
    sub.expect_silence(200);
}

#[test]
fn retained_dollar_topic_is_not_delivered_through_a_hash_filter() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "$test/r", b"dollar", 1);
    retain(&mut publ, "plain", b"plain", 2);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "#", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("plain", b"plain", 0, true, 0));
    sub.expect_silence(200);
}

#[test]
fn retained_message_is_replaced_by_a_newer_one() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"older", 1);
    retain(&mut publ, "r/a", b"newer", 2);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/a", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r/a", b"newer", 0, true, 0));
    sub.expect_silence(200);
}

#[test]
fn empty_retained_payload_deletes_the_retained_message() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"one", 1);
    retain(&mut publ, "r/a", b"", 2);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/#", 0));
    sub.expect(&suback(1, 0));
    sub.expect_silence(300);
}

#[test]
fn empty_retained_payload_is_forwarded_to_existing_subscribers_with_retain_0() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/b", b"two", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/b", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r/b", b"two", 0, true, 0));
    retain(&mut publ, "r/b", b"", 2);
    sub.expect(&[0x30, 0x05, 0x00, 0x03, b'r', b'/', b'b']);
}

#[test]
fn empty_retained_payload_for_a_topic_without_retained_message_stores_nothing() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "x/y", b"", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "x/#", 0));
    sub.expect(&suback(1, 0));
    sub.expect_silence(300);
}

#[test]
fn live_retained_publish_goes_to_existing_subscribers_with_retain_0() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/c", 0));
    sub.expect(&suback(1, 0));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("r/c", b"live", 0, true, 0));
    sub.expect(&[
        0x30, 0x09, 0x00, 0x03, b'r', b'/', b'c', b'l', b'i', b'v', b'e',
    ]);
}

#[test]
fn retained_qos1_message_to_a_qos0_subscription_is_delivered_at_qos0() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/q", b"q1", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/q", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r/q", b"q1", 0, true, 0));
}

#[test]
fn retained_qos2_message_to_a_qos1_subscription_is_delivered_at_qos1() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("r/q", b"q2", 2, true, 2));
    publ.expect(&pubrec(2));
    publ.send(&pubrel(2));
    publ.expect(&pubcomp(2));
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/q", 1));
    sub.expect(&suback(1, 1));
    sub.expect(&[
        0x33, 0x09, 0x00, 0x03, b'r', b'/', b'q', 0x00, 0x01, b'q', b'2',
    ]);
    sub.send(&puback(1));
}

#[test]
fn retained_qos2_message_to_a_qos2_subscription_is_delivered_at_qos2() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("r/q", b"q2", 2, true, 2));
    publ.expect(&pubrec(2));
    publ.send(&pubrel(2));
    publ.expect(&pubcomp(2));
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/q", 2));
    sub.expect(&suback(1, 2));
    sub.expect(&publish("r/q", b"q2", 2, true, 1));
    sub.send(&pubrec(1));
    sub.expect(&pubrel(1));
    sub.send(&pubcomp(1));
}

#[test]
fn retained_qos1_message_to_a_qos2_subscription_is_delivered_at_qos1() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/q", b"q1", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/q", 2));
    sub.expect(&suback(1, 2));
    sub.expect(&publish("r/q", b"q1", 1, true, 1));
}

#[test]
fn retained_qos2_message_is_stored_only_after_pubrel() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("r/q2", b"late", 2, true, 0x32));
    publ.expect(&pubrec(0x32));
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/q2", 0));
    sub.expect(&suback(1, 0));
    sub.expect_silence(200);
    publ.send(&pubrel(0x32));
    publ.expect(&pubcomp(0x32));
    // Delivered live, so with retain 0.
    sub.expect(&publish("r/q2", b"late", 0, false, 0));
}

#[test]
fn resubscribing_resends_the_retained_message() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"again", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "r/a", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r/a", b"again", 0, true, 0));
    sub.send(&subscribe(2, "r/a", 0));
    sub.expect(&suback(2, 0));
    sub.expect(&publish("r/a", b"again", 0, true, 0));
}

// MQTT 3.1 did not ask for this, but mosquitto 2.0 resends for 3.1 clients too.
#[test]
fn resubscribing_resends_the_retained_message_to_a_v31_client() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r", b"ret", 1);
    let mut sub = Raw::handshake(&broker, &connect_v31("v31", true, 60), &CONNACK_OK);
    sub.send(&subscribe(1, "r", 0));
    sub.expect(&suback(1, 0));
    sub.expect(&publish("r", b"ret", 0, true, 0));
    sub.send(&subscribe(2, "r", 0));
    sub.expect(&suback(2, 0));
    sub.expect(&publish("r", b"ret", 0, true, 0));
}

#[test]
fn retained_messages_come_after_the_suback() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    retain(&mut publ, "r/a", b"one", 1);
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(4, &[("r/a", 0), ("none", 1)]));
    sub.expect(&suback_many(4, &[0, 1]));
    sub.expect(&publish("r/a", b"one", 0, true, 0));
}
