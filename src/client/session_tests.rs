//! The client's packet flows, played against a scripted fake broker.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::error::ClientError;
use super::session::{Client, ConnectOptions, Event, Logger};
use super::test_peer::{self, Peer, WAIT};
use crate::protocol::{
    ByteStr, ConnAck, Disconnect, Packet, Properties, PubResp, Publish, QoS, RetainHandling,
    SubAck, SubOptions, UnsubAck, Version, Will,
};

fn options(port: u16) -> ConnectOptions {
    ConnectOptions::new("127.0.0.1", port)
}

/// A logger that keeps the lines, to compare with mosquitto's `-d` output.
fn recorder() -> (Logger, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let logger: Logger = Box::new(move |line| sink.lock().unwrap().push(line.to_string()));
    (logger, lines)
}

fn next_event(client: &mut Client) -> Event {
    client
        .poll(Some(Instant::now() + WAIT))
        .expect("session stays up")
        .expect("an event before the deadline")
}

fn message(topic: &str, payload: &'static [u8], qos: QoS, packet_id: u16) -> Publish {
    Publish {
        qos,
        topic: ByteStr::from(topic),
        packet_id,
        payload: Bytes::from_static(payload),
        ..Publish::default()
    }
}

#[test]
fn connect_sends_the_options_and_waits_for_connack() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        let connect = peer.accept();
        assert_eq!(connect.version, Version::V311);
        assert!(connect.clean_start);
        assert_eq!(connect.keep_alive, 60);
        assert_eq!(connect.client_id, "");
        assert_eq!(connect.username.as_deref(), Some("user"));
        assert_eq!(connect.password.as_deref(), Some(&b"secret"[..]));
        let will = connect.will.expect("will");
        assert_eq!(will.topic, "gone");
        assert_eq!(&will.payload[..], b"bye");
        assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
        peer.expect_closed();
    });
    let mut opts = options(port);
    opts.username = Some("user".into());
    opts.password = Some(Bytes::from_static(b"secret"));
    opts.will = Some(Will {
        topic: ByteStr::from("gone"),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Properties::default(),
        raw_properties: Bytes::new(),
    });
    let (log, lines) = recorder();
    let client = Client::connect(&opts, Some(log)).expect("connected");
    assert!(client.is_connected());
    drop(client);
    peer.join().unwrap();
    assert_eq!(
        *lines.lock().unwrap(),
        [
            "Client (null) sending CONNECT",
            "Client (null) received CONNACK (0)"
        ]
    );
}

#[test]
fn a_refusal_is_reported_with_its_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 5)));
        peer.expect_closed();
    });
    let err = Client::connect(&options(port), None)
        .err()
        .expect("refused");
    assert!(matches!(err, ClientError::Refused { code: 5, .. }));
    assert_eq!(
        err.to_string(),
        "Connection error: Connection Refused: not authorised."
    );
    peer.join().unwrap();
}

#[test]
fn mqtt5_takes_the_assigned_id_and_server_keep_alive() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        let connect = peer.expect_connect();
        assert_eq!(connect.version, Version::V5);
        assert_eq!(connect.properties.session_expiry_interval, Some(u32::MAX));
        let mut ack = ConnAck::new(false, 0);
        ack.properties.assigned_client_identifier = Some(ByteStr::from("auto-1"));
        ack.properties.server_keep_alive = Some(1);
        peer.send(Packet::ConnAck(ack));
        // With the broker's 1 s keep-alive the client pings well before its own 60 s.
        assert_eq!(peer.recv(), Packet::PingReq);
        peer.send(Packet::PingResp);
        assert_eq!(peer.recv(), Packet::Disconnect(Disconnect::new(0x04)));
    });
    let mut opts = options(port);
    opts.version = Version::V5;
    opts.properties.session_expiry_interval = Some(u32::MAX);
    let (log, lines) = recorder();
    let mut client = Client::connect(&opts, Some(log)).expect("connected");
    assert_eq!(client.id(), "auto-1");
    // Wait for the ping's answer (the event), not for a time that a loaded machine can miss;
    // the peer's own 60 s default would never ping within the bound.
    let gave_up = Instant::now() + Duration::from_secs(20);
    let answered = |lines: &Arc<Mutex<Vec<String>>>| {
        let pingresp = "Client auto-1 received PINGRESP".to_string();
        lines.lock().unwrap().contains(&pingresp)
    };
    while !answered(&lines) && Instant::now() < gave_up {
        let step = Instant::now() + Duration::from_millis(100);
        assert_eq!(client.poll(Some(step)).unwrap(), None);
    }
    client.disconnect(0x04).unwrap();
    peer.join().unwrap();
    let lines = lines.lock().unwrap();
    assert_eq!(lines[1], "Client auto-1 received CONNACK (0)");
    assert!(lines.contains(&"Client auto-1 sending PINGREQ".to_string()));
    assert!(lines.contains(&"Client auto-1 received PINGRESP".to_string()));
}

#[test]
fn qos0_publish_needs_no_acknowledgement() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        assert_eq!(
            peer.recv(),
            Packet::Publish(message("t", b"hello", QoS::AtMostOnce, 0))
        );
        assert_eq!(peer.recv(), Packet::Disconnect(Disconnect::default()));
        peer.expect_closed();
    });
    let (log, lines) = recorder();
    let mut client = Client::connect(&options(port), Some(log)).unwrap();
    let mid = client
        .publish("t", Bytes::from_static(b"hello"), QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!((mid, client.inflight()), (1, 0));
    client.disconnect(0).unwrap();
    peer.join().unwrap();
    assert_eq!(
        lines.lock().unwrap()[2..],
        [
            "Client (null) sending PUBLISH (d0, q0, r0, m1, 't', ... (5 bytes))",
            "Client (null) sending DISCONNECT"
        ]
    );
}

#[test]
fn qos1_publish_finishes_on_puback() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Publish(p) = peer.recv() else {
            panic!("expected PUBLISH")
        };
        assert_eq!((p.qos, p.retain, p.packet_id), (QoS::AtLeastOnce, true, 1));
        peer.send(Packet::PubAck(PubResp::new(1)));
        peer.expect_closed();
    });
    let mut client = Client::connect(&options(port), None).unwrap();
    client
        .publish("t", Bytes::from_static(b"x"), QoS::AtLeastOnce, true)
        .unwrap();
    assert_eq!(client.inflight(), 1);
    assert_eq!(
        next_event(&mut client),
        Event::Published {
            packet_id: 1,
            reason: 0,
            reason_string: None
        }
    );
    assert_eq!(client.inflight(), 0);
    drop(client);
    peer.join().unwrap();
}

#[test]
fn qos2_publish_goes_through_pubrec_pubrel_pubcomp() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        assert!(matches!(peer.recv(), Packet::Publish(p) if p.qos == QoS::ExactlyOnce));
        peer.send(Packet::PubRec(PubResp::new(1)));
        assert_eq!(peer.recv(), Packet::PubRel(PubResp::new(1)));
        peer.send(Packet::PubComp(PubResp::new(1)));
        peer.expect_closed();
    });
    let (log, lines) = recorder();
    let mut client = Client::connect(&options(port), Some(log)).unwrap();
    client
        .publish("t", Bytes::from_static(b"x"), QoS::ExactlyOnce, false)
        .unwrap();
    assert!(matches!(
        next_event(&mut client),
        Event::Published { packet_id: 1, .. }
    ));
    drop(client);
    peer.join().unwrap();
    assert_eq!(
        lines.lock().unwrap()[3..],
        [
            "Client (null) received PUBREC (Mid: 1)",
            "Client (null) sending PUBREL (m1)",
            "Client (null) received PUBCOMP (Mid: 1, RC:0)",
        ]
    );
}

#[test]
fn an_mqtt5_refusal_in_pubrec_ends_the_flow() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.recv();
        let mut rec = PubResp::new(1);
        rec.reason = 0x87;
        rec.properties.reason_string = Some(ByteStr::from("no"));
        peer.send(Packet::PubRec(rec));
        // No PUBREL follows: the next thing is the DISCONNECT.
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let mut opts = options(port);
    opts.version = Version::V5;
    let mut client = Client::connect(&opts, None).unwrap();
    client
        .publish("t", Bytes::new(), QoS::ExactlyOnce, false)
        .unwrap();
    assert_eq!(
        next_event(&mut client),
        Event::Published {
            packet_id: 1,
            reason: 0x87,
            reason_string: Some("no".into())
        }
    );
    client.disconnect(0).unwrap();
    peer.join().unwrap();
}

#[test]
fn inbound_qos1_is_acknowledged_then_delivered() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.send(Packet::Publish(message("a/b", b"m", QoS::AtLeastOnce, 7)));
        assert_eq!(peer.recv(), Packet::PubAck(PubResp::new(7)));
        peer.expect_closed();
    });
    let mut client = Client::connect(&options(port), None).unwrap();
    assert_eq!(
        next_event(&mut client),
        Event::Message {
            publish: message("a/b", b"m", QoS::AtLeastOnce, 7),
            property_order: Vec::new(),
        }
    );
    drop(client);
    peer.join().unwrap();
}

#[test]
fn inbound_qos2_is_delivered_once_on_pubrel() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let mut publish = message("t", b"once", QoS::ExactlyOnce, 3);
        peer.send(Packet::Publish(publish.clone()));
        assert_eq!(peer.recv(), Packet::PubRec(PubResp::new(3)));
        publish.dup = true; // A retransmission must not be delivered twice.
        peer.send(Packet::Publish(publish));
        assert_eq!(peer.recv(), Packet::PubRec(PubResp::new(3)));
        peer.send(Packet::PubRel(PubResp::new(3)));
        assert_eq!(peer.recv(), Packet::PubComp(PubResp::new(3)));
        peer.expect_closed();
    });
    let (log, lines) = recorder();
    let mut client = Client::connect(&options(port), Some(log)).unwrap();
    let Event::Message {
        publish: received, ..
    } = next_event(&mut client)
    else {
        panic!("expected a message")
    };
    assert_eq!(&received.payload[..], b"once");
    let quiet = client.poll(Some(Instant::now() + Duration::from_millis(200)));
    assert_eq!(quiet.unwrap(), None);
    drop(client);
    peer.join().unwrap();
    let lines = lines.lock().unwrap();
    assert_eq!(
        lines[2..4],
        [
            "Client (null) received PUBLISH (d0, q2, r0, m3, 't', ... (4 bytes))",
            "Client (null) sending PUBREC (m3, rc0)",
        ]
    );
    assert_eq!(
        lines[6..],
        [
            "Client (null) received PUBREL (Mid: 3)",
            "Client (null) sending PUBCOMP (m3)"
        ]
    );
}

#[test]
fn subscribe_and_unsubscribe() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        assert_eq!(sub.packet_id, 1);
        assert_eq!(sub.filters.len(), 2);
        assert_eq!(sub.filters[1].0, "b/#");
        assert_eq!(sub.filters[1].1.qos, QoS::ExactlyOnce);
        peer.send(Packet::SubAck(SubAck {
            packet_id: 1,
            return_codes: vec![2, 0x80],
            properties: Properties::default(),
        }));
        let Packet::Unsubscribe(unsub) = peer.recv() else {
            panic!("expected UNSUBSCRIBE")
        };
        assert_eq!(
            (unsub.packet_id, &unsub.filters[..]),
            (2, &["a".into()][..])
        );
        peer.send(Packet::UnsubAck(UnsubAck {
            packet_id: 2,
            ..UnsubAck::default()
        }));
        peer.expect_closed();
    });
    let (log, lines) = recorder();
    let mut client = Client::connect(&options(port), Some(log)).unwrap();
    let options = SubOptions {
        retain_handling: RetainHandling::Never,
        ..SubOptions::qos(QoS::ExactlyOnce)
    };
    let filters = [("a".to_string(), options), ("b/#".to_string(), options)];
    client.subscribe(&filters, Properties::default()).unwrap();
    let Event::SubAck(ack) = next_event(&mut client) else {
        panic!("expected SUBACK")
    };
    assert_eq!(ack.return_codes, [2, 0x80]);
    assert_eq!(client.unsubscribe("a").unwrap(), 2);
    assert!(matches!(next_event(&mut client), Event::UnsubAck(_)));
    drop(client);
    peer.join().unwrap();
    // Before MQTT 5 no option bits are sent, and mosquitto logs them as 0x00.
    assert_eq!(
        lines.lock().unwrap()[2],
        "Client (null) sending SUBSCRIBE (Mid: 1, Topic: a, QoS: 2, Options: 0x00)"
    );
}

#[test]
fn an_unanswered_ping_fails_the_session() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        assert_eq!(peer.recv(), Packet::PingReq);
        peer.expect_closed();
    });
    let mut opts = options(port);
    opts.keep_alive = 1;
    let mut client = Client::connect(&opts, None).unwrap();
    let started = Instant::now();
    let err = client.poll(Some(started + WAIT)).expect_err("keep-alive");
    assert!(matches!(err, ClientError::Keepalive));
    assert!(started.elapsed() >= Duration::from_millis(1500));
    drop(client);
    peer.join().unwrap();
}

#[test]
fn a_closed_connection_is_lost() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.close();
    });
    let mut client = Client::connect(&options(port), None).unwrap();
    let err = client.poll(Some(Instant::now() + WAIT)).err();
    assert!(matches!(err, Some(ClientError::ConnectionLost)));
    peer.join().unwrap();
}

#[test]
fn reconnecting_keeps_the_message_ids_running_on() {
    let (port, peer) = test_peer::spawn_listener(|listener| {
        let mut first = listener.next();
        first.accept();
        assert!(matches!(first.recv(), Packet::Subscribe(s) if s.packet_id == 1));
        first.close();
        let mut second = listener.next();
        second.accept();
        // libmosquitto does not restart its message ids, and mosquitto_sub's -d shows them.
        assert!(matches!(second.recv(), Packet::Subscribe(s) if s.packet_id == 2));
        second.expect_closed();
    });
    let opts = options(port);
    let (log, lines) = recorder();
    let mut client = Client::connect(&opts, Some(log)).unwrap();
    let filters = [("t".to_string(), SubOptions::default())];
    client.subscribe(&filters, Properties::default()).unwrap();
    let lost = client.poll(Some(Instant::now() + WAIT)).err();
    assert!(matches!(lost, Some(ClientError::ConnectionLost)));
    client.reconnect(&opts).unwrap();
    assert!(matches!(next_event(&mut client), Event::Connected { .. }));
    client.subscribe(&filters, Properties::default()).unwrap();
    drop(client);
    peer.join().unwrap();
    let connects = lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.ends_with("sending CONNECT"))
        .count();
    assert_eq!(connects, 2, "the logger survives the reconnection");
}

#[test]
fn garbage_from_the_broker_is_a_protocol_error() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.send_raw(&[0x00, 0x00]); // Packet type 0 is reserved.
        peer.expect_closed();
    });
    let mut client = Client::connect(&options(port), None).unwrap();
    let err = client.poll(Some(Instant::now() + WAIT)).err();
    assert!(matches!(err, Some(ClientError::Protocol(_))));
    drop(client);
    peer.join().unwrap();
}

#[test]
fn the_interrupt_flag_ends_a_wait() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.expect_closed();
    });
    let mut client = Client::connect(&options(port), None).unwrap();
    let flag = Arc::new(AtomicBool::new(true));
    client.set_interrupt(flag);
    let started = Instant::now();
    assert_eq!(client.poll(None).unwrap(), None);
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(client);
    peer.join().unwrap();
}

#[test]
fn invalid_topics_and_unsupported_qos_are_refused_locally() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        let mut ack = ConnAck::new(false, 0);
        ack.properties.maximum_qos = Some(1);
        peer.send(Packet::ConnAck(ack));
        peer.expect_closed();
    });
    let mut opts = options(port);
    opts.version = Version::V5;
    let mut client = Client::connect(&opts, None).unwrap();
    for topic in ["", "a/+", "#"] {
        let err = client.publish(topic, Bytes::new(), QoS::AtMostOnce, false);
        assert!(matches!(err, Err(ClientError::InvalidTopic)), "{topic:?}");
    }
    let err = client.publish("t", Bytes::new(), QoS::ExactlyOnce, false);
    assert!(matches!(err, Err(ClientError::QosNotSupported)));
    drop(client);
    peer.join().unwrap();
}

#[test]
fn connecting_to_a_closed_port_says_connection_refused() {
    let err = Client::start(&options(test_peer::closed_port()), None)
        .err()
        .expect("refused");
    assert!(matches!(err, ClientError::Connect(_)));
    assert_eq!(err.to_string(), "Error: Connection refused");
}
