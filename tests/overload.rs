//! What happens at each bound when clients push: stalled subscribers, full queues, byte
//! limits on queues and in-flight windows, connection storms and rates, the memory limit.
//! Memory is read from /proc; the bounds asserted are generous (a shared CI machine) but far
//! below what the load would cost unbounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::packets::*;
use common::{Broker, Bystander, Raw};

/// A subscriber that never reads: the broker's output to it is bounded by the send queue
/// (QoS 0 beyond it is dropped), so a flood leaves the broker's memory where it was.
#[test]
fn a_stalled_qos0_subscriber_does_not_grow_the_broker() {
    if common::midge_only() {
        return; // measures midge's own bound
    }
    let broker = Broker::start();
    let mut bystander = Bystander::new(&broker);
    let stalled = Raw::subscribed(&broker, "stalled", "flood", 0);
    let before = broker.rss_kib();
    let mut publisher = Raw::connected(&broker, "flooder");
    let message = publish("flood", &[b'x'; 1000], 0, false, 0);
    let mut batch = Vec::new();
    for _ in 0..100 {
        batch.extend_from_slice(&message);
    }
    // 100,000 messages of 1 KB: 100 MB that must not pile up in the broker.
    for _ in 0..1000 {
        publisher.send(&batch);
    }
    bystander.assert_still_served(&broker);
    let after = broker.rss_kib();
    assert!(
        after < before + 24 * 1024,
        "RSS went from {before} KiB to {after} KiB while a subscriber stalled"
    );
    drop(stalled);
}

/// The same with QoS 1: the in-flight window and the queue bound what waits.
#[test]
fn a_stalled_qos1_subscriber_does_not_grow_the_broker() {
    if common::midge_only() {
        return;
    }
    let broker = Broker::start_with("max_inflight_messages 20\nmax_queued_messages 100");
    let mut bystander = Bystander::new(&broker);
    let stalled = Raw::subscribed(&broker, "stalled", "flood", 1);
    let before = broker.rss_kib();
    let mut publisher = Raw::connected(&broker, "flooder");
    for id in 1..=20_000u16 {
        publisher.send(&publish("flood", &[b'x'; 1000], 1, false, id));
        publisher.expect(&puback(id));
    }
    bystander.assert_still_served(&broker);
    let after = broker.rss_kib();
    assert!(
        after < before + 24 * 1024,
        "RSS went from {before} KiB to {after} KiB while a QoS 1 subscriber stalled"
    );
    broker.wait_for_log("Outgoing messages are being dropped for client stalled.");
    drop(stalled);
}

/// With disconnect_on_full_queue, a client whose queue overflows is disconnected instead;
/// an MQTT 5 client is told why (0x97, quota exceeded).
#[test]
fn disconnect_on_full_queue_disconnects_the_slow_client() {
    if common::midge_only() {
        return; // a midge setting
    }
    let broker = Broker::start_with(
        "max_inflight_messages 1\nmax_queued_messages 2\ndisconnect_on_full_queue true",
    );
    let mut slow = Raw::handshake(
        &broker,
        &Connect::v5("slow").build(),
        &[
            0x20, 0x09, 0x00, 0x00, 0x06, 0x22, 0x00, 0x0a, 0x21, 0x00, 0x01,
        ],
    );
    slow.send(&[0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, b'q', b'/', 0x01]);
    slow.expect(&[0x90, 0x04, 0x00, 0x01, 0x00, 0x01]);
    let mut publisher = Raw::connected(&broker, "pub");
    // One in flight, two queued, the fourth overflows.
    for id in 1..=4u16 {
        publisher.send(&publish("q/", b"m", 1, false, id));
        publisher.expect(&puback(id));
    }
    let first = slow.recv_packet();
    assert_eq!(first[0], 0x32, "the message in flight arrives first");
    slow.expect(&[0xe0, 0x01, 0x97]);
    slow.expect_closed();
    broker.wait_for_log("Client slow disconnected: its queue of outgoing messages is full.");
}

/// max_queued_bytes bounds the queue by size: 100-byte messages, 1000 bytes of queue.
#[test]
fn max_queued_bytes_bounds_what_waits_for_an_offline_client() {
    let broker = Broker::start_with("max_queued_messages 1000\nmax_queued_bytes 1000");
    Raw::offline_subscriber(&broker, "away", "q", 1);
    let mut publisher = Raw::connected(&broker, "pub");
    for id in 1..=20u16 {
        // Topic "q" and 99 bytes of payload: 100 bytes each.
        publisher.send(&publish("q", &[id as u8; 99], 1, false, id));
        publisher.expect(&puback(id));
    }
    let mut back = Raw::connected_persistent(&broker, "away", true);
    for i in 1..=10u8 {
        let packet = back.recv_packet();
        assert_eq!(packet[packet.len() - 1], i, "message {i} kept, in order");
        back.send(&puback(u16::from_be_bytes([packet[5], packet[6]])));
    }
    back.expect_silence(300);
}

/// max_inflight_bytes bounds the bytes in flight: with 250, two 100-byte messages fly and
/// the third waits for an acknowledgement.
#[test]
fn max_inflight_bytes_holds_back_what_would_exceed_it() {
    if common::midge_only() {
        return; // mosquitto counts the bytes differently
    }
    let broker = Broker::start_with("max_inflight_bytes 250");
    let mut sub = Raw::subscribed(&broker, "sub", "q", 1);
    let mut publisher = Raw::connected(&broker, "pub");
    for id in 1..=3u16 {
        publisher.send(&publish("q", &[b'x'; 99], 1, false, id));
        publisher.expect(&puback(id));
    }
    sub.expect(&publish("q", &[b'x'; 99], 1, false, 1));
    sub.expect(&publish("q", &[b'x'; 99], 1, false, 2));
    sub.expect_silence(300);
    sub.send(&puback(1));
    sub.expect(&publish("q", &[b'x'; 99], 1, false, 3));
}

/// max_connection_rate: a burst beyond a second's worth is turned away at once.
#[test]
fn max_connection_rate_turns_away_a_burst() {
    if common::midge_only() {
        return; // a midge setting
    }
    let broker = Broker::start_with("max_connection_rate 5");
    // The harness's own probe took a token; let the bucket refill.
    std::thread::sleep(Duration::from_millis(1200));
    let mut accepted = 0;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut c = Raw::connect(&broker);
        c.send(&connect_v311(&format!("burst{i}"), true, 60));
        let mut reply = [0u8; 4];
        if c.stream.read_exact(&mut reply).is_ok() && reply == CONNACK_OK {
            accepted += 1;
        }
        clients.push(c);
    }
    assert!(
        (5..=7).contains(&accepted),
        "{accepted} of 20 connections accepted at 5 per second"
    );
    broker.wait_for_log("denied: max_connection_rate exceeded.");
}

/// memory_limit: once the broker is over it, new connections are refused.
#[test]
fn memory_limit_refuses_new_connections_when_reached() {
    if common::midge_only() {
        return; // mosquitto counts heap bytes, we count resident memory
    }
    let broker = Broker::start_with("memory_limit 1024");
    broker.wait_for_log("Memory limit of 1024 bytes reached");
    let mut c = Raw::connect(&broker);
    c.send(&connect_v311("late", true, 60));
    c.expect_closed();
    broker.wait_for_log("denied: memory_limit exceeded.");
}

/// A storm of connections that all go away again: the broker gives the memory back.
#[test]
fn memory_is_returned_after_a_storm_of_connections() {
    if common::midge_only() {
        return;
    }
    raise_fd_limit(12_000);
    let broker = Broker::start();
    let before = broker.rss_kib();
    let mut storm = Vec::new();
    for i in 0..5_000 {
        let mut s = TcpStream::connect(broker.addr()).expect("connect");
        s.write_all(&connect_v311(&format!("storm{i}"), true, 60))
            .expect("CONNECT");
        storm.push(s);
    }
    for s in &mut storm {
        let mut reply = [0u8; 4];
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s.read_exact(&mut reply).expect("CONNACK");
    }
    let peak = broker.rss_kib();
    drop(storm);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = broker.rss_kib();
    while after > before + (peak - before) / 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        after = broker.rss_kib();
    }
    assert!(
        after <= before + (peak - before) / 2,
        "RSS {before} KiB before, {peak} KiB with 5,000 clients, {after} KiB after they left"
    );
    Raw::connected(&broker, "after-the-storm");
}

/// MQTT 5 will properties are kept for the connection's life: as slices of the CONNECT they
/// came in, each idle connection would keep its whole 16 KiB read buffer alive.
#[test]
fn a_will_with_properties_does_not_pin_the_read_buffer() {
    if common::midge_only() {
        return; // measures midge's own memory
    }
    const CLIENTS: u64 = 2_000;
    raise_fd_limit(CLIENTS + 2_000);
    let broker = Broker::start();
    let mut properties = vec![0x03]; // content type
    string(&mut properties, b"application/json");
    properties.push(0x08); // response topic
    string(&mut properties, b"replies/here");
    properties.push(0x26); // a user property
    string(&mut properties, b"site");
    string(&mut properties, b"north");
    let before = broker.rss_kib();
    let clients: Vec<Raw> = (0..CLIENTS)
        .map(|i| {
            let connect = Connect::v5(&format!("will{i}"))
                .will("gone", b"bye", 0, false)
                .will_properties(&properties);
            Raw::handshake(&broker, &connect.build(), &connack5_ok(false))
        })
        .collect();
    let per_client = (broker.rss_kib() - before) as f64 / CLIENTS as f64;
    eprintln!("{per_client:.2} KiB resident per idle connection with a will");
    assert!(
        per_client < 3.0,
        "{per_client:.2} KiB resident per idle connection with a will"
    );
    drop(clients);
}

/// With `queue_qos0_messages`, QoS 0 messages wait for offline clients: each must have bytes
/// of its own, not keep the read buffer of the publish it came in (16 KiB a message here,
/// where the publisher waits for each message to be read on its own).
#[test]
fn queued_qos0_messages_do_not_pin_read_buffers() {
    if common::midge_only() {
        return; // measures midge's own memory
    }
    const MESSAGES: u16 = 3_000;
    let broker = Broker::start_with("queue_qos0_messages true\nmax_queued_messages 5000");
    Raw::offline_subscriber(&broker, "offline", "q", 0);
    let before = broker.rss_kib();
    let mut publisher = Raw::connected(&broker, "publisher");
    for i in 0..MESSAGES {
        publisher.send(
            &[
                publish("q", &i.to_be_bytes(), 0, false, 0),
                PINGREQ.to_vec(),
            ]
            .concat(),
        );
        publisher.expect(&PINGRESP);
    }
    let grown = broker.rss_kib() - before;
    eprintln!("{grown} KiB more for {MESSAGES} queued messages");
    assert!(
        grown < 4 * 1024,
        "{grown} KiB more for {MESSAGES} queued messages of 2 bytes"
    );
    let mut back = Raw::connected_persistent(&broker, "offline", true);
    for i in 0..MESSAGES {
        back.expect(&publish("q", &i.to_be_bytes(), 0, false, 0));
    }
}

/// Lets this test (and the broker it starts) open `n` descriptors.
fn raise_fd_limit(n: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < n {
            limit.rlim_cur = n.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
