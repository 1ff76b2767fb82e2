//! The server's certificate chain, completed from `cafile`/`capath` as OpenSSL completes it.
//!
//! mosquitto loads `certfile` with `SSL_CTX_use_certificate_chain_file`. When the file holds
//! the server certificate alone, OpenSSL builds the rest of the chain at handshake time from
//! the CA certificates of `cafile`/`capath` and sends all of it, the root included; when the
//! file holds more, it is sent as it is. A client that trusts only the root then still finds
//! the intermediate CA it needs. rustls sends exactly what it is given, so the chain is built
//! here, once, when the listener's files are loaded.

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

/// The longest chain built: the server certificate, six intermediate CAs and a root.
/// webpki, the verifier of rustls clients, accepts no more than six intermediates.
pub const MAX_CHAIN_LEN: usize = 8;

/// `certs` (the contents of `certfile`) with, if it is one certificate alone, its issuers
/// from `cas` appended in order, up to a self-signed root or the first certificate whose
/// issuer is not among `cas`. An issuer is a CA certificate whose subject is the issuer
/// name, whose key identifier matches (where both certificates carry one), that may sign
/// certificates, and whose key verifies the signature.
pub fn complete(
    mut certs: Vec<CertificateDer<'static>>,
    cas: &[CertificateDer<'static>],
) -> Vec<CertificateDer<'static>> {
    if certs.len() != 1 {
        return certs;
    }
    let pool: Vec<(X509Certificate<'_>, &CertificateDer<'static>)> = cas
        .iter()
        .filter_map(|der| Some((X509Certificate::from_der(der).ok()?.1, der)))
        .collect();
    let mut used = vec![false; pool.len()];
    let leaf = certs[0].clone();
    let Ok((_, mut current)) = X509Certificate::from_der(&leaf) else {
        return certs;
    };
    while certs.len() < MAX_CHAIN_LEN && !self_issued(&current) {
        let found = pool
            .iter()
            .enumerate()
            .find(|&(i, (ca, _))| !used[i] && issued_by(&current, ca));
        let Some((i, (ca, der))) = found else {
            break;
        };
        used[i] = true;
        certs.push((*der).clone());
        current = ca.clone();
    }
    certs
}

/// A root, or a certificate of the same CA under a new key: the chain ends there, as in
/// OpenSSL.
pub(super) fn self_issued(cert: &X509Certificate<'_>) -> bool {
    cert.subject().as_raw() == cert.issuer().as_raw()
        && key_ids_match(cert, cert)
        && cert.verify_signature(None).is_ok()
}

/// Whether `issuer` issued `cert`: OpenSSL's `X509_check_issued` and the signature.
fn issued_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == issuer.subject().as_raw()
        && key_ids_match(cert, issuer)
        && may_sign_certificates(issuer)
        && cert.verify_signature(Some(issuer.public_key())).is_ok()
}

/// The authority key identifier of `cert` against the subject key identifier of `issuer`;
/// a missing one matches anything.
fn key_ids_match(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    let authority = cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref(),
            _ => None,
        });
    let subject = issuer
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski),
            _ => None,
        });
    match (authority, subject) {
        (Some(a), Some(s)) => a.0 == s.0,
        _ => true,
    }
}

/// A CA certificate (basic constraints, or a version 1 certificate, which predates them)
/// whose key usage, if it has one, includes signing certificates.
pub(super) fn may_sign_certificates(cert: &X509Certificate<'_>) -> bool {
    let is_ca = match cert.basic_constraints() {
        Ok(Some(bc)) => bc.value.ca,
        Ok(None) => cert.version().0 == 0,
        Err(_) => false,
    };
    let may_sign = match cert.key_usage() {
        Ok(Some(ku)) => ku.value.key_cert_sign(),
        Ok(None) => true,
        Err(_) => false,
    };
    is_ca && may_sign
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    struct Ca {
        der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(name: &str, parent: Option<&Ca>) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = match parent {
            Some(parent) => params.signed_by(&key, &parent.issuer),
            None => params.self_signed(&key),
        }
        .expect("CA");
        Ca {
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(parent: &Ca) -> CertificateDer<'static> {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["localhost".into()]).expect("params");
        params
            .signed_by(&key, &parent.issuer)
            .expect("leaf")
            .der()
            .clone()
    }

    #[test]
    fn a_lone_server_certificate_gets_its_issuers_up_to_the_root() {
        let root = ca("root", None);
        let middle = ca("middle", Some(&root));
        let signing = ca("signing", Some(&middle));
        let server = leaf(&signing);
        let other = ca("unrelated", None);
        // In any order, with a stranger among them.
        let cas = [
            other.der,
            root.der.clone(),
            signing.der.clone(),
            middle.der.clone(),
        ];
        let chain = complete(vec![server.clone()], &cas);
        assert_eq!(chain, vec![server, signing.der, middle.der, root.der]);
    }

    #[test]
    fn the_chain_stops_where_the_issuer_is_missing() {
        let root = ca("root", None);
        let signing = ca("signing", Some(&root));
        let server = leaf(&signing);
        assert_eq!(complete(vec![server.clone()], &[]), vec![server.clone()]);
        let chain = complete(vec![server.clone()], std::slice::from_ref(&signing.der));
        assert_eq!(chain, vec![server, signing.der]);
    }

    #[test]
    fn a_certfile_with_a_chain_is_sent_as_it_is() {
        let root = ca("root", None);
        let signing = ca("signing", Some(&root));
        let server = leaf(&signing);
        let given = vec![server, signing.der.clone()];
        assert_eq!(complete(given.clone(), &[root.der, signing.der]), given);
    }

    #[test]
    fn a_ca_with_the_right_name_but_another_key_is_not_the_issuer() {
        let root = ca("root", None);
        let signing = ca("signing", Some(&root));
        let impostor = ca("signing", Some(&root));
        let server = leaf(&signing);
        let chain = complete(vec![server.clone()], &[impostor.der, signing.der.clone()]);
        assert_eq!(chain[..2], [server, signing.der]);
    }

    #[test]
    fn cross_signed_cas_do_not_loop_and_the_chain_is_bounded() {
        // Two CAs that each signed the other: the chain alternates until the bound.
        let a_key = KeyPair::generate().expect("key");
        let b_key = KeyPair::generate().expect("key");
        let ca_params = |name: &str| {
            let mut p = CertificateParams::default();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name.push(DnType::CommonName, name);
            p
        };
        let a_issuer = Issuer::new(ca_params("a"), a_key);
        let b_issuer = Issuer::new(ca_params("b"), b_key);
        let a_by_b = ca_params("a")
            .signed_by(a_issuer.key(), &b_issuer)
            .expect("a");
        let b_by_a = ca_params("b")
            .signed_by(b_issuer.key(), &a_issuer)
            .expect("b");
        let key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .signed_by(&key, &a_issuer)
            .expect("leaf");
        let cas = [a_by_b.der().clone(), b_by_a.der().clone()];
        let chain = complete(vec![server.der().clone()], &cas);
        // Each CA certificate at most once.
        assert_eq!(chain.len(), 3);
        assert!(chain.len() <= MAX_CHAIN_LEN);
    }
}
