//! TLS listeners end to end: certificates made here with rcgen (a CA, a server certificate
//! for localhost and 127.0.0.1, client certificates), clients speaking raw MQTT over rustls,
//! and mosquitto's and midge's command-line clients across both brokers.
//!
//! The harness writes `listener 0 127.0.0.1` first, so the TLS keys added after it apply to
//! that listener, in midge and in mosquitto alike (`MIDGE_TEST_BROKER=mosquitto` runs the
//! broker-agnostic tests against mosquitto 2.0.11, which is how their expectations were
//! checked). Loopback only; every wait is bounded.

mod common;
#[path = "common/tls.rs"]
mod tls_common;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::clients::{ClientPrograms, Proc, on_path, run, tool_available};
use common::packets::*;
use common::{Broker, Kind, Raw, broker_kind, midge_only};
use rustls::ClientConnection;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tls_common::{Certs, TlsRaw};

#[test]
fn connect_publish_and_subscribe_over_tls() {
    let certs = Certs::new();
    let broker = Broker::start_with(&certs.listener(""));
    let client = certs.client("ca.pem", None);
    let mut sub = TlsRaw::subscribed(&broker, client.clone(), "tls-sub", "tls/#");
    let mut publisher = TlsRaw::connected(&broker, client, "tls-pub");
    publisher.send(&publish("tls/a", b"over tls", 1, false, 7));
    publisher.expect(&puback(7));
    sub.expect(&publish("tls/a", b"over tls", 0, false, 0));

    // Larger than a TLS record and than rustls's buffer of records: the flush loop must
    // encrypt, write and come back for the rest.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    publisher.send(&publish("tls/big", &big, 0, false, 0));
    sub.expect(&publish("tls/big", &big, 0, false, 0));
    publisher.send(&DISCONNECT);
}

#[test]
fn require_certificate_refuses_a_client_without_one() {
    let certs = Certs::new();
    let broker = Broker::start_with(&certs.listener("require_certificate true\n"));
    TlsRaw::assert_refused(&broker, certs.client("ca.pem", None));
    // A certificate from a CA the broker does not trust fares no better.
    TlsRaw::assert_refused(&broker, certs.client("ca.pem", Some("mallory")));
    TlsRaw::connected(&broker, certs.client("ca.pem", Some("alice")), "with-cert");
    if broker_kind() == Kind::Midge {
        broker.wait_for_log("TLS handshake failed for 127.0.0.1:");
    }
}

#[test]
fn use_identity_as_username_takes_the_certificates_common_name() {
    let certs = Certs::new();
    let settings = "require_certificate true\nuse_identity_as_username true\n";
    let broker = Broker::start_with(&certs.listener(settings));
    let mut alice = TlsRaw::connect(&broker, certs.client("ca.pem", Some("alice")));
    // Whatever the client claims, the certificate names it; no password is checked.
    let connect = Connect::v311("claims-bob").username(b"bob").password(b"pw");
    alice.send(&connect.build());
    alice.expect(&CONNACK_OK);
    broker.wait_for_log("as claims-bob (p2, c1, k60, u'alice').");

    // A certificate without a CN names nobody: "bad user name or password".
    let nameless = certs.client("ca.pem", Some("nameless"));
    let mut v3 = TlsRaw::connect(&broker, nameless.clone());
    v3.send(&connect_v311("nameless-3", true, 60));
    v3.expect(&connack(false, 4));
    let mut v5 = TlsRaw::connect(&broker, nameless);
    v5.send(&Connect::v5("nameless-5").build());
    v5.expect(&connack5(false, 0x86, &[]));
}

#[test]
fn use_identity_as_username_without_require_certificate_refuses_everyone() {
    // mosquitto asks for no certificate then, so there is never a name to take.
    let certs = Certs::new();
    let broker = Broker::start_with(&certs.listener("use_identity_as_username true\n"));
    let mut alice = TlsRaw::connect(&broker, certs.client("ca.pem", Some("alice")));
    alice.send(&connect_v311("alice", true, 60));
    alice.expect(&connack(false, 4));
}

#[test]
fn a_plain_client_on_the_tls_port_fails_cleanly_while_others_are_served() {
    let certs = Certs::new();
    let broker = Broker::start_with(&certs.listener(""));
    let client = certs.client("ca.pem", None);
    let mut sub = TlsRaw::subscribed(&broker, client.clone(), "served-sub", "served");
    let mut plain = Raw::connect(&broker);
    plain.send(&connect_v311("plain", true, 60));
    // No TLS alert for it to misread as MQTT: the connection just closes.
    plain.expect_closed();
    let mut publisher = TlsRaw::connected(&broker, client, "served-pub");
    publisher.send(&publish("served", b"still served", 0, false, 0));
    sub.expect(&publish("served", b"still served", 0, false, 0));
}

#[test]
fn a_stalled_handshake_holds_up_nobody_and_is_closed_in_time() {
    let certs = Certs::new();
    // connect_timeout is midge's own; mosquitto has none and would refuse the key.
    let timeout = if broker_kind() == Kind::Midge {
        "connect_timeout 2\n"
    } else {
        ""
    };
    let broker = Broker::start_with(&certs.listener(timeout));
    // One staller sends half a record header, another a whole ClientHello and no more.
    let mut half = Raw::connect(&broker);
    half.send(&[0x16, 0x03]);
    let name = ServerName::try_from("localhost").expect("name");
    let mut hello = TcpStream::connect(broker.addr()).expect("connect");
    let mut conn = ClientConnection::new(certs.client("ca.pem", None), name).expect("conn");
    conn.write_tls(&mut hello).expect("ClientHello");

    let client = certs.client("ca.pem", None);
    let mut sub = TlsRaw::subscribed(&broker, client.clone(), "busy-sub", "busy");
    let mut publisher = TlsRaw::connected(&broker, client, "busy-pub");
    publisher.send(&publish("busy", b"not held up", 0, false, 0));
    sub.expect(&publish("busy", b"not held up", 0, false, 0));

    if midge_only() {
        return;
    }
    // Served while both stallers were still open, not after the timeout freed the loop.
    let log = broker.log();
    assert!(!log.contains("did not send CONNECT in time"), "{log}");
    half.expect_closed_within(Duration::from_secs(4));
    hello
        .set_read_timeout(Some(Duration::from_secs(4)))
        .expect("timeout");
    // The ServerHello and the rest of the server's flight come first; then the close.
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        match hello.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(Instant::now() < deadline, "never closed"),
        }
    }
    assert!(
        Instant::now() < deadline,
        "the stalled handshake was not closed in time"
    );
}

/// Starts a broker of `kind` with `settings`, unless a program it needs is missing.
fn broker_and_clients(kind: Kind, programs: &[&str], settings: &str) -> Option<Broker> {
    for program in programs {
        let hint = "apt-get install mosquitto mosquitto-clients";
        if !tool_available(on_path(program), program, hint) {
            return None;
        }
    }
    Some(Broker::start_kind(kind, settings))
}

#[test]
fn mosquitto_pub_and_mosquitto_sub_with_certificates_against_midge() {
    let certs = Certs::new();
    let settings = "require_certificate true\nuse_identity_as_username true\n";
    let programs = ["mosquitto_pub", "mosquitto_sub"];
    let Some(broker) = broker_and_clients(Kind::Midge, &programs, &certs.listener(settings)) else {
        return;
    };
    let port = broker.port.to_string();
    let (ca, cert, key) = (
        certs.arg("ca.pem"),
        certs.arg("alice.pem"),
        certs.arg("alice.key"),
    );
    let tls = [
        "-h",
        "localhost",
        "-p",
        &port,
        "--cafile",
        &ca,
        "--cert",
        &cert,
        "--key",
        &key,
    ];
    let sub_args: Vec<&str> = tls
        .iter()
        .copied()
        .chain(["-i", "tls-msub", "-t", "t", "-C", "1"])
        .collect();
    let mut sub = Proc::spawn("mosquitto_sub", &sub_args, None);
    sub.wait_subscribed(&broker, "tls-msub");
    let pub_args: Vec<&str> = tls
        .iter()
        .copied()
        .chain(["-t", "t", "-m", "hello"])
        .collect();
    run("mosquitto_pub", &pub_args, None).assert_success();
    let done = sub.finish();
    done.assert_success();
    assert_eq!(done.stdout, "hello\n");
    broker.wait_for_log("as tls-msub (p2, c1, k60, u'alice').");

    // Without a client certificate: refused, and the broker goes on.
    let anonymous = ["-p", &port, "--cafile", &ca, "-t", "t", "-m", "x"];
    let done = run("mosquitto_pub", &anonymous, None);
    assert_ne!(done.code, Some(0), "{}", done.describe());
}

#[test]
fn midge_pub_and_midge_sub_against_mosquitto_with_tls() {
    let certs = Certs::new();
    let Some(broker) = broker_and_clients(Kind::Mosquitto, &["mosquitto"], &certs.listener(""))
    else {
        return;
    };
    let clients = ClientPrograms::midge();
    let port = broker.port.to_string();
    let ca = certs.arg("ca.pem");
    let tls = ["-p", &port, "--cafile", &ca];
    let sub_args: Vec<&str> = tls
        .iter()
        .copied()
        .chain(["-i", "tls-s", "-t", "t", "-C", "1"])
        .collect();
    let mut sub = Proc::spawn(&clients.subscriber, &sub_args, None);
    sub.wait_subscribed(&broker, "tls-s");
    let pub_args: Vec<&str> = tls
        .iter()
        .copied()
        .chain(["-t", "t", "-m", "hi", "-q", "1"])
        .collect();
    run(&clients.publisher, &pub_args, None).assert_success();
    let done = sub.finish();
    done.assert_success();
    assert_eq!(done.stdout, "hi\n");

    // A CA that did not sign the broker's certificate: mosquitto_pub's words and code.
    let rogue = certs.arg("rogue-ca.pem");
    let args = ["-p", &port, "--cafile", &rogue, "-t", "t", "-m", "x"];
    let done = run(&clients.publisher, &args, None);
    done.assert_code(1);
    assert_eq!(done.stderr, "Unable to connect (A TLS error occurred.).\n");
}

/// mosquitto's clients find a `--capath` CA by OpenSSL's hashed names only; without one the
/// handshake fails.
#[test]
fn capath_is_read_by_hashed_names_in_midge_pub_as_in_mosquitto_pub() {
    let certs = Certs::new();
    let Some(broker) = broker_and_clients(broker_kind(), &["mosquitto_pub"], &certs.listener(""))
    else {
        return;
    };
    let ca = CertificateDer::from_pem_file(certs.path("ca.pem")).expect("ca");
    let hash = midge::tls::subject_hash(&ca).expect("a subject hash");
    let port = broker.port.to_string();
    let clients = ClientPrograms::midge();
    for (name, connects) in [(format!("{hash:08x}.0"), true), ("ca.pem".into(), false)] {
        let dir = certs.path(&format!("capath-{connects}"));
        std::fs::create_dir(&dir).expect("capath");
        std::fs::copy(certs.path("ca.pem"), dir.join(name)).expect("copy");
        let dir = dir.display().to_string();
        let args = [
            "-h",
            "localhost",
            "-p",
            &port,
            "--capath",
            &dir,
            "-t",
            "t",
            "-m",
            "x",
        ];
        let ours = run(&clients.publisher, &args, None);
        let theirs = run("mosquitto_pub", &args, None);
        assert_eq!(ours.code == Some(0), connects, "{}", ours.describe());
        assert_eq!(theirs.code == Some(0), connects, "{}", theirs.describe());
        // mosquitto_pub's own words vary with when it notices (exit 1 or 8); midge_pub's
        // are its more common ones.
        if !connects {
            assert_eq!(ours.stderr, "Unable to connect (A TLS error occurred.).\n");
        }
    }
}

#[test]
fn insecure_skips_the_host_name_check_and_nothing_else() {
    let certs = Certs::new();
    // A certificate for broker.invalid, served on 127.0.0.1.
    let settings = format!(
        "certfile {}\nkeyfile {}\n",
        certs.arg("elsewhere.pem"),
        certs.arg("elsewhere.key")
    );
    let broker = Broker::start_with(&settings);
    let clients = ClientPrograms::midge();
    let port = broker.port.to_string();
    let (ca, rogue) = (certs.arg("ca.pem"), certs.arg("rogue-ca.pem"));
    let publish = |extra: &[&str]| {
        let mut args = vec!["-h", "127.0.0.1", "-p", &port, "-t", "t", "-m", "x"];
        args.extend_from_slice(extra);
        run(&clients.publisher, &args, None)
    };
    publish(&["--cafile", &ca]).assert_code(1);
    publish(&["--cafile", &ca, "--insecure"]).assert_success();
    publish(&["--cafile", &rogue, "--insecure"]).assert_code(1);
}

fn midge_with(dir: &Path, config: &str, args: &[&str]) -> common::clients::Finished {
    let path = dir.join("midge.conf");
    std::fs::write(&path, config).expect("write config");
    let path = path.display().to_string();
    let mut all = vec!["-c", path.as_str()];
    all.extend_from_slice(args);
    run(env!("CARGO_BIN_EXE_midge"), &all, None)
}

#[test]
fn bad_tls_files_stop_the_broker_at_start_up_naming_the_line() {
    let certs = Certs::new();
    let dir = certs.dir.path();
    let missing =
        "listener 0 127.0.0.1\ncertfile /nonexistent/cert.pem\nkeyfile /nonexistent/key\n";
    for args in [&[][..], &["--test-config"][..]] {
        let done = midge_with(dir, missing, args);
        assert_eq!(done.code, Some(1), "{}", done.describe());
        assert!(
            done.stderr.contains(
                "midge.conf:2: listener 0: unable to load server certificate \"/nonexistent/cert.pem\""
            ),
            "{}",
            done.describe()
        );
    }
    // alice's key does not go with the server's certificate.
    let mismatch = format!(
        "listener 0 127.0.0.1\ncertfile {}\nkeyfile {}\n",
        certs.arg("server.pem"),
        certs.arg("alice.key")
    );
    let done = midge_with(dir, &mismatch, &[]);
    assert_eq!(done.code, Some(1), "{}", done.describe());
    assert!(
        done.stderr.contains("do not go together"),
        "{}",
        done.describe()
    );
}

/// SIGHUP reads a TLS listener's files again (mosquitto: those with `require_certificate`
/// and a `crlfile`): a certificate revoked meanwhile is refused from the next handshake on,
/// while a connection made before stays up.
#[test]
fn sighup_rereads_the_crl_and_a_revoked_certificate_is_refused() {
    let certs = Certs::new();
    std::fs::copy(certs.path("crl-none.pem"), certs.path("crl.pem")).expect("copy");
    let crl = format!(
        "require_certificate true\ncrlfile {}\n",
        certs.arg("crl.pem")
    );
    let broker = Broker::start_with(&certs.listener(&crl));
    let alice = certs.client("ca.pem", Some("alice"));
    let mut before = TlsRaw::connected(&broker, alice.clone(), "alice-before");

    std::fs::copy(certs.path("crl-alice.pem"), certs.path("crl.pem")).expect("copy");
    common::security::reload(&broker);
    TlsRaw::assert_refused(&broker, alice);
    before.send(&PINGREQ);
    before.expect(&PINGRESP);
    // Others still get in.
    let other = certs.client("ca.pem", Some("nameless"));
    TlsRaw::connected(&broker, other, "nameless");
}
