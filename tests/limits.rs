//! Configured limits and access rules: what happens at each bound.

mod common;

use common::packets::*;
use common::{Broker, Bystander, Raw};

/// The harness checks the port with a connection of its own; it must be gone before the
/// test counts connections.
fn wait_for_the_harness_probe_to_close(broker: &Broker) {
    broker.wait_for_log("Client <unknown> closed its connection.");
}

// mosquitto counts a listener's clients when it frees them, some time after they close, so
// its count lags behind the sockets actually open (the harness's own probe connection
// included); these two are midge's exact behaviour.
#[test]
fn max_connections_refuses_the_connection_over_the_limit() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("max_connections 2");
    wait_for_the_harness_probe_to_close(&broker);
    let _a = Raw::connected(&broker, "a");
    let _b = Raw::connected(&broker, "b");
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("c", true, 60));
    c.expect_closed();
}

#[test]
fn max_connections_frees_a_place_when_a_client_leaves() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("max_connections 1");
    wait_for_the_harness_probe_to_close(&broker);
    let mut a = Raw::connected(&broker, "a");
    a.send(&DISCONNECT);
    a.expect_closed();
    broker.wait_for_log("Client a disconnected.");
    Raw::connected(&broker, "b");
}

#[test]
fn message_size_limit_drops_larger_payloads_but_still_acknowledges() {
    let broker = Broker::start_with("message_size_limit 10");
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "t", 1));
    sub.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"eleven byte", 1, false, 5));
    publ.expect(&puback(5));
    publ.send(&publish("t", b"ten bytes!", 1, false, 6));
    publ.expect(&puback(6));
    sub.expect(&publish("t", b"ten bytes!", 1, false, 1));
}

#[test]
fn max_packet_size_closes_a_client_that_sends_a_larger_packet() {
    let broker = Broker::start_with("max_packet_size 100");
    let mut bystander = Bystander::new(&broker);
    let mut c = Raw::connected(&broker, "big");
    c.send(&publish("t", &[b'x'; 200], 0, false, 0));
    c.expect_closed();
    bystander.assert_still_served(&broker);
}

#[test]
fn retain_available_false_closes_a_client_that_publishes_retained() {
    let broker = Broker::start_with("retain_available false");
    let mut c = Raw::connected(&broker, "r");
    c.send(&publish("t", b"kept?", 0, true, 0));
    c.expect_closed();
}

#[test]
fn anonymous_clients_are_refused_without_allow_anonymous() {
    let broker = Broker::start_with("allow_anonymous false");
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("anon", true, 60));
    c.expect(&connack(false, 5));
    c.expect_closed();
    broker.wait_for_log("disconnected, not authorised.");
}

#[test]
fn anonymous_mqtt5_clients_are_refused_with_reason_0x87() {
    let broker = Broker::start_with("allow_anonymous false");
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("anon5").build());
    c.expect(&[0x20, 0x03, 0x00, 0x87, 0x00]);
    c.expect_closed();
}

#[test]
fn max_queued_messages_zero_means_unlimited() {
    let broker = Broker::start_with("max_queued_messages 0");
    Raw::offline_subscriber(&broker, "offline", "q", 1);
    let mut publ = Raw::connected(&broker, "pub");
    for i in 1..=1500u16 {
        publ.send(&publish("q", &i.to_be_bytes(), 1, false, i));
        publ.expect(&puback(i));
    }
    let mut back = Raw::connected_persistent(&broker, "offline", true);
    for i in 1..=1500u16 {
        let packet = back.recv_packet();
        assert_eq!(&packet[packet.len() - 2..], &i.to_be_bytes(), "message {i}");
        back.send(&puback(u16::from_be_bytes([packet[5], packet[6]])));
    }
}

/// A PUBLISH of exactly the default `max_packet_size` (2,000,000 bytes, mosquitto 2.1's) is
/// taken, one byte more closes the connection, and MQTT 5 clients are not told the default.
#[test]
fn the_default_max_packet_size_is_2_000_000_bytes() {
    if common::midge_only() {
        return; // mosquitto 2.0.11 takes up to the protocol's maximum
    }
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    // 1 + 3 (remaining length) + 3 (topic) + 2 (packet id) + payload.
    let mut c = Raw::connected(&broker, "fits");
    c.send(&publish("t", &vec![b'x'; 2_000_000 - 9], 1, false, 1));
    c.expect(&puback(1));
    let mut v5 = Raw::connected_v5(&broker, "over");
    v5.send(&Publish5::new("t", &vec![b'x'; 2_000_000 - 7]).build());
    v5.expect_disconnect(0x95);
    bystander.assert_still_served(&broker);
}

#[test]
fn max_packet_size_can_be_set_above_the_default() {
    if common::midge_only() {
        return; // the default it raises is midge's
    }
    let broker = Broker::start_with("max_packet_size 3000000");
    let mut c = Raw::connected(&broker, "big");
    c.send(&publish("t", &vec![b'x'; 2_500_000], 1, false, 1));
    c.expect(&puback(1));
}

/// `max_client_id_length` (1,024 bytes by default): one byte more is refused, with 3.1.1's
/// "identifier rejected" and MQTT 5's 0x85 "client identifier not valid".
#[test]
fn a_client_id_over_max_client_id_length_is_refused() {
    if common::midge_only() {
        return; // mosquitto takes 65,535 bytes
    }
    let broker = Broker::start();
    let longest = "i".repeat(1024);
    Raw::handshake(&broker, &connect_v311(&longest, true, 60), &CONNACK_OK);
    let over = "i".repeat(1025);
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311(&over, true, 60));
    c.expect(&connack(false, 2));
    c.expect_closed();
    let mut c5 = Raw::connect(&broker);
    c5.send(&Connect::v5(&over).build());
    c5.expect(&connack5(false, 0x85, &[]));
    c5.expect_closed();
}

/// With `use_username_as_clientid` the username is the client id, and held to the same
/// length: a username may be 65,535 bytes.
#[test]
fn a_username_that_becomes_a_client_id_over_max_client_id_length_is_refused() {
    if common::midge_only() {
        return; // mosquitto takes 65,535 bytes
    }
    let broker = Broker::start_with("use_username_as_clientid true");
    let longest = "u".repeat(1024);
    let hello = Connect::v311("short").username(longest.as_bytes()).build();
    Raw::handshake(&broker, &hello, &CONNACK_OK);
    let over = "u".repeat(1025);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("short").username(over.as_bytes()).build());
    c.expect(&connack(false, 2));
    c.expect_closed();
    broker.wait_for_log("Client id of 1025 bytes refused: more than max_client_id_length.");
}

/// `max_topic_length` (4,096 bytes by default) holds for topic names, wills and filters, with
/// the answers mosquitto gives a topic over its level limit: MQTT 5's 0x82 for a PUBLISH and
/// 0x81 for a SUBSCRIBE.
#[test]
fn a_topic_over_max_topic_length_closes_the_connection() {
    if common::midge_only() {
        return; // mosquitto takes 65,535 bytes
    }
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let longest = "t".repeat(4096);
    let over = "t".repeat(4097);
    let mut c = Raw::connected(&broker, "longest");
    c.send(&publish(&longest, b"x", 1, false, 1));
    c.expect(&puback(1));
    c.send(&subscribe(2, &longest, 0));
    c.expect(&suback(2, 0));
    let mut p = Raw::connected_v5(&broker, "publisher");
    p.send(&Publish5::new(&over, b"x").build());
    p.expect_disconnect(0x82);
    let mut s = Raw::connected_v5(&broker, "subscriber");
    s.send(&subscribe5(1, &[], &[(&over, 0)]));
    s.expect_disconnect(0x81);
    let mut w = Raw::connect(&broker);
    w.send(&Connect::v311("will").will(&over, b"bye", 0, false).build());
    w.expect_closed();
    bystander.assert_still_served(&broker);
}

#[test]
fn max_topic_levels_bounds_topics_and_filters() {
    if common::midge_only() {
        return; // a midge setting
    }
    let broker = Broker::start_with("max_topic_levels 3");
    let mut c = Raw::connected(&broker, "three");
    c.send(&publish("a/b/c", b"x", 1, false, 1));
    c.expect(&puback(1));
    c.send(&publish("a/b/c/d", b"x", 1, false, 2));
    c.expect_closed();
    let mut s = Raw::connected(&broker, "filter");
    s.send(&subscribe(1, "a/+/#", 0));
    s.expect(&suback(1, 0));
    s.send(&subscribe(2, "a/b/c/#", 0));
    s.expect_closed();
}

/// `max_persistent_sessions`: a CONNECT that would start one session more than the bound
/// is refused (3.1.1: 3 server unavailable; MQTT 5: 0x97 quota exceeded). Clients that
/// resume their session, and clean ones, still get in, and a session that ends frees a place.
#[test]
fn max_persistent_sessions_refuses_one_more_and_lets_the_others_back() {
    if common::midge_only() {
        return; // a midge setting
    }
    let broker = Broker::start_with("max_persistent_sessions 2");
    for id in ["p1", "p2"] {
        let mut c = Raw::connected_persistent(&broker, id, false);
        c.send(&DISCONNECT);
        c.expect_closed();
    }
    let mut third = Raw::connect(&broker);
    third.send(&connect_v311("p3", false, 60));
    third.expect(&connack(false, 3));
    third.expect_closed();
    let mut third5 = Raw::connect(&broker);
    let persistent5 = Connect::v5("p3")
        .clean(false)
        .properties(&[0x11, 0xff, 0xff, 0xff, 0xff]);
    third5.send(&persistent5.build());
    third5.expect(&connack5(false, 0x97, &[]));
    third5.expect_closed();
    let _clean = Raw::connected(&broker, "clean");
    let mut back = Raw::connected_persistent(&broker, "p1", true);
    back.send(&DISCONNECT);
    back.expect_closed();
    // p2 comes back with a clean session: its persistent session ends, and p3 gets in.
    let mut p2 = Raw::connected(&broker, "p2");
    p2.send(&DISCONNECT);
    p2.expect_closed();
    Raw::connected_persistent(&broker, "p3", false);
}
