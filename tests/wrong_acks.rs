//! Acknowledgements of the wrong kind from a subscriber: a PUBREC or PUBCOMP for a QoS 1
//! message, a PUBACK for a QoS 2 one, a PUBCOMP before PUBREC. mosquitto 2.0.11 closes the
//! connection for each, without a DISCONNECT even for an MQTT 5 client, and so does midge;
//! acknowledgements of packet ids that are not in flight are ignored (PUBREC is answered with
//! PUBREL all the same).

mod common;

use common::packets::*;
use common::{Broker, Raw};

const TOPIC: &str = "wa/t";

#[derive(Clone, Copy, Debug)]
enum Version {
    V311,
    V5,
}

const VERSIONS: [Version; 2] = [Version::V311, Version::V5];

/// A client subscribed at `qos` that has just received a message at that QoS, packet id 1,
/// and acknowledged nothing.
fn receiving(broker: &Broker, version: Version, qos: u8) -> Raw {
    let mut sub = match version {
        Version::V311 => Raw::subscribed(broker, "sub", TOPIC, qos),
        Version::V5 => Raw::subscribed_v5(broker, "sub", TOPIC, qos),
    };
    let mut publisher = Raw::connected(broker, "pub");
    publisher.send(&publish(TOPIC, b"m", qos, false, 1));
    if qos == 1 {
        publisher.expect(&puback(1));
    } else {
        publisher.expect(&pubrec(1));
        publisher.send(&pubrel(1));
        publisher.expect(&pubcomp(1));
    }
    sub.expect(&match version {
        Version::V311 => publish(TOPIC, b"m", qos, false, 1),
        Version::V5 => Publish5::new(TOPIC, b"m").qos(qos, 1).build(),
    });
    sub
}

/// Sends `ack`, then a PINGREQ that must go unanswered: the connection is closed, with
/// nothing sent before the close.
fn closes_silently(sub: &mut Raw, ack: &[u8]) {
    sub.send(ack);
    sub.send(&PINGREQ);
    sub.expect_closed();
}

#[test]
fn pubrec_for_a_qos1_message_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 1);
        closes_silently(&mut sub, &pubrec(1));
    }
}

#[test]
fn pubcomp_for_a_qos1_message_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 1);
        closes_silently(&mut sub, &pubcomp(1));
    }
}

#[test]
fn puback_for_a_qos2_message_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 2);
        closes_silently(&mut sub, &puback(1));
    }
}

#[test]
fn puback_for_a_released_qos2_message_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 2);
        sub.send(&pubrec(1));
        sub.expect(&pubrel(1));
        closes_silently(&mut sub, &puback(1));
    }
}

#[test]
fn pubcomp_before_pubrec_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 2);
        closes_silently(&mut sub, &pubcomp(1));
    }
}

// MQTT 5: a PUBREC with an error code refuses the message, which is only possible before
// it was released.
#[test]
fn mqtt5_pubrec_refusing_a_released_message_closes_the_connection_without_a_reason() {
    let broker = Broker::start();
    let mut sub = receiving(&broker, Version::V5, 2);
    sub.send(&pubrec(1));
    sub.expect(&pubrel(1));
    closes_silently(&mut sub, &pubrec5(1, 0x80));
}

#[test]
fn acknowledgements_of_packet_ids_not_in_flight_are_ignored() {
    let broker = Broker::start();
    for version in VERSIONS {
        let mut sub = receiving(&broker, version, 2);
        sub.send(&puback(7));
        sub.send(&pubcomp(8));
        sub.send(&pubrec(9));
        sub.expect(&pubrel(9));
        // The flow in progress goes on, a repeated PUBREC included.
        sub.send(&pubrec(1));
        sub.expect(&pubrel(1));
        sub.send(&pubrec(1));
        sub.expect(&pubrel(1));
        sub.send(&pubcomp(1));
        sub.send(&PINGREQ);
        sub.expect(&PINGRESP);
    }
}
