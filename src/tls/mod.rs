//! TLS listeners with rustls (the `ring` provider): a listener's `ServerConfig`, built once
//! from mosquitto's keys when the listener opens, and the per-connection state on the data
//! path ([`TlsStream`]).
//!
//! mosquitto's meaning is kept: `tls_version` is the oldest version accepted;
//! `require_certificate false` does not even ask for a client certificate (OpenSSL's
//! `SSL_VERIFY_NONE`); `capath` is read by OpenSSL's hashed names (`capath`); a `certfile`
//! holding the server certificate alone is completed from `cafile`/`capath` (`chain`); a
//! client's chain must end at a self-signed CA there (`verify`); a `crlfile` is checked for
//! the client's own certificate only, and a client whose issuer has no CRL there is refused
//! (OpenSSL's `X509_V_FLAG_CRL_CHECK`).

mod capath;
mod chain;
mod dn;
mod files;
mod identity;
mod name_hash;
mod stream;
mod verify;

pub use files::{add_roots, ca_certificates, certificates};
pub use identity::{UsernameFrom, username};
pub use stream::{Identity, TlsFailure, TlsStream};

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::{ServerConfig, SupportedProtocolVersion};

use crate::config::{Config, ListenerConfig, ListenerTls, TlsVersion};
use crate::log_warning;
use verify::OpenSslClientVerifier;

/// The crypto provider of every TLS connection, the broker's and the clients'.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The versions to offer from `min` up: TLS 1.2 and 1.3 are all rustls has.
pub fn versions(min: TlsVersion) -> &'static [&'static SupportedProtocolVersion] {
    static FROM_1_2: [&SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static FROM_1_3: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        TlsVersion::V1_2 => &FROM_1_2,
        TlsVersion::V1_3 => &FROM_1_3,
    }
}

/// A TLS listener's settings, loaded: every connection on it starts from this.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub username_from: UsernameFrom,
}

impl ServerTls {
    /// Reads the listener's certificate, key, CAs and CRLs. The error names the listener,
    /// the config line and the file, in the words of mosquitto's own start-up errors.
    pub fn load(listener: &ListenerConfig) -> Result<ServerTls, String> {
        let tls = &listener.tls;
        let fail =
            |message: String| format!("{}: listener {}: {message}", tls.place(), listener.port);
        let (Some(certfile), Some(keyfile)) = (&tls.certfile, &tls.keyfile) else {
            return Err(fail("certfile and keyfile must both be given".into()));
        };
        let certs = certificates(certfile).map_err(|why| {
            fail(format!(
                "unable to load server certificate \"{}\" ({why}). Check certfile.",
                certfile.display()
            ))
        })?;
        let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|why| {
            fail(format!(
                "unable to load server key file \"{}\" ({why}). Check keyfile.",
                keyfile.display()
            ))
        })?;
        let cas = ca_certificates(tls.cafile.as_deref(), tls.capath.as_deref()).map_err(&fail)?;
        let certs = chain::complete(certs, &cas);
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(tls.min_version))
            .map_err(|e| fail(e.to_string()))?;
        let builder = if tls.require_certificate {
            builder
                .with_client_cert_verifier(client_verifier(tls, cas, listener.port).map_err(&fail)?)
        } else {
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(certs, key).map_err(|e| {
            fail(format!(
                "server certificate \"{}\" and key \"{}\" do not go together ({e}).",
                certfile.display(),
                keyfile.display()
            ))
        })?;
        let username_from = if tls.use_identity_as_username {
            UsernameFrom::CommonName
        } else if tls.use_subject_as_username {
            UsernameFrom::Subject
        } else {
            UsernameFrom::Connect
        };
        Ok(ServerTls {
            config: Arc::new(config),
            username_from,
        })
    }
}

/// The check of client certificates against the CAs, and the CRLs as OpenSSL checks them
/// for mosquitto: the client's own certificate only, refused without a CRL from its issuer
/// or with one past its next update.
fn client_verifier(
    tls: &ListenerTls,
    cas: Vec<CertificateDer<'static>>,
    port: u16,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let crls = match &tls.crlfile {
        Some(crlfile) => files::crls(crlfile)?,
        None => Vec::new(),
    };
    let verifier = OpenSslClientVerifier::new(cas, crls)?;
    if !verifier.has_roots() {
        log_warning!(
            "Warning: {}: listener {port}: no self-signed CA certificate in cafile or capath \
             for a client's chain to end at: every client certificate will be refused.",
            tls.place()
        );
    }
    Ok(Arc::new(verifier))
}

/// Loads every TLS listener's files without opening anything: `--test-config`'s check.
pub fn check(config: &Config) -> Result<(), String> {
    for listener in config.listeners.iter().filter(|l| l.tls.enabled()) {
        ServerTls::load(listener)?;
    }
    Ok(())
}

/// OpenSSL's subject hash of a DER certificate (`openssl x509 -subject_hash`): a CA is found
/// in a `capath` directory under it, as `HASH.0`, `HASH.1`, ... (`openssl rehash` names).
pub fn subject_hash(cert: &[u8]) -> Option<u32> {
    capath::canonical_subject(cert).map(|subject| name_hash::hash(&subject))
}
