//! DISCONNECT in MQTT 5, both ways. From the broker: which errors mosquitto 2.0.11 reports
//! with a DISCONNECT reason code before closing (0x81 malformed packet, 0x82 protocol error;
//! 0x94, 0x95, 0x9A, 0x9B are in the files for their features) and which it closes silently
//! (keep-alive timeout, shutdown, duplicate properties, a second CONNECT, a bad DISCONNECT),
//! midge deciding as it does (the table in `src/broker/close.rs`). From the client: reason
//! codes and what they do to the will.

mod common;

use common::packets::*;
use common::{Broker, Bystander, Kind, Raw, broker_kind};
use std::time::Duration;

// --- 0x81 malformed packet ---

#[test]
fn truncated_publish_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "m");
    c.send(&[0x30, 0x01, 0x00]);
    c.expect_disconnect(0x81);
}

#[test]
fn publish_with_a_property_publish_cannot_carry_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "m");
    let props = Props::new().receive_maximum(1);
    c.send(&Publish5::new("t", b"x").properties(&props).build());
    c.expect_disconnect(0x81);
}

#[test]
fn malformed_packet_closes_that_connection_only() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut c = Raw::connected_v5(&broker, "m");
    c.send(&[0x30, 0x01, 0x00]);
    c.expect_disconnect(0x81);
    bystander.assert_still_served(&broker);
}

// --- 0x82 protocol error ---

#[test]
fn publish_to_a_wildcard_topic_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("a/+", b"x").build());
    c.expect_disconnect(0x82);
}

#[test]
fn qos1_publish_with_packet_id_0_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&Publish5::new("a", b"x").qos(1, 0).build());
    c.expect_disconnect(0x82);
}

// mosquitto's answer to a packet type it does not know.
#[test]
fn reserved_packet_type_0_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&[0x00, 0x00]);
    c.expect_disconnect(0x82);
}

// A property length of 0 in two bytes: variable byte integers must be in their shortest
// form [MQTT-1.5.5-1].
#[test]
fn publish_with_an_overlong_property_length_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&[0x30, 0x06, 0x00, 0x01, b't', 0x80, 0x00, b'x']);
    c.expect_disconnect(0x81);
}

#[test]
fn disconnect_with_an_expiry_after_connect_without_one_gets_disconnect_0x82() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&disconnect5(0, &Props::new().session_expiry_interval(1)));
    c.expect_disconnect(0x82);
}

// --- closed without a DISCONNECT ---

// A protocol error, which mosquitto's property reader reports as a duplicate, and its
// PUBLISH handler passes on without a DISCONNECT.
#[test]
fn publish_with_a_duplicate_property_is_closed_without_a_reason() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    let props = Props::new()
        .payload_format_indicator(1)
        .payload_format_indicator(1);
    c.send(&Publish5::new("t", b"x").properties(&props).build());
    c.expect_closed();
}

#[test]
fn second_connect_is_closed_without_a_reason() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "twice");
    c.send(&Connect::v5("twice").build());
    c.expect_closed();
}

// Not even the CONNACK refusing the version that a first CONNECT would get.
#[test]
fn second_connect_with_an_unknown_protocol_version_is_closed_without_a_reply() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "twice");
    c.send(&Connect::v5("twice").protocol(b"MQTT", 6).build());
    c.expect_closed();
}

#[test]
fn connack_from_a_client_is_closed_without_a_reason() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&connack5_ok(false));
    c.expect_closed();
    let mut c = Raw::connected(&broker, "p3");
    c.send(&CONNACK_OK);
    c.expect_closed();
}

#[test]
fn disconnect_with_an_invalid_reason_code_is_closed_without_disconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&disconnect5(0xff, &[]));
    c.expect_closed();
}

// Malformed, but a fault of a DISCONNECT, which mosquitto closes for without a word.
#[test]
fn disconnect_with_a_property_it_cannot_carry_is_closed_without_a_reason() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "p");
    c.send(&disconnect5(0, &Props::new().payload_format_indicator(1)));
    c.expect_closed();
}

/// See keepalive.rs: mosquitto checks keep-alives only every 5 s or so.
fn keepalive_1s_limit() -> Duration {
    match broker_kind() {
        Kind::Midge => Duration::from_secs(3),
        Kind::Mosquitto => Duration::from_secs(9),
    }
}

// The connection is closed as if the network had failed [MQTT-3.1.2-22]: the spec allows
// DISCONNECT 0x8D (keep alive timeout), mosquitto 2.0.11 sends none, and neither does midge.
#[test]
fn keep_alive_timeout_closes_without_a_reason() {
    let broker = Broker::start();
    let connect = Connect::v5("ka1").keepalive(1).build();
    let mut c = Raw::handshake(&broker, &connect, &connack5_ok(false));
    let start = std::time::Instant::now();
    c.expect_closed_within(keepalive_1s_limit());
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(1), "closed after {took:?}");
}

// The spec allows DISCONNECT 0x8B (server shutting down) on SIGTERM; mosquitto 2.0.11 just
// closes, and so does midge.
#[test]
fn shutdown_closes_mqtt5_clients_without_a_reason() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "sd");
    broker.signal("TERM");
    c.expect_closed();
}

// --- DISCONNECT from the client ---

#[test]
fn disconnect_with_reason_0_and_empty_properties_is_a_normal_disconnect() {
    let broker = Broker::start();
    let mut w = Raw::subscribed_v5(&broker, "w", "will/#", 0);
    let connect = Connect::v5("n").will("will/n", b"gone", 0, false).build();
    let mut c = Raw::handshake(&broker, &connect, &connack5_ok(false));
    c.send(&[0xe0, 0x02, 0x00, 0x00]);
    c.expect_closed();
    w.expect_silence(300);
}

#[test]
fn disconnect_with_will_message_0x04_publishes_the_will() {
    let broker = Broker::start();
    let mut w = Raw::subscribed_v5(&broker, "w", "will/#", 0);
    let connect = Connect::v5("x").will("will/x", b"gone", 0, false).build();
    let mut c = Raw::handshake(&broker, &connect, &connack5_ok(false));
    c.send(&disconnect5(0x04, &[]));
    c.expect_closed();
    w.expect(&Publish5::new("will/x", b"gone").build());
}

#[test]
fn disconnect_with_reason_and_reason_string_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "rs");
    c.send(&disconnect5(0x00, &Props::new().reason_string("bye")));
    c.expect_closed();
    broker.wait_for_log("Client rs disconnected.");
}

// Only DISCONNECT 0x00 discards the will [MQTT-3.1.2-8]; mosquitto 2.0.11 keeps it for
// 0x04 only and discards it for an error reason such as 0x80.
#[test]
fn disconnect_with_an_error_reason_publishes_the_will() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut w = Raw::subscribed_v5(&broker, "w", "will/#", 0);
    let connect = Connect::v5("e").will("will/e", b"gone", 0, false).build();
    let mut c = Raw::handshake(&broker, &connect, &connack5_ok(false));
    c.send(&disconnect5(0x80, &[]));
    c.expect_closed();
    w.expect(&Publish5::new("will/e", b"gone").build());
}

// --- takeover (see also mqtt5_session.rs) ---

// mosquitto 2.0.11 closes a taken-over connection without a packet; MQTT 5 has the broker
// send DISCONNECT 0x8E (session taken over) first, whatever version the new connection
// speaks.
#[test]
fn mqtt5_connection_taken_over_by_a_v311_one_gets_disconnect_0x8e() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut old = Raw::connected_v5(&broker, "twin");
    let _new = Raw::connected(&broker, "twin");
    old.expect_disconnect(0x8e);
}

#[test]
fn mqtt5_connection_taken_over_with_a_kept_session_gets_disconnect_0x8e() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let expiry = Props::new().session_expiry_interval(60);
    let connect = Connect::v5("twin").clean(false).properties(&expiry).build();
    let mut old = Raw::handshake(&broker, &connect, &connack5_ok(false));
    let _new = Raw::handshake(&broker, &connect, &connack5_ok(true));
    old.expect_disconnect(0x8e);
}

#[test]
fn v311_connection_taken_over_by_an_mqtt5_one_is_closed_without_a_packet() {
    let broker = Broker::start();
    let mut old = Raw::connected(&broker, "twin");
    let _new = Raw::connected_v5(&broker, "twin");
    old.expect_closed();
}
