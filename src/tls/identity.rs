//! The common name (CN) of a certificate's subject, for `use_identity_as_username`.
//!
//! A few lines of DER walking rather than an X.509 crate: the certificate has already been
//! verified by rustls, and only one field is needed. Anything unexpected gives `None`, which
//! refuses the client.

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
/// `[0] EXPLICIT Version`, present in v2 and v3 certificates.
const VERSION: u8 = 0xa0;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const UTF8_STRING: u8 = 0x0c;
const PRINTABLE_STRING: u8 = 0x13;
const TELETEX_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;

/// The first CN of the subject of a DER certificate, as mosquitto takes it (the first one
/// OpenSSL finds). `None` without one, or if it is not text without NUL bytes.
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (tag, certificate, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, mut tbs, _) = tlv(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    // version (optional), serialNumber, signature, issuer, validity, then subject.
    let (first, _, _) = tlv(tbs)?;
    let mut field = |expect: u8| -> Option<&[u8]> {
        let (tag, value, rest) = tlv(tbs)?;
        tbs = rest;
        (tag == expect).then_some(value)
    };
    if first == VERSION {
        field(VERSION)?;
    }
    field(INTEGER)?;
    field(SEQUENCE)?;
    field(SEQUENCE)?;
    field(SEQUENCE)?;
    let mut rdns = field(SEQUENCE)?;
    while !rdns.is_empty() {
        let (tag, mut set, rest) = tlv(rdns)?;
        rdns = rest;
        if tag != SET {
            return None;
        }
        while !set.is_empty() {
            let (tag, attribute, rest) = tlv(set)?;
            set = rest;
            if tag != SEQUENCE {
                return None;
            }
            let (tag, oid, value) = tlv(attribute)?;
            if tag == OID && oid == COMMON_NAME {
                return text(value);
            }
        }
    }
    None
}

/// A directory string's text; NUL bytes are refused, as mosquitto refuses them.
fn text(value: &[u8]) -> Option<String> {
    let (tag, bytes, _) = tlv(value)?;
    if !matches!(
        tag,
        UTF8_STRING | PRINTABLE_STRING | TELETEX_STRING | IA5_STRING
    ) || bytes.contains(&0)
    {
        return None;
    }
    String::from_utf8(bytes.to_vec()).ok()
}

/// One DER element: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    Some((tag, value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(subject: rcgen::DistinguishedName) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = subject;
        let key = rcgen::KeyPair::generate().expect("key");
        params
            .self_signed(&key)
            .expect("certificate")
            .der()
            .to_vec()
    }

    #[test]
    fn the_common_name_is_found_among_other_attributes() {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CountryName, "NZ");
        subject.push(rcgen::DnType::OrganizationName, "Org");
        subject.push(rcgen::DnType::CommonName, "alice");
        assert_eq!(common_name(&certificate(subject)).as_deref(), Some("alice"));
    }

    #[test]
    fn no_common_name_is_none() {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::OrganizationName, "Org");
        assert_eq!(common_name(&certificate(subject)), None);
    }

    #[test]
    fn garbage_and_truncation_are_none_not_a_panic() {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CommonName, "bob");
        let der = certificate(subject);
        for len in 0..der.len() {
            let _ = common_name(&der[..len]);
        }
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(common_name(b"not a certificate"), None);
    }
}
