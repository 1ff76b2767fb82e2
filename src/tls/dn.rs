//! A distinguished name in the text OpenSSL's `X509_NAME_print_ex(.., XN_FLAG_RFC2253)` makes,
//! which mosquitto's `use_subject_as_username` takes as the username:
//! `CN=test client,OU=Production,O=Server,L=Nottingham,ST=Nottinghamshire,C=GB`.
//!
//! Exactly as OpenSSL: attributes last to first, `,` between RDNs and `+` inside one, OpenSSL's
//! short names, values converted to UTF-8 with every byte above 0x7f and every control byte
//! written `\XX`, RFC 2253's specials escaped with a backslash, and values of a non-string
//! type, or of an attribute type OpenSSL does not know (named by its dotted OID then), as `#`
//! and the hex of their DER encoding.

use std::fmt::Write;

use x509_parser::asn1_rs::ToDer;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The name as OpenSSL prints it, or `None` for a value OpenSSL cannot print (a BMPString
/// of odd length, say), where mosquitto would take a truncated name.
pub fn rfc2253(name: &X509Name<'_>) -> Option<String> {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter_rdn().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        let attributes: Vec<_> = rdn.iter().collect();
        for (j, attribute) in attributes.iter().rev().enumerate() {
            if i > 0 || j > 0 {
                out.push(if j > 0 { '+' } else { ',' });
            }
            attribute_text(attribute, &mut out)?;
        }
    }
    Some(out)
}

fn attribute_text(attribute: &AttributeTypeAndValue<'_>, out: &mut String) -> Option<()> {
    let oid = attribute.attr_type().to_id_string();
    let short = short_name(&oid);
    out.push_str(short.unwrap_or(&oid));
    out.push('=');
    let value = attribute.attr_value();
    let width = match value.tag().0 {
        _ if short.is_none() => None,
        12 => Some(Width::Utf8),
        18 | 19 | 20 | 22 | 23 | 24 | 26 => Some(Width::Latin1),
        28 => Some(Width::Ucs4),
        30 => Some(Width::Ucs2),
        _ => None,
    };
    let Some(width) = width else {
        out.push('#');
        for byte in value.to_der_vec().ok()? {
            write!(out, "{byte:02X}").ok()?;
        }
        return Some(());
    };
    let chars = decode(value.data, width)?;
    let mut utf8 = [0u8; 6];
    for (k, &c) in chars.iter().enumerate() {
        // RFC 2253's first- and last-character rules; a one-character value counts as last.
        let place = if k + 1 == chars.len() {
            Place::Last
        } else if k == 0 {
            Place::First
        } else {
            Place::Middle
        };
        let bytes = match width {
            Width::Utf8 => std::slice::from_ref(&value.data[k]),
            _ => encode_utf8(c, &mut utf8),
        };
        for &byte in bytes {
            escape(byte, place, out);
        }
    }
    Some(())
}

/// How a string type's bytes make characters, as OpenSSL's `tag2nbyte`. A UTF8String's
/// bytes are taken one by one: each is already UTF-8.
#[derive(Clone, Copy)]
enum Width {
    Utf8,
    Latin1,
    Ucs2,
    Ucs4,
}

fn decode(bytes: &[u8], width: Width) -> Option<Vec<u32>> {
    let chars = match width {
        Width::Utf8 | Width::Latin1 => bytes.iter().map(|&b| u32::from(b)).collect(),
        Width::Ucs2 if bytes.len().is_multiple_of(2) => bytes
            .chunks_exact(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .collect(),
        Width::Ucs4 if bytes.len().is_multiple_of(4) => bytes
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => return None,
    };
    Some(chars)
}

/// OpenSSL's `UTF8_putc`: the original UTF-8 of up to six bytes, so that any UCS-4 value
/// has an encoding, whether or not it is a Unicode character.
fn encode_utf8(c: u32, buf: &mut [u8; 6]) -> &[u8] {
    if c < 0x80 {
        buf[0] = c as u8;
        return &buf[..1];
    }
    let len = match c {
        0..=0x7ff => 2,
        0x800..=0xffff => 3,
        0x1_0000..=0x1f_ffff => 4,
        0x20_0000..=0x3ff_ffff => 5,
        _ => 6,
    };
    let lead: u8 = [0, 0, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc][len];
    let mut rest = c;
    for i in (1..len).rev() {
        buf[i] = 0x80 | (rest & 0x3f) as u8;
        rest >>= 6;
    }
    buf[0] = lead | rest as u8;
    &buf[..len]
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    First,
    Middle,
    Last,
}

/// One byte of a value, escaped as OpenSSL's `do_esc_char` with `ASN1_STRFLGS_RFC2253`.
fn escape(byte: u8, place: Place, out: &mut String) {
    let backslash = match byte {
        b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' => true,
        b'#' => place == Place::First,
        b' ' => place != Place::Middle,
        _ => false,
    };
    if backslash {
        out.push('\\');
        out.push(char::from(byte));
    } else if !(0x20..0x7f).contains(&byte) {
        let _ = write!(out, "\\{byte:02X}");
    } else {
        out.push(char::from(byte));
    }
}

/// OpenSSL's short name of an attribute type found in distinguished names.
fn short_name(oid: &str) -> Option<&'static str> {
    if let Some(n) = oid.strip_prefix("2.5.4.") {
        let n: usize = n.parse().ok()?;
        return match n {
            3..=54 => Some(X520[n - 3]),
            65 => Some("pseudonym"),
            72 => Some("role"),
            97 => Some("organizationIdentifier"),
            98 => Some("c3"),
            99 => Some("n3"),
            100 => Some("dnsName"),
            _ => None,
        };
    }
    OTHER
        .iter()
        .find(|(known, _)| *known == oid)
        .map(|&(_, name)| name)
}

/// 2.5.4.3 to 2.5.4.54.
#[rustfmt::skip]
const X520: [&str; 52] = [
    "CN", "SN", "serialNumber", "C", "L", "ST", "street", "O", "OU", "title", "description",
    "searchGuide", "businessCategory", "postalAddress", "postalCode", "postOfficeBox",
    "physicalDeliveryOfficeName", "telephoneNumber", "telexNumber", "teletexTerminalIdentifier",
    "facsimileTelephoneNumber", "x121Address", "internationaliSDNNumber", "registeredAddress",
    "destinationIndicator", "preferredDeliveryMethod", "presentationAddress",
    "supportedApplicationContext", "member", "owner", "roleOccupant", "seeAlso", "userPassword",
    "userCertificate", "cACertificate", "authorityRevocationList", "certificateRevocationList",
    "crossCertificatePair", "name", "GN", "initials", "generationQualifier",
    "x500UniqueIdentifier", "dnQualifier", "enhancedSearchGuide", "protocolInformation",
    "distinguishedName", "uniqueMember", "houseIdentifier", "supportedAlgorithms",
    "deltaRevocationList", "dmdName",
];

const OTHER: &[(&str, &str)] = &[
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("1.2.840.113549.1.9.2", "unstructuredName"),
    ("1.2.840.113549.1.9.3", "contentType"),
    ("1.2.840.113549.1.9.7", "challengePassword"),
    ("1.2.840.113549.1.9.8", "unstructuredAddress"),
    ("1.2.840.113549.1.9.9", "extendedCertificateAttributes"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.3", "mail"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"),
    ("1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn a_value_openssl_cannot_print_gives_none() {
        // CN as a BMPString of three bytes: half a character short.
        let der = [
            0x30, 0x0e, 0x31, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1e, 0x03, 0x00,
            0x41, 0x00,
        ];
        let (_, name) = X509Name::from_der(&der).expect("a name");
        assert_eq!(rfc2253(&name), None);
    }

    #[test]
    fn a_multi_valued_rdn_is_joined_with_plus_last_value_first() {
        // SET { O=a, OU=b } then CN=c.
        let der = [
            0x30, 0x23, 0x31, 0x14, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a, 0x0c, 0x01, b'a',
            0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x01, b'b', 0x31, 0x0b, 0x30, 0x09,
            0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'c', b'd',
        ];
        let (_, name) = X509Name::from_der(&der).expect("a name");
        assert_eq!(rfc2253(&name).as_deref(), Some("CN=cd,OU=b+O=a"));
    }
}
