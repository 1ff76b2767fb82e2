//! Whole midge_pub and midge_sub runs against a scripted fake broker: what they print and
//! how they exit. Expected texts are mosquitto 2.0.11's.

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cli::Console;
use super::pub_cli;
use super::sub_cli;
use super::test_peer::{self, Peer};
use crate::protocol::{
    ByteStr, ConnAck, Disconnect, Packet, Properties, PubResp, Publish, QoS, SubAck,
};

fn args(list: &[&str]) -> Vec<OsString> {
    list.iter().map(OsString::from).collect()
}

/// A stdout or stderr that the test can read back.
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

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_pub(list: &[&str], stdin: &'static [u8]) -> Outcome {
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(out.clone(), err.clone());
    let mut argv = args(&["midge_pub"]);
    argv.extend(args(list));
    let code = pub_cli::run(&argv, Box::new(stdin), &console);
    Outcome {
        code,
        stdout: out.text(),
        stderr: err.text(),
    }
}

fn run_sub(list: &[&str]) -> Outcome {
    let (out, err) = (Captured::default(), Captured::default());
    let console = Console::new(out.clone(), err.clone());
    let mut argv = args(&["midge_sub"]);
    argv.extend(args(list));
    let code = sub_cli::run(&argv, &console, Arc::new(AtomicBool::new(false)));
    Outcome {
        code,
        stdout: out.text(),
        stderr: err.text(),
    }
}

#[test]
fn usage_errors_point_at_help() {
    let run = run_pub(&["-q", "3"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Invalid QoS given: 3\n\nUse 'midge_pub --help' to see usage.\n"
    );
    let run = run_pub(&["--help"], b"");
    assert_eq!(run.code, 1);
    assert!(run.stdout.starts_with("midge_pub is a simple mqtt client"));
}

#[test]
fn pub_without_topic_prints_usage() {
    let run = run_pub(&["-m", "x"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Both topic and message must be supplied.\n"
    );
    assert!(run.stdout.contains("Usage: midge_pub"));
}

#[test]
fn pub_input_errors() {
    let run = run_pub(&["-t", "a", "-s"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Zero length input.\nError loading input from stdin.\n"
    );
    let run = run_pub(&["-t", "a", "-f", "/nonexistent/file"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Unable to open file \"/nonexistent/file\".\n\
         Error loading input file \"/nonexistent/file\".\n"
    );
    let run = run_pub(&["-t", "a", "-m", "x", "-P", "pw"], b"");
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "Error: Problem setting username and/or password.\n"
    );
}

#[test]
fn pub_reports_a_closed_port_like_mosquitto_pub() {
    let port = test_peer::closed_port().to_string();
    let run = run_pub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-m", "x"], b"");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (1, "Error: Connection refused\n")
    );
}

#[test]
fn pub_qos1_with_debug_output() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Publish(p) = peer.recv() else {
            panic!("expected PUBLISH")
        };
        assert_eq!(
            (p.topic.as_str(), &p.payload[..]),
            ("wony", &b"Topic wony message"[..])
        );
        peer.send(Packet::PubAck(PubResp::new(p.packet_id)));
        assert_eq!(peer.recv(), Packet::Disconnect(Disconnect::default()));
        peer.expect_closed();
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "wony",
        "-m",
        "Topic wony message",
    ];
    let run = run_pub(&[&list[..], &["-q", "1", "-d"]].concat(), b"");
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(
        run.stdout,
        "Client (null) sending CONNECT\n\
         Client (null) received CONNACK (0)\n\
         Client (null) sending PUBLISH (d0, q1, r0, m1, 'wony', ... (18 bytes))\n\
         Client (null) received PUBACK (Mid: 1, RC:0)\n\
         Client (null) sending DISCONNECT\n"
    );
}

#[test]
fn pub_lines_sends_one_message_per_line() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        for expected in [&b"a"[..], b"", b"b\r"] {
            let Packet::Publish(p) = peer.recv() else {
                panic!("expected PUBLISH")
            };
            assert_eq!(&p.payload[..], expected);
            peer.send(Packet::PubAck(PubResp::new(p.packet_id)));
        }
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let run = run_pub(
        &["-h", "127.0.0.1", "-p", &port, "-t", "l", "-l", "-q", "1"],
        b"a\n\nb\r",
    );
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn pub_refused_exits_with_the_connack_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 5)));
        peer.expect_closed();
    });
    let port = port.to_string();
    let run = run_pub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-m", "x"], b"");
    peer.join().unwrap();
    assert_eq!(run.code, 5);
    assert_eq!(
        run.stderr,
        "Connection error: Connection Refused: not authorised.\n\
         Error: The connection was refused.\n"
    );
}

#[test]
fn pub_warns_about_a_refused_mqtt5_publish() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        peer.recv();
        let mut ack = PubResp::new(1);
        ack.reason = 0x87;
        peer.send(Packet::PubAck(ack));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "a",
        "-m",
        "x",
        "-q",
        "1",
        "-V",
        "5",
    ];
    let run = run_pub(&list, b"");
    peer.join().unwrap();
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, "Warning: Publish 1 failed: Not authorized.\n");
}

#[test]
fn sub_prints_messages_and_stops_after_count() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        assert_eq!(sub.filters[0].0, "wony");
        peer.send(Packet::SubAck(SubAck {
            packet_id: sub.packet_id,
            return_codes: vec![1],
            properties: Properties::default(),
        }));
        let retained = Publish {
            retain: true,
            topic: ByteStr::from("wony"),
            payload: "stale".into(),
            ..Publish::default()
        };
        peer.send(Packet::Publish(retained));
        for (id, payload) in [(1, "one"), (2, "two")] {
            peer.send(Packet::Publish(Publish {
                qos: QoS::AtLeastOnce,
                topic: ByteStr::from("wony"),
                packet_id: id,
                payload: payload.into(),
                ..Publish::default()
            }));
            assert_eq!(peer.recv(), Packet::PubAck(PubResp::new(id)));
        }
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let list = ["-h", "127.0.0.1", "-p", &port, "-t", "wony", "-q", "1"];
    // -W bounds the test: a failing peer would otherwise leave midge_sub reconnecting.
    let run = run_sub(&[&list[..], &["-v", "-C", "2", "-R", "-d", "-W", "5"]].concat());
    peer.join().unwrap();
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines.contains(&"Subscribed (mid: 1): 1"));
    let printed: Vec<&&str> = lines.iter().filter(|l| l.starts_with("wony ")).collect();
    assert_eq!(printed, [&"wony one", &"wony two"]);
}

#[test]
fn sub_times_out_with_mosquittos_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.accept();
        let Packet::Subscribe(sub) = peer.recv() else {
            panic!("expected SUBSCRIBE")
        };
        peer.send(Packet::SubAck(SubAck {
            packet_id: sub.packet_id,
            return_codes: vec![0],
            properties: Properties::default(),
        }));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let started = Instant::now();
    let run = run_sub(&["-h", "127.0.0.1", "-p", &port, "-t", "a", "-W", "1"]);
    peer.join().unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!((run.code, run.stderr.as_str()), (27, "Timed out\n"));
}

#[test]
fn sub_refused_exits_with_the_reason_code() {
    let (port, peer) = test_peer::spawn(|mut peer: Peer| {
        peer.expect_connect();
        peer.send(Packet::ConnAck(ConnAck::new(false, 0x87)));
        assert!(matches!(peer.recv(), Packet::Disconnect(_)));
    });
    let port = port.to_string();
    let run = run_sub(&[
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "a",
        "-V",
        "5",
        "-W",
        "5",
    ]);
    peer.join().unwrap();
    assert_eq!(run.code, 0x87);
    assert_eq!(run.stderr, "Connection error: Not authorized\n");
}
