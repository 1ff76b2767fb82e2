//! The on-disk record: one change to the durable state, framed and checksummed.
//!
//! A frame is `len: u32 LE | crc: u32 LE | body`, the CRC-32 (crc32fast) covering the
//! length and the body, so that a torn write, a zero-filled tail or garbage after the last
//! record is recognised wherever it starts. A body is a kind byte and its fields, little
//! endian, byte strings with a length before them. New kinds may be added; a kind a build
//! does not know is damage to it, which is why every file names its format version.

use bytes::{Buf, BufMut, Bytes};

/// What every midge persistence file starts with.
pub const MAGIC: &[u8; 8] = b"midge-db";

/// The format this build writes. A file of a newer format is moved aside, not misread.
pub const FORMAT: u32 = 2;

/// Formats this build reads: 1 (retained messages, sessions, subscriptions) is 2 without
/// messages in sessions. Each format only adds kinds of record to the one before.
pub const FORMAT_OLDEST: u32 = 1;

/// No record is larger: a retained message is bounded by `message_size_limit` (at most
/// 256 MiB) and the rest of a record by a few topics. A length beyond is damage.
pub const RECORD_MAX: usize = 268_435_455 + 65_536;

const FRAME_HEADER: usize = 8;

/// What a file is for, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The whole durable state as of the end of journal `generation`.
    Snapshot,
    /// Changes, in order, made after the snapshot of `generation - 1`.
    Journal,
}

/// One change to the durable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A file's first record.
    Header {
        format: u32,
        role: Role,
        generation: u64,
    },
    /// The retained message of a topic, replacing the one before.
    Retain(StoredMessage),
    /// A topic no longer has a retained message.
    Unretain {
        topic: Bytes,
    },
    /// Who published the topic's retained message (the `Retain` before it), for
    /// `check_retain_source`.
    RetainSource {
        topic: Bytes,
        client_id: Bytes,
        username: Option<Bytes>,
        /// The port of a listener of the publisher's security domain.
        port: u16,
    },
    /// A session that outlives its connection, created or changed.
    Session {
        client_id: Bytes,
        /// The protocol level of its latest connection (3, 4 or 5).
        version: u8,
        /// Seconds it outlives its connection; `u32::MAX` for ever.
        expiry: u32,
        /// Packet identifiers it has handed out, as of its last disconnect (see
        /// `Session::issue_packet_id`), so that a resumed session goes on counting.
        packet_ids: u64,
    },
    /// The session has ended, or no longer outlives its connection.
    SessionGone {
        client_id: Bytes,
    },
    /// One of a session's subscriptions, added or replaced.
    Subscribe {
        client_id: Bytes,
        filter: Bytes,
        /// MQTT 5's subscription options byte.
        options: u8,
        /// Its subscription identifier, 0 for none.
        id: u32,
    },
    Unsubscribe {
        client_id: Bytes,
        filter: Bytes,
    },
    /// A message that sessions hold, named by an id the deliveries refer to. Written again
    /// in every batch that gives it to a session (see `Journal::message_id`), so that a
    /// delivery's message is always in the same file as the delivery.
    Message {
        id: u64,
        message: StoredMessage,
    },
    /// A QoS 1/2 message a session took: queued, or sent and not yet acknowledged.
    Deliver {
        client_id: Bytes,
        /// Which of the session's packet identifiers it was issued (`Delivery::packet_seq`).
        seq: u64,
        message: u64,
        qos: u8,
        retain: bool,
        subscription_ids: Vec<u32>,
    },
    /// The session's client has the QoS 2 message (PUBREC): PUBREL is what is left to send.
    Released {
        client_id: Bytes,
        seq: u64,
    },
    /// The delivery is over: acknowledged, expired or dropped.
    Delivered {
        client_id: Bytes,
        seq: u64,
    },
    /// The delivery was given another packet identifier, the one it had being still in
    /// use (see `Session::flight_packet_id`).
    Renumber {
        client_id: Bytes,
        from: u64,
        to: u64,
    },
    /// An inbound QoS 2 message received (PUBREC sent), to be published on PUBREL.
    Incoming {
        client_id: Bytes,
        packet_id: u16,
        message: u64,
    },
    /// The inbound QoS 2 message was released and published.
    IncomingDone {
        client_id: Bytes,
        packet_id: u16,
    },
    /// A will waiting for its MQTT 5 delay, to be published at a time of day unless its
    /// client comes back first.
    Will {
        client_id: Bytes,
        /// Seconds since the Unix epoch.
        at: u64,
        topic: Bytes,
        qos: u8,
        retain: bool,
        /// The will properties as the client sent them.
        properties: Bytes,
        payload: Bytes,
    },
    /// The delayed will was published or cancelled.
    WillGone {
        client_id: Bytes,
    },
    /// The end of a loop turn's records (see `Messages`).
    BatchEnd,
}

/// A message as stored, retained or held by sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    pub topic: Bytes,
    pub qos: u8,
    /// The retain flag it was published with; always set for a retained message.
    pub retain: bool,
    pub utf8_payload: bool,
    /// Seconds since the Unix epoch at which it expires; 0 for never.
    pub expires_at: u64,
    /// The MQTT 5 properties it is forwarded with, encoded.
    pub properties: Bytes,
    pub payload: Bytes,
}

const HEADER: u8 = 0;
const RETAIN: u8 = 1;
const UNRETAIN: u8 = 2;
const SESSION: u8 = 3;
const SESSION_GONE: u8 = 4;
const SUBSCRIBE: u8 = 5;
const UNSUBSCRIBE: u8 = 6;
const MESSAGE: u8 = 7;
const DELIVER: u8 = 8;
const RELEASED: u8 = 9;
const DELIVERED: u8 = 10;
const RENUMBER: u8 = 11;
const INCOMING: u8 = 12;
const INCOMING_DONE: u8 = 13;
const RETAIN_SOURCE: u8 = 14;
const WILL: u8 = 15;
const WILL_GONE: u8 = 16;
const BATCH_END: u8 = 17;

impl Op {
    /// Appends the op, framed, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        frame(out, |out| self.encode_body(out));
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Op::Header {
                format,
                role,
                generation,
            } => {
                out.put_u8(HEADER);
                out.put_u32_le(*format);
                out.put_u8(match role {
                    Role::Snapshot => 0,
                    Role::Journal => 1,
                });
                out.put_u64_le(*generation);
            }
            Op::Retain(r) => {
                out.put_u8(RETAIN);
                put_message(out, &r.fields());
            }
            Op::Unretain { topic } => {
                out.put_u8(UNRETAIN);
                put_bytes(out, topic);
            }
            Op::Session {
                client_id,
                version,
                expiry,
                packet_ids,
            } => {
                out.put_u8(SESSION);
                put_bytes(out, client_id);
                out.put_u8(*version);
                out.put_u32_le(*expiry);
                out.put_u64_le(*packet_ids);
            }
            Op::SessionGone { client_id } => {
                out.put_u8(SESSION_GONE);
                put_bytes(out, client_id);
            }
            Op::Subscribe {
                client_id,
                filter,
                options,
                id,
            } => {
                out.put_u8(SUBSCRIBE);
                put_bytes(out, client_id);
                put_bytes(out, filter);
                out.put_u8(*options);
                out.put_u32_le(*id);
            }
            Op::Unsubscribe { client_id, filter } => {
                out.put_u8(UNSUBSCRIBE);
                put_bytes(out, client_id);
                put_bytes(out, filter);
            }
            Op::Will {
                client_id,
                at,
                topic,
                qos,
                retain,
                properties,
                payload,
            } => {
                out.put_u8(WILL);
                put_bytes(out, client_id);
                out.put_u64_le(*at);
                put_bytes(out, topic);
                out.put_u8(qos | (u8::from(*retain) << 6));
                put_bytes(out, properties);
                put_bytes(out, payload);
            }
            Op::WillGone { client_id } => {
                out.put_u8(WILL_GONE);
                put_bytes(out, client_id);
            }
            Op::BatchEnd => out.put_u8(BATCH_END),
            Op::RetainSource {
                topic,
                client_id,
                username,
                port,
            } => {
                out.put_u8(RETAIN_SOURCE);
                put_bytes(out, topic);
                put_bytes(out, client_id);
                out.put_u8(u8::from(username.is_some()));
                put_bytes(out, username.as_deref().unwrap_or_default());
                out.put_u16_le(*port);
            }
            Op::Message { id, message } => message_body(out, *id, &message.fields()),
            Op::Deliver {
                client_id,
                seq,
                message,
                qos,
                retain,
                subscription_ids,
            } => deliver_body(
                out,
                client_id,
                *seq,
                *message,
                *qos,
                *retain,
                subscription_ids,
            ),
            Op::Released { client_id, seq } => released_body(out, client_id, *seq),
            Op::Delivered { client_id, seq } => delivered_body(out, client_id, *seq),
            Op::Renumber {
                client_id,
                from,
                to,
            } => {
                out.put_u8(RENUMBER);
                put_bytes(out, client_id);
                out.put_u64_le(*from);
                out.put_u64_le(*to);
            }
            Op::Incoming {
                client_id,
                packet_id,
                message,
            } => {
                out.put_u8(INCOMING);
                put_bytes(out, client_id);
                out.put_u16_le(*packet_id);
                out.put_u64_le(*message);
            }
            Op::IncomingDone {
                client_id,
                packet_id,
            } => {
                out.put_u8(INCOMING_DONE);
                put_bytes(out, client_id);
                out.put_u16_le(*packet_id);
            }
        }
    }

    /// Decodes one body (a frame's checksum already checked). Byte strings are slices of
    /// `body`.
    fn decode(mut body: Bytes) -> Option<Op> {
        let op = match take_u8(&mut body)? {
            HEADER => Op::Header {
                format: take_u32(&mut body)?,
                role: match take_u8(&mut body)? {
                    0 => Role::Snapshot,
                    1 => Role::Journal,
                    _ => return None,
                },
                generation: take_u64(&mut body)?,
            },
            RETAIN => Op::Retain(StoredMessage {
                retain: true,
                ..take_message(&mut body)?
            }),
            UNRETAIN => Op::Unretain {
                topic: take_bytes(&mut body)?,
            },
            SESSION => Op::Session {
                client_id: take_bytes(&mut body)?,
                version: take_u8(&mut body)?,
                expiry: take_u32(&mut body)?,
                packet_ids: take_u64(&mut body)?,
            },
            SESSION_GONE => Op::SessionGone {
                client_id: take_bytes(&mut body)?,
            },
            SUBSCRIBE => Op::Subscribe {
                client_id: take_bytes(&mut body)?,
                filter: take_bytes(&mut body)?,
                options: take_u8(&mut body)?,
                id: take_u32(&mut body)?,
            },
            UNSUBSCRIBE => Op::Unsubscribe {
                client_id: take_bytes(&mut body)?,
                filter: take_bytes(&mut body)?,
            },
            WILL => {
                let client_id = take_bytes(&mut body)?;
                let at = take_u64(&mut body)?;
                let topic = take_bytes(&mut body)?;
                let flags = take_u8(&mut body)?;
                Op::Will {
                    client_id,
                    at,
                    topic,
                    qos: flags & 0x03,
                    retain: flags & 0x40 != 0,
                    properties: take_bytes(&mut body)?,
                    payload: take_bytes(&mut body)?,
                }
            }
            WILL_GONE => Op::WillGone {
                client_id: take_bytes(&mut body)?,
            },
            BATCH_END => Op::BatchEnd,
            RETAIN_SOURCE => {
                let topic = take_bytes(&mut body)?;
                let client_id = take_bytes(&mut body)?;
                let has_username = take_u8(&mut body)? != 0;
                let username = take_bytes(&mut body)?;
                Op::RetainSource {
                    topic,
                    client_id,
                    username: has_username.then_some(username),
                    port: take_u16(&mut body)?,
                }
            }
            MESSAGE => Op::Message {
                id: take_u64(&mut body)?,
                message: take_message(&mut body)?,
            },
            DELIVER => {
                let d = deliver_fields(&body)?;
                let op = Op::Deliver {
                    client_id: body.slice_ref(d.client_id),
                    seq: d.seq,
                    message: d.message,
                    qos: d.qos,
                    retain: d.retain,
                    subscription_ids: d.subscription_ids,
                };
                return Some(op);
            }
            RELEASED => Op::Released {
                client_id: take_bytes(&mut body)?,
                seq: take_u64(&mut body)?,
            },
            DELIVERED => {
                let (client_id, seq) = seq_fields(&body)?;
                let client_id = body.slice_ref(client_id);
                return Some(Op::Delivered { client_id, seq });
            }
            RENUMBER => Op::Renumber {
                client_id: take_bytes(&mut body)?,
                from: take_u64(&mut body)?,
                to: take_u64(&mut body)?,
            },
            INCOMING => Op::Incoming {
                client_id: take_bytes(&mut body)?,
                packet_id: take_u16(&mut body)?,
                message: take_u64(&mut body)?,
            },
            INCOMING_DONE => Op::IncomingDone {
                client_id: take_bytes(&mut body)?,
                packet_id: take_u16(&mut body)?,
            },
            _ => return None,
        };
        body.is_empty().then_some(op)
    }
}

fn checksum(len: &[u8], body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(body);
    hasher.finalize()
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.put_u32_le(bytes.len() as u32);
    out.put_slice(bytes);
}

/// Appends one framed record whose body `body` writes.
pub fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.put_u64_le(0); // length and CRC, filled in below
    body(out);
    let len = (out.len() - start - FRAME_HEADER) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    let crc = checksum(&out[start..start + 4], &out[start + FRAME_HEADER..]);
    out[start + 4..start + FRAME_HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// A message's fields, borrowed: what `StoredMessage` holds, for the records the loop writes
/// for every QoS 1/2 message, which then copy its bytes once, into the record.
#[derive(Clone, Copy, Debug)]
pub struct MessageFields<'a> {
    pub topic: &'a [u8],
    pub qos: u8,
    pub retain: bool,
    pub utf8_payload: bool,
    pub expires_at: u64,
    pub properties: &'a [u8],
    pub payload: &'a [u8],
}

impl StoredMessage {
    pub fn fields(&self) -> MessageFields<'_> {
        MessageFields {
            topic: &self.topic,
            qos: self.qos,
            retain: self.retain,
            utf8_payload: self.utf8_payload,
            expires_at: self.expires_at,
            properties: &self.properties,
            payload: &self.payload,
        }
    }
}

// The bodies of the records the loop writes per message, borrowing their fields; `Op`'s
// encoding is made of these too, so the format is written down once.

pub fn message_body(out: &mut Vec<u8>, id: u64, message: &MessageFields) {
    out.put_u8(MESSAGE);
    out.put_u64_le(id);
    put_message(out, message);
}

pub fn deliver_body(
    out: &mut Vec<u8>,
    client_id: &[u8],
    seq: u64,
    message: u64,
    qos: u8,
    retain: bool,
    subscription_ids: &[u32],
) {
    out.put_u8(DELIVER);
    put_bytes(out, client_id);
    out.put_u64_le(seq);
    out.put_u64_le(message);
    out.put_u8(qos | (u8::from(retain) << 2));
    out.put_u32_le(subscription_ids.len() as u32);
    for id in subscription_ids {
        out.put_u32_le(*id);
    }
}

pub fn released_body(out: &mut Vec<u8>, client_id: &[u8], seq: u64) {
    out.put_u8(RELEASED);
    put_bytes(out, client_id);
    out.put_u64_le(seq);
}

pub fn delivered_body(out: &mut Vec<u8>, client_id: &[u8], seq: u64) {
    out.put_u8(DELIVERED);
    put_bytes(out, client_id);
    out.put_u64_le(seq);
}

/// A message's fields; the flags byte holds QoS (bits 0-1), retain (6) and UTF-8 (7).
fn put_message(out: &mut Vec<u8>, m: &MessageFields) {
    put_bytes(out, m.topic);
    out.put_u8(m.qos | (u8::from(m.retain) << 6) | (u8::from(m.utf8_payload) << 7));
    out.put_u64_le(m.expires_at);
    put_bytes(out, m.properties);
    put_bytes(out, m.payload);
}

fn take_message(body: &mut Bytes) -> Option<StoredMessage> {
    let topic = take_bytes(body)?;
    let flags = take_u8(body)?;
    Some(StoredMessage {
        topic,
        qos: flags & 0x03,
        retain: flags & 0x40 != 0,
        utf8_payload: flags & 0x80 != 0,
        expires_at: take_u64(body)?,
        properties: take_bytes(body)?,
        payload: take_bytes(body)?,
    })
}

fn take_u8(b: &mut impl Buf) -> Option<u8> {
    (b.remaining() >= 1).then(|| b.get_u8())
}

fn take_u16(b: &mut impl Buf) -> Option<u16> {
    (b.remaining() >= 2).then(|| b.get_u16_le())
}

fn take_u32(b: &mut impl Buf) -> Option<u32> {
    (b.remaining() >= 4).then(|| b.get_u32_le())
}

fn take_u64(b: &mut impl Buf) -> Option<u64> {
    (b.remaining() >= 8).then(|| b.get_u64_le())
}

fn take_bytes(b: &mut Bytes) -> Option<Bytes> {
    let len = take_u32(b)? as usize;
    (b.remaining() >= len).then(|| b.split_to(len))
}

/// Where reading a file's records stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// At the end of the file, after a whole record.
    Clean,
    /// At a record that is cut short, fails its checksum or does not decode: a torn write,
    /// a zero-filled or garbage tail. What follows is not read.
    Damaged { offset: usize },
}

/// The records of one file's bytes, after its magic, in order, up to the first damage.
pub struct Records {
    data: Bytes,
    offset: usize,
    end: Option<End>,
}

impl Records {
    /// `data` is a whole file; `offset` where its records begin.
    pub fn new(data: Bytes, offset: usize) -> Records {
        Records {
            data,
            offset,
            end: None,
        }
    }

    /// Where the records stopped; `None` until the iterator has returned `None`.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// The offset after the last whole record read.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Where the next record's body lies, its checksum checked.
    fn body(&self) -> Option<std::ops::Range<usize>> {
        let rest = self.data.get(self.offset..)?;
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        if len > RECORD_MAX {
            return None;
        }
        let crc = u32::from_le_bytes(rest.get(4..FRAME_HEADER)?.try_into().ok()?);
        let body = rest.get(FRAME_HEADER..FRAME_HEADER + len)?;
        if checksum(&rest[..4], body) != crc {
            return None;
        }
        let start = self.offset + FRAME_HEADER;
        Some(start..start + len)
    }

    /// The next record, those of every message's delivery with their client id borrowed
    /// (a compaction meets two for each message, and copies of their client ids were a
    /// fifth of its time); `None` at the end or at damage, which `end` then tells apart.
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        if self.end.is_some() {
            return None;
        }
        if self.offset == self.data.len() {
            self.end = Some(End::Clean);
            return None;
        }
        let decoded = self.body().and_then(|range| {
            let body = &self.data[range.clone()];
            let record = match body.first() {
                Some(&DELIVER) => Record::Deliver(deliver_fields(&body[1..])?),
                Some(&DELIVERED) => {
                    let (client_id, seq) = seq_fields(&body[1..])?;
                    Record::Delivered { client_id, seq }
                }
                _ => Record::Other(Op::decode(self.data.slice(range.clone()))?),
            };
            Some((range.end, record))
        });
        match decoded {
            Some((next, record)) => {
                self.offset = next;
                Some(record)
            }
            None => {
                self.end = Some(End::Damaged {
                    offset: self.offset,
                });
                None
            }
        }
    }
}

/// A record as `Records::next_record` reads it.
pub enum Record<'a> {
    Deliver(DeliverFields<'a>),
    Delivered { client_id: &'a [u8], seq: u64 },
    Other(Op),
}

impl Record<'_> {
    pub fn into_op(self) -> Op {
        match self {
            Record::Deliver(d) => Op::Deliver {
                client_id: Bytes::copy_from_slice(d.client_id),
                seq: d.seq,
                message: d.message,
                qos: d.qos,
                retain: d.retain,
                subscription_ids: d.subscription_ids,
            },
            Record::Delivered { client_id, seq } => Op::Delivered {
                client_id: Bytes::copy_from_slice(client_id),
                seq,
            },
            Record::Other(op) => op,
        }
    }
}

/// A Deliver record's fields, its client id borrowed.
pub struct DeliverFields<'a> {
    pub client_id: &'a [u8],
    pub seq: u64,
    pub message: u64,
    pub qos: u8,
    pub retain: bool,
    pub subscription_ids: Vec<u32>,
}

/// A Deliver record's body after its kind.
fn deliver_fields(mut b: &[u8]) -> Option<DeliverFields<'_>> {
    let client_id = take_slice(&mut b)?;
    let seq = take_u64(&mut b)?;
    let message = take_u64(&mut b)?;
    let flags = take_u8(&mut b)?;
    let count = take_u32(&mut b)? as usize;
    if b.len() != count.saturating_mul(4) {
        return None;
    }
    Some(DeliverFields {
        client_id,
        seq,
        message,
        qos: flags & 0x03,
        retain: flags & 0x04 != 0,
        subscription_ids: b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    })
}

/// A client id and a packet sequence, all of a Delivered record's body after its kind.
fn seq_fields(mut b: &[u8]) -> Option<(&[u8], u64)> {
    let client_id = take_slice(&mut b)?;
    let seq = take_u64(&mut b)?;
    b.is_empty().then_some((client_id, seq))
}

fn take_slice<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_u32(b)? as usize;
    (b.len() >= len).then(|| {
        let (taken, rest) = b.split_at(len);
        *b = rest;
        taken
    })
}

impl Iterator for Records {
    type Item = Op;

    fn next(&mut self) -> Option<Op> {
        self.next_record().map(Record::into_op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            Op::Header {
                format: FORMAT,
                role: Role::Journal,
                generation: 7,
            },
            Op::Retain(StoredMessage {
                topic: Bytes::from_static(b"a/b"),
                qos: 1,
                retain: true,
                utf8_payload: true,
                expires_at: 1_800_000_000,
                properties: Bytes::from_static(&[0x03, 0x00, 0x01, b'x']),
                payload: Bytes::from_static(b"hello"),
            }),
            Op::RetainSource {
                topic: Bytes::from_static(b"a/b"),
                client_id: Bytes::from_static(b"publisher"),
                username: Some(Bytes::from_static(b"user")),
                port: 1883,
            },
            Op::RetainSource {
                topic: Bytes::from_static(b"a/b"),
                client_id: Bytes::from_static(b"anonymous"),
                username: None,
                port: 0,
            },
            Op::Unretain {
                topic: Bytes::from_static(b"a/b"),
            },
            Op::Session {
                client_id: Bytes::from_static(b"client"),
                version: 5,
                expiry: u32::MAX,
                packet_ids: 65_536,
            },
            Op::Subscribe {
                client_id: Bytes::from_static(b"client"),
                filter: Bytes::from_static(b"$share/g/a/+"),
                options: 0x2d,
                id: 268_435_455,
            },
            Op::Unsubscribe {
                client_id: Bytes::from_static(b"client"),
                filter: Bytes::from_static(b"a/#"),
            },
            Op::Message {
                id: u64::MAX,
                message: StoredMessage {
                    topic: Bytes::from_static(b"q"),
                    qos: 2,
                    retain: false,
                    utf8_payload: false,
                    expires_at: 0,
                    properties: Bytes::new(),
                    payload: Bytes::from_static(b"queued"),
                },
            },
            Op::Deliver {
                client_id: Bytes::from_static(b"client"),
                seq: 70_000,
                message: u64::MAX,
                qos: 2,
                retain: true,
                subscription_ids: vec![1, 268_435_455],
            },
            Op::Deliver {
                client_id: Bytes::from_static(b"client"),
                seq: 1,
                message: 3,
                qos: 1,
                retain: false,
                subscription_ids: Vec::new(),
            },
            Op::Released {
                client_id: Bytes::from_static(b"client"),
                seq: 70_000,
            },
            Op::Renumber {
                client_id: Bytes::from_static(b"client"),
                from: 1,
                to: 65_537,
            },
            Op::Delivered {
                client_id: Bytes::from_static(b"client"),
                seq: 65_537,
            },
            Op::Incoming {
                client_id: Bytes::from_static(b"client"),
                packet_id: 65_535,
                message: 9,
            },
            Op::IncomingDone {
                client_id: Bytes::from_static(b"client"),
                packet_id: 65_535,
            },
            Op::Will {
                client_id: Bytes::from_static(b"client"),
                at: 1_800_000_000,
                topic: Bytes::from_static(b"gone"),
                qos: 1,
                retain: true,
                properties: Bytes::from_static(&[0x18, 0, 0, 0, 30]),
                payload: Bytes::from_static(b"bye"),
            },
            Op::WillGone {
                client_id: Bytes::from_static(b"client"),
            },
            Op::BatchEnd,
            Op::SessionGone {
                client_id: Bytes::from_static(b"client"),
            },
        ]
    }

    fn encoded(ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        for op in ops {
            op.encode(&mut out);
        }
        out
    }

    #[test]
    fn every_op_reads_back_as_written() {
        let mut records = Records::new(Bytes::from(encoded(&ops())), 0);
        assert_eq!(records.by_ref().collect::<Vec<_>>(), ops());
        assert_eq!(records.end(), Some(End::Clean));
    }

    /// Whatever follows the last whole record (a cut, zeros, garbage, a flipped bit),
    /// reading stops there, with the records before it intact.
    #[test]
    fn a_damaged_tail_ends_the_records_at_the_last_whole_one() {
        let whole = encoded(&ops()[..2]);
        let last = encoded(&ops()[2..3]);
        let mut cut = [whole.clone(), last.clone()].concat();
        cut.truncate(whole.len() + last.len() - 1);
        let mut zeros = whole.clone();
        zeros.extend_from_slice(&[0; 64]);
        let mut garbage = whole.clone();
        garbage.extend_from_slice(b"\xff\xff\xff\x0fnot a record at all");
        let mut flipped = [whole.clone(), last.clone()].concat();
        let n = flipped.len();
        flipped[n - 2] ^= 0x10;
        let mut huge = whole.clone();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        for (name, data) in [
            ("cut", cut),
            ("zeros", zeros),
            ("garbage", garbage),
            ("flipped", flipped),
            ("huge", huge),
        ] {
            let mut records = Records::new(Bytes::from(data), 0);
            assert_eq!(records.by_ref().count(), 2, "{name}");
            assert_eq!(
                records.end(),
                Some(End::Damaged {
                    offset: whole.len()
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn a_record_with_bytes_left_over_or_an_unknown_kind_is_damage() {
        let mut out = Vec::new();
        Op::Unretain {
            topic: Bytes::from_static(b"t"),
        }
        .encode(&mut out);
        for patch in [|b: &mut Vec<u8>| b[8] = 99, |b: &mut Vec<u8>| b[9] = 0] {
            let mut bad = out.clone();
            patch(&mut bad);
            // Re-seal so that only the body is wrong.
            let crc = checksum(&bad[..4], &bad[8..]);
            bad[4..8].copy_from_slice(&crc.to_le_bytes());
            let mut records = Records::new(Bytes::from(bad), 0);
            assert_eq!(records.next(), None);
            assert_eq!(records.end(), Some(End::Damaged { offset: 0 }));
        }
    }
}
