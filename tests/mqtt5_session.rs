//! MQTT 5 session lifetime: the session expiry interval, DISCONNECT's say in it, and what
//! a taken-over connection is told.

mod common;

use common::packets::*;
use common::{Broker, Raw};

/// mosquitto's default MQTT 5 CONNACK properties: topic alias maximum 10, receive maximum 20.
fn connack_v5(session_present: bool) -> Vec<u8> {
    vec![
        0x20,
        0x09,
        u8::from(session_present),
        0x00,
        0x06,
        0x22,
        0x00,
        0x0a,
        0x21,
        0x00,
        0x14,
    ]
}

/// Session expiry interval property (0x11) of `seconds`.
fn expiry(seconds: u32) -> Vec<u8> {
    let mut p = vec![0x11];
    p.extend_from_slice(&seconds.to_be_bytes());
    p
}

fn connect_v5(broker: &Broker, id: &str, clean: bool, properties: &[u8], present: bool) -> Raw {
    let connect = Connect::v5(id).clean(clean).properties(properties).build();
    Raw::handshake(broker, &connect, &connack_v5(present))
}

#[test]
fn without_an_expiry_interval_the_session_ends_with_the_connection() {
    let broker = Broker::start();
    let mut c = connect_v5(&broker, "no-expiry", false, &[], false);
    c.send(&DISCONNECT);
    c.expect_closed();
    connect_v5(&broker, "no-expiry", false, &[], false);
}

#[test]
fn with_an_expiry_interval_the_session_outlives_the_connection() {
    let broker = Broker::start();
    let mut c = connect_v5(&broker, "kept", false, &expiry(60), false);
    c.send(&DISCONNECT);
    c.expect_closed();
    connect_v5(&broker, "kept", false, &expiry(60), true);
}

#[test]
fn clean_start_discards_a_kept_session() {
    let broker = Broker::start();
    let mut c = connect_v5(&broker, "restart", false, &expiry(60), false);
    c.send(&DISCONNECT);
    c.expect_closed();
    connect_v5(&broker, "restart", true, &expiry(60), false);
}

#[test]
fn disconnect_with_expiry_zero_ends_a_kept_session() {
    let broker = Broker::start();
    let mut c = connect_v5(&broker, "shorten", false, &expiry(60), false);
    // DISCONNECT, reason 0, properties: session expiry interval 0.
    c.send(&[0xe0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 0]);
    c.expect_closed();
    connect_v5(&broker, "shorten", false, &expiry(60), false);
}

#[test]
fn disconnect_cannot_give_an_expiry_to_a_session_that_had_none() {
    let broker = Broker::start();
    let mut c = connect_v5(&broker, "revive", false, &[], false);
    c.send(&[0xe0, 0x07, 0x00, 0x05, 0x11, 0, 0, 0, 60]);
    // Protocol error (0x82), then close.
    c.expect(&[0xe0, 0x01, 0x82]);
    c.expect_closed();
}

#[test]
fn disconnect_with_will_message_publishes_the_will() {
    let broker = Broker::start();
    let mut watcher = Raw::connected(&broker, "watcher");
    watcher.send(&subscribe(1, "wills/+", 0));
    watcher.expect(&suback(1, 0));
    let will = Connect::v5("leaver")
        .will("wills/leaver", b"bye", 0, false)
        .build();
    let mut c = Raw::handshake(&broker, &will, &connack_v5(false));
    c.send(&[0xe0, 0x01, 0x04]);
    c.expect_closed();
    watcher.expect(&publish("wills/leaver", b"bye", 0, false, 0));
}

// mosquitto 2.0.11 just closes the old connection; MQTT 5 asks for the reason code first.
#[test]
fn a_taken_over_mqtt5_connection_is_told_why() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut old = connect_v5(&broker, "twin", true, &[], false);
    let _new = connect_v5(&broker, "twin", true, &[], false);
    // Session taken over (0x8E).
    old.expect(&[0xe0, 0x01, 0x8e]);
    old.expect_closed();
}
