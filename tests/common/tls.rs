//! Certificates made with rcgen and raw MQTT over rustls, for the TLS end-to-end tests
//! (`tls.rs`, `tls_pki.rs`). Included by those files only (`#[path]`), so that the other
//! test binaries do not carry it.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, RevokedCertParams,
    SerialNumber, date_time_ymd,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::common::packets::*;
use crate::common::{Broker, REPLY_TIMEOUT, hex};

/// Certificates and keys in a directory the broker can read (mosquitto drops to its own
/// user before loading them, so the files are world-readable).
pub struct Certs {
    pub dir: tempfile::TempDir,
}

impl Certs {
    /// A directory for certificates, made world-readable.
    pub fn empty() -> Certs {
        let dir = tempfile::tempdir().expect("tempdir");
        let mode = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.path(), mode).expect("chmod");
        Certs { dir }
    }

    /// One CA ("ca.pem"), with a server certificate for localhost and 127.0.0.1 ("server"),
    /// one for another name ("elsewhere"), clients "alice" and "nameless" (no CN), CRLs
    /// revoking nobody and alice, and an untrusted CA ("rogue-ca.pem") with client "mallory".
    pub fn new() -> Certs {
        let certs = Certs::empty();
        let issuer = certs.ca("ca", None);

        let server_names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        certs.leaf(&issuer, "server", server_names, Some("localhost"), false);
        certs.leaf(
            &issuer,
            "elsewhere",
            vec!["broker.invalid".into()],
            None,
            false,
        );
        certs.leaf(&issuer, "alice", vec![], Some("alice"), true);
        certs.leaf(&issuer, "nameless", vec![], None, true);
        certs.crl(&issuer, "crl-none.pem", &[]);
        certs.crl(&issuer, "crl-alice.pem", &["alice"]);

        // A second CA that nobody trusts, with a client of its own.
        let rogue = certs.ca("rogue-ca", None);
        certs.leaf(&rogue, "mallory", vec![], Some("mallory"), true);

        certs
    }

    /// A CA certificate "NAME.pem", self-signed or signed by `parent`.
    pub fn ca(&self, name: &str, parent: Option<&Issuer<'_, KeyPair>>) -> Issuer<'static, KeyPair> {
        self.ca_with(name, parent, |_| {})
    }

    /// A CA certificate as `ca` makes it, with its parameters changed by `adjust` (a
    /// validity period, key usages) before it is signed.
    pub fn ca_with(
        &self,
        name: &str,
        parent: Option<&Issuer<'_, KeyPair>>,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Issuer<'static, KeyPair> {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(serial(name));
        adjust(&mut params);
        let cert = match parent {
            Some(parent) => params.signed_by(&key, parent),
            None => params.self_signed(&key),
        }
        .expect("CA");
        self.write(&format!("{name}.pem"), &cert.pem());
        Issuer::new(params, key)
    }

    /// "OUT" holding the certificates of the files `names`, in that order.
    pub fn bundle(&self, out: &str, names: &[&str]) {
        let pems: Vec<String> = names
            .iter()
            .map(|name| std::fs::read_to_string(self.path(name)).expect("read"))
            .collect();
        self.write(out, &pems.concat());
    }

    /// A server or client certificate "NAME.pem" with its key "NAME.key", and `cn` as the
    /// subject's only attribute.
    pub fn leaf(
        &self,
        issuer: &Issuer<'_, KeyPair>,
        name: &str,
        sans: Vec<String>,
        cn: Option<&str>,
        client: bool,
    ) {
        let mut subject = DistinguishedName::new();
        if let Some(cn) = cn {
            subject.push(DnType::CommonName, cn);
        }
        self.leaf_named(issuer, name, sans, subject, client);
    }

    /// A certificate "NAME.pem" (key "NAME.key") for `subject`.
    pub fn leaf_named(
        &self,
        issuer: &Issuer<'_, KeyPair>,
        name: &str,
        sans: Vec<String>,
        subject: DistinguishedName,
        client: bool,
    ) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(sans).expect("params");
        params.distinguished_name = subject;
        params.serial_number = Some(serial(name));
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let cert = params.signed_by(&key, issuer).expect("certificate");
        self.write(&format!("{name}.pem"), &cert.pem());
        self.write(&format!("{name}.key"), &key.serialize_pem());
    }

    /// A CRL of `issuer` revoking the certificates of `names`.
    pub fn crl(&self, issuer: &Issuer<'_, KeyPair>, file: &str, names: &[&str]) {
        self.crl_until(issuer, file, names, 2035);
    }

    /// A CRL as `crl` makes it, whose next update is due on 1 January of `year`.
    pub fn crl_until(&self, issuer: &Issuer<'_, KeyPair>, file: &str, names: &[&str], year: i32) {
        let revoked_certs = names
            .iter()
            .map(|name| RevokedCertParams {
                serial_number: serial(name),
                revocation_time: date_time_ymd(2025, 1, 1),
                reason_code: None,
                invalidity_date: None,
            })
            .collect();
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(year.min(2025) - 1, 1, 1),
            next_update: date_time_ymd(year, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        self.write(
            file,
            &crl.signed_by(issuer).expect("CRL").pem().expect("PEM"),
        );
    }

    pub fn write(&self, name: &str, contents: &str) {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// The listener lines for a TLS listener with the server certificate, and `extra`.
    pub fn listener(&self, extra: &str) -> String {
        format!(
            "certfile {}\nkeyfile {}\ncafile {}\n{extra}",
            self.arg("server.pem"),
            self.arg("server.key"),
            self.arg("ca.pem"),
        )
    }

    /// A client configuration trusting `ca` and presenting `identity`'s certificate, if any.
    pub fn client(&self, ca: &str, identity: Option<&str>) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path(ca)).expect("ca") {
            roots.add(cert.expect("ca cert")).expect("add root");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .expect("cert")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("cert");
                let key =
                    PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).expect("key");
                builder
                    .with_client_auth_cert(chain, key)
                    .expect("client cert")
            }
        };
        Arc::new(config)
    }
}

/// A certificate's serial number: its name's bytes, so that a CRL can name it.
pub fn serial(name: &str) -> SerialNumber {
    SerialNumber::from(name.as_bytes().to_vec())
}

/// Raw MQTT over TLS, for exact expectations on the wire.
pub struct TlsRaw {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
}

impl TlsRaw {
    /// Connects and completes the handshake (from the client's side: with TLS 1.3 a server
    /// that refuses the client's certificate says so only afterwards).
    pub fn open(broker: &Broker, config: Arc<ClientConfig>) -> std::io::Result<TlsRaw> {
        let mut tcp = TcpStream::connect(broker.addr())?;
        tcp.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let name = ServerName::try_from("localhost").expect("name");
        let mut conn = ClientConnection::new(config, name).expect("client connection");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp)?;
        }
        Ok(TlsRaw {
            stream: StreamOwned::new(conn, tcp),
        })
    }

    pub fn connect(broker: &Broker, config: Arc<ClientConfig>) -> TlsRaw {
        TlsRaw::open(broker, config).expect("TLS handshake with the broker")
    }

    /// Connects and completes an MQTT 3.1.1 CONNECT.
    pub fn connected(broker: &Broker, config: Arc<ClientConfig>, client_id: &str) -> TlsRaw {
        let mut raw = TlsRaw::connect(broker, config);
        raw.send(&connect_v311(client_id, true, 60));
        raw.expect(&CONNACK_OK);
        raw
    }

    pub fn subscribed(
        broker: &Broker,
        config: Arc<ClientConfig>,
        id: &str,
        filter: &str,
    ) -> TlsRaw {
        let mut raw = TlsRaw::connected(broker, config, id);
        raw.send(&subscribe(1, filter, 0));
        raw.expect(&suback(1, 0));
        raw
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
        self.stream.flush().expect("flush");
    }

    pub fn expect(&mut self, expected: &[u8]) {
        let mut got = vec![0u8; expected.len()];
        if let Err(e) = self.stream.read_exact(&mut got) {
            panic!("expected {} but the read failed: {e}", hex(expected));
        }
        assert_eq!(hex(&got), hex(expected), "unexpected bytes from the broker");
    }

    /// The broker refuses this client's certificate: the handshake fails or, with TLS 1.3,
    /// where the client's side of the handshake ends before the server has judged its
    /// certificate, the connection ends without an answer to CONNECT.
    pub fn assert_refused(broker: &Broker, config: Arc<ClientConfig>) {
        if let Ok(mut raw) = TlsRaw::open(broker, config) {
            let _ = raw.stream.write_all(&connect_v311("refused", true, 60));
            let _ = raw.stream.flush();
            raw.expect_refused();
        }
    }

    /// The broker ends the connection (an alert, close_notify or EOF) without a packet.
    pub fn expect_refused(&mut self) {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => {}
            Ok(n) => panic!("expected the connection to end, got {}", hex(&buf[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("the broker did not end the connection")
            }
            Err(_) => {}
        }
    }
}
