//! MQTT 5 enhanced authentication. mosquitto 2.0.11 without an authentication plugin
//! supports no method: a CONNECT naming one is refused with CONNACK 0x8C (bad
//! authentication method), and an AUTH packet is never expected, so it ends the connection.

mod common;

use common::packets::*;
use common::{Broker, Bystander, Raw};

#[test]
fn connect_with_an_authentication_method_gets_connack_0x8c_and_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    let props = Props::new().authentication_method("SCRAM-SHA-1");
    c.send(&Connect::v5("am").properties(&props).build());
    // 20 03 00 8c 00
    c.expect(&[0x20, 0x03, 0x00, 0x8c, 0x00]);
    c.expect_closed();
}

#[test]
fn connect_with_an_authentication_method_and_a_username_gets_connack_0x8c() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    let props = Props::new()
        .authentication_method("PLAIN")
        .authentication_data(b"\0user\0pass");
    c.send(
        &Connect::v5("am")
            .properties(&props)
            .username(b"user")
            .password(b"pass")
            .build(),
    );
    c.expect(&connack5(false, 0x8c, &[]));
    c.expect_closed();
}

// The refused client leaves no session behind: the same id connects afterwards as new.
#[test]
fn refused_enhanced_authentication_leaves_no_session() {
    let broker = Broker::start();
    let props = Props::new()
        .authentication_method("SCRAM-SHA-1")
        .session_expiry_interval(60);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("am").clean(false).properties(&props).build());
    c.expect(&connack5(false, 0x8c, &[]));
    c.expect_closed();
    let plain = Props::new().session_expiry_interval(60);
    let connect = Connect::v5("am").clean(false).properties(&plain).build();
    Raw::handshake(&broker, &connect, &connack5_ok(false));
}

// The client did not start enhanced authentication, so AUTH is a protocol error; mosquitto
// 2.0.11 closes the connection without a DISCONNECT, and so does midge, whatever the AUTH.
#[test]
fn auth_from_a_client_that_did_not_start_enhanced_authentication_is_a_protocol_error() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut c = Raw::connected_v5(&broker, "a");
    c.send(&auth(0x00, &[]));
    c.expect_closed();
    bystander.assert_still_served(&broker);
}

#[test]
fn auth_continue_authentication_without_a_method_is_a_protocol_error() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "a");
    c.send(&auth(0x18, &[]));
    c.expect_closed();
}

#[test]
fn auth_reauthenticate_with_a_method_is_a_protocol_error() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "a");
    c.send(&auth(
        0x19,
        &Props::new().authentication_method("SCRAM-SHA-1"),
    ));
    c.expect_closed();
}

#[test]
fn auth_before_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&auth(0x00, &[]));
    c.expect_closed();
}

#[test]
fn auth_from_a_v311_client_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "a4");
    c.send(&auth(0x00, &[]));
    c.expect_closed();
}
