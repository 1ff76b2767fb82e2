//! Reading a mosquitto 2.0 `mosquitto.db` (database format 6), so that a broker switched
//! from mosquitto keeps its retained messages, persistent sessions, subscriptions and
//! queued messages: `files.rs` imports one found where midge's snapshot goes.
//!
//! The file is a 15-byte magic, a CRC (always 0), the format version (big endian), then
//! chunks: a kind and a length (big endian) and the chunk's fixed part as mosquitto's C
//! structs lay it out (their store ids and times in the machine's order, little endian
//! here, every other number big endian), then its strings, payload and properties.

use std::collections::HashMap;

use bytes::{Buf, Bytes, BytesMut};

use super::record::{Op, StoredMessage};
use super::state::State;
use crate::protocol::framing::Reader;
use crate::protocol::{Properties, PropertyContext, filter_encoded};

pub const MAGIC: &[u8] = b"\x00\xb5\x00mosquitto db";

const CFG: u32 = 1;
const BASE_MSG: u32 = 2;
const CLIENT_MSG: u32 = 3;
const RETAIN: u32 = 4;
const SUB: u32 = 5;
const CLIENT: u32 = 6;

/// mosquitto's `ms_wait_for_pubcomp` and `ms_resend_pubrel`: PUBREC received.
const RELEASED_STATES: [u8; 2] = [9, 6];
/// A QoS 0 message waiting: midge keeps none on disk.
const QOS0_STATE: u8 = 1;

/// What the import found, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub sessions: usize,
    pub subscriptions: usize,
    pub retained: usize,
    pub messages: usize,
}

struct BaseMessage {
    message: StoredMessage,
    source_id: Bytes,
    source_username: Option<Bytes>,
    source_port: u16,
}

struct ClientMessage {
    client_id: Bytes,
    store_id: u64,
    mid: u16,
    qos: u8,
    state: u8,
    retain: bool,
    outgoing: bool,
    subscription_id: u32,
}

/// The durable state a mosquitto database holds, or why it could not be read.
pub fn import(data: &[u8]) -> Result<(State, Imported), String> {
    let rest = data.strip_prefix(MAGIC).ok_or("not a mosquitto database")?;
    let mut b = rest;
    let (_crc, version) = (take_u32(&mut b)?, take_u32(&mut b)?);
    if version != 6 {
        return Err(format!(
            "in mosquitto's database format {version}; midge reads 6 (mosquitto 2.0)"
        ));
    }
    let mut messages = HashMap::new();
    let (mut retained, mut clients, mut client_messages, mut subs) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while !b.is_empty() {
        let kind = take_u32(&mut b)?;
        let len = take_u32(&mut b)? as usize;
        let chunk = take(&mut b, len)?;
        match kind {
            CFG => {}
            BASE_MSG => {
                let (id, message) = base_message(chunk)?;
                messages.insert(id, message);
            }
            CLIENT_MSG => client_messages.push(client_message(chunk)?),
            RETAIN => retained.push(le_u64(&mut { chunk })?),
            SUB => subs.push(subscription(chunk)?),
            CLIENT => clients.extend(client(chunk)?),
            _ => return Err(format!("holds a chunk of unknown kind {kind}")),
        }
    }

    let mut state = State::default();
    let mut imported = Imported::default();
    for op in clients {
        state.apply(op);
        imported.sessions += 1;
    }
    for op in subs {
        if let Op::Subscribe { client_id, .. } = &op
            && state.sessions.contains_key(client_id)
        {
            imported.subscriptions += 1;
        }
        state.apply(op);
    }
    for &id in &retained {
        let Some(base) = messages.get(&id) else {
            continue;
        };
        state.apply(Op::Retain(StoredMessage {
            retain: true,
            ..base.message.clone()
        }));
        state.apply(Op::RetainSource {
            topic: base.message.topic.clone(),
            client_id: base.source_id.clone(),
            username: base.source_username.clone(),
            port: base.source_port,
        });
        imported.retained += 1;
    }
    // Deliveries in the order mosquitto wrote them, each session's packet sequence rising:
    // one with an identifier keeps it (the client may hold it), one without gets the next.
    let mut last_seq: HashMap<Bytes, u64> = HashMap::new();
    for m in client_messages {
        let Some(base) = messages.get(&m.store_id) else {
            continue;
        };
        if m.outgoing && m.state == QOS0_STATE {
            continue;
        }
        state.apply(Op::Message {
            id: m.store_id,
            message: base.message.clone(),
        });
        let op = if m.outgoing {
            let last = last_seq.entry(m.client_id.clone()).or_insert(0);
            let seq = match m.mid {
                0 => *last + 1,
                mid => {
                    let mid = u64::from(mid);
                    let rounds = (*last + 1).saturating_sub(mid).div_ceil(65535);
                    mid + rounds * 65535
                }
            };
            *last = seq;
            state.apply(Op::Deliver {
                client_id: m.client_id.clone(),
                seq,
                message: m.store_id,
                qos: m.qos,
                retain: m.retain,
                subscription_ids: (m.subscription_id != 0)
                    .then_some(m.subscription_id)
                    .into_iter()
                    .collect(),
            });
            RELEASED_STATES.contains(&m.state).then(|| Op::Released {
                client_id: m.client_id.clone(),
                seq,
            })
        } else {
            Some(Op::Incoming {
                client_id: m.client_id.clone(),
                packet_id: m.mid,
                message: m.store_id,
            })
        };
        if let Some(op) = op {
            state.apply(op);
        }
        imported.messages += 1;
    }
    state.apply(Op::BatchEnd);
    Ok((state, imported))
}

/// A BASE_MSG chunk: the message under its store id.
fn base_message(chunk: &[u8]) -> Result<(u64, BaseMessage), String> {
    let mut b = chunk;
    let store_id = le_u64(&mut b)?;
    let expiry_time = le_u64(&mut b)?;
    let payload_len = take_u32(&mut b)? as usize;
    let _source_mid = take_u16(&mut b)?;
    let source_id_len = usize::from(take_u16(&mut b)?);
    let username_len = usize::from(take_u16(&mut b)?);
    let topic_len = usize::from(take_u16(&mut b)?);
    let source_port = take_u16(&mut b)?;
    let qos = take_u8(&mut b)?;
    let retain = take_u8(&mut b)? != 0;
    let source_id = Bytes::copy_from_slice(take(&mut b, source_id_len)?);
    let username = take(&mut b, username_len)?;
    let topic = Bytes::copy_from_slice(take(&mut b, topic_len)?);
    let payload = Bytes::copy_from_slice(take(&mut b, payload_len)?);
    // What is left is the properties, with their length before them.
    let (properties, utf8_payload) = match b {
        [] => (Bytes::new(), false),
        framed => {
            let parsed = Properties::decode(
                &mut Reader::new(Bytes::copy_from_slice(framed)),
                PropertyContext::Publish,
            )
            .map_err(|e| format!("holds a message with bad properties: {e}"))?;
            (
                forwarded(framed)?,
                parsed.payload_format_indicator == Some(1),
            )
        }
    };
    let message = StoredMessage {
        topic,
        qos,
        retain,
        utf8_payload,
        expires_at: expiry_time,
        properties,
        payload,
    };
    let base = BaseMessage {
        message,
        source_id,
        source_username: (username_len > 0).then(|| Bytes::copy_from_slice(username)),
        source_port,
    };
    Ok((store_id, base))
}

/// The properties a message is forwarded with, from their framed form: as midge keeps
/// them, without those each copy gets of its own (expiry, subscription identifier, alias).
fn forwarded(framed: &[u8]) -> Result<Bytes, String> {
    let mut b = framed;
    let len = varint(&mut b)? as usize;
    let raw = take(&mut b, len)?;
    let mut out = BytesMut::new();
    filter_encoded(raw, |id| matches!(id, 0x02 | 0x0b | 0x23 | 0x18), &mut out);
    Ok(out.freeze())
}

/// A CLIENT chunk: a session that outlives its connection, as midge's record of it.
fn client(chunk: &[u8]) -> Result<Option<Op>, String> {
    let mut b = chunk;
    let _expiry_time = le_u64(&mut b)?;
    let expiry = take_u32(&mut b)?;
    let last_mid = take_u16(&mut b)?;
    let id_len = usize::from(take_u16(&mut b)?);
    let _port = take_u16(&mut b)?;
    let _username_len = take_u16(&mut b)?;
    let _padding = take(&mut b, 4)?;
    let client_id = Bytes::copy_from_slice(take(&mut b, id_len)?);
    if expiry == 0 {
        return Ok(None);
    }
    Ok(Some(Op::Session {
        client_id,
        // mosquitto does not keep the protocol version; the client's next CONNECT tells.
        version: if expiry == u32::MAX { 4 } else { 5 },
        expiry,
        packet_ids: u64::from(last_mid),
    }))
}

fn client_message(chunk: &[u8]) -> Result<ClientMessage, String> {
    let mut b = chunk;
    let store_id = le_u64(&mut b)?;
    let mid = take_u16(&mut b)?;
    let id_len = usize::from(take_u16(&mut b)?);
    let qos = take_u8(&mut b)?;
    let state = take_u8(&mut b)?;
    let retain_dup = take_u8(&mut b)?;
    let direction = take_u8(&mut b)?;
    let client_id = Bytes::copy_from_slice(take(&mut b, id_len)?);
    let mut subscription_id = 0;
    if !b.is_empty() {
        // Its only property, when there is one: the subscription identifier.
        let len = varint(&mut b)? as usize;
        let mut props = take(&mut b, len)?;
        while !props.is_empty() {
            match take_u8(&mut props)? {
                0x0b => subscription_id = varint(&mut props)?,
                id => return Err(format!("holds a queued message with property {id}")),
            }
        }
    }
    Ok(ClientMessage {
        client_id,
        store_id,
        mid,
        qos,
        state,
        retain: retain_dup & 0x10 != 0,
        outgoing: direction == 1,
        subscription_id,
    })
}

fn subscription(chunk: &[u8]) -> Result<Op, String> {
    let mut b = chunk;
    let id = take_u32(&mut b)?;
    let id_len = usize::from(take_u16(&mut b)?);
    let topic_len = usize::from(take_u16(&mut b)?);
    let qos = take_u8(&mut b)?;
    let options = take_u8(&mut b)?;
    let _padding = take(&mut b, 2)?;
    let client_id = Bytes::copy_from_slice(take(&mut b, id_len)?);
    let filter = Bytes::copy_from_slice(take(&mut b, topic_len)?);
    Ok(Op::Subscribe {
        client_id,
        filter,
        options: (qos & 0x03) | (options & 0xfc),
        id,
    })
}

const SHORT: &str = "cut short";

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if b.len() < n {
        return Err(SHORT.into());
    }
    let (taken, rest) = b.split_at(n);
    *b = rest;
    Ok(taken)
}

fn take_u8(b: &mut &[u8]) -> Result<u8, String> {
    (b.remaining() >= 1).then(|| b.get_u8()).ok_or(SHORT.into())
}

fn take_u16(b: &mut &[u8]) -> Result<u16, String> {
    (b.remaining() >= 2)
        .then(|| b.get_u16())
        .ok_or(SHORT.into())
}

fn take_u32(b: &mut &[u8]) -> Result<u32, String> {
    (b.remaining() >= 4)
        .then(|| b.get_u32())
        .ok_or(SHORT.into())
}

fn le_u64(b: &mut &[u8]) -> Result<u64, String> {
    (b.remaining() >= 8)
        .then(|| b.get_u64_le())
        .ok_or(SHORT.into())
}

fn varint(b: &mut &[u8]) -> Result<u32, String> {
    let mut value = 0u32;
    for shift in [0, 7, 14, 21] {
        let byte = take_u8(b)?;
        value |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("holds a malformed length".into())
}
