//! The MQTT wire format, versions 3.1, 3.1.1 and 5.0: every packet type, decoded
//! incrementally from a `BytesMut` and encoded into one.
//!
//! Decoding never copies a payload, topic or string: they are slices of the frame they
//! arrived in (`Bytes`, `ByteStr`). It never allocates what a peer merely claims: a packet is
//! parsed only once all its bytes have arrived, and a claimed size over the limit is refused
//! before any of it is buffered. Everything the specs call malformed or a protocol error is
//! rejected here, so the broker above deals only in valid packets; the rules that depend on
//! session state (a second CONNECT, a packet before CONNECT) live in the broker.

mod byte_str;
mod connect;
mod control;
pub mod framing;
mod properties;
mod publish;
mod subscribe;
pub mod topic;

pub use byte_str::ByteStr;
pub use connect::{ConnAck, Connect, Will};
pub use control::{Auth, Disconnect};
pub use properties::{Properties, PropertyContext, filter_encoded};
pub use publish::{OutgoingPublish, PubResp, Publish};
pub use subscribe::{RetainHandling, SubAck, SubOptions, Subscribe, UnsubAck, Unsubscribe};

use bytes::{Buf, Bytes, BytesMut};

use framing::{FixedHeader, Reader, parse_fixed_header};

/// The protocol level a client speaks, from its CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V31 = 3,
    V311 = 4,
    V5 = 5,
}

impl Version {
    /// mosquitto's log notation: `p1` for 3.1, `p2` for 3.1.1, `p5` for 5.0.
    pub fn log_name(self) -> &'static str {
        match self {
            Version::V31 => "p1",
            Version::V311 => "p2",
            Version::V5 => "p5",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// Why a byte stream could not be decoded, in the kinds mosquitto 2.0.11 tells apart: each
/// has the MQTT 5 reason code it stands for, and whether the client is told it before the
/// close depends also on the packet at fault (see `broker/close.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Bytes that cannot be a valid packet (0x81).
    Malformed(&'static str),
    /// A well-formed packet that breaks a rule of the protocol (0x82).
    Protocol(&'static str),
    /// A fixed header that cannot be read (a remaining length over four bytes), so no
    /// packet type can be trusted: malformed (0x81), and mosquitto closes without a word.
    FixedHeader(&'static str),
    /// A property that may appear once appears again: a protocol error (0x82), which
    /// mosquitto (its MOSQ_ERR_DUPLICATE_PROPERTY) answers with a silent close.
    DuplicateProperty,
    /// A string property that is not valid UTF-8 (or holds a control character): malformed
    /// (0x81), which mosquitto answers with a silent close, unlike bad UTF-8 in a topic.
    Utf8InProperty,
    /// A packet larger than we accept (0x95). Detected from the fixed header alone.
    TooLarge { size: usize, max: usize },
    /// CONNECT with a protocol name other than "MQTT" or "MQIsdp".
    InvalidProtocolName(String),
    /// CONNECT with a protocol level we do not speak; answered with CONNACK 0x01.
    UnsupportedVersion(u8),
}

impl DecodeError {
    pub fn reason_code(&self) -> u8 {
        match self {
            DecodeError::Malformed(_)
            | DecodeError::FixedHeader(_)
            | DecodeError::Utf8InProperty => reason::MALFORMED_PACKET,
            DecodeError::Protocol(_)
            | DecodeError::DuplicateProperty
            | DecodeError::InvalidProtocolName(_) => reason::PROTOCOL_ERROR,
            DecodeError::TooLarge { .. } => reason::PACKET_TOO_LARGE,
            DecodeError::UnsupportedVersion(_) => reason::UNSUPPORTED_PROTOCOL_VERSION,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Malformed(why) | DecodeError::FixedHeader(why) => {
                write!(f, "malformed packet: {why}")
            }
            DecodeError::DuplicateProperty => {
                write!(f, "protocol error: property included more than once")
            }
            DecodeError::Utf8InProperty => {
                write!(f, "malformed packet: string property is not valid UTF-8")
            }
            DecodeError::Protocol(why) => write!(f, "protocol error: {why}"),
            DecodeError::TooLarge { size, max } => {
                write!(f, "packet of {size} bytes exceeds the maximum of {max}")
            }
            DecodeError::InvalidProtocolName(name) => write!(f, "invalid protocol \"{name}\""),
            DecodeError::UnsupportedVersion(v) => write!(f, "invalid protocol version {v}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// CONNACK return codes (3.1/3.1.1) and MQTT 5 reason codes.
pub mod reason {
    pub const SUCCESS: u8 = 0x00;
    pub const GRANTED_QOS_1: u8 = 0x01;
    pub const GRANTED_QOS_2: u8 = 0x02;
    pub const DISCONNECT_WITH_WILL: u8 = 0x04;
    pub const NO_MATCHING_SUBSCRIBERS: u8 = 0x10;
    pub const NO_SUBSCRIPTION_EXISTED: u8 = 0x11;
    pub const UNSPECIFIED_ERROR: u8 = 0x80;
    pub const MALFORMED_PACKET: u8 = 0x81;
    pub const PROTOCOL_ERROR: u8 = 0x82;
    pub const IMPLEMENTATION_SPECIFIC_ERROR: u8 = 0x83;
    pub const UNSUPPORTED_PROTOCOL_VERSION: u8 = 0x84;
    pub const CLIENT_IDENTIFIER_NOT_VALID: u8 = 0x85;
    pub const BAD_USER_NAME_OR_PASSWORD: u8 = 0x86;
    pub const NOT_AUTHORIZED: u8 = 0x87;
    pub const SERVER_UNAVAILABLE: u8 = 0x88;
    pub const SERVER_BUSY: u8 = 0x89;
    pub const BAD_AUTHENTICATION_METHOD: u8 = 0x8c;
    pub const SERVER_SHUTTING_DOWN: u8 = 0x8b;
    pub const KEEP_ALIVE_TIMEOUT: u8 = 0x8d;
    pub const SESSION_TAKEN_OVER: u8 = 0x8e;
    pub const TOPIC_FILTER_INVALID: u8 = 0x8f;
    pub const TOPIC_NAME_INVALID: u8 = 0x90;
    pub const PACKET_IDENTIFIER_IN_USE: u8 = 0x91;
    pub const PACKET_IDENTIFIER_NOT_FOUND: u8 = 0x92;
    pub const RECEIVE_MAXIMUM_EXCEEDED: u8 = 0x93;
    pub const TOPIC_ALIAS_INVALID: u8 = 0x94;
    pub const PACKET_TOO_LARGE: u8 = 0x95;
    pub const QUOTA_EXCEEDED: u8 = 0x97;
    pub const PAYLOAD_FORMAT_INVALID: u8 = 0x99;
    pub const RETAIN_NOT_SUPPORTED: u8 = 0x9a;
    pub const QOS_NOT_SUPPORTED: u8 = 0x9b;

    /// CONNACK return codes of MQTT 3.1 and 3.1.1.
    pub mod v3 {
        pub const ACCEPTED: u8 = 0;
        pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = 1;
        pub const IDENTIFIER_REJECTED: u8 = 2;
        pub const SERVER_UNAVAILABLE: u8 = 3;
        pub const BAD_USERNAME_OR_PASSWORD: u8 = 4;
        pub const NOT_AUTHORIZED: u8 = 5;
        /// SUBACK: the subscription is refused.
        pub const SUBSCRIBE_FAILURE: u8 = 0x80;
    }
}

/// Any MQTT control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(PubResp),
    PubRec(PubResp),
    PubRel(PubResp),
    PubComp(PubResp),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    Auth(Auth),
}

/// Packet types: the high nibble of a packet's first byte.
pub mod kind {
    pub const RESERVED: u8 = 0;
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
    pub const AUTH: u8 = 15;
}

/// Decodes one packet from the front of `buf`, removing its bytes.
///
/// Returns `Ok(None)` until the whole packet has arrived. `version` is the connection's
/// protocol level (ignored for CONNECT, which carries its own); `max_size` bounds the total
/// packet size and is checked as soon as the fixed header is known.
pub fn decode(
    buf: &mut BytesMut,
    version: Version,
    max_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(header) = parse_fixed_header(buf)? else {
        return Ok(None);
    };
    if header.total_len() > max_size {
        return Err(DecodeError::TooLarge {
            size: header.total_len(),
            max: max_size,
        });
    }
    if buf.len() < header.total_len() {
        return Ok(None);
    }
    let mut frame = buf.split_to(header.total_len()).freeze();
    frame.advance(header.header_len);
    decode_body(header, Reader::new(frame), version).map(Some)
}

fn decode_body(
    header: FixedHeader,
    mut r: Reader,
    version: Version,
) -> Result<Packet, DecodeError> {
    let expected_flags = match header.packet_type() {
        kind::PUBLISH => header.flags(),
        // MQTT 3.1 sent these at QoS 1 with DUP on a resend, and reserved nothing:
        // mosquitto checks their flags only from 3.1.1 on.
        kind::PUBREL | kind::SUBSCRIBE | kind::UNSUBSCRIBE if version == Version::V31 => {
            header.flags()
        }
        kind::PUBREL | kind::SUBSCRIBE | kind::UNSUBSCRIBE => 0b0010,
        _ => 0,
    };
    if header.flags() != expected_flags {
        return Err(DecodeError::Malformed(
            "reserved fixed header flags are set",
        ));
    }
    let packet = match header.packet_type() {
        kind::CONNECT => Packet::Connect(Box::new(Connect::decode(&mut r)?)),
        kind::CONNACK => Packet::ConnAck(ConnAck::decode(&mut r, version)?),
        kind::PUBLISH => Packet::Publish(Publish::decode(header.flags(), &mut r, version)?),
        kind::PUBACK => Packet::PubAck(PubResp::decode(&mut r, version)?),
        kind::PUBREC => Packet::PubRec(PubResp::decode(&mut r, version)?),
        kind::PUBREL => Packet::PubRel(PubResp::decode(&mut r, version)?),
        kind::PUBCOMP => Packet::PubComp(PubResp::decode(&mut r, version)?),
        kind::SUBSCRIBE => Packet::Subscribe(Subscribe::decode(&mut r, version)?),
        kind::SUBACK => Packet::SubAck(SubAck::decode(&mut r, version)?),
        kind::UNSUBSCRIBE => Packet::Unsubscribe(Unsubscribe::decode(&mut r, version)?),
        kind::UNSUBACK => Packet::UnsubAck(UnsubAck::decode(&mut r, version)?),
        kind::PINGREQ => Packet::PingReq,
        kind::PINGRESP => Packet::PingResp,
        kind::DISCONNECT => Packet::Disconnect(Disconnect::decode(&mut r, version)?),
        kind::AUTH if version == Version::V5 => Packet::Auth(Auth::decode(&mut r)?),
        // mosquitto's answer to a type it does not know (0, or AUTH before 5.0).
        _ => return Err(DecodeError::Protocol("reserved packet type")),
    };
    if !r.is_empty() {
        return Err(DecodeError::Malformed("bytes left over after the packet"));
    }
    Ok(packet)
}

impl Packet {
    /// Appends the packet's bytes, in the form `version` defines, to `out`.
    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        match self {
            Packet::Connect(p) => p.encode(out),
            Packet::ConnAck(p) => p.encode(version, out),
            Packet::Publish(p) => p.encode(version, out),
            Packet::PubAck(p) => p.encode(kind::PUBACK << 4, version, out),
            Packet::PubRec(p) => p.encode(kind::PUBREC << 4, version, out),
            Packet::PubRel(p) => p.encode(kind::PUBREL << 4 | 0b0010, version, out),
            Packet::PubComp(p) => p.encode(kind::PUBCOMP << 4, version, out),
            Packet::Subscribe(p) => p.encode(version, out),
            Packet::SubAck(p) => p.encode(version, out),
            Packet::Unsubscribe(p) => p.encode(version, out),
            Packet::UnsubAck(p) => p.encode(version, out),
            Packet::PingReq => out.extend_from_slice(&[kind::PINGREQ << 4, 0]),
            Packet::PingResp => out.extend_from_slice(&[kind::PINGRESP << 4, 0]),
            Packet::Disconnect(p) => p.encode(version, out),
            Packet::Auth(p) => p.encode(out),
        }
    }

    /// The packet's name as mosquitto's log lines spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }

    /// Forgets the properties kept as received (a PUBLISH's, a will's): a by-product of
    /// decoding that the decoded properties repeat, so that a decoded packet compares equal
    /// to the one it was encoded from.
    pub fn forget_raw_properties(&mut self) {
        match self {
            Packet::Publish(p) => p.raw_properties = Bytes::new(),
            Packet::Connect(c) => {
                if let Some(will) = &mut c.will {
                    will.raw_properties = Bytes::new();
                }
            }
            _ => {}
        }
    }
}

/// A packet identifier that the protocol requires to be non-zero.
fn read_packet_id(r: &mut Reader) -> Result<u16, DecodeError> {
    match r.u16()? {
        0 => Err(DecodeError::Protocol("packet identifier 0")),
        id => Ok(id),
    }
}

#[cfg(test)]
mod tests;
