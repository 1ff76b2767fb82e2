//! The bytes the hot path touches: the stamp each payload carries, a PUBLISH encoded once per
//! publisher and patched in place, and a frame reader that looks at PUBLISH and the acks
//! without building a `Packet`. Everything else (CONNACK, SUBACK, DISCONNECT) goes through
//! midge's own decoder, once per connection.

use bytes::BytesMut;
use midge::protocol::{
    self, Connect, OutgoingPublish, Packet, Properties, PubResp, QoS, SubOptions, Subscribe,
    Version,
};

/// Stamp layout, little-endian: run tag (u32), publisher (u32), sequence (u64), intended send
/// time in ns since the run's clock origin (u64).
pub const STAMP_LEN: usize = 24;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub run: u32,
    pub publisher: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

impl Stamp {
    pub fn read(payload: &[u8]) -> Option<Stamp> {
        let b: &[u8; STAMP_LEN] = payload.get(..STAMP_LEN)?.try_into().ok()?;
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        Some(Stamp {
            run: u32_at(0),
            publisher: u32_at(4),
            seq: u64_at(8),
            sent_ns: u64_at(16),
        })
    }

    pub fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.run.to_le_bytes());
        out[4..8].copy_from_slice(&self.publisher.to_le_bytes());
        out[8..16].copy_from_slice(&self.seq.to_le_bytes());
        out[16..24].copy_from_slice(&self.sent_ns.to_le_bytes());
    }
}

/// One publisher's PUBLISH, encoded once by midge's encoder. Each send copies it and
/// overwrites the packet id, sequence and timestamp.
#[derive(Clone, Debug)]
pub struct PublishTemplate {
    bytes: Vec<u8>,
    packet_id_at: Option<usize>,
    stamp_at: usize,
}

impl PublishTemplate {
    /// `payload_len` is at least `STAMP_LEN`; the caller clamps it.
    pub fn new(
        version: Version,
        topic: &str,
        qos: QoS,
        retain: bool,
        payload_len: usize,
        run: u32,
        publisher: u32,
    ) -> PublishTemplate {
        debug_assert!(payload_len >= STAMP_LEN);
        let header = OutgoingPublish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id: 1,
            topic_alias: None,
            message_expiry: None,
            subscription_ids: &[],
            properties: &[],
            payload_len,
        };
        let mut out = BytesMut::new();
        header.encode_header(version, &mut out);
        let header_len = out.len();
        let mut bytes = out.to_vec();
        // Printable filler, so a human watching with mosquitto_sub sees something sane.
        bytes.extend((0..payload_len).map(|i| b'a' + (i % 26) as u8));
        let stamp_at = header_len;
        Stamp {
            run,
            publisher,
            seq: 0,
            sent_ns: 0,
        }
        .write(&mut bytes[stamp_at..]);
        // Fixed header (type byte, then a varint ending at the first byte below 0x80), then
        // the topic's length and bytes: the id follows the topic.
        let fixed = 2 + bytes[1..].iter().take_while(|&&b| b & 0x80 != 0).count();
        let packet_id_at = (qos != QoS::AtMostOnce).then_some(fixed + 2 + topic.len());
        PublishTemplate {
            bytes,
            packet_id_at,
            stamp_at,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Appends one PUBLISH with these values to `out`.
    #[inline]
    pub fn append(&self, out: &mut Vec<u8>, packet_id: u16, seq: u64, sent_ns: u64) {
        let at = out.len();
        out.extend_from_slice(&self.bytes);
        if let Some(id_at) = self.packet_id_at {
            out[at + id_at..at + id_at + 2].copy_from_slice(&packet_id.to_be_bytes());
        }
        let s = at + self.stamp_at + 8;
        out[s..s + 8].copy_from_slice(&seq.to_le_bytes());
        out[s + 8..s + 16].copy_from_slice(&sent_ns.to_le_bytes());
    }
}

/// The packet types the hot path handles itself.
pub mod kind {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// One frame from the front of a buffer, borrowed from it.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    Publish {
        qos: u8,
        packet_id: u16,
        topic: &'a [u8],
        payload: &'a [u8],
    },
    /// PUBACK, PUBREC, PUBREL or PUBCOMP; `reason` is 0 unless an MQTT 5 peer sent one.
    Ack {
        kind: u8,
        packet_id: u16,
        reason: u8,
    },
    PingResp,
    /// Anything else, whole (fixed header included), for midge's decoder.
    Other {
        kind: u8,
        bytes: &'a [u8],
    },
}

/// Splits the next frame off the front of `buf`: `Ok(None)` until it has all arrived, and
/// `Err` when the bytes cannot be MQTT (the connection is then closed).
#[inline]
pub fn next_frame(buf: &[u8], v5: bool, max: usize) -> Result<Option<(Frame<'_>, usize)>, String> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut remaining = 0usize;
    let mut header_len = 0;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            header_len = 2 + i;
            break;
        }
    }
    if header_len == 0 {
        return Err("remaining length longer than four bytes".into());
    }
    let total = header_len + remaining;
    if total > max {
        return Err(format!(
            "packet of {total} bytes exceeds the maximum of {max}"
        ));
    }
    if buf.len() < total {
        return Ok(None);
    }
    let body = &buf[header_len..total];
    let kind = first >> 4;
    let frame = match kind {
        kind::PUBLISH => parse_publish(first, body, v5)?,
        kind::PUBACK | kind::PUBREC | kind::PUBREL | kind::PUBCOMP => {
            let [hi, lo, rest @ ..] = body else {
                return Err("acknowledgement without a packet id".into());
            };
            Frame::Ack {
                kind,
                packet_id: u16::from_be_bytes([*hi, *lo]),
                reason: rest.first().copied().unwrap_or(0),
            }
        }
        kind::PINGRESP => Frame::PingResp,
        _ => Frame::Other {
            kind,
            bytes: &buf[..total],
        },
    };
    Ok(Some((frame, total)))
}

fn parse_publish(first: u8, body: &[u8], v5: bool) -> Result<Frame<'_>, String> {
    let qos = (first >> 1) & 0x03;
    if qos == 3 {
        return Err("PUBLISH with QoS 3".into());
    }
    let malformed = || "PUBLISH shorter than its header".to_string();
    let topic_len = usize::from(u16::from_be_bytes([
        *body.first().ok_or_else(malformed)?,
        *body.get(1).ok_or_else(malformed)?,
    ]));
    let mut at = 2 + topic_len;
    let topic = body.get(2..at).ok_or_else(malformed)?;
    let mut packet_id = 0;
    if qos > 0 {
        let id = body.get(at..at + 2).ok_or_else(malformed)?;
        packet_id = u16::from_be_bytes([id[0], id[1]]);
        at += 2;
    }
    if v5 {
        // Skip the properties: the stamp is all we read.
        let mut len = 0usize;
        for i in 0..4 {
            let b = *body.get(at).ok_or_else(malformed)?;
            at += 1;
            len |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        at += len;
    }
    let payload = body.get(at..).ok_or_else(malformed)?;
    Ok(Frame::Publish {
        qos,
        packet_id,
        topic,
        payload,
    })
}

/// A whole non-hot-path packet through midge's decoder.
pub fn decode_other(bytes: &[u8], version: Version) -> Result<Packet, String> {
    let mut buf = BytesMut::from(bytes);
    match protocol::decode(&mut buf, version, usize::MAX) {
        Ok(Some(packet)) => Ok(packet),
        Ok(None) => Err("truncated packet".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A CONNECT; `persistent` asks for a session that outlives the connection.
pub fn encode_connect(
    version: Version,
    client_id: &str,
    keep_alive: u16,
    persistent: bool,
    out: &mut Vec<u8>,
) {
    let mut properties = Properties::default();
    if persistent && version == Version::V5 {
        properties.session_expiry_interval = Some(u32::MAX);
    }
    let connect = Connect {
        version,
        clean_start: !persistent,
        keep_alive,
        client_id: protocol::ByteStr::from_utf8(client_id.as_bytes().to_vec().into())
            .unwrap_or_default(),
        will: None,
        username: None,
        password: None,
        properties,
    };
    encode(&Packet::Connect(Box::new(connect)), version, out);
}

pub fn encode_subscribe(version: Version, filter: &str, qos: QoS, out: &mut Vec<u8>) {
    let subscribe = Subscribe {
        packet_id: 1,
        filters: vec![(
            protocol::ByteStr::from_utf8(filter.as_bytes().to_vec().into()).unwrap_or_default(),
            SubOptions::qos(qos),
        )],
        properties: Properties::default(),
    };
    encode(&Packet::Subscribe(subscribe), version, out);
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP with success: four bytes in every version.
#[inline]
pub fn put_ack(kind: u8, packet_id: u16, out: &mut Vec<u8>) {
    let first = kind << 4 | if kind == kind::PUBREL { 0b0010 } else { 0 };
    let [hi, lo] = packet_id.to_be_bytes();
    out.extend_from_slice(&[first, 2, hi, lo]);
}

pub fn encode(packet: &Packet, version: Version, out: &mut Vec<u8>) {
    let mut buf = BytesMut::new();
    packet.encode(version, &mut buf);
    out.extend_from_slice(&buf);
}

/// A PUBACK through midge's encoder, to check `put_ack` against.
pub fn encode_puback(packet_id: u16, version: Version) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&Packet::PubAck(PubResp::new(packet_id)), version, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(buf: &[u8], v5: bool) -> Vec<Frame<'_>> {
        let mut frames = Vec::new();
        let mut at = 0;
        while let Some((frame, used)) = next_frame(&buf[at..], v5, 1 << 20).unwrap() {
            frames.push(frame);
            at += used;
        }
        assert_eq!(at, buf.len(), "every byte belongs to a frame");
        frames
    }

    #[test]
    fn the_template_is_what_midge_decodes_with_the_values_patched_in() {
        for version in [Version::V311, Version::V5] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                // 200 bytes of payload push the remaining length past one varint byte.
                for payload in [STAMP_LEN, 200] {
                    let t = PublishTemplate::new(version, "bench/7", qos, true, payload, 9, 7);
                    let mut out = Vec::new();
                    t.append(&mut out, 513, 42, 123_456_789);
                    let mut buf = BytesMut::from(&out[..]);
                    let Some(Packet::Publish(p)) =
                        protocol::decode(&mut buf, version, 1 << 20).expect("midge decodes it")
                    else {
                        panic!("not a PUBLISH");
                    };
                    assert!(buf.is_empty());
                    assert_eq!((p.qos, p.retain, &*p.topic), (qos, true, "bench/7"));
                    let want_id = if qos == QoS::AtMostOnce { 0 } else { 513 };
                    assert_eq!(p.packet_id, want_id);
                    assert_eq!(p.payload.len(), payload);
                    let stamp = Stamp::read(&p.payload).expect("a stamp");
                    assert_eq!(
                        stamp,
                        Stamp {
                            run: 9,
                            publisher: 7,
                            seq: 42,
                            sent_ns: 123_456_789
                        }
                    );
                    // And the fast reader agrees.
                    let frames = decode_all(&out, version == Version::V5);
                    assert_eq!(
                        frames,
                        vec![Frame::Publish {
                            qos: qos as u8,
                            packet_id: want_id,
                            topic: b"bench/7",
                            payload: &p.payload[..],
                        }]
                    );
                }
            }
        }
    }

    #[test]
    fn frames_split_anywhere_wait_for_the_rest() {
        let t = PublishTemplate::new(Version::V311, "a", QoS::AtLeastOnce, false, 300, 1, 2);
        let mut out = Vec::new();
        t.append(&mut out, 1, 1, 1);
        put_ack(kind::PUBACK, 7, &mut out);
        for cut in 0..out.len() {
            match next_frame(&out[..cut], false, 1 << 20).unwrap() {
                None => assert!(cut < t.len()),
                Some((_, used)) => assert_eq!(used, t.len()),
            }
        }
        let frames = decode_all(&out, false);
        assert_eq!(
            frames[1],
            Frame::Ack {
                kind: kind::PUBACK,
                packet_id: 7,
                reason: 0
            }
        );
    }

    #[test]
    fn acks_match_midges_encoding_and_oversized_frames_are_refused() {
        let mut out = Vec::new();
        put_ack(kind::PUBACK, 0x1234, &mut out);
        assert_eq!(out, encode_puback(0x1234, Version::V311));
        assert_eq!(out, encode_puback(0x1234, Version::V5));
        assert!(next_frame(&[0x30, 0xff, 0xff, 0xff, 0x7f], false, 1000).is_err());
        assert!(next_frame(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], false, 1000).is_err());
    }

    #[test]
    fn other_packets_go_through_midges_decoder() {
        let mut out = Vec::new();
        encode_subscribe(Version::V5, "bench/#", QoS::AtLeastOnce, &mut out);
        let Some((Frame::Other { kind, bytes }, _)) = next_frame(&out, true, 1 << 20).unwrap()
        else {
            panic!("SUBSCRIBE is not on the fast path");
        };
        assert_eq!(kind, kind::SUBSCRIBE);
        assert!(matches!(
            decode_other(bytes, Version::V5),
            Ok(Packet::Subscribe(_))
        ));
    }
}

/// What the fast path saves: `cargo test --release -p midge-loadgen -- --ignored --nocapture
/// decoder_cost`. Decodes the same stream of 64-byte-payload PUBLISH packets with midge's
/// generic decoder and with `next_frame`, and prints the cost per packet.
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;

    #[test]
    #[ignore = "a measurement, not a check"]
    fn decoder_cost() {
        let t = PublishTemplate::new(
            Version::V311,
            "bench/fanout",
            QoS::AtMostOnce,
            false,
            64,
            1,
            0,
        );
        let mut stream = Vec::new();
        for seq in 0..10_000 {
            t.append(&mut stream, 0, seq, seq);
        }
        let rounds = 100;
        let n = rounds * 10_000;

        let start = Instant::now();
        let mut sum = 0u64;
        for _ in 0..rounds {
            let mut buf = BytesMut::from(&stream[..]);
            while let Ok(Some(Packet::Publish(p))) =
                protocol::decode(&mut buf, Version::V311, 1 << 20)
            {
                sum += Stamp::read(&p.payload).map_or(0, |s| s.seq);
            }
        }
        let generic = start.elapsed().as_nanos() as f64 / n as f64;

        let start = Instant::now();
        let mut fast_sum = 0u64;
        for _ in 0..rounds {
            let mut at = 0;
            while let Ok(Some((Frame::Publish { payload, .. }, used))) =
                next_frame(&stream[at..], false, 1 << 20)
            {
                fast_sum += Stamp::read(payload).map_or(0, |s| s.seq);
                at += used;
            }
        }
        let fast = start.elapsed().as_nanos() as f64 / n as f64;
        assert_eq!(sum, fast_sum);
        println!(
            "midge::protocol::decode: {generic:.1} ns/PUBLISH; next_frame: {fast:.1} ns/PUBLISH"
        );
    }
}
