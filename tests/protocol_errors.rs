//! Malformed input closes the offending connection and only that one: after each bad input a
//! client that was connected all along still receives a message from a new client.
mod common;
use common::{Broker, Bystander, Raw, packets::*};

const BYSTANDER: &str = common::BYSTANDER_TOPIC;

/// Sends `bytes` on a fresh socket (no CONNECT) and expects the close.
fn before_connect_closes_only_that_connection(bytes: &[u8]) {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connect(&broker);
    bad.send(bytes);
    bad.expect_closed();
    bystander.assert_still_served(&broker);
}

/// Sends `bytes` after a successful CONNECT and expects the close.
fn after_connect_closes_only_that_connection(bytes: &[u8]) {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connected(&broker, "bad");
    bad.send(bytes);
    bad.expect_closed();
    bystander.assert_still_served(&broker);
}

// --- remaining length ---

#[test]
fn remaining_length_of_five_bytes_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]);
}

#[test]
fn remaining_length_of_five_bytes_before_connect_closes_only_that_connection() {
    before_connect_closes_only_that_connection(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]);
}

#[test]
fn huge_announced_remaining_length_then_close_does_not_hurt_others() {
    let broker = Broker::without_midges_bound("max_packet_size 0");
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connected(&broker, "bad");
    // 268,435,455 bytes announced (the maximum), a few sent, then the socket goes away.
    bad.send(&[0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01, b'a']);
    bad.expect_silence(100);
    drop(bad);
    bystander.assert_still_served(&broker);
}

#[test]
fn publish_topic_length_beyond_the_packet_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x30, 0x05, 0x00, 0x0a, b'a', b'b', b'c']);
}

#[test]
fn publish_qos1_without_room_for_the_packet_id_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x32, 0x03, 0x00, 0x01, b't']);
}

#[test]
fn subscribe_with_truncated_filter_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x05, b'a']);
}

#[test]
fn subscribe_without_options_byte_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'a']);
}

#[test]
fn puback_with_remaining_length_1_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x40, 0x01, 0x00]);
}

#[test]
fn connect_with_truncated_body_closes_only_that_connection() {
    before_connect_closes_only_that_connection(&[0x10, 0x02, 0x00, 0x04]);
}

// --- strings ---

#[test]
fn invalid_utf8_in_topic_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&publish_raw_topic(b"a\xc3\x28", b"x"));
}

#[test]
fn nul_character_in_topic_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&publish_raw_topic(b"a\x00b", b"x"));
}

#[test]
fn utf16_surrogate_in_topic_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&publish_raw_topic(b"a\xed\xa0\x80", b"x"));
}

#[test]
fn overlong_utf8_encoding_in_topic_closes_only_that_connection() {
    // "/" encoded in two bytes.
    after_connect_closes_only_that_connection(&publish_raw_topic(b"a\xc0\xafb", b"x"));
}

// MQTT 3.1.1 only says control characters SHOULD NOT appear; mosquitto rejects them.
#[test]
fn control_character_in_topic_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&publish_raw_topic(b"a\x01", b"x"));
}

#[test]
fn noncharacter_u_fffe_in_topic_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&publish_raw_topic("a\u{fffe}".as_bytes(), b"x"));
}

// --- packet types ---

#[test]
fn reserved_packet_type_0_before_connect_closes_only_that_connection() {
    before_connect_closes_only_that_connection(&[0x00, 0x00]);
}

#[test]
fn reserved_packet_type_0_after_connect_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x00, 0x00]);
}

#[test]
fn reserved_packet_type_15_before_connect_closes_only_that_connection() {
    before_connect_closes_only_that_connection(&[0xf0, 0x00]);
}

#[test]
fn reserved_packet_type_15_after_connect_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0xf0, 0x00]);
}

#[test]
fn connack_sent_by_a_client_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn disconnect_with_reserved_flags_set_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&[0xe1, 0x00]);
}

#[test]
fn second_connect_closes_only_that_connection() {
    after_connect_closes_only_that_connection(&connect_v311("bad", true, 60));
}

#[test]
fn publish_before_connect_closes_only_that_connection() {
    before_connect_closes_only_that_connection(&publish(BYSTANDER, b"sneaky", 0, false, 0));
}

// --- connections that just go away ---

#[test]
fn truncated_packet_then_close_does_not_hurt_others() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connected(&broker, "bad");
    let whole = publish(BYSTANDER, b"never completed", 1, false, 1);
    bad.send(&whole[..whole.len() / 2]);
    drop(bad);
    bystander.assert_still_served(&broker);
}

#[test]
fn truncated_connect_then_close_does_not_hurt_others() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connect(&broker);
    let whole = connect_v311("half", true, 60);
    bad.send(&whole[..whole.len() / 2]);
    drop(bad);
    bystander.assert_still_served(&broker);
}

#[test]
fn connection_closed_right_after_connect_does_not_hurt_others() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let mut bad = Raw::connect(&broker);
    bad.send(&connect_v311("hitandrun", true, 60));
    drop(bad);
    bystander.assert_still_served(&broker);
}

#[test]
fn several_bad_clients_in_a_row_do_not_hurt_others() {
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let bad_inputs: [&[u8]; 4] = [
        &[0x00, 0x00],
        &[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f],
        &[0xf0, 0x00],
        &[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01],
    ];
    for bytes in bad_inputs {
        let mut bad = Raw::connected(&broker, "bad");
        bad.send(bytes);
        bad.expect_closed();
        bystander.assert_still_served(&broker);
    }
}
