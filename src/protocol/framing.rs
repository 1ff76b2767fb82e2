//! The pieces every packet is made of: the fixed header, variable byte integers, two-byte
//! lengths, strings and binary data, read from a shared `Bytes` without copying.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{ByteStr, DecodeError};

/// The largest remaining length the protocol can express (four variable-length bytes).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// The fixed header of a packet whose bytes have all arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// The first byte: packet type in the high nibble, flags in the low nibble.
    pub first_byte: u8,
    /// Bytes taken by the fixed header itself (2 to 5).
    pub header_len: usize,
    /// Bytes that follow the fixed header.
    pub remaining_len: usize,
}

impl FixedHeader {
    pub fn packet_type(&self) -> u8 {
        self.first_byte >> 4
    }

    pub fn flags(&self) -> u8 {
        self.first_byte & 0x0f
    }

    pub fn total_len(&self) -> usize {
        self.header_len + self.remaining_len
    }
}

/// Parses the fixed header at the start of `buf`.
///
/// Returns `Ok(None)` while the header itself is incomplete. The claimed remaining length is
/// only reported, never allocated: the caller decides whether it is acceptable.
pub fn parse_fixed_header(buf: &[u8]) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(&first_byte) = buf.first() else {
        return Ok(None);
    };
    let mut remaining_len = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining_len |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader {
                first_byte,
                header_len: 2 + i,
                remaining_len,
            }));
        }
    }
    Err(DecodeError::FixedHeader(
        "remaining length longer than four bytes",
    ))
}

/// Number of bytes `value` takes as a variable byte integer.
pub fn varint_len(value: usize) -> usize {
    debug_assert!(value <= MAX_REMAINING_LENGTH);
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub fn put_varint(out: &mut BytesMut, mut value: usize) {
    debug_assert!(value <= MAX_REMAINING_LENGTH);
    loop {
        let mut byte = (value & 0x7f) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

/// Writes the fixed header for a packet of `remaining_len` bytes.
pub fn put_fixed_header(out: &mut BytesMut, first_byte: u8, remaining_len: usize) {
    out.reserve(1 + varint_len(remaining_len) + remaining_len);
    out.put_u8(first_byte);
    put_varint(out, remaining_len);
}

/// A two-byte length followed by the bytes.
pub fn put_binary(out: &mut BytesMut, data: &[u8]) {
    debug_assert!(data.len() <= usize::from(u16::MAX));
    out.put_u16(data.len() as u16);
    out.put_slice(data);
}

/// A cursor over one packet's body. Every read checks the bounds; running past the end means
/// the packet lied about its contents, which the specs call malformed.
pub struct Reader {
    data: Bytes,
    pos: usize,
}

impl Reader {
    pub fn new(data: Bytes) -> Reader {
        Reader { data, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let byte = *self
            .data
            .get(self.pos)
            .ok_or(DecodeError::Malformed("packet shorter than its contents"))?;
        self.pos += 1;
        Ok(byte)
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable byte integer (at most four bytes), as used for property lengths, in its
    /// shortest form [MQTT-1.5.5-1], as mosquitto requires too.
    pub fn varint(&mut self) -> Result<u32, DecodeError> {
        let mut value = 0u32;
        for i in 0..4 {
            let byte = self.u8()?;
            value |= u32::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(DecodeError::Malformed(
                        "variable byte integer longer than it needs to be",
                    ));
                }
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed(
            "variable byte integer longer than four bytes",
        ))
    }

    /// The next `len` bytes as a slice of the packet: no copy.
    pub fn bytes(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::Malformed("packet shorter than its contents"));
        }
        let out = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(out)
    }

    /// The property section that starts here, without its length and without consuming
    /// anything: for keeping the raw bytes beside their parsed form.
    pub fn peek_properties(&self) -> Result<Bytes, DecodeError> {
        let mut ahead = Reader {
            data: self.data.clone(),
            pos: self.pos,
        };
        let len = ahead.varint()? as usize;
        ahead.bytes(len)
    }

    /// Everything left in the packet (a PUBLISH payload, say). Takes the frame itself
    /// rather than a slice of it: one reference-count increment and decrement fewer per
    /// packet, which the decode benchmark shows.
    pub fn rest(&mut self) -> Bytes {
        let mut out = std::mem::take(&mut self.data);
        out.advance(self.pos);
        self.pos = 0;
        out
    }

    /// Binary data: a two-byte length, then the bytes.
    pub fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = usize::from(self.u16()?);
        self.bytes(len)
    }

    /// A UTF-8 string as MQTT defines it: well-formed UTF-8 without U+0000.
    pub fn string(&mut self) -> Result<ByteStr, DecodeError> {
        ByteStr::from_utf8(self.binary()?)
    }

    fn take(&mut self, len: usize) -> Result<&[u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::Malformed("packet shorter than its contents"));
        }
        let start = self.pos;
        self.pos += len;
        Ok(&self.data[start..start + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_header_waits_for_all_length_bytes() {
        assert_eq!(parse_fixed_header(&[]), Ok(None));
        assert_eq!(parse_fixed_header(&[0x30]), Ok(None));
        assert_eq!(parse_fixed_header(&[0x30, 0x80]), Ok(None));
        let h = parse_fixed_header(&[0x30, 0x80, 0x01]).unwrap().unwrap();
        assert_eq!((h.header_len, h.remaining_len), (3, 128));
    }

    #[test]
    fn fixed_header_rejects_a_fifth_length_byte() {
        assert_eq!(
            parse_fixed_header(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(DecodeError::FixedHeader(
                "remaining length longer than four bytes"
            ))
        );
    }

    #[test]
    fn varint_round_trips_at_every_width_boundary() {
        for value in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            MAX_REMAINING_LENGTH,
        ] {
            let mut out = BytesMut::new();
            put_varint(&mut out, value);
            assert_eq!(out.len(), varint_len(value));
            let mut r = Reader::new(out.freeze());
            assert_eq!(r.varint().unwrap() as usize, value);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn overlong_variable_byte_integers_are_malformed() {
        let mut r = Reader::new(Bytes::from_static(&[0x80, 0x00]));
        assert!(matches!(r.varint(), Err(DecodeError::Malformed(_))));
        let mut r = Reader::new(Bytes::from_static(&[0x80, 0x01]));
        assert_eq!(r.varint(), Ok(128));
    }

    #[test]
    fn reader_refuses_to_run_past_the_end() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x05, b'a']));
        assert!(matches!(r.string(), Err(DecodeError::Malformed(_))));
    }

    #[test]
    fn strings_reject_invalid_utf8_and_nul() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x02, 0xc3, 0x28]));
        assert!(r.string().is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x02, b'a', 0x00]));
        assert!(r.string().is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x03, 0xe2, 0x82, 0xac]));
        assert_eq!(&*r.string().unwrap(), "€");
    }

    #[test]
    fn strings_reject_control_characters_and_non_characters() {
        for bad in [
            &b"a\x01"[..],
            b"\x1f",
            b"\x7f",
            b"\xc2\x85",
            b"\xef\xbf\xbe",
            b"\xef\xb7\x90",
        ] {
            let mut data = vec![0, bad.len() as u8];
            data.extend_from_slice(bad);
            assert!(
                Reader::new(Bytes::from(data)).string().is_err(),
                "{bad:02x?}"
            );
        }
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x02, 0xc2, 0xa0])); // U+00A0 is fine
        assert!(r.string().is_ok());
    }
}
