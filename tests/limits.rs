//! Configured limits and access rules: what happens at each bound.

mod common;

use common::packets::*;
use common::{Broker, Bystander, Raw};

/// The harness checks the port with a connection of its own; it must be gone before the
/// test counts connections.
fn wait_for_the_harness_probe_to_close(broker: &Broker) {
    broker.wait_for_log("Client <unknown> closed its connection.");
}

// mosquitto counts a listener's clients when it frees them, some time after they close, so
// its count lags behind the sockets actually open (the harness's own probe connection
// included); these two are midge's exact behaviour.
#[test]
fn max_connections_refuses_the_connection_over_the_limit() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("max_connections 2");
    wait_for_the_harness_probe_to_close(&broker);
    let _a = Raw::connected(&broker, "a");
    let _b = Raw::connected(&broker, "b");
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("c", true, 60));
    c.expect_closed();
}

#[test]
fn max_connections_frees_a_place_when_a_client_leaves() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("max_connections 1");
    wait_for_the_harness_probe_to_close(&broker);
    let mut a = Raw::connected(&broker, "a");
    a.send(&DISCONNECT);
    a.expect_closed();
    broker.wait_for_log("Client a disconnected.");
    Raw::connected(&broker, "b");
}

#[test]
fn message_size_limit_drops_larger_payloads_but_still_acknowledges() {
    let broker = Broker::start_with("message_size_limit 10");
    let mut sub = Raw::connected(&broker, "sub");
    sub.send(&subscribe(1, "t", 1));
    sub.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"eleven byte", 1, false, 5));
    publ.expect(&puback(5));
    publ.send(&publish("t", b"ten bytes!", 1, false, 6));
    publ.expect(&puback(6));
    sub.expect(&publish("t", b"ten bytes!", 1, false, 1));
}

#[test]
fn max_packet_size_closes_a_client_that_sends_a_larger_packet() {
    let broker = Broker::start_with("max_packet_size 100");
    let mut bystander = Bystander::new(&broker);
    let mut c = Raw::connected(&broker, "big");
    c.send(&publish("t", &[b'x'; 200], 0, false, 0));
    c.expect_closed();
    bystander.assert_still_served(&broker);
}

#[test]
fn retain_available_false_closes_a_client_that_publishes_retained() {
    let broker = Broker::start_with("retain_available false");
    let mut c = Raw::connected(&broker, "r");
    c.send(&publish("t", b"kept?", 0, true, 0));
    c.expect_closed();
}

#[test]
fn anonymous_clients_are_refused_without_allow_anonymous() {
    let broker = Broker::start_with("allow_anonymous false");
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("anon", true, 60));
    c.expect(&connack(false, 5));
    c.expect_closed();
    broker.wait_for_log("disconnected, not authorised.");
}

#[test]
fn anonymous_mqtt5_clients_are_refused_with_reason_0x87() {
    let broker = Broker::start_with("allow_anonymous false");
    let mut c = Raw::connect(&broker);
    c.send(&Connect::v5("anon5").build());
    c.expect(&[0x20, 0x03, 0x00, 0x87, 0x00]);
    c.expect_closed();
}

#[test]
fn max_queued_messages_zero_means_unlimited() {
    let broker = Broker::start_with("max_queued_messages 0");
    Raw::offline_subscriber(&broker, "offline", "q", 1);
    let mut publ = Raw::connected(&broker, "pub");
    for i in 1..=1500u16 {
        publ.send(&publish("q", &i.to_be_bytes(), 1, false, i));
        publ.expect(&puback(i));
    }
    let mut back = Raw::connected_persistent(&broker, "offline", true);
    for i in 1..=1500u16 {
        let packet = back.recv_packet();
        assert_eq!(&packet[packet.len() - 2..], &i.to_be_bytes(), "message {i}");
        back.send(&puback(u16::from_be_bytes([packet[5], packet[6]])));
    }
}
