//! Will messages (mosquitto's 07-will-* tests).
//!
//! That a will is *not* published is checked with a marker: once the connection is gone, a
//! marker message is published, and the watcher's next packet must be the marker.
mod common;
use common::{Broker, Raw, packets::*};

/// A client subscribed to `will/#` at QoS 2.
fn watcher(broker: &Broker) -> Raw {
    let mut w = Raw::connected(broker, "watcher");
    w.send(&subscribe(1, "will/#", 2));
    w.expect(&suback(1, 2));
    w
}

fn connect_with_will(broker: &Broker, connect: Connect) -> Raw {
    Raw::handshake(broker, &connect.build(), &CONNACK_OK)
}

fn expect_marker_next(broker: &Broker, watcher: &mut Raw) {
    let mut publ = Raw::connected(broker, "marker");
    publ.send(&publish("will/marker", b"marker", 0, false, 0));
    watcher.expect(&publish("will/marker", b"marker", 0, false, 0));
}

#[test]
fn will_qos0_is_published_when_the_connection_drops() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = connect_with_will(
        &broker,
        Connect::v311("w1").will("will/a", b"gone", 0, false),
    );
    drop(c);
    w.expect(&[
        0x30, 0x0c, 0x00, 0x06, b'w', b'i', b'l', b'l', b'/', b'a', b'g', b'o', b'n', b'e',
    ]);
}

#[test]
fn will_qos1_is_delivered_at_qos1() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    drop(connect_with_will(
        &broker,
        Connect::v311("w1").will("will/b", b"bye", 1, false),
    ));
    w.expect(&publish("will/b", b"bye", 1, false, 1));
    w.send(&puback(1));
}

#[test]
fn will_qos2_is_delivered_at_qos2() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    drop(connect_with_will(
        &broker,
        Connect::v311("w1").will("will/h", b"q2", 2, false),
    ));
    w.expect(&publish("will/h", b"q2", 2, false, 1));
    w.send(&pubrec(1));
    w.expect(&pubrel(1));
    w.send(&pubcomp(1));
}

#[test]
fn retained_will_goes_live_with_retain_0_and_is_stored_as_retained() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    drop(connect_with_will(
        &broker,
        Connect::v311("w2").will("will/b", b"bye", 1, true),
    ));
    w.expect(&[
        0x32, 0x0d, 0x00, 0x06, b'w', b'i', b'l', b'l', b'/', b'b', 0x00, 0x01, b'b', b'y', b'e',
    ]);
    w.send(&puback(1));
    let mut late = Raw::connected(&broker, "late");
    late.send(&subscribe(1, "will/b", 0));
    late.expect(&suback(1, 0));
    late.expect(&[
        0x31, 0x0b, 0x00, 0x06, b'w', b'i', b'l', b'l', b'/', b'b', b'b', b'y', b'e',
    ]);
}

#[test]
fn will_from_a_v31_client_is_published() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    drop(connect_with_will(
        &broker,
        Connect::v31("w31").will("will/i", b"v31", 0, false),
    ));
    w.expect(&publish("will/i", b"v31", 0, false, 0));
}

#[test]
fn will_is_not_published_after_disconnect() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut c = connect_with_will(&broker, Connect::v311("w3").will("will/c", b"no", 0, false));
    c.send(&DISCONNECT);
    c.expect_closed();
    broker.wait_for_log("Client w3 disconnected.");
    expect_marker_next(&broker, &mut w);
}

#[test]
fn will_is_published_when_the_client_breaks_the_protocol() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut c = connect_with_will(
        &broker,
        Connect::v311("w5").will("will/e", b"proto", 0, false),
    );
    c.send(&[0x00, 0x00]);
    c.expect_closed();
    w.expect(&publish("will/e", b"proto", 0, false, 0));
}

#[test]
fn will_is_published_when_a_truncated_packet_is_followed_by_close() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut c = connect_with_will(
        &broker,
        Connect::v311("tr").will("will/tr", b"trunc", 0, false),
    );
    let half = publish("x", b"0123456789", 0, false, 0);
    c.send(&half[..7]);
    drop(c);
    w.expect(&publish("will/tr", b"trunc", 0, false, 0));
}

#[test]
fn will_is_published_on_takeover_of_a_clean_session() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut first = connect_with_will(
        &broker,
        Connect::v311("w4").will("will/d", b"takeover", 0, false),
    );
    let _second = Raw::connected(&broker, "w4");
    first.expect_closed();
    w.expect(&publish("will/d", b"takeover", 0, false, 0));
}

// mosquitto publishes the old connection's will on takeover when either session is clean...
#[test]
fn will_is_published_on_takeover_of_a_persistent_session_by_a_clean_one() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut first = connect_with_will(
        &broker,
        Connect::v311("tp")
            .clean(false)
            .will("will/tp", b"x", 0, false),
    );
    let _second = Raw::connected(&broker, "tp");
    first.expect_closed();
    w.expect(&publish("will/tp", b"x", 0, false, 0));
}

#[test]
fn will_is_published_on_takeover_of_a_clean_session_by_a_persistent_one() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut first = connect_with_will(&broker, Connect::v311("tq").will("will/tq", b"y", 0, false));
    let _second = Raw::connected_persistent(&broker, "tq", false);
    first.expect_closed();
    w.expect(&publish("will/tq", b"y", 0, false, 0));
}

// ...but not when both the old and the new connection ask for a persistent session: the
// session simply carries on.
#[test]
fn will_is_not_published_on_takeover_when_both_sessions_are_persistent() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut first = connect_with_will(
        &broker,
        Connect::v311("w7")
            .clean(false)
            .will("will/g", b"takeover-persist", 0, false),
    );
    let _second = Raw::connected_persistent(&broker, "w7", true);
    first.expect_closed();
    expect_marker_next(&broker, &mut w);
}

#[test]
fn will_of_the_taken_over_connection_does_not_carry_over_to_the_new_one() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut first = connect_with_will(
        &broker,
        Connect::v311("w8")
            .clean(false)
            .will("will/w8", b"old", 0, false),
    );
    let second = Raw::connected_persistent(&broker, "w8", true);
    first.expect_closed();
    drop(second);
    broker.wait_for_log("Client w8 closed its connection.");
    expect_marker_next(&broker, &mut w);
}

#[test]
fn will_topic_with_a_wildcard_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("w9").will("will/#", b"x", 0, false).build());
    c.expect_closed();
}

#[test]
fn empty_will_topic_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("w10").will("", b"x", 0, false).build());
    c.expect_closed();
}

#[test]
fn will_topic_with_invalid_utf8_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(
        &Connect::v311("w11")
            .will_topic_bytes(b"will/\xff", b"x")
            .build(),
    );
    c.expect_closed();
}

#[test]
fn will_with_empty_payload_is_published_empty() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    drop(connect_with_will(
        &broker,
        Connect::v311("w12").will("will/empty", b"", 0, false),
    ));
    w.expect(&publish("will/empty", b"", 0, false, 0));
}
