//! MQTT 5 properties: the optional, typed fields that most 5.0 packets carry.
//!
//! One struct holds every property; which ones a packet may carry is checked against the
//! table in section 2.2.2.2 of the 5.0 spec when decoding, so the rest of the broker can read
//! fields without re-checking where they came from.

use bytes::{BufMut, Bytes, BytesMut};

use super::framing::{Reader, put_binary, put_varint, varint_len};
use super::{ByteStr, DecodeError};

/// Which packet (or part of one) a property list belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubResp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl PropertyContext {
    fn bit(self) -> u16 {
        1 << self as u16
    }
}

pub(super) mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0b;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1a;
    pub const SERVER_REFERENCE: u8 = 0x1c;
    pub const REASON_STRING: u8 = 0x1f;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2a;
}

/// The packets each property may appear in (spec table 2.2.2.2).
fn allowed_in(property: u8) -> u16 {
    use PropertyContext::*;
    let set = |contexts: &[PropertyContext]| contexts.iter().fold(0, |m, c| m | c.bit());
    match property {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::MESSAGE_EXPIRY_INTERVAL
        | id::CONTENT_TYPE
        | id::RESPONSE_TOPIC
        | id::CORRELATION_DATA => set(&[Publish, Will]),
        id::SUBSCRIPTION_IDENTIFIER => set(&[Publish, Subscribe]),
        id::SESSION_EXPIRY_INTERVAL => set(&[Connect, ConnAck, Disconnect]),
        id::ASSIGNED_CLIENT_IDENTIFIER
        | id::SERVER_KEEP_ALIVE
        | id::RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE => set(&[ConnAck]),
        id::AUTHENTICATION_METHOD | id::AUTHENTICATION_DATA => set(&[Connect, ConnAck, Auth]),
        id::REQUEST_PROBLEM_INFORMATION | id::REQUEST_RESPONSE_INFORMATION => set(&[Connect]),
        id::WILL_DELAY_INTERVAL => set(&[Will]),
        id::SERVER_REFERENCE => set(&[ConnAck, Disconnect]),
        id::REASON_STRING => set(&[ConnAck, PubResp, SubAck, UnsubAck, Disconnect, Auth]),
        id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::MAXIMUM_PACKET_SIZE => {
            set(&[Connect, ConnAck])
        }
        id::TOPIC_ALIAS => set(&[Publish]),
        id::USER_PROPERTY => u16::MAX,
        _ => 0,
    }
}

/// Every MQTT 5 property. Absent properties are `None` (or empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Properties {
    pub payload_format_indicator: Option<u8>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<ByteStr>,
    pub response_topic: Option<ByteStr>,
    pub correlation_data: Option<Bytes>,
    /// Several in a PUBLISH to a client (one per matching subscription); one in SUBSCRIBE.
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<ByteStr>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<ByteStr>,
    pub authentication_data: Option<Bytes>,
    pub request_problem_information: Option<u8>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<u8>,
    pub response_information: Option<ByteStr>,
    pub server_reference: Option<ByteStr>,
    pub reason_string: Option<ByteStr>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<u8>,
    pub retain_available: Option<u8>,
    /// In the order received: the spec requires them forwarded unchanged and in order.
    pub user_properties: Vec<(ByteStr, ByteStr)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<u8>,
    pub subscription_identifier_available: Option<u8>,
    pub shared_subscription_available: Option<u8>,
}

impl Properties {
    /// A copy that shares no bytes with the packet it was decoded from, for properties kept
    /// beyond the loop turn (a will's): a slice would keep the whole read buffer alive.
    pub fn detached(&self) -> Properties {
        let mut copy = self.clone();
        let texts = [
            &mut copy.content_type,
            &mut copy.response_topic,
            &mut copy.assigned_client_identifier,
            &mut copy.authentication_method,
            &mut copy.response_information,
            &mut copy.server_reference,
            &mut copy.reason_string,
        ];
        for text in texts.into_iter().flatten() {
            *text = ByteStr::from(text.as_str());
        }
        let binaries = [&mut copy.correlation_data, &mut copy.authentication_data];
        for bytes in binaries.into_iter().flatten() {
            *bytes = Bytes::copy_from_slice(bytes);
        }
        for (key, value) in &mut copy.user_properties {
            *key = ByteStr::from(key.as_str());
            *value = ByteStr::from(value.as_str());
        }
        copy
    }
}

/// Copies encoded properties (already validated by `Properties::decode`) except those whose
/// identifier `drop` selects, keeping the order they came in.
pub fn filter_encoded(raw: &[u8], drop: impl Fn(u8) -> bool, out: &mut BytesMut) {
    let mut pos = 0;
    while pos < raw.len() {
        let id = raw[pos];
        let Some(len) = value_len(id, &raw[pos + 1..]) else {
            debug_assert!(false, "properties are validated before they are filtered");
            return;
        };
        let end = (pos + 1 + len).min(raw.len());
        if !drop(id) {
            out.extend_from_slice(&raw[pos..end]);
        }
        pos = end;
    }
}

/// The size of a property's value, from its identifier and the bytes that follow it.
fn value_len(id: u8, value: &[u8]) -> Option<usize> {
    let prefixed = |at: usize| -> Option<usize> {
        let bytes = value.get(at..at + 2)?;
        Some(2 + usize::from(u16::from_be_bytes([bytes[0], bytes[1]])))
    };
    Some(match id {
        id::PAYLOAD_FORMAT_INDICATOR
        | id::REQUEST_PROBLEM_INFORMATION
        | id::REQUEST_RESPONSE_INFORMATION
        | id::MAXIMUM_QOS
        | id::RETAIN_AVAILABLE
        | id::WILDCARD_SUBSCRIPTION_AVAILABLE
        | id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | id::SHARED_SUBSCRIPTION_AVAILABLE => 1,
        id::SERVER_KEEP_ALIVE | id::RECEIVE_MAXIMUM | id::TOPIC_ALIAS_MAXIMUM | id::TOPIC_ALIAS => {
            2
        }
        id::MESSAGE_EXPIRY_INTERVAL
        | id::SESSION_EXPIRY_INTERVAL
        | id::WILL_DELAY_INTERVAL
        | id::MAXIMUM_PACKET_SIZE => 4,
        id::SUBSCRIPTION_IDENTIFIER => {
            1 + value.iter().take(3).take_while(|&&b| b & 0x80 != 0).count()
        }
        id::USER_PROPERTY => {
            let key = prefixed(0)?;
            key + prefixed(key)?
        }
        _ => prefixed(0)?,
    })
}

/// Stores a property that may appear only once.
fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateProperty);
    }
    *slot = Some(value);
    Ok(())
}

/// A string property. Bad UTF-8 in one is malformed, but of its own kind: mosquitto's
/// MALFORMED_UTF8, which its handlers pass on without a DISCONNECT, where they answer bad
/// UTF-8 in a topic or filter with 0x81.
fn text(r: &mut Reader) -> Result<ByteStr, DecodeError> {
    ByteStr::from_utf8(r.binary()?).map_err(|_| DecodeError::Utf8InProperty)
}

/// Reads a property that the spec restricts to 0 or 1.
fn read_flag(r: &mut Reader) -> Result<u8, DecodeError> {
    match r.u8()? {
        v @ (0 | 1) => Ok(v),
        _ => Err(DecodeError::Protocol("property value must be 0 or 1")),
    }
}

impl Properties {
    pub fn is_empty(&self) -> bool {
        *self == Properties::default()
    }

    /// Reads a property length and the properties that follow it.
    pub fn decode(r: &mut Reader, context: PropertyContext) -> Result<Properties, DecodeError> {
        let len = r.varint()? as usize;
        let mut r = Reader::new(r.bytes(len)?);
        let mut p = Properties::default();
        while !r.is_empty() {
            let property = r.varint()?;
            let property = u8::try_from(property)
                .map_err(|_| DecodeError::Malformed("unknown property identifier"))?;
            if allowed_in(property) & context.bit() == 0 {
                return Err(DecodeError::Malformed(
                    "property not allowed in this packet",
                ));
            }
            p.decode_one(property, &mut r, context)?;
        }
        Ok(p)
    }

    fn decode_one(
        &mut self,
        property: u8,
        r: &mut Reader,
        context: PropertyContext,
    ) -> Result<(), DecodeError> {
        match property {
            // Only 0 and 1 mean something, but mosquitto passes any value on, and so do we.
            id::PAYLOAD_FORMAT_INDICATOR => set_once(&mut self.payload_format_indicator, r.u8()?),
            id::MESSAGE_EXPIRY_INTERVAL => set_once(&mut self.message_expiry_interval, r.u32()?),
            id::CONTENT_TYPE => set_once(&mut self.content_type, text(r)?),
            id::RESPONSE_TOPIC => set_once(&mut self.response_topic, text(r)?),
            id::CORRELATION_DATA => set_once(&mut self.correlation_data, r.binary()?),
            id::SUBSCRIPTION_IDENTIFIER => {
                let value = r.varint()?;
                if value == 0 {
                    // A protocol error in the spec's words; mosquitto answers 0x81, as do we.
                    return Err(DecodeError::Malformed("subscription identifier 0"));
                }
                if context == PropertyContext::Subscribe
                    && !self.subscription_identifiers.is_empty()
                {
                    return Err(DecodeError::DuplicateProperty);
                }
                self.subscription_identifiers.push(value);
                Ok(())
            }
            id::SESSION_EXPIRY_INTERVAL => set_once(&mut self.session_expiry_interval, r.u32()?),
            id::ASSIGNED_CLIENT_IDENTIFIER => {
                set_once(&mut self.assigned_client_identifier, text(r)?)
            }
            id::SERVER_KEEP_ALIVE => set_once(&mut self.server_keep_alive, r.u16()?),
            id::AUTHENTICATION_METHOD => set_once(&mut self.authentication_method, text(r)?),
            id::AUTHENTICATION_DATA => set_once(&mut self.authentication_data, r.binary()?),
            id::REQUEST_PROBLEM_INFORMATION => {
                set_once(&mut self.request_problem_information, read_flag(r)?)
            }
            id::WILL_DELAY_INTERVAL => set_once(&mut self.will_delay_interval, r.u32()?),
            id::REQUEST_RESPONSE_INFORMATION => {
                set_once(&mut self.request_response_information, read_flag(r)?)
            }
            id::RESPONSE_INFORMATION => set_once(&mut self.response_information, text(r)?),
            id::SERVER_REFERENCE => set_once(&mut self.server_reference, text(r)?),
            id::REASON_STRING => set_once(&mut self.reason_string, text(r)?),
            id::RECEIVE_MAXIMUM => match r.u16()? {
                0 => Err(DecodeError::Protocol("receive maximum 0")),
                v => set_once(&mut self.receive_maximum, v),
            },
            id::TOPIC_ALIAS_MAXIMUM => set_once(&mut self.topic_alias_maximum, r.u16()?),
            id::TOPIC_ALIAS => set_once(&mut self.topic_alias, r.u16()?),
            id::MAXIMUM_QOS => set_once(&mut self.maximum_qos, read_flag(r)?),
            id::RETAIN_AVAILABLE => set_once(&mut self.retain_available, read_flag(r)?),
            id::USER_PROPERTY => {
                let pair = (text(r)?, text(r)?);
                self.user_properties.push(pair);
                Ok(())
            }
            id::MAXIMUM_PACKET_SIZE => match r.u32()? {
                0 => Err(DecodeError::Protocol("maximum packet size 0")),
                v => set_once(&mut self.maximum_packet_size, v),
            },
            id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                set_once(&mut self.wildcard_subscription_available, read_flag(r)?)
            }
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                set_once(&mut self.subscription_identifier_available, read_flag(r)?)
            }
            id::SHARED_SUBSCRIPTION_AVAILABLE => {
                set_once(&mut self.shared_subscription_available, read_flag(r)?)
            }
            _ => Err(DecodeError::Malformed("unknown property identifier")),
        }
    }

    /// Bytes the properties take, without the property length in front.
    pub fn body_len(&self) -> usize {
        let string = |s: &Option<ByteStr>| s.as_ref().map_or(0, |s| 3 + s.len());
        let binary = |b: &Option<Bytes>| b.as_ref().map_or(0, |b| 3 + b.len());
        let fixed = |present: bool, size: usize| if present { 1 + size } else { 0 };
        fixed(self.payload_format_indicator.is_some(), 1)
            + fixed(self.message_expiry_interval.is_some(), 4)
            + string(&self.content_type)
            + string(&self.response_topic)
            + binary(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|&v| 1 + varint_len(v as usize))
                .sum::<usize>()
            + fixed(self.session_expiry_interval.is_some(), 4)
            + string(&self.assigned_client_identifier)
            + fixed(self.server_keep_alive.is_some(), 2)
            + string(&self.authentication_method)
            + binary(&self.authentication_data)
            + fixed(self.request_problem_information.is_some(), 1)
            + fixed(self.will_delay_interval.is_some(), 4)
            + fixed(self.request_response_information.is_some(), 1)
            + string(&self.response_information)
            + string(&self.server_reference)
            + string(&self.reason_string)
            + fixed(self.receive_maximum.is_some(), 2)
            + fixed(self.topic_alias_maximum.is_some(), 2)
            + fixed(self.topic_alias.is_some(), 2)
            + fixed(self.maximum_qos.is_some(), 1)
            + fixed(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 5 + k.len() + v.len())
                .sum::<usize>()
            + fixed(self.maximum_packet_size.is_some(), 4)
            + fixed(self.wildcard_subscription_available.is_some(), 1)
            + fixed(self.subscription_identifier_available.is_some(), 1)
            + fixed(self.shared_subscription_available.is_some(), 1)
    }

    /// Bytes the properties take on the wire, property length included.
    pub fn encoded_len(&self) -> usize {
        let body = self.body_len();
        varint_len(body) + body
    }

    /// Writes the property length and the properties.
    pub fn encode(&self, out: &mut BytesMut) {
        put_varint(out, self.body_len());
        self.encode_body(out);
    }

    /// Writes the properties without their length, for callers that add more of their own.
    pub fn encode_body(&self, out: &mut BytesMut) {
        fn text(s: &Option<ByteStr>) -> Option<&[u8]> {
            s.as_ref().map(|s| &s.as_bytes()[..])
        }
        let byte = |out: &mut BytesMut, id: u8, v: Option<u8>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u8(v);
            }
        };
        let two = |out: &mut BytesMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u16(v);
            }
        };
        let four = |out: &mut BytesMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u32(v);
            }
        };
        let data = |out: &mut BytesMut, id: u8, v: Option<&[u8]>| {
            if let Some(v) = v {
                out.put_u8(id);
                put_binary(out, v);
            }
        };
        // CONNACK's properties first, in the order mosquitto writes them, so that our CONNACK
        // is byte for byte the one clients got from the broker we replace.
        two(out, id::TOPIC_ALIAS_MAXIMUM, self.topic_alias_maximum);
        two(out, id::SERVER_KEEP_ALIVE, self.server_keep_alive);
        data(
            out,
            id::ASSIGNED_CLIENT_IDENTIFIER,
            text(&self.assigned_client_identifier),
        );
        byte(out, id::RETAIN_AVAILABLE, self.retain_available);
        four(out, id::MAXIMUM_PACKET_SIZE, self.maximum_packet_size);
        two(out, id::RECEIVE_MAXIMUM, self.receive_maximum);
        byte(out, id::MAXIMUM_QOS, self.maximum_qos);
        byte(
            out,
            id::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format_indicator,
        );
        four(
            out,
            id::MESSAGE_EXPIRY_INTERVAL,
            self.message_expiry_interval,
        );
        data(out, id::CONTENT_TYPE, text(&self.content_type));
        data(out, id::RESPONSE_TOPIC, text(&self.response_topic));
        data(out, id::CORRELATION_DATA, self.correlation_data.as_deref());
        for &v in &self.subscription_identifiers {
            out.put_u8(id::SUBSCRIPTION_IDENTIFIER);
            put_varint(out, v as usize);
        }
        four(
            out,
            id::SESSION_EXPIRY_INTERVAL,
            self.session_expiry_interval,
        );
        data(
            out,
            id::AUTHENTICATION_METHOD,
            text(&self.authentication_method),
        );
        data(
            out,
            id::AUTHENTICATION_DATA,
            self.authentication_data.as_deref(),
        );
        byte(
            out,
            id::REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        four(out, id::WILL_DELAY_INTERVAL, self.will_delay_interval);
        byte(
            out,
            id::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        data(
            out,
            id::RESPONSE_INFORMATION,
            text(&self.response_information),
        );
        data(out, id::SERVER_REFERENCE, text(&self.server_reference));
        data(out, id::REASON_STRING, text(&self.reason_string));
        two(out, id::TOPIC_ALIAS, self.topic_alias);
        for (k, v) in &self.user_properties {
            out.put_u8(id::USER_PROPERTY);
            put_binary(out, k.as_bytes());
            put_binary(out, v.as_bytes());
        }
        byte(
            out,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        byte(
            out,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifier_available,
        );
        byte(
            out,
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(p: &Properties, context: PropertyContext) -> Properties {
        let mut out = BytesMut::new();
        p.encode(&mut out);
        assert_eq!(out.len(), p.encoded_len());
        let mut r = Reader::new(out.freeze());
        let back = Properties::decode(&mut r, context).unwrap();
        assert!(r.is_empty());
        back
    }

    #[test]
    fn detached_properties_share_no_bytes_with_the_packet() {
        let p = Properties {
            content_type: Some(ByteStr::from("text/plain")),
            response_topic: Some(ByteStr::from("reply/here")),
            correlation_data: Some(Bytes::from_static(b"1234")),
            user_properties: vec![(ByteStr::from("k"), ByteStr::from("v"))],
            will_delay_interval: Some(5),
            ..Properties::default()
        };
        let mut out = BytesMut::new();
        p.encode(&mut out);
        let packet = out.freeze();
        let range = packet.as_ptr_range();
        let decoded = Properties::decode(&mut Reader::new(packet.clone()), PropertyContext::Will);
        let detached = decoded.unwrap().detached();
        assert_eq!(detached, p);
        let (k, v) = &detached.user_properties[0];
        let fields: [&[u8]; 5] = [
            detached.content_type.as_ref().unwrap().as_bytes(),
            detached.response_topic.as_ref().unwrap().as_bytes(),
            detached.correlation_data.as_ref().unwrap(),
            k.as_bytes(),
            v.as_bytes(),
        ];
        for field in fields {
            assert!(
                !range.contains(&field.as_ptr()),
                "{field:?} still in the packet"
            );
        }
    }

    #[test]
    fn publish_properties_round_trip_with_user_properties_in_order() {
        let p = Properties {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(60),
            content_type: Some("text/plain".into()),
            response_topic: Some("reply/here".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            subscription_identifiers: vec![1, 268_435_455],
            topic_alias: Some(3),
            user_properties: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
            ..Properties::default()
        };
        assert_eq!(round_trip(&p, PropertyContext::Publish), p);
    }

    #[test]
    fn connack_properties_round_trip() {
        let p = Properties {
            session_expiry_interval: Some(u32::MAX),
            assigned_client_identifier: Some("auto-1".into()),
            server_keep_alive: Some(30),
            receive_maximum: Some(100),
            topic_alias_maximum: Some(10),
            maximum_qos: Some(1),
            retain_available: Some(0),
            maximum_packet_size: Some(1024),
            wildcard_subscription_available: Some(1),
            subscription_identifier_available: Some(1),
            shared_subscription_available: Some(1),
            reason_string: Some("why".into()),
            server_reference: Some("elsewhere".into()),
            response_information: Some("info".into()),
            authentication_method: Some("SCRAM".into()),
            authentication_data: Some(Bytes::from_static(b"x")),
            ..Properties::default()
        };
        assert_eq!(round_trip(&p, PropertyContext::ConnAck), p);
    }

    fn decode_raw(body: &[u8], context: PropertyContext) -> Result<Properties, DecodeError> {
        let mut bytes = vec![body.len() as u8];
        bytes.extend_from_slice(body);
        Properties::decode(&mut Reader::new(Bytes::from(bytes)), context)
    }

    #[test]
    fn a_property_in_the_wrong_packet_is_malformed() {
        // Topic alias (0x23) belongs in PUBLISH, not CONNECT.
        assert!(matches!(
            decode_raw(&[0x23, 0x00, 0x01], PropertyContext::Connect),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn a_repeated_single_property_is_a_duplicate() {
        let twice = [0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
        assert_eq!(
            decode_raw(&twice, PropertyContext::Publish),
            Err(DecodeError::DuplicateProperty)
        );
    }

    #[test]
    fn out_of_range_values_are_protocol_errors() {
        let cases: [(&[u8], PropertyContext); 3] = [
            (&[0x21, 0x00, 0x00], PropertyContext::Connect), // receive maximum 0
            (&[0x27, 0, 0, 0, 0], PropertyContext::Connect), // maximum packet size 0
            (&[0x17, 0x02], PropertyContext::Connect),       // request problem info 2
        ];
        for (body, context) in cases {
            assert!(
                matches!(decode_raw(body, context), Err(DecodeError::Protocol(_))),
                "{body:?} should be a protocol error"
            );
        }
    }

    #[test]
    fn subscription_identifier_0_is_malformed_as_mosquitto_says() {
        assert!(matches!(
            decode_raw(&[0x0b, 0x00], PropertyContext::Subscribe),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn filtering_keeps_the_order_and_drops_what_is_asked() {
        let p = Properties {
            message_expiry_interval: Some(5),
            content_type: Some("c".into()),
            subscription_identifiers: vec![200],
            topic_alias: Some(1),
            user_properties: vec![("k".into(), "v".into())],
            ..Properties::default()
        };
        let mut raw = BytesMut::new();
        p.encode_body(&mut raw);
        let mut out = BytesMut::new();
        filter_encoded(&raw, |id| matches!(id, 0x02 | 0x0b | 0x23), &mut out);
        let kept = Properties {
            content_type: p.content_type.clone(),
            user_properties: p.user_properties.clone(),
            ..Properties::default()
        };
        let mut expected = BytesMut::new();
        kept.encode_body(&mut expected);
        assert_eq!(out, expected);
    }

    #[test]
    fn unknown_property_identifiers_are_malformed() {
        assert!(matches!(
            decode_raw(&[0x7f, 0x00], PropertyContext::Publish),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn a_property_length_beyond_the_packet_is_malformed() {
        let mut r = Reader::new(Bytes::from_static(&[0x05, 0x01]));
        assert!(matches!(
            Properties::decode(&mut r, PropertyContext::Publish),
            Err(DecodeError::Malformed(_))
        ));
    }
}
