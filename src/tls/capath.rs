//! `capath` as OpenSSL's hashed directory (`X509_LOOKUP_hash_dir`) serves it to mosquitto.
//!
//! OpenSSL reads no file of the directory up front. When it needs the issuer named N, it
//! reads `HASH.0`, `HASH.1`, ... (HASH being N's `X509_NAME_hash` in eight lower-case hex
//! digits) until one is missing or does not load, keeps every certificate of those files in
//! its store for good, and takes those named N. It looks only where its store has no
//! certificate named N yet, so one from `cafile`, or one that sat in a file named for
//! another hash, hides the directory's.
//!
//! midge reads the directory once, when the listener's files are loaded, and keeps only the
//! certificates OpenSSL finds whatever the order of its lookups: those in the unbroken run
//! of files named for their own subject's hash, unless a certificate of the same name is in
//! `cafile`, or in a file named for another hash or one that failed part way (OpenSSL might
//! take that one instead). Other files are never read, as by OpenSSL.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::name_hash;

/// The certificates of `dir` that OpenSSL would find there, given the canonical subjects of
/// `cafile`'s certificates.
pub fn certificates(
    dir: &Path,
    cafile_subjects: &HashSet<Vec<u8>>,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "unable to read CA certificates from capath \"{}\" ({e}).",
            dir.display()
        )
    })?;
    let mut suffixes: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for entry in entries.filter_map(Result::ok) {
        if let Some((hash, suffix)) = entry.file_name().to_str().and_then(hashed_name) {
            suffixes.entry(hash).or_default().insert(suffix);
        }
    }
    let mut found = Vec::new();
    let mut hiding = HashSet::new();
    for (hash, present) in &suffixes {
        // OpenSSL stops at the first suffix missing.
        for suffix in (0..).take_while(|n| present.contains(n)) {
            let (certs, whole) = read(&dir.join(format!("{hash:08x}.{suffix}")));
            for (subject, cert) in certs {
                if whole && name_hash::hash(&subject) == *hash {
                    found.push((subject, cert));
                } else {
                    hiding.insert(subject);
                }
            }
            if !whole {
                break;
            }
        }
    }
    Ok(found
        .into_iter()
        .filter(|(subject, _)| !hiding.contains(subject) && !cafile_subjects.contains(subject))
        .map(|(_, cert)| cert)
        .collect())
}

/// The canonical subject of a certificate, `None` if OpenSSL would not load it.
pub fn canonical_subject(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    name_hash::canonical(cert.subject().as_raw())
}

/// The hash and suffix of a name OpenSSL looks up (`%08lx.%d`).
fn hashed_name(name: &str) -> Option<(u32, u32)> {
    let (hash, suffix) = name.split_once('.')?;
    let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if hash.len() != 8 || !hash.chars().all(lower_hex) {
        return None;
    }
    let canonical_decimal = suffix == "0" || !suffix.starts_with('0');
    if suffix.is_empty() || !canonical_decimal || !suffix.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((u32::from_str_radix(hash, 16).ok()?, suffix.parse().ok()?))
}

/// The certificates of one file with their canonical subjects, and whether the whole file
/// loaded: OpenSSL keeps the certificates before an error, but a file that is unreadable,
/// holds none or has a bad one ends the run of suffixes.
fn read(path: &Path) -> (Vec<(Vec<u8>, CertificateDer<'static>)>, bool) {
    let Ok(items) = CertificateDer::pem_file_iter(path) else {
        return (Vec::new(), false);
    };
    let mut certs = Vec::new();
    for item in items {
        let Some((subject, cert)) = item
            .ok()
            .and_then(|cert| Some((canonical_subject(&cert)?, cert)))
        else {
            return (certs, false);
        };
        certs.push((subject, cert));
    }
    let whole = !certs.is_empty();
    (certs, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_openssl_would_build_are_looked_up() {
        assert_eq!(hashed_name("0a1b2c3d.0"), Some((0x0a1b2c3d, 0)));
        assert_eq!(hashed_name("0a1b2c3d.12"), Some((0x0a1b2c3d, 12)));
        for name in [
            "0A1B2C3D.0",
            "0a1b2c3d.01",
            "0a1b2c3d.",
            "0a1b2c3d.r0",
            "0a1b2c3.0",
            "0a1b2c3d.0.pem",
            "ca.pem",
        ] {
            assert_eq!(hashed_name(name), None, "{name}");
        }
    }
}
