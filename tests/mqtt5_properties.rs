//! PUBLISH properties on their way from publisher to subscribers: request/response (response
//! topic, correlation data), payload format and content type, user properties in order, and
//! mixed-version fan-out (MQTT 5 to 3.1.1 and back).

mod common;

use common::packets::*;
use common::{Broker, Raw};

fn publisher(broker: &Broker) -> Raw {
    Raw::connected_v5(broker, "publisher")
}

/// Publishes on `topic` with `props` and expects a subscriber to `topic` to get exactly
/// `expected` properties.
fn assert_passed_on(topic: &str, props: &Props, expected: &Props) {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", topic, 0);
    publisher(&broker).send(&Publish5::new(topic, b"x").properties(props).build());
    sub.expect(&Publish5::new(topic, b"x").properties(expected).build());
}

// --- request/response ---

#[test]
fn response_topic_and_correlation_data_are_passed_on_unchanged() {
    let props = Props::new()
        .response_topic("reply/to/me")
        .correlation_data(&[0x00, 0xff, 0x10, 0x80]);
    assert_passed_on("rq/a", &props, &props);
}

#[test]
fn response_topic_alone_is_passed_on() {
    let props = Props::new().response_topic("reply/x");
    assert_passed_on("rq/b", &props, &props);
}

#[test]
fn empty_correlation_data_is_passed_on() {
    let props = Props::new().correlation_data(b"");
    assert_passed_on("rq/c", &props, &props);
}

// A response topic must not contain wildcards; mosquitto 2.0.11 does not check and passes
// the message on.
#[test]
fn response_topic_with_a_wildcard_is_passed_on() {
    let props = Props::new().response_topic("resp/+");
    assert_passed_on("rq/d", &props, &props);
}

#[test]
fn a_request_and_its_response_make_a_round_trip() {
    let broker = Broker::start();
    let mut responder = Raw::subscribed_v5(&broker, "responder", "svc/req", 1);
    let mut requester = Raw::subscribed_v5(&broker, "requester", "svc/resp/1", 1);
    let request = Props::new()
        .response_topic("svc/resp/1")
        .correlation_data(b"id-42");
    requester.send(
        &Publish5::new("svc/req", b"ping")
            .qos(1, 1)
            .properties(&request)
            .build(),
    );
    requester.expect(&puback5(1, 0));
    responder.expect(
        &Publish5::new("svc/req", b"ping")
            .qos(1, 1)
            .properties(&request)
            .build(),
    );
    responder.send(&puback5(1, 0));
    let response = Props::new().correlation_data(b"id-42");
    responder.send(
        &Publish5::new("svc/resp/1", b"pong")
            .qos(1, 1)
            .properties(&response)
            .build(),
    );
    responder.expect(&puback5(1, 0));
    requester.expect(
        &Publish5::new("svc/resp/1", b"pong")
            .qos(1, 1)
            .properties(&response)
            .build(),
    );
}

// --- payload format and content type ---

#[test]
fn payload_format_indicator_and_content_type_are_passed_on() {
    let props = Props::new()
        .payload_format_indicator(1)
        .content_type("application/json");
    assert_passed_on("pf/a", &props, &props);
}

#[test]
fn payload_format_indicator_0_is_passed_on() {
    let props = Props::new().payload_format_indicator(0);
    assert_passed_on("pf/b", &props, &props);
}

#[test]
fn empty_content_type_is_passed_on() {
    let props = Props::new().content_type("");
    assert_passed_on("pf/c", &props, &props);
}

// --- user properties ---

#[test]
fn user_properties_keep_their_order_and_repeated_keys() {
    let props = Props::new()
        .user_property("z", "1")
        .user_property("a", "2")
        .user_property("z", "3")
        .user_property("z", "3")
        .user_property("", "");
    assert_passed_on("up/a", &props, &props);
}

// mosquitto keeps the publisher's order of properties, except the message expiry interval,
// which it writes last.
#[test]
fn properties_keep_their_order_with_message_expiry_moved_last() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "p/1", 0);
    let sent = Props::new()
        .user_property("z", "1")
        .message_expiry_interval(100)
        .content_type("ct")
        .user_property("a", "2")
        .correlation_data(b"c")
        .payload_format_indicator(0)
        .response_topic("r");
    publisher(&broker).send(&Publish5::new("p/1", b"x").properties(&sent).build());
    // 30 29 00 03 "p/1" 22 26 00 01 "z" 00 01 "1" 03 00 02 "ct" 26 00 01 "a" 00 01 "2"
    // 09 00 01 "c" 01 00 08 00 01 "r" 02 00 00 00 64 "x"
    let expected = Props::new()
        .user_property("z", "1")
        .content_type("ct")
        .user_property("a", "2")
        .correlation_data(b"c")
        .payload_format_indicator(0)
        .response_topic("r")
        .message_expiry_interval(100);
    sub.expect_with_expiry(
        &Publish5::new("p/1", b"x").properties(&expected).build(),
        100,
        98,
    );
}

// The subscription identifier is the subscriber's own and comes first, before what the
// publisher sent, as from mosquitto.
#[test]
fn subscription_identifier_comes_before_the_publishers_properties() {
    let broker = Broker::start();
    let mut sub = Raw::connected_v5(&broker, "s");
    sub.send(&subscribe5(
        1,
        &Props::new().subscription_identifier(7),
        &[("p/2", 0)],
    ));
    sub.expect(&suback5(1, &[], &[0]));
    let sent = Props::new().user_property("k", "v").content_type("ct");
    publisher(&broker).send(&Publish5::new("p/2", b"x").properties(&sent).build());
    // 30 18 00 03 "p/2" 11 0b 07 26 00 01 "k" 00 01 "v" 03 00 02 "ct" "x"
    let expected = Props::new()
        .subscription_identifier(7)
        .user_property("k", "v")
        .content_type("ct");
    sub.expect(&Publish5::new("p/2", b"x").properties(&expected).build());
}

#[test]
fn user_properties_are_passed_on_to_every_subscriber() {
    let broker = Broker::start();
    let mut a = Raw::subscribed_v5(&broker, "a", "up/b", 0);
    let mut b = Raw::subscribed_v5(&broker, "b", "up/#", 1);
    let props = Props::new().user_property("k", "v");
    publisher(&broker).send(
        &Publish5::new("up/b", b"x")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
    a.expect(&Publish5::new("up/b", b"x").properties(&props).build());
    b.expect(
        &Publish5::new("up/b", b"x")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
}

#[test]
fn retained_message_keeps_its_properties() {
    let broker = Broker::start();
    let props = Props::new()
        .content_type("text/plain")
        .response_topic("r/t")
        .user_property("k", "v");
    let mut p = publisher(&broker);
    p.send(
        &Publish5::new("kept/a", b"x")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    let mut sub = Raw::connected_v5(&broker, "s");
    sub.send(&subscribe5(1, &[], &[("kept/#", 0)]));
    sub.expect(&suback5(1, &[], &[0]));
    sub.expect(
        &Publish5::new("kept/a", b"x")
            .retain()
            .properties(&props)
            .build(),
    );
}

// Properties belong to the broker-client hop and are not forwarded: topic alias here.
#[test]
fn topic_alias_is_not_passed_on() {
    let props = Props::new().topic_alias(1).user_property("k", "v");
    assert_passed_on("ta/a", &props, &Props::new().user_property("k", "v"));
}

// --- mixed-version fan-out ---

// One MQTT 5 PUBLISH with properties reaches a 3.1.1 subscriber without properties (exact
// 3.1.1 bytes) and an MQTT 5 subscriber with them.
#[test]
fn mqtt5_publish_reaches_v311_and_v5_subscribers_each_in_its_version() {
    let broker = Broker::start();
    let mut old = Raw::subscribed(&broker, "old", "mix/t", 1);
    let mut new = Raw::subscribed_v5(&broker, "new", "mix/t", 1);
    let props = Props::new()
        .payload_format_indicator(1)
        .content_type("text/plain")
        .response_topic("mix/reply")
        .correlation_data(b"42")
        .user_property("k", "v");
    let mut p = publisher(&broker);
    p.send(
        &Publish5::new("mix/t", b"hello")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0));
    // 32 0e 00 05 "mix/t" 00 01 "hello"
    old.expect(&[
        0x32, 0x0e, 0x00, 0x05, b'm', b'i', b'x', b'/', b't', 0x00, 0x01, b'h', b'e', b'l', b'l',
        b'o',
    ]);
    new.expect(
        &Publish5::new("mix/t", b"hello")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
}

// A 3.1.1 PUBLISH reaches an MQTT 5 subscriber with an empty property block.
#[test]
fn v311_publish_reaches_a_v5_subscriber_with_an_empty_property_length() {
    let broker = Broker::start();
    let mut new = Raw::subscribed_v5(&broker, "new", "mix/t", 1);
    let mut old = Raw::connected(&broker, "old");
    old.send(&publish("mix/t", b"hi", 1, false, 1));
    old.expect(&puback(1));
    // 32 0c 00 05 "mix/t" 00 01 00 "hi"
    new.expect(&[
        0x32, 0x0c, 0x00, 0x05, b'm', b'i', b'x', b'/', b't', 0x00, 0x01, 0x00, b'h', b'i',
    ]);
}

#[test]
fn v311_publish_at_qos0_reaches_a_v5_subscriber() {
    let broker = Broker::start();
    let mut new = Raw::subscribed_v5(&broker, "new", "mix/t", 0);
    let mut old = Raw::connected(&broker, "old");
    old.send(&publish("mix/t", b"hi", 0, false, 0));
    // 30 0a 00 05 "mix/t" 00 "hi"
    new.expect(&[
        0x30, 0x0a, 0x00, 0x05, b'm', b'i', b'x', b'/', b't', 0x00, b'h', b'i',
    ]);
}

// A message sent with a topic alias reaches a 3.1.1 subscriber with its full topic.
#[test]
fn aliased_mqtt5_publish_reaches_a_v311_subscriber_with_the_topic() {
    let broker = Broker::start();
    let mut old = Raw::subscribed(&broker, "old", "mix/t", 0);
    let mut p = publisher(&broker);
    let alias = Props::new().topic_alias(1);
    p.send(&Publish5::new("mix/t", b"1").properties(&alias).build());
    p.send(&Publish5::new("", b"2").properties(&alias).build());
    old.expect(&publish("mix/t", b"1", 0, false, 0));
    old.expect(&publish("mix/t", b"2", 0, false, 0));
}

#[test]
fn mqtt5_retained_message_reaches_a_later_v311_subscriber_without_properties() {
    let broker = Broker::start();
    let mut p = publisher(&broker);
    let props = Props::new().content_type("ct").user_property("k", "v");
    p.send(
        &Publish5::new("mix/r", b"kept")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    let mut old = Raw::connected(&broker, "old");
    old.send(&subscribe(1, "mix/r", 1));
    old.expect(&suback(1, 1));
    old.expect(&publish("mix/r", b"kept", 1, true, 1));
}
