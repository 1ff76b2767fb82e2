//! The generator over TLS (`--cafile`), against a midge started in this process with a TLS
//! listener and a certificate made here: nothing lost, large messages included, which cross
//! many TLS records and fill the socket.

mod common;

use std::sync::OnceLock;

use clap::Parser;
use loadgen::cli::{Cli, Command};
use loadgen::report::RunResult;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

/// A CA and a server certificate for 127.0.0.1, in a directory kept for the whole process.
fn certs() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = CertificateParams::default();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("CA");
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("params")
            .signed_by(&key, &issuer)
            .expect("certificate");
        for (name, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("server.pem", server.pem()),
            ("server.key", key.serialize_pem()),
        ] {
            std::fs::write(dir.path().join(name), pem).expect("write");
        }
        dir
    })
    .path()
}

/// One TLS broker for every test in this file; it runs until the test process exits.
fn broker_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let dir = certs().display();
        let text = format!(
            "listener 0 127.0.0.1\nallow_anonymous true\n\
             certfile {dir}/server.pem\nkeyfile {dir}/server.key\n"
        );
        common::start_broker(text)
    })
}

fn run(args: &str) -> RunResult {
    let port = broker_port().to_string();
    let cafile = certs().join("ca.pem").display().to_string();
    let argv = std::iter::once("midge_loadgen")
        .chain(args.split_whitespace())
        .chain(["-p", &port, "--cafile", &cafile, "--quiet"])
        .chain(["--warmup", "0.2", "--drain", "2"]);
    let Command::Run(cmd) = Cli::try_parse_from(argv).expect("arguments").command else {
        panic!("not a scenario");
    };
    loadgen::run::run(&cmd, false).expect("the run completes")
}

#[test]
fn qos1_pairs_over_tls_lose_nothing() {
    let r = run("pairs -n 4 --qos 1 --inflight 32 --duration 0.8");
    assert!(r.sent > 100, "sent {}", r.sent);
    assert_eq!(r.acked, r.sent, "every PUBLISH acknowledged");
    assert_eq!(r.lost, 0, "{}", r.summary());
    assert!(r.ok, "{}", r.verdict);
}

#[test]
fn large_messages_over_tls_reach_every_subscriber() {
    let r = run("fanout --pubs 1 --subs 3 --qos 0 --payload 300000 --inflight 4 --duration 0.8");
    assert!(r.sent > 5, "sent {}", r.sent);
    assert_eq!(r.received, r.sent * 3, "{}", r.summary());
    assert_eq!((r.lost, r.duplicates, r.out_of_order), (0, 0, 0));
    assert!(r.ok, "{}", r.verdict);
}

#[test]
fn a_wrong_ca_fails_every_connection_and_says_why() {
    let port = broker_port().to_string();
    let other = tempfile::tempdir().expect("tempdir");
    let key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let path = other.path().join("other-ca.pem");
    std::fs::write(&path, ca.self_signed(&key).expect("CA").pem()).expect("write");
    let argv = [
        "midge_loadgen",
        "conns",
        "-c",
        "2",
        "-d",
        "0.2",
        "--connect-timeout",
        "2",
        "--quiet",
        "-p",
        &port,
        "--cafile",
        &path.display().to_string(),
    ];
    let Command::Run(cmd) = Cli::try_parse_from(argv).expect("arguments").command else {
        panic!("not a scenario");
    };
    let outcome = loadgen::run::run(&cmd, false);
    let failed = match &outcome {
        Err(why) => why.contains("certificate") || why.contains("Unknown"),
        Ok(r) => {
            !r.ok
                && r.first_error
                    .as_deref()
                    .is_some_and(|e| e.contains("certificate"))
        }
    };
    assert!(failed, "{outcome:?}");
}
