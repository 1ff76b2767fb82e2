//! MQTT 5 CONNECT: the CONNACK reason codes mosquitto 2.0.11 sends, and the CONNACK
//! properties each configuration option produces, in mosquitto's order (topic alias maximum,
//! server keep alive, assigned client identifier, retain available, maximum packet size,
//! receive maximum, maximum QoS).

mod common;

use common::packets::*;
use common::{Broker, Raw};

fn connack_for(broker: &Broker, connect: &Connect) -> Vec<u8> {
    let mut c = Raw::connect(broker);
    c.send(&connect.build());
    c.recv_packet()
}

fn assert_connack(broker: &Broker, connect: &Connect, expected: &[u8]) {
    let got = connack_for(broker, connect);
    assert_eq!(
        common::hex(&got),
        common::hex(expected),
        "unexpected CONNACK"
    );
}

/// Expects a refusing CONNACK (no properties) and the close.
fn assert_refused(broker: &Broker, connect: &Connect, reason: u8) {
    let mut c = Raw::connect(broker);
    c.send(&connect.build());
    c.expect(&connack5(false, reason, &[]));
    c.expect_closed();
}

// --- reason codes ---

// mosquitto 2.0.11 answers a bad protocol version before it knows the client speaks MQTT 5,
// so it never sends reason code 0x84: the reply is the 3.1.1 return code 1.
#[test]
fn mqisdp_with_level_5_gets_the_v3_return_code_1_not_reason_0x84() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("x").protocol(b"MQIsdp", 5).build());
    c.expect(&CONNACK_BAD_PROTOCOL_VERSION);
    c.expect_closed();
}

// mosquitto 2.0.11 refuses an empty client id, when the configuration forbids them, with
// 0x80 (unspecified error), not 0x85 (client identifier not valid).
#[test]
fn empty_client_id_refused_by_allow_zero_length_clientid_gets_reason_0x80() {
    let broker = Broker::start_with("allow_zero_length_clientid false");
    assert_refused(&broker, &Connect::v5(""), 0x80);
}

#[test]
fn empty_client_id_with_clean_start_0_is_assigned_an_identifier() {
    let broker = Broker::start();
    let connack = connack_for(&broker, &Connect::v5("").clean(false));
    let head = [
        0x20, 0x35, 0x00, 0x00, 0x32, 0x22, 0x00, 0x0a, 0x12, 0x00, 0x29,
    ];
    assert_eq!(common::hex(&connack[..head.len()]), common::hex(&head));
    assert_eq!(
        common::hex(&connack[head.len() + 0x29..]),
        common::hex(&[0x21, 0x00, 0x14])
    );
}

// The assigned identifier is "auto-" and an upper-case UUID, as mosquitto makes them.
#[test]
fn assigned_client_identifier_is_auto_and_an_uppercase_uuid() {
    let broker = Broker::start();
    let connack = connack_for(&broker, &Connect::v5(""));
    assert_eq!(connack.len(), 0x37, "CONNACK {}", common::hex(&connack));
    let id = std::str::from_utf8(&connack[11..11 + 0x29]).expect("UTF-8 id");
    let uuid = id.strip_prefix("auto-").expect("auto- prefix");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "assigned id {id:?}");
    assert!(
        uuid.chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase()),
        "assigned id {id:?}"
    );
}

// Two clients with empty ids get different identifiers.
#[test]
fn assigned_client_identifiers_differ() {
    let broker = Broker::start();
    let a = connack_for(&broker, &Connect::v5(""));
    let b = connack_for(&broker, &Connect::v5(""));
    assert_ne!(a, b);
}

#[test]
fn client_id_without_a_configured_prefix_gets_reason_0x87() {
    let broker = Broker::start_with("clientid_prefixes ok-");
    assert_refused(&broker, &Connect::v5("other"), 0x87);
}

#[test]
fn client_id_with_a_configured_prefix_is_accepted() {
    let broker = Broker::start_with("clientid_prefixes ok-");
    assert_connack(&broker, &Connect::v5("ok-1"), &connack5_ok(false));
}

#[test]
fn anonymous_client_refused_gets_reason_0x87() {
    let broker = Broker::start_with("allow_anonymous false");
    assert_refused(&broker, &Connect::v5("anon"), 0x87);
}

#[test]
fn authentication_method_gets_reason_0x8c_bad_authentication_method() {
    let broker = Broker::start();
    let props = Props::new().authentication_method("SCRAM-SHA-1");
    assert_refused(&broker, &Connect::v5("am").properties(&props), 0x8c);
}

#[test]
fn authentication_method_and_data_get_reason_0x8c() {
    let broker = Broker::start();
    let props = Props::new()
        .authentication_method("SCRAM-SHA-1")
        .authentication_data(b"client-first");
    assert_refused(&broker, &Connect::v5("amd").properties(&props), 0x8c);
}

#[test]
fn will_retain_with_retain_available_false_gets_reason_0x9a() {
    let broker = Broker::start_with("retain_available false");
    let connect = Connect::v5("wr").will("w/t", b"bye", 0, true);
    assert_refused(&broker, &connect, 0x9a);
}

#[test]
fn will_without_retain_is_accepted_with_retain_available_false() {
    let broker = Broker::start_with("retain_available false");
    let connect = Connect::v5("w").will("w/t", b"bye", 1, false);
    let props = Props::new()
        .topic_alias_maximum(10)
        .retain_available(0)
        .receive_maximum(20);
    assert_connack(&broker, &connect, &connack5(false, 0, &props));
}

// The refusing CONNACK carries the maximum QoS property.
#[test]
fn will_qos_2_over_max_qos_1_gets_reason_0x9b_with_maximum_qos() {
    let broker = Broker::start_with("max_qos 1");
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("wq").will("w/t", b"bye", 2, false).build());
    c.expect(&connack5(false, 0x9b, &Props::new().maximum_qos(1)));
    c.expect_closed();
}

#[test]
fn will_qos_1_over_max_qos_0_gets_reason_0x9b_with_maximum_qos() {
    let broker = Broker::start_with("max_qos 0");
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("wq").will("w/t", b"bye", 1, false).build());
    c.expect(&connack5(false, 0x9b, &Props::new().maximum_qos(0)));
    c.expect_closed();
}

#[test]
fn will_qos_at_max_qos_is_accepted() {
    let broker = Broker::start_with("max_qos 1");
    let connect = Connect::v5("wq").will("w/t", b"bye", 1, false);
    let props = Props::new()
        .topic_alias_maximum(10)
        .receive_maximum(20)
        .maximum_qos(1);
    assert_connack(&broker, &connect, &connack5(false, 0, &props));
}

// mosquitto closes a CONNECT whose properties break the rules without a CONNACK.
#[test]
fn connect_with_a_duplicate_property_is_closed_without_connack() {
    let broker = Broker::start();
    let props = Props::new()
        .session_expiry_interval(1)
        .session_expiry_interval(2);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("dup").properties(&props).build());
    c.expect_closed();
}

#[test]
fn connect_with_a_publish_only_property_is_closed_without_connack() {
    let broker = Broker::start();
    let props = Props::new().payload_format_indicator(1);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("pfi").properties(&props).build());
    c.expect_closed();
}

#[test]
fn connect_with_receive_maximum_0_is_closed_without_connack() {
    let broker = Broker::start();
    let props = Props::new().receive_maximum(0);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("rm0").properties(&props).build());
    c.expect_closed();
}

#[test]
fn connect_with_maximum_packet_size_0_is_closed_without_connack() {
    let broker = Broker::start();
    let props = Props::new().maximum_packet_size(0);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("mps0").properties(&props).build());
    c.expect_closed();
}

#[test]
fn connect_with_request_problem_information_2_is_closed_without_connack() {
    let broker = Broker::start();
    let props = Props::new().request_problem_information(2);
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("rpi2").properties(&props).build());
    c.expect_closed();
}

// mosquitto 2.0.11 does not do request/response information: no response information
// property in the CONNACK.
#[test]
fn request_response_information_gets_no_response_information() {
    let broker = Broker::start();
    let props = Props::new().request_response_information(1);
    assert_connack(
        &broker,
        &Connect::v5("rri").properties(&props),
        &connack5_ok(false),
    );
}

#[test]
fn connect_with_user_properties_is_accepted() {
    let broker = Broker::start();
    let props = Props::new().user_property("a", "1").user_property("a", "2");
    assert_connack(
        &broker,
        &Connect::v5("up").properties(&props),
        &connack5_ok(false),
    );
}

// --- CONNACK properties ---

// Wildcards, subscription identifiers and shared subscriptions are all available, which
// mosquitto says by leaving the three properties out.
#[test]
fn connack_leaves_out_wildcard_subscription_id_and_shared_availability() {
    let broker = Broker::start();
    assert_connack(
        &broker,
        &Connect::v5("avail"),
        &[
            0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x14,
        ],
    );
}

#[test]
fn max_keepalive_lowers_a_larger_keep_alive_with_server_keep_alive() {
    let broker = Broker::start_with("max_keepalive 30");
    let props = Props::new()
        .topic_alias_maximum(10)
        .server_keep_alive(30)
        .receive_maximum(20);
    assert_connack(
        &broker,
        &Connect::v5("ka").keepalive(31),
        &connack5(false, 0, &props),
    );
}

#[test]
fn max_keepalive_replaces_keep_alive_0_with_server_keep_alive() {
    let broker = Broker::start_with("max_keepalive 30");
    let props = Props::new()
        .topic_alias_maximum(10)
        .server_keep_alive(30)
        .receive_maximum(20);
    assert_connack(
        &broker,
        &Connect::v5("ka0").keepalive(0),
        &connack5(false, 0, &props),
    );
}

#[test]
fn keep_alive_within_max_keepalive_gets_no_server_keep_alive() {
    let broker = Broker::start_with("max_keepalive 30");
    assert_connack(
        &broker,
        &Connect::v5("ka20").keepalive(20),
        &connack5_ok(false),
    );
}

#[test]
fn keep_alive_equal_to_max_keepalive_gets_no_server_keep_alive() {
    let broker = Broker::start_with("max_keepalive 30");
    assert_connack(
        &broker,
        &Connect::v5("ka30").keepalive(30),
        &connack5_ok(false),
    );
}

#[test]
fn max_inflight_messages_is_the_receive_maximum() {
    let broker = Broker::start_with("max_inflight_messages 5");
    let props = Props::new().topic_alias_maximum(10).receive_maximum(5);
    assert_connack(&broker, &Connect::v5("rm"), &connack5(false, 0, &props));
}

// 65535 is the protocol's default, so mosquitto leaves the property out.
#[test]
fn max_inflight_messages_65535_leaves_out_receive_maximum() {
    let broker = Broker::start_with("max_inflight_messages 65535");
    let props = Props::new().topic_alias_maximum(10);
    assert_connack(&broker, &Connect::v5("rm"), &connack5(false, 0, &props));
}

#[test]
fn max_qos_is_announced_as_maximum_qos_after_receive_maximum() {
    let broker = Broker::start_with("max_qos 1");
    let props = Props::new()
        .topic_alias_maximum(10)
        .receive_maximum(20)
        .maximum_qos(1);
    assert_connack(&broker, &Connect::v5("mq"), &connack5(false, 0, &props));
}

#[test]
fn max_qos_0_is_announced_as_maximum_qos_0() {
    let broker = Broker::start_with("max_qos 0");
    let props = Props::new()
        .topic_alias_maximum(10)
        .receive_maximum(20)
        .maximum_qos(0);
    assert_connack(&broker, &Connect::v5("mq"), &connack5(false, 0, &props));
}

#[test]
fn retain_available_false_is_announced() {
    let broker = Broker::start_with("retain_available false");
    let props = Props::new()
        .topic_alias_maximum(10)
        .retain_available(0)
        .receive_maximum(20);
    assert_connack(&broker, &Connect::v5("ra"), &connack5(false, 0, &props));
}

#[test]
fn max_packet_size_is_announced_as_maximum_packet_size() {
    let broker = Broker::start_with("max_packet_size 100");
    let props = Props::new()
        .topic_alias_maximum(10)
        .maximum_packet_size(100)
        .receive_maximum(20);
    assert_connack(&broker, &Connect::v5("mps"), &connack5(false, 0, &props));
}

#[test]
fn max_topic_alias_is_announced_as_topic_alias_maximum() {
    let broker = Broker::start_with("max_topic_alias 3");
    let props = Props::new().topic_alias_maximum(3).receive_maximum(20);
    assert_connack(&broker, &Connect::v5("ta"), &connack5(false, 0, &props));
}

#[test]
fn max_topic_alias_0_leaves_out_topic_alias_maximum() {
    let broker = Broker::start_with("max_topic_alias 0");
    let props = Props::new().receive_maximum(20);
    assert_connack(&broker, &Connect::v5("ta0"), &connack5(false, 0, &props));
}

#[test]
fn connack_with_every_option_has_mosquittos_property_order() {
    let broker = Broker::start_with(
        "max_keepalive 30\nmax_qos 1\nretain_available false\nmax_packet_size 1000\n\
         max_inflight_messages 7\nmax_topic_alias 4",
    );
    // 20 15 00 00 12 22 00 04 13 00 1e 25 00 27 00 00 03 e8 21 00 07 24 01
    let props = Props::new()
        .topic_alias_maximum(4)
        .server_keep_alive(30)
        .retain_available(0)
        .maximum_packet_size(1000)
        .receive_maximum(7)
        .maximum_qos(1);
    assert_connack(&broker, &Connect::v5("all"), &connack5(false, 0, &props));
}

// With an empty client id as well, the assigned identifier comes after the server keep alive.
#[test]
fn assigned_client_identifier_comes_after_server_keep_alive() {
    let broker = Broker::start_with("max_keepalive 30");
    let connack = connack_for(&broker, &Connect::v5(""));
    let head = [
        0x20, 0x38, 0x00, 0x00, 0x35, 0x22, 0x00, 0x0a, 0x13, 0x00, 0x1e, 0x12, 0x00, 0x29,
    ];
    assert_eq!(common::hex(&connack[..head.len()]), common::hex(&head));
    assert_eq!(
        common::hex(&connack[head.len() + 0x29..]),
        common::hex(&[0x21, 0x00, 0x14])
    );
}

#[test]
fn session_present_is_1_when_a_kept_session_is_resumed() {
    let broker = Broker::start();
    let props = Props::new().session_expiry_interval(60);
    let connect = Connect::v5("resume").clean(false).properties(&props);
    let mut c = Raw::handshake(&broker, &connect.build(), &connack5_ok(false));
    c.send(&DISCONNECT);
    c.expect_closed();
    Raw::handshake(&broker, &connect.build(), &connack5_ok(true));
}
