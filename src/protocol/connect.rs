//! CONNECT and CONNACK, and the will a CONNECT may carry.

use bytes::{BufMut, Bytes, BytesMut};

use super::framing::{Reader, put_binary, put_fixed_header, put_varint, varint_len};
use super::properties::{Properties, PropertyContext};
use super::topic;
use super::{ByteStr, DecodeError, QoS, Version};

/// The message a broker publishes for a client whose connection ends without DISCONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    pub topic: ByteStr,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub properties: Properties,
    /// The will properties exactly as received (MQTT 5, without their length), so that the
    /// broker can pass them on in the client's order; empty for a will built here.
    pub raw_properties: Bytes,
}

impl Will {
    /// A will read back from disk: its properties are parsed again from their raw form,
    /// as they were from the CONNECT. `None` for properties a will may not have, which
    /// only a damaged file holds.
    pub fn restored(
        topic: ByteStr,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        raw_properties: Bytes,
    ) -> Option<Will> {
        let mut framed = BytesMut::with_capacity(raw_properties.len() + 4);
        put_varint(&mut framed, raw_properties.len());
        framed.extend_from_slice(&raw_properties);
        let properties =
            Properties::decode(&mut Reader::new(framed.freeze()), PropertyContext::Will).ok()?;
        Some(Will {
            topic,
            payload,
            qos,
            retain,
            properties,
            raw_properties,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    pub version: Version,
    /// "Clean session" in 3.1/3.1.1, "clean start" in 5.0.
    pub clean_start: bool,
    pub keep_alive: u16,
    pub client_id: ByteStr,
    pub will: Option<Will>,
    pub username: Option<ByteStr>,
    pub password: Option<Bytes>,
    pub properties: Properties,
}

mod flag {
    pub const RESERVED: u8 = 0x01;
    pub const CLEAN_START: u8 = 0x02;
    pub const WILL: u8 = 0x04;
    pub const WILL_QOS_SHIFT: u8 = 3;
    pub const WILL_RETAIN: u8 = 0x20;
    pub const PASSWORD: u8 = 0x40;
    pub const USERNAME: u8 = 0x80;
}

impl Connect {
    pub(super) fn decode(r: &mut Reader) -> Result<Connect, DecodeError> {
        let name = r.binary()?;
        // Bridges set the top bit of the level (mosquitto's "try_private"); it is not a version.
        let level = r.u8()? & 0x7f;
        let version = match (&name[..], level) {
            (b"MQIsdp", 3) => Version::V31,
            (b"MQTT", 4) => Version::V311,
            (b"MQTT", 5) => Version::V5,
            (b"MQIsdp" | b"MQTT", _) => return Err(DecodeError::UnsupportedVersion(level)),
            _ => {
                return Err(DecodeError::InvalidProtocolName(
                    String::from_utf8_lossy(&name).into_owned(),
                ));
            }
        };
        let flags = r.u8()?;
        // MQTT 3.1 did not reserve the bit yet; mosquitto ignores it there.
        if flags & flag::RESERVED != 0 && version != Version::V31 {
            return Err(DecodeError::Malformed("reserved CONNECT flag is set"));
        }
        let will_qos = QoS::from_u8((flags >> flag::WILL_QOS_SHIFT) & 0x03)
            .ok_or(DecodeError::Malformed("will QoS 3"))?;
        let has_will = flags & flag::WILL != 0;
        if !has_will && (will_qos != QoS::AtMostOnce || flags & flag::WILL_RETAIN != 0) {
            return Err(DecodeError::Malformed(
                "will QoS or retain set without a will",
            ));
        }
        let has_username = flags & flag::USERNAME != 0;
        let has_password = flags & flag::PASSWORD != 0;
        if has_password && !has_username && version != Version::V5 {
            return Err(DecodeError::Protocol("password without username"));
        }
        let keep_alive = r.u16()?;
        let properties = if version == Version::V5 {
            Properties::decode(r, PropertyContext::Connect)?
        } else {
            Properties::default()
        };
        let client_id = r.string()?;
        let will = if has_will {
            let (properties, raw_properties) = if version == Version::V5 {
                let raw = r.peek_properties()?;
                (Properties::decode(r, PropertyContext::Will)?, raw)
            } else {
                (Properties::default(), Bytes::new())
            };
            let topic = r.string()?;
            topic::validate_name(&topic)?;
            Some(Will {
                topic,
                payload: r.binary()?,
                qos: will_qos,
                retain: flags & flag::WILL_RETAIN != 0,
                properties,
                raw_properties,
            })
        } else {
            None
        };
        let username = has_username.then(|| r.string()).transpose()?;
        let password = has_password.then(|| r.binary()).transpose()?;
        Ok(Connect {
            version,
            clean_start: flags & flag::CLEAN_START != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    pub fn encode(&self, out: &mut BytesMut) {
        let v5 = self.version == Version::V5;
        let name: &[u8] = if self.version == Version::V31 {
            b"MQIsdp"
        } else {
            b"MQTT"
        };
        let props_len = |p: &Properties| if v5 { p.encoded_len() } else { 0 };
        let mut len = 2 + name.len() + 1 + 1 + 2 + props_len(&self.properties);
        len += 2 + self.client_id.len();
        if let Some(will) = &self.will {
            len += props_len(&will.properties) + 2 + will.topic.len() + 2 + will.payload.len();
        }
        len += self.username.as_ref().map_or(0, |u| 2 + u.len());
        len += self.password.as_ref().map_or(0, |p| 2 + p.len());

        let mut flags = 0;
        if self.clean_start {
            flags |= flag::CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= flag::WILL | (will.qos as u8) << flag::WILL_QOS_SHIFT;
            if will.retain {
                flags |= flag::WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= flag::USERNAME;
        }
        if self.password.is_some() {
            flags |= flag::PASSWORD;
        }

        put_fixed_header(out, 0x10, len);
        put_binary(out, name);
        out.put_u8(self.version as u8);
        out.put_u8(flags);
        out.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(out);
        }
        put_binary(out, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                will.properties.encode(out);
            }
            put_binary(out, will.topic.as_bytes());
            put_binary(out, &will.payload);
        }
        if let Some(username) = &self.username {
            put_binary(out, username.as_bytes());
        }
        if let Some(password) = &self.password {
            put_binary(out, password);
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    /// A 3.1/3.1.1 return code or a 5.0 reason code, depending on the connection's version.
    pub code: u8,
    pub properties: Properties,
}

impl ConnAck {
    pub fn new(session_present: bool, code: u8) -> ConnAck {
        ConnAck {
            session_present,
            code,
            properties: Properties::default(),
        }
    }

    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<ConnAck, DecodeError> {
        let flags = r.u8()?;
        if flags & !0x01 != 0 {
            return Err(DecodeError::Malformed("reserved CONNACK flags are set"));
        }
        let code = r.u8()?;
        let properties = if version == Version::V5 {
            Properties::decode(r, PropertyContext::ConnAck)?
        } else {
            Properties::default()
        };
        Ok(ConnAck {
            session_present: flags & 0x01 != 0,
            code,
            properties,
        })
    }

    /// The size of the whole packet on the wire, to compare with a maximum packet size.
    pub fn packet_len(&self, version: Version) -> usize {
        let remaining = 2 + self.properties_len(version);
        1 + varint_len(remaining) + remaining
    }

    fn properties_len(&self, version: Version) -> usize {
        if version == Version::V5 {
            self.properties.encoded_len()
        } else {
            0
        }
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        let v5 = version == Version::V5;
        put_fixed_header(out, 0x20, 2 + self.properties_len(version));
        out.put_u8(u8::from(self.session_present));
        out.put_u8(self.code);
        if v5 {
            self.properties.encode(out);
        }
    }
}
