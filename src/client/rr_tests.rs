//! Whole midge_rr runs, and midge_sub's MQTT 5 packets, against a scripted fake broker.
//! Expected behaviour and texts are mosquitto_rr's and mosquitto_sub's (2.0.11).

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::cli::Console;
use super::test_peer::{self, Peer};
use super::{rr_cli, sub_cli};
use crate::protocol::{
    ByteStr, ConnAck, Packet, Properties, Publish, QoS, RetainHandling, SubAck, Version,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs midge_rr (or midge_sub) with `list`; returns the exit code, stdout and stderr.
fn run(rr: bool, list: &[&str]) -> (i32, String, String) {
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(out.clone(), err.clone());
    let program = if rr { "midge_rr" } else { "midge_sub" };
    let argv: Vec<OsString> = std::iter::once(program)
        .chain(list.iter().copied())
        .map(OsString::from)
        .collect();
    let code = if rr {
        rr_cli::run(&argv, Box::new(std::io::empty()), &console)
    } else {
        sub_cli::run(&argv, &console, Arc::new(AtomicBool::new(false)))
    };
    (code, out.text(), err.text())
}

fn suback(packet_id: u16, code: u8) -> Packet {
    Packet::SubAck(SubAck {
        packet_id,
        return_codes: vec![code],
        properties: Properties::default(),
    })
}

#[test]
fn rr_requests_once_subscribed_and_prints_the_response() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        let connect = peer.accept();
        assert_eq!(connect.version, Version::V5);
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        assert_eq!(sub.filters[0].0, "resp/1");
        assert_eq!(sub.filters[0].1.qos, QoS::AtLeastOnce);
        peer.send(suback(sub.packet_id, 1));
        let Packet::Publish(request) = peer.recv() else {
            panic!("expected the request")
        };
        assert_eq!(
            (request.topic.as_str(), &request.payload[..]),
            ("req/1", &b"ping"[..])
        );
        let props = request.props();
        assert_eq!(props.response_topic.as_deref(), Some("resp/1"));
        assert_eq!(props.correlation_data.as_deref(), Some(&b"c-7"[..]));
        let reply = Properties {
            correlation_data: props.correlation_data.clone(),
            ..Properties::default()
        };
        peer.send(Packet::Publish(Publish {
            topic: ByteStr::from("resp/1"),
            properties: Some(Box::new(reply)),
            payload: Bytes::from_static(b"pong"),
            ..Publish::default()
        }));
        // mosquitto_rr leaves without DISCONNECT (after acknowledging nothing further).
        loop {
            match peer.try_recv() {
                Some(Packet::PubAck(_)) => continue,
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "req/1",
        "-e",
        "resp/1",
        "-m",
        "ping",
        "-q",
        "1",
        "-D",
        "publish",
        "correlation-data",
        "c-7",
        "-F",
        "%t %p %D",
        "-W",
        "5",
    ];
    let (code, stdout, stderr) = run(true, &list);
    peer.join().unwrap();
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (0, "resp/1 pong c-7\n", "")
    );
}

#[test]
fn rr_reports_a_denied_subscription_and_a_refusal() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        peer.send(suback(sub.packet_id, 0x87));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "q",
        "-e",
        "r",
        "-n",
        "-W",
        "5",
    ];
    let (code, _, stderr) = run(true, &list);
    peer.join().unwrap();
    assert_eq!((code, stderr.as_str()), (0, "Not authorized\n"));

    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 0x84)));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "q",
        "-e",
        "r",
        "-n",
        "-W",
        "5",
    ];
    let (code, _, stderr) = run(true, &list);
    peer.join().unwrap();
    assert_eq!(code, 0x84);
    assert_eq!(
        stderr,
        "Connection error: Unsupported Protocol Version. mosquitto_rr only supports \
         connecting to an MQTT v5 broker\n"
    );
}

#[test]
fn sub_sends_its_mqtt5_options_and_properties() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        let connect = peer.accept();
        assert_eq!(connect.properties.session_expiry_interval, Some(60));
        assert_eq!(connect.properties.topic_alias_maximum, Some(5));
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        let options = sub.filters[0].1;
        assert!(options.no_local && options.retain_as_published);
        assert_eq!(options.retain_handling, RetainHandling::OnNewSubscription);
        assert_eq!(sub.properties.subscription_identifiers, [42]);
        peer.send(suback(sub.packet_id, 0));
        // A topic alias, then the same alias without the topic.
        for (topic, payload) in [("al/1", "first"), ("", "second")] {
            let props = Properties {
                topic_alias: Some(3),
                subscription_identifiers: vec![42],
                ..Properties::default()
            };
            peer.send(Packet::Publish(Publish {
                topic: ByteStr::from(topic),
                properties: Some(Box::new(props)),
                payload: Bytes::from(payload),
                ..Publish::default()
            }));
        }
        let Packet::Disconnect(disconnect) = peer.recv() else {
            panic!("expected DISCONNECT")
        };
        assert_eq!(disconnect.properties.user_properties.len(), 1);
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "al/#",
        "-i",
        "me",
        "-c",
        "-x",
        "60",
        "--nl",
        "--rap",
        "--rh",
        "1",
        "-D",
        "subscribe",
        "subscription-identifier",
        "42",
        "-D",
        "connect",
        "topic-alias-maximum",
        "5",
        "-D",
        "disconnect",
        "user-property",
        "bye",
        "now",
        "-C",
        "2",
        "-F",
        "%t %p %A %S",
        "-W",
        "5",
    ];
    let (code, stdout, stderr) = run(false, &list);
    peer.join().unwrap();
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(stdout, "al/1 first 3 42\nal/1 second 3 42\n");
}
