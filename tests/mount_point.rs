//! `mount_point`: a listener whose clients live under a topic prefix. Everything they publish
//! (wills and retained messages too) and every filter they subscribe to gets the prefix; what
//! they are sent loses it. Checked against mosquitto 2.0.11:
//!
//!     MIDGE_TEST_BROKER=mosquitto cargo test --test mount_point
//!
//! Where midge differs (midge-only tests): mosquitto 2.0.11 sends a mounted client its topics
//! with the mount point still on (fixed in 2.0.12), does not mount UNSUBSCRIBE filters, and
//! mounts `$share/g/x` as the ordinary filter `m/$share/g/x`. The broker-agnostic tests tell
//! what a mounted client receives by its payload.

mod common;

use common::packets::*;
use common::security::{Files, raw_on_port};
use common::{Broker, Raw, broker_kind, midge_only};

/// A broker with a plain listener (`broker.port`) and one mounted at `m/` (the port
/// returned), anonymous clients allowed on both; `extra` lines go to the mounted one.
fn mounted_broker(extra: &str) -> (Broker, u16) {
    Broker::start_config(broker_kind(), |plain, mounted| {
        format!(
            "allow_anonymous true\nlistener {plain} 127.0.0.1\n\
             listener {mounted} 127.0.0.1\nmount_point m/\n{extra}\n"
        )
    })
}

/// An MQTT 3.1.1 client on the mounted listener.
fn mounted_client(port: u16, connect: &Connect) -> Raw {
    let mut c = raw_on_port(port);
    c.send(&connect.build());
    c.expect(&CONNACK_OK);
    c
}

/// An MQTT 5 client on the mounted listener.
fn mounted_client5(port: u16, id: &str) -> Raw {
    let mut c = raw_on_port(port);
    c.send(&Connect::v5(id).build());
    c.expect(&connack5_ok(false));
    c
}

/// The payload of a QoS 0 PUBLISH that an MQTT 3.1.1 client received.
fn payload_of(packet: &[u8]) -> Vec<u8> {
    let mut at = 1;
    while packet[at] & 0x80 != 0 {
        at += 1;
    }
    let topic_len = usize::from(u16::from_be_bytes([packet[at + 1], packet[at + 2]]));
    packet[at + 3 + topic_len..].to_vec()
}

#[test]
fn a_publish_through_a_mounted_listener_arrives_under_the_mount_point() {
    let (broker, mounted) = mounted_broker("");
    let mut plain = Raw::subscribed(&broker, "plain", "#", 0);
    let mut publisher = mounted_client(mounted, &Connect::v311("pub"));
    publisher.send(&publish("a/b", b"hello", 0, false, 0));
    plain.expect(&publish("m/a/b", b"hello", 0, false, 0));
}

#[test]
fn a_mounted_subscription_matches_only_topics_under_the_mount_point() {
    let (broker, mounted) = mounted_broker("");
    let mut sub = mounted_client(mounted, &Connect::v311("sub"));
    sub.send(&subscribe(1, "x", 0));
    sub.expect(&suback(1, 0));
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("x", b"outside", 0, false, 0));
    publisher.send(&publish("m/x", b"inside", 0, false, 0));
    assert_eq!(payload_of(&sub.recv_packet()), b"inside");
}

#[test]
fn a_mounted_client_is_sent_its_topics_without_the_mount_point() {
    if midge_only() {
        return;
    }
    let (broker, mounted) = mounted_broker("");
    let mut sub = mounted_client(mounted, &Connect::v311("sub"));
    sub.send(&subscribe(1, "#", 0));
    sub.expect(&suback(1, 0));
    let mut publisher = Raw::connected(&broker, "pub");
    // Not under the mount point: not sent. The mount point alone: no name left to send.
    publisher.send(&publish("other/x", b"no", 0, false, 0));
    publisher.send(&publish("m/", b"no", 0, false, 0));
    publisher.send(&publish("m", b"no", 0, false, 0));
    publisher.send(&publish("m/a/b", b"yes", 0, false, 0));
    sub.expect(&publish("a/b", b"yes", 0, false, 0));
}

#[test]
fn a_retained_message_from_a_mounted_client_is_kept_under_the_mount_point() {
    let (broker, mounted) = mounted_broker("");
    let mut publisher = mounted_client(mounted, &Connect::v311("pub"));
    publisher.send(&publish("r", b"kept", 1, true, 1));
    publisher.expect(&puback(1));
    let mut plain = Raw::connected(&broker, "plain");
    plain.send(&subscribe(1, "m/r", 0));
    plain.expect(&suback(1, 0));
    plain.expect(&publish("m/r", b"kept", 0, true, 0));
    // A mounted subscriber finds it by its own name.
    let mut sub = mounted_client(mounted, &Connect::v311("sub"));
    sub.send(&subscribe(1, "r", 0));
    sub.expect(&suback(1, 0));
    assert_eq!(payload_of(&sub.recv_packet()), b"kept");
}

#[test]
fn the_will_of_a_mounted_client_goes_out_under_the_mount_point() {
    let (broker, mounted) = mounted_broker("");
    let mut plain = Raw::subscribed(&broker, "plain", "#", 0);
    let dying = mounted_client(
        mounted,
        &Connect::v311("dying").will("w", b"gone", 0, false),
    );
    drop(dying);
    plain.expect(&publish("m/w", b"gone", 0, false, 0));
}

#[test]
fn a_mounted_client_publishing_to_dollar_sys_publishes_under_the_mount_point() {
    let (broker, mounted) = mounted_broker("");
    let mut plain = Raw::subscribed(&broker, "plain", "m/#", 0);
    let mut publisher = mounted_client(mounted, &Connect::v311("pub"));
    publisher.send(&publish("$SYS/x", b"mine", 0, false, 0));
    plain.expect(&publish("m/$SYS/x", b"mine", 0, false, 0));
}

#[test]
fn a_topic_alias_of_a_mounted_client_names_its_own_unmounted_topic() {
    let (broker, mounted) = mounted_broker("");
    let mut plain = Raw::subscribed(&broker, "plain", "#", 0);
    let mut publisher = mounted_client5(mounted, "pub");
    let alias = Props::new().topic_alias(1);
    publisher.send(&Publish5::new("t", b"one").properties(&alias).build());
    publisher.send(&Publish5::new("", b"two").properties(&alias).build());
    plain.expect(&publish("m/t", b"one", 0, false, 0));
    plain.expect(&publish("m/t", b"two", 0, false, 0));
}

#[test]
fn the_acl_judges_the_mounted_topic() {
    let files = Files::new();
    let acl = files.write("acl", "topic readwrite m/ok\n");
    let (_broker, mounted) = mounted_broker(&format!("acl_file {acl}"));
    let mut publisher = mounted_client5(mounted, "pub");
    // `ok` is m/ok: allowed, and nobody listens (0x10). `m/ok` is m/m/ok: denied.
    publisher.send(&Publish5::new("ok", b"x").qos(1, 1).build());
    publisher.expect(&puback5(1, 0x10));
    publisher.send(&Publish5::new("m/ok", b"x").qos(1, 2).build());
    publisher.expect(&puback5(2, 0x87));
}

#[test]
fn a_mounted_client_can_unsubscribe() {
    if midge_only() {
        return;
    }
    let (broker, mounted) = mounted_broker("");
    let mut sub = mounted_client(mounted, &Connect::v311("sub"));
    sub.send(&subscribe_many(1, &[("x", 0), ("y", 0)]));
    sub.expect(&suback_many(1, &[0, 0]));
    sub.send(&unsubscribe(2, "x"));
    sub.expect(&unsuback(2));
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("m/x", b"gone", 0, false, 0));
    publisher.send(&publish("m/y", b"marker", 0, false, 0));
    sub.expect(&publish("y", b"marker", 0, false, 0));
}

#[test]
fn a_shared_subscription_of_a_mounted_client_is_mounted_inside_the_share() {
    if midge_only() {
        return;
    }
    let (broker, mounted) = mounted_broker("");
    let mut member = mounted_client(mounted, &Connect::v311("member"));
    member.send(&subscribe(1, "$share/g/x", 0));
    member.expect(&suback(1, 0));
    // A plain client in the same group, under the mounted name, shares its messages.
    let mut other = Raw::subscribed(&broker, "other", "$share/g/m/x", 0);
    let mut publisher = Raw::connected(&broker, "pub");
    publisher.send(&publish("m/x", b"1", 0, false, 0));
    publisher.send(&publish("m/x", b"2", 0, false, 0));
    member.expect(&publish("x", b"1", 0, false, 0));
    other.expect(&publish("m/x", b"2", 0, false, 0));
}

#[test]
fn a_topic_too_long_once_mounted_is_dropped_with_0x90() {
    if midge_only() {
        return;
    }
    let (_broker, mounted) = mounted_broker("max_topic_length 65535");
    let mut publisher = mounted_client5(mounted, "pub");
    let topic = "t".repeat(65534);
    publisher.send(&Publish5::new(&topic, b"x").qos(1, 1).build());
    publisher.expect(&puback5(1, 0x90));
    publisher.send(&Publish5::new("fits", b"x").qos(1, 2).build());
    publisher.expect(&puback5(2, 0x10));
}
