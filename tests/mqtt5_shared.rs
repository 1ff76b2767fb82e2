//! Shared subscriptions (`$share/GROUP/FILTER`): each message goes to one member of a group,
//! round robin in the order the members subscribed (mosquitto 2.0.11's choice); members
//! leaving; 3.1.1 members; share names mosquitto accepts or refuses; and where midge follows
//! MQTT 5 rather than mosquitto (retained messages, no local, re-sending to another member).

mod common;

use common::packets::*;
use common::{Broker, Raw};

fn publisher(broker: &Broker) -> Raw {
    Raw::connected_v5(broker, "publisher")
}

/// Publishes QoS 1 messages and waits for each PUBACK, so they are routed in order.
fn publish_qos1(p: &mut Raw, topic: &str, payloads: &[&[u8]]) {
    for (i, payload) in payloads.iter().enumerate() {
        let id = i as u16 + 1;
        p.send(&Publish5::new(topic, payload).qos(1, id).build());
        p.expect(&puback5(id, 0));
    }
}

#[test]
fn a_message_goes_to_one_member_of_the_group() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/t", 0);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g/sh/t", 0);
    publisher(&broker).send(&Publish5::new("sh/t", b"0").build());
    a.expect(&Publish5::new("sh/t", b"0").build());
    b.expect_silence(300);
}

// Four messages, two members: the first member to subscribe gets the 1st and 3rd, the
// other the 2nd and 4th.
#[test]
fn messages_are_spread_round_robin_over_the_members() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/t", 1);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g/sh/t", 1);
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "sh/t", &[b"0", b"1", b"2", b"3"]);
    a.expect(&Publish5::new("sh/t", b"0").qos(1, 1).build());
    a.expect(&Publish5::new("sh/t", b"2").qos(1, 2).build());
    b.expect(&Publish5::new("sh/t", b"1").qos(1, 1).build());
    b.expect(&Publish5::new("sh/t", b"3").qos(1, 2).build());
    a.expect_silence(200);
    b.expect_silence(100);
}

#[test]
fn each_group_gets_its_own_copy() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g1/sg/t", 1);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g2/sg/t", 1);
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "sg/t", &[b"m"]);
    a.expect(&Publish5::new("sg/t", b"m").qos(1, 1).build());
    b.expect(&Publish5::new("sg/t", b"m").qos(1, 1).build());
}

// A client with a shared and a non-shared subscription gets a copy from each: mosquitto
// sends the non-shared one first.
#[test]
fn a_shared_and_a_non_shared_subscription_give_a_copy_each() {
    let broker = Broker::start();
    let mut a = Raw::connected_v5(&broker, "a");
    a.send(&subscribe5(1, &[], &[("$share/g/sn/t", 1), ("sn/t", 0)]));
    a.expect(&suback5(1, &[], &[1, 0]));
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "sn/t", &[b"m"]);
    a.expect(&Publish5::new("sn/t", b"m").build());
    a.expect(&Publish5::new("sn/t", b"m").qos(1, 1).build());
}

#[test]
fn shared_subscription_delivers_at_the_lower_of_both_qos() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sq/t", 0);
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "sq/t", &[b"m"]);
    a.expect(&Publish5::new("sq/t", b"m").build());
}

#[test]
fn shared_subscription_with_a_wildcard_filter() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sw/+/x", 0);
    let mut p = publisher(&broker);
    p.send(&Publish5::new("sw/y/z", b"no").build());
    p.send(&Publish5::new("sw/y/x", b"yes").build());
    a.expect(&Publish5::new("sw/y/x", b"yes").build());
}

#[test]
fn a_member_that_disconnects_leaves_the_others_every_message() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/t", 0);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g/sh/t", 0);
    b.send(&DISCONNECT);
    b.expect_closed();
    let mut p = publisher(&broker);
    for payload in [b"0", b"1", b"2"] {
        p.send(&Publish5::new("sh/t", payload).build());
    }
    for payload in [b"0", b"1", b"2"] {
        a.expect(&Publish5::new("sh/t", payload).build());
    }
}

// midge prefers members that are online (mosquitto rotates over all of them and queues for
// the absent): a persistent member that is away gets nothing while another is there, and
// takes its turns again once it is back. That nothing was queued for it shows in its first
// message after the reconnection being the new one, with packet id 1.
#[test]
fn an_absent_member_is_passed_over_until_it_comes_back() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut a = Raw::subscribed(&broker, "a", "$share/g/ab/t", 1);
    let mut b = Raw::connected_persistent(&broker, "b", false);
    b.send(&subscribe(1, "$share/g/ab/t", 1));
    b.expect(&suback(1, 1));
    b.send(&DISCONNECT);
    b.expect_closed();
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "ab/t", &[b"0", b"1"]);
    a.expect(&publish("ab/t", b"0", 1, false, 1));
    a.expect(&publish("ab/t", b"1", 1, false, 2));
    let mut b = Raw::connected_persistent(&broker, "b", true);
    publish_qos1(&mut p, "ab/t", &[b"2", b"3"]);
    a.expect(&publish("ab/t", b"2", 1, false, 3));
    b.expect(&publish("ab/t", b"3", 1, false, 1));
}

#[test]
fn a_member_that_unsubscribes_leaves_the_others_every_message() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/t", 0);
    let mut c = Raw::subscribed_v5(&broker, "c", "$share/g/sh/t", 0);
    c.send(&unsubscribe5(2, &[], &["$share/g/sh/t"]));
    c.expect(&unsuback5(2, &[], &[0x00]));
    let mut p = publisher(&broker);
    for payload in [b"0", b"1"] {
        p.send(&Publish5::new("sh/t", payload).build());
    }
    for payload in [b"0", b"1"] {
        a.expect(&Publish5::new("sh/t", payload).build());
    }
    c.expect_silence(200);
}

#[test]
fn unsubscribing_a_shared_subscription_twice_gets_0x11() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "c", "$share/g/sh/t", 0);
    c.send(&unsubscribe5(2, &[], &["$share/g/sh/t"]));
    c.expect(&unsuback5(2, &[], &[0x00]));
    c.send(&unsubscribe5(3, &[], &["$share/g/sh/t"]));
    c.expect(&unsuback5(3, &[], &[0x11]));
}

// Unsubscribing the plain filter does not touch the shared subscription to it.
#[test]
fn unsubscribing_the_plain_filter_keeps_the_shared_subscription() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "c", "$share/g/sh/t", 0);
    c.send(&unsubscribe5(2, &[], &["sh/t"]));
    c.expect(&unsuback5(2, &[], &[0x11]));
    publisher(&broker).send(&Publish5::new("sh/t", b"m").build());
    c.expect(&Publish5::new("sh/t", b"m").build());
}

// --- 3.1.1 clients ---

#[test]
fn v311_client_can_subscribe_to_a_shared_subscription() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c4");
    c.send(&subscribe(1, "$share/h/sh/t", 0));
    c.expect(&suback(1, 0));
    let mut p = publisher(&broker);
    p.send(
        &Publish5::new("sh/t", b"X")
            .properties(&Props::new().user_property("k", "v"))
            .build(),
    );
    c.expect(&publish("sh/t", b"X", 0, false, 0));
}

#[test]
fn v311_and_v5_members_share_one_group() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/t", 1);
    let mut c = Raw::connected(&broker, "c4");
    c.send(&subscribe(1, "$share/g/sh/t", 1));
    c.expect(&suback(1, 1));
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "sh/t", &[b"0", b"1"]);
    a.expect(&Publish5::new("sh/t", b"0").qos(1, 1).build());
    c.expect(&publish("sh/t", b"1", 1, false, 1));
}

// --- share names ---

#[test]
fn share_name_with_a_wildcard_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "d");
    c.send(&subscribe5(1, &[], &[("$share/a+/x", 0)]));
    c.expect_disconnect(0x81);
}

#[test]
fn share_name_with_a_hash_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "d");
    c.send(&subscribe5(1, &[], &[("$share/a#/x", 0)]));
    c.expect_disconnect(0x81);
}

// MQTT 5 wants a share name of at least one character; mosquitto 2.0.11 takes `$share//x` as
// a shared subscription to `x` in a group with an empty name.
#[test]
fn empty_share_name_is_granted_and_shares_the_filter() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "d");
    c.send(&subscribe5(1, &[], &[("$share//x", 0)]));
    c.expect(&suback5(1, &[], &[0]));
    publisher(&broker).send(&Publish5::new("x", b"x").build());
    c.expect(&Publish5::new("x", b"x").build());
}

// mosquitto 2.0.11 grants `$share/g` (no filter); nothing ever matches it.
#[test]
fn share_without_a_filter_is_granted_and_matches_nothing() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "e");
    c.send(&subscribe5(1, &[], &[("$share/g", 0)]));
    c.expect(&suback5(1, &[], &[0]));
    let mut p = publisher(&broker);
    for topic in ["g", "$share/g", "x"] {
        p.send(&Publish5::new(topic, b"m").build());
    }
    c.expect_silence(300);
}

#[test]
fn v311_share_without_a_filter_is_granted() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "e4");
    c.send(&subscribe(1, "$share/g", 0));
    c.expect(&suback(1, 0));
}

#[test]
fn publish_to_a_share_topic_gets_puback_0x87() {
    let broker = Broker::start();
    let mut p = publisher(&broker);
    p.send(&Publish5::new("$share/g/x", b"m").qos(1, 1).build());
    p.expect(&puback5(1, 0x87));
}

// --- where midge follows MQTT 5 rather than mosquitto 2.0.11 ---

// MQTT 5 sends retained messages for new non-shared subscriptions only (3.3.1.3);
// mosquitto 2.0.11 sends them to shared subscriptions too
// (31 0b 00 04 "sh/r" 00 "kept" right after the SUBACK).
#[test]
fn no_retained_messages_on_a_shared_subscription() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut p = publisher(&broker);
    p.send(&Publish5::new("sh/r", b"kept").qos(1, 1).retain().build());
    p.expect(&puback5(1, 0x10));
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/sh/#", 1);
    a.expect_silence(300);
}

#[test]
fn no_retained_messages_on_a_v311_shared_subscription() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut p = publisher(&broker);
    p.send(&Publish5::new("sh/r", b"kept").qos(1, 1).retain().build());
    p.expect(&puback5(1, 0x10));
    let mut c = Raw::connected(&broker, "c4");
    c.send(&subscribe(1, "$share/g/sh/#", 1));
    c.expect(&suback(1, 1));
    c.expect_silence(300);
}

// No local on a shared subscription is a protocol error [MQTT-3.8.3-4]; mosquitto 2.0.11
// grants it (90 04 00 01 00 00).
#[test]
fn no_local_on_a_shared_subscription_gets_disconnect_0x82() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "d");
    c.send(&subscribe5(1, &[], &[("$share/g/x", NO_LOCAL)]));
    c.expect_disconnect(0x82);
}

// A QoS 1 message whose member disconnects (ending its session) before the PUBACK should go
// to another member (MQTT 5 4.8.2); mosquitto 2.0.11 drops it. The other member gets it as a
// first delivery: DUP 0, its own packet id 1.
#[test]
fn unacknowledged_qos1_message_is_resent_to_another_member() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/q/t", 1);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g/q/t", 1);
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "q/t", &[b"one"]);
    a.expect(&Publish5::new("q/t", b"one").qos(1, 1).build());
    drop(a);
    // 32 0b 00 03 "q/t" 00 01 00 "one"
    b.expect(&[
        0x32, 0x0b, 0x00, 0x03, b'q', b'/', b't', 0x00, 0x01, 0x00, b'o', b'n', b'e',
    ]);
}

#[test]
fn acknowledged_qos1_message_is_not_resent_to_another_member() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "$share/g/q/t", 1);
    let mut b = Raw::subscribed_v5(&broker, "b", "$share/g/q/t", 1);
    let mut p = publisher(&broker);
    publish_qos1(&mut p, "q/t", &[b"one"]);
    a.expect(&Publish5::new("q/t", b"one").qos(1, 1).build());
    a.send(&puback5(1, 0));
    a.send(&DISCONNECT);
    a.expect_closed();
    b.expect_silence(500);
}
