//! SUBSCRIBE, SUBACK, UNSUBSCRIBE and UNSUBACK.

use bytes::{BufMut, BytesMut};

use super::framing::{Reader, put_binary, put_fixed_header};
use super::properties::{Properties, PropertyContext};
use super::{ByteStr, DecodeError, QoS, Version, read_packet_id, topic};

/// When retained messages are sent for a new subscription (MQTT 5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RetainHandling {
    #[default]
    OnSubscribe = 0,
    OnNewSubscription = 1,
    Never = 2,
}

/// The options byte that follows each filter in SUBSCRIBE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubOptions {
    pub fn qos(qos: QoS) -> SubOptions {
        SubOptions {
            qos,
            ..SubOptions::default()
        }
    }

    /// The options as MQTT 5 encodes them in one byte, and back: how persistence stores them.
    pub fn to_byte(self) -> u8 {
        self.encode(Version::V5)
    }

    pub fn from_byte(byte: u8) -> Option<SubOptions> {
        SubOptions::decode(byte, Version::V5).ok()
    }

    fn decode(byte: u8, version: Version) -> Result<SubOptions, DecodeError> {
        let qos = QoS::from_u8(byte & 0x03).ok_or(DecodeError::Malformed("subscription QoS 3"))?;
        let reserved = if version == Version::V5 { 0xc0 } else { 0xfc };
        if byte & reserved != 0 {
            return Err(DecodeError::Malformed(
                "reserved subscription option bits are set",
            ));
        }
        let retain_handling = match (byte >> 4) & 0x03 {
            0 => RetainHandling::OnSubscribe,
            1 => RetainHandling::OnNewSubscription,
            2 => RetainHandling::Never,
            _ => return Err(DecodeError::Malformed("retain handling 3")),
        };
        Ok(SubOptions {
            qos,
            no_local: byte & 0x04 != 0,
            retain_as_published: byte & 0x08 != 0,
            retain_handling,
        })
    }

    fn encode(&self, version: Version) -> u8 {
        let mut byte = self.qos as u8;
        if version == Version::V5 {
            byte |= u8::from(self.no_local) << 2
                | u8::from(self.retain_as_published) << 3
                | (self.retain_handling as u8) << 4;
        }
        byte
    }
}

fn properties_len(properties: &Properties, version: Version) -> usize {
    if version == Version::V5 {
        properties.encoded_len()
    } else {
        0
    }
}

fn decode_properties(
    r: &mut Reader,
    version: Version,
    context: PropertyContext,
) -> Result<Properties, DecodeError> {
    if version == Version::V5 {
        Properties::decode(r, context)
    } else {
        Ok(Properties::default())
    }
}

fn read_filter(r: &mut Reader) -> Result<ByteStr, DecodeError> {
    let filter = r.string()?;
    topic::validate_filter(&filter)?;
    Ok(filter)
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscribe {
    pub packet_id: u16,
    pub filters: Vec<(ByteStr, SubOptions)>,
    pub properties: Properties,
}

impl Subscribe {
    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<Subscribe, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = decode_properties(r, version, PropertyContext::Subscribe)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            let filter = read_filter(r)?;
            filters.push((filter, SubOptions::decode(r.u8()?, version)?));
        }
        if filters.is_empty() {
            return Err(DecodeError::Malformed("SUBSCRIBE without a topic filter"));
        }
        Ok(Subscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let filters: usize = self.filters.iter().map(|(f, _)| 3 + f.len()).sum();
        put_fixed_header(
            out,
            0x82,
            2 + properties_len(&self.properties, version) + filters,
        );
        out.put_u16(self.packet_id);
        if version == Version::V5 {
            self.properties.encode(out);
        }
        for (filter, options) in &self.filters {
            put_binary(out, filter.as_bytes());
            out.put_u8(options.encode(version));
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    /// One per filter: the granted QoS, or a failure code (0x80 and up).
    pub return_codes: Vec<u8>,
    pub properties: Properties,
}

impl SubAck {
    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<SubAck, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = decode_properties(r, version, PropertyContext::SubAck)?;
        let return_codes = r.rest().to_vec();
        if return_codes.is_empty() {
            return Err(DecodeError::Protocol("SUBACK without a return code"));
        }
        Ok(SubAck {
            packet_id,
            return_codes,
            properties,
        })
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let len = 2 + properties_len(&self.properties, version) + self.return_codes.len();
        put_fixed_header(out, 0x90, len);
        out.put_u16(self.packet_id);
        if version == Version::V5 {
            self.properties.encode(out);
        }
        out.put_slice(&self.return_codes);
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<ByteStr>,
    pub properties: Properties,
}

impl Unsubscribe {
    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<Unsubscribe, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = decode_properties(r, version, PropertyContext::Unsubscribe)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            filters.push(read_filter(r)?);
        }
        if filters.is_empty() {
            return Err(DecodeError::Malformed("UNSUBSCRIBE without a topic filter"));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let filters: usize = self.filters.iter().map(|f| 2 + f.len()).sum();
        put_fixed_header(
            out,
            0xa2,
            2 + properties_len(&self.properties, version) + filters,
        );
        out.put_u16(self.packet_id);
        if version == Version::V5 {
            self.properties.encode(out);
        }
        for filter in &self.filters {
            put_binary(out, filter.as_bytes());
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    /// One per filter in MQTT 5; absent in earlier versions.
    pub reason_codes: Vec<u8>,
    pub properties: Properties,
}

impl UnsubAck {
    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<UnsubAck, DecodeError> {
        let packet_id = read_packet_id(r)?;
        let properties = decode_properties(r, version, PropertyContext::UnsubAck)?;
        // Only MQTT 5 has reason codes; in 3.1.1 anything after the packet id is left over,
        // and so malformed.
        let reason_codes = if version == Version::V5 {
            r.rest().to_vec()
        } else {
            Vec::new()
        };
        Ok(UnsubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let v5 = version == Version::V5;
        let codes = if v5 { self.reason_codes.len() } else { 0 };
        put_fixed_header(
            out,
            0xb0,
            2 + properties_len(&self.properties, version) + codes,
        );
        out.put_u16(self.packet_id);
        if v5 {
            self.properties.encode(out);
            out.put_slice(&self.reason_codes);
        }
    }
}
