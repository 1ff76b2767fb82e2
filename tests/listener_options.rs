//! Listener and delivery keys of mosquitto.conf: `allow_zero_length_clientid` and
//! `auto_id_prefix` per listener, `use_username_as_clientid`, `maximum_qos`,
//! `upgrade_outgoing_qos`, `allow_duplicate_messages`, and `message_size_limit` for wills.
//! Checked against mosquitto 2.0.11:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test listener_options

mod common;

use common::packets::*;
use common::security::raw_on_port;
use common::{Broker, Raw, broker_kind};

/// A broker whose whole config is `conf(first_port, second_port)`; `broker.port` is the first.
fn two_listeners(conf: impl Fn(u16, u16) -> String) -> (Broker, u16) {
    Broker::start_config(broker_kind(), conf)
}

fn connack_on(port: u16, connect: &Connect) -> Vec<u8> {
    let mut c = raw_on_port(port);
    c.send(&connect.build());
    c.recv_packet()
}

/// The assigned client identifier of an MQTT 5 CONNACK that carries one.
fn assigned_id(connack: &[u8]) -> String {
    let at = connack
        .windows(1)
        .position(|b| b[0] == 0x12)
        .expect("an assigned client identifier");
    let len = usize::from(u16::from_be_bytes([connack[at + 1], connack[at + 2]]));
    String::from_utf8(connack[at + 3..at + 3 + len].to_vec()).expect("UTF-8 id")
}

// --- allow_zero_length_clientid, auto_id_prefix ---

#[test]
fn allow_zero_length_clientid_is_per_listener_with_per_listener_settings() {
    let (broker, open) = two_listeners(|closed, open| {
        format!(
            "per_listener_settings true\n\
             listener {closed} 127.0.0.1\nallow_anonymous true\nallow_zero_length_clientid false\n\
             listener {open} 127.0.0.1\nallow_anonymous true\n"
        )
    });
    let empty = Connect::v311("");
    assert_eq!(connack_on(broker.port, &empty), CONNACK_IDENTIFIER_REJECTED);
    assert_eq!(connack_on(open, &empty), CONNACK_OK);
}

#[test]
fn allow_zero_length_clientid_applies_to_every_listener_without_per_listener_settings() {
    let (broker, second) = two_listeners(|a, b| {
        format!(
            "allow_anonymous true\nlistener {a} 127.0.0.1\nlistener {b} 127.0.0.1\n\
             allow_zero_length_clientid false\n"
        )
    });
    let empty = Connect::v311("");
    assert_eq!(connack_on(broker.port, &empty), CONNACK_IDENTIFIER_REJECTED);
    assert_eq!(connack_on(second, &empty), CONNACK_IDENTIFIER_REJECTED);
}

#[test]
fn auto_id_prefix_is_per_listener_with_per_listener_settings() {
    let (broker, second) = two_listeners(|a, b| {
        format!(
            "per_listener_settings true\n\
             listener {a} 127.0.0.1\nallow_anonymous true\nauto_id_prefix first-\n\
             listener {b} 127.0.0.1\nallow_anonymous true\n"
        )
    });
    let first = assigned_id(&connack_on(broker.port, &Connect::v5("")));
    let default = assigned_id(&connack_on(second, &Connect::v5("")));
    assert!(first.starts_with("first-"), "{first}");
    assert!(default.starts_with("auto-"), "{default}");
}

// --- use_username_as_clientid ---

fn username_broker() -> Broker {
    Broker::start_with("use_username_as_clientid true")
}

#[test]
fn use_username_as_clientid_names_the_session_after_the_username() {
    let broker = username_broker();
    let connect = Connect::v311("first").username(b"bob");
    let mut first = Raw::handshake(&broker, &connect.build(), &CONNACK_OK);
    broker.wait_for_log(" as bob (p2, c1, k60, u'bob').");
    // Another client id with the same username is the same client: it takes over.
    let again = Connect::v311("second").username(b"bob");
    Raw::handshake(&broker, &again.build(), &CONNACK_OK);
    first.expect_closed();
}

#[test]
fn use_username_as_clientid_refuses_a_client_without_a_username() {
    let broker = username_broker();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("anon").build());
    c.expect(&connack(false, 5));
    c.expect_closed();
    let mut c5 = Raw::connect(&broker);
    c5.send(&Connect::v5("anon").build());
    c5.expect(&connack5(false, 0x87, &[]));
    broker.wait_for_log("Client anon disconnected, not authorised.");
}

#[test]
fn use_username_as_clientid_tells_an_mqtt5_client_without_an_id_its_username() {
    let broker = username_broker();
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("").username(b"bob").build());
    let props = Props::new()
        .topic_alias_maximum(10)
        .assigned_client_identifier("bob")
        .receive_maximum(20);
    c.expect(&connack5(false, 0, &props));
}

#[test]
fn use_username_as_clientid_holds_only_on_its_listener() {
    let (broker, second) = two_listeners(|a, b| {
        format!(
            "allow_anonymous true\nlistener {a} 127.0.0.1\nuse_username_as_clientid true\n\
             listener {b} 127.0.0.1\n"
        )
    });
    assert_eq!(connack_on(second, &Connect::v311("anon")), CONNACK_OK);
    assert_eq!(
        connack_on(broker.port, &Connect::v311("anon")),
        connack(false, 5)
    );
}

// --- maximum_qos ---

#[test]
fn maximum_qos_is_read_as_max_qos() {
    let broker = Broker::start_with("maximum_qos 1");
    let props = Props::new()
        .topic_alias_maximum(10)
        .receive_maximum(20)
        .maximum_qos(1);
    let mut c = Raw::handshake(
        &broker,
        &Connect::v5("mq").build(),
        &connack5(false, 0, &props),
    );
    c.send(&subscribe5(1, &[], &[("q", 2)]));
    c.expect(&suback5(1, &[], &[1]));
    c.send(&Publish5::new("q", b"x").qos(2, 1).build());
    c.expect_disconnect(0x9b);
}

// --- upgrade_outgoing_qos ---

#[test]
fn upgrade_outgoing_qos_delivers_at_the_subscription_qos() {
    let broker = Broker::start_with("upgrade_outgoing_qos true");
    let mut sub = Raw::subscribed(&broker, "sub", "up/#", 2);
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("up/a", b"low", 0, false, 0));
    sub.expect(&publish("up/a", b"low", 2, false, 1));
}

#[test]
fn upgrade_outgoing_qos_applies_to_retained_messages() {
    let broker = Broker::start_with("upgrade_outgoing_qos true");
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("up/r", b"kept", 0, true, 0));
    // A QoS 1 PUBLISH after it, acknowledged: the retained one is stored by then.
    publisher.send(&publish("up/sync", b"", 1, false, 7));
    publisher.expect(&puback(7));
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "up/r", 1));
    sub.expect(&suback(1, 1));
    sub.expect(&publish("up/r", b"kept", 1, true, 1));
}

#[test]
fn without_upgrade_outgoing_qos_the_message_qos_caps_delivery() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "up/#", 2);
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("up/a", b"low", 0, false, 0));
    sub.expect(&publish("up/a", b"low", 0, false, 0));
}

// --- allow_duplicate_messages ---

#[test]
fn allow_duplicate_messages_gives_a_copy_per_matching_subscription() {
    let broker = Broker::start_with("allow_duplicate_messages true");
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(1, &[("d/#", 1), ("d/x", 0)]));
    sub.expect(&suback_many(1, &[1, 0]));
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("d/x", b"m", 1, false, 3));
    publisher.expect(&puback(3));
    sub.expect_unordered(&[
        publish("d/x", b"m", 1, false, 1),
        publish("d/x", b"m", 0, false, 0),
    ]);
    broker.wait_for_log("'allow_duplicate_messages' option is now deprecated");
}

#[test]
fn by_default_overlapping_subscriptions_get_one_copy() {
    let broker = Broker::start_with("allow_duplicate_messages false");
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(1, &[("d/#", 0), ("d/+", 0)]));
    sub.expect(&suback_many(1, &[0, 0]));
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("d/x", b"one", 0, false, 0));
    publisher.send(&publish("d/y", b"marker", 0, false, 0));
    sub.expect(&publish("d/x", b"one", 0, false, 0));
    sub.expect(&publish("d/y", b"marker", 0, false, 0));
}

// --- message_size_limit and wills ---

#[test]
fn a_will_over_message_size_limit_is_refused() {
    let broker = Broker::start_with("message_size_limit 3");
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v311("w").will("w/t", b"four", 0, false).build());
    c.expect(&connack(false, 5));
    c.expect_closed();
    let mut c5 = Raw::connect(&broker);
    c5.send(&Connect::v5("w5").will("w/t", b"four", 0, false).build());
    c5.expect(&connack5(false, 0x95, &[]));
    c5.expect_closed();
    // At the limit it is accepted, and goes out.
    let mut watcher = Raw::subscribed(&broker, "watch", "w/#", 0);
    let fits = Connect::v311("w").will("w/t", b"abc", 0, false).build();
    drop(Raw::handshake(&broker, &fits, &CONNACK_OK));
    watcher.expect(&publish("w/t", b"abc", 0, false, 0));
}
