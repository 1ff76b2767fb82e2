//! DISCONNECT and AUTH: a reason code and properties, both optional on the wire.

use bytes::{BufMut, BytesMut};

use super::framing::{Reader, put_fixed_header};
use super::properties::{Properties, PropertyContext};
use super::{DecodeError, Version};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// MQTT 5 reason code; 0 (normal disconnection) for earlier versions.
    pub reason: u8,
    pub properties: Properties,
}

impl Disconnect {
    pub fn new(reason: u8) -> Disconnect {
        Disconnect {
            reason,
            properties: Properties::default(),
        }
    }

    pub(super) fn decode(r: &mut Reader, version: Version) -> Result<Disconnect, DecodeError> {
        let mut disconnect = Disconnect::default();
        if version == Version::V5 {
            decode_reason_and_properties(
                r,
                &mut disconnect.reason,
                &mut disconnect.properties,
                PropertyContext::Disconnect,
            )?;
        }
        Ok(disconnect)
    }

    pub fn encode(&self, version: Version, out: &mut BytesMut) {
        if version == Version::V5 {
            encode_reason_and_properties(0xe0, self.reason, &self.properties, out);
        } else {
            out.put_slice(&[0xe0, 0x00]);
        }
    }
}

/// AUTH, for MQTT 5's enhanced authentication exchanges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    pub reason: u8,
    pub properties: Properties,
}

impl Auth {
    pub(super) fn decode(r: &mut Reader) -> Result<Auth, DecodeError> {
        let mut auth = Auth::default();
        decode_reason_and_properties(
            r,
            &mut auth.reason,
            &mut auth.properties,
            PropertyContext::Auth,
        )?;
        Ok(auth)
    }

    pub fn encode(&self, out: &mut BytesMut) {
        encode_reason_and_properties(0xf0, self.reason, &self.properties, out);
    }
}

/// A remaining length of 0 means reason 0 and no properties; 1 means no properties.
fn decode_reason_and_properties(
    r: &mut Reader,
    reason: &mut u8,
    properties: &mut Properties,
    context: PropertyContext,
) -> Result<(), DecodeError> {
    if !r.is_empty() {
        *reason = r.u8()?;
    }
    if !r.is_empty() {
        *properties = Properties::decode(r, context)?;
    }
    Ok(())
}

fn encode_reason_and_properties(
    first_byte: u8,
    reason: u8,
    properties: &Properties,
    out: &mut BytesMut,
) {
    if properties.is_empty() {
        if reason == 0 {
            put_fixed_header(out, first_byte, 0);
        } else {
            put_fixed_header(out, first_byte, 1);
            out.put_u8(reason);
        }
    } else {
        put_fixed_header(out, first_byte, 1 + properties.encoded_len());
        out.put_u8(reason);
        properties.encode(out);
    }
}
