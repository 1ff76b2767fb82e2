//! TLS listeners with rustls (the `ring` provider): a listener's `ServerConfig`, built once
//! from mosquitto's keys when the listener opens, and the per-connection state on the data
//! path ([`TlsStream`]).
//!
//! mosquitto's meaning is kept: `tls_version` is the oldest version accepted;
//! `require_certificate false` does not even ask for a client certificate (OpenSSL's
//! `SSL_VERIFY_NONE`), so `cafile` then only matters with `require_certificate true`.

mod identity;
mod stream;

pub use identity::common_name;
pub use stream::{Identity, TlsFailure, TlsStream};

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::config::{Config, ListenerConfig, ListenerTls, TlsVersion};

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
    pub use_identity_as_username: bool,
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
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions(tls.min_version))
            .map_err(|e| fail(e.to_string()))?;
        let builder = if tls.require_certificate {
            let roots = roots(tls).map_err(fail)?;
            let mut verifier = WebPkiClientVerifier::builder_with_provider(roots, provider());
            if let Some(crlfile) = &tls.crlfile {
                let crls = CertificateRevocationListDer::pem_file_iter(crlfile)
                    .and_then(|crls| crls.collect::<Result<Vec<_>, _>>())
                    .map_err(|why| {
                        fail(format!(
                            "unable to load crlfile \"{}\" ({why}).",
                            crlfile.display()
                        ))
                    })?;
                verifier = verifier.with_crls(crls);
            }
            let verifier = verifier.build().map_err(|e| fail(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
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
        Ok(ServerTls {
            config: Arc::new(config),
            use_identity_as_username: tls.use_identity_as_username,
        })
    }
}

/// Loads every TLS listener's files without opening anything: `--test-config`'s check.
pub fn check(config: &Config) -> Result<(), String> {
    for listener in config.listeners.iter().filter(|l| l.tls.enabled()) {
        ServerTls::load(listener)?;
    }
    Ok(())
}

/// Every certificate in a PEM file; an empty file is an error.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in it".into());
    }
    Ok(certs)
}

/// The CAs client certificates are checked against: `cafile`, then every certificate in the
/// files of `capath` (OpenSSL's hashed names are not needed; other files are skipped).
fn roots(tls: &ListenerTls) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    if let Some(cafile) = &tls.cafile {
        let certs = certificates(cafile).map_err(|why| {
            format!(
                "unable to load CA certificates from cafile \"{}\" ({why}).",
                cafile.display()
            )
        })?;
        add_roots(&mut roots, certs, cafile)?;
    }
    if let Some(capath) = &tls.capath {
        add_capath(&mut roots, capath)?;
    }
    if roots.is_empty() {
        return Err("no CA certificate found in cafile or capath".into());
    }
    Ok(Arc::new(roots))
}

/// Adds the certificates of every file in `dir` that holds any.
pub fn add_capath(roots: &mut RootCertStore, dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "unable to read CA certificates from capath \"{}\" ({e}).",
            dir.display()
        )
    })?;
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for file in files.iter().filter(|f| f.is_file()) {
        if let Ok(certs) = certificates(file) {
            add_roots(roots, certs, file)?;
        }
    }
    Ok(())
}

pub fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    file: &Path,
) -> Result<(), String> {
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate in \"{}\" ({e}).", file.display()))?;
    }
    Ok(())
}
