//! CONNECT and CONNACK (mosquitto's 01-connect-* tests): which CONNECT packets are accepted,
//! which get a CONNACK with an error code before the close, and which are closed silently.
mod common;
use common::{Broker, Raw, packets::*};
use std::time::Duration;

#[test]
fn connect_v311_is_accepted_with_connack_0() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("c311", true, 60));
    c.expect(&[0x20, 0x02, 0x00, 0x00]);
    c.expect_silence(100);
}

#[test]
fn connect_v31_mqisdp_level_3_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v31("c31", true, 60));
    c.expect(&[0x20, 0x02, 0x00, 0x00]);
    broker.wait_for_log("as c31 (p1, c1, k60)");
}

#[test]
fn connect_v31_client_can_subscribe_and_receive() {
    let broker = Broker::start();
    let mut sub = Raw::handshake(&broker, &connect_v31("sub31", true, 60), &CONNACK_OK);
    sub.send(&subscribe(1, "t31", 1));
    sub.expect(&suback(1, 1));
    let mut publ = Raw::handshake(&broker, &connect_v31("pub31", true, 60), &CONNACK_OK);
    publ.send(&publish("t31", b"old", 1, false, 7));
    publ.expect(&puback(7));
    sub.expect(&publish("t31", b"old", 1, false, 1));
}

#[test]
fn connect_unknown_protocol_level_gets_connack_1_then_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("lvl9").protocol(b"MQTT", 9).build());
    c.expect(&CONNACK_BAD_PROTOCOL_VERSION);
    c.expect_closed();
}

#[test]
fn connect_level_6_gets_a_v3_style_connack_1_then_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("lvl6").protocol(b"MQTT", 6).build());
    c.expect(&[0x20, 0x02, 0x00, 0x01]);
    c.expect_closed();
}

#[test]
fn connect_name_mqtt_with_level_3_gets_connack_1_then_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("mqtt3").protocol(b"MQTT", 3).build());
    c.expect(&CONNACK_BAD_PROTOCOL_VERSION);
    c.expect_closed();
}

#[test]
fn connect_name_mqisdp_with_level_4_gets_connack_1_then_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("mqisdp4").protocol(b"MQIsdp", 4).build());
    c.expect(&CONNACK_BAD_PROTOCOL_VERSION);
    c.expect_closed();
}

#[test]
fn connect_invalid_protocol_name_is_closed_without_connack() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("badname").protocol(b"MQTX", 4).build());
    c.expect_closed();
}

#[test]
fn connect_empty_client_id_with_clean_session_is_accepted_with_an_auto_id() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("", true, 60));
    c.expect(&CONNACK_OK);
    broker.wait_for_log(" as auto-");
}

#[test]
fn connect_empty_client_id_without_clean_session_gets_connack_2_then_close() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("", false, 60));
    c.expect(&CONNACK_IDENTIFIER_REJECTED);
    c.expect_closed();
}

// mosquitto follows MQTT 3.1 here, where a client id is mandatory: even with clean session
// an empty id gets return code 2.
#[test]
fn connect_v31_empty_client_id_gets_connack_2_even_with_clean_session() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v31("", true, 60));
    c.expect(&CONNACK_IDENTIFIER_REJECTED);
    c.expect_closed();
}

// MQTT 3.1 limits client ids to 23 characters; mosquitto does not enforce it.
#[test]
fn connect_v31_client_id_longer_than_23_characters_is_accepted() {
    let broker = Broker::start();
    let id = "a-client-id-of-30-characters-x";
    assert_eq!(id.len(), 30);
    let mut c = Raw::connect(&broker);
    c.send(&connect_v31(id, true, 60));
    c.expect(&CONNACK_OK);
}

#[test]
fn connect_client_id_with_invalid_utf8_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("").client_id_bytes(b"\xff\xfe").build());
    c.expect_closed();
}

#[test]
fn connect_client_id_with_nul_character_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("").client_id_bytes(b"a\x00b").build());
    c.expect_closed();
}

#[test]
fn connect_reserved_flag_bit_set_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("reserved").flags(0x03).build());
    c.expect_closed();
}

// MQTT 3.1 did not reserve bit 0; mosquitto only checks it for 3.1.1 and 5.
#[test]
fn connect_v31_reserved_flag_bit_set_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v31("reserved31").flags(0x03).build());
    c.expect(&CONNACK_OK);
}

#[test]
fn connect_with_fixed_header_flags_set_is_closed() {
    let broker = Broker::start();
    let mut bytes = connect_v311("hdrflags", true, 60);
    bytes[0] = 0x11;
    let mut c = Raw::connect(&broker);
    c.send(&bytes);
    c.expect_closed();
}

#[test]
fn connect_will_qos_3_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("willq3").will("w", b"p", 3, false).build());
    c.expect_closed();
}

#[test]
fn connect_will_qos_without_will_flag_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    // clean session + will QoS 1, will flag clear.
    c.send(&Connect::v311("willqos").flags(0x02 | 0x08).build());
    c.expect_closed();
}

#[test]
fn connect_will_retain_without_will_flag_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    // clean session + will retain, will flag clear.
    c.send(&Connect::v311("willretain").flags(0x02 | 0x20).build());
    c.expect_closed();
}

#[test]
fn connect_password_without_username_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("pwonly").password(b"secret").build());
    c.expect_closed();
}

// MQTT 3.1 does not forbid a password without a username; mosquitto closes anyway.
#[test]
fn connect_v31_password_without_username_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v31("pwonly31").password(b"secret").build());
    c.expect_closed();
}

#[test]
fn connect_username_without_password_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("useronly").username(b"us").build());
    c.expect(&CONNACK_OK);
    broker.wait_for_log("as useronly (p2, c1, k60, u'us')");
}

#[test]
fn connect_username_and_password_are_accepted_with_anonymous_access() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(
        &Connect::v311("userpass")
            .username(b"us")
            .password(b"pw")
            .build(),
    );
    c.expect(&CONNACK_OK);
}

#[test]
fn connect_username_flag_without_username_field_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("nouserfield").flags(0x82).build());
    c.expect_closed();
}

#[test]
fn connect_username_with_invalid_utf8_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("baduser").username(b"\xff").build());
    c.expect_closed();
}

#[test]
fn connect_keepalive_0_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("ka0", true, 0));
    c.expect(&CONNACK_OK);
    broker.wait_for_log("as ka0 (p2, c1, k0)");
}

#[test]
fn second_connect_on_the_same_connection_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "twice");
    c.send(&connect_v311("twice", true, 60));
    c.expect_closed();
}

#[test]
fn session_takeover_closes_the_first_connection_without_a_packet() {
    let broker = Broker::start();
    let mut first = Raw::connected(&broker, "same-id");
    let mut second = Raw::connected(&broker, "same-id");
    first.expect_closed();
    second.send(&PINGREQ);
    second.expect(&PINGRESP);
}

#[test]
fn session_takeover_new_connection_receives_and_old_does_not() {
    let broker = Broker::start();
    let mut first = Raw::connected(&broker, "taken");
    first.send(&subscribe(1, "takeover/t", 0));
    first.expect(&suback(1, 0));
    let mut second = Raw::connected(&broker, "taken");
    first.expect_closed();
    // A clean session was asked for: the old subscription is gone.
    second.send(&subscribe(1, "takeover/u", 0));
    second.expect(&suback(1, 0));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("takeover/t", b"old", 0, false, 0));
    publ.send(&publish("takeover/u", b"new", 0, false, 0));
    second.expect(&publish("takeover/u", b"new", 0, false, 0));
}

#[test]
fn pingreq_before_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&PINGREQ);
    c.expect_closed();
}

#[test]
fn publish_before_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&publish("early", b"x", 0, false, 0));
    c.expect_closed();
}

#[test]
fn subscribe_before_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&subscribe(1, "early", 0));
    c.expect_closed();
}

#[test]
fn disconnect_before_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&DISCONNECT);
    c.expect_closed();
}

#[test]
fn http_request_instead_of_connect_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    c.expect_closed();
}

#[test]
fn disconnect_after_connect_closes_the_connection() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "bye");
    c.send(&DISCONNECT);
    c.expect_closed();
    broker.wait_for_log("Client bye disconnected.");
}

// midge-only: mosquitto 2.0 has no connect_timeout and keeps a silent socket open forever.
#[test]
fn socket_that_never_sends_connect_is_closed_after_connect_timeout() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("connect_timeout 1");
    let mut c = Raw::connect(&broker);
    let took = c.expect_closed_within(Duration::from_secs(3));
    assert!(
        took >= Duration::from_millis(900),
        "closed after {took:?}, before the 1 s connect_timeout"
    );
}

// --- MQTT 5 CONNACK bytes, where mosquitto's reply is simple ---

// Properties: topic alias maximum 10 (0x22), receive maximum 20 (0x21), mosquitto's defaults.
#[test]
fn connect_v5_gets_connack_with_topic_alias_and_receive_maximum() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("v5").build());
    c.expect(&[
        0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14,
    ]);
    broker.wait_for_log("as v5 (p5, c1, k60)");
}

// The assigned client identifier (0x12) sits between the two other properties.
#[test]
fn connect_v5_empty_client_id_gets_an_assigned_client_identifier() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("").clean(false).build());
    let connack = c.recv_packet();
    let head = [
        0x20, 0x35, 0x00, 0x00, 0x32, 0x22, 0x00, 0x0a, 0x12, 0x00, 0x29,
    ];
    assert_eq!(common::hex(&connack[..head.len()]), common::hex(&head));
    let id = std::str::from_utf8(&connack[head.len()..head.len() + 0x29]).expect("UTF-8 id");
    assert!(id.starts_with("auto-"), "assigned id {id:?}");
    assert_eq!(
        common::hex(&connack[head.len() + 0x29..]),
        common::hex(&[0x21, 0x00, 0x14])
    );
    broker.wait_for_log(&format!("as {id} (p5, c0, k60)"));
}

// Keep-alive 0 is answered with a server keep alive (0x13) of 65535, mosquitto's
// max_keepalive default.
#[test]
fn connect_v5_keepalive_0_gets_server_keep_alive_65535() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("v5ka0").keepalive(0).build());
    c.expect(&[
        0x20, 0x0c, 0x00, 0x00, 0x09, 0x22, 0x00, 0x0a, 0x13, 0xff, 0xff, 0x21, 0x00, 0x14,
    ]);
}

#[test]
fn connect_v5_reserved_flag_bit_set_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("v5res").flags(0x03).build());
    c.expect_closed();
}
