//! MQTT 5 SUBSCRIBE and UNSUBSCRIBE: SUBACK and UNSUBACK reason codes, the subscription
//! options (no local, retain as published, retain handling) and subscription identifiers.

mod common;

use common::packets::*;
use common::{Broker, Raw};

fn publisher(broker: &Broker) -> Raw {
    Raw::connected_v5(broker, "publisher")
}

/// Publishes a retained QoS 0 message and waits until the broker has it (a QoS 1 sentinel
/// published after it is acknowledged).
fn retain(broker: &Broker, topic: &str, payload: &[u8]) {
    let mut p = Raw::connected_v5(broker, "retainer");
    p.send(&Publish5::new(topic, payload).retain().build());
    p.send(&Publish5::new("sentinel/none", b"").qos(1, 1).build());
    p.expect(&puback5(1, 0x10));
}

// --- SUBACK and UNSUBACK ---

#[test]
fn suback_grants_each_requested_qos_with_empty_properties() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("a", 0), ("b", 1), ("c", 2)]));
    c.expect(&[0x90, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02]);
}

#[test]
fn subscribe_with_user_properties_is_granted() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().user_property("a", "b"),
        &[("up/#", 0)],
    ));
    c.expect(&suback5(1, &[], &[0]));
}

// As mosquitto 2.0.11's acl_file, midge checks the ACL only when it delivers: a filter the
// client may never read is granted (see `acl.rs` for more).
#[test]
fn subscribe_to_a_filter_nothing_of_which_may_be_read_is_granted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic readwrite open/#\n").expect("write acl");
    let broker = Broker::start_with(&format!("acl_file {}", acl.display()));
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("open/#", 1), ("secret/#", 1)]));
    c.expect(&suback5(1, &[], &[1, 1]));
}

#[test]
fn unsuback_has_0x00_for_a_subscription_and_0x11_for_none() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "up/#", 0);
    c.send(&unsubscribe5(2, &[], &["up/#", "nope"]));
    c.expect(&[0xb0, 0x05, 0x00, 0x02, 0x00, 0x00, 0x11]);
}

#[test]
fn unsubscribing_twice_gets_0x11_the_second_time() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "t", 0);
    c.send(&unsubscribe5(
        2,
        &Props::new().user_property("a", "b"),
        &["t"],
    ));
    c.expect(&unsuback5(2, &[], &[0x00]));
    c.send(&unsubscribe5(3, &[], &["t"]));
    c.expect(&unsuback5(3, &[], &[0x11]));
}

// Malformed SUBSCRIBE packets get DISCONNECT 0x81 (malformed packet), never a SUBACK
// failure code.
#[test]
fn subscribe_with_retain_handling_3_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("t", 0x30)]));
    c.expect_disconnect(0x81);
}

#[test]
fn subscribe_with_a_reserved_option_bit_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("t", 0x40)]));
    c.expect_disconnect(0x81);
}

#[test]
fn subscribe_with_qos_3_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("t", 3)]));
    c.expect_disconnect(0x81);
}

#[test]
fn subscribe_without_filters_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[]));
    c.expect_disconnect(0x81);
}

// --- no local ---

#[test]
fn no_local_subscriber_does_not_get_its_own_messages() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "nl/t", NO_LOCAL);
    c.send(&Publish5::new("nl/t", b"self").build());
    c.expect_silence(300);
}

#[test]
fn no_local_subscriber_gets_other_clients_messages() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "nl/t", NO_LOCAL);
    c.send(&Publish5::new("nl/t", b"self").build());
    publisher(&broker).send(&Publish5::new("nl/t", b"other").build());
    c.expect(&Publish5::new("nl/t", b"other").build());
}

#[test]
fn without_no_local_a_subscriber_gets_its_own_messages() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "nl/t", 0);
    c.send(&Publish5::new("nl/t", b"self").build());
    c.expect(&Publish5::new("nl/t", b"self").build());
}

// --- retain as published ---

#[test]
fn retain_as_published_keeps_the_retain_flag_on_live_delivery() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "rap/t", RETAIN_AS_PUBLISHED);
    publisher(&broker).send(&Publish5::new("rap/t", b"kept").retain().build());
    c.expect(&[
        0x31, 0x0c, 0x00, 0x05, b'r', b'a', b'p', b'/', b't', 0x00, b'k', b'e', b'p', b't',
    ]);
}

#[test]
fn without_retain_as_published_live_delivery_clears_the_retain_flag() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "rap/t", 0);
    publisher(&broker).send(&Publish5::new("rap/t", b"kept").retain().build());
    c.expect(&Publish5::new("rap/t", b"kept").build());
}

#[test]
fn retain_as_published_leaves_a_non_retained_message_without_the_flag() {
    let broker = Broker::start();
    let mut c = Raw::subscribed_v5(&broker, "s", "rap/t", RETAIN_AS_PUBLISHED);
    publisher(&broker).send(&Publish5::new("rap/t", b"live").build());
    c.expect(&Publish5::new("rap/t", b"live").build());
}

// --- retain handling ---

#[test]
fn retain_handling_0_sends_retained_messages_on_subscribe() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", 0)]));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
}

#[test]
fn retain_handling_0_sends_retained_messages_again_on_resubscribe() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", 0)]));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
    c.send(&subscribe5(2, &[], &[("rh/t", 0)]));
    c.expect(&suback5(2, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
}

#[test]
fn retain_handling_1_sends_retained_messages_for_a_new_subscription() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", RETAIN_HANDLING_IF_NEW)]));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
}

#[test]
fn retain_handling_1_sends_nothing_on_resubscribe() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", RETAIN_HANDLING_IF_NEW)]));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
    c.send(&subscribe5(2, &[], &[("rh/t", RETAIN_HANDLING_IF_NEW)]));
    c.expect(&suback5(2, &[], &[0]));
    c.expect_silence(300);
}

// A re-subscribe with other options (QoS 1 here) replaces the subscription, which still
// existed: no retained message.
#[test]
fn retain_handling_1_sends_nothing_on_resubscribe_with_another_qos() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", RETAIN_HANDLING_IF_NEW)]));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
    c.send(&subscribe5(2, &[], &[("rh/t", RETAIN_HANDLING_IF_NEW | 1)]));
    c.expect(&suback5(2, &[], &[1]));
    c.expect_silence(300);
}

#[test]
fn retain_handling_2_never_sends_retained_messages() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/t", RETAIN_HANDLING_NEVER)]));
    c.expect(&suback5(1, &[], &[0]));
    c.send(&subscribe5(2, &[], &[("rh/t", RETAIN_HANDLING_NEVER)]));
    c.expect(&suback5(2, &[], &[0]));
    c.expect_silence(300);
}

// Retained messages sent because of a subscription always have the retain flag, whatever
// retain as published says.
#[test]
fn retained_messages_on_subscribe_have_the_retain_flag_with_retain_as_published() {
    let broker = Broker::start();
    retain(&broker, "rh/t", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("rh/#", RETAIN_AS_PUBLISHED | 1)]));
    c.expect(&suback5(1, &[], &[1]));
    c.expect(&Publish5::new("rh/t", b"kept").retain().build());
}

// --- subscription identifiers ---

#[test]
fn subscription_identifier_is_delivered_with_matching_messages() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(5),
        &[("si/#", 1)],
    ));
    c.expect(&suback5(1, &[], &[1]));
    publisher(&broker).send(&Publish5::new("si/t", b"m").qos(1, 1).build());
    // 32 0c 00 04 "si/t" 00 01 02 0b 05 "m"
    c.expect(&[
        0x32, 0x0c, 0x00, 0x04, b's', b'i', b'/', b't', 0x00, 0x01, 0x02, 0x0b, 0x05, b'm',
    ]);
}

#[test]
fn subscription_identifier_of_two_bytes_is_delivered_as_a_variable_byte_integer() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(128),
        &[("si/#", 0)],
    ));
    c.expect(&suback5(1, &[], &[0]));
    publisher(&broker).send(&Publish5::new("si/t", b"m").build());
    c.expect(&[
        0x30, 0x0b, 0x00, 0x04, b's', b'i', b'/', b't', 0x03, 0x0b, 0x80, 0x01, b'm',
    ]);
}

#[test]
fn subscription_identifier_268435455_is_accepted_and_delivered() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(268_435_455),
        &[("si/#", 0)],
    ));
    c.expect(&suback5(1, &[], &[0]));
    publisher(&broker).send(&Publish5::new("si/q", b"n").build());
    c.expect(&[
        0x30, 0x0d, 0x00, 0x04, b's', b'i', b'/', b'q', 0x05, 0x0b, 0xff, 0xff, 0xff, 0x7f, b'n',
    ]);
}

// An MQTT 5 client with two matching subscriptions gets one PUBLISH per subscription, each
// at its subscription's QoS with its own identifier; mosquitto sends the `+` match first.
#[test]
fn two_matching_subscriptions_with_identifiers_get_one_publish_each() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(5),
        &[("si/#", 1)],
    ));
    c.expect(&suback5(1, &[], &[1]));
    c.send(&subscribe5(
        2,
        &Props::new().subscription_identifier(128),
        &[("si/+", 0)],
    ));
    c.expect(&suback5(2, &[], &[0]));
    publisher(&broker).send(&Publish5::new("si/t", b"m").qos(1, 1).build());
    c.expect(
        &Publish5::new("si/t", b"m")
            .properties(&Props::new().subscription_identifier(128))
            .build(),
    );
    c.expect(
        &Publish5::new("si/t", b"m")
            .qos(1, 1)
            .properties(&Props::new().subscription_identifier(5))
            .build(),
    );
}

#[test]
fn a_matching_subscription_without_identifier_gets_a_publish_without_one() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(5),
        &[("si/#", 1)],
    ));
    c.expect(&suback5(1, &[], &[1]));
    c.send(&subscribe5(2, &[], &[("si/x/y", 1)]));
    c.expect(&suback5(2, &[], &[1]));
    publisher(&broker).send(&Publish5::new("si/x/y", b"n").build());
    c.expect(&Publish5::new("si/x/y", b"n").build());
    c.expect(
        &Publish5::new("si/x/y", b"n")
            .properties(&Props::new().subscription_identifier(5))
            .build(),
    );
}

// Overlapping subscriptions without identifiers: still one copy per subscription for an
// MQTT 5 client (a 3.1.1 client gets one copy).
#[test]
fn overlapping_subscriptions_give_an_mqtt5_client_one_copy_each() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("ov/#", 1), ("ov/+", 0)]));
    c.expect(&suback5(1, &[], &[1, 0]));
    publisher(&broker).send(&Publish5::new("ov/t", b"m").qos(1, 1).build());
    c.expect(&Publish5::new("ov/t", b"m").build());
    c.expect(&Publish5::new("ov/t", b"m").qos(1, 1).build());
}

#[test]
fn a_replaced_subscription_loses_its_identifier() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(7),
        &[("rid/#", 0)],
    ));
    c.expect(&suback5(1, &[], &[0]));
    c.send(&subscribe5(2, &[], &[("rid/#", 0)]));
    c.expect(&suback5(2, &[], &[0]));
    publisher(&broker).send(&Publish5::new("rid/a", b"n").build());
    c.expect(&Publish5::new("rid/a", b"n").build());
}

#[test]
fn retained_messages_on_subscribe_carry_the_subscription_identifier() {
    let broker = Broker::start();
    retain(&broker, "rid/r", b"kept");
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(9),
        &[("rid/#", 0)],
    ));
    c.expect(&suback5(1, &[], &[0]));
    c.expect(&[
        0x31, 0x0e, 0x00, 0x05, b'r', b'i', b'd', b'/', b'r', 0x02, 0x0b, 0x09, b'k', b'e', b'p',
        b't',
    ]);
}

// Subscription identifier 0 is a protocol error; mosquitto calls it malformed (0x81).
#[test]
fn subscription_identifier_0_gets_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(0),
        &[("si/#", 0)],
    ));
    c.expect_disconnect(0x81);
}

// A protocol error in the spec, but mosquitto answers every fault of a SUBSCRIBE or
// UNSUBSCRIBE with 0x81 (malformed packet).
#[test]
fn subscribe_and_unsubscribe_with_packet_id_0_get_disconnect_0x81() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(0, &[], &[("a", 0)]));
    c.expect_disconnect(0x81);
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&[0xa2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, b'a']);
    c.expect_disconnect(0x81);
}

// Two subscription identifiers in one SUBSCRIBE: a protocol error, a duplicate property to
// mosquitto, which closes without a word.
#[test]
fn two_subscription_identifiers_in_one_subscribe_are_a_protocol_error() {
    let broker = Broker::start();
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(
        1,
        &Props::new()
            .subscription_identifier(1)
            .subscription_identifier(2),
        &[("si/#", 0)],
    ));
    c.expect_closed();
}
