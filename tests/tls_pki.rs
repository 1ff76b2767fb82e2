//! TLS as OpenSSL does it for mosquitto: a server certificate whose chain is completed from
//! `cafile`, client chains that must end at a self-signed CA of `cafile` or of `capath` (read
//! by OpenSSL's hashed names), CRLs checked for the client's own certificate only, and the
//! usernames a client certificate gives
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
use common::{Broker, Kind, broker_kind, midge_only, security};
use std::os::unix::fs::PermissionsExt;

use rcgen::{DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tls_common::{Certs, TlsRaw};

/// Root → signing → server, alice, bob, dave; root → carol; CRLs of both CAs.
fn pki() -> Certs {
    pki_with(|_, _| {})
}

/// `pki`'s certificates, and those `more` makes with the root CA.
fn pki_with(more: impl FnOnce(&Certs, &Issuer<'static, KeyPair>)) -> Certs {
    let certs = Certs::empty();
    let root = certs.ca("root", None);
    more(&certs, &root);
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
    listener_with(
        certs,
        "server",
        &format!("cafile {}", certs.arg("cas.pem")),
        extra,
    )
}

/// The listener's lines: `certfile` from `server` ("server" alone or "server-chain"), the
/// CA lines `cas`, and `extra`.
fn listener_with(certs: &Certs, server: &str, cas: &str, extra: &str) -> String {
    format!(
        "certfile {}\nkeyfile {}\n{cas}\n{extra}",
        certs.arg(&format!("{server}.pem")),
        certs.arg("server.key"),
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

/// The chains clients may send, a server certificate sent with its chain whatever the CAs,
/// and CAs a chain may not go through: a root past its validity period ("old-root", client
/// erin), one for servers only ("server-root", client frank), an intermediate that may not
/// sign certificates ("not-signing", client gina), and a stranger also named "root".
fn trust_pki() -> Certs {
    let certs = pki_with(|certs, root| {
        let not_signing = certs.ca_with("not-signing", Some(root), |p| {
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        });
        certs.leaf(&not_signing, "gina", vec![], Some("gina"), true);
    });
    certs.bundle("gina-chain.pem", &["gina.pem", "not-signing.pem"]);
    certs.bundle("gina-chain.key", &["gina.key"]);
    certs.bundle("alice-chain.pem", &["alice.pem", "signing.pem"]);
    certs.bundle("alice-chain.key", &["alice.key"]);
    certs.bundle("alice-full.pem", &["alice.pem", "signing.pem", "root.pem"]);
    certs.bundle("alice-full.key", &["alice.key"]);
    certs.bundle("server-chain.pem", &["server.pem", "signing.pem"]);
    let old = certs.ca_with("old-root", None, |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    certs.leaf(&old, "erin", vec![], Some("erin"), true);
    let servers_only = certs.ca_with("server-root", None, |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    });
    certs.leaf(&servers_only, "frank", vec![], Some("frank"), true);
    certs.ca_with("impostor", None, |p| {
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, "root");
    });
    certs
}

/// A `cafile` line for the bundle of `names`.
fn cafile(certs: &Certs, names: &[&str]) -> String {
    certs.bundle("cafile.pem", names);
    format!("cafile {}", certs.arg("cafile.pem"))
}

/// A `capath` directory holding each certificate file of `files` under its new name.
fn capath(certs: &Certs, files: &[(&str, String)]) -> String {
    let dir = certs.path("capath");
    std::fs::create_dir(&dir).expect("capath");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for (from, to) in files {
        let text = std::fs::read_to_string(certs.path(from)).expect("read");
        certs.write(&format!("capath/{to}"), &text);
    }
    format!("capath {}", dir.display())
}

/// The name `openssl rehash` gives the certificate of `name`: its subject hash and `suffix`.
fn hashed(certs: &Certs, name: &str, suffix: u32) -> String {
    let cert = pem(certs, &format!("{name}.pem"));
    let hash = midge::tls::subject_hash(&cert).expect("a subject hash");
    format!("{hash:08x}.{suffix}")
}

const REQUIRE: &str = "require_certificate true\n";

/// Without `X509_V_FLAG_PARTIAL_CHAIN` (mosquitto does not set it) OpenSSL wants the chain
/// to end at a self-signed CA of the store: an intermediate CA alone vouches for nobody,
/// whatever the client sends with its certificate.
#[test]
fn a_cafile_holding_only_an_intermediate_ca_refuses_its_clients() {
    let certs = trust_pki();
    let cas = cafile(&certs, &["signing.pem"]);
    let broker = Broker::start_with(&listener_with(&certs, "server", &cas, REQUIRE));
    for alice in ["alice", "alice-chain", "alice-full"] {
        TlsRaw::assert_refused(&broker, client(&certs, Some(alice)));
    }
    if broker_kind() == Kind::Midge {
        broker.wait_for_log("no self-signed CA certificate in cafile or capath");
    }
}

#[test]
fn a_client_sending_its_intermediate_ca_is_accepted_with_only_the_root_in_cafile() {
    let certs = trust_pki();
    let cas = cafile(&certs, &["root.pem"]);
    let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
    TlsRaw::connected(&broker, client(&certs, Some("alice-chain")), "alice");
    // Its certificate alone does not reach the root.
    TlsRaw::assert_refused(&broker, client(&certs, Some("alice")));
}

/// OpenSSL checks the root's validity period and purpose too: rustls would not.
#[test]
fn a_root_past_its_validity_or_for_servers_only_refuses_its_clients() {
    let certs = trust_pki();
    let cas = cafile(&certs, &["old-root.pem", "server-root.pem", "root.pem"]);
    let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
    TlsRaw::assert_refused(&broker, client(&certs, Some("erin")));
    TlsRaw::assert_refused(&broker, client(&certs, Some("frank")));
    TlsRaw::connected(&broker, client(&certs, Some("carol")), "carol");
}

/// OpenSSL refuses an issuer whose key usage leaves out signing certificates; rustls
/// ignores key usage.
#[test]
fn a_client_sending_an_intermediate_ca_that_may_not_sign_certificates_is_refused() {
    let certs = trust_pki();
    let cas = cafile(&certs, &["root.pem"]);
    let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
    TlsRaw::assert_refused(&broker, client(&certs, Some("gina-chain")));
    TlsRaw::connected(&broker, client(&certs, Some("alice-chain")), "alice");
}

/// OpenSSL looks a CA up in `capath` by the hash of its name, from `HASH.0` on, and reads
/// no other file.
#[test]
fn capath_is_read_by_subject_hash_from_suffix_0_as_openssl_reads_it() {
    // The names root.pem and signing.pem get, and whether alice gets in.
    type Names = fn(&Certs) -> [String; 2];
    let layouts: [(Names, bool); 3] = [
        (|c| [hashed(c, "root", 0), hashed(c, "signing", 0)], true),
        (|c| [hashed(c, "root", 1), hashed(c, "signing", 0)], false),
        (|_| ["root.pem".into(), "signing.pem".into()], false),
    ];
    for (names, accepted) in layouts {
        let certs = trust_pki();
        let [root, signing] = names(&certs);
        let cas = capath(&certs, &[("root.pem", root), ("signing.pem", signing)]);
        let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
        let alice = client(&certs, Some("alice"));
        match accepted {
            true => drop(TlsRaw::connected(&broker, alice, "alice")),
            false => TlsRaw::assert_refused(&broker, alice),
        }
    }
}

/// A CA in a file named for another name's hash is not found by its own name: OpenSSL
/// reads it only once it looks that other name up.
#[test]
fn a_capath_ca_in_a_file_named_for_another_hash_is_not_found_by_its_name() {
    let certs = trust_pki();
    certs.bundle("root-and-signing.pem", &["root.pem", "signing.pem"]);
    let cas = capath(
        &certs,
        &[("root-and-signing.pem", hashed(&certs, "root", 0))],
    );
    let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
    TlsRaw::assert_refused(&broker, client(&certs, Some("alice")));
    // The root itself is found: a client bringing the intermediate CA gets in.
    TlsRaw::connected(&broker, client(&certs, Some("alice-chain")), "alice");
}

/// OpenSSL looks in `capath` only for a name that its store (`cafile` first) lacks.
#[test]
fn a_cafile_ca_hides_the_capath_ca_of_the_same_name() {
    let certs = trust_pki();
    let files = [
        ("root.pem", hashed(&certs, "root", 0)),
        ("signing.pem", hashed(&certs, "signing", 0)),
    ];
    let cas = format!(
        "{}\n{}",
        cafile(&certs, &["impostor.pem"]),
        capath(&certs, &files)
    );
    let broker = Broker::start_with(&listener_with(&certs, "server-chain", &cas, REQUIRE));
    TlsRaw::assert_refused(&broker, client(&certs, Some("alice")));
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
