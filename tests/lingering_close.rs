//! The lingering close: a reason code the broker sends before closing reaches a client that
//! keeps sending. Closing a socket with unread input makes the kernel reset the connection
//! and drop what it had not sent yet; midge shuts down its write side once its last bytes are
//! out, then reads and discards until the client's EOF (for at most 2 s), so the client reads
//! everything, the DISCONNECT last, and then EOF.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use common::packets::*;
use common::{Broker, Raw, hex, midge_only};

/// An MQTT 5 PUBLISH whose remaining length holds one byte of a two-byte topic length:
/// malformed, DISCONNECT 0x81 from midge and mosquitto alike.
const MALFORMED_PUBLISH: [u8; 3] = [0x30, 0x01, 0x00];

/// How long a client keeps sending before the test gives up on being cut off.
const SEND_FOR: Duration = Duration::from_secs(10);

/// Sends `first`, then well-formed PUBLISH packets from another thread, without a pause,
/// until a write fails because the broker closed the connection (or `SEND_FOR` passes);
/// meanwhile reads until EOF or a reset. Returns what was read.
fn keep_sending_and_read(mut stream: TcpStream, first: &[u8]) -> Vec<u8> {
    let mut writer = stream.try_clone().expect("clone the socket");
    let first = first.to_vec();
    let sending = std::thread::spawn(move || {
        let flood: Vec<u8> = (0..64)
            .flat_map(|_| Publish5::new("flood", b"more").build())
            .collect();
        let start = Instant::now();
        let mut sent = 0usize;
        if writer.write_all(&first).is_err() {
            return sent;
        }
        while start.elapsed() < SEND_FOR {
            if writer.write_all(&flood).is_err() {
                return sent;
            }
            sent += flood.len();
        }
        panic!("the broker never cut off a client that kept sending ({sent} bytes)");
    });
    stream
        .set_read_timeout(Some(SEND_FOR))
        .expect("set read timeout");
    let mut got = Vec::new();
    // Small reads: a client slower than the broker.
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading failed after {} bytes: {e}", got.len()),
        }
    }
    let sent = sending.join().expect("the sending thread");
    eprintln!(
        "read {} bytes; sent {sent} bytes after the bad packet",
        got.len()
    );
    got
}

/// Splits a byte stream into MQTT packets.
fn packets(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (mut len, mut at) = (0usize, 1);
        loop {
            let b = bytes[at];
            len |= usize::from(b & 0x7f) << (7 * (at - 1));
            at += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        let end = (at + len).min(bytes.len());
        out.push(bytes[..end].to_vec());
        bytes = &bytes[end..];
    }
    out
}

#[test]
fn a_reason_code_reaches_a_client_that_keeps_sending() {
    let broker = Broker::start();
    let c = Raw::connected_v5(&broker, "flooder");
    let got = keep_sending_and_read(c.stream, &MALFORMED_PUBLISH);
    assert_eq!(hex(&got), hex(&disconnect5(0x81, &[])));
}

// The client reads slowly (a 4 KiB receive buffer) and has 800 KB of messages
// waiting for it when its bad packet arrives: the DISCONNECT queued behind them is still
// unsent when the close is decided. midge delivers all of them, then the DISCONNECT.
// midge only: mosquitto 2.0.11 closes at once, and the reset loses the DISCONNECT with the
// messages before it (in two runs of six here).
#[test]
fn a_reason_code_behind_a_backlog_reaches_a_client_that_keeps_sending() {
    if midge_only() {
        return;
    }
    let broker = Broker::start();
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&broker.addr().into()).expect("connect");
    let mut sub = Raw {
        stream: socket.into(),
    };
    sub.stream
        .set_read_timeout(Some(common::REPLY_TIMEOUT))
        .expect("set read timeout");
    sub.send(&Connect::v5("slow").build());
    sub.expect(&connack5_ok(false));
    sub.send(&subscribe5(1, &[], &[("backlog/#", 0)]));
    sub.expect(&suback5(1, &[], &[0]));

    const MESSAGES: usize = 800;
    let payload = [b'm'; 1000];
    let mut publisher = Raw::connected(&broker, "publisher");
    for _ in 0..MESSAGES {
        publisher.send(&publish("backlog/x", &payload, 0, false, 0));
    }
    // Answered once every message before it has been routed to the subscriber.
    publisher.send(&publish("elsewhere", b"", 1, false, 1));
    publisher.expect(&puback(1));

    let got = packets(&keep_sending_and_read(sub.stream, &MALFORMED_PUBLISH));
    let message = Publish5::new("backlog/x", &payload).build();
    let delivered = got.iter().take_while(|p| **p == message).count();
    assert_eq!(delivered, MESSAGES, "messages delivered before the close");
    let rest: Vec<String> = got[delivered..].iter().map(|p| hex(p)).collect();
    assert_eq!(rest, [hex(&disconnect5(0x81, &[]))]);
}

// A refused CONNECT: the CONNACK that says why reaches a client that does not wait for it.
#[test]
fn a_refusing_connack_reaches_a_client_that_keeps_sending() {
    let broker = Broker::start();
    let c = Raw::connect(&broker);
    // 3.1.1, an empty client id without a clean session: identifier rejected.
    let got = keep_sending_and_read(c.stream, &connect_v311("", false, 60));
    assert_eq!(hex(&got), hex(&connack(false, 2)));
}

// A connection that lingers is no longer a client: its place under max_connections is free
// as soon as the close is decided, whether its client has closed or not. midge only, as in
// limits.rs: mosquitto's count lags behind the sockets it has closed.
#[test]
fn a_lingering_connection_takes_no_place_under_max_connections() {
    if midge_only() {
        return;
    }
    let broker = Broker::start_with("max_connections 1");
    // The harness's own probe connection must be gone first.
    broker.wait_for_log("Client <unknown> closed its connection.");
    let mut first = Raw::connected(&broker, "first");
    first.send(&MALFORMED_PUBLISH);
    first.expect_closed();
    // `first` keeps its socket open; a second client is let in all the same.
    Raw::connected(&broker, "second");
    drop(first);
}

// --- over TLS: the DISCONNECT, then close_notify, then the close ---

/// A CA and a server certificate for 127.0.0.1 in a directory the broker can read
/// (mosquitto drops to its own user before loading them), and a client that trusts the CA.
fn tls_files() -> (tempfile::TempDir, String, Arc<ClientConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("certificate");
    let write = |name: &str, contents: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        path.display().to_string()
    };
    let listener = format!(
        "certfile {}\nkeyfile {}\n",
        write("server.pem", &cert.pem()),
        write("server.key", &key.serialize_pem())
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut roots = RootCertStore::empty();
    roots.add(ca_cert.der().clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (dir, listener, Arc::new(config))
}

/// What a TLS client that keeps sending after `first` reads, and whether the broker ended
/// the TLS session with close_notify. One thread, the socket non-blocking: rustls's state
/// cannot be shared with a second thread.
fn tls_keep_sending_and_read(
    mut tls: StreamOwned<ClientConnection, TcpStream>,
    first: &[u8],
) -> (Vec<u8>, bool) {
    tls.sock.set_nonblocking(true).expect("non-blocking");
    let (conn, sock) = (&mut tls.conn, &mut tls.sock);
    conn.writer().write_all(first).expect("queue");
    let flood: Vec<u8> = (0..64)
        .flat_map(|_| Publish5::new("flood", b"more").build())
        .collect();
    let (mut got, mut cut_off) = (Vec::new(), false);
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < SEND_FOR {
        if !cut_off && !conn.wants_write() {
            conn.writer().write_all(&flood).expect("queue");
        }
        while !cut_off && conn.wants_write() {
            match conn.write_tls(sock) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => cut_off = true,
            }
        }
        match conn.read_tls(sock) {
            Ok(0) => return (got, false),
            Ok(_) => {
                conn.process_new_packets()
                    .expect("TLS records from the broker");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return (got, false),
        }
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => return (got, false),
            }
        }
    }
    panic!(
        "the broker never ended the connection ({} bytes read)",
        got.len()
    );
}

#[test]
fn over_tls_a_reason_code_and_close_notify_reach_a_client_that_keeps_sending() {
    let (_dir, listener, config) = tls_files();
    let broker = Broker::start_with(&listener);
    let tcp = TcpStream::connect(broker.addr()).expect("connect");
    tcp.set_read_timeout(Some(common::REPLY_TIMEOUT))
        .expect("set read timeout");
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let conn = ClientConnection::new(config, name).expect("client connection");
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(&Connect::v5("tls-flooder").build())
        .expect("send CONNECT");
    let mut connack = vec![0u8; connack5_ok(false).len()];
    tls.read_exact(&mut connack).expect("CONNACK");
    assert_eq!(hex(&connack), hex(&connack5_ok(false)));
    let (got, close_notify) = tls_keep_sending_and_read(tls, &MALFORMED_PUBLISH);
    assert_eq!(hex(&got), hex(&disconnect5(0x81, &[])));
    assert!(close_notify, "the TLS session ended without close_notify");
}
