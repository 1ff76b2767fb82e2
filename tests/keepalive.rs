//! Keep-alive: a client that sends nothing for 1.5 times its keep-alive is disconnected.
mod common;
use common::{Broker, Kind, Raw, broker_kind, packets::*};
use std::time::{Duration, Instant};

/// How long a silent client with keep-alive 1 s may stay connected. midge closes it after
/// 1.5 s. mosquitto 2.0 only runs its keep-alive check when more than 5 s have passed since
/// the previous run (src/keepalive.c, `last_keepalive_check + 5 < now`), so it closes such a
/// client anywhere between 1.5 s and about 7.5 s: against mosquitto these tests are slower.
fn keepalive_1s_limit() -> Duration {
    match broker_kind() {
        Kind::Midge => Duration::from_secs(3),
        Kind::Mosquitto => Duration::from_secs(9),
    }
}

/// No broker may close a keep-alive 1 s client within 1 s of its last packet.
const TOO_EARLY: Duration = Duration::from_secs(1);

#[test]
fn silent_client_with_keepalive_1s_is_disconnected() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v311("ka1", true, 1), &CONNACK_OK);
    let took = c.expect_closed_within(keepalive_1s_limit());
    assert!(took >= TOO_EARLY, "closed after {took:?}, before 1 s");
}

#[test]
fn pingreq_every_half_second_keeps_a_keepalive_1s_client_connected() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v311("ka1", true, 1), &CONNACK_OK);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        c.send(&PINGREQ);
        c.expect(&PINGRESP);
    }
}

#[test]
fn publishing_keeps_a_keepalive_1s_client_connected() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v311("ka1", true, 1), &CONNACK_OK);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        c.send(&publish("ka/t", b"alive", 0, false, 0));
    }
    c.send(&PINGREQ);
    c.expect(&PINGRESP);
}

#[test]
fn keepalive_timer_restarts_with_each_packet() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v311("ka1", true, 1), &CONNACK_OK);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        c.send(&PINGREQ);
        c.expect(&PINGRESP);
    }
    let last_packet = Instant::now();
    c.expect_closed_within(keepalive_1s_limit());
    let took = last_packet.elapsed();
    assert!(
        took >= TOO_EARLY,
        "closed {took:?} after the last PINGREQ, before 1 s"
    );
}

#[test]
fn will_is_published_when_keepalive_expires() {
    let broker = Broker::start();
    let mut w = Raw::connected(&broker, "watcher");
    w.send(&subscribe(1, "will/#", 0));
    w.expect(&suback(1, 0));
    let mut c = Raw::handshake(
        &broker,
        &Connect::v311("ka1")
            .keepalive(1)
            .will("will/ka", b"timeout", 0, false)
            .build(),
        &CONNACK_OK,
    );
    c.expect_closed_within(keepalive_1s_limit());
    w.expect(&publish("will/ka", b"timeout", 0, false, 0));
}

#[test]
fn keepalive_0_client_is_not_disconnected_for_being_silent() {
    let broker = Broker::start();
    let mut c = Raw::handshake(&broker, &connect_v311("ka0", true, 0), &CONNACK_OK);
    c.expect_silence(2500);
    c.send(&PINGREQ);
    c.expect(&PINGRESP);
}
