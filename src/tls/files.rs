//! Reading a TLS listener's PEM files: certificates, the CAs of `cafile`/`capath`, and CRLs.
//! Each error names the file, in the words of mosquitto's own start-up errors.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

use crate::config::ListenerTls;

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

/// The CA certificates of `cafile`, then of every file in `capath` that holds any
/// (OpenSSL's hashed names are not needed; other files are skipped). As in mosquitto, they
/// are read whenever they are named: they complete the server's chain, and with
/// `require_certificate` they check the clients' certificates.
pub fn ca_certificates(tls: &ListenerTls) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut cas = Vec::new();
    if let Some(cafile) = &tls.cafile {
        cas = certificates(cafile).map_err(|why| {
            format!(
                "unable to load CA certificates from cafile \"{}\" ({why}).",
                cafile.display()
            )
        })?;
    }
    if let Some(capath) = &tls.capath {
        cas.extend(capath_certificates(capath)?);
    }
    Ok(cas)
}

fn capath_certificates(dir: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "unable to read CA certificates from capath \"{}\" ({e}).",
            dir.display()
        )
    })?;
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    let certs = files
        .iter()
        .filter(|f| f.is_file())
        .filter_map(|file| certificates(file).ok())
        .flatten()
        .collect();
    Ok(certs)
}

/// Adds the certificates of every file in `dir` that holds any.
pub fn add_capath(roots: &mut RootCertStore, dir: &Path) -> Result<(), String> {
    add_roots(roots, capath_certificates(dir)?, dir)
}

pub fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
    origin: &Path,
) -> Result<(), String> {
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate in \"{}\" ({e}).", origin.display()))?;
    }
    Ok(())
}

/// Every CRL in `crlfile`; as for mosquitto, a file without one is an error.
pub fn crls(crlfile: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, String> {
    let crls = CertificateRevocationListDer::pem_file_iter(crlfile)
        .and_then(|crls| crls.collect::<Result<Vec<_>, _>>())
        .map_err(|e| e.to_string())
        .and_then(|crls| match crls.is_empty() {
            true => Err("no CRL in it".to_string()),
            false => Ok(crls),
        });
    crls.map_err(|why| {
        format!(
            "unable to load certificate revocation file \"{}\" ({why}). Check crlfile.",
            crlfile.display()
        )
    })
}
