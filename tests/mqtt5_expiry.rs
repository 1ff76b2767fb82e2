//! MQTT 5 expiry: the session expiry interval (finite ones really expiring, 0xFFFFFFFF,
//! changed by DISCONNECT) and the message expiry interval (counted down on delivery, expired
//! messages dropped from an offline queue and from the retained store). See also
//! mqtt5_session.rs for the session basics.

mod common;

use common::packets::*;
use common::{Broker, Raw};
use std::time::Duration;

fn session_expiry(seconds: u32) -> Props {
    Props::new().session_expiry_interval(seconds)
}

/// Connects `id` with clean start 0 and the given session expiry, expecting `present`.
fn connect_kept(broker: &Broker, id: &str, expiry: u32, present: bool) -> Raw {
    let connect = Connect::v5(id)
        .clean(false)
        .properties(&session_expiry(expiry))
        .build();
    Raw::handshake(broker, &connect, &connack5_ok(present))
}

/// A session with a QoS 1 subscription to `topic`, left with `disconnect`.
fn leave_session(broker: &Broker, id: &str, expiry: u32, topic: &str, disconnect: &[u8]) {
    let mut c = connect_kept(broker, id, expiry, false);
    c.send(&subscribe5(1, &[], &[(topic, 1)]));
    c.expect(&suback5(1, &[], &[1]));
    c.send(disconnect);
    c.expect_closed();
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

// --- session expiry ---

#[test]
fn session_with_expiry_1s_is_gone_after_2s() {
    let broker = Broker::start();
    leave_session(&broker, "short", 1, "s/a", &DISCONNECT);
    sleep_ms(2000);
    connect_kept(&broker, "short", 60, false);
}

#[test]
fn session_with_expiry_2s_is_still_there_after_half_a_second() {
    let broker = Broker::start();
    leave_session(&broker, "short", 2, "s/a", &DISCONNECT);
    sleep_ms(500);
    connect_kept(&broker, "short", 60, true);
}

#[test]
fn session_that_expired_loses_its_queued_messages() {
    let broker = Broker::start();
    leave_session(&broker, "short", 1, "s/a", &DISCONNECT);
    let mut p = Raw::connected_v5(&broker, "p");
    p.send(&Publish5::new("s/a", b"queued").qos(1, 1).build());
    p.expect(&puback5(1, 0));
    sleep_ms(2000);
    let mut c = connect_kept(&broker, "short", 60, false);
    c.expect_silence(300);
}

#[test]
fn session_with_expiry_0xffffffff_outlives_the_connection() {
    let broker = Broker::start();
    leave_session(&broker, "forever", 0xffff_ffff, "s/c", &DISCONNECT);
    let mut p = Raw::connected_v5(&broker, "p");
    p.send(&Publish5::new("s/c", b"q").qos(1, 1).build());
    p.expect(&puback5(1, 0));
    sleep_ms(1500);
    let mut c = connect_kept(&broker, "forever", 60, true);
    c.expect(&Publish5::new("s/c", b"q").qos(1, 1).build());
}

// DISCONNECT with a session expiry of 1 s shortens a 60 s session.
#[test]
fn disconnect_shortens_the_session_expiry() {
    let broker = Broker::start();
    let disconnect = disconnect5(0, &session_expiry(1));
    leave_session(&broker, "shorter", 60, "s/b", &disconnect);
    sleep_ms(2000);
    connect_kept(&broker, "shorter", 60, false);
}

// DISCONNECT with a session expiry of 60 s lengthens a 1 s session.
#[test]
fn disconnect_lengthens_the_session_expiry() {
    let broker = Broker::start();
    let disconnect = disconnect5(0, &session_expiry(60));
    leave_session(&broker, "longer", 1, "s/d", &disconnect);
    let mut p = Raw::connected_v5(&broker, "p");
    p.send(&Publish5::new("s/d", b"q").qos(1, 1).build());
    p.expect(&puback5(1, 0));
    sleep_ms(2000);
    let mut c = connect_kept(&broker, "longer", 60, true);
    c.expect(&Publish5::new("s/d", b"q").qos(1, 1).build());
}

// The session expiry of the last CONNECT counts, not the first.
#[test]
fn reconnect_with_a_shorter_session_expiry_replaces_the_old_one() {
    let broker = Broker::start();
    leave_session(&broker, "again", 60, "s/e", &DISCONNECT);
    let mut c = connect_kept(&broker, "again", 1, true);
    c.send(&DISCONNECT);
    c.expect_closed();
    sleep_ms(2000);
    connect_kept(&broker, "again", 60, false);
}

// A session whose connection drops without DISCONNECT expires as well.
#[test]
fn session_with_expiry_1s_expires_after_the_connection_drops() {
    let broker = Broker::start();
    let mut c = connect_kept(&broker, "dropped", 1, false);
    c.send(&subscribe5(1, &[], &[("s/f", 1)]));
    c.expect(&suback5(1, &[], &[1]));
    drop(c);
    sleep_ms(2000);
    connect_kept(&broker, "dropped", 60, false);
}

// --- message expiry ---

// Passed on as it arrives, the message has not waited: the interval is the publisher's.
#[test]
fn live_delivery_keeps_the_whole_message_expiry_interval() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "e/#", 1);
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(60);
    p.send(
        &Publish5::new("e/1", b"x")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0));
    // 32 0e 00 03 "e/1" 00 01 05 02 00 00 00 3c "x"
    sub.expect(
        &Publish5::new("e/1", b"x")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
}

#[test]
fn message_without_expiry_is_delivered_without_the_property() {
    let broker = Broker::start();
    let mut sub = Raw::subscribed_v5(&broker, "s", "e/#", 1);
    let mut p = Raw::connected_v5(&broker, "p");
    p.send(&Publish5::new("e/4", b"none").qos(1, 1).build());
    p.expect(&puback5(1, 0));
    sub.expect(&Publish5::new("e/4", b"none").qos(1, 1).build());
}

// After about 2 s in an offline queue, the 60 s interval has counted down.
#[test]
fn queued_message_is_delivered_with_the_interval_counted_down() {
    let broker = Broker::start();
    leave_session(&broker, "o", 60, "e/#", &DISCONNECT);
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(60);
    p.send(
        &Publish5::new("e/3", b"long")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0));
    sleep_ms(2100);
    let mut c = connect_kept(&broker, "o", 60, true);
    c.expect_with_expiry(
        &Publish5::new("e/3", b"long")
            .qos(1, 1)
            .properties(&props)
            .build(),
        60,
        50,
    );
}

#[test]
fn queued_message_that_expired_is_not_delivered() {
    let broker = Broker::start();
    leave_session(&broker, "o", 60, "e/#", &DISCONNECT);
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(1);
    p.send(
        &Publish5::new("e/2", b"short")
            .qos(1, 1)
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0));
    sleep_ms(2100);
    let mut c = connect_kept(&broker, "o", 60, true);
    c.expect_silence(300);
}

// The message that did not expire still comes, after the one that did is dropped.
#[test]
fn queued_messages_keep_the_unexpired_and_drop_the_expired() {
    let broker = Broker::start();
    leave_session(&broker, "o", 60, "e/#", &DISCONNECT);
    let mut p = Raw::connected_v5(&broker, "p");
    let long = Props::new().message_expiry_interval(60);
    let short = Props::new().message_expiry_interval(1);
    p.send(
        &Publish5::new("e/3", b"long")
            .qos(1, 1)
            .properties(&long)
            .build(),
    );
    p.expect(&puback5(1, 0));
    p.send(
        &Publish5::new("e/2", b"short")
            .qos(1, 2)
            .properties(&short)
            .build(),
    );
    p.expect(&puback5(2, 0));
    sleep_ms(2100);
    let mut c = connect_kept(&broker, "o", 60, true);
    c.expect_with_expiry(
        &Publish5::new("e/3", b"long")
            .qos(1, 1)
            .properties(&long)
            .build(),
        60,
        50,
    );
    c.expect_silence(300);
}

#[test]
fn retained_message_that_expired_is_not_sent_on_subscribe() {
    let broker = Broker::start();
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(1);
    p.send(
        &Publish5::new("r/1", b"short")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    sleep_ms(2100);
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("r/#", 1)]));
    c.expect(&suback5(1, &[], &[1]));
    c.expect_silence(300);
}

#[test]
fn retained_message_is_sent_on_subscribe_with_the_interval_counted_down() {
    let broker = Broker::start();
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(60);
    p.send(
        &Publish5::new("r/2", b"long")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    sleep_ms(1500);
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("r/#", 1)]));
    c.expect(&suback5(1, &[], &[1]));
    // 33 11 00 03 "r/2" 00 01 05 02 00 00 00 3a "long": 58 s left.
    c.expect_with_expiry(
        &Publish5::new("r/2", b"long")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
        60,
        50,
    );
}

// Sent on subscribe a moment after it was published, the retained message has waited no
// whole second, so its 4 s are still 4, as from mosquitto (not 3: the time left, rounded
// down).
#[test]
fn retained_message_sent_within_a_second_keeps_its_whole_expiry_interval() {
    let broker = Broker::start();
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(4);
    let publish = Publish5::new("r/4", b"soon")
        .qos(1, 1)
        .retain()
        .properties(&props)
        .build();
    p.send(&publish);
    p.expect(&puback5(1, 0x10));
    let mut c = Raw::connected_v5(&broker, "s");
    c.send(&subscribe5(1, &[], &[("r/#", 1)]));
    c.expect(&suback5(1, &[], &[1]));
    c.expect(&publish);
}

// A 3.1.1 subscriber gets the retained message without properties, but not once expired.
#[test]
fn retained_message_that_expired_is_not_sent_to_a_v311_subscriber() {
    let broker = Broker::start();
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(1);
    p.send(
        &Publish5::new("r/3", b"short")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    sleep_ms(2100);
    let mut c = Raw::connected(&broker, "s4");
    c.send(&subscribe(1, "r/#", 1));
    c.expect(&suback(1, 1));
    c.expect_silence(300);
}

#[test]
fn retained_message_with_expiry_is_sent_to_a_v311_subscriber_without_properties() {
    let broker = Broker::start();
    let mut p = Raw::connected_v5(&broker, "p");
    let props = Props::new().message_expiry_interval(60);
    p.send(
        &Publish5::new("r/4", b"long")
            .qos(1, 1)
            .retain()
            .properties(&props)
            .build(),
    );
    p.expect(&puback5(1, 0x10));
    let mut c = Raw::connected(&broker, "s4");
    c.send(&subscribe(1, "r/#", 1));
    c.expect(&suback(1, 1));
    c.expect(&publish("r/4", b"long", 1, true, 1));
}
