//! TLS as OpenSSL does it for mosquitto: a server certificate whose chain is completed from
//! `cafile`, client certificates under an intermediate CA, CRLs checked for the client's own
//! certificate only, and the usernames a client certificate gives
//! (`use_identity_as_username`, `use_subject_as_username`).
//!
//! The PKI is the shape of mosquitto's own test certificates: a root CA, an intermediate
//! ("signing") CA below it that signed the server and most clients, `certfile` holding the
//! server certificate alone and `cafile` both CAs. Every test but the last runs against
//! mosquitto too (`MIDGE_TEST_BROKER=mosquitto`).

mod common;
#[path = "common/tls.rs"]
mod tls_common;

use std::sync::Arc;

use common::clients::run;
use common::packets::*;
use common::{Broker, midge_only, security};
use rcgen::{DistinguishedName, DnType};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tls_common::{Certs, TlsRaw};

/// Root → signing → server, alice, bob, dave; root → carol; CRLs of both CAs.
fn pki() -> Certs {
    let certs = Certs::empty();
    let root = certs.ca("root", None);
    let signing = certs.ca("signing", Some(&root));
    certs.bundle("cas.pem", &["signing.pem", "root.pem"]);
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    certs.leaf(&signing, "server", names, Some("localhost"), false);
    for name in ["alice", "bob"] {
        certs.leaf(&signing, name, vec![], Some(name), true);
    }
    // A subject with a character that needs escaping.
    let mut subject = DistinguishedName::new();
    subject.push(DnType::CountryName, "NZ");
    subject.push(DnType::OrganizationalUnitName, "Lab");
    subject.push(DnType::OrganizationName, "Dave, Ltd.");
    subject.push(DnType::CommonName, "dave");
    certs.leaf_named(&signing, "dave", vec![], subject, true);
    certs.leaf(&root, "carol", vec![], Some("carol"), true);
    certs.crl(&signing, "crl-signing-none.pem", &[]);
    certs.crl(&signing, "crl-signing-bob.pem", &["bob"]);
    certs.crl(&root, "crl-root.pem", &[]);
    certs.crl_until(&signing, "crl-signing-expired.pem", &[], 2021);
    certs.crl(&root, "crl-root-signing.pem", &["signing"]);
    certs
}

/// The listener's lines: the server certificate alone, both CAs in `cafile`, and `extra`.
fn listener(certs: &Certs, extra: &str) -> String {
    format!(
        "certfile {}\nkeyfile {}\ncafile {}\n{extra}",
        certs.arg("server.pem"),
        certs.arg("server.key"),
        certs.arg("cas.pem"),
    )
}

/// A client that trusts the root CA only, presenting `identity`'s certificate.
fn client(certs: &Certs, identity: Option<&str>) -> Arc<ClientConfig> {
    certs.client("root.pem", identity)
}

fn pem(certs: &Certs, name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(certs.path(name)).expect("certificate")
}

#[test]
fn a_lone_server_certificate_is_sent_with_its_chain_from_cafile() {
    let certs = pki();
    let broker = Broker::start_with(&listener(&certs, ""));
    // The client trusts the root alone: without the signing CA from the broker it could
    // not verify the server ("unable to get local issuer certificate").
    let raw = TlsRaw::connected(&broker, client(&certs, None), "chain");
    let sent = raw.stream.conn.peer_certificates().expect("a chain");
    let expected = [
        pem(&certs, "server.pem"),
        pem(&certs, "signing.pem"),
        pem(&certs, "root.pem"),
    ];
    assert!(
        sent == expected,
        "the broker sent {} certificates",
        sent.len()
    );
}

#[test]
fn client_certificates_from_an_intermediate_ca_are_verified_against_cafile() {
    let certs = pki();
    let broker = Broker::start_with(&listener(&certs, "require_certificate true\n"));
    TlsRaw::connected(&broker, client(&certs, Some("alice")), "alice");
    TlsRaw::connected(&broker, client(&certs, Some("carol")), "carol");
    TlsRaw::assert_refused(&broker, client(&certs, None));
}

#[test]
fn a_client_revoked_in_its_intermediate_cas_crl_is_refused_and_the_others_are_not() {
    let certs = pki();
    certs.bundle("crls.pem", &["crl-signing-bob.pem", "crl-root.pem"]);
    let crl = format!(
        "require_certificate true\ncrlfile {}\n",
        certs.arg("crls.pem")
    );
    let broker = Broker::start_with(&listener(&certs, &crl));
    TlsRaw::assert_refused(&broker, client(&certs, Some("bob")));
    TlsRaw::connected(&broker, client(&certs, Some("alice")), "alice");
    TlsRaw::connected(&broker, client(&certs, Some("carol")), "carol");
}

/// OpenSSL's `X509_V_FLAG_CRL_CHECK`, which mosquitto sets: a client certificate whose
/// issuer has no CRL in `crlfile` cannot be checked, and is refused.
#[test]
fn a_client_whose_issuer_has_no_crl_in_crlfile_is_refused() {
    let certs = pki();
    let crl = format!(
        "require_certificate true\ncrlfile {}\n",
        certs.arg("crl-root.pem")
    );
    let broker = Broker::start_with(&listener(&certs, &crl));
    TlsRaw::assert_refused(&broker, client(&certs, Some("alice")));
    TlsRaw::connected(&broker, client(&certs, Some("carol")), "carol");
}

/// OpenSSL refuses a client whose issuer's CRL is past its next update
/// (`X509_V_ERR_CRL_HAS_EXPIRED`): a revocation list nobody renews says nothing of today.
#[test]
fn a_client_whose_issuers_crl_is_past_its_next_update_is_refused() {
    let certs = pki();
    certs.bundle("crls.pem", &["crl-signing-expired.pem", "crl-root.pem"]);
    let crl = format!(
        "require_certificate true\ncrlfile {}\n",
        certs.arg("crls.pem")
    );
    let broker = Broker::start_with(&listener(&certs, &crl));
    TlsRaw::assert_refused(&broker, client(&certs, Some("alice")));
    TlsRaw::connected(&broker, client(&certs, Some("carol")), "carol");
}

/// Without `X509_V_FLAG_CRL_CHECK_ALL` (mosquitto does not set it) the CAs of the chain are
/// not checked: the root's CRL revoking the signing CA does not refuse alice.
#[test]
fn only_the_clients_own_certificate_is_checked_against_the_crls() {
    let certs = pki();
    certs.bundle(
        "crls.pem",
        &["crl-root-signing.pem", "crl-signing-none.pem"],
    );
    let crl = format!(
        "require_certificate true\ncrlfile {}\n",
        certs.arg("crls.pem")
    );
    let broker = Broker::start_with(&listener(&certs, &crl));
    TlsRaw::connected(&broker, client(&certs, Some("alice")), "alice");
}

#[test]
fn use_subject_as_username_names_the_client_by_its_subject_as_openssl_prints_it() {
    let certs = pki();
    let settings = "require_certificate true\nuse_subject_as_username true\n";
    let broker = Broker::start_with(&listener(&certs, settings));
    let mut raw = TlsRaw::connect(&broker, client(&certs, Some("dave")));
    // Whatever CONNECT claims, the certificate names the client; no password is checked.
    raw.send(
        &Connect::v311("dave-id")
            .username(b"bob")
            .password(b"pw")
            .build(),
    );
    raw.expect(&CONNACK_OK);
    broker.wait_for_log(r"as dave-id (p2, c1, k60, u'CN=dave,O=Dave\, Ltd.,OU=Lab,C=NZ').");
}

/// mosquitto#1402: a SIGHUP checks connected clients against the password file again, but
/// not those whose certificate gave their username.
#[test]
fn a_client_named_by_its_certificate_is_not_asked_for_a_password_nor_cut_off_by_sighup() {
    for key in ["use_identity_as_username", "use_subject_as_username"] {
        let certs = pki();
        let files = security::Files::new();
        let passwords = files.write("passwd", security::PBKDF2_FILE);
        let settings = format!(
            "require_certificate true\n{key} true\nallow_anonymous false\npassword_file {passwords}\n"
        );
        let broker = Broker::start_with(&listener(&certs, &settings));
        let mut alice = TlsRaw::connected(&broker, client(&certs, Some("alice")), "alice");
        security::reload(&broker);
        alice.send(&PINGREQ);
        alice.expect(&PINGRESP);
    }
}

#[test]
fn tls_psk_and_engine_keys_stop_the_broker_naming_the_key() {
    // mosquitto has TLS-PSK and engines; midge refuses to start rather than ignore them.
    if midge_only() {
        return;
    }
    let certs = pki();
    for (key, why) in [
        (
            "psk_hint hint",
            "'psk_hint' is not supported: rustls, midge's TLS library, has no pre-shared keys",
        ),
        (
            "psk_file /etc/mosquitto/psk",
            "'psk_file' is not supported: rustls",
        ),
        (
            "tls_engine pkcs11",
            "'tls_engine' is not supported: rustls, midge's TLS library, has no OpenSSL engines",
        ),
    ] {
        let conf = format!("listener 0 127.0.0.1\n{}{key}\n", listener(&certs, ""));
        let path = certs.path("midge.conf");
        std::fs::write(&path, conf).expect("write config");
        let path = path.display().to_string();
        for args in [&["-c", &path][..], &["-c", &path, "--test-config"][..]] {
            let done = run(env!("CARGO_BIN_EXE_midge"), args, None);
            assert_eq!(done.code, Some(1), "{}", done.describe());
            assert!(
                done.stderr.contains(&format!("midge.conf:5: {why}")),
                "{}",
                done.describe()
            );
        }
    }
}
