//! Sessions: clean session 0, messages queued while offline, redelivery on reconnect, and the
//! limits on queued and in-flight messages.
//!
//! A client goes offline with DISCONNECT and waits for the broker to close the socket, so that
//! the broker knows it is offline before anything is published.
mod common;
use common::{Broker, Raw, packets::*};

fn go_offline(mut c: Raw) {
    c.send(&DISCONNECT);
    c.expect_closed();
}

/// A persistent-session client `id` subscribed to `filter` at `qos`, then gone offline.
fn offline_subscriber(broker: &Broker, id: &str, filter: &str, qos: u8) {
    let mut c = Raw::connected_persistent(broker, id, false);
    c.send(&subscribe(1, filter, qos));
    c.expect(&suback(1, qos));
    go_offline(c);
}

#[test]
fn first_persistent_connect_gets_session_present_0() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("ps", false, 60));
    c.expect(&[0x20, 0x02, 0x00, 0x00]);
    broker.wait_for_log("as ps (p2, c0, k60)");
}

#[test]
fn persistent_reconnect_gets_session_present_1_and_keeps_the_subscription() {
    let broker = Broker::start();
    offline_subscriber(&broker, "ps", "s/#", 1);
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("ps", false, 60));
    c.expect(&[0x20, 0x02, 0x01, 0x00]);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s/x", b"live", 1, false, 3));
    publ.expect(&puback(3));
    c.expect(&publish("s/x", b"live", 1, false, 1));
}

// MQTT 3.1 has no session present flag: mosquitto sends 0 even when the session resumes.
#[test]
fn v31_persistent_reconnect_gets_connack_without_session_present() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v31("ps31", false, 60), &CONNACK_OK);
    c.send(&subscribe(1, "s31", 1));
    c.expect(&suback(1, 1));
    go_offline(c);
    let mut c = Raw::handshake(&broker, &connect_v31("ps31", false, 60), &CONNACK_OK);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s31", b"kept", 1, false, 3));
    publ.expect(&puback(3));
    c.expect(&publish("s31", b"kept", 1, false, 1));
}

#[test]
fn qos1_and_qos2_messages_published_while_offline_are_delivered_on_reconnect() {
    let broker = Broker::start();
    offline_subscriber(&broker, "ps", "s/#", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s/1", b"q1", 1, false, 1));
    publ.expect(&puback(1));
    publ.send(&publish("s/2", b"q2", 2, false, 2));
    publ.expect(&pubrec(2));
    publ.send(&pubrel(2));
    publ.expect(&pubcomp(2));
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("ps", false, 60));
    c.expect(&CONNACK_SESSION_PRESENT);
    c.expect(&[
        0x32, 0x09, 0x00, 0x03, b's', b'/', b'1', 0x00, 0x01, b'q', b'1',
    ]);
    // The QoS 2 message goes out at the subscription's QoS 1.
    c.expect(&[
        0x32, 0x09, 0x00, 0x03, b's', b'/', b'2', 0x00, 0x02, b'q', b'2',
    ]);
    c.send(&puback(1));
    c.send(&puback(2));
    c.expect_silence(200);
}

#[test]
fn qos2_message_published_while_offline_is_delivered_with_the_qos2_flow() {
    let broker = Broker::start();
    offline_subscriber(&broker, "ps", "s", 2);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s", b"q2", 2, false, 2));
    publ.expect(&pubrec(2));
    publ.send(&pubrel(2));
    publ.expect(&pubcomp(2));
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    c.expect(&publish("s", b"q2", 2, false, 1));
    c.send(&pubrec(1));
    c.expect(&pubrel(1));
    c.send(&pubcomp(1));
    c.expect_silence(200);
}

#[test]
fn qos0_messages_published_while_offline_are_not_queued() {
    let broker = Broker::start();
    offline_subscriber(&broker, "ps", "s", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s", b"lost", 0, false, 0));
    publ.send(&PINGREQ);
    publ.expect(&PINGRESP);
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    publ.send(&publish("s", b"marker", 1, false, 5));
    publ.expect(&puback(5));
    c.expect(&publish("s", b"marker", 1, false, 1));
}

#[test]
fn qos0_messages_published_while_offline_are_queued_with_queue_qos0_messages() {
    let broker = Broker::start_with("queue_qos0_messages true");
    offline_subscriber(&broker, "ps", "s", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s", b"offline0", 0, false, 0));
    publ.send(&PINGREQ);
    publ.expect(&PINGRESP);
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    c.expect(&publish("s", b"offline0", 0, false, 0));
}

// mosquitto keeps the *first* N messages and drops the newer ones ("Outgoing messages are
// being dropped for client ...").
#[test]
fn max_queued_messages_keeps_the_first_messages_queued_while_offline() {
    let broker = Broker::start_with("max_queued_messages 2");
    offline_subscriber(&broker, "mq", "m", 1);
    let mut publ = Raw::connected(&broker, "pub");
    for i in 0..5u16 {
        publ.send(&publish("m", format!("{i}").as_bytes(), 1, false, i + 1));
        publ.expect(&puback(i + 1));
    }
    let mut c = Raw::connected_persistent(&broker, "mq", true);
    c.expect(&publish("m", b"0", 1, false, 1));
    c.expect(&publish("m", b"1", 1, false, 2));
    c.send(&puback(1));
    c.send(&puback(2));
    c.expect_silence(300);
    broker.wait_for_log("Outgoing messages are being dropped for client mq.");
}

// Online, the queue limit counts only messages waiting behind the in-flight window.
#[test]
fn max_queued_messages_does_not_count_in_flight_messages() {
    let broker = Broker::start_with("max_queued_messages 2\nmax_inflight_messages 1");
    let mut c = Raw::connected(&broker, "mq");
    c.send(&subscribe(1, "m", 1));
    c.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    for i in 0..6u16 {
        publ.send(&publish("m", format!("{i}").as_bytes(), 1, false, i + 1));
        publ.expect(&puback(i + 1));
    }
    c.expect(&publish("m", b"0", 1, false, 1));
    c.send(&puback(1));
    c.expect(&publish("m", b"1", 1, false, 2));
    c.send(&puback(2));
    c.expect(&publish("m", b"2", 1, false, 3));
    c.send(&puback(3));
    c.expect_silence(300);
}

#[test]
fn unacknowledged_qos1_message_is_resent_with_dup_on_reconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected_persistent(&broker, "ps", false);
    c.send(&subscribe(1, "s/y", 1));
    c.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s/y", b"unacked", 1, false, 4));
    publ.expect(&puback(4));
    c.expect(&publish("s/y", b"unacked", 1, false, 1));
    go_offline(c);
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    c.expect(&[
        0x3a, 0x0e, 0x00, 0x03, b's', b'/', b'y', 0x00, 0x01, b'u', b'n', b'a', b'c', b'k', b'e',
        b'd',
    ]);
    c.send(&puback(1));
    c.expect_silence(200);
}

#[test]
fn unacknowledged_qos2_message_without_pubrec_is_resent_with_dup_on_reconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected_persistent(&broker, "ps", false);
    c.send(&subscribe(1, "t", 2));
    c.expect(&suback(1, 2));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"b", 2, false, 2));
    publ.expect(&pubrec(2));
    publ.send(&pubrel(2));
    publ.expect(&pubcomp(2));
    c.expect(&publish("t", b"b", 2, false, 1));
    go_offline(c);
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    c.expect(&[0x3c, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'b']);
    c.send(&pubrec(1));
    c.expect(&pubrel(1));
    c.send(&pubcomp(1));
}

#[test]
fn qos2_message_after_pubrec_gets_pubrel_resent_on_reconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected_persistent(&broker, "ps", false);
    c.send(&subscribe(1, "t", 2));
    c.expect(&suback(1, 2));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"a", 2, false, 1));
    publ.expect(&pubrec(1));
    publ.send(&pubrel(1));
    publ.expect(&pubcomp(1));
    c.expect(&publish("t", b"a", 2, false, 1));
    c.send(&pubrec(1));
    c.expect(&pubrel(1));
    go_offline(c);
    let mut c = Raw::connected_persistent(&broker, "ps", true);
    c.expect(&[0x62, 0x02, 0x00, 0x01]);
    c.send(&pubcomp(1));
    c.expect_silence(200);
}

#[test]
fn inbound_qos2_completed_by_pubrel_after_reconnect_is_delivered_once() {
    let broker = Broker::start();
    let mut w = Raw::connected(&broker, "watch");
    w.send(&subscribe(1, "in", 0));
    w.expect(&suback(1, 0));
    let mut p = Raw::connected_persistent(&broker, "inpub", false);
    p.send(&publish("in", b"held", 2, false, 9));
    p.expect(&pubrec(9));
    drop(p);
    broker.wait_for_log("Client inpub closed its connection.");
    let mut p = Raw::connected_persistent(&broker, "inpub", true);
    p.send(&pubrel(9));
    p.expect(&pubcomp(9));
    w.expect(&publish("in", b"held", 0, false, 0));
    w.expect_silence(200);
}

#[test]
fn clean_session_discards_the_old_persistent_session() {
    let broker = Broker::start();
    offline_subscriber(&broker, "ps", "s/#", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("s/queued", b"x", 1, false, 1));
    publ.expect(&puback(1));
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("ps", true, 60));
    c.expect(&[0x20, 0x02, 0x00, 0x00]);
    publ.send(&publish("s/q", b"x", 1, false, 7));
    publ.expect(&puback(7));
    c.expect_silence(300);
    go_offline(c);
    // Nothing was kept either: the next persistent connect starts a new session.
    let _c = Raw::connected_persistent(&broker, "ps", false);
}

#[test]
fn clean_session_is_not_kept_after_disconnect() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "cs");
    c.send(&subscribe(1, "t", 1));
    c.expect(&suback(1, 1));
    go_offline(c);
    let mut c = Raw::connected_persistent(&broker, "cs", false);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"x", 1, false, 1));
    publ.expect(&puback(1));
    c.expect_silence(300);
}

#[test]
fn max_inflight_messages_holds_the_third_qos1_message_until_a_puback() {
    let broker = Broker::start_with("max_inflight_messages 2");
    let mut c = Raw::connected(&broker, "mi");
    c.send(&subscribe(1, "m", 1));
    c.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    for i in 0..3u16 {
        publ.send(&publish("m", format!("{i}").as_bytes(), 1, false, i + 1));
        publ.expect(&puback(i + 1));
    }
    c.expect(&publish("m", b"0", 1, false, 1));
    c.expect(&publish("m", b"1", 1, false, 2));
    c.expect_silence(300);
    c.send(&puback(1));
    c.expect(&publish("m", b"2", 1, false, 3));
}

#[test]
fn qos0_messages_are_not_held_by_a_full_inflight_window() {
    let broker = Broker::start_with("max_inflight_messages 1");
    let mut c = Raw::connected(&broker, "mi");
    c.send(&subscribe(1, "m", 1));
    c.expect(&suback(1, 1));
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("m", b"q1", 1, false, 1));
    publ.expect(&puback(1));
    c.expect(&publish("m", b"q1", 1, false, 1));
    publ.send(&publish("m", b"q0", 0, false, 0));
    c.expect(&publish("m", b"q0", 0, false, 0));
}
