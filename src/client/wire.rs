//! What the codec's `Properties` forgets: the order properties came in. mosquitto_sub's JSON
//! output (`-F %j`) lists a message's properties in wire order, so the client notes it from
//! the raw PUBLISH before decoding it.

use crate::protocol::framing::parse_fixed_header;

const PUBLISH: u8 = 3;

/// The property identifiers of the complete PUBLISH at the start of `buf`, in wire order and
/// repeated as often as they occur. Empty for anything else; malformed bytes are for the
/// decoder to report.
pub fn publish_property_order(buf: &[u8]) -> Vec<u8> {
    scan(buf).unwrap_or_default()
}

fn scan(buf: &[u8]) -> Option<Vec<u8>> {
    let header = parse_fixed_header(buf).ok()??;
    if header.packet_type() != PUBLISH || buf.len() < header.total_len() {
        return None;
    }
    let mut r = Cursor(&buf[header.header_len..header.total_len()]);
    let topic_len = r.u16()?;
    r.skip(usize::from(topic_len))?;
    if (header.flags() >> 1) & 0x03 != 0 {
        r.skip(2)?; // packet id
    }
    let len = r.varint()?;
    let mut props = Cursor(r.take(len)?);
    let mut order = Vec::new();
    while !props.0.is_empty() {
        let id = u8::try_from(props.varint()?).ok()?;
        order.push(id);
        match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2a => props.skip(1)?,
            0x13 | 0x21 | 0x22 | 0x23 => props.skip(2)?,
            0x02 | 0x11 | 0x18 | 0x27 => props.skip(4)?,
            0x0b => props.varint().map(|_| ())?,
            0x26 => {
                for _ in 0..2 {
                    let n = props.u16()?;
                    props.skip(usize::from(n))?;
                }
            }
            _ => {
                let n = props.u16()?;
                props.skip(usize::from(n))?;
            }
        }
    }
    Some(order)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    fn varint(&mut self) -> Option<usize> {
        let mut value = 0usize;
        for i in 0..4 {
            let byte = *self.take(1)?.first()?;
            value |= usize::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ByteStr, Packet, Properties, Publish, QoS, Version};
    use bytes::BytesMut;

    #[test]
    fn lists_properties_in_wire_order() {
        let props = Properties {
            content_type: Some(ByteStr::from("text/plain")),
            user_properties: vec![
                (ByteStr::from("a"), ByteStr::from("1")),
                (ByteStr::from("b"), ByteStr::from("2")),
            ],
            subscription_identifiers: vec![300],
            message_expiry_interval: Some(9),
            ..Properties::default()
        };
        let publish = Publish {
            qos: QoS::AtLeastOnce,
            packet_id: 7,
            topic: ByteStr::from("t"),
            properties: Some(Box::new(props)),
            payload: bytes::Bytes::from_static(b"x"),
            ..Publish::default()
        };
        let mut out = BytesMut::new();
        Packet::Publish(publish).encode(Version::V5, &mut out);
        // The codec writes in its own order; what matters is that we read back what is there.
        assert_eq!(
            publish_property_order(&out),
            vec![0x02, 0x03, 0x0b, 0x26, 0x26]
        );
        assert!(publish_property_order(&out[..out.len() - 1]).is_empty());
        assert!(publish_property_order(&[0x20, 0x02, 0, 0]).is_empty());
    }
}
