//! The username a client certificate gives: its common name (`use_identity_as_username`) or
//! its whole subject (`use_subject_as_username`), taken as mosquitto 2.0 takes them. The
//! certificate has already been verified by rustls; anything unexpected gives `None`, which
//! refuses the client.

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::dn;

/// Which part of a client's certificate names it, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsernameFrom {
    Connect,
    CommonName,
    Subject,
}

/// The username `from` gives for a DER certificate.
pub fn username(cert: &[u8], from: UsernameFrom) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert).ok()?;
    match from {
        UsernameFrom::Connect => None,
        UsernameFrom::CommonName => common_name(&cert),
        UsernameFrom::Subject => dn::rfc2253(cert.subject()),
    }
}

/// The first CN of the subject, as mosquitto takes it (the first one OpenSSL finds): its
/// bytes whatever the string type, refused if they hold a NUL, as mosquitto refuses them,
/// or are not UTF-8, which a username must be.
fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    let value = cert.subject().iter_common_name().next()?.attr_value();
    if value.data.contains(&0) {
        return None;
    }
    String::from_utf8(value.data.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{DistinguishedName, DnType, DnValue};

    fn certificate(subject: DistinguishedName) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = subject;
        let key = rcgen::KeyPair::generate().expect("key");
        params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec()
    }

    fn name(attributes: &[(DnType, DnValue)]) -> Vec<u8> {
        let mut subject = DistinguishedName::new();
        for (ty, value) in attributes {
            subject.push(ty.clone(), value.clone());
        }
        certificate(subject)
    }

    fn utf8(s: &str) -> DnValue {
        DnValue::Utf8String(s.into())
    }

    #[test]
    fn the_common_name_is_found_among_other_attributes() {
        let cert = name(&[
            (DnType::CountryName, utf8("NZ")),
            (DnType::OrganizationName, utf8("Org")),
            (DnType::CommonName, utf8("alice")),
        ]);
        let cn = username(&cert, UsernameFrom::CommonName);
        assert_eq!(cn.as_deref(), Some("alice"));
    }

    #[test]
    fn no_common_name_or_one_with_a_nul_is_none() {
        let cert = name(&[(DnType::OrganizationName, utf8("Org"))]);
        assert_eq!(username(&cert, UsernameFrom::CommonName), None);
        let cert = name(&[(DnType::CommonName, utf8("ali\0ce"))]);
        assert_eq!(username(&cert, UsernameFrom::CommonName), None);
    }

    #[test]
    fn the_subject_is_openssls_rfc2253_text_last_attribute_first() {
        // The suite's client certificate: C, ST, L, O, OU, CN as printable strings.
        let cert = name(&[
            (
                DnType::CountryName,
                DnValue::PrintableString("GB".try_into().unwrap()),
            ),
            (DnType::StateOrProvinceName, utf8("Nottinghamshire")),
            (DnType::LocalityName, utf8("Nottingham")),
            (DnType::OrganizationName, utf8("Server")),
            (DnType::OrganizationalUnitName, utf8("Production")),
            (DnType::CommonName, utf8("test client")),
        ]);
        assert_eq!(
            username(&cert, UsernameFrom::Subject).as_deref(),
            Some("CN=test client,OU=Production,O=Server,L=Nottingham,ST=Nottinghamshire,C=GB")
        );
        assert_eq!(username(&cert, UsernameFrom::Connect), None);
    }

    /// Expected texts printed by `openssl x509 -noout -subject -nameopt RFC2253` (OpenSSL
    /// 3.0) for the same certificates.
    #[test]
    fn values_are_escaped_as_openssl_escapes_them() {
        let subject =
            |value: DnValue| username(&name(&[(DnType::CommonName, value)]), UsernameFrom::Subject);
        assert_eq!(
            subject(utf8("a,b+c\"d\\e<f>g;h=i")).as_deref(),
            Some(r#"CN=a\,b\+c\"d\\e\<f\>g\;h=i"#)
        );
        assert_eq!(subject(utf8("#x#")).as_deref(), Some(r"CN=\#x#"));
        assert_eq!(subject(utf8(" a b ")).as_deref(), Some(r"CN=\ a b\ "));
        assert_eq!(subject(utf8("#")).as_deref(), Some("CN=#"));
        assert_eq!(subject(utf8(" ")).as_deref(), Some(r"CN=\ "));
        assert_eq!(
            subject(utf8("tab\there\u{7f}")).as_deref(),
            Some(r"CN=tab\09here\7F")
        );
        assert_eq!(subject(utf8("café")).as_deref(), Some(r"CN=caf\C3\A9"));
        let bmp = DnValue::BmpString("é€".try_into().unwrap());
        assert_eq!(subject(bmp).as_deref(), Some(r"CN=\C3\A9\E2\82\AC"));
        let ucs4 = DnValue::UniversalString("a😀".try_into().unwrap());
        assert_eq!(subject(ucs4).as_deref(), Some(r"CN=a\F0\9F\98\80"));
        let teletex = DnValue::TeletexString("t61".try_into().unwrap());
        assert_eq!(subject(teletex).as_deref(), Some("CN=t61"));
    }

    #[test]
    fn unknown_attribute_types_are_dotted_oids_with_their_der_in_hex() {
        let custom = DnType::CustomDnType(vec![1, 2, 3, 4]);
        let cert = name(&[(custom, utf8("ab")), (DnType::CommonName, utf8("x"))]);
        assert_eq!(
            username(&cert, UsernameFrom::Subject).as_deref(),
            Some("CN=x,1.2.3.4=#0C026162")
        );
    }

    #[test]
    fn garbage_and_truncation_are_none_not_a_panic() {
        let cert = name(&[(DnType::CommonName, utf8("bob"))]);
        for len in 0..cert.len() {
            let _ = username(&cert[..len], UsernameFrom::CommonName);
            let _ = username(&cert[..len], UsernameFrom::Subject);
        }
        assert_eq!(username(b"not a certificate", UsernameFrom::Subject), None);
    }
}
