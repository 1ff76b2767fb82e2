//! SUBSCRIBE, UNSUBSCRIBE and topic matching (mosquitto's 02-subpub-* tests).
//!
//! A message that must not be delivered is checked by publishing it first and a matching
//! message right after: the next packet the subscriber reads must be the matching one.
mod common;
use common::{Broker, Raw, packets::*};

// --- SUBACK ---

#[test]
fn subscribe_qos0_gets_suback_granting_qos0() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe(1, "a/b", 0));
    c.expect(&[0x90, 0x03, 0x00, 0x01, 0x00]);
}

#[test]
fn subscribe_qos1_gets_suback_granting_qos1() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe(0x0102, "a/b", 1));
    c.expect(&[0x90, 0x03, 0x01, 0x02, 0x01]);
}

#[test]
fn subscribe_qos2_gets_suback_granting_qos2() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe(0xffff, "a/b", 2));
    c.expect(&[0x90, 0x03, 0xff, 0xff, 0x02]);
}

#[test]
fn subscribe_with_three_filters_gets_one_suback_with_a_code_each() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe_many(
        0x1234,
        &[("a/b", 0), ("c/#", 1), ("+/d", 2)],
    ));
    c.expect(&[0x90, 0x05, 0x12, 0x34, 0x00, 0x01, 0x02]);
}

#[test]
fn subscribe_from_a_v31_client_gets_suback() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v31("s31", true, 60), &CONNACK_OK);
    c.send(&subscribe_many(9, &[("x", 2), ("y/#", 0)]));
    c.expect(&suback_many(9, &[2, 0]));
}

#[test]
fn subscribe_very_long_filter_is_accepted() {
    let broker = Broker::start();
    let filter = "a/".repeat(200);
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe(11, &filter, 0));
    c.expect(&suback(11, 0));
}

// --- malformed SUBSCRIBE: mosquitto closes the connection, it never answers 0x80 ---

fn subscribe_is_closed(packet: &[u8]) {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "bad-sub");
    c.send(packet);
    c.expect_closed();
}

#[test]
fn subscribe_requesting_qos3_is_closed() {
    subscribe_is_closed(&subscribe(2, "a", 3));
}

#[test]
fn subscribe_with_qos3_after_a_valid_filter_is_closed_without_suback() {
    subscribe_is_closed(&subscribe_many(2, &[("a", 1), ("b", 3)]));
}

#[test]
fn subscribe_options_with_reserved_bits_set_is_closed() {
    subscribe_is_closed(&subscribe_raw(0x82, 5, &[(b"a", 0x04)]));
}

#[test]
fn subscribe_filter_with_hash_not_last_is_closed() {
    subscribe_is_closed(&subscribe(3, "a/#/b", 0));
}

#[test]
fn subscribe_filter_with_plus_inside_a_level_is_closed() {
    subscribe_is_closed(&subscribe(3, "a+", 0));
}

#[test]
fn subscribe_filter_with_hash_before_text_is_closed() {
    subscribe_is_closed(&subscribe(3, "#a", 0));
}

#[test]
fn subscribe_filter_with_hash_after_text_is_closed() {
    subscribe_is_closed(&subscribe(3, "a/b#", 0));
}

#[test]
fn subscribe_empty_filter_is_closed() {
    subscribe_is_closed(&subscribe(3, "", 0));
}

#[test]
fn subscribe_with_one_bad_filter_among_good_ones_is_closed_without_suback() {
    subscribe_is_closed(&subscribe_many(3, &[("ok", 0), ("a/#/b", 1)]));
}

#[test]
fn subscribe_filter_with_nul_character_is_closed() {
    subscribe_is_closed(&subscribe(9, "a\0b", 0));
}

#[test]
fn subscribe_filter_with_control_character_is_closed() {
    subscribe_is_closed(&subscribe(9, "a\u{1}", 0));
}

#[test]
fn subscribe_filter_with_invalid_utf8_is_closed() {
    subscribe_is_closed(&subscribe_raw(0x82, 5, &[(b"a\xff", 0)]));
}

#[test]
fn subscribe_with_reserved_flags_0x80_is_closed() {
    subscribe_is_closed(&subscribe_raw(0x80, 4, &[(b"a", 0)]));
}

#[test]
fn subscribe_with_reserved_flags_0x83_is_closed() {
    subscribe_is_closed(&subscribe_raw(0x83, 4, &[(b"a", 0)]));
}

#[test]
fn subscribe_with_packet_id_0_is_closed() {
    subscribe_is_closed(&subscribe(0, "a", 0));
}

#[test]
fn subscribe_without_any_filter_is_closed() {
    subscribe_is_closed(&packet(0x82, &[0x00, 0x05]));
}

// --- matching ---

#[test]
fn exact_filter_receives_only_its_topic() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "a/b", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["a", "a/b/c", "a/", "A/b", "a/b"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("a/b", b"a/b", 0, false, 0));
    sub.expect_silence(100);
}

#[test]
fn plus_matches_exactly_one_level_including_an_empty_one() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "a/+", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["a/", "a", "a/b/c", "b/a", "a/b"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("a/", b"a/", 0, false, 0));
    sub.expect(&publish("a/b", b"a/b", 0, false, 0));
    sub.expect_silence(100);
}

#[test]
fn plus_in_the_middle_matches_one_level() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "a/+/c", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["a/b/d/c", "a/c", "a/b/c/d", "a/b/c"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("a/b/c", b"a/b/c", 0, false, 0));
}

#[test]
fn plus_plus_matches_two_levels_including_empty_ones() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "+/+", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["/a", "a", "a/b", "a/b/c", "/"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("/a", b"/a", 0, false, 0));
    sub.expect(&publish("a/b", b"a/b", 0, false, 0));
    sub.expect(&publish("/", b"/", 0, false, 0));
    sub.expect_silence(100);
}

#[test]
fn single_plus_does_not_match_a_leading_slash_topic() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "+", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["/", "a/b", "/a", "a"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("a", b"a", 0, false, 0));
}

#[test]
fn hash_matches_the_parent_level_and_everything_below() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "a/#", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["ab", "/a", "a", "a/", "a/b/c"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("a", b"a", 0, false, 0));
    sub.expect(&publish("a/", b"a/", 0, false, 0));
    sub.expect(&publish("a/b/c", b"a/b/c", 0, false, 0));
    sub.expect_silence(100);
}

#[test]
fn hash_alone_matches_every_non_dollar_topic() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "#", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for topic in ["/", "a", "a/b/c/d"] {
        publ.send(&publish(topic, topic.as_bytes(), 0, false, 0));
    }
    sub.expect(&publish("/", b"/", 0, false, 0));
    sub.expect(&publish("a", b"a", 0, false, 0));
    sub.expect(&publish("a/b/c/d", b"a/b/c/d", 0, false, 0));
}

#[test]
fn dollar_topic_is_not_matched_by_hash() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "#", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("$test/x", b"dollar", 0, false, 0));
    publ.send(&publish("$test", b"dollar", 0, false, 0));
    publ.send(&publish("plain", b"plain", 0, false, 0));
    sub.expect(&publish("plain", b"plain", 0, false, 0));
}

#[test]
fn dollar_topic_is_not_matched_by_a_leading_plus() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "+/x", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("$test/x", b"dollar", 0, false, 0));
    publ.send(&publish("plain/x", b"plain", 0, false, 0));
    sub.expect(&publish("plain/x", b"plain", 0, false, 0));
}

#[test]
fn dollar_topic_is_matched_by_a_filter_starting_with_the_same_dollar_level() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(1, &[("$test/#", 0), ("$other/+", 0)]));
    sub.expect(&suback_many(1, &[0, 0]));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("$test/x", b"one", 0, false, 0));
    publ.send(&publish("$other/y", b"two", 0, false, 0));
    sub.expect(&publish("$test/x", b"one", 0, false, 0));
    sub.expect(&publish("$other/y", b"two", 0, false, 0));
}

#[test]
fn publisher_subscribed_to_its_own_topic_receives_its_message() {
    let broker = Broker::start();
    let mut c = Raw::subscribed(&broker, "echo", "echo/t", 0);
    c.send(&publish("echo/t", b"me", 0, false, 0));
    c.expect(&publish("echo/t", b"me", 0, false, 0));
}

#[test]
fn every_matching_subscriber_receives_the_message() {
    let broker = Broker::start();
    let mut s1 = Raw::subscribed(&broker, "s1", "fan/out", 0);
    let mut s2 = Raw::subscribed(&broker, "s2", "fan/+", 0);
    let mut s3 = Raw::subscribed(&broker, "s3", "#", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("fan/out", b"all", 0, false, 0));
    for s in [&mut s1, &mut s2, &mut s3] {
        s.expect(&publish("fan/out", b"all", 0, false, 0));
    }
}

// --- overlapping subscriptions of one client ---
//
// A 3.1.1 client gets one copy of a message however many of its subscriptions match. The
// spec says at which QoS: "the maximum QoS of all the matching subscriptions" [MQTT-3.3.5-1],
// and midge does that. mosquitto 2.0 does not: its copy goes out at the QoS of the first
// match in its walk of the topic tree (depth first, the literal level before `+` before `#`,
// a `#` below a matching level before that level), so for topic `a/b` the order is
// `a/b/#`, `a/b`, `a/+/#`, `a/+`, `a/#`, `+/b/#`, `+/b`, `+/+/#`, `+/+`, `+/#`, `#`.
// Each test states both answers; a client that relied on mosquitto's order would get a higher
// QoS from midge, never a lower one.

fn overlapping_delivery(filters: &[(&str, u8)], mosquitto_qos: u8) {
    let qos = match common::broker_kind() {
        common::Kind::Mosquitto => mosquitto_qos,
        common::Kind::Midge => filters.iter().map(|(_, q)| *q).max().expect("filters"),
    };
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "overlap");
    for (i, (filter, qos)) in filters.iter().enumerate() {
        let id = i as u16 + 1;
        sub.send(&subscribe(id, filter, *qos));
        sub.expect(&suback(id, *qos));
    }
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("a/b", b"ov", 2, false, 7));
    publ.expect(&pubrec(7));
    publ.send(&pubrel(7));
    publ.expect(&pubcomp(7));
    let packet_id = if qos > 0 { 1 } else { 0 };
    sub.expect(&publish("a/b", b"ov", qos, false, packet_id));
    sub.expect_silence(200);
}

#[test]
fn overlapping_literal_and_plus_deliver_once() {
    overlapping_delivery(&[("a/b", 0), ("a/+", 2)], 0);
}

#[test]
fn overlapping_literal_and_plus_in_one_subscribe_deliver_once() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "overlap");
    sub.send(&subscribe_many(1, &[("a/b", 1), ("a/+", 0)]));
    sub.expect(&suback_many(1, &[1, 0]));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("a/b", b"ov", 1, false, 3));
    publ.expect(&puback(3));
    sub.expect(&publish("a/b", b"ov", 1, false, 1));
    sub.expect_silence(200);
}

#[test]
fn overlapping_plus_subscribed_first_and_literal_deliver_once() {
    overlapping_delivery(&[("a/+", 2), ("a/b", 0)], 0);
}

#[test]
fn overlapping_plus_and_hash_deliver_once() {
    overlapping_delivery(&[("a/#", 0), ("a/+", 2)], 2);
}

#[test]
fn overlapping_hash_below_the_topic_and_exact_filter_deliver_once() {
    overlapping_delivery(&[("a/b", 2), ("a/b/#", 0)], 0);
}

#[test]
fn overlapping_root_hash_and_literal_filter_deliver_once() {
    overlapping_delivery(&[("#", 2), ("a/b", 1)], 1);
}

#[test]
fn overlapping_literal_first_level_and_plus_first_level_deliver_once() {
    overlapping_delivery(&[("+/+", 2), ("a/#", 1)], 1);
}

#[test]
fn resubscribing_the_same_filter_replaces_its_qos() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "resub");
    sub.send(&subscribe(1, "k", 0));
    sub.expect(&suback(1, 0));
    sub.send(&subscribe(2, "k", 1));
    sub.expect(&suback(2, 1));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("k", b"k", 1, false, 9));
    publ.expect(&puback(9));
    sub.expect(&publish("k", b"k", 1, false, 1));
    sub.expect_silence(200);
}

// --- UNSUBSCRIBE ---

#[test]
fn unsubscribe_gets_unsuback_and_stops_delivery() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(1, &[("u/a", 0), ("u/b", 0)]));
    sub.expect(&suback_many(1, &[0, 0]));
    sub.send(&unsubscribe(7, "u/a"));
    sub.expect(&[0xb0, 0x02, 0x00, 0x07]);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("u/a", b"gone", 0, false, 0));
    publ.send(&publish("u/b", b"kept", 0, false, 0));
    sub.expect(&publish("u/b", b"kept", 0, false, 0));
}

#[test]
fn unsubscribe_several_filters_gets_one_unsuback() {
    let broker = Broker::start();
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe_many(1, &[("u/a", 0), ("u/#", 0), ("v", 0)]));
    sub.expect(&suback_many(1, &[0, 0, 0]));
    sub.send(&unsubscribe_many(0x0203, &["u/a", "u/#"]));
    sub.expect(&unsuback(0x0203));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("u/a", b"gone", 0, false, 0));
    publ.send(&publish("v", b"kept", 0, false, 0));
    sub.expect(&publish("v", b"kept", 0, false, 0));
}

#[test]
fn unsubscribe_from_a_filter_never_subscribed_still_gets_unsuback() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "sub");
    c.send(&unsubscribe(5, "never/subscribed"));
    c.expect(&unsuback(5));
}

#[test]
fn unsubscribe_must_match_the_filter_exactly() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "w/+", 0);
    sub.send(&unsubscribe(2, "w/x"));
    sub.expect(&unsuback(2));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("w/x", b"still", 0, false, 0));
    sub.expect(&publish("w/x", b"still", 0, false, 0));
}

#[test]
fn unsubscribe_with_reserved_flags_0xa0_is_closed() {
    subscribe_is_closed(&unsubscribe_raw(0xa0, 5, &[b"a"]));
}

#[test]
fn unsubscribe_with_packet_id_0_is_closed() {
    subscribe_is_closed(&unsubscribe(0, "a"));
}

#[test]
fn unsubscribe_invalid_filter_is_closed() {
    subscribe_is_closed(&unsubscribe(8, "a/#/b"));
}

#[test]
fn unsubscribe_empty_filter_is_closed() {
    subscribe_is_closed(&unsubscribe(8, ""));
}

#[test]
fn unsubscribe_without_any_filter_is_closed() {
    subscribe_is_closed(&packet(0xa2, &[0x00, 0x05]));
}

#[test]
fn repeated_filter_in_one_subscribe_is_subscribed_once_with_its_last_options() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "p");
    publ.send(&publish("d/x", b"kept", 1, true, 1));
    publ.expect(&puback(1));
    let mut c = Raw::connected(&broker, "s");
    c.send(&subscribe_many(7, &[("d/x", 1), ("d/#", 0), ("d/x", 0)]));
    // Every copy gets its own code, in order.
    c.expect(&suback_many(7, &[1, 0, 0]));
    // The retained message once per distinct filter, at the last copy's QoS 0: the first
    // copy's QoS 1 would have sent it with a packet id.
    c.expect_unordered(&[
        publish("d/x", b"kept", 0, true, 0),
        publish("d/x", b"kept", 0, true, 0),
    ]);
    // A live message now arrives next: no third retained copy was queued before it.
    publ.send(&publish("d/x", b"live", 1, false, 2));
    publ.expect(&puback(2));
    c.expect(&publish("d/x", b"live", 0, false, 0));
}
