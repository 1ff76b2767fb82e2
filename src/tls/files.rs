//! Reading a TLS listener's PEM files: certificates, the CAs of `cafile`/`capath`, and CRLs.
//! Each error names the file, in the words of mosquitto's own start-up errors.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

use super::capath;

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

/// The CA certificates of `cafile`, then those OpenSSL would find in `capath` (`capath`).
/// As in mosquitto, they are read whenever they are named: they complete the server's chain,
/// and with `require_certificate` they check the clients' certificates.
pub fn ca_certificates(
    cafile: Option<&Path>,
    capath: Option<&Path>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut cas = Vec::new();
    if let Some(cafile) = cafile {
        cas = certificates(cafile).map_err(|why| {
            format!(
                "unable to load CA certificates from cafile \"{}\" ({why}).",
                cafile.display()
            )
        })?;
    }
    if let Some(capath) = capath {
        let hiding = cas
            .iter()
            .filter_map(|cert| capath::canonical_subject(cert))
            .collect();
        cas.extend(capath::certificates(capath, &hiding)?);
    }
    Ok(cas)
}

/// Adds `certs` to `roots`: the clients trust every CA they are given.
pub fn add_roots(
    roots: &mut RootCertStore,
    certs: Vec<CertificateDer<'static>>,
) -> Result<(), String> {
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("unusable CA certificate ({e})"))?;
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
