//! MQTT 5 wills: the will delay interval (published after the delay, cancelled by a
//! reconnect within it, cut short by the end of the session) and the will properties, passed
//! on to subscribers as they were given.

mod common;

use common::packets::*;
use common::{Broker, Raw};
use std::time::{Duration, Instant};

/// A subscriber to `will/#` (MQTT 5, QoS 0).
fn watcher(broker: &Broker) -> Raw {
    Raw::subscribed_v5(broker, "watcher", "will/#", 0)
}

/// Connects `id` with a will on `will/ID` (payload "gone", QoS 0), the will properties
/// `will_props` and the CONNECT properties `props`.
fn with_will(broker: &Broker, id: &str, props: &Props, will_props: &Props) -> Raw {
    let connect = Connect::v5(id)
        .clean(false)
        .properties(props)
        .will(&format!("will/{id}"), b"gone", 0, false)
        .will_properties(will_props)
        .build();
    Raw::handshake(broker, &connect, &connack5_ok(false))
}

fn will_publish(id: &str) -> Vec<u8> {
    Publish5::new(&format!("will/{id}"), b"gone").build()
}

#[test]
fn will_with_delay_1s_is_published_after_the_delay() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "a",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(1),
    );
    drop(c);
    let start = Instant::now();
    w.expect(&will_publish("a"));
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "will published after {:?}, before its 1 s delay",
        start.elapsed()
    );
}

#[test]
fn will_with_delay_is_not_published_at_once() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "a",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(2),
    );
    drop(c);
    w.expect_silence(1000);
}

#[test]
fn reconnect_within_the_will_delay_cancels_the_will() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "b",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(1),
    );
    drop(c);
    std::thread::sleep(Duration::from_millis(300));
    let back = Connect::v5("b")
        .clean(false)
        .properties(&Props::new().session_expiry_interval(10))
        .build();
    let _back = Raw::handshake(&broker, &back, &connack5_ok(true));
    w.expect_silence(1500);
}

/// Waits until a will delay of 1 s has run out, allowing for mosquitto checking it once a
/// second, then checks that the next thing the watcher gets is a marker published now.
fn expect_no_will_after_1s_delay(broker: &Broker, w: &mut Raw) {
    std::thread::sleep(Duration::from_millis(2500));
    let marker = Publish5::new("will/marker", b"m").build();
    Raw::connected_v5(broker, "marker").send(&marker);
    w.expect(&marker);
}

// A reconnection with clean start ends the session, but it comes within the will delay, so
// the will is not sent [MQTT-3.1.2-8], as from mosquitto.
#[test]
fn reconnect_with_clean_start_within_the_will_delay_cancels_the_will() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "l",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(1),
    );
    drop(c);
    let back = Connect::v5("l").clean(true).build();
    let _back = Raw::handshake(&broker, &back, &connack5_ok(false));
    expect_no_will_after_1s_delay(&broker, &mut w);
}

// Taking over a connection whose will has a delay: the new connection is within the delay,
// so the will is not sent, even though clean start ends the session, as from mosquitto.
#[test]
fn takeover_within_the_will_delay_does_not_send_the_will() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let _old = with_will(
        &broker,
        "m",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(1),
    );
    let new = Connect::v5("m").clean(true).build();
    let _new = Raw::handshake(&broker, &new, &connack5_ok(false));
    expect_no_will_after_1s_delay(&broker, &mut w);
}

// The session ends (expiry 1 s) before the 30 s delay: the will goes out with the session.
#[test]
fn will_is_published_when_the_session_ends_before_the_delay() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "c",
        &Props::new().session_expiry_interval(1),
        &Props::new().will_delay_interval(30),
    );
    drop(c);
    w.expect(&will_publish("c"));
}

// With no session expiry the session ends with the connection, so the will must go out at
// once whatever its delay [MQTT-3.1.2-8]. mosquitto 2.0.11 waits for the will delay anyway.
#[test]
fn will_is_published_at_once_when_the_session_ends_with_the_connection() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "d",
        &Props::new(),
        &Props::new().will_delay_interval(30),
    );
    drop(c);
    w.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("set read timeout");
    w.expect(&will_publish("d"));
}

#[test]
fn will_without_delay_is_published_at_once() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "e",
        &Props::new().session_expiry_interval(10),
        &Props::new(),
    );
    drop(c);
    w.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("set read timeout");
    w.expect(&will_publish("e"));
}

#[test]
fn normal_disconnect_discards_a_delayed_will() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let mut c = with_will(
        &broker,
        "f",
        &Props::new().session_expiry_interval(10),
        &Props::new().will_delay_interval(1),
    );
    c.send(&DISCONNECT);
    c.expect_closed();
    w.expect_silence(1500);
}

// --- will properties ---

fn all_will_properties() -> Props {
    Props::new()
        .payload_format_indicator(1)
        .content_type("text/plain")
        .response_topic("resp/t")
        .correlation_data(b"corr")
        .user_property("k", "v")
        .user_property("k", "v2")
}

// Every will property reaches an MQTT 5 subscriber, in the order given.
#[test]
fn will_properties_are_passed_on_in_order() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(&broker, "g", &Props::new(), &all_will_properties());
    drop(c);
    // 30 3b 00 06 "will/g" 2e 01 01 03 00 0a "text/plain" 08 00 06 "resp/t" 09 00 04 "corr"
    // 26 00 01 "k" 00 01 "v" 26 00 01 "k" 00 02 "v2" "gone"
    w.expect(
        &Publish5::new("will/g", b"gone")
            .properties(&all_will_properties())
            .build(),
    );
}

// As the client wrote them, not grouped by kind: a user property first and last, the will
// delay interval (not passed on) in between (mosquitto's test for its bug #1244).
#[test]
fn will_properties_keep_the_clients_order_with_user_properties_among_them() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let sent = Props::new()
        .user_property("key1", "value1")
        .response_topic("response/topic")
        .correlation_data(b"data")
        .will_delay_interval(0)
        .payload_format_indicator(1)
        .content_type("application/test")
        .user_property("key2", "value2");
    let c = with_will(&broker, "k", &Props::new(), &sent);
    drop(c);
    let expected = Props::new()
        .user_property("key1", "value1")
        .response_topic("response/topic")
        .correlation_data(b"data")
        .payload_format_indicator(1)
        .content_type("application/test")
        .user_property("key2", "value2");
    // 30 5d 00 06 "will/k" 4f 26 00 04 "key1" 00 06 "value1" 08 00 0e "response/topic" 09 ...
    w.expect(
        &Publish5::new("will/k", b"gone")
            .properties(&expected)
            .build(),
    );
}

// The message expiry interval comes last whatever its place in the will properties, and
// counts down like any message's.
#[test]
fn will_message_expiry_interval_is_passed_on_last() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let will_props = Props::new()
        .message_expiry_interval(100)
        .content_type("text/plain");
    let c = with_will(&broker, "h", &Props::new(), &will_props);
    drop(c);
    let expected = Props::new()
        .content_type("text/plain")
        .message_expiry_interval(100);
    w.expect_with_expiry(
        &Publish5::new("will/h", b"gone")
            .properties(&expected)
            .build(),
        100,
        98,
    );
}

// The will delay interval is for the broker, not for the subscribers.
#[test]
fn will_delay_interval_is_not_passed_on() {
    let broker = Broker::start();
    let mut w = watcher(&broker);
    let c = with_will(
        &broker,
        "i",
        &Props::new(),
        &Props::new().will_delay_interval(0).content_type("ct"),
    );
    drop(c);
    w.expect(
        &Publish5::new("will/i", b"gone")
            .properties(&Props::new().content_type("ct"))
            .build(),
    );
}

#[test]
fn will_with_properties_reaches_a_v311_subscriber_without_them() {
    let broker = Broker::start();
    let mut w = Raw::connected(&broker, "w4");
    w.send(&subscribe(1, "will/#", 0));
    w.expect(&suback(1, 0));
    let c = with_will(&broker, "j", &Props::new(), &all_will_properties());
    drop(c);
    w.expect(&publish("will/j", b"gone", 0, false, 0));
}
