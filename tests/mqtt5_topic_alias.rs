//! MQTT 5 topic aliases. Inbound (client to broker): setting an alias with a topic, using it
//! with an empty topic, and the errors. Outbound (broker to client): mosquitto 2.0.11 never
//! assigns aliases, whatever topic alias maximum the client announces; midge does.

mod common;

use common::packets::*;
use common::{Broker, Raw};

fn alias(n: u16) -> Props {
    Props::new().topic_alias(n)
}

// --- inbound ---

#[test]
fn alias_set_with_a_topic_is_used_with_an_empty_topic() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "al/#", 0);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    c.send(&Publish5::new("", b"two").properties(&alias(1)).build());
    // Delivered with the full topic and without the alias.
    sub.expect(&Publish5::new("al/1", b"one").build());
    sub.expect(&Publish5::new("al/1", b"two").build());
}

#[test]
fn alias_set_again_with_another_topic_is_remapped() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "al/#", 0);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    c.send(
        &Publish5::new("al/2", b"three")
            .properties(&alias(1))
            .build(),
    );
    c.send(&Publish5::new("", b"four").properties(&alias(1)).build());
    sub.expect(&Publish5::new("al/1", b"one").build());
    sub.expect(&Publish5::new("al/2", b"three").build());
    sub.expect(&Publish5::new("al/2", b"four").build());
}

#[test]
fn alias_equal_to_the_topic_alias_maximum_is_accepted() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "al/#", 0);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/10", b"x").properties(&alias(10)).build());
    c.send(&Publish5::new("", b"y").properties(&alias(10)).build());
    sub.expect(&Publish5::new("al/10", b"x").build());
    sub.expect(&Publish5::new("al/10", b"y").build());
}

#[test]
fn aliased_qos1_publish_is_acknowledged_and_delivered() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "al/#", 1);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(
        &Publish5::new("al/q", b"a")
            .qos(1, 1)
            .properties(&alias(2))
            .build(),
    );
    c.expect(&puback5(1, 0));
    c.send(
        &Publish5::new("", b"b")
            .qos(1, 2)
            .properties(&alias(2))
            .build(),
    );
    c.expect(&puback5(2, 0));
    sub.expect(&Publish5::new("al/q", b"a").qos(1, 1).build());
    sub.expect(&Publish5::new("al/q", b"b").qos(1, 2).build());
}

#[test]
fn alias_over_the_topic_alias_maximum_gets_disconnect_0x94() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").properties(&alias(11)).build());
    c.expect_disconnect(0x94);
}

#[test]
fn alias_with_max_topic_alias_0_gets_disconnect_0x94() {
    let broker = Broker::start_with("max_topic_alias 0");
    let connack = connack5(false, 0, &Props::new().receive_maximum(20));
    let mut c = Raw::handshake(&broker, &Connect::v5("p").build(), &connack);
    c.send(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    c.expect_disconnect(0x94);
}

// Alias 0 is a protocol error; mosquitto 2.0.11 already refuses it when it reads the
// properties and says 0x81 (malformed packet), not 0x94.
#[test]
// Alias 0 is "topic alias invalid" (0x94) in the spec [MQTT-3.3.2-8] and in midge; mosquitto
// 2.0.11 calls it malformed (0x81).
fn alias_0_gets_disconnect_0x94() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").properties(&alias(0)).build());
    c.expect_disconnect(match common::broker_kind() {
        common::Kind::Midge => 0x94,
        common::Kind::Mosquitto => 0x81,
    });
}

#[test]
fn unknown_alias_with_an_empty_topic_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("", b"one").properties(&alias(3)).build());
    c.expect_disconnect(0x82);
}

#[test]
fn unknown_alias_in_a_qos1_publish_gets_disconnect_0x82_and_no_puback() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "#", 0);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(
        &Publish5::new("", b"one")
            .qos(1, 1)
            .properties(&alias(3))
            .build(),
    );
    c.expect_disconnect(0x82);
    sub.expect_silence(200);
}

#[test]
fn empty_topic_without_an_alias_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("", b"one").build());
    c.expect_disconnect(0x82);
}

// Aliases belong to the connection, not the session.
#[test]
fn aliases_do_not_survive_a_reconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    c.send(&DISCONNECT);
    c.expect_closed();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("", b"two").properties(&alias(1)).build());
    c.expect_disconnect(0x82);
}

// Aliases are per connection: one client's alias means nothing on another's.
#[test]
fn aliases_are_not_shared_between_clients() {
    let broker = Broker::start();
    let mut a = Raw::connected_v5(&broker, "a");
    a.send(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    a.send(&PINGREQ);
    a.expect(&PINGRESP);
    let mut b = Raw::connected_v5(&broker, "b");
    b.send(&Publish5::new("", b"two").properties(&alias(1)).build());
    b.expect_disconnect(0x82);
}

// --- outbound ---

#[test]
fn no_aliases_are_sent_to_a_client_without_a_topic_alias_maximum() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "al/#", 0);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").build());
    c.send(&Publish5::new("al/1", b"two").build());
    sub.expect(&Publish5::new("al/1", b"one").build());
    sub.expect(&Publish5::new("al/1", b"two").build());
}

/// A subscriber to `al/#` that announced topic alias maximum `max`.
fn alias_subscriber(broker: &Broker, max: u16) -> Raw {
    let connect = Connect::v5("s")
        .properties(&Props::new().topic_alias_maximum(max))
        .build();
    let mut sub = Raw::handshake(broker, &connect, &connack5_ok(false));
    sub.send(&subscribe5(1, &[], &[("al/#", 1)]));
    sub.expect(&suback5(1, &[], &[1]));
    sub
}

// mosquitto 2.0.11 sends the full topic every time even to a client that accepts aliases;
// midge gives a repeated topic an alias: the first delivery carries the topic and alias 1,
// the next ones an empty topic and alias 1.
#[test]
fn repeated_topic_is_sent_with_an_alias_to_a_client_that_accepts_them() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut sub = alias_subscriber(&broker, 5);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").build());
    c.send(&Publish5::new("al/1", b"two").build());
    // 30 0d 00 04 "al/1" 03 23 00 01 "one"
    sub.expect(&[
        0x30, 0x0d, 0x00, 0x04, b'a', b'l', b'/', b'1', 0x03, 0x23, 0x00, 0x01, b'o', b'n', b'e',
    ]);
    // 30 09 00 00 03 23 00 01 "two"
    sub.expect(&[
        0x30, 0x09, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b't', b'w', b'o',
    ]);
}

#[test]
fn second_topic_gets_the_next_alias() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut sub = alias_subscriber(&broker, 5);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").build());
    c.send(&Publish5::new("al/2", b"two").build());
    c.send(&Publish5::new("al/2", b"three").build());
    sub.expect(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    sub.expect(&Publish5::new("al/2", b"two").properties(&alias(2)).build());
    sub.expect(&Publish5::new("", b"three").properties(&alias(2)).build());
}

// Aliases go on the PUBLISH like any property: a QoS 1 delivery keeps its packet id.
#[test]
fn aliased_qos1_delivery_keeps_its_packet_id() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut sub = alias_subscriber(&broker, 5);
    let mut c = Raw::connected_v5(&broker, "p");
    for id in 1..=2 {
        c.send(&Publish5::new("al/q", b"m").qos(1, id).build());
        c.expect(&puback5(id, 0));
    }
    sub.expect(
        &Publish5::new("al/q", b"m")
            .qos(1, 1)
            .properties(&alias(1))
            .build(),
    );
    sub.expect(
        &Publish5::new("", b"m")
            .qos(1, 2)
            .properties(&alias(1))
            .build(),
    );
}

// Aliases are the subscriber's own: a second subscriber gets its own alias 1.
#[test]
fn outbound_aliases_are_per_connection() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut first = alias_subscriber(&broker, 5);
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("al/1", b"one").build());
    first.expect(&Publish5::new("al/1", b"one").properties(&alias(1)).build());
    let connect = Connect::v5("s2")
        .properties(&Props::new().topic_alias_maximum(5))
        .build();
    let mut second = Raw::handshake(&broker, &connect, &connack5_ok(false));
    second.send(&subscribe5(1, &[], &[("al/#", 1)]));
    second.expect(&suback5(1, &[], &[1]));
    c.send(&Publish5::new("al/1", b"two").build());
    first.expect(&Publish5::new("", b"two").properties(&alias(1)).build());
    second.expect(&Publish5::new("al/1", b"two").properties(&alias(1)).build());
}
