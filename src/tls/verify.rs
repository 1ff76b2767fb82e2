//! Client certificates checked as OpenSSL checks them for mosquitto (without
//! `X509_V_FLAG_PARTIAL_CHAIN`): the chain must end at a self-signed CA of `cafile`/`capath`.
//!
//! rustls's verifier trusts every certificate it is given as a root, an intermediate CA too.
//! So only the self-signed CAs fit for client authentication become its roots, and the other
//! CAs are handed to it with the client's own intermediates, as OpenSSL's store supplies
//! issuers while it builds the chain. OpenSSL also checks the root's validity period, which
//! rustls does not for a root: the roots are those valid at the time of the handshake.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::chain::{may_sign_certificates, self_issued};
use super::provider;

/// What the CA store gives a client's chain: the roots it may end at, and the CAs that may
/// come between.
#[derive(Debug)]
pub struct OpenSslClientVerifier {
    roots: Vec<Root>,
    intermediates: Vec<CertificateDer<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
    current: Mutex<Current>,
}

#[derive(Debug)]
struct Root {
    der: CertificateDer<'static>,
    not_before: i64,
    not_after: i64,
}

/// rustls's verifier over the roots valid from `from` until before `until` (Unix seconds);
/// `None` when there is none.
#[derive(Debug)]
struct Current {
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    from: i64,
    until: i64,
}

impl OpenSslClientVerifier {
    /// Sorts the CA certificates into roots and intermediates; `crls` are checked for the
    /// client's own certificate only, as mosquitto has OpenSSL check them. A CA fit for neither (a leaf certificate, a CA that may
    /// not sign certificates or serve client authentication) is left out, as OpenSSL would
    /// refuse a chain through it.
    pub fn new(
        cas: Vec<CertificateDer<'static>>,
        crls: Vec<CertificateRevocationListDer<'static>>,
    ) -> Result<OpenSslClientVerifier, String> {
        let mut roots = Vec::new();
        let mut intermediates = Vec::new();
        for der in cas {
            let Ok((_, cert)) = X509Certificate::from_der(&der) else {
                continue;
            };
            if !may_sign_certificates(&cert) || !serves_client_authentication(&cert) {
                continue;
            }
            if !self_issued(&cert) {
                intermediates.push(der);
                continue;
            }
            let validity = cert.validity();
            let (not_before, not_after) = (
                validity.not_before.timestamp(),
                validity.not_after.timestamp(),
            );
            roots.push(Root {
                der,
                not_before,
                not_after,
            });
        }
        let mut hints = RootCertStore::empty();
        hints.add_parsable_certificates(roots.iter().map(|root| root.der.clone()));
        let verifier = OpenSslClientVerifier {
            roots,
            intermediates,
            crls,
            hints: hints.subjects(),
            algorithms: provider().signature_verification_algorithms,
            current: Mutex::new(Current {
                verifier: None,
                from: 0,
                until: 0,
            }),
        };
        // Built once now, so that a bad CRL stops the listener before any handshake.
        let now = UnixTime::now().as_secs() as i64;
        *verifier
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = verifier.build(now)?;
        Ok(verifier)
    }

    /// Whether any root is there at all: without one every client is refused.
    pub fn has_roots(&self) -> bool {
        !self.roots.is_empty()
    }

    /// rustls's verifier for the roots valid at `now`, and how long it holds.
    fn build(&self, now: i64) -> Result<Current, String> {
        let mut store = RootCertStore::empty();
        let (mut from, mut until) = (i64::MIN, i64::MAX);
        for root in &self.roots {
            if (root.not_before..=root.not_after).contains(&now) {
                store.add(root.der.clone()).map_err(|e| e.to_string())?;
                until = until.min(root.not_after.saturating_add(1));
                from = from.max(root.not_before);
            } else if now < root.not_before {
                until = until.min(root.not_before);
            } else {
                from = from.max(root.not_after.saturating_add(1));
            }
        }
        if store.is_empty() {
            return Ok(Current {
                verifier: None,
                from,
                until,
            });
        }
        let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider());
        if !self.crls.is_empty() {
            builder = builder
                .with_crls(self.crls.iter().cloned())
                .only_check_end_entity_revocation()
                .enforce_revocation_expiration();
        }
        let verifier = builder.build().map_err(|e| e.to_string())?;
        Ok(Current {
            verifier: Some(verifier),
            from,
            until,
        })
    }

    fn verifier_at(&self, now: UnixTime) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        let now = now.as_secs() as i64;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if !(current.from..current.until).contains(&now) {
            *current = self.build(now).map_err(rustls::Error::General)?;
        }
        current
            .verifier
            .clone()
            .ok_or(CertificateError::UnknownIssuer.into())
    }
}

impl ClientCertVerifier for OpenSslClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verifier = self.verifier_at(now)?;
        // The client's own first, then the store's: borrowed, not copied. rustls ignores
        // key usage; OpenSSL refuses an issuer whose key usage leaves out signing
        // certificates, so such a CA is not offered.
        let candidates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .filter(|cert| {
                X509Certificate::from_der(cert).is_ok_and(|(_, cert)| may_sign_certificates(&cert))
            })
            .chain(&self.intermediates)
            .map(|cert| CertificateDer::from(cert.as_ref()))
            .collect();
        verifier.verify_client_cert(end_entity, &candidates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// OpenSSL's purpose check for a CA in a client's chain: an extended key usage, if there is
/// one, names client authentication.
fn serves_client_authentication(cert: &X509Certificate<'_>) -> bool {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => eku.value.client_auth,
        Ok(None) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, date_time_ymd,
    };
    use std::time::Duration;

    fn ca(
        name: &str,
        years: Option<(i32, i32)>,
    ) -> (CertificateDer<'static>, Issuer<'static, KeyPair>) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        if let Some((from, until)) = years {
            params.not_before = date_time_ymd(from, 1, 1);
            params.not_after = date_time_ymd(until, 1, 1);
        }
        let der = params.self_signed(&key).expect("CA").der().clone();
        (der, Issuer::new(params, key))
    }

    fn client(issuer: &Issuer<'_, KeyPair>) -> CertificateDer<'static> {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.signed_by(&key, issuer).expect("leaf").der().clone()
    }

    fn year(y: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs((y - 1970) * 365 * 86_400))
    }

    #[test]
    fn a_root_counts_only_within_its_validity_period_as_handshakes_come() {
        let (old_der, old) = ca("old", Some((2000, 2010)));
        let (new_der, new) = ca("new", None);
        let verifier = OpenSslClientVerifier::new(vec![old_der, new_der], Vec::new()).expect("ok");
        let (old_client, new_client) = (client(&old), client(&new));
        // In and out of the old root's period, in any order: each handshake sees its time.
        for (at, old_accepted) in [(2005, true), (2012, false), (1999, false), (2009, true)] {
            let verdict = verifier.verify_client_cert(&old_client, &[], year(at));
            assert_eq!(verdict.is_ok(), old_accepted, "{at}: {verdict:?}");
            let verdict = verifier.verify_client_cert(&new_client, &[], year(at));
            assert!(verdict.is_ok(), "{at}: {verdict:?}");
        }
    }

    #[test]
    fn without_a_root_every_client_is_refused() {
        let (_, root) = ca("root", None);
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "signing");
        let signing_der = params.signed_by(&key, &root).expect("CA").der().clone();
        let signing = Issuer::new(params, key);
        let verifier = OpenSslClientVerifier::new(vec![signing_der], Vec::new()).expect("ok");
        assert!(!verifier.has_roots());
        let verdict = verifier.verify_client_cert(&client(&signing), &[], UnixTime::now());
        assert!(verdict.is_err());
    }
}
