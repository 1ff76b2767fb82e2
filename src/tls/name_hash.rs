//! OpenSSL's canonical form of a distinguished name and its hash (`X509_NAME_hash`): OpenSSL
//! compares names by the canonical form, and looks a CA certificate up in a `capath`
//! directory by the hash of its subject (the `HASH.0` names `openssl rehash` gives).
//!
//! The canonical form is the name's DER without the outer SEQUENCE header, each string value
//! turned into a UTF8String, lower-cased (ASCII only), its leading and trailing white space
//! dropped and inner runs of it made one space; each RDN's attributes are then sorted as DER
//! sorts a SET OF. The hash is the first four bytes of its SHA-1, read little-endian.

use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const NUMERIC_STRING: u8 = 0x12;
const PRINTABLE_STRING: u8 = 0x13;
const T61_STRING: u8 = 0x14;
const IA5_STRING: u8 = 0x16;
const UNIVERSAL_STRING: u8 = 0x1c;
const BMP_STRING: u8 = 0x1e;

/// The canonical form of the DER `Name` `name`, or `None` where OpenSSL would not load the
/// certificate holding it. Only the string types known to load in OpenSSL are taken: a name
/// with any other kind of value gets `None`, so that its certificate is never used where
/// OpenSSL might not use it.
pub fn canonical(name: &[u8]) -> Option<Vec<u8>> {
    let mut outer = Der(name);
    let rdns = outer.expect(SEQUENCE)?;
    if !outer.0.is_empty() {
        return None;
    }
    let mut rdns = Der(rdns);
    let mut out = Vec::new();
    while !rdns.0.is_empty() {
        let mut set = Der(rdns.expect(SET)?);
        let mut attributes = Vec::new();
        while !set.0.is_empty() {
            let mut attribute = Der(set.expect(SEQUENCE)?);
            let (oid, tag, _) = attribute.next()?;
            let (value, value_tag, contents) = attribute.next()?;
            if tag != OID || !attribute.0.is_empty() {
                return None;
            }
            let mut encoded = oid.to_vec();
            match value_tag {
                NUMERIC_STRING => encoded.extend_from_slice(value),
                _ => push_tlv(
                    &mut encoded,
                    UTF8_STRING,
                    &canonical_string(value_tag, contents)?,
                ),
            }
            let mut element = Vec::new();
            push_tlv(&mut element, SEQUENCE, &encoded);
            attributes.push(element);
        }
        if attributes.is_empty() {
            return None;
        }
        // DER's order for a SET OF: by encoding, a prefix first.
        attributes.sort();
        push_tlv(&mut out, SET, &attributes.concat());
    }
    Some(out)
}

/// `X509_NAME_hash` of a name's canonical form.
pub fn hash(canonical: &[u8]) -> u32 {
    let sha1 = digest(&SHA1_FOR_LEGACY_USE_ONLY, canonical);
    let mut first = [0u8; 4];
    first.copy_from_slice(&sha1.as_ref()[..4]);
    u32::from_le_bytes(first)
}

/// A string value as OpenSSL canonicalizes it; `None` for a type not taken or a value that
/// does not convert to UTF-8.
fn canonical_string(tag: u8, contents: &[u8]) -> Option<Vec<u8>> {
    let text: String = match tag {
        UTF8_STRING => std::str::from_utf8(contents).ok()?.to_string(),
        // One byte a character, each its own code point, as OpenSSL reads them.
        PRINTABLE_STRING | T61_STRING | IA5_STRING => {
            contents.iter().map(|&b| char::from(b)).collect()
        }
        BMP_STRING if contents.len().is_multiple_of(2) => contents
            .chunks(2)
            .map(|c| char::from_u32(u32::from(u16::from_be_bytes([c[0], c[1]]))))
            .collect::<Option<_>>()?,
        UNIVERSAL_STRING if contents.len().is_multiple_of(4) => contents
            .chunks(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let mut out = Vec::with_capacity(text.len());
    for word in text.as_bytes().split(|&b| is_space(b)) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend(word.iter().map(u8::to_ascii_lowercase));
    }
    Some(out)
}

/// OpenSSL's `ossl_isspace`: the C locale's white space.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, contents: &[u8]) {
    out.push(tag);
    let len = contents.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(contents);
}

/// A reader of DER elements (definite lengths only).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The next element: its whole encoding, its first tag byte and its contents.
    fn next(&mut self) -> Option<(&'a [u8], u8, &'a [u8])> {
        let input = self.0;
        let &tag = input.first()?;
        let mut at = 1;
        if tag & 0x1f == 0x1f {
            while input.get(at)? & 0x80 != 0 {
                at += 1;
            }
            at += 1;
        }
        let first = *input.get(at)?;
        at += 1;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 {
                return None;
            }
            let mut len = 0usize;
            for &b in input.get(at..at + count)? {
                len = len << 8 | usize::from(b);
            }
            at += count;
            len
        };
        let end = at.checked_add(len)?;
        let contents = input.get(at..end)?;
        self.0 = &input[end..];
        Some((&input[..end], tag, contents))
    }

    /// The contents of the next element, which must have the tag `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (_, found, contents) if found == tag => Some(contents),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Names made with Python's `cryptography` and hashed by `openssl x509 -subject_hash`
    /// (OpenSSL 3.0.19).
    const OPENSSL: &[(&str, &str, u32)] = &[
        ("cn_only", "300f310d300b06035504030c04726f6f74", 0xdcaaf7f0),
        (
            "upper_case_and_spaces",
            "303b310b3009060355040613024e5a31193017060355040a0c102020446176652c2020204c74\
             642e20203111300f06035504030c08546573740943410a",
            0xb42c2819,
        ),
        (
            "multi_valued_rdn",
            "304231243009060355040613024445300a06035504030c035a6564300b060355040a0c044163\
             6d65311a301806092a864886f70d010901160b4140422e6578616d706c65",
            0x0dca08e4,
        ),
        (
            "sorted_again_once_canonical",
            "30163114300806035504030c016230080603550403130141",
            0x3881cc6b,
        ),
        (
            "utf8_beyond_ascii",
            "301e311c301a06035504030c13c380c389c38e2073747261c39f65204d515454",
            0x589b1cc0,
        ),
        (
            "bmp",
            "30193117301506035504031e0e0042006d0070002000dc006e00ef",
            0x1ac9e75f,
        ),
        (
            "universal",
            "302731253023060355040a1c1c000000550000006e00000069000000200001d11e00000020000000\
             58",
            0x3db4f1b8,
        ),
        (
            "ia5",
            "301431123010060355040b1609494135204d69586564",
            0x9ffcb497,
        ),
        ("t61", "3011310f300d0603550407140654363120c384", 0x9e9da9f8),
        (
            "numeric_kept_as_it_is",
            "30143112301006035504051209303020313220203334",
            0x11319c3a,
        ),
        (
            "printable",
            "3018311630140603550403130d204d6978656420204361736520",
            0x3c7db4e9,
        ),
        ("empty", "3000", 0xeea339da),
    ];

    #[test]
    fn names_hash_as_openssl_hashes_them() {
        for (label, name, expected) in OPENSSL {
            let canonical = canonical(&unhex(name)).expect(label);
            assert_eq!(hash(&canonical), *expected, "{label}");
        }
    }

    #[test]
    fn names_openssl_cannot_load_have_no_canonical_form() {
        // A VisibleString (OpenSSL 3.0 refuses the certificate), bad UTF-8, an odd-length
        // BMPString, a truncated name, trailing bytes.
        for name in [
            "30133111300f06035504081a085669732049626c65",
            "300e310c300a06035504030c03c3ff41",
            "300e310c300a06035504031e03004100",
            "300f310d300b06035504030c04726f6f",
            "300f310d300b06035504030c04726f6f7400",
        ] {
            assert_eq!(canonical(&unhex(name)), None, "{name}");
        }
    }
}
