//! PUBLISH and the QoS 0/1/2 flows in both directions (mosquitto's 03-publish-* tests),
//! PINGREQ, and the framing of packets over TCP (large, coalesced and split packets).
mod common;
use common::{Broker, Raw, packets::*};
use std::io::Write;
use std::time::Duration;

// --- inbound flows (client to broker) ---

#[test]
fn qos0_publish_gets_no_reply_and_is_delivered() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q0", 0, false, 0));
    sub.expect(&[0x30, 0x05, 0x00, 0x01, b't', b'q', b'0']);
    publ.expect_silence(100);
}

#[test]
fn qos1_publish_gets_puback_with_its_packet_id() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q1", 1, false, 5));
    publ.expect(&[0x40, 0x02, 0x00, 0x05]);
}

#[test]
fn qos2_publish_gets_pubrec_and_pubrel_gets_pubcomp() {
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q2", 2, false, 0x0106));
    publ.expect(&[0x50, 0x02, 0x01, 0x06]);
    publ.send(&[0x62, 0x02, 0x01, 0x06]);
    publ.expect(&[0x70, 0x02, 0x01, 0x06]);
}

#[test]
fn qos2_message_is_delivered_only_after_pubrel() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"held", 2, false, 6));
    publ.expect(&pubrec(6));
    sub.expect_silence(300);
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&publish("t", b"held", 0, false, 0));
}

#[test]
fn qos2_publish_resent_with_dup_before_pubrel_is_delivered_once() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 2);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"once", 2, false, 6));
    publ.expect(&pubrec(6));
    publ.send(&publish_dup("t", b"once", 2, false, true, 6));
    publ.expect(&pubrec(6));
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&publish("t", b"once", 2, false, 1));
    sub.send(&pubrec(1));
    sub.expect(&pubrel(1));
    sub.send(&pubcomp(1));
    sub.expect_silence(200);
}

// Until PUBREL, each copy of a QoS 2 PUBLISH gets a PUBREC [MQTT-4.3.3-10], however often the
// client resends it. midge only: mosquitto 2.0.11 closes the connection at the second resend.
#[test]
fn qos2_publish_resent_twice_before_pubrel_gets_pubrec_each_time() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"once", 2, false, 6));
    publ.expect(&pubrec(6));
    for _ in 0..2 {
        publ.send(&publish_dup("t", b"once", 2, false, true, 6));
        publ.expect(&pubrec(6));
    }
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
}

#[test]
fn pubrel_for_an_unknown_packet_id_gets_pubcomp() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    c.send(&pubrel(0x33));
    c.expect(&[0x70, 0x02, 0x00, 0x33]);
}

// mosquitto answers a PUBREC it was not waiting for with a PUBREL for that id.
#[test]
fn pubrec_for_an_unknown_packet_id_gets_pubrel() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    c.send(&pubrec(0x34));
    c.expect(&[0x62, 0x02, 0x00, 0x34]);
}

#[test]
fn puback_for_an_unknown_packet_id_is_ignored() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    c.send(&puback(0x33));
    c.send(&PINGREQ);
    c.expect(&PINGRESP);
}

#[test]
fn pubcomp_for_an_unknown_packet_id_is_ignored() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    c.send(&pubcomp(0x35));
    c.send(&PINGREQ);
    c.expect(&PINGRESP);
}

#[test]
fn pubrel_without_its_reserved_flag_bit_is_closed() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "c");
    c.send(&packet(0x60, &[0x00, 0x33]));
    c.expect_closed();
}

// MQTT 3.1 sent PUBREL, SUBSCRIBE and UNSUBSCRIBE at QoS 1 with DUP set on a resend, and
// reserved none of their flags; mosquitto checks them only from 3.1.1 on.
#[test]
fn mqtt31_pubrel_subscribe_and_unsubscribe_may_carry_dup() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    c.send(&connect_v31("c31", true, 60));
    c.expect(&CONNACK_OK);
    c.send(&publish("q2/31", b"x", 2, false, 5));
    c.expect(&pubrec(5));
    c.send(&packet(0x6a, &[0x00, 0x05]));
    c.expect(&pubcomp(5));
    c.send(&packet(0x8a, &[0x00, 0x06, 0x00, 0x01, b'a', 0x00]));
    c.expect(&suback(6, 0));
    c.send(&packet(0xaa, &[0x00, 0x07, 0x00, 0x01, b'a']));
    c.expect(&unsuback(7));
}

// --- outbound flows (broker to subscriber) ---

#[test]
fn qos1_delivery_carries_packet_id_1_and_waits_for_puback() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q1", 1, false, 5));
    publ.expect(&puback(5));
    sub.expect(&[0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x01, b'q', b'1']);
    sub.send(&puback(1));
    sub.expect_silence(100);
}

#[test]
fn qos2_delivery_goes_publish_pubrec_pubrel_pubcomp() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 2);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q2", 2, false, 6));
    publ.expect(&pubrec(6));
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&[0x34, 0x07, 0x00, 0x01, b't', 0x00, 0x01, b'q', b'2']);
    sub.send(&pubrec(1));
    sub.expect(&[0x62, 0x02, 0x00, 0x01]);
    sub.send(&pubcomp(1));
    sub.expect_silence(100);
}

#[test]
fn outbound_packet_ids_start_at_1_per_client_and_increase() {
    let broker = Broker::start();
    let mut s1 = Raw::subscribed(&broker, "s1", "t", 2);
    let mut s2 = Raw::subscribed(&broker, "s2", "t", 1);
    let mut publ = Raw::connected(&broker, "pub");
    for (i, payload) in [b"m1", b"m2", b"m3"].iter().enumerate() {
        let id = 100 + i as u16;
        publ.send(&publish("t", *payload, 1, false, id));
        publ.expect(&puback(id));
    }
    for (i, payload) in [b"m1", b"m2", b"m3"].iter().enumerate() {
        let id = i as u16 + 1;
        s1.expect(&publish("t", *payload, 1, false, id));
        s2.expect(&publish("t", *payload, 1, false, id));
    }
}

#[test]
fn outbound_packet_ids_are_shared_between_qos1_and_qos2() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "#", 2);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"q1", 1, false, 5));
    publ.expect(&puback(5));
    sub.expect(&publish("t", b"q1", 1, false, 1));
    sub.send(&puback(1));
    publ.send(&publish("t", b"q2", 2, false, 6));
    publ.expect(&pubrec(6));
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&publish("t", b"q2", 2, false, 2));
}

#[test]
fn qos2_publish_is_downgraded_to_a_qos0_subscription() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"down", 2, false, 6));
    publ.expect(&pubrec(6));
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&publish("t", b"down", 0, false, 0));
}

#[test]
fn qos2_publish_is_downgraded_to_a_qos1_subscription() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"down", 2, false, 6));
    publ.expect(&pubrec(6));
    publ.send(&pubrel(6));
    publ.expect(&pubcomp(6));
    sub.expect(&publish("t", b"down", 1, false, 1));
}

#[test]
fn qos0_publish_is_not_upgraded_for_a_qos2_subscription() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 2);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"up?", 0, false, 0));
    sub.expect(&publish("t", b"up?", 0, false, 0));
}

// --- malformed PUBLISH ---

fn publish_is_closed(packet: &[u8]) {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "bad-pub");
    c.send(packet);
    c.expect_closed();
}

#[test]
fn publish_qos3_is_closed() {
    publish_is_closed(&packet(0x36, b"\x00\x01t\x00\x01x"));
}

#[test]
fn publish_topic_with_plus_is_closed() {
    publish_is_closed(&publish("a/+", b"x", 0, false, 0));
}

#[test]
fn publish_topic_with_hash_is_closed() {
    publish_is_closed(&publish("a/#", b"x", 0, false, 0));
}

#[test]
fn publish_empty_topic_is_closed() {
    publish_is_closed(&publish("", b"x", 0, false, 0));
}

#[test]
fn publish_qos1_with_packet_id_0_is_closed() {
    publish_is_closed(&publish("t", b"x", 1, false, 0));
}

#[test]
fn publish_qos2_with_packet_id_0_is_closed() {
    publish_is_closed(&publish("t", b"x", 2, false, 0));
}

// MQTT 3.1.1 forbids DUP on QoS 0 [MQTT-3.3.1-2]; mosquitto 2.0.11 accepts such a PUBLISH and
// forwards it with DUP clear.
#[test]
fn publish_qos0_with_dup_set_is_forwarded_with_dup_clear() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish_dup("t", b"d0", 0, false, true, 0));
    sub.expect(&[0x30, 0x05, 0x00, 0x01, b't', b'd', b'0']);
}

// Clients may not publish to $SYS: mosquitto drops the message but still acknowledges it.
#[test]
fn publish_to_sys_topic_is_acknowledged_but_not_delivered() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "$SYS/test/x", 0);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("$SYS/test/x", b"no", 1, false, 4));
    publ.expect(&puback(4));
    sub.expect_silence(200);
}

// --- PINGREQ and payloads ---

#[test]
fn pingreq_gets_pingresp() {
    let broker = Broker::start();
    let mut c = Raw::connected(&broker, "ping");
    c.send(&[0xc0, 0x00]);
    c.expect(&[0xd0, 0x00]);
}

#[test]
fn zero_length_payload_is_delivered() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 1);
    let mut publ = Raw::connected(&broker, "pub");
    publ.send(&publish("t", b"", 1, false, 9));
    publ.expect(&puback(9));
    sub.expect(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
}

#[test]
fn large_payload_of_200kb_split_across_writes_is_delivered_whole() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "big", 1);
    let mut publ = Raw::connected(&broker, "pub");
    let payload: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    let bytes = publish("big", &payload, 1, false, 3);
    for chunk in bytes.chunks(7 * 1024 + 3) {
        publ.stream.write_all(chunk).expect("send chunk");
        publ.stream.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(2));
    }
    publ.expect(&puback(3));
    let got = sub.recv_packet();
    assert_eq!(got.len(), bytes.len(), "delivered packet length");
    assert!(
        got == publish("big", &payload, 1, false, 1),
        "delivered 200 KB packet differs"
    );
}

#[test]
fn many_packets_in_one_write_are_all_handled_in_order() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "burst", 0);
    let mut publ = Raw::connected(&broker, "pub");
    let mut bytes = Vec::new();
    let mut replies = Vec::new();
    for i in 1..=50u16 {
        bytes.extend(publish("burst", format!("{i}").as_bytes(), 1, false, i));
        replies.extend(puback(i));
    }
    bytes.extend(PINGREQ);
    replies.extend(PINGRESP);
    publ.send(&bytes);
    publ.expect(&replies);
    for i in 1..=50u16 {
        sub.expect(&publish("burst", format!("{i}").as_bytes(), 0, false, 0));
    }
}

#[test]
fn packet_split_byte_by_byte_is_reassembled() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "slow", 0);
    let mut publ = Raw::connected(&broker, "pub");
    for byte in publish("slow", b"drip", 1, false, 3) {
        publ.send(&[byte]);
        std::thread::sleep(Duration::from_millis(5));
    }
    publ.expect(&puback(3));
    sub.expect(&publish("slow", b"drip", 0, false, 0));
}

#[test]
fn connect_split_byte_by_byte_is_accepted() {
    let broker = Broker::start();
    let mut c = Raw::connect(&broker);
    for byte in connect_v311("dribble", true, 60) {
        c.send(&[byte]);
        std::thread::sleep(Duration::from_millis(5));
    }
    c.expect(&CONNACK_OK);
}

#[test]
fn connect_and_publish_in_one_write_are_both_handled() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed(&broker, "sub", "t", 0);
    let mut c = Raw::connect(&broker);
    let mut bytes = connect_v311("eager", true, 60);
    bytes.extend(publish("t", b"eager", 1, false, 2));
    c.send(&bytes);
    c.expect(&CONNACK_OK);
    c.expect(&puback(2));
    sub.expect(&publish("t", b"eager", 0, false, 0));
}
