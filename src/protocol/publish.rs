//! PUBLISH and its acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP).

use bytes::{BufMut, Bytes, BytesMut};

use super::framing::{
    MAX_REMAINING_LENGTH, Reader, put_binary, put_fixed_header, put_varint, varint_len,
};
use super::properties::{Properties, PropertyContext, id};
use super::{ByteStr, DecodeError, QoS, Version, read_packet_id, topic};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Empty only in an MQTT 5 PUBLISH that names its topic by alias.
    pub topic: ByteStr,
    /// 0 for QoS 0, non-zero otherwise.
    pub packet_id: u16,
    /// Boxed, and `None` when there are none: most publishes carry no properties and this
    /// struct travels through every queue.
    pub properties: Option<Box<Properties>>,
    /// The properties exactly as received (MQTT 5, without their length), so that the
    /// broker can pass them on in the publisher's order; empty for a PUBLISH built here.
    pub raw_properties: Bytes,
    pub payload: Bytes,
}

static NO_PROPERTIES: std::sync::LazyLock<Properties> =
    std::sync::LazyLock::new(Properties::default);

impl Publish {
    /// The properties, or an empty set.
    pub fn props(&self) -> &Properties {
        self.properties.as_deref().unwrap_or(&NO_PROPERTIES)
    }

    pub(super) fn decode(
        flags: u8,
        r: &mut Reader,
        version: Version,
    ) -> Result<Publish, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0x03).ok_or(DecodeError::Malformed("QoS 3"))?;
        // DUP on QoS 0 breaks [MQTT-3.3.1-2], but mosquitto accepts it and so do we: the
        // flag means nothing at QoS 0 and refusing it breaks clients that work today.
        let dup = flags & 0x08 != 0;
        let topic = r.string()?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            read_packet_id(r)?
        };
        let (properties, raw_properties) = if version == Version::V5 {
            let raw = r.peek_properties()?;
            let properties = Some(Properties::decode(r, PropertyContext::Publish)?)
                .filter(|p| !p.is_empty())
                .map(Box::new);
            (properties, raw)
        } else {
            (None, Bytes::new())
        };
        let aliased = properties.as_ref().is_some_and(|p| p.topic_alias.is_some());
        if !(topic.is_empty() && aliased) {
            topic::validate_name(&topic)?;
        }
        Ok(Publish {
            dup,
            qos,
            retain: flags & 0x01 != 0,
            topic,
            packet_id,
            properties,
            raw_properties,
            payload: r.rest(),
        })
    }

    /// Size of everything after the fixed header.
    pub fn remaining_len(&self, version: Version) -> usize {
        let packet_id = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let properties = if version == Version::V5 {
            self.props().encoded_len()
        } else {
            0
        };
        2 + self.topic.len() + packet_id + properties + self.payload.len()
    }

    /// The first byte: type, DUP, QoS and RETAIN.
    pub fn first_byte(&self) -> u8 {
        0x30 | u8::from(self.dup) << 3 | (self.qos as u8) << 1 | u8::from(self.retain)
    }

    /// Writes everything but the payload, so that a shared payload can follow without a copy.
    pub fn encode_header(&self, version: Version, out: &mut BytesMut) {
        let remaining_len = self.remaining_len(version);
        debug_assert!(remaining_len <= MAX_REMAINING_LENGTH);
        out.reserve(5 + remaining_len - self.payload.len());
        out.put_u8(self.first_byte());
        put_varint(out, remaining_len);
        put_binary(out, self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id);
        }
        if version == Version::V5 {
            self.props().encode(out);
        }
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        out.reserve(5 + self.remaining_len(version));
        self.encode_header(version, out);
        out.put_slice(&self.payload);
    }
}

/// A PUBLISH on its way to one subscriber, described by its parts: the broker encodes one
/// message for many subscribers, and only these parts differ between them. The properties
/// every copy shares are encoded once, by the caller, into `properties`.
#[derive(Clone, Copy, Debug)]
pub struct OutgoingPublish<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// Empty when an alias the subscriber already knows stands in for the topic.
    pub topic: &'a str,
    pub packet_id: u16,
    pub topic_alias: Option<u16>,
    /// What is left of the message's expiry interval, in seconds.
    pub message_expiry: Option<u32>,
    pub subscription_ids: &'a [u32],
    /// Encoded properties shared by every copy (MQTT 5 only).
    pub properties: &'a [u8],
    pub payload_len: usize,
}

impl OutgoingPublish<'_> {
    fn properties_len(&self) -> usize {
        self.topic_alias.map_or(0, |_| 3)
            + self.message_expiry.map_or(0, |_| 5)
            + self
                .subscription_ids
                .iter()
                .map(|&id| 1 + varint_len(id as usize))
                .sum::<usize>()
            + self.properties.len()
    }

    fn remaining_len(&self, version: Version) -> usize {
        let packet_id = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        let properties = if version == Version::V5 {
            let len = self.properties_len();
            varint_len(len) + len
        } else {
            0
        };
        2 + self.topic.len() + packet_id + properties + self.payload_len
    }

    /// Where the packet identifier sits in the encoded packet (QoS 1/2), so that a copy
    /// encoded once can be given each subscriber's identifier in place.
    pub fn packet_id_offset(&self, version: Version) -> usize {
        1 + varint_len(self.remaining_len(version)) + 2 + self.topic.len()
    }

    /// The size of the whole packet on the wire, to compare with a maximum packet size.
    pub fn packet_len(&self, version: Version) -> usize {
        let remaining = self.remaining_len(version);
        1 + varint_len(remaining) + remaining
    }

    /// Writes everything but the payload, which the caller appends (or queues by reference).
    pub fn encode_header(&self, version: Version, out: &mut BytesMut) {
        let remaining_len = self.remaining_len(version);
        out.reserve(5 + remaining_len - self.payload_len);
        out.put_u8(0x30 | u8::from(self.dup) << 3 | (self.qos as u8) << 1 | u8::from(self.retain));
        put_varint(out, remaining_len);
        put_binary(out, self.topic.as_bytes());
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id);
        }
        if version != Version::V5 {
            return;
        }
        put_varint(out, self.properties_len());
        if let Some(alias) = self.topic_alias {
            out.put_u8(id::TOPIC_ALIAS);
            out.put_u16(alias);
        }
        // mosquitto's order: the subscriber's identifiers, the publisher's properties as it
        // sent them, the expiry counted down.
        for &sub_id in self.subscription_ids {
            out.put_u8(id::SUBSCRIPTION_IDENTIFIER);
            put_varint(out, sub_id as usize);
        }
        out.put_slice(self.properties);
        if let Some(expiry) = self.message_expiry {
            out.put_u8(id::MESSAGE_EXPIRY_INTERVAL);
            out.put_u32(expiry);
        }
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: they share one layout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PubResp {
    pub packet_id: u16,
    /// MQTT 5 reason code; always success for earlier versions.
    pub reason: u8,
    pub properties: Properties,
}

impl PubResp {
    pub fn new(packet_id: u16) -> PubResp {
        PubResp {
            packet_id,
            ..PubResp::default()
        }
    }

    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<PubResp, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let mut resp = PubResp::new(packet_id);
        if version == Version::V5 && !r.is_empty() {
            resp.reason = r.u8()?;
            if !r.is_empty() {
                resp.properties = Properties::decode(r, PropertyContext::PubResp)?;
            }
        }
        Ok(resp)
    }

    pub(super) fn encode(&self, first_byte: u8, version: Version, out: &mut BytesMut) {
        let v5 = version == Version::V5;
        let with_properties = v5 && !self.properties.is_empty();
        let with_reason = v5 && (self.reason != 0 || with_properties);
        let len = 2
            + usize::from(with_reason)
            + if with_properties {
                self.properties.encoded_len()
            } else {
                0
            };
        put_fixed_header(out, first_byte, len);
        out.put_u16(self.packet_id);
        if with_reason {
            out.put_u8(self.reason);
        }
        if with_properties {
            self.properties.encode(out);
        }
    }
}
